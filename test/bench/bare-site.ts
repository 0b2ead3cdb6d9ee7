/**
 * The bare baseline's site as a process of its own, for a lab namespace:
 * serves the built bare page (dist/bench-bare) and the floor relay on one
 * port, and prints `{"url": …}` once listening.
 *
 *   node --import tsx test/bench/bare-site.ts HOST DIR
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sirv from 'sirv';
import { startFloorRelay } from './floor-relay.js';

const [host = '127.0.0.1', dir = 'dist/bench-bare'] = process.argv.slice(2);
const server = createServer(sirv(dir, { etag: true, dev: false }));
server.listen(0, host, () => {
  void startFloorRelay({ server }).then(() => {
    process.stdout.write(`${JSON.stringify({ url: `http://${host}:${(server.address() as AddressInfo).port}` })}\n`);
  });
});
process.on('SIGTERM', () => process.exit(0));
