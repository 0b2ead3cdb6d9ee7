/**
 * The STUN URLs a server announces in each challenge: `--stun-urls` when
 * given, else `stun:<host>:<port>` for its own responder, with <host> the
 * name the tab reached the server by (the upgrade request's Host header).
 *
 * The Host header is the client's to write. A browser writes the host of the
 * WebSocket URL the tab chose, so a page that made its tab connect by a name
 * of its own could already learn the tab's address from that name; and a
 * forged header reaches only the forger's own challenge. So it is taken,
 * but only as a hostname or an IP literal, never with anything that could
 * carry a query, a second URL or whitespace into the URL.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { MAX_STUN_URL_CHARS, MAX_STUN_URLS } from '../../shared/limits.js';
import { STUN_URL_PATTERN } from '../../shared/protocol/signaling.js';

/** RFC 1035 lengths: 63 per label, 253 in all. */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const MAX_HOSTNAME_CHARS = 253;

/** A hostname (lower-cased, without a trailing dot) or an IPv4 literal; undefined for anything else. */
function nameOrIPv4(host: string): string | undefined {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (isIPv4(name)) return name;
  if (name.length === 0 || name.length > MAX_HOSTNAME_CHARS) return undefined;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) return undefined;
  // A last label that is a number makes a URL read the host as IPv4 (WHATWG URL's "ends in a number"),
  // and `1.2.3` or `x.0` is not one: what a browser would make of it is its own guess.
  if (/^(?:\d+|0x[0-9a-f]*)$/.test(labels.at(-1) ?? '')) return undefined;
  return name;
}

/** `[literal]` as a URL writes it, or undefined if a URL would not take it. */
function canonicalIPv6(literal: string): string | undefined {
  try {
    return new URL(`http://[${literal}]/`).hostname;
  } catch {
    // Node's isIPv6 and the URL parser disagree on it: refused, like any doubtful host.
    return undefined;
  }
}

/**
 * The host part of a Host header, as a URL writes it (an IPv6 literal in
 * brackets), or undefined when the header is anything but a hostname or an
 * IP literal with at most a port after it.
 */
export function hostFromHeader(header: string | undefined): string | undefined {
  if (header === undefined || header.length > MAX_HOSTNAME_CHARS + 8) return undefined;
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?$/.exec(header);
  if (bracketed !== null) {
    const literal = bracketed[1] ?? '';
    // In the WHATWG URL's canonical form (`[::0.0.0.0]` is `[::]`), as a browser would write it.
    return isIPv6(literal) ? canonicalIPv6(literal) : undefined;
  }
  const plain = /^([^:[\]]+)(?::\d{1,5})?$/.exec(header);
  const host = plain?.[1];
  return host === undefined ? undefined : nameOrIPv4(host);
}

/** Why a list of STUN URLs (--stun-urls) is unusable, or undefined when it is fine. */
export function stunUrlsProblem(urls: readonly string[]): string | undefined {
  if (urls.length === 0) return 'at least one STUN URL is needed';
  if (urls.length > MAX_STUN_URLS) return `at most ${MAX_STUN_URLS} STUN URLs`;
  for (const url of urls) {
    if (url.length > MAX_STUN_URL_CHARS || !STUN_URL_PATTERN.test(url))
      return `'${url.slice(0, MAX_STUN_URL_CHARS)}' is not a stun: or stuns: URL (host and port only) of at most ${MAX_STUN_URL_CHARS} characters`;
  }
  return undefined;
}

/**
 * What a challenge announces: the configured URLs, else the responder's own
 * (when it listens on `port`) under the name the tab used (`hostHeader`), or
 * failing that `fallbackHost` (the public origin's); else nothing.
 */
export function announcedStunUrls(
  configured: readonly string[] | undefined,
  port: number | undefined,
  hostHeader: string | undefined,
  fallbackHost: string | undefined,
): readonly string[] | undefined {
  if (configured !== undefined) return configured;
  if (port === undefined) return undefined;
  const host = hostFromHeader(hostHeader) ?? fallbackHost;
  return host === undefined ? undefined : [`stun:${host}:${port}`];
}
