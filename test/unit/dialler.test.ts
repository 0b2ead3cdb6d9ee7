/**
 * Dialler: bootstrap, dialling, back-off, the prepared transport and the
 * application's connect() waiters, driven through a recording host with a
 * clock the test sets and Vitest's fake timers (no browser, no transport).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import { peerIdFromPublicKey, type PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import type { NodeCore } from '../../web/node/core.js';
import { Dialler, MAX_BACKOFF_PEERS, type DiallerHost, type EndedLink } from '../../web/node/dialler.js';
import { CONNECT_TIMEOUT_MS, type LinkContext, type LinkState, type PeerLink } from '../../web/node/link.js';
import { DIAL_RETRY_BASE_MS, DIAL_RETRY_MAX_MS, type Logger } from '../../web/node/options.js';
import type { Via } from '../../web/node/paths.js';
import type { PeerBook } from '../../web/node/peer-book.js';
import { WARM_TRANSPORT_MAX_AGE_MS, WarmTransport } from '../../web/node/warm-transport.js';
import type { Transport, TransportOptions } from '../../web/transport/transport.js';
import { ed25519 } from '../helpers/client.js';

const NOW = 1_800_000_000_000;
const MAX_LINKS = 4;

/** A deterministic acceptable key per number (top bit of the last byte clear, so canonical). */
function peer(n: number): PeerId {
  return peerIdFromPublicKey(
    Uint8Array.from({ length: 32 }, (_, i) => (i < 2 ? (n >> (8 * i)) & 0xff : (i * 7 + 3) & 0x7f)),
  );
}
const [SELF, A, B, C, L1, L2, L3] = [0, 1, 2, 3, 4, 5, 6].map(peer) as [
  PeerId,
  PeerId,
  PeerId,
  PeerId,
  PeerId,
  PeerId,
  PeerId,
];

const ignore = (): void => undefined;

/** A link as the dialler sees it (state, heard, resendAll, close), recording what it is asked. */
class FakeLink {
  state: LinkState = 'signaling';
  heard = false;
  resendAlls = 0;
  readonly closes: { code: ErrorCode | undefined; reason: string }[] = [];

  constructor(readonly peer: PeerId) {}

  resendAll(): void {
    this.resendAlls++;
  }
  close(code: ErrorCode | undefined, reason: string): void {
    this.closes.push({ code, reason });
    this.state = 'closed';
  }
}

class FakeTransport implements Transport {
  closed = 0;
  signal = ignore;
  send(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.closed++;
  }
}

class FakeCore implements NodeCore {
  readonly identity: Identity = {
    id: SELF,
    publicKey: new Uint8Array(32),
    sign: () => Promise.reject(new Error('unused')),
  };
  readonly ed25519 = ed25519;
  readonly network = 'n';
  readonly logger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
  clock = NOW;
  isClosed = false;

  now(): number {
    return this.clock;
  }
  random(): number {
    return 0.5;
  }
  closed(): boolean {
    return this.isClosed;
  }
  connected(): PeerId[] {
    return [];
  }
  problem(): void {
    throw new Error('the dialler reports no problems');
  }
}

type Attempt = Parameters<DiallerHost['paths']['begin']>[1];
type RecordSource = Parameters<PeerBook['intake']>[1];

class FakeHost implements DiallerHost {
  readonly held = new Map<PeerId, FakeLink>();
  readonly initiated: { context: LinkContext; peer: PeerId; warm: WarmTransport | undefined }[] = [];
  /** Transports the context's factory made, with the options they were made with. */
  readonly made: { options: TransportOptions; transport: FakeTransport }[] = [];
  readonly joins: PeerId[][] = [];
  readonly connectTos: { peer: PeerId; route: readonly PeerId[] }[] = [];
  readonly linkUps: { peer: PeerId; initiator: boolean }[] = [];
  readonly failed: PeerId[] = [];
  readonly forgotten: PeerId[] = [];
  /** The tried peer the book wants tested next, and what the dialler told the book of tests. */
  dueTest: PeerId | undefined;
  readonly testsStarted: PeerId[] = [];
  readonly reachables: PeerId[] = [];
  readonly unreachables: PeerId[] = [];
  readonly intakes: { records: readonly (string | Uint8Array)[]; source: RecordSource }[] = [];
  readonly hints: { peer: PeerId; route: readonly PeerId[] }[] = [];
  readonly begun: { peer: PeerId; attempt: Attempt }[] = [];
  maxLinks = MAX_LINKS;
  activeView: PeerId[] = [];
  room = true;
  contactList: PeerId[] = [];
  inBook = new Set<PeerId>();
  local: PeerId[] = [];
  server = true;
  starting = false;
  /** open() answers this when set, else counts the held links not closed. */
  openCount: number | undefined;
  /** linkContext() waits on this when set. */
  contextGate: Promise<LinkContext> | undefined;
  contextCalls = 0;
  /** book.intake() runs this before it resolves. */
  onIntake: (() => void) | undefined;
  readonly context: LinkContext;
  readonly links: DiallerHost['links'];
  readonly membership: DiallerHost['membership'];
  readonly book: DiallerHost['book'];
  readonly paths: DiallerHost['paths'];

  constructor() {
    this.context = {
      identity: { id: SELF, publicKey: new Uint8Array(32), sign: () => Promise.reject(new Error('unused')) },
      ed25519,
      now: Date.now,
      iceServers: [{ urls: 'stun:stun.example.com' }],
      transport: (options) => {
        const transport = new FakeTransport();
        this.made.push({ options, transport });
        return transport;
      },
      sendSignal: ignore,
      viaOf: () => undefined,
    };
    this.links = {
      stateOf: (p) => this.held.get(p)?.state,
      open: () => this.openCount ?? [...this.held.values()].filter((l) => l.state !== 'closed').length,
      initiate: (context, p, warm) => {
        const link = new FakeLink(p);
        this.held.set(p, link);
        this.initiated.push({ context, peer: p, warm });
        // The dialler only reads state and heard and calls resendAll and close: this fake has those.
        return link as unknown as PeerLink;
      },
    };
    this.membership = {
      active: () => [...this.activeView],
      join: (contacts) => void this.joins.push([...contacts]),
      connectTo: (p, route) => {
        this.connectTos.push({ peer: p, route });
        return this.room;
      },
      linkUp: (p, initiator) => void this.linkUps.push({ peer: p, initiator }),
      connectFailed: (p) => void this.failed.push(p),
    };
    this.book = {
      contacts: () => [...this.contactList],
      has: (p) => this.inBook.has(p),
      forgetUntried: (p) => void this.forgotten.push(p),
      dueReachabilityTest: () => this.dueTest,
      testStarted: (p) => {
        this.testsStarted.push(p);
        this.dueTest = undefined;
      },
      reachable: (p) => void this.reachables.push(p),
      unreachable: (p) => void this.unreachables.push(p),
      intake: (records, source) => {
        this.intakes.push({ records, source });
        this.onIntake?.();
        return Promise.resolve();
      },
    };
    this.paths = {
      hint: (p, route) => void this.hints.push({ peer: p, route }),
      begin: (p, attempt): Via => {
        this.begun.push({ peer: p, attempt });
        return { kind: 'server' };
      },
    };
  }

  localPeers(): PeerId[] {
    return [...this.local];
  }
  canSignal(): boolean {
    return this.server;
  }
  signalingStarting(): boolean {
    return this.starting;
  }
  linkContext(): Promise<LinkContext> {
    this.contextCalls++;
    return this.contextGate ?? Promise.resolve(this.context);
  }
}

/** A promise the test resolves when it chooses. */
function gate<T>(): { promise: Promise<T>; open: (value: T) => void } {
  let open: (value: T) => void = () => undefined;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** How a promise has settled so far, read without awaiting it. */
function watch(promise: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error: unknown } {
  const seen: { state: 'pending' | 'resolved' | 'rejected'; error: unknown } = { state: 'pending', error: undefined };
  promise.then(
    () => {
      seen.state = 'resolved';
    },
    (error: unknown) => {
      seen.state = 'rejected';
      seen.error = error;
    },
  );
  return seen;
}

/** Let every pending promise callback run (fake timers: no time passes). */
async function flush(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

const ended = (p: PeerId, initiator = true, declined?: string): EndedLink => ({
  peer: p,
  initiator,
  declined,
});

describe('Dialler', () => {
  let core: FakeCore;
  let host: FakeHost;
  let dialler: Dialler;

  beforeEach(() => {
    vi.useFakeTimers();
    core = new FakeCore();
    host = new FakeHost();
    dialler = new Dialler(core, host);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Whether a bootstrap now would offer `p` as a contact (and what it joined with). */
  function offers(p: PeerId): boolean {
    host.joins.length = 0;
    dialler.bootstrap();
    return host.joins.some((contacts) => contacts.includes(p));
  }

  /** Our attempt at `p` failed now. */
  function fail(p: PeerId): void {
    dialler.ended(ended(p), false, true, ErrorCode.CONNECT_FAILED, 'no answer');
  }

  describe('bootstrap', () => {
    beforeEach(() => {
      host.contactList = [A, B];
      host.inBook = new Set([A, B]);
    });

    it('joins through the known contacts', () => {
      dialler.bootstrap();
      expect(host.joins).toEqual([[A, B]]);
    });

    it.each([
      { name: 'with a neighbour in the active view', change: (): void => void (host.activeView = [C]) },
      { name: 'with a link open', change: (): void => void host.held.set(C, new FakeLink(C)) },
      { name: 'once closed', change: (): void => void (core.isClosed = true) },
    ])('does nothing $name', ({ change }) => {
      change();
      dialler.bootstrap();
      expect(host.joins).toEqual([]);
    });

    it('with the server: known contacts in order first, tabs of this browser in the book last, never itself', () => {
      host.contactList = [A, L1, SELF, B];
      host.local = [L2, L1, L3];
      host.inBook = new Set([A, B, L1, L2]);
      dialler.bootstrap();
      expect(host.joins).toEqual([[A, B, L2, L1]]);
    });

    it("with the server and nobody known, waits for the welcome's sample, then joins", async () => {
      host.contactList = [L1];
      host.local = [L1];
      host.inBook = new Set([L1]);
      dialler.bootstrap();
      expect(host.joins).toEqual([]);
      // The sample, once verified, adds a contact.
      host.onIntake = () => {
        host.contactList = [A, L1];
        host.inBook.add(A);
      };
      await dialler.welcome('wss://signal.example/ws', ['record-1', 'record-2']);
      expect(host.intakes).toEqual([
        {
          records: ['record-1', 'record-2'],
          source: { introducer: 'signaling:wss://signal.example/ws', label: 'record from the signaling server' },
        },
      ]);
      // At once with the tab it has, and again with the sample's contact first.
      expect(host.joins).toEqual([[L1], [A, L1]]);
    });

    it('without the server, waits while signaling is starting, until it has failed once; then tabs only', () => {
      host.server = false;
      host.starting = true;
      host.local = [L1];
      host.inBook.add(L1);
      dialler.bootstrap();
      expect(host.joins).toEqual([]);
      dialler.signalingLost();
      dialler.bootstrap();
      expect(host.joins).toEqual([[L1]]);
    });

    it('without the server and not starting, joins through the tabs of this browser only', () => {
      host.server = false;
      host.local = [L1, L2];
      host.inBook = new Set([A, B, L2]);
      dialler.bootstrap();
      expect(host.joins).toEqual([[L2]]);
    });

    it('without the server or a tab in reach, joins nothing', () => {
      host.server = false;
      dialler.bootstrap();
      expect(host.joins).toEqual([]);
    });

    it('a tab announcing itself is taken in, then used', async () => {
      host.server = false;
      host.local = [L1];
      host.onIntake = () => host.inBook.add(L1);
      await dialler.localRecord('tab-record');
      expect(host.intakes).toEqual([
        { records: ['tab-record'], source: { introducer: 'local', label: 'introduced record' } },
      ]);
      expect(host.joins).toEqual([[L1]]);
    });

    it('skips a peer backing off until its time has come', () => {
      fail(A);
      expect(offers(A)).toBe(false);
      expect(host.joins).toEqual([[B]]);
      core.clock += DIAL_RETRY_BASE_MS - 1;
      expect(offers(A)).toBe(false);
      core.clock += 1;
      expect(offers(A)).toBe(true);
      expect(host.joins).toEqual([[A, B]]);
    });
  });

  describe('back-off', () => {
    it('skips tabs of this browser too, with the server and without', () => {
      host.contactList = [A];
      host.local = [L1];
      host.inBook = new Set([A, L1]);
      fail(L1);
      expect(offers(L1)).toBe(false);
      expect(host.joins).toEqual([[A]]);
      host.server = false;
      expect(offers(L1)).toBe(false);
      core.clock += DIAL_RETRY_BASE_MS;
      expect(offers(L1)).toBe(true);
      expect(host.joins).toEqual([[L1]]);
    });

    beforeEach(() => {
      host.contactList = [A];
      host.inBook = new Set([A]);
    });

    it(`doubles per failure, up to ${DIAL_RETRY_MAX_MS} ms`, () => {
      const waits: number[] = [];
      for (let failure = 0; failure < 9; failure++) {
        fail(A);
        const failedAt = core.clock;
        // The first moment A is offered again.
        let wait = 0;
        while (!offers(A)) {
          wait += 1_000;
          core.clock = failedAt + wait;
        }
        core.clock = failedAt + wait - 1;
        expect(offers(A)).toBe(false);
        core.clock = failedAt + wait;
        waits.push(wait);
      }
      expect(waits).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 120_000, 120_000, 120_000]);
      expect(DIAL_RETRY_BASE_MS).toBe(2_000);
      expect(DIAL_RETRY_MAX_MS).toBe(120_000);
    });

    it('is cleared when the peer is reached, and starts over from the base', () => {
      fail(A);
      fail(A);
      fail(A);
      dialler.reached(A);
      expect(offers(A)).toBe(true);
      fail(A);
      core.clock += DIAL_RETRY_BASE_MS - 1;
      expect(offers(A)).toBe(false);
      core.clock += 1;
      expect(offers(A)).toBe(true);
    });

    it('is not for a link that had connected, nor for an attempt the peer made', () => {
      dialler.ended(ended(A), true, true, ErrorCode.HEARTBEAT_TIMEOUT, 'silent');
      expect(offers(A)).toBe(true);
      dialler.ended(ended(A, false), false, true, ErrorCode.CONNECT_FAILED, 'no answer');
      expect(offers(A)).toBe(true);
    });

    it(`is remembered for the last ${MAX_BACKOFF_PEERS} peers`, () => {
      fail(A);
      fail(B);
      for (let n = 0; n < MAX_BACKOFF_PEERS - 1; n++) fail(peer(1_000 + n));
      host.contactList = [A, B];
      host.inBook = new Set([A, B]);
      dialler.bootstrap();
      // A's back-off made room for the newest; B's is still remembered.
      expect(host.joins).toEqual([[A]]);
    });
  });

  describe('ended', () => {
    it("rejects the peer's connect() callers with the link's code, CONNECT_FAILED when it has none", async () => {
      const first = watch(dialler.connect(A, []));
      const second = watch(dialler.connect(B, []));
      dialler.ended(ended(A), true, true, ErrorCode.HEARTBEAT_TIMEOUT, 'the peer went silent');
      dialler.ended(ended(B, false), false, true, undefined, 'channel closed');
      await flush();
      expect(first.state).toBe('rejected');
      expect(first.error).toBeInstanceOf(TabmeshError);
      expect(first.error).toMatchObject({ code: ErrorCode.HEARTBEAT_TIMEOUT, message: 'the peer went silent' });
      expect(second.error).toMatchObject({ code: ErrorCode.CONNECT_FAILED, message: 'channel closed' });
    });

    it('tells the membership of our failed attempts only', () => {
      dialler.ended(ended(A), false, true, ErrorCode.CONNECT_FAILED, 'no answer');
      dialler.ended(ended(B, false), false, true, ErrorCode.CONNECT_FAILED, 'no answer');
      dialler.ended(ended(C), true, true, undefined, 'left');
      dialler.ended(ended(L1), false, false, undefined, 'superseded');
      expect(host.failed).toEqual([A]);
    });

    it('leaves connect() waiting after a lost glare: the peer’s own attempt is on its way', async () => {
      const waiting = watch(dialler.connect(A, []));
      dialler.ended(
        ended(A, true, 'GLARE'),
        false,
        true,
        ErrorCode.CONNECT_FAILED,
        'the peer ended the session (GLARE)',
      );
      await flush();
      expect(waiting.state).toBe('pending');
      expect(host.failed).toEqual([]);
      expect(host.forgotten).toEqual([]);
      host.activeView = [A];
      host.held.set(A, Object.assign(new FakeLink(A), { state: 'connected' as const }));
      dialler.settleConnected();
      await flush();
      expect(waiting.state).toBe('resolved');
    });

    it('leaves connect() waiting when the link was replaced by a newer session', async () => {
      const waiting = watch(dialler.connect(A, []));
      dialler.ended(ended(A), false, false, undefined, 'superseded');
      await flush();
      expect(waiting.state).toBe('pending');
      expect(host.failed).toEqual([]);
    });

    it('forgets an untried record only for CONNECT_FAILED without a decline, before a channel', () => {
      dialler.ended(ended(A), false, true, ErrorCode.CONNECT_FAILED, 'no answer');
      dialler.ended(ended(B, true, 'BUSY'), false, true, ErrorCode.CONNECT_FAILED, 'busy');
      dialler.ended(ended(C), false, true, ErrorCode.PROTOCOL_VIOLATION, 'bad frame');
      dialler.ended(ended(L1), true, true, ErrorCode.CONNECT_FAILED, 'failed');
      dialler.ended(ended(L2), false, true, undefined, 'closed');
      expect(host.forgotten).toEqual([A]);
    });

    it('tells the book what our failed attempts say of a peer’s reachability: a decline proves it there, CONNECT_FAILED does not', () => {
      dialler.ended(ended(A), false, true, ErrorCode.CONNECT_FAILED, 'no answer');
      dialler.ended(ended(B, true, 'BUSY'), false, true, ErrorCode.CONNECT_FAILED, 'busy');
      dialler.ended(ended(C), false, true, ErrorCode.PROTOCOL_VIOLATION, 'bad frame');
      dialler.ended(ended(L1), true, true, ErrorCode.CONNECT_FAILED, 'failed');
      // The peer's attempt, not ours: it says nothing of reaching it.
      dialler.ended(ended(L2, false), false, true, ErrorCode.CONNECT_FAILED, 'failed');
      expect(host.unreachables).toEqual([A]);
      expect(host.reachables).toEqual([B]);
    });
  });

  describe('reachability tests (test-before-evict)', () => {
    beforeEach(() => {
      host.activeView = [L1];
    });

    it('maintenance dials the tried peer the book wants tested, once, outside the membership', async () => {
      host.dueTest = A;
      dialler.maintain();
      expect(host.testsStarted).toEqual([A]);
      await flush();
      expect(host.initiated.map((i) => i.peer)).toEqual([A]);
      expect(host.begun.map((b) => b.peer)).toEqual([A]);
      expect(host.connectTos).toEqual([]);
      dialler.maintain();
      await flush();
      expect(host.initiated).toHaveLength(1);
    });

    it('passes the test at once for a peer connected already', () => {
      host.dueTest = A;
      host.held.set(A, Object.assign(new FakeLink(A), { state: 'connected' }));
      dialler.maintain();
      expect(host.reachables).toEqual([A]);
      expect(host.testsStarted).toEqual([]);
    });

    it.each<[string, (h: FakeHost) => void]>([
      ['without the server (a failure would mean nothing)', (h) => void (h.server = false)],
      ['without a neighbour (our own network may be down)', (h) => void (h.activeView = [])],
      ['without a link to spare', (h) => void (h.openCount = MAX_LINKS)],
      ['while an attempt at the peer is under way', (h) => void h.held.set(A, new FakeLink(A))],
    ])('waits %s', async (_, arrange) => {
      host.dueTest = A;
      arrange(host);
      dialler.maintain();
      await flush();
      expect(host.testsStarted).toEqual([]);
      expect(host.initiated.filter((i) => i.peer === A)).toEqual([]);
    });
  });

  describe('dial', () => {
    it('starts an attempt once the link context is ready, hints the route, and begins its signal path', async () => {
      const context = gate<LinkContext>();
      host.contextGate = context.promise;
      dialler.dial(A, [B, C]);
      expect(host.hints).toEqual([{ peer: A, route: [B, C] }]);
      expect(host.initiated).toEqual([]);
      context.open(host.context);
      await flush();
      expect(host.initiated).toEqual([{ context: host.context, peer: A, warm: undefined }]);
      expect(host.begun.map((b) => b.peer)).toEqual([A]);
    });

    it("fails the attempt when the application's ICE servers cannot be had: membership and connect() told", async () => {
      host.contextGate = Promise.reject(new Error('credentials endpoint down'));
      const call = watch(dialler.connect(A, []));
      dialler.dial(A, []);
      await flush();
      expect(host.initiated).toEqual([]);
      expect(host.failed).toEqual([A]);
      expect(call.state).toBe('rejected');
      expect((call.error as TabmeshError).code).toBe(ErrorCode.CONNECT_FAILED);
      expect((call.error as TabmeshError).message).toContain('credentials endpoint down');
    });

    it("gives the signal path the attempt's state, its heard flag, re-sending and giving up", async () => {
      dialler.dial(A, []);
      await flush();
      const link = host.held.get(A);
      const attempt = host.begun[0]?.attempt;
      if (link === undefined || attempt === undefined) throw new Error('no attempt');
      expect(attempt.stillWaiting()).toBe(true);
      expect(attempt.heard()).toBe(false);
      link.state = 'confirming';
      link.heard = true;
      expect(attempt.stillWaiting()).toBe(false);
      expect(attempt.heard()).toBe(true);
      attempt.resend();
      expect(link.resendAlls).toBe(1);
      attempt.giveUp();
      expect(link.closes).toEqual([{ code: ErrorCode.CONNECT_FAILED, reason: expect.any(String) as string }]);
    });

    it('reports linkUp (after this turn) for a peer already connected, starting nothing', async () => {
      host.held.set(A, Object.assign(new FakeLink(A), { state: 'connected' as const }));
      dialler.dial(A, []);
      expect(host.linkUps).toEqual([]);
      await flush();
      expect(host.linkUps).toEqual([{ peer: A, initiator: true }]);
      expect(host.contextCalls).toBe(0);
      expect(host.initiated).toEqual([]);
    });

    it('starts nothing for a peer with an attempt under way', async () => {
      host.held.set(A, new FakeLink(A));
      dialler.dial(A, []);
      await flush();
      expect(host.contextCalls).toBe(0);
      expect(host.initiated).toEqual([]);
      expect(host.linkUps).toEqual([]);
    });

    it(`refuses at ${MAX_LINKS} open links: connectFailed after this turn, connect() callers rejected`, async () => {
      const waiting = watch(dialler.connect(A, []));
      host.openCount = MAX_LINKS;
      dialler.dial(A, []);
      expect(host.failed).toEqual([]);
      await flush();
      expect(host.failed).toEqual([A]);
      expect(waiting.state).toBe('rejected');
      expect(waiting.error).toMatchObject({ code: ErrorCode.CONNECT_FAILED });
      expect(host.contextCalls).toBe(0);
      expect(host.initiated).toEqual([]);
      // One fewer is room enough.
      host.openCount = MAX_LINKS - 1;
      dialler.dial(B, []);
      await flush();
      expect(host.initiated.map((i) => i.peer)).toEqual([B]);
    });

    it('reports linkUp instead when the peer connected to us while the link context was coming', async () => {
      const context = gate<LinkContext>();
      host.contextGate = context.promise;
      dialler.dial(A, []);
      dialler.dial(B, []);
      host.held.set(A, Object.assign(new FakeLink(A), { state: 'connected' as const }));
      host.held.set(B, new FakeLink(B));
      context.open(host.context);
      await flush();
      expect(host.linkUps).toEqual([{ peer: A, initiator: true }]);
      expect(host.initiated).toEqual([]);
    });

    it('starts nothing once closed while the link context was coming', async () => {
      const context = gate<LinkContext>();
      host.contextGate = context.promise;
      dialler.dial(A, []);
      core.isClosed = true;
      context.open(host.context);
      await flush();
      expect(host.initiated).toEqual([]);
      expect(host.begun).toEqual([]);
    });

    // Found by this test: dial() checked for room only before awaiting the
    // link context, so dials made while it was awaited (up to TURN_WAIT_MAX_MS
    // when TURN credentials are due) all passed the same check: 3 attempts
    // started with room for 1, past maxLinks ("handshakes included").
    it('starts no more attempts than there is room for when several wait on the link context', async () => {
      const context = gate<LinkContext>();
      host.contextGate = context.promise;
      for (let n = 0; n < MAX_LINKS - 1; n++) host.held.set(peer(100 + n), new FakeLink(peer(100 + n)));
      dialler.dial(A, []);
      dialler.dial(B, []);
      dialler.dial(C, []);
      context.open(host.context);
      await flush();
      expect(host.links.open()).toBeLessThanOrEqual(MAX_LINKS);
    });
  });

  describe('the prepared transport', () => {
    it('is made once the link context is ready, used by the next dial, and only once', async () => {
      dialler.prepare();
      await flush();
      expect(host.made).toHaveLength(1);
      expect(host.made[0]?.options).toEqual({ initiator: true, iceServers: host.context.iceServers });
      dialler.dial(A, []);
      await flush();
      const warm = host.initiated[0]?.warm;
      expect(warm).toBeInstanceOf(WarmTransport);
      expect(warm?.transport).toBe(host.made[0]?.transport);
      expect(warm?.transport).toBeInstanceOf(FakeTransport);
      dialler.dial(B, []);
      await flush();
      expect(host.initiated.map((i) => i.warm)).toEqual([warm, undefined]);
      expect(host.made[0]?.transport.closed).toBe(0);
    });

    it('is not made with a link open, once closed, or twice', async () => {
      host.held.set(A, new FakeLink(A));
      dialler.prepare();
      await flush();
      expect(host.made).toEqual([]);
      host.held.clear();
      core.isClosed = true;
      dialler.prepare();
      await flush();
      expect(host.made).toEqual([]);
      core.isClosed = false;
      dialler.prepare();
      dialler.prepare();
      await flush();
      expect(host.made).toHaveLength(1);
    });

    it('is closed, not used, once it has aged', async () => {
      dialler.prepare();
      await flush();
      core.clock += WARM_TRANSPORT_MAX_AGE_MS + 1;
      dialler.dial(A, []);
      await flush();
      expect(host.initiated.map((i) => i.warm)).toEqual([undefined]);
      expect(host.made[0]?.transport.closed).toBe(1);
    });

    it('is still used at its age limit', async () => {
      dialler.prepare();
      await flush();
      core.clock += WARM_TRANSPORT_MAX_AGE_MS;
      dialler.dial(A, []);
      await flush();
      expect(host.initiated[0]?.warm?.transport).toBe(host.made[0]?.transport);
    });

    it('is closed by maintenance once aged, and kept before', async () => {
      dialler.prepare();
      await flush();
      core.clock += WARM_TRANSPORT_MAX_AGE_MS;
      dialler.maintain();
      expect(host.made[0]?.transport.closed).toBe(0);
      core.clock += 1;
      dialler.maintain();
      expect(host.made[0]?.transport.closed).toBe(1);
      core.clock = NOW;
      dialler.dial(A, []);
      await flush();
      expect(host.initiated.map((i) => i.warm)).toEqual([undefined]);
    });

    it('is discarded when TURN credentials are coming', async () => {
      dialler.prepare();
      await flush();
      dialler.discardPrepared();
      expect(host.made[0]?.transport.closed).toBe(1);
      dialler.dial(A, []);
      await flush();
      expect(host.initiated.map((i) => i.warm)).toEqual([undefined]);
    });
  });

  describe('connect', () => {
    const connected = (p: PeerId): FakeLink => Object.assign(new FakeLink(p), { state: 'connected' as const });

    it('asks the membership for the peer along the route', () => {
      void dialler.connect(A, [B]).catch(ignore);
      expect(host.connectTos).toEqual([{ peer: A, route: [B] }]);
    });

    it('resolves only once the peer is in the active view over a connected link', async () => {
      const waiting = watch(dialler.connect(A, []));
      const other = watch(dialler.connect(B, []));
      // Connected, but not in the active view.
      host.held.set(A, connected(A));
      dialler.settleConnected();
      await flush();
      expect(waiting.state).toBe('pending');
      // In the active view, but still confirming.
      host.held.set(A, Object.assign(new FakeLink(A), { state: 'confirming' as const }));
      host.activeView = [A, B];
      dialler.settleConnected();
      await flush();
      expect(waiting.state).toBe('pending');
      host.held.set(A, connected(A));
      dialler.settleConnected();
      await flush();
      expect(waiting.state).toBe('resolved');
      expect(other.state).toBe('pending');
      // Settled: its timer is cleared; only B's is left.
      expect(vi.getTimerCount()).toBe(1);
    });

    it('resolves every caller waiting on the peer', async () => {
      const calls = [watch(dialler.connect(A, [])), watch(dialler.connect(A, []))];
      host.activeView = [A];
      host.held.set(A, connected(A));
      dialler.settleConnected();
      await flush();
      expect(calls.map((c) => c.state)).toEqual(['resolved', 'resolved']);
      expect(vi.getTimerCount()).toBe(0);
    });

    it(`rejects with CONNECT_FAILED after ${CONNECT_TIMEOUT_MS} ms`, async () => {
      const waiting = watch(dialler.connect(A, []));
      await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS - 1);
      expect(waiting.state).toBe('pending');
      await vi.advanceTimersByTimeAsync(1);
      expect(waiting.state).toBe('rejected');
      expect(waiting.error).toBeInstanceOf(TabmeshError);
      expect(waiting.error).toMatchObject({ code: ErrorCode.CONNECT_FAILED });
      // Gone: a later settle finds nobody.
      host.activeView = [A];
      host.held.set(A, connected(A));
      dialler.settleConnected();
      await flush();
      expect(waiting.state).toBe('rejected');
    });

    it('rejects at once when the membership has no room', async () => {
      host.room = false;
      const waiting = watch(dialler.connect(A, []));
      await flush();
      expect(waiting.state).toBe('rejected');
      expect(waiting.error).toMatchObject({ code: ErrorCode.CONNECT_FAILED });
      expect(vi.getTimerCount()).toBe(0);
    });

    it('rejects every waiting caller with CLOSED on close, and closes the prepared transport', async () => {
      dialler.prepare();
      await flush();
      const calls = [watch(dialler.connect(A, [])), watch(dialler.connect(B, []))];
      dialler.close();
      await flush();
      expect(calls.map((c) => c.state)).toEqual(['rejected', 'rejected']);
      expect(calls.map((c) => (c.error as TabmeshError).code)).toEqual([ErrorCode.CLOSED, ErrorCode.CLOSED]);
      expect(host.made[0]?.transport.closed).toBe(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    // Found by this test: each connect() call started its own timer, but when
    // one fired it settled every caller waiting on the peer: a second call
    // made 15 s after the first was rejected 5 s later, not after its own
    // CONNECT_TIMEOUT_MS.
    it('gives each connect() call its own CONNECT_TIMEOUT_MS', async () => {
      const first = watch(dialler.connect(A, []));
      await vi.advanceTimersByTimeAsync(15_000);
      const second = watch(dialler.connect(A, []));
      await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS - 15_000);
      expect(first.state).toBe('rejected');
      expect(second.state).toBe('pending');
    });
  });
});
