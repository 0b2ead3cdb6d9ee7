/**
 * Issue 15, item 9: what others can make a tab hold, on its real parts:
 * (a) a signal path per authenticated sender (SignalPaths, fed as the intake
 * fed it before the fix: one `arrived` per sender), 200,000 senders;
 * (b) messages a neighbour announces and never finishes (the link's
 * Reassembler), four of the largest, then only keepalives for a minute;
 * (c) 1 MiB broadcast copies forwarded onto a channel that does not drain
 * (the link's SendQueue), a hundred of them. With the defence off (each
 * limit set to Infinity) against the defaults.
 */
import { performance } from 'node:perf_hooks';
import type { PeerId } from '../../../shared/identity/peer-id.js';
import { peerIdFromPublicKey } from '../../../shared/identity/peer-id.js';
import { MAX_BROADCAST_BYTES, MAX_MESSAGE_BYTES, MAX_SIGNAL_PATHS } from '../../../shared/limits.js';
import {
  CHUNK_BYTES,
  DEFAULT_REASSEMBLY_LIMITS,
  Reassembler,
  type ReassemblyLimits,
} from '../../../shared/protocol/channel.js';
import { newLimitCounters } from '../../../web/node/options.js';
import { SignalPaths } from '../../../web/node/paths.js';
import { SendQueue } from '../../../web/node/send-queue.js';
import { MAX_FORWARD_QUEUE_BYTES } from '../../../shared/limits.js';
import type { AdversaryAttack, AdversaryRow } from './report.js';

const SENDERS = 200_000;
const PARTIALS = 4;
const COPIES = 100;
const MiB = 1024 * 1024;

/** Heap in use, after a collection when Node was started with --expose-gc. */
function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / MiB;
}

/** `n` distinct acceptable peer IDs. */
function senders(n: number): PeerId[] {
  return Array.from({ length: n }, (_, k) =>
    peerIdFromPublicKey(
      Uint8Array.from({ length: 32 }, (_, i) => (i < 3 ? (k >> (8 * i)) & 0xff : (i * 7 + 3) & 0x7f)),
    ),
  );
}

function paths(maxPaths: number, ids: readonly PeerId[]): { held: number; heapMiB: number } {
  const ignore = (): void => undefined;
  const before = heapMiB();
  const table = new SignalPaths(
    {
      sendServer: () => true,
      canUseServer: () => true,
      sendLocal: () => false,
      isLocal: () => false,
      sendMesh: () => new Uint8Array(),
      canUseMesh: () => false,
      ownRecord: () => new Uint8Array(),
      debug: ignore,
    },
    newLimitCounters(),
    maxPaths,
  );
  for (const id of ids) table.arrived(id, { kind: 'mesh', route: ids.slice(0, 3) });
  // A collection can free more than the table holds: never below zero.
  const heap = Math.max(0, heapMiB() - before);
  const held = table.size;
  table.close();
  return { held, heapMiB: heap };
}

function partials(limits: ReassemblyLimits): { held: number; afterMinute: number } {
  const reassembler = new Reassembler(limits);
  const chunk = new Uint8Array(CHUNK_BYTES);
  let refused = false;
  for (let id = 0; id < PARTIALS && !refused; id++) {
    const started = reassembler.accept({ type: 'start', id, binary: true, length: MAX_MESSAGE_BYTES }, 0);
    // A refusal closes the link (PeerLink), and with it what it held.
    if (!started.ok) refused = true;
    for (let sent = 0; !refused && sent + CHUNK_BYTES < MAX_MESSAGE_BYTES; sent += CHUNK_BYTES) {
      reassembler.accept({ type: 'chunk', id, bytes: chunk }, 0);
    }
  }
  const held = reassembler.heldBytes;
  // A minute of keepalives and nothing else: the link's keepalive asks whether a message stalled.
  const afterMinute = refused || reassembler.stalled(60_000) ? 0 : reassembler.heldBytes;
  return { held: Math.max(held, 0), afterMinute };
}

function queue(limit: number): number {
  const sends = new SendQueue(
    { connected: () => true, transmit: () => new Promise<void>(() => undefined) },
    limit,
    newLimitCounters(),
  );
  const header = { origin: senders(1)[0] as PeerId, seq: 1, hops: 3, signature: new Uint8Array(64) };
  for (let i = 0; i < COPIES; i++) void sends.forward(true, new Uint8Array(MAX_BROADCAST_BYTES), header);
  return sends.queuedBytes;
}

export const tabMemory: AdversaryAttack = async (log) => {
  const started = performance.now();
  const ids = senders(SENDERS);
  // No cap: the most a RecentMap holds.
  const pathsOff = paths(Number.MAX_SAFE_INTEGER, ids);
  const pathsOn = paths(MAX_SIGNAL_PATHS, ids);
  const off = { stallMs: Infinity, maxBytes: Infinity, maxMessages: DEFAULT_REASSEMBLY_LIMITS.maxMessages };
  const partialOff = partials(off);
  const partialOn = partials(DEFAULT_REASSEMBLY_LIMITS);
  const queueOff = queue(Infinity);
  const queueOn = queue(MAX_FORWARD_QUEUE_BYTES);
  log(
    `tab-memory: ${JSON.stringify({ pathsOff, pathsOn, partialOff, partialOn, queueOff, queueOn, ms: performance.now() - started })}`,
  );
  const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
  const rows: AdversaryRow[] = [
    {
      item: '9',
      attack: `${SENDERS.toLocaleString('en')} authenticated senders signal a tab`,
      measure: 'signal paths held',
      without: String(pathsOff.held),
      with: String(pathsOn.held),
    },
    {
      item: '9',
      attack: `${SENDERS.toLocaleString('en')} authenticated senders signal a tab`,
      measure: 'heap they hold (MiB)',
      without: pathsOff.heapMiB.toFixed(1),
      with: pathsOn.heapMiB.toFixed(1),
    },
    {
      item: '9',
      attack: `a neighbour leaves ${PARTIALS} largest messages unfinished, then only pings`,
      measure: 'bytes held for the link (MiB)',
      without: mib(partialOff.held),
      with: mib(partialOn.held),
    },
    {
      item: '9',
      attack: `a neighbour leaves ${PARTIALS} largest messages unfinished, then only pings`,
      measure: 'still held a minute later (MiB)',
      without: mib(partialOff.afterMinute),
      with: mib(partialOn.afterMinute),
    },
    {
      item: '9',
      attack: `${COPIES} broadcasts of 1 MiB forwarded to a channel that does not drain`,
      measure: 'bytes queued for the channel (MiB)',
      without: mib(queueOff),
      with: mib(queueOn),
    },
  ];
  return Promise.resolve(rows);
};
