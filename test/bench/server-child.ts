/**
 * Runs one server (the floor or Tabmesh's) in its own process, so its CPU and
 * memory are measured alone and the same way: process.cpuUsage() and RSS
 * after a forced GC, reported over IPC.
 */
import { createPublicKey, verify, webcrypto } from 'node:crypto';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { startFloorRelay } from './floor-relay.js';
import { createTweetnaclEd25519, createWebCryptoEd25519 } from '../../shared/identity/index.js';
import { createSignalingServer } from '../../signaling-server/server.js';
import { PeerServer } from 'peer';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../signaling-server/logger.js';
import type { SignalingServerOptions } from '../../signaling-server/server.js';

type Command = { cmd: 'cpu' } | { cmd: 'mem' } | { cmd: 'peak' } | { cmd: 'heap' } | { cmd: 'exit' };

const kind = process.argv[2];
/**
 * BENCH_ED25519 swaps the server's Ed25519 backend to compare paths:
 * webcrypto, tweetnacl, node-sync (node:crypto on the main thread), or none
 * (every signature accepted: never a product setting, it only splits the
 * cost of admission into crypto and everything else).
 */
const backend =
  process.env['BENCH_ED25519'] === 'webcrypto'
    ? createWebCryptoEd25519(webcrypto.subtle)
    : process.env['BENCH_ED25519'] === 'tweetnacl'
      ? createTweetnaclEd25519()
      : process.env['BENCH_ED25519'] === 'node-sync'
        ? syncNode()
        : process.env['BENCH_ED25519'] === 'none'
          ? {
              ...createNodeEd25519(),
              name: 'none (no verification: cost baseline only)',
              verify: () => Promise.resolve(true),
            }
          : undefined;

function syncNode() {
  const base = createNodeEd25519();
  return {
    ...base,
    name: 'node:crypto (sync)',
    verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) =>
      Promise.resolve(
        verify(
          null,
          message,
          createPublicKey({
            key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
            format: 'jwk',
          }),
          signature,
        ),
      ),
  };
}
const send = (message: unknown): void => {
  process.send?.(message);
};

/**
 * BENCH_SERVER_OPTIONS: JSON options laid over the ones below (the string
 * "Infinity" stands for Infinity, which JSON lacks: a limit switched off).
 */
const overrides = JSON.parse(process.env['BENCH_SERVER_OPTIONS'] ?? '{}', (_key, value: unknown) =>
  value === 'Infinity' ? Infinity : value,
) as SignalingServerOptions;

/** Every message of info and up goes to the parent (spawnServer's `logged`): what the server did, as events. */
const forward = (_fields: object, message: string): void => {
  send({ log: message });
};
const logger: Logger = { debug() {}, info: forward, warn: forward, error: forward };

/**
 * PeerJS's server as a deployer would run it for this load: its defaults,
 * with the concurrent-client cap (5,000) raised and the liveness timeout
 * (90 s without a HEARTBEAT) lengthened, since the load generator sends none.
 */
function startPeerJs(): Promise<number> {
  return new Promise((resolve) => {
    PeerServer({ port: 0, host: '127.0.0.1', concurrent_limit: 100_000, alive_timeout: 3_600_000 }, (server) =>
      resolve((server.address() as AddressInfo).port),
    );
  });
}

async function start(): Promise<number> {
  if (kind === 'floor') return (await startFloorRelay()).port;
  if (kind === 'peerjs') return startPeerJs();
  const redis = process.env['BENCH_REDIS'];
  const server = createSignalingServer(
    {
      port: 0,
      staticDir: null,
      processMetrics: false,
      // Limits stay on (the token bucket runs for every message) but are set
      // high enough that the load generator measures cost, not throttling.
      rate: 1e9,
      burst: 1e9,
      maxPeers: 100_000,
      maxConnectionsPerIp: 100_000,
      maxSocketsPerIp: 100_000,
      registrationTimeoutMs: 120_000,
      ...(redis === undefined ? {} : { redis }),
      ...overrides,
    },
    { logger, ...(backend === undefined ? {} : { ed25519: backend }) },
  );
  return (await server.listen()).port;
}

const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (message: Command) => {
  switch (message.cmd) {
    case 'cpu': {
      const usage = process.cpuUsage();
      send({ cpuMicros: usage.user + usage.system });
      break;
    }
    case 'mem':
      gc?.();
      gc?.();
      send({ rss: process.memoryUsage().rss });
      break;
    case 'heap': {
      // What the process holds after a forced GC, in V8's heap and outside it (Buffers): RSS less the allocator's slack.
      gc?.();
      gc?.();
      const usage = process.memoryUsage();
      send({ heapBytes: usage.heapUsed + usage.external });
      break;
    }
    case 'peak':
      // The most resident memory the process has had (the kernel's figure, in KiB), with no GC forced.
      send({ peakRss: process.resourceUsage().maxRSS * 1024 });
      break;
    case 'exit':
      process.exit(0);
  }
});

start().then(
  (port) => send({ port }),
  (error: unknown) => {
    process.stderr.write(`bench server failed: ${String(error)}\n`);
    process.exit(1);
  },
);
