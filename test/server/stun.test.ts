/**
 * The STUN responder behind a real UDP socket on loopback, and the STUN URL
 * each challenge carries. "No answer" is shown without waiting: a valid
 * request sent after the refused ones is answered, and its answer is the
 * only datagram that came back.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../../signaling-server/config.js';
import { createSignalingServer } from '../../signaling-server/server.js';
import { STUN_LIMITS } from '../../signaling-server/stun/responder.js';
import { TestClient } from '../helpers/client.js';
import { withTimeout } from '../helpers/events.js';
import { WatchingLogger, silentLogger, startServer, type TestServer } from '../helpers/server.js';
import { readBindingSuccess, stunRequest } from '../helpers/stun.js';

const TOKEN = 'stun-test-metrics-token';

/** A UDP client on loopback that keeps every datagram it gets. */
class UdpClient {
  readonly received: Uint8Array[] = [];
  private waiter: (() => void) | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly serverPort: number,
  ) {
    socket.on('message', (message) => {
      this.received.push(Uint8Array.from(message));
      this.waiter?.();
    });
  }

  static async open(serverPort: number): Promise<UdpClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new UdpClient(socket, serverPort);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.send(bytes, this.serverPort, '127.0.0.1', (error) => (error === null ? resolve() : reject(error)));
    });
  }

  /** Resolves once `count` datagrams have arrived in all. */
  until(count: number): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve) => {
        this.waiter = () => {
          if (this.received.length >= count) resolve();
        };
        this.waiter();
      }),
      5000,
      `${count} STUN answers`,
    );
  }

  close(): void {
    this.socket.close();
  }
}

const id = (n: number): Uint8Array => Uint8Array.from({ length: 12 }, (_, i) => (i === 11 ? n : 0x42));

async function stunCount(server: TestServer, result: string): Promise<number> {
  const response = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const line = (await response.text())
    .split('\n')
    .find((l) => l.startsWith(`tabmesh_stun_requests_total{result="${result}"}`));
  return Number(line?.split(' ')[1] ?? NaN);
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function serverAndClient(
  options: Parameters<typeof startServer>[0] = {},
  deps: Parameters<typeof startServer>[1] = {},
): Promise<{ server: TestServer; client: UdpClient }> {
  const server = await startServer({ metricsToken: TOKEN, ...options }, deps);
  cleanup.push(() => server.close());
  if (server.stunPort === undefined) throw new Error('no STUN port');
  const client = await UdpClient.open(server.stunPort);
  cleanup.push(() => client.close());
  return { server, client };
}

describe('STUN responder', () => {
  it('answers a Binding request with the client’s own address and port', async () => {
    const { server, client } = await serverAndClient();
    await client.send(stunRequest({ transactionId: id(1) }));
    await client.until(1);
    const answer = readBindingSuccess(client.received[0] ?? new Uint8Array());
    expect(answer).toEqual({ transactionId: id(1), family: 'IPv4', address: '127.0.0.1', port: client.port });
    expect(await stunCount(server, 'answered')).toBe(1);
  });

  it('drops a non-Binding message, a truncated one, a bad fingerprint and credentials, and counts each', async () => {
    const logger = new WatchingLogger();
    const { server, client } = await serverAndClient({}, { logger });
    await client.send(stunRequest({ type: 0x0011, transactionId: id(1) }));
    await client.send(stunRequest({ transactionId: id(2) }).subarray(0, 16));
    await client.send(stunRequest({ transactionId: id(3), badFingerprint: true }));
    await client.send(stunRequest({ transactionId: id(4), attributes: [[0x0006, new Uint8Array(4)]] }));
    await client.send(stunRequest({ transactionId: id(5), fingerprint: true }));
    await client.until(1);
    await logger.seen('STUN request dropped', 4);
    expect(client.received.map((bytes) => readBindingSuccess(bytes).transactionId)).toEqual([id(5)]);
    expect(await stunCount(server, 'not_binding')).toBe(1);
    expect(await stunCount(server, 'malformed')).toBe(1);
    expect(await stunCount(server, 'bad_fingerprint')).toBe(1);
    expect(await stunCount(server, 'unknown_attribute')).toBe(1);
    expect(await stunCount(server, 'answered')).toBe(1);
  });

  it('answers one address a burst, then refuses until its budget refills, counting refusals', async () => {
    const logger = new WatchingLogger();
    let clock = 1_800_000_000_000;
    const { server, client } = await serverAndClient({}, { logger, now: () => clock });
    for (let n = 0; n < STUN_LIMITS.burst; n++) await client.send(stunRequest({ transactionId: id(n) }));
    await client.until(STUN_LIMITS.burst);
    await client.send(stunRequest({ transactionId: id(200) }));
    await logger.seen('STUN request dropped', 1);
    clock += 1000 / STUN_LIMITS.rate;
    await client.send(stunRequest({ transactionId: id(201) }));
    await client.until(STUN_LIMITS.burst + 1);
    expect(client.received.length).toBe(STUN_LIMITS.burst + 1);
    expect(readBindingSuccess(client.received.at(-1) ?? new Uint8Array()).transactionId).toEqual(id(201));
    expect(await stunCount(server, 'rate_limited')).toBe(1);
    expect(await stunCount(server, 'answered')).toBe(STUN_LIMITS.burst + 1);
  });

  it('opens no UDP socket with stun off', async () => {
    const udpSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
    const before = udpSockets();
    const server = await startServer({ stun: false });
    cleanup.push(() => server.close());
    expect(server.stunPort).toBeUndefined();
    expect(udpSockets()).toBe(before);
    const on = await startServer();
    cleanup.push(() => on.close());
    expect(udpSockets()).toBe(before + 1);
  });

  it('takes the HTTP port’s number by default, and closes its socket on close', async () => {
    const probe = createSignalingServer(
      { port: 0, host: '127.0.0.1', staticDir: null, processMetrics: false },
      { logger: silentLogger },
    );
    const free = (await probe.listen()).port;
    await probe.close();
    const server = createSignalingServer(
      { port: free, host: '127.0.0.1', staticDir: null, processMetrics: false },
      { logger: silentLogger },
    );
    const info = await server.listen();
    expect(info.stunPort).toBe(free);
    await server.close();
    const again = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(free, '127.0.0.1', resolve);
    });
    again.close();
  });
});

describe('the STUN URL in the challenge', () => {
  async function challengeStun(server: TestServer, host?: string): Promise<readonly string[] | undefined> {
    const client = new TestClient(server.wsUrl, host === undefined ? undefined : { headers: { Host: host } });
    cleanup.push(() => client.socket.terminate());
    return (await client.next('challenge')).stun;
  }

  it('names the responder under the host the tab used: a name, an IPv4 or a bracketed IPv6 literal', async () => {
    const server = await startServer({ publicOrigin: 'https://mesh.example.org' });
    cleanup.push(() => server.close());
    const port = server.stunPort ?? 0;
    expect(await challengeStun(server)).toEqual([`stun:127.0.0.1:${port}`]);
    expect(await challengeStun(server, 'Mesh.Example.COM:8443')).toEqual([`stun:mesh.example.com:${port}`]);
    expect(await challengeStun(server, '[2001:DB8::1]:443')).toEqual([`stun:[2001:db8::1]:${port}`]);
    // A Host that is not a bare name or literal: the public origin's host instead.
    for (const bad of ['evil.example/x?transport=tcp', 'a b', '[not-v6]', 'x:1:2', '-bad-.example', '1.2.3'])
      expect(await challengeStun(server, bad)).toEqual([`stun:mesh.example.org:${port}`]);
  });

  it('names nothing when the Host is unusable and there is no public origin, and nothing with stun off', async () => {
    const server = await startServer();
    cleanup.push(() => server.close());
    expect(await challengeStun(server, 'evil.example?x')).toBeUndefined();
    const off = await startServer({ stun: false });
    cleanup.push(() => off.close());
    expect(await challengeStun(off)).toBeUndefined();
  });

  it('names the configured URLs instead, with the responder on or off', async () => {
    const urls = ['stun:stun.example.net:3478', 'stun:[2001:db8::2]'];
    const server = await startServer({ stun: false, stunUrls: urls });
    cleanup.push(() => server.close());
    expect(await challengeStun(server, 'mesh.example.com')).toEqual(urls);
  });

  it('takes --stun-port, --no-stun and --stun-urls, and refuses what cannot work', () => {
    expect(
      parseCli(['--stun-port', '3478', '--stun-urls', 'stun:a.example:3478,stun:b.example'], {}).options,
    ).toMatchObject({
      stunPort: 3478,
      stunUrls: ['stun:a.example:3478', 'stun:b.example'],
    });
    expect(parseCli([], { TABMESH_NO_STUN: '1', TABMESH_STUN_URLS: 'stun:c.example' }).options).toMatchObject({
      stun: false,
      stunUrls: ['stun:c.example'],
    });
    for (const argv of [
      ['--stun-port', '70000'],
      ['--no-stun', '--stun-port', '1'],
      ['--stun-urls', 'turn:a.example'],
      ['--stun-urls', 'stun:a.example?transport=udp'],
      ['--stun-urls', Array.from({ length: 9 }, (_, i) => `stun:h${i}.example`).join(',')],
    ])
      expect(() => parseCli(argv, {}), argv.join(' ')).toThrow(UsageError);
    expect(() => createSignalingServer({ stun: false, stunPort: 1 })).toThrow(RangeError);
  });
});
