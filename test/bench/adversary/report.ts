/**
 * What each attack in the adversary bench reports: one row per figure, the
 * attack run twice in the same process, once with its defence off (the code
 * as it was before the fix, by setting the defence's limit so it never
 * applies) and once with the defaults. Figures, never assertions: the tests
 * under test/ prove each defence; this section shows how much it contains.
 */
export interface AdversaryRow {
  /** The issue 15 item, e.g. '1'. */
  readonly item: string;
  /** What the attacker does, in a few words. */
  readonly attack: string;
  /** What is measured, with its unit, e.g. 'server RSS growth (MiB)'. */
  readonly measure: string;
  /** The figure with the defence off. */
  readonly without: string;
  /** The figure with the defaults. */
  readonly with: string;
}

/** One attack of the bench: runs both ways and returns its rows. */
export type AdversaryAttack = (log: (line: string) => void) => Promise<readonly AdversaryRow[]>;

/** The rows as a Markdown table, as docs/SECURITY.md shows them. */
export function adversaryTable(rows: readonly AdversaryRow[]): string {
  const lines = ['| # | attack | measure | defence off | defaults |', '|---|---|---|---:|---:|'];
  for (const row of rows) lines.push(`| ${row.item} | ${row.attack} | ${row.measure} | ${row.without} | ${row.with} |`);
  return lines.join('\n');
}
