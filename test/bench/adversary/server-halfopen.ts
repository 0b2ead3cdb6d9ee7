/**
 * Issue 15, item 4: one address opens 3,000 TCP connections and sends each
 * the start of an upgrade request, never finishing its headers. Defence off:
 * no cap on TCP connections per address (maxSocketsPerIp Infinity) and
 * Node's own header timeout (60 s). With the defaults the server keeps at
 * most maxSocketsPerIp of them, each for at most headersTimeoutMs.
 */
import { connect, type Socket } from 'node:net';
import { DEFAULTS } from '../../../signaling-server/defaults.js';
import { TestClient, newIdentity } from '../../helpers/client.js';
import { withTimeout } from '../../helpers/events.js';
import type { AdversaryAttack, AdversaryRow } from './report.js';
import { benchServer, ms } from './server-harness.js';

const SOCKETS = 3000;
/** Node's default header timeout, what the server had before. */
const NODE_HEADERS_TIMEOUT_MS = 60_000;

function halfOpen(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      resolve(socket);
    });
    socket.resume();
    // Refused or reset: resolved all the same, and counted as closed.
    socket.on('error', () => {
      resolve(socket);
    });
  });
}

/** Seconds for a tab from another address to be welcomed while the attack holds. */
async function honestJoin(wsUrl: string): Promise<number> {
  const started = Date.now();
  const client = new TestClient(wsUrl, { localAddress: '127.0.0.2' });
  try {
    await client.answer(await newIdentity(), 'halfopen');
    await client.next('welcome', 10_000);
    return Date.now() - started;
  } finally {
    client.socket.terminate();
  }
}

async function once(defenceOff: boolean, log: (line: string) => void) {
  const server = await benchServer(
    defenceOff ? { maxSocketsPerIp: Infinity, headersTimeoutMs: NODE_HEADERS_TIMEOUT_MS } : {},
  );
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < SOCKETS; i += 100) {
      sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => halfOpen(server.process.port)))));
    }
    const open = (): number => sockets.filter((socket) => !socket.destroyed).length;
    const joinMs = await honestJoin(server.wsUrl);
    // Held a second after the flood, and once the defaults' header timeout is over.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const heldAfter1s = open();
    const started = Date.now();
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (open() === 0 || Date.now() - started > DEFAULTS.headersTimeoutMs + 2000) {
            clearInterval(check);
            resolve();
          }
        }, 100);
      }),
      DEFAULTS.headersTimeoutMs + 5000,
      'the half-open connections to close',
    );
    const heldAfterTimeout = open();
    const refused = await server.refusals('TOO_MANY_CONNECTIONS');
    log(
      `  ${defenceOff ? 'off' : 'defaults'}: held ${heldAfter1s} after 1 s, ${heldAfterTimeout} after ` +
        `${((DEFAULTS.headersTimeoutMs + 3000) / 1000).toFixed(0)} s; ${refused} refused; honest welcome in ${joinMs} ms`,
    );
    return { heldAfter1s, heldAfterTimeout, refused, joinMs };
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.process.stop();
  }
}

export const serverHalfOpen: AdversaryAttack = async (log) => {
  log(`server-halfopen: ${SOCKETS} connections from one address that never finish their headers`);
  const off = await once(true, log);
  const on = await once(false, log);
  const attack = '3,000 half-open requests from one address';
  const after = `${((DEFAULTS.headersTimeoutMs + 3000) / 1000).toFixed(0)} s`;
  const rows: AdversaryRow[] = [
    {
      item: '4',
      attack,
      measure: 'connections the server holds after 1 s',
      without: String(off.heldAfter1s),
      with: String(on.heldAfter1s),
    },
    {
      item: '4',
      attack,
      measure: `connections the server holds after ${after}`,
      without: String(off.heldAfterTimeout),
      with: String(on.heldAfterTimeout),
    },
    { item: '4', attack, measure: 'another address registers in', without: ms(off.joinMs), with: ms(on.joinMs) },
  ];
  return rows;
};
