/**
 * Whether a signaling URL points into a private network. A peer's record
 * may list signaling URLs that a tab dials once its own servers fail; on a
 * public deployment, one on a loopback or private address would have the tab
 * knock on its own machine or LAN (a router's admin page, a dev server) at
 * a peer's word. The host is judged as the browser parses it, so numeric
 * forms (`2130706433`, `0x7f.1`, `[::ffff:7f00:1]`) count as what they are.
 * A public name that resolves to a private address (DNS rebinding) cannot be
 * told apart here; only the name is checked.
 */

/** Names that resolve only locally: RFC 6761 (localhost), RFC 6762 (local), RFC 8375 (home.arpa), ICANN's internal, and the common lan. */
const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa', '.lan'];

/** True for a URL on a loopback, private, link-local, shared (CGNAT) or unspecified address, a local-only name, or no valid host. */
export function isPrivateEndpoint(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    // Not a URL: not somewhere to send a tab either.
    return true;
  }
  if (host.startsWith('[')) return isPrivateIpv6(host.slice(1, -1));
  const ipv4 = parseIpv4(host);
  if (ipv4 !== undefined) return isPrivateIpv4(ipv4);
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  // A single label ("router", "localhost") is resolved on the local network, if at all.
  return !name.includes('.') || LOCAL_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

export function isPublicEndpoint(url: string): boolean {
  return !isPrivateEndpoint(url);
}

/** The four bytes of a dotted-quad host (the URL parser has normalised other numeric forms to one). */
function parseIpv4(host: string): number[] | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (match === null) return undefined;
  const bytes = match.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function isPrivateIpv4([a = 0, b = 0]: readonly number[]): boolean {
  return (
    a === 0 || // "this" network
    a === 10 || // RFC 1918
    a === 127 || // loopback
    (a === 100 && b >= 64 && b <= 127) || // RFC 6598 shared address space (CGNAT)
    (a === 169 && b === 254) || // link-local
    (a === 172 && b >= 16 && b <= 31) || // RFC 1918
    (a === 192 && b === 168) || // RFC 1918
    a >= 224 // multicast and reserved
  );
}

function isPrivateIpv6(text: string): boolean {
  const groups = expandIpv6(text);
  if (groups === undefined) return true;
  const [first = 0] = groups;
  const zeros = (n: number): boolean => groups.slice(0, n).every((g) => g === 0);
  if (zeros(7) && (groups[7] === 0 || groups[7] === 1)) return true; // unspecified, loopback
  if (zeros(5) && groups[5] === 0xffff) {
    // IPv4-mapped: judged as the IPv4 address it is.
    const high = groups[6] ?? 0;
    return isPrivateIpv4([high >> 8, high & 0xff]);
  }
  return (
    (first & 0xfe00) === 0xfc00 || // RFC 4193 unique local
    (first & 0xffc0) === 0xfe80 || // link-local
    (first & 0xffc0) === 0xfec0 || // site-local (deprecated, still routed privately)
    (first & 0xff00) === 0xff00 // multicast
  );
}

/** Eight 16-bit groups of an IPv6 address as the URL parser writes it (hex groups, `::` at most once). */
function expandIpv6(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined): number[] | undefined => {
    if (part === undefined || part === '') return [];
    const groups = part.split(':');
    return groups.every((g) => /^[0-9a-f]{1,4}$/.test(g)) ? groups.map((g) => parseInt(g, 16)) : undefined;
  };
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  return missing < 1 ? undefined : [...head, ...new Array<number>(missing).fill(0), ...tail];
}
