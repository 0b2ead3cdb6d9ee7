import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ACTIVE_WALK,
  MAX_MEMBERSHIP_IDS,
  MAX_MEMBERSHIP_WALK_TTL,
  MEMBERSHIP_EVICTION_BURST,
  MEMBERSHIP_HANDSHAKE_TIMEOUT_MS,
  MAX_INBOUND_HANDSHAKES,
} from '../../shared/limits.js';
import {
  Membership,
  type MembershipHost,
  type MembershipMessage,
  type MembershipOptions,
} from '../../shared/membership/hyparview.js';
import { seededRandom } from '../sim/prng.js';

type Msg = MembershipMessage<string>;
type HostEvent =
  | { kind: 'send'; to: string; message: Msg }
  | { kind: 'connect'; peer: string; route: readonly string[] }
  | { kind: 'disconnect'; peer: string }
  | { kind: 'problem'; from: string; reason: string; severe: boolean };

/** Records every call; tests read and clear it. */
class FakeHost implements MembershipHost<string> {
  events: HostEvent[] = [];
  reachable?: (peer: string) => boolean;
  send(to: string, message: Msg): void {
    this.events.push({ kind: 'send', to, message });
  }
  connect(peer: string, route: readonly string[]): void {
    this.events.push({ kind: 'connect', peer, route: [...route] });
  }
  disconnect(peer: string): void {
    this.events.push({ kind: 'disconnect', peer });
  }
  problem(from: string, reason: string, severe: boolean): void {
    this.events.push({ kind: 'problem', from, reason, severe });
  }
  /** Messages sent, leaving out 'degree' notices (tested on their own below). */
  sent(to?: string): Msg[] {
    return this.events.flatMap((e) =>
      e.kind === 'send' && e.message.type !== 'degree' && (to === undefined || e.to === to) ? [e.message] : [],
    );
  }
  degrees(to: string): number[] {
    return this.events.flatMap((e) =>
      e.kind === 'send' && e.to === to && e.message.type === 'degree' ? [e.message.active] : [],
    );
  }
  connects(): string[] {
    return this.events.flatMap((e) => (e.kind === 'connect' ? [e.peer] : []));
  }
  disconnects(): string[] {
    return this.events.flatMap((e) => (e.kind === 'disconnect' ? [e.peer] : []));
  }
  problems(): { reason: string; severe: boolean }[] {
    return this.events.flatMap((e) => (e.kind === 'problem' ? [{ reason: e.reason, severe: e.severe }] : []));
  }
  clear(): void {
    this.events = [];
  }
}

interface Setup {
  m: Membership<string>;
  host: FakeHost;
  clock: { now: number };
}

/** A node "me" with a controllable clock; random() = 0 picks the first candidate, so choices are predictable. */
function setup(options: Partial<MembershipOptions> = {}, random: () => number = () => 0): Setup {
  const host = new FakeHost();
  const clock = { now: 1_000_000 };
  const m = new Membership<string>('me', host, { now: () => clock.now, random }, options);
  return { m, host, clock };
}

/** Bring `peer` into the active view the way a real neighbour arrives: inbound link, then a neighbour request. */
function befriend({ m, host }: Setup, ...peers: string[]): void {
  for (const peer of peers) {
    m.linkUp(peer, false);
    m.receive(peer, { type: 'neighbour', priority: 'low' });
  }
  host.clear();
}

function expectBounded(m: Membership<string>, active = 5, passive = 30): void {
  const a = m.activeView();
  const p = m.passiveView();
  expect(a.length).toBeLessThanOrEqual(active);
  expect(p.length).toBeLessThanOrEqual(passive);
  expect(a).not.toContain('me');
  expect(p).not.toContain('me');
  expect(a.filter((id) => p.includes(id))).toEqual([]);
  expect(new Set(a).size).toBe(a.length);
  expect(new Set(p).size).toBe(p.length);
}

describe('Membership: joining', () => {
  it('joins through the first contact, keeps the others as passive candidates', () => {
    const s = setup();
    s.m.join(['c1', 'c2', 'me', 'c1']);
    expect(s.host.events).toEqual([{ kind: 'connect', peer: 'c1', route: [] }]);
    s.m.linkUp('c1', true);
    expect(s.host.sent('c1')).toEqual([{ type: 'join' }]);
    expect(s.m.activeView()).toEqual(['c1']);
    expect(s.m.passiveView()).toEqual(['c2']);
  });

  it('makes one join attempt at a time: contacts given while one is under way are tried next if it fails', () => {
    const s = setup();
    s.m.join(['c1', 'c2']);
    s.m.join(['c1', 'c3', 'c4']);
    expect(s.host.connects()).toEqual(['c1']);
    s.m.connectFailed('c1');
    expect(s.host.connects()).toEqual(['c1', 'c3']);
    s.m.linkUp('c3', true);
    expect(s.m.activeView()).toEqual(['c3']);
    expect(s.m.passiveView()).toEqual(['c4']);
  });

  it('takes a join from a contact that joined through it at the same moment as no violation', () => {
    const s = setup();
    s.m.join(['a']);
    s.m.linkUp('a', true);
    s.m.receive('a', { type: 'join' });
    expect(s.m.activeView()).toEqual(['a']);
    expect(s.host.problems()).toEqual([]);
    expect(s.host.disconnects()).toEqual([]);
  });

  it('tries the next contact when one cannot be reached, and forgets the unreachable one', () => {
    const s = setup();
    s.m.join(['c1', 'c2']);
    s.m.connectFailed('c1');
    expect(s.host.connects()).toEqual(['c1', 'c2']);
    s.m.linkUp('c2', true);
    expect(s.m.activeView()).toEqual(['c2']);
    expect(s.m.passiveView()).not.toContain('c1');
  });

  it('as the contact: takes the joiner in and starts an ARWL walk to every other neighbour', () => {
    const s = setup();
    befriend(s, 'a', 'b');
    s.m.linkUp('n', false);
    expect(s.m.activeView()).toEqual(['a', 'b']); // not a neighbour before its first message
    s.m.receive('n', { type: 'join' });
    expect(s.m.activeView()).toEqual(['a', 'b', 'n']);
    const walk = { type: 'forward-join', joiner: 'n', ttl: DEFAULT_ACTIVE_WALK, path: ['me'] };
    expect(s.host.sent('a')).toEqual([walk]);
    expect(s.host.sent('b')).toEqual([walk]);
    expect(s.host.sent('n')).toEqual([]);
  });

  it('forwards a forward-join with ttl - 1 and itself appended, to a neighbour other than the sender', () => {
    const s = setup();
    befriend(s, 's', 'x', 'y');
    s.m.receive('s', { type: 'forward-join', joiner: 'j', ttl: 5, path: ['c', 's'] });
    expect(s.host.events).toEqual([
      { kind: 'send', to: 'x', message: { type: 'forward-join', joiner: 'j', ttl: 4, path: ['c', 's', 'me'] } },
    ]);
    expect(s.m.passiveView()).toEqual([]);
  });

  it('puts the joiner in the passive view at PRWL, with the reversed walk as its route', () => {
    const s = setup();
    befriend(s, 's', 'x');
    s.m.receive('s', { type: 'forward-join', joiner: 'j', ttl: 3, path: ['c', 's'] });
    expect(s.m.passiveView()).toEqual(['j']);
    expect(s.m.routeTo('j')).toEqual(['s', 'c']);
    expect(s.host.sent('x')).toHaveLength(1);
  });

  it('ends the walk at ttl 0: connects to the joiner through the reversed path and asks with high priority', () => {
    const s = setup();
    befriend(s, 's', 'x');
    s.m.receive('s', { type: 'forward-join', joiner: 'j', ttl: 0, path: ['c', 'w', 's'] });
    expect(s.host.events).toEqual([{ kind: 'connect', peer: 'j', route: ['s', 'w', 'c'] }]);
    s.host.clear();
    s.m.linkUp('j', true);
    expect(s.host.sent('j')).toEqual([{ type: 'neighbour', priority: 'high' }]);
    s.m.receive('j', { type: 'neighbour-reply', accepted: true });
    expect(s.m.activeView()).toEqual(['s', 'x', 'j']);
  });

  it('ends the walk when the sender is its only neighbour', () => {
    const s = setup();
    befriend(s, 's');
    s.m.receive('s', { type: 'forward-join', joiner: 'j', ttl: 6, path: ['s'] });
    expect(s.host.connects()).toEqual(['j']);
  });

  it('ignores a forward-join for itself or for a peer it already has', () => {
    const s = setup();
    befriend(s, 's', 'x');
    s.m.receive('s', { type: 'forward-join', joiner: 'me', ttl: 0, path: ['s'] });
    s.m.receive('s', { type: 'forward-join', joiner: 'x', ttl: 0, path: ['s'] });
    expect(s.host.events).toEqual([]);
  });
});

describe('Membership: bounds and eviction', () => {
  it('evicts a random neighbour, with a disconnect, when a join arrives at a full active view', () => {
    const s = setup();
    befriend(s, 'a', 'b', 'c', 'd', 'e');
    s.m.linkUp('n', false);
    s.m.receive('n', { type: 'join' });
    expect(s.m.activeView()).toHaveLength(5);
    expect(s.m.activeView()).toContain('n');
    expect(s.m.activeView()).not.toContain('a'); // random() = 0 picks the first
    expect(s.host.events.slice(0, 2)).toEqual([
      { kind: 'send', to: 'a', message: { type: 'disconnect' } },
      { kind: 'disconnect', peer: 'a' },
    ]);
    expect(s.m.passiveView()).toEqual(['a']);
  });

  it('refuses a low-priority request when full, accepts a high-priority one by evicting', () => {
    const s = setup();
    befriend(s, 'a', 'b', 'c', 'd', 'e');
    s.m.linkUp('low', false);
    s.m.receive('low', { type: 'neighbour', priority: 'low' });
    expect(s.host.sent('low')).toEqual([{ type: 'neighbour-reply', accepted: false }]);
    expect(s.host.disconnects()).toEqual(['low']);
    expect(s.m.activeView()).not.toContain('low');
    s.host.clear();
    s.m.linkUp('high', false);
    s.m.receive('high', { type: 'neighbour', priority: 'high' });
    expect(s.host.sent('high')).toEqual([{ type: 'neighbour-reply', accepted: true }]);
    expect(s.m.activeView()).toHaveLength(5);
    expect(s.m.activeView()).toContain('high');
  });

  it('survives a flood of joins: the view stays bounded and evictions stay within the rate', () => {
    const s = setup({}, seededRandom(7));
    befriend(s, 'a', 'b', 'c', 'd', 'e');
    for (let i = 0; i < 200; i++) {
      const peer = `evil${i}`;
      if (!s.m.acceptsInbound(peer)) continue;
      s.m.linkUp(peer, false);
      s.m.receive(peer, { type: 'join' });
      expectBounded(s.m);
    }
    const evictions = s.host.sent().filter((msg) => msg.type === 'disconnect').length;
    // Every join beyond the burst is turned away (a disconnect to the joiner), not let in by evicting.
    const evicted = ['a', 'b', 'c', 'd', 'e'].filter((p) => !s.m.activeView().includes(p));
    expect(evicted.length).toBeLessThanOrEqual(MEMBERSHIP_EVICTION_BURST);
    expect(evictions).toBe(200); // each join answered by exactly one disconnect: to a victim or to itself
    expect(s.m.activeView()).toHaveLength(5);
  });

  it('bounds inbound links waiting for their first message', () => {
    const s = setup();
    for (let i = 0; i < MAX_INBOUND_HANDSHAKES; i++) {
      expect(s.m.acceptsInbound(`x${i}`)).toBe(true);
      s.m.linkUp(`x${i}`, false);
    }
    expect(s.m.acceptsInbound('late')).toBe(false);
    expect(s.m.acceptsInbound('me')).toBe(false);
    s.m.linkUp('late', false); // a host that ignored acceptsInbound
    expect(s.host.disconnects()).toEqual(['late']);
  });

  it('drops an inbound link that says nothing within the handshake timeout', () => {
    const s = setup();
    befriend(s, 'a');
    s.m.linkUp('quiet', false);
    s.clock.now += MEMBERSHIP_HANDSHAKE_TIMEOUT_MS - 1;
    s.m.tick();
    expect(s.host.disconnects()).not.toContain('quiet');
    s.clock.now += 1;
    s.m.tick();
    expect(s.host.disconnects()).toContain('quiet');
    s.host.clear();
    s.m.receive('quiet', { type: 'join' });
    expect(s.m.activeView()).toEqual(['a']);
    expect(s.host.problems()).toEqual([{ reason: 'membership message from a peer without a link', severe: false }]);
  });

  it('counts connects in flight against the active view, and lets an inbound request take a promotion slot', () => {
    const s = setup();
    befriend(s, 'a', 'b', 'c');
    s.m.addPassive(['p1', 'p2', 'p3', 'p4']);
    s.m.tick();
    expect(s.host.connects()).toHaveLength(2);
    s.host.clear();
    s.m.tick();
    expect(s.host.connects()).toEqual([]); // nothing more while two are in flight
    s.m.linkUp('in', false);
    s.m.receive('in', { type: 'neighbour', priority: 'low' });
    expect(s.host.sent('in')).toEqual([{ type: 'neighbour-reply', accepted: true }]);
    expect(s.m.activeView()).toHaveLength(4);
    // The promotion that gave way: its link is closed when it comes up.
    const cancelled = ['p1', 'p2', 'p3', 'p4'].find((p) => {
      s.host.clear();
      s.m.linkUp(p, true);
      return s.host.disconnects().includes(p);
    });
    expect(cancelled).toBeDefined();
    expectBounded(s.m);
  });
});

describe('Membership: failures and promotion', () => {
  it('promotes passive peers with high priority while it has fewer than MEMBERSHIP_HIGH_PRIORITY_BELOW neighbours', () => {
    const s = setup();
    befriend(s, 'a');
    s.m.addPassive(['p1', 'p2', 'p3']);
    s.host.clear();
    s.m.linkDown('a');
    expect(s.m.activeView()).toEqual([]);
    expect(s.host.connects().sort()).toEqual(['p1', 'p2', 'p3']);
    s.m.linkUp('p1', true);
    expect(s.host.sent('p1')).toEqual([{ type: 'neighbour', priority: 'high' }]);
    s.m.receive('p1', { type: 'neighbour-reply', accepted: true });
    // One neighbour is not enough (two peers holding only each other would stay an island).
    s.m.linkUp('p2', true);
    expect(s.host.sent('p2')).toEqual([{ type: 'neighbour', priority: 'high' }]);
    s.m.receive('p2', { type: 'neighbour-reply', accepted: true });
    s.m.linkUp('p3', true);
    expect(s.host.sent('p3')).toEqual([{ type: 'neighbour', priority: 'low' }]);
  });

  it('on rejection closes the link, keeps the peer passive and tries another', () => {
    const s = setup({ activeSize: 3 });
    befriend(s, 'a', 'b', 'c');
    s.m.addPassive(['p1', 'p2', 'p3']);
    s.m.linkDown('a');
    const [first] = s.host.connects();
    expect(first).toBeDefined();
    s.host.clear();
    s.m.linkUp(first as string, true);
    expect(s.host.sent(first)).toEqual([{ type: 'neighbour', priority: 'low' }]);
    s.m.receive(first as string, { type: 'neighbour-reply', accepted: false });
    expect(s.host.disconnects()).toEqual([first]);
    expect(s.m.passiveView()).toContain(first);
    const [next] = s.host.connects();
    expect(next).toBeDefined();
    expect(next).not.toBe(first);
  });

  it('drops a passive peer it cannot reach', () => {
    const s = setup();
    befriend(s, 'a');
    s.m.addPassive(['p1']);
    s.m.linkDown('a');
    s.m.connectFailed('p1');
    expect(s.m.passiveView()).toEqual([]);
  });

  it('promotes only peers the host can reach now, and keeps the rest passive for later', () => {
    const s = setup();
    const reachable = new Set(['tab']);
    s.host.reachable = (peer: string) => reachable.has(peer);
    befriend(s, 'a');
    s.m.addPassive(['far1', 'far2', 'tab']);
    s.host.clear();
    s.m.linkDown('a');
    // Only the reachable one: the others would hold slots until they timed out.
    expect(s.host.connects()).toEqual(['tab']);
    s.m.connectFailed('tab');
    s.host.clear();
    s.m.tick();
    expect(s.host.connects()).toEqual([]);
    expect(s.m.passiveView().sort()).toEqual(['far1', 'far2']);
    // In reach again (the server is back): promoted on the next tick.
    reachable.add('far1').add('far2');
    s.m.tick();
    expect(s.host.connects().sort()).toEqual(['far1', 'far2']);
  });

  it('leaves the active view free for a join while the passive view is out of reach', () => {
    const s = setup();
    s.host.reachable = (peer: string) => peer === 'tab';
    s.m.addPassive(['far1', 'far2', 'far3', 'far4', 'far5', 'far6']);
    s.m.tick();
    expect(s.host.connects()).toEqual([]);
    s.m.join(['tab']);
    expect(s.host.connects()).toEqual(['tab']);
  });

  it('moves a neighbour that disconnects to the passive view', () => {
    const s = setup();
    befriend(s, 'a', 'b');
    s.m.receive('a', { type: 'disconnect' });
    expect(s.m.activeView()).toEqual(['b']);
    expect(s.m.passiveView()).toEqual(['a']);
    expect(s.host.disconnects()).toEqual(['a']);
  });

  it('resolves crossing neighbour requests (glare) into one neighbour', () => {
    const s = setup();
    befriend(s, 'a');
    s.m.addPassive(['p']);
    s.m.linkDown('a');
    s.m.linkUp('p', false); // p dialled us while we dialled it: the host keeps one link
    expect(s.host.sent('p')).toEqual([{ type: 'neighbour', priority: 'high' }]);
    s.m.receive('p', { type: 'neighbour', priority: 'high' });
    s.m.receive('p', { type: 'neighbour-reply', accepted: true });
    expect(s.m.activeView()).toEqual(['p']);
    expect(s.host.problems()).toEqual([]);
  });
});

describe('Membership: shuffles', () => {
  it('sends itself, ka active and kp passive peers on a walk to a random neighbour', () => {
    const s = setup();
    befriend(s, 'a', 'b', 'c');
    s.m.addPassive(['p1', 'p2']);
    s.m.tick();
    expect(s.host.sent('a')).toEqual([
      { type: 'shuffle', origin: 'me', ttl: 6, sample: ['me', 'b', 'c', 'p1', 'p2'], path: ['me'] },
    ]);
    // The reply comes back from the neighbour the walk went to, and is merged.
    s.m.receive('a', { type: 'shuffle-reply', sample: ['q1', 'q2', 'me', 'b'], route: [] });
    expect(s.m.passiveView()).toEqual(['p1', 'p2', 'q1', 'q2']);
  });

  it('makes room for a reply by dropping the peers it sent away first', () => {
    const s = setup({ passiveSize: 2 });
    befriend(s, 'a');
    s.m.addPassive(['p1', 'p2']);
    s.m.tick(); // sample: me, p1, p2
    s.m.receive('a', { type: 'shuffle-reply', sample: ['q1', 'q2'], route: [] });
    expect(s.m.passiveView().sort()).toEqual(['q1', 'q2']);
  });

  it('forwards a walk with ttl - 1, and accepts where it ends, replying along the reversed path', () => {
    const s = setup();
    befriend(s, 's', 'n');
    s.m.receive('s', { type: 'shuffle', origin: 'o', ttl: 2, sample: ['o', 'x'], path: ['o', 't', 's'] });
    expect(s.host.sent('n')).toEqual([
      { type: 'shuffle', origin: 'o', ttl: 1, sample: ['o', 'x'], path: ['o', 't', 's', 'me'] },
    ]);
    s.host.clear();
    s.m.addPassive(['mine']);
    s.m.receive('s', { type: 'shuffle', origin: 'o', ttl: 0, sample: ['o', 'x'], path: ['o', 't', 's'] });
    expect(s.host.sent()).toEqual([{ type: 'shuffle-reply', sample: ['me', 'mine'], route: ['t', 'o'] }]);
    expect(s.m.passiveView()).toEqual(['mine', 'o', 'x']);
    expect(s.m.routeTo('o')).toEqual(['s', 't']);
  });

  it('relays a reply to the next hop of its route, and drops it when that hop is not linked', () => {
    const s = setup();
    befriend(s, 'a', 'b');
    s.m.receive('a', { type: 'shuffle-reply', sample: ['x'], route: ['b', 'o'] });
    expect(s.host.sent()).toEqual([{ type: 'shuffle-reply', sample: ['x'], route: ['o'] }]);
    expect(s.host.events[0]).toMatchObject({ to: 'b' });
    s.host.clear();
    s.m.receive('a', { type: 'shuffle-reply', sample: ['x'], route: ['gone', 'o'] });
    expect(s.host.events).toEqual([]);
    expect(s.m.passiveView()).toEqual([]);
  });

  it('refuses a reply nobody asked for, or from the wrong neighbour', () => {
    const s = setup();
    befriend(s, 'a', 'b');
    s.m.receive('b', { type: 'shuffle-reply', sample: ['x'], route: [] });
    s.m.tick(); // shuffle to a
    s.m.receive('b', { type: 'shuffle-reply', sample: ['y'], route: [] });
    expect(s.m.passiveView()).toEqual([]);
    expect(s.host.problems()).toEqual([
      { reason: 'shuffle reply that nobody asked for', severe: false },
      { reason: 'shuffle reply that nobody asked for', severe: false },
    ]);
  });
});

describe('Membership: hostile input', () => {
  const ids = (n: number, prefix = 'h'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const cases: [string, unknown, 'severe' | 'mild' | 'ignored'][] = [
    [
      'a sample over the cap',
      { type: 'shuffle', origin: 'a', ttl: 0, sample: ids(MAX_MEMBERSHIP_IDS + 1), path: ['a'] },
      'severe',
    ],
    [
      'a path over the cap',
      { type: 'shuffle', origin: 'h0', ttl: 0, sample: [], path: [...ids(MAX_MEMBERSHIP_IDS), 'a'] },
      'severe',
    ],
    [
      'a forward-join path over the cap',
      { type: 'forward-join', joiner: 'j', ttl: 0, path: [...ids(MAX_MEMBERSHIP_IDS), 'a'] },
      'severe',
    ],
    [
      'a ttl over the maximum',
      { type: 'forward-join', joiner: 'j', ttl: MAX_MEMBERSHIP_WALK_TTL + 1, path: ['a'] },
      'severe',
    ],
    ['a negative ttl', { type: 'shuffle', origin: 'a', ttl: -1, sample: [], path: ['a'] }, 'severe'],
    ['a fractional ttl', { type: 'shuffle', origin: 'a', ttl: 1.5, sample: [], path: ['a'] }, 'severe'],
    ['a string ttl', { type: 'forward-join', joiner: 'j', ttl: '3', path: ['a'] }, 'severe'],
    ['a path not ending with the sender', { type: 'forward-join', joiner: 'j', ttl: 0, path: ['x'] }, 'severe'],
    ['an empty path', { type: 'shuffle', origin: 'a', ttl: 0, sample: [], path: [] }, 'severe'],
    [
      'a path not starting at the origin',
      { type: 'shuffle', origin: 'o', ttl: 0, sample: [], path: ['x', 'a'] },
      'severe',
    ],
    ['a non-string in a sample', { type: 'shuffle', origin: 'a', ttl: 0, sample: [42], path: ['a'] }, 'severe'],
    ['an empty-string joiner', { type: 'forward-join', joiner: '', ttl: 0, path: ['a'] }, 'severe'],
    ['a sample that is not a list', { type: 'shuffle', origin: 'a', ttl: 0, sample: 'h1', path: ['a'] }, 'severe'],
    ['a reply route over the cap', { type: 'shuffle-reply', sample: [], route: ids(MAX_MEMBERSHIP_IDS + 1) }, 'severe'],
    ['a bad priority', { type: 'neighbour', priority: 'urgent' }, 'severe'],
    ['a bad reply flag', { type: 'neighbour-reply', accepted: 'yes' }, 'severe'],
    ['an unknown type', { type: 'gossip' }, 'severe'],
    ['no type', {}, 'severe'],
    ['null', null, 'severe'],
    // From a neighbour these are harmless repeats after crossing joins or requests.
    ['a join from a neighbour', { type: 'join' }, 'ignored'],
    ['a neighbour reply from a neighbour', { type: 'neighbour-reply', accepted: true }, 'ignored'],
  ];

  it.each(cases)('%s: %s, nothing else done, views unchanged', (_name, message, outcome) => {
    const s = setup();
    befriend(s, 'b', 'a');
    s.m.receive('a', message as Msg);
    const severities = s.host.problems().map((p) => (p.severe ? 'severe' : 'mild'));
    expect(severities).toEqual(outcome === 'ignored' ? [] : [outcome]);
    expect(s.host.connects()).toEqual([]);
    expect(s.host.sent()).toEqual([]);
    expect(s.m.activeView()).toEqual(['b', 'a']);
    expect(s.m.passiveView()).toEqual([]);
  });

  it('removes itself and duplicates from a sample, counting the duplicates', () => {
    const s = setup();
    befriend(s, 'a');
    s.m.receive('a', { type: 'shuffle', origin: 'a', ttl: 0, sample: ['a', 'me', 'x', 'x', 'y'], path: ['a'] });
    expect(s.m.passiveView()).toEqual(['x', 'y']);
    expect(s.host.problems()).toEqual([{ reason: 'sample names a peer twice', severe: false }]);
  });

  it('does not act on walks and requests from peers in the wrong state', () => {
    const s = setup();
    s.m.linkUp('fresh', false);
    s.m.receive('fresh', { type: 'forward-join', joiner: 'j', ttl: 0, path: ['fresh'] });
    s.m.receive('fresh', { type: 'shuffle', origin: 'fresh', ttl: 0, sample: ['x'], path: ['fresh'] });
    s.m.receive('fresh', { type: 'shuffle-reply', sample: ['x'], route: [] });
    s.m.receive('stranger', { type: 'neighbour', priority: 'high' });
    expect(s.host.connects()).toEqual([]);
    expect(s.host.sent()).toEqual([]);
    expect(s.host.problems().every((p) => !p.severe)).toBe(true);
    expect(s.host.problems()).toHaveLength(4);
    expect(s.m.activeView()).toEqual([]);
    expect(s.m.passiveView()).toEqual([]);
  });

  it('rejects an ID the host says is malformed', () => {
    const host = new FakeHost();
    const isId = (value: string): value is string => value.startsWith('tm1');
    const m = new Membership<string>('tm1me', host, { now: () => 0, random: () => 0, isId });
    m.linkUp('tm1a', false);
    m.receive('tm1a', { type: 'neighbour', priority: 'low' });
    m.receive('tm1a', { type: 'shuffle', origin: 'tm1a', ttl: 0, sample: ['tm1x', 'bogus'], path: ['tm1a'] });
    expect(host.problems()).toEqual([{ reason: 'sample holds something that is not a peer ID', severe: true }]);
    m.addPassive(['bogus', 'tm1y']);
    expect(m.passiveView()).toEqual(['tm1y']);
  });
});

describe('Membership: property', () => {
  const pool = ['me', 'p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8', 'p9'];
  const peer = fc.constantFrom(...pool);
  const idList = fc.array(peer, { maxLength: 40 });
  const message: fc.Arbitrary<unknown> = fc.oneof(
    fc.constant({ type: 'join' }),
    fc.record({ type: fc.constant('forward-join'), joiner: peer, ttl: fc.integer({ min: -2, max: 12 }), path: idList }),
    fc.record({ type: fc.constant('neighbour'), priority: fc.constantFrom('high', 'low', 'x') }),
    fc.record({ type: fc.constant('neighbour-reply'), accepted: fc.oneof(fc.boolean(), fc.constant(1)) }),
    fc.constant({ type: 'disconnect' }),
    fc.record({
      type: fc.constant('shuffle'),
      origin: peer,
      ttl: fc.integer({ min: -1, max: 12 }),
      sample: idList,
      path: idList,
    }),
    fc.record({ type: fc.constant('shuffle-reply'), sample: idList, route: idList }),
    fc.anything(),
  );
  const command = fc.oneof(
    fc.record({ k: fc.constant('linkUp' as const), p: peer, initiator: fc.boolean() }),
    fc.record({ k: fc.constant('linkDown' as const), p: peer }),
    fc.record({ k: fc.constant('connectFailed' as const), p: peer }),
    fc.record({ k: fc.constant('receive' as const), p: peer, m: message }),
    fc.record({ k: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 40_000 }) }),
    fc.record({ k: fc.constant('addPassive' as const), ids: idList }),
    fc.record({ k: fc.constant('join' as const), ids: idList }),
  );

  it('keeps both views bounded, disjoint and free of self under any sequence of events', () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 120 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer(),
        (commands, activeSize, passiveSize, seed) => {
          const s = setup({ activeSize, passiveSize }, seededRandom(seed));
          for (const c of commands) {
            switch (c.k) {
              case 'linkUp':
                s.m.linkUp(c.p, c.initiator);
                break;
              case 'linkDown':
                s.m.linkDown(c.p);
                break;
              case 'connectFailed':
                s.m.connectFailed(c.p);
                break;
              case 'receive':
                s.m.receive(c.p, c.m as Msg);
                break;
              case 'tick':
                s.clock.now += c.dt;
                s.m.tick();
                break;
              case 'addPassive':
                s.m.addPassive(c.ids);
                break;
              case 'join':
                s.m.join(c.ids);
                break;
            }
            expectBounded(s.m, activeSize, passiveSize);
            // Nothing is ever asked of the host about ourselves.
            expect(
              s.host.events.some((e) => (e.kind === 'send' ? e.to : e.kind === 'problem' ? '' : e.peer) === 'me'),
            ).toBe(false);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("Membership: the sizes of neighbours' views", () => {
  it('tells each neighbour its active view size when it changes, once per change', () => {
    const s = setup();
    s.m.linkUp('a', false);
    s.m.receive('a', { type: 'neighbour', priority: 'low' });
    expect(s.host.degrees('a')).toEqual([1]);
    s.m.linkUp('b', false);
    s.m.receive('b', { type: 'neighbour', priority: 'low' });
    expect(s.host.degrees('a')).toEqual([1, 2]);
    expect(s.host.degrees('b')).toEqual([2]);
    s.m.receive('a', { type: 'shuffle', origin: 'a', ttl: 0, sample: ['a'], path: ['a'] });
    expect(s.host.degrees('a')).toEqual([1, 2]);
  });

  it('never evicts a neighbour it is the last link of; takes one with the most other links', () => {
    const s = setup({ activeSize: 3 });
    befriend(s, 'lonely', 'busy', 'unknown');
    s.m.receive('lonely', { type: 'degree', active: 1 });
    s.m.receive('busy', { type: 'degree', active: 3 });
    s.host.clear();
    // A high-priority request must evict: 'busy' (3 links), never 'lonely' (1) nor 'unknown'.
    s.m.linkUp('newcomer', false);
    s.m.receive('newcomer', { type: 'neighbour', priority: 'high' });
    expect(s.host.disconnects()).toEqual(['busy']);
    expect(s.m.activeView()).toEqual(expect.arrayContaining(['lonely', 'unknown', 'newcomer']));
  });

  it('refuses to evict when every neighbour would be left alone', () => {
    const s = setup({ activeSize: 2 });
    befriend(s, 'x', 'y');
    s.m.receive('x', { type: 'degree', active: 1 });
    s.m.receive('y', { type: 'degree', active: 1 });
    s.host.clear();
    s.m.linkUp('newcomer', false);
    s.m.receive('newcomer', { type: 'neighbour', priority: 'high' });
    expect(s.host.sent('newcomer')).toEqual([{ type: 'neighbour-reply', accepted: false }]);
    expect(s.m.activeView()).toEqual(['x', 'y']);
  });

  it('treats an impossible size as abuse', () => {
    const s = setup();
    befriend(s, 'x');
    s.m.receive('x', { type: 'degree', active: MAX_MEMBERSHIP_IDS + 1 });
    s.m.receive('x', { type: 'degree', active: -1 });
    expect(s.host.problems()).toEqual([
      { reason: 'degree out of range', severe: true },
      { reason: 'degree out of range', severe: true },
    ]);
  });
});
