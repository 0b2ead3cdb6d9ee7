/**
 * Issue 15, item 6: three attacker links flood one tab of a 300-peer mesh
 * with relayed frames at exactly RELAY_RATE each, for 60 s, on the real relay
 * code (test/sim/relay-flood.ts). With the defence off (no budget for what is
 * passed on, no pacing, no per-origin budget, a drop allowance that never
 * refills) the target's honest neighbours cut it off; with the defaults the
 * attackers are cut and no honest link is.
 */
import { DEFAULT_RELAY_LIMITS } from '../../../web/node/relay-budget.js';
import { RELAY_DEFENCE_OFF, runRelayFlood, type RelayFloodResult } from '../../sim/relay-flood.js';
import type { AdversaryAttack, AdversaryRow } from './report.js';

const ATTACK = '3 attacker links flood one tab of 300 at RELAY_RATE each, 60 s';

const seconds = (s: number | undefined): string => (s === undefined ? 'never' : `${s.toFixed(1)} s`);

export const tabRelayFlood: AdversaryAttack = async (log) => {
  const runs: RelayFloodResult[] = [];
  for (const [name, limits] of [
    ['defence off', RELAY_DEFENCE_OFF],
    ['defaults', DEFAULT_RELAY_LIMITS],
  ] as const) {
    const result = await runRelayFlood({ limits });
    log(`tab-relay-flood, ${name}: ${JSON.stringify(result)}`);
    runs.push(result);
  }
  const [off, on] = runs as [RelayFloodResult, RelayFloodResult];
  const row = (measure: string, of: (r: RelayFloodResult) => string): AdversaryRow => ({
    item: '6',
    attack: ATTACK,
    measure,
    without: of(off),
    with: of(on),
  });
  return [
    row("target's honest links cut", (r) => `${r.targetLinksCut} of ${r.targetLinks}`),
    row('target cut off from every honest neighbour at', (r) => seconds(r.targetIsolatedAt)),
    row('honest links cut anywhere', (r) => String(r.honestLinksCut)),
    row('attacker links cut', (r) => `${r.attackerLinksCut} of 3`),
    row('every attacker cut at', (r) => seconds(r.attackersCutAt)),
    row('honest routed messages delivered', (r) => `${((100 * r.honestDelivered) / r.honestSent).toFixed(1)}%`),
    row('frames carried by the mesh', (r) => String(r.frames)),
  ];
};
