/**
 * Issue 15, item 3: twenty connections send 4 KiB relays to one tab on a
 * 1 MB/s link, each at its rate (a burst of 100, then 20/s), while an
 * honest sender dials the same tab over and over (an offer and three
 * candidates, a signal every 125 ms). Defence off: no per-sender quota
 * (maxBufferedPerSender Infinity), so the flood fills the tab's whole relay
 * budget. With the defaults each sender gets its share of it.
 */
import { joined, type Joined } from '../../helpers/client.js';
import type { AdversaryAttack, AdversaryRow } from './report.js';
import { benchServer, honestStream, ms, ratio, slowLink } from './server-harness.js';

const ATTACKERS = 20;
const SECONDS = 8;
/** The attackers' signals are 4 KiB, the size of an offer (the budget counts bytes: larger ones gain nothing). */
const SIGNAL_BYTES = 4096;
/**
 * The honest sender dials the tab as a tab does, again and again: an offer
 * (4 KiB) and three candidates (512 B each), a signal every 125 ms.
 */
const HONEST_INTERVAL_MS = 125;
const HONEST_SIZES = [4096, 512, 512, 512];
/** The victim's downlink: 1 MB/s (8 Mbit/s), slower than the flood (13 MB/s at the attackers' rate). */
const VICTIM_LINK = 1_000_000;

async function once(defenceOff: boolean, log: (line: string) => void) {
  const server = await benchServer(defenceOff ? { maxBufferedPerSender: Infinity } : {});
  const clients: Joined[] = [];
  const timers: NodeJS.Timeout[] = [];
  const link = await slowLink(server.process.port, VICTIM_LINK);
  try {
    const join = async (url = server.wsUrl): Promise<Joined> => {
      const peer = await joined(url);
      clients.push(peer);
      peer.client.stopKeeping();
      return peer;
    };
    const victim = await join(link.url);
    const sender = await join();
    const attackers = await Promise.all(Array.from({ length: ATTACKERS }, join));
    const junk = 'x'.repeat(SIGNAL_BYTES);
    const honest = honestStream(
      sender.client,
      sender.identity.id,
      victim.client,
      victim.identity.id,
      HONEST_INTERVAL_MS,
      HONEST_SIZES,
    );
    for (const { client } of attackers) {
      const flood = (): void => {
        client.send({ type: 'signal', to: victim.identity.id, payload: junk });
      };
      for (let i = 0; i < 99; i++) flood();
      timers.push(setInterval(flood, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
    for (const timer of timers) clearInterval(timer);
    // Time for what is queued (at most the buffers along the link) to arrive.
    const stream = await honest.finish(8000);
    const relayed = await server.metric('tabmesh_relayed_messages_total');
    log(
      `  ${defenceOff ? 'off' : 'defaults'}: honest ${stream.delivered}/${stream.sent} delivered, ` +
        `${stream.busy} RECIPIENT_BUSY, p99 ${ms(stream.p99Ms)}, ${relayed} relays in all`,
    );
    return stream;
  } finally {
    for (const timer of timers) clearInterval(timer);
    for (const { client } of clients) client.socket.terminate();
    link.close();
    await server.process.stop();
  }
}

export const serverFlood: AdversaryAttack = async (log) => {
  log(
    `server-flood: ${ATTACKERS} connections send 4 KiB relays to one tab on a 1 MB/s link at their rate for ${SECONDS} s`,
  );
  const off = await once(true, log);
  const on = await once(false, log);
  const attack = '20 connections flood one tab (1 MB/s link) at their rate';
  const rows: AdversaryRow[] = [
    {
      item: '3',
      attack,
      measure: 'honest signals delivered',
      without: ratio(off.delivered, off.sent),
      with: ratio(on.delivered, on.sent),
    },
    {
      item: '3',
      attack,
      measure: 'honest signals refused RECIPIENT_BUSY',
      without: String(off.busy),
      with: String(on.busy),
    },
    { item: '3', attack, measure: 'honest p99 latency', without: ms(off.p99Ms), with: ms(on.p99Ms) },
  ];
  return rows;
};
