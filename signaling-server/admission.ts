/**
 * Who may open a WebSocket: Origin allow-list, client address, per-IP caps.
 * Checked on the HTTP upgrade request, before any WebSocket exists.
 */
import type { IncomingMessage } from 'node:http';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * An Origin allow-list. Entries: `self` (the origin the request was sent to,
 * from its Host header), `localhost` (any page on a loopback host, any port),
 * `*` (anything), or an exact origin such as `https://example.com`.
 * A request without an Origin header is not from a browser page (browsers
 * always send one on WebSocket upgrades), so no page's authority is at stake
 * and it is allowed.
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

  allows(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.any) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      // A malformed Origin header is refused, never guessed at.
      return false;
    }
    if (this.localhost && (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname)) {
      return true;
    }
    if (this.self && host !== undefined && url.host === host.toLowerCase()) return true;
    return this.exact.has(url.origin);
  }
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

/** Open connections per address, for the per-IP cap. */
export class AddressCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly cap: number) {}

  tryAcquire(address: string): boolean {
    const count = this.counts.get(address) ?? 0;
    if (count >= this.cap) return false;
    this.counts.set(address, count + 1);
    return true;
  }

  release(address: string): void {
    const count = this.counts.get(address) ?? 0;
    if (count <= 1) this.counts.delete(address);
    else this.counts.set(address, count - 1);
  }
}
