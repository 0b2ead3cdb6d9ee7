/**
 * Issue 15, item 8: one neighbour makes a tab check signatures, with
 * tweetnacl (the fallback where the browser has no native Ed25519): (a)
 * shuffles of 32 fresh records at the full membership rate, (b) 1 MiB
 * broadcasts from ever new origins, ten a second. The tab's real Neighbours
 * and Messages, a virtual clock; CPU is the time spent handling them per
 * second of attack. With the defence off (the verification budget and the
 * per-origin broadcast rate set to Infinity) against the defaults.
 */
import { performance } from 'node:perf_hooks';
import type { PeerId } from '../../../shared/identity/peer-id.js';
import { Purpose, type Identity } from '../../../shared/identity/signing.js';
import { createTweetnaclEd25519 } from '../../../shared/identity/tweetnacl.js';
import { MAX_BROADCAST_BYTES, MAX_RECORDS_PER_MESSAGE, MEMBERSHIP_RATE } from '../../../shared/limits.js';
import { broadcastBytes } from '../../../shared/protocol/channel.js';
import type { SignedRecord } from '../../../shared/records.js';
import type { Rate } from '../../../web/node/budgets.js';
import type { NodeCore } from '../../../web/node/core.js';
import { Messages, broadcastDefences } from '../../../web/node/messages.js';
import { Neighbours } from '../../../web/node/neighbours.js';
import { newLimitCounters } from '../../../web/node/options.js';
import { DEFAULT_VERIFY_BUDGET, verifyBudgets } from '../../../web/node/verify-budget.js';
import { countingEd25519, newIdentity, newRecord } from '../../helpers/client.js';
import type { AdversaryAttack, AdversaryRow } from './report.js';

const START = Date.now();
const SECONDS = 3;
const BROADCASTS_PER_SECOND = 10;
const OFF: Rate = { rate: Infinity, burst: Infinity };

interface Figures {
  readonly verifies: number;
  /** Milliseconds spent handling the attack per second of it. */
  readonly cpuPerSecond: number;
}

/** A core on `clock`, verifying with tweetnacl and counting. */
function tweetnaclCore(identity: Identity, clock: { now: number }): { core: NodeCore; verifies: () => number } {
  const nacl = createTweetnaclEd25519();
  const counted = countingEd25519(nacl);
  const counting = counted.ed25519;
  const ignore = (): void => undefined;
  const core: NodeCore = {
    identity,
    ed25519: counting,
    network: 'n',
    logger: { debug: ignore, info: ignore, warn: ignore, error: ignore },
    now: () => clock.now,
    random: () => 0.5,
    closed: () => false,
    connected: () => [],
    problem: ignore,
  };
  return { core, verifies: counted.verifies };
}

async function shuffles(
  verify: Rate,
  samples: readonly SignedRecord[][],
  self: Identity,
  from: Identity,
): Promise<Figures> {
  const clock = { now: START };
  const { core, verifies } = tweetnaclCore(self, clock);
  const held = new Map<PeerId, SignedRecord>();
  const ignore = (): void => undefined;
  const ownRecord = await newRecord(self, 'n', 1, START);
  const neighbours = new Neighbours(
    core,
    {
      ownRecord: () => ownRecord,
      recordOf: (id) => held.get(id),
      learn: (record) => held.set(record.record.id, record),
      sendFrame: ignore,
      connect: ignore,
      disconnect: ignore,
      reachable: () => true,
      cutOff: ignore,
      viewsChanged: ignore,
    },
    { activeSize: 5 },
    { verify: verifyBudgets(verify), tally: newLimitCounters() },
  );
  // The attacker is an active neighbour: it joined through us.
  neighbours.join([from.id]);
  neighbours.linkUp(from.id, true);
  const started = performance.now();
  for (const [i, sample] of samples.entries()) {
    clock.now = START + (i * 1000) / MEMBERSHIP_RATE;
    await neighbours.receive(from.id, {
      type: 'shuffle',
      origin: from.id,
      ttl: 0,
      path: [from.id],
      sample: sample.map((r) => r.bytes),
    });
  }
  return { verifies: verifies(), cpuPerSecond: (performance.now() - started) / SECONDS };
}

async function broadcasts(
  limits: { readonly verify: Rate; readonly origin: Rate },
  self: Identity,
  from: Identity,
  origins: readonly Identity[],
): Promise<Figures> {
  const clock = { now: START };
  const { core, verifies } = tweetnaclCore(self, clock);
  const ignore = (): void => undefined;
  const messages = new Messages(
    core,
    { sendMessage: () => Promise.resolve(), forwardMessage: () => undefined, deliver: ignore, cutOff: ignore },
    { ...broadcastDefences(), verify: verifyBudgets(limits.verify), origin: limits.origin },
  );
  const payload = new Uint8Array(MAX_BROADCAST_BYTES);
  const signed = await Promise.all(
    origins.map(async (origin) => ({
      origin,
      signature: await origin.sign(Purpose.BROADCAST, broadcastBytes(origin.id, 1, true, payload)),
    })),
  );
  const started = performance.now();
  for (const [i, { origin, signature }] of signed.entries()) {
    clock.now = START + (i * 1000) / BROADCASTS_PER_SECOND;
    await messages.receive(from.id, {
      binary: true,
      payload,
      broadcast: { origin: origin.id, seq: 1, hops: 3, signature },
    });
  }
  return { verifies: verifies(), cpuPerSecond: (performance.now() - started) / SECONDS };
}

export const tabCpu: AdversaryAttack = async (log) => {
  const [self, attacker] = await Promise.all([newIdentity(), newIdentity()]);
  const shuffleCount = SECONDS * MEMBERSHIP_RATE;
  const samples = await Promise.all(
    Array.from({ length: shuffleCount }, async () =>
      Promise.all(
        Array.from({ length: MAX_RECORDS_PER_MESSAGE }, async () => newRecord(await newIdentity(), 'n', 1, START)),
      ),
    ),
  );
  const origins = await Promise.all(Array.from({ length: SECONDS * BROADCASTS_PER_SECOND }, () => newIdentity()));
  const figures = {
    shuffles: [
      await shuffles(OFF, samples, self, attacker),
      await shuffles(DEFAULT_VERIFY_BUDGET, samples, self, attacker),
    ],
    broadcasts: [
      await broadcasts({ verify: OFF, origin: OFF }, self, attacker, origins),
      await broadcasts({ verify: DEFAULT_VERIFY_BUDGET, origin: broadcastDefences().origin }, self, attacker, origins),
    ],
  } as const;
  log(`tab-cpu: ${JSON.stringify(figures)}`);
  const rows: AdversaryRow[] = [];
  for (const [attack, [off, on]] of [
    [
      `a neighbour's shuffles of ${MAX_RECORDS_PER_MESSAGE} fresh records at ${MEMBERSHIP_RATE}/s (tweetnacl)`,
      figures.shuffles,
    ],
    [
      `a neighbour forwards 1 MiB broadcasts of new origins at ${BROADCASTS_PER_SECOND}/s (tweetnacl)`,
      figures.broadcasts,
    ],
  ] as const) {
    rows.push(
      {
        item: '8',
        attack,
        measure: 'signatures checked per second',
        without: (off.verifies / SECONDS).toFixed(0),
        with: (on.verifies / SECONDS).toFixed(0),
      },
      {
        item: '8',
        attack,
        measure: 'CPU per second of attack (ms)',
        without: off.cpuPerSecond.toFixed(0),
        with: on.cpuPerSecond.toFixed(0),
      },
    );
  }
  return rows;
};
