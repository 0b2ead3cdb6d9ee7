/**
 * Issue 15, item 2: ten connections, each within its own rate, signal one
 * tab, which answers every signal (a tab declining an offer sends a signed
 * `bye`). Defence off: no reply credit (replyCreditPerPeer 0), so the
 * answers count against the tab's own rate. With the defaults each answer
 * is charged to the connection whose signal provoked it.
 */
import { ErrorCode } from '../../../shared/errors.js';
import { CloseCode } from '../../../shared/protocol/close-codes.js';
import { joined, type Joined } from '../../helpers/client.js';
import type { AdversaryAttack, AdversaryRow } from './report.js';
import { benchServer, honestStream, ms, ratio } from './server-harness.js';

const ATTACKERS = 10;
const SECONDS = 4;

async function once(defenceOff: boolean, log: (line: string) => void) {
  const server = await benchServer(defenceOff ? { replyCreditPerPeer: 0 } : {});
  const clients: Joined[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const join = async (): Promise<Joined> => {
      const peer = await joined(server.wsUrl);
      clients.push(peer);
      return peer;
    };
    const victim = await join();
    const friend = await join();
    const attackers = await Promise.all(Array.from({ length: ATTACKERS }, join));
    const attackerIds = new Set<string>(attackers.map((a) => a.identity.id));
    // The victim answers every attacker's signal, and notes being throttled.
    let rateLimited = 0;
    let closedAt: number | undefined;
    victim.client.stopKeeping();
    victim.client.socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as { t?: string; from?: string; code?: string };
      if (message.t === 'signal' && message.from !== undefined && attackerIds.has(message.from))
        victim.client.send({ type: 'signal', to: message.from, payload: 'bye' });
      if (message.t === 'error' && message.code === ErrorCode.RATE_LIMITED) rateLimited++;
    });
    const started = Date.now();
    void victim.client.closed.then(({ code }) => {
      if (code === CloseCode.FLOODING) closedAt = Date.now() - started;
    });
    // Its own signals to a friend, timed.
    const own = honestStream(victim.client, victim.identity.id, friend.client, friend.identity.id, 100);
    // Each attacker: a burst within its bucket, then exactly its rate (20/s).
    for (const { client } of attackers) {
      for (let i = 0; i < 90; i++) client.send({ type: 'signal', to: victim.identity.id, payload: 'offer' });
      timers.push(
        setInterval(() => {
          client.send({ type: 'signal', to: victim.identity.id, payload: 'offer' });
        }, 50),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
    for (const timer of timers) clearInterval(timer);
    const stream = await own.finish(300);
    const answers = await server.metric('tabmesh_credited_answers_total');
    log(
      `  ${defenceOff ? 'off' : 'defaults'}: victim ${closedAt === undefined ? 'open' : `closed 4429 at ${closedAt} ms`}, ` +
        `${rateLimited} RATE_LIMITED, own signals ${stream.delivered}/${stream.sent}, ${answers} answers paid by the attackers' signals`,
    );
    return { closedAt, rateLimited, stream };
  } finally {
    for (const timer of timers) clearInterval(timer);
    for (const { client } of clients) client.socket.terminate();
    await server.process.stop();
  }
}

export const serverReflection: AdversaryAttack = async (log) => {
  log(`server-reflection: ${ATTACKERS} connections at their rate signal one tab that answers each, for ${SECONDS} s`);
  const off = await once(true, log);
  const on = await once(false, log);
  const attack = '10 connections within their rate signal a tab that answers each';
  const closed = (at: number | undefined): string =>
    at === undefined ? 'no' : `4429 after ${(at / 1000).toFixed(1)} s`;
  const rows: AdversaryRow[] = [
    { item: '2', attack, measure: 'victim closed', without: closed(off.closedAt), with: closed(on.closedAt) },
    {
      item: '2',
      attack,
      measure: "victim's own signals delivered",
      without: ratio(off.stream.delivered, off.stream.sent),
      with: ratio(on.stream.delivered, on.stream.sent),
    },
    {
      item: '2',
      attack,
      measure: "victim's own p99 latency",
      without: ms(off.stream.p99Ms),
      with: ms(on.stream.p99Ms),
    },
    {
      item: '2',
      attack,
      measure: 'RATE_LIMITED told to the victim',
      without: String(off.rateLimited),
      with: String(on.rateLimited),
    },
  ];
  return rows;
};
