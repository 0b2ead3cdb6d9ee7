/**
 * Who may open a WebSocket: Origin allow-list, client address, per-IP caps.
 * Checked on the HTTP upgrade request, before any WebSocket exists.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv6, type Server as NetServer, type Socket } from 'node:net';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * What `self` in the allow-list stands for: the configured public origin;
 * without one, any loopback page on the server's own port, and only while
 * the server listens on loopback; otherwise nothing. Never the Host header:
 * a page on a name an attacker resolves to this server (DNS rebinding) sends
 * its own name there, and would pass.
 */
export type SelfOrigin =
  | { readonly kind: 'public'; readonly origin: string }
  | { readonly kind: 'loopback'; readonly port: number }
  | { readonly kind: 'none' };

/** `self` for a server configured with `publicOrigin` (normalized) and listening at `bound`. */
export function selfOrigin(publicOrigin: string | undefined, bound: { address: string; port: number }): SelfOrigin {
  if (publicOrigin !== undefined) return { kind: 'public', origin: publicOrigin };
  if (isLoopbackAddress(bound.address)) return { kind: 'loopback', port: bound.port };
  return { kind: 'none' };
}

/** 127.0.0.0/8, ::1, and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.toLowerCase();
  return bare === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * An Origin allow-list. Entries: `self` (see SelfOrigin), `localhost` (any
 * page on a loopback host, any port), `*` (anything), or an exact origin
 * such as `https://example.com`. A request without an Origin header is not
 * from a browser page (browsers always send one on WebSocket upgrades), so
 * no page's authority is at stake and it is allowed.
 */
export class OriginPolicy {
  private readonly exact: ReadonlySet<string>;
  private readonly self: boolean;
  private readonly localhost: boolean;
  private readonly any: boolean;

  constructor(entries: readonly string[]) {
    this.self = entries.includes('self');
    this.localhost = entries.includes('localhost');
    this.any = entries.includes('*');
    this.exact = new Set(entries.filter((e) => !['self', 'localhost', '*'].includes(e)).map(normalizeOrigin));
  }

  /** Whether the list names `self` (the server warns when `self` stands for nothing). */
  get namesSelf(): boolean {
    return this.self;
  }

  allows(origin: string | undefined, self: SelfOrigin): boolean {
    if (origin === undefined) return true;
    if (this.any) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      // A malformed Origin header is refused, never guessed at.
      return false;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    const loopback = LOOPBACK_HOSTS.has(url.hostname);
    if (this.localhost && loopback) return true;
    if (this.self) {
      if (self.kind === 'public' && url.origin === self.origin) return true;
      if (self.kind === 'loopback' && loopback && portOf(url) === self.port) return true;
    }
    return this.exact.has(url.origin);
  }
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** `https://Example.com:443/` becomes `https://example.com`. Throws on non-URLs. */
export function normalizeOrigin(origin: string): string {
  const url = new URL(origin);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`not an http(s) origin: ${origin}`);
  return url.origin;
}

/**
 * The client's address: the socket's peer, or with `trustProxy` the last
 * X-Forwarded-For entry (the one your reverse proxy appended).
 */
export function clientAddress(request: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = request.headers['x-forwarded-for'];
    const value = Array.isArray(header) ? header[header.length - 1] : header;
    const last = value?.split(',').pop()?.trim();
    if (last !== undefined && last !== '') return last;
  }
  return request.socket.remoteAddress ?? 'unknown';
}

/**
 * What the per-IP cap counts a client address as: an IPv4 address itself (an
 * IPv4-mapped IPv6 address as its IPv4 one), an IPv6 address as its /64. One
 * home or host is given a whole /64, so keying on the full IPv6 address would
 * let one client take 2^64 addresses' worth of connections.
 */
export function addressKey(address: string): string {
  const bare = (address.split('%')[0] ?? address).toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(bare)) return bare;
  const [head = '', tail] = bare.split('::');
  const groups = (part: string): string[] =>
    part === '' ? [] : part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group]));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${all
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/** Open connections per address (IPv6 per /64, see addressKey), for the per-IP cap. */
export class AddressCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly cap: number) {}

  tryAcquire(address: string): boolean {
    const key = addressKey(address);
    const count = this.counts.get(key) ?? 0;
    if (count >= this.cap) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  release(address: string): void {
    const key = addressKey(address);
    const count = this.counts.get(key) ?? 0;
    if (count <= 1) this.counts.delete(key);
    else this.counts.set(key, count - 1);
  }
}

/**
 * Cap TCP connections per address (addressKey) as they are accepted, before
 * any HTTP is read. The cap on WebSockets counts upgrades only, so without
 * this a client opening sockets and never finishing a request holds a file
 * descriptor each until the header timeout. Over the cap the socket is
 * destroyed at once and `refused` called.
 */
export function capSocketsPerAddress(server: NetServer, cap: number, refused: () => void): void {
  if (cap === Infinity) return;
  const counter = new AddressCounter(cap);
  // One listener for every socket, no closure each: a socket's address is
  // read once here, and Node keeps it for the socket's life (after it closes too).
  function released(this: Socket): void {
    counter.release(this.remoteAddress ?? 'unknown');
  }
  server.on('connection', (socket: Socket) => {
    if (!counter.tryAcquire(socket.remoteAddress ?? 'unknown')) {
      refused();
      socket.destroy();
      return;
    }
    // 'close' comes once: `on` spares the wrapper `once` would make.
    socket.on('close', released);
  });
}
