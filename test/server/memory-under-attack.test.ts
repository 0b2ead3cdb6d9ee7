/**
 * Issue 15, item 1, measured: twenty sockets from one address ask for the
 * largest samples and never read. Before the send budget the server queued
 * every reply (RSS grew ~3.4 MB/s at the default rate, without bound); now
 * each such connection is closed once it holds its budget unread, so the
 * server's memory after the attack stays within a bound of before. The
 * server runs in a process of its own so its RSS is its own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { CloseCode } from '../../shared/protocol/close-codes.js';
import { DEFAULTS } from '../../signaling-server/defaults.js';
import { spawnServer, type ServerProcess } from '../bench/server-process.js';
import { joined, largeRecord, type Joined } from '../helpers/client.js';
import { withTimeout } from '../helpers/events.js';

const ATTACKERS = 20;
/** Samples each attacker asks for: ~24 MB, well beyond the kernel's buffers (~4 MB on loopback) and the budget. */
const REQUESTS = 600;
const MiB = 1024 * 1024;
/**
 * What RSS may grow by: each attacker's budget (held until its socket is
 * cut), plus 96 MiB for the allocator's arenas after ~5,000 encoded samples.
 * Seen on a 2-core machine: 43–49 MiB; without the budget, ~425 MiB.
 */
const RSS_BOUND = ATTACKERS * DEFAULTS.sendBudgetBytes + 96 * MiB;
const NETWORK = 'memory';

let child: ServerProcess | undefined;
let clients: Joined[] = [];
afterEach(async () => {
  for (const { client } of clients) client.socket.terminate();
  clients = [];
  await child?.stop();
  child = undefined;
});

describe('memory under a never-reading attack', () => {
  it('stays within a bound of what it was, closes each attacker with 1008, and keeps relaying', async () => {
    child = await spawnServer('tabmesh', undefined, undefined, { sampleSize: 32 });
    const url = `ws://127.0.0.1:${child.port}/ws`;
    // Every record as large as records go: each sample is ~41 KB.
    const join = (): Promise<Joined> => joined(url, NETWORK, undefined, { record: largeRecord(NETWORK) });
    const peers = await Promise.all(Array.from({ length: 33 }, join));
    const attackers = await Promise.all(Array.from({ length: ATTACKERS }, join));
    clients = [...peers, ...attackers];
    const before = await child.rss();
    for (const { client } of attackers) {
      client.socket.pause();
      for (let i = 0; i < REQUESTS; i++) client.send({ type: 'peers', max: 32 });
    }
    await child.logged('not reading; closing', ATTACKERS, 30_000);
    const growth = (await child.rss()) - before;
    expect(growth).toBeLessThan(RSS_BOUND);
    // Honest relays are delivered as ever.
    const [sender, receiver] = peers;
    sender?.client.send({ type: 'signal', to: receiver?.identity.id ?? '', payload: 'honest' });
    expect(await receiver?.client.next('signal')).toMatchObject({ payload: 'honest' });
    // Each attacker, reading again, finds the close and its reason behind what fitted in its budget.
    for (const { client } of attackers) client.socket.resume();
    const closes = await withTimeout(
      Promise.all(attackers.map(({ client }) => client.closed)),
      20_000,
      'every attacker to be closed',
    );
    expect(closes.every((c) => c.code === CloseCode.POLICY_VIOLATION && c.reason === ErrorCode.NOT_READING)).toBe(true);
  });
});
