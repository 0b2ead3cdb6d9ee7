/**
 * The NAT lab's network, built with `ip` and `iptables-restore`:
 *
 * ```
 *  public namespace (pub): bridge br0 203.0.113.1/24 (signaling server, coturn)
 *     | p0                          | p1                         | p2
 *  router r-a: wan 203.0.113.10     router r-b: wan 203.0.113.20    host h-c: eth0 203.0.113.30
 *     MASQUERADE (port-preserving)     MASQUERADE --random-fully      (nat 'none': no router)
 *     lan bridge 192.168.10.1/24       lan bridge 192.168.20.1/24
 *     | l0          | l1                | l0
 *  h-a 192.168.10.2  h-a-1 .3         h-b 192.168.20.2
 * ```
 *
 * Addresses are documentation (203.0.113.0/24, TEST-NET-3) and private
 * ranges, in namespaces of their own: nothing reaches the machine's network.
 * A router forwards from its LAN and masquerades what leaves by `wan`, and
 * drops what arrives there unsolicited (see {@link routerRules}). IPv6 is off
 * in every namespace, so the only paths are the IPv4 ones drawn here.
 */
import { run } from './run.js';

/**
 * How a home reaches the public network: through a NAT that keeps a
 * mapping's outside port for every destination (endpoint-independent
 * mapping: STUN's reflexive address works for every peer), through one that
 * picks a new outside port per destination (symmetric: only a relay
 * joins two such homes), or directly, with a public address of its own.
 */
export type NatKind = 'port-preserving' | 'symmetric' | 'none';

export interface HomeSpec {
  /** Lowercase letters and digits, up to 12 characters; not `public`. */
  readonly name: string;
  readonly nat: NatKind;
  /** Machines on the home's LAN (or, with nat 'none', public hosts), each a namespace; default 1. */
  readonly hosts?: number;
}

/** One machine: a namespace with one interface (eth0) and a default route. */
export interface LabHost {
  readonly namespace: string;
  readonly address: string;
}

export interface LabHome {
  readonly name: string;
  readonly nat: NatKind;
  /** Its machines, the first one first. */
  readonly hosts: readonly LabHost[];
  /** The first machine's namespace. */
  readonly namespace: string;
  /** The first machine's address: on the LAN behind the router, or public with nat 'none'. */
  readonly address: string;
  /** The address the public side sees its first machine's packets from: the router's WAN, or its own. */
  readonly publicAddress: string;
  /** The router's namespace; undefined with nat 'none'. */
  readonly router: string | undefined;
}

export const PUBLIC_ADDRESS = '203.0.113.1';
/** The signaling server's port on the public network (the lab's own namespace: always free). */
export const SIGNAL_PORT = 8787;
/** coturn's UDP port on the public network. */
export const TURN_PORT = 3478;
const PUBLIC_NET = '203.0.113';
const MAX_HOMES = 24;
const MAX_HOSTS = 9;
const HOME_NAME = /^[a-z0-9]{1,12}$/;

/** The iptables rules of a router (iptables-restore input). */
export function routerRules(nat: 'port-preserving' | 'symmetric'): string {
  // MASQUERADE keeps the inside port when it is free; --random-fully picks a
  // new random one for every new (destination) mapping.
  const masquerade = `-A POSTROUTING -o wan -j MASQUERADE${nat === 'symmetric' ? ' --random-fully' : ''}`;
  // Unsolicited input from the WAN is dropped, as a home router does. Without
  // this, a peer's early connectivity check that arrives before our own
  // outbound packet is answered by the router itself (ICMP) and recorded in
  // conntrack, and the NAT then maps our next packet to that peer onto a new
  // port: hole punching fails even between port-preserving NATs.
  const fromWan = (chain: string): string =>
    `-A ${chain} -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n-A ${chain} -i wan -j DROP`;
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    masquerade,
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    fromWan('INPUT'),
    fromWan('FORWARD'),
    'COMMIT',
    '',
  ].join('\n');
}

/** Throws on a layout the address plan cannot hold, or names that clash. */
export function checkSpecs(homes: readonly HomeSpec[]): void {
  if (homes.length > MAX_HOMES) throw new Error(`lab: at most ${MAX_HOMES} homes, not ${homes.length}`);
  const names = new Set<string>();
  for (const home of homes) {
    if (!HOME_NAME.test(home.name) || home.name === 'public')
      throw new Error(`lab: a home's name is 1 to 12 lowercase letters or digits, not 'public': '${home.name}'`);
    if (names.has(home.name)) throw new Error(`lab: two homes named '${home.name}'`);
    names.add(home.name);
    const hosts = home.hosts ?? 1;
    if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS)
      throw new Error(`lab: home '${home.name}' has 1 to ${MAX_HOSTS} hosts, not ${hosts}`);
  }
}

/** `sh -c script` inside `namespace`. */
function inside(namespace: string, script: string): Promise<string> {
  return run('ip', ['netns', 'exec', namespace, 'sh', '-c', script]);
}

/** A new namespace with `lo` up and IPv6 off (for interfaces made in it from now on, too). */
async function addNamespace(namespace: string, made: string[]): Promise<void> {
  await run('ip', ['netns', 'add', namespace]);
  made.push(namespace);
  await inside(
    namespace,
    'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; ip link set lo up',
  );
}

/** A veth pair made with its ends already in their namespaces, so neither ever has a name in the machine's own. */
async function addVeth(a: { ns: string; name: string }, b: { ns: string; name: string }): Promise<void> {
  await run('ip', ['link', 'add', a.name, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.ns]);
}

/** A bridge `name` in `namespace`, up, with `address` (CIDR). */
async function addBridge(namespace: string, name: string, address: string): Promise<void> {
  await run('ip', ['-n', namespace, 'link', 'add', name, 'type', 'bridge']);
  await run('ip', ['-n', namespace, 'addr', 'add', address, 'dev', name]);
  await run('ip', ['-n', namespace, 'link', 'set', name, 'up']);
}

/** Attach `port` to `bridge` in `namespace`, up. */
async function attach(namespace: string, port: string, bridge: string): Promise<void> {
  await run('ip', ['-n', namespace, 'link', 'set', port, 'master', bridge]);
  await run('ip', ['-n', namespace, 'link', 'set', port, 'up']);
}

/** A machine: its namespace, eth0 plugged into `bridge` of `into` as `port`, its address and default route. */
async function addHost(
  namespace: string,
  into: { ns: string; bridge: string; port: string },
  address: string,
  gateway: string,
  made: string[],
): Promise<LabHost> {
  await addNamespace(namespace, made);
  await addVeth({ ns: namespace, name: 'eth0' }, { ns: into.ns, name: into.port });
  await attach(into.ns, into.port, into.bridge);
  await run('ip', ['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', namespace, 'route', 'add', 'default', 'via', gateway]);
  return { namespace, address };
}

/** The public namespace: its bridge and address. */
export async function buildPublic(namespace: string, made: string[]): Promise<void> {
  await addNamespace(namespace, made);
  await addBridge(namespace, 'br0', `${PUBLIC_ADDRESS}/24`);
}

/** The `index`-th home, plugged into the public bridge; namespaces are pushed onto `made` as they are created. */
export async function buildHome(
  prefix: string,
  publicNs: string,
  spec: HomeSpec,
  index: number,
  made: string[],
): Promise<LabHome> {
  const count = spec.hosts ?? 1;
  const hostNs = (i: number): string => `${prefix}-h-${spec.name}${i === 0 ? '' : `-${i}`}`;
  const wan = `${PUBLIC_NET}.${10 * (index + 1)}`;
  const hosts: LabHost[] = [];
  if (spec.nat === 'none') {
    // Each machine on the public bridge, with an address of its own.
    for (let i = 0; i < count; i++) {
      const port = `p${index}-${i}`;
      const address = `${PUBLIC_NET}.${10 * (index + 1) + i}`;
      hosts.push(await addHost(hostNs(i), { ns: publicNs, bridge: 'br0', port }, address, PUBLIC_ADDRESS, made));
    }
    return { name: spec.name, nat: spec.nat, hosts, ...first(hosts), publicAddress: wan, router: undefined };
  }
  const router = `${prefix}-r-${spec.name}`;
  const lan = `192.168.${10 * (index + 1)}`;
  await addNamespace(router, made);
  await addVeth({ ns: router, name: 'wan' }, { ns: publicNs, name: `p${index}` });
  await attach(publicNs, `p${index}`, 'br0');
  await run('ip', ['-n', router, 'addr', 'add', `${wan}/24`, 'dev', 'wan']);
  await run('ip', ['-n', router, 'link', 'set', 'wan', 'up']);
  await addBridge(router, 'lan', `${lan}.1/24`);
  await inside(router, 'echo 1 > /proc/sys/net/ipv4/ip_forward');
  await run('ip', ['netns', 'exec', router, 'iptables-restore'], routerRules(spec.nat));
  for (let i = 0; i < count; i++) {
    hosts.push(
      await addHost(hostNs(i), { ns: router, bridge: 'lan', port: `l${i}` }, `${lan}.${2 + i}`, `${lan}.1`, made),
    );
  }
  return { name: spec.name, nat: spec.nat, hosts, ...first(hosts), publicAddress: wan, router };
}

function first(hosts: readonly LabHost[]): LabHost {
  const host = hosts[0];
  if (host === undefined) throw new Error('lab: a home without hosts');
  return host;
}
