/**
 * The STUN servers a node expects its signaling server to name. ICE servers
 * are fixed when a peer connection is made, and the first offer is made in
 * boot(), before the server's challenge names its STUN URLs: made with what
 * the server will name, it is still good when the first dial adopts it (the
 * node compares the lists); made with anything else, it is thrown away and
 * the dial pays for a fresh one. The expectation is what this server named
 * last time (remembered in localStorage, where there is one), else the
 * server's default: its own host, on its HTTP port's number
 * (`stun:<host>:<port>`, docs/SELF-HOSTING.md).
 */
import { MAX_STUN_URL_CHARS, MAX_STUN_URLS } from '../../shared/limits.js';
import { STUN_URL_PATTERN } from '../../shared/protocol/signaling.js';

/** localStorage key prefix; the signaling URL follows. */
export const STUN_MEMORY_KEY = 'tabmesh:stun:';

/** The ICE servers a list of STUN URLs stands for (none: an empty list), as IceServers builds them. */
export function stunServers(urls: readonly string[] | undefined): readonly RTCIceServer[] {
  return urls === undefined || urls.length === 0 ? [] : [{ urls: [...urls] }];
}

/** The server's default STUN URL for a signaling URL: its host, on the port the URL reaches it at. */
export function defaultStunUrl(signalingUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(signalingUrl);
  } catch {
    return undefined;
  }
  const port = url.port !== '' ? url.port : url.protocol === 'wss:' ? '443' : url.protocol === 'ws:' ? '80' : '';
  return port === '' || url.hostname === '' ? undefined : `stun:${url.hostname}:${port}`;
}

/** What the server at `signalingUrl` named last time, parsed with caps (storage is untrusted), or undefined. */
function remembered(signalingUrl: string): readonly string[] | undefined {
  let text: string | null;
  try {
    text = typeof localStorage === 'undefined' ? null : localStorage.getItem(STUN_MEMORY_KEY + signalingUrl);
  } catch {
    // Blocked storage: nothing remembered.
    return undefined;
  }
  if (text === null || text.length > MAX_STUN_URLS * (MAX_STUN_URL_CHARS + 4) + 2) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length > MAX_STUN_URLS) return undefined;
  const urls = value.filter(
    (u): u is string => typeof u === 'string' && u.length <= MAX_STUN_URL_CHARS && STUN_URL_PATTERN.test(u),
  );
  return urls.length === value.length ? urls : undefined;
}

/** The STUN servers the server at `signalingUrl` is expected to name. */
export function expectedStun(signalingUrl: string): readonly RTCIceServer[] {
  const urls = remembered(signalingUrl);
  if (urls !== undefined) return stunServers(urls);
  const guess = defaultStunUrl(signalingUrl);
  return guess === undefined ? [] : stunServers([guess]);
}

/** Remember what the server at `signalingUrl` named (none: an empty list), for the next start. */
export function rememberStun(signalingUrl: string, urls: readonly string[] | undefined): void {
  try {
    if (typeof localStorage !== 'undefined')
      localStorage.setItem(STUN_MEMORY_KEY + signalingUrl, JSON.stringify(urls ?? []));
  } catch {
    // Blocked or full storage: the next start guesses the default.
    return;
  }
}

/** Whether two lists of ICE servers are the same servers (as built here and by IceServers). */
export function sameIceServers(a: readonly RTCIceServer[], b: readonly RTCIceServer[]): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
