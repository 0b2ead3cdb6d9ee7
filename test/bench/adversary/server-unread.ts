/**
 * Issue 15, item 1: twenty sockets from one address ask for the largest
 * samples as fast as they may and never read. Defence off: no send budget
 * (sendBudgetBytes Infinity), so every reply queues in the server. With the
 * defaults each is closed (1008) once it holds its budget unread.
 */
import { ErrorCode } from '../../../shared/errors.js';
import { joined, largeRecord, type Joined } from '../../helpers/client.js';
import { withTimeout } from '../../helpers/events.js';
import type { AdversaryAttack, AdversaryRow } from './report.js';
import { benchServer, honestStream, MiB, ms, ratio } from './server-harness.js';

const ATTACKERS = 20;
/** Samples each attacker asks for (~41 KB each: 24 MB), far past the kernel's buffers and the budget. */
const REQUESTS = 600;
const NETWORK = 'unread';

async function once(defenceOff: boolean, log: (line: string) => void) {
  // The rate is raised so that what took the report's attacker 110 s at the default rate takes seconds.
  const server = await benchServer({
    sampleSize: 32,
    rate: 10_000,
    burst: 10_000,
    ...(defenceOff ? { sendBudgetBytes: Infinity } : {}),
  });
  const clients: Joined[] = [];
  try {
    const join = async (): Promise<Joined> => {
      const peer = await joined(server.wsUrl, NETWORK, undefined, { record: largeRecord(NETWORK) });
      clients.push(peer);
      return peer;
    };
    const peers = await Promise.all(Array.from({ length: 33 }, join));
    const attackers = await Promise.all(Array.from({ length: ATTACKERS }, join));
    const [sender, receiver, watcher] = peers as [Joined, Joined, Joined];
    const before = await server.process.rss();
    const honest = honestStream(sender.client, sender.identity.id, receiver.client, receiver.identity.id, 20);
    for (const { client } of attackers) {
      client.socket.pause();
      for (let i = 0; i < REQUESTS; i++) client.send({ type: 'peers', max: 32 });
      // Handled only once every request before it is: the attack is over when the watcher has them all.
      client.send({ type: 'signal', to: watcher.identity.id, payload: 'done' });
    }
    let markers = 0;
    const allMarkers = new Promise<void>((resolve) => {
      watcher.client.socket.on('message', (data: Buffer) => {
        if (data.toString().includes('"payload":"done"') && ++markers === ATTACKERS) resolve();
      });
    });
    const started = Date.now();
    await withTimeout(
      Promise.race([allMarkers, server.process.logged('not reading; closing', ATTACKERS, 60_000)]),
      60_000,
      'the attack to be handled',
    );
    const handledMs = Date.now() - started;
    const growth = (await server.process.rss()) - before;
    const stream = await honest.finish(500);
    const closed = await server.refusals(ErrorCode.NOT_READING);
    log(
      `  ${defenceOff ? 'off' : 'defaults'}: RSS +${(growth / MiB).toFixed(0)} MiB in ${handledMs} ms, ${closed} closed`,
    );
    return { growth, closed, stream };
  } finally {
    for (const { client } of clients) client.socket.terminate();
    await server.process.stop();
  }
}

export const serverUnread: AdversaryAttack = async (log) => {
  log('server-unread: 20 never-reading sockets asking for 600 samples of ~41 KB each');
  const off = await once(true, log);
  const on = await once(false, log);
  const attack = '20 sockets from one IP ask for samples, never read';
  const rows: AdversaryRow[] = [
    {
      item: '1',
      attack,
      measure: 'server RSS growth (MiB)',
      without: (off.growth / MiB).toFixed(0),
      with: (on.growth / MiB).toFixed(0),
    },
    { item: '1', attack, measure: 'attackers closed (1008)', without: `${off.closed}/20`, with: `${on.closed}/20` },
    {
      item: '1',
      attack,
      measure: 'honest relays delivered',
      without: ratio(off.stream.delivered, off.stream.sent),
      with: ratio(on.stream.delivered, on.stream.sent),
    },
    { item: '1', attack, measure: 'honest p99 latency', without: ms(off.stream.p99Ms), with: ms(on.stream.p99Ms) },
  ];
  return rows;
};
