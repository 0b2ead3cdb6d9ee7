/**
 * Issue 15, item 2 (the tab's half): ten attackers, each within its own rate
 * at the server (20 offers a second), offer to a tab that is full, for 10 s.
 * The tab's real SignalIntake checks each offer and declines it; each reply
 * it signs goes out under its own rate at the server, modelled here by the
 * server's own rule (signaling-server/hub.ts `admit`: a token bucket of
 * `rate` and `burst`, and a drop budget of `floodAllowance` that closes the
 * connection with 4429 when spent), with the server's defaults. The tab also
 * sends two signals a second of its own (an attempt of its own going on).
 * With the defence off (the stranger reply budget set to Infinity) the tab
 * replies to all; with the defaults to ten.
 */
import type { Identity } from '../../../shared/identity/signing.js';
import { SESSION_NONCE_BYTES, SIGNAL_TTL_MS } from '../../../shared/limits.js';
import { signSignal } from '../../../shared/protocol/signal.js';
import { TokenBucket } from '../../../shared/rate-limit.js';
import { DEFAULTS } from '../../../signaling-server/defaults.js';
import type { Rate } from '../../../web/node/budgets.js';
import type { NodeCore } from '../../../web/node/core.js';
import type { LinkContext } from '../../../web/node/link.js';
import { newLimitCounters } from '../../../web/node/options.js';
import { DEFAULT_STRANGER_REPLIES, SignalIntake, type IntakeLink } from '../../../web/node/signal-intake.js';
import { countingEd25519, ed25519, newIdentity } from '../../helpers/client.js';
import type { AdversaryAttack, AdversaryRow } from './report.js';

const ATTACKERS = 10;
const OFFERS_PER_SECOND = DEFAULTS.rate;
const SECONDS = 10;
/** The tab's own signals a second (an attempt of its own under way). */
const OWN_PER_SECOND = 2;
const START = 1_800_000_000_000;

interface Figures {
  readonly offers: number;
  readonly replies: number;
  readonly verifies: number;
  /** The tab's own signals the server dropped (RATE_LIMITED), or never got (closed). */
  readonly ownDropped: number;
  /** Seconds into the attack when the server would have closed the tab (4429), if it would. */
  readonly closedAt: number | undefined;
}

async function attack(replies: Rate, attackers: readonly Identity[], victim: Identity): Promise<Figures> {
  const clock = { now: START };
  const counted = countingEd25519(ed25519);
  const counting = counted.ed25519;
  const ignore = (): void => undefined;
  const core: NodeCore = {
    identity: victim,
    ed25519: counting,
    network: 'n',
    logger: { debug: ignore, info: ignore, warn: ignore, error: ignore },
    now: () => clock.now,
    random: () => 0.5,
    closed: () => false,
    connected: () => [],
    problem: ignore,
  };
  // The server's view of the tab's connection.
  const bucket = new TokenBucket(DEFAULTS.rate, DEFAULTS.burst, START);
  const floodBudget = new TokenBucket(DEFAULTS.rate, DEFAULTS.floodAllowance, START);
  let sentReplies = 0;
  let ownDropped = 0;
  let closedAt: number | undefined;
  const toServer = (own: boolean): void => {
    // Once closed, nothing of the tab's goes through.
    if (closedAt === undefined && bucket.take(clock.now)) return;
    if (own) ownDropped++;
    if (closedAt !== undefined) return;
    if (!floodBudget.take(clock.now)) closedAt = (clock.now - START) / 1000;
  };
  const intake = new SignalIntake(
    core,
    {
      links: {
        get: (): IntakeLink | undefined => undefined,
        open: () => 8,
        answer: () => {
          throw new Error('the tab is full');
        },
      },
      maxLinks: 8,
      membership: { acceptsInbound: () => false },
      linkContext: () => Promise.resolve({} as LinkContext),
      arrived: ignore,
      reply: () => {
        sentReplies++;
        toServer(false);
      },
    },
    newLimitCounters(),
    replies,
  );
  const step = 1000 / (OFFERS_PER_SECOND * ATTACKERS);
  let offers = 0;
  let nextOwn = START;
  for (let t = 0; t < SECONDS * 1000; t += step) {
    clock.now = START + t;
    while (nextOwn <= clock.now) {
      toServer(true);
      nextOwn += 1000 / OWN_PER_SECOND;
    }
    const attacker = attackers[offers % ATTACKERS] as Identity;
    const session = crypto.getRandomValues(new Uint8Array(SESSION_NONCE_BYTES));
    const offer = await signSignal(attacker, {
      to: victim.id,
      session,
      nonce: session,
      seq: 0,
      kind: 'offer',
      expiresAt: clock.now + SIGNAL_TTL_MS,
      body: 'v=0\r\n',
    });
    offers++;
    await intake.enqueue(attacker.id, offer, { kind: 'server' });
  }
  return { offers, replies: sentReplies, verifies: counted.verifies(), ownDropped, closedAt };
}

export const tabReflection: AdversaryAttack = async (log) => {
  const attackers = await Promise.all(Array.from({ length: ATTACKERS }, () => newIdentity()));
  const victim = await newIdentity();
  const off = await attack({ rate: Infinity, burst: Infinity }, attackers, victim);
  log(`tab-reflection, defence off: ${JSON.stringify(off)}`);
  const on = await attack(DEFAULT_STRANGER_REPLIES, attackers, victim);
  log(`tab-reflection, defaults: ${JSON.stringify(on)}`);
  const row = (measure: string, of: (f: Figures) => string): AdversaryRow => ({
    item: '2',
    attack: `${ATTACKERS} strangers offer to a full tab at ${OFFERS_PER_SECOND}/s each, ${SECONDS} s`,
    measure,
    without: of(off),
    with: of(on),
  });
  return [
    row('signed byes the tab sent', (f) => `${f.replies} of ${f.offers}`),
    row('signatures it checked', (f) => String(f.verifies)),
    row(
      "the tab's own signals lost (dropped, or after the close)",
      (f) => `${f.ownDropped} of ${OWN_PER_SECOND * SECONDS}`,
    ),
    row('the server closes the tab (4429) at', (f) =>
      f.closedAt === undefined ? 'never' : `${f.closedAt.toFixed(1)} s`,
    ),
  ];
};
