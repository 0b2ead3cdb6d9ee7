import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { peerIdFromPublicKey, type PeerId } from '../../shared/identity/peer-id.js';
import { MAX_SIGNAL_PATHS, MESH_SIGNAL_FALLBACK_MS, MESH_SIGNAL_GIVE_UP_MS } from '../../shared/limits.js';
import type { SealedContent } from '../../shared/protocol/mesh.js';
import { newLimitCounters } from '../../web/node/options.js';
import { SignalPaths, type PathHost, type Via } from '../../web/node/paths.js';

const peer = (n: number): PeerId => peerIdFromPublicKey(Uint8Array.from({ length: 32 }, (_, i) => (n * 29 + i) & 0x7f));
const [BOB, CAROL, R1, R2, R3] = [peer(1), peer(2), peer(3), peer(4), peer(5)];
const RECORD = Uint8Array.of(9, 9, 9);
/** Signals the paths hold back for a route, per attempt (web/node/paths.ts). */
const MAX_HELD_SIGNALS = 32;

interface Sent {
  readonly via: 'server' | 'local' | 'mesh';
  readonly to: PeerId;
  readonly payload: string;
  readonly route?: readonly PeerId[];
}

/** A host that records what it is asked to send, with switches for what is possible. */
class FakeHost implements PathHost {
  readonly local = new Set<PeerId>();
  readonly meshable = new Set<PeerId>();
  server = true;
  meshError: ErrorCode | undefined;
  readonly sent: Sent[] = [];
  readonly debugs: string[] = [];

  sendServer(to: PeerId, payload: string): boolean {
    if (!this.server) return false;
    this.sent.push({ via: 'server', to, payload });
    return true;
  }
  canUseServer(): boolean {
    return this.server;
  }
  sendLocal(to: PeerId, payload: string): boolean {
    if (!this.local.has(to)) return false;
    this.sent.push({ via: 'local', to, payload });
    return true;
  }
  isLocal(p: PeerId): boolean {
    return this.local.has(p);
  }
  sendMesh(to: PeerId, content: SealedContent, route: readonly PeerId[]): ErrorCode | Uint8Array {
    if (this.meshError !== undefined) return this.meshError;
    if (content.kind !== 'signal') throw new Error('paths only send signals');
    expect(content.record).toEqual(RECORD);
    this.sent.push({ via: 'mesh', to, payload: content.signal, route: [...route] });
    return Uint8Array.of(this.sent.length);
  }
  canUseMesh(p: PeerId): boolean {
    return this.meshable.has(p);
  }
  ownRecord(): Uint8Array {
    return RECORD;
  }
  debug(message: string): void {
    this.debugs.push(message);
  }

  /** What was sent, and forget it. */
  take(): Sent[] {
    return this.sent.splice(0);
  }
}

class FakeAttempt {
  waiting = true;
  resends = 0;
  wasHeard = false;
  giveUps = 0;
  readonly handle = {
    stillWaiting: (): boolean => this.waiting,
    heard: (): boolean => this.wasHeard,
    resend: (): void => {
      this.resends++;
    },
    giveUp: (): void => {
      this.giveUps++;
    },
  };
}

let host: FakeHost;
let paths: SignalPaths;

beforeEach(() => {
  vi.useFakeTimers();
  host = new FakeHost();
  paths = new SignalPaths(host);
});

afterEach(() => {
  paths.close();
  vi.useRealTimers();
});

describe('choosing a path', () => {
  it.each<[string, { local: boolean; mesh: boolean; hint?: readonly PeerId[]; server?: boolean }, Via]>([
    ['a local tab over the mesh', { local: true, mesh: true }, { kind: 'local' }],
    ['a local tab over a hinted mesh route', { local: true, mesh: true, hint: [R1] }, { kind: 'local' }],
    ['a local tab with no mesh', { local: true, mesh: false }, { kind: 'local' }],
    ['the mesh along a hinted route', { local: false, mesh: true, hint: [R1, R2] }, { kind: 'mesh', route: [R1, R2] }],
    ['the server when nothing else can', { local: false, mesh: false }, { kind: 'server' }],
    [
      'the server even with a hint, when the mesh cannot reach',
      { local: false, mesh: false, hint: [R1] },
      { kind: 'server' },
    ],
    [
      'a flood through the mesh when no route is known and there is no server',
      { local: false, mesh: true, server: false },
      { kind: 'mesh', route: [] },
    ],
  ])('prefers %s', (_what, setup, expected) => {
    if (setup.local) host.local.add(BOB);
    if (setup.mesh) host.meshable.add(BOB);
    if (setup.hint !== undefined) paths.hint(BOB, setup.hint);
    host.server = setup.server ?? true;
    expect(paths.begin(BOB, new FakeAttempt().handle)).toEqual(expected);
    expect(paths.viaOf(BOB)).toEqual(expected);
  });

  it('sends each signal the chosen way', () => {
    host.local.add(BOB);
    host.meshable.add(CAROL);
    paths.hint(CAROL, [R1]);
    paths.begin(BOB, new FakeAttempt().handle);
    paths.begin(CAROL, new FakeAttempt().handle);
    paths.send(BOB, 'to bob');
    paths.send(CAROL, 'to carol');
    const dave = peer(6);
    paths.send(dave, 'to dave');
    expect(host.take()).toEqual([
      { via: 'local', to: BOB, payload: 'to bob' },
      { via: 'mesh', to: CAROL, payload: 'to carol', route: [R1] },
      { via: 'server', to: dave, payload: 'to dave' },
    ]);
    // A signal with no attempt on record (a link's last bye) leaves no path behind.
    expect(paths.viaOf(dave)).toBeUndefined();
    expect(paths.size).toBe(2);
  });

  it('falls back to the server when the local tab is gone or the mesh refuses', () => {
    host.local.add(BOB);
    host.meshable.add(CAROL);
    paths.hint(CAROL, [R1]);
    paths.begin(BOB, new FakeAttempt().handle);
    expect(paths.begin(CAROL, new FakeAttempt().handle)).toEqual({ kind: 'mesh', route: [R1] });
    host.local.delete(BOB);
    host.meshError = ErrorCode.NO_MESH_PATH;
    paths.send(BOB, 'b');
    paths.send(CAROL, 'c');
    expect(host.take()).toEqual([
      { via: 'server', to: BOB, payload: 'b' },
      { via: 'server', to: CAROL, payload: 'c' },
    ]);
  });

  it('says so when no path at all can carry a signal', () => {
    host.server = false;
    paths.send(BOB, 'lost');
    expect(host.take()).toEqual([]);
    expect(host.debugs).toEqual(['signal not sent: no path']);
  });

  it('takes the newest hint, and ignores an empty one', () => {
    host.meshable.add(BOB);
    paths.hint(BOB, [R1]);
    paths.hint(BOB, [R2, R3]);
    paths.hint(BOB, []);
    expect(paths.begin(BOB, new FakeAttempt().handle)).toEqual({ kind: 'mesh', route: [R2, R3] });
  });

  it('keeps a hint for a later attempt while a local path is used', () => {
    host.local.add(BOB);
    host.meshable.add(BOB);
    paths.hint(BOB, [R1]);
    expect(paths.begin(BOB, new FakeAttempt().handle)).toEqual({ kind: 'local' });
    paths.forget(BOB);
    host.local.delete(BOB);
    expect(paths.begin(BOB, new FakeAttempt().handle)).toEqual({ kind: 'mesh', route: [R1] });
  });

  it('uses a hint for a reply with no attempt on record', () => {
    host.meshable.add(BOB);
    paths.hint(BOB, [R1]);
    paths.send(BOB, 'bye');
    expect(host.take()).toEqual([{ via: 'mesh', to: BOB, payload: 'bye', route: [R1] }]);
    expect(paths.viaOf(BOB)).toBeUndefined();
  });
});

describe('replies', () => {
  it.each<[string, Via, Sent['via'], readonly PeerId[] | undefined]>([
    ['locally', { kind: 'local' }, 'local', undefined],
    ['through the server', { kind: 'server' }, 'server', undefined],
    ['through the mesh, along the trail it came by', { kind: 'mesh', route: [R1, R2] }, 'mesh', [R1, R2]],
  ])('go back the way the request came: %s', (_what, via, expected, route) => {
    // Every path is possible: only where the request came from decides.
    host.local.add(BOB);
    host.meshable.add(BOB);
    paths.arrived(BOB, via);
    expect(paths.viaOf(BOB)).toEqual(via);
    paths.send(BOB, 'answer');
    paths.send(BOB, 'candidate');
    const sent = host.take();
    expect(sent.map((s) => s.via)).toEqual([expected, expected]);
    expect(sent.map((s) => s.payload)).toEqual(['answer', 'candidate']);
    if (route !== undefined) for (const s of sent) expect(s.route).toEqual(route);
  });

  it('follow the latest way the peer used', () => {
    host.meshable.add(BOB);
    paths.arrived(BOB, { kind: 'mesh', route: [R1] });
    paths.send(BOB, 'one');
    paths.arrived(BOB, { kind: 'mesh', route: [R2, R3] });
    paths.send(BOB, 'two');
    paths.arrived(BOB, { kind: 'server' });
    paths.send(BOB, 'three');
    expect(host.take()).toEqual([
      { via: 'mesh', to: BOB, payload: 'one', route: [R1] },
      { via: 'mesh', to: BOB, payload: 'two', route: [R2, R3] },
      { via: 'server', to: BOB, payload: 'three' },
    ]);
  });
});

describe('through the mesh without a route', () => {
  beforeEach(() => {
    // A flood is chosen when no route is known and the server is away; it may come back meanwhile.
    host.meshable.add(BOB);
    host.server = false;
    expect(paths.begin(BOB, new FakeAttempt().handle)).toEqual({ kind: 'mesh', route: [] });
    host.server = true;
  });

  it('floods only the first signal and holds the rest until the answer shows the way', () => {
    paths.send(BOB, 'offer');
    paths.send(BOB, 'candidate 1');
    paths.send(BOB, 'candidate 2');
    expect(host.take()).toEqual([{ via: 'mesh', to: BOB, payload: 'offer', route: [] }]);
    paths.arrived(BOB, { kind: 'mesh', route: [R1, R2] });
    expect(host.take()).toEqual([
      { via: 'mesh', to: BOB, payload: 'candidate 1', route: [R1, R2] },
      { via: 'mesh', to: BOB, payload: 'candidate 2', route: [R1, R2] },
    ]);
    // From then on, straight along the route.
    paths.send(BOB, 'candidate 3');
    expect(host.take()).toEqual([{ via: 'mesh', to: BOB, payload: 'candidate 3', route: [R1, R2] }]);
    // A second answer flushes nothing more.
    paths.arrived(BOB, { kind: 'mesh', route: [R1, R2] });
    expect(host.take()).toEqual([]);
  });

  it(`holds at most ${MAX_HELD_SIGNALS} signals, the first ones`, () => {
    paths.send(BOB, 'offer');
    for (let i = 0; i < MAX_HELD_SIGNALS + 10; i++) paths.send(BOB, `candidate ${i}`);
    expect(host.take()).toHaveLength(1);
    paths.arrived(BOB, { kind: 'mesh', route: [R1] });
    const flushed = host.take();
    expect(flushed.map((s) => s.payload)).toEqual(Array.from({ length: MAX_HELD_SIGNALS }, (_, i) => `candidate ${i}`));
    for (const s of flushed) expect(s.route).toEqual([R1]);
  });

  it('keeps holding when the answer brings no route either', () => {
    paths.send(BOB, 'offer');
    paths.send(BOB, 'candidate');
    host.take();
    paths.arrived(BOB, { kind: 'mesh', route: [] });
    expect(host.take()).toEqual([]);
    paths.arrived(BOB, { kind: 'mesh', route: [R3] });
    expect(host.take()).toEqual([{ via: 'mesh', to: BOB, payload: 'candidate', route: [R3] }]);
  });

  // Held signals go out through send() once the answer shows the way, so they
  // still fall back to the server, or follow an answer that came another way.
  it('sends what it held through the server when the mesh can no longer carry it', () => {
    paths.send(BOB, 'offer');
    paths.send(BOB, 'candidate 1');
    paths.send(BOB, 'candidate 2');
    host.take();
    host.meshError = ErrorCode.NO_MESH_PATH;
    paths.arrived(BOB, { kind: 'mesh', route: [R1] });
    expect(host.take()).toEqual([
      { via: 'server', to: BOB, payload: 'candidate 1' },
      { via: 'server', to: BOB, payload: 'candidate 2' },
    ]);
  });

  it('sends what it held the new way when the answer comes by another path', () => {
    paths.send(BOB, 'offer');
    paths.send(BOB, 'candidate');
    host.take();
    paths.arrived(BOB, { kind: 'server' });
    expect(host.take()).toEqual([{ via: 'server', to: BOB, payload: 'candidate' }]);
    paths.send(BOB, 'later');
    expect(host.take()).toEqual([{ via: 'server', to: BOB, payload: 'later' }]);
  });

  it('floods the first signal of a new attempt again', () => {
    paths.send(BOB, 'offer 1');
    paths.forget(BOB);
    host.server = false;
    paths.begin(BOB, new FakeAttempt().handle);
    paths.send(BOB, 'offer 2');
    expect(host.take().map((s) => [s.payload, s.route])).toEqual([
      ['offer 1', []],
      ['offer 2', []],
    ]);
  });
});

describe('falling back when a peer path stays silent', () => {
  it.each<[string, () => void]>([
    [
      'mesh',
      () => {
        host.meshable.add(BOB);
        paths.hint(BOB, [R1]);
      },
    ],
    ['local', () => host.local.add(BOB)],
  ])('re-sends a silent %s attempt through the server after MESH_SIGNAL_FALLBACK_MS', (kind, setup) => {
    setup();
    const attempt = new FakeAttempt();
    expect(paths.begin(BOB, attempt.handle).kind).toBe(kind);
    paths.send(BOB, 'offer');
    host.take();
    vi.advanceTimersByTime(MESH_SIGNAL_FALLBACK_MS - 1);
    expect(attempt.resends).toBe(0);
    expect(paths.viaOf(BOB)?.kind).toBe(kind);
    vi.advanceTimersByTime(1);
    expect(attempt.resends).toBe(1);
    expect(attempt.giveUps).toBe(0);
    expect(paths.viaOf(BOB)).toEqual({ kind: 'server' });
    expect(host.debugs).toEqual(['no channel yet by a peer path; trying the signaling server']);
    paths.send(BOB, 'offer again');
    paths.send(BOB, 'candidate');
    expect(host.take()).toEqual([
      { via: 'server', to: BOB, payload: 'offer again' },
      { via: 'server', to: BOB, payload: 'candidate' },
    ]);
    // Once only.
    vi.advanceTimersByTime(10 * MESH_SIGNAL_FALLBACK_MS);
    expect(attempt.resends).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sends everything again through the server for an attempt that heard an answer but has no channel yet', () => {
    host.meshable.add(BOB);
    paths.hint(BOB, [R1]);
    const attempt = new FakeAttempt();
    attempt.wasHeard = true;
    expect(paths.begin(BOB, attempt.handle).kind).toBe('mesh');
    vi.advanceTimersByTime(MESH_SIGNAL_FALLBACK_MS);
    expect([attempt.resends, attempt.giveUps]).toEqual([1, 0]);
    expect(paths.viaOf(BOB)).toEqual({ kind: 'server' });
  });

  it('sends everything again once through the mesh for an attempt that heard an answer when there is no server', () => {
    host.meshable.add(BOB);
    host.server = false;
    paths.hint(BOB, [R1]);
    const attempt = new FakeAttempt();
    attempt.wasHeard = true;
    expect(paths.begin(BOB, attempt.handle).kind).toBe('mesh');
    vi.advanceTimersByTime(MESH_SIGNAL_FALLBACK_MS);
    expect([attempt.resends, attempt.giveUps]).toEqual([1, 0]);
    // Still the way the peer's signals come; once only, and never given up (the link has its own timeout).
    expect(paths.viaOf(BOB)).toEqual({ kind: 'mesh', route: [R1] });
    vi.advanceTimersByTime(10 * MESH_SIGNAL_GIVE_UP_MS);
    expect([attempt.resends, attempt.giveUps]).toEqual([1, 0]);
  });

  it('gives up a silent attempt when the server cannot be used', () => {
    host.meshable.add(BOB);
    host.server = false;
    const attempt = new FakeAttempt();
    paths.begin(BOB, attempt.handle);
    vi.advanceTimersByTime(MESH_SIGNAL_GIVE_UP_MS - 1);
    expect(attempt.giveUps).toBe(0);
    vi.advanceTimersByTime(1);
    expect(attempt.giveUps).toBe(1);
    expect(attempt.resends).toBe(0);
    expect(paths.viaOf(BOB)).toEqual({ kind: 'mesh', route: [] });
  });

  it('does not give up an attempt that hears back before MESH_SIGNAL_GIVE_UP_MS', () => {
    host.meshable.add(BOB);
    host.server = false;
    const attempt = new FakeAttempt();
    paths.begin(BOB, attempt.handle);
    vi.advanceTimersByTime(MESH_SIGNAL_FALLBACK_MS);
    attempt.wasHeard = true;
    vi.advanceTimersByTime(MESH_SIGNAL_GIVE_UP_MS);
    expect([attempt.resends, attempt.giveUps]).toEqual([0, 0]);
  });

  it('does nothing for an attempt that has heard back', () => {
    host.meshable.add(BOB);
    paths.hint(BOB, [R1]);
    const attempt = new FakeAttempt();
    paths.begin(BOB, attempt.handle);
    attempt.waiting = false;
    vi.advanceTimersByTime(MESH_SIGNAL_FALLBACK_MS);
    expect([attempt.resends, attempt.giveUps]).toEqual([0, 0]);
    expect(paths.viaOf(BOB)?.kind).toBe('mesh');
  });

  it('sets no timer for an attempt through the server', () => {
    const attempt = new FakeAttempt();
    expect(paths.begin(BOB, attempt.handle)).toEqual({ kind: 'server' });
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10 * MESH_SIGNAL_FALLBACK_MS);
    expect([attempt.resends, attempt.giveUps]).toEqual([0, 0]);
  });

  it('restarts the wait for a new attempt at the same peer, and acts for the new one only', () => {
    host.local.add(BOB);
    const first = new FakeAttempt();
    const second = new FakeAttempt();
    paths.begin(BOB, first.handle);
    vi.advanceTimersByTime(MESH_SIGNAL_FALLBACK_MS - 1000);
    paths.begin(BOB, second.handle);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect([first.resends, second.resends]).toEqual([0, 0]);
    vi.advanceTimersByTime(MESH_SIGNAL_FALLBACK_MS - 1000);
    expect([first.resends, second.resends]).toEqual([0, 1]);
  });

  it('keeps separate waits for separate peers', () => {
    host.meshable.add(BOB);
    paths.hint(BOB, [R1]);
    host.local.add(CAROL);
    const bob = new FakeAttempt();
    const carol = new FakeAttempt();
    paths.begin(BOB, bob.handle);
    vi.advanceTimersByTime(1000);
    paths.begin(CAROL, carol.handle);
    vi.advanceTimersByTime(MESH_SIGNAL_FALLBACK_MS - 1000);
    expect([bob.resends, carol.resends]).toEqual([1, 0]);
    vi.advanceTimersByTime(1000);
    expect([bob.resends, carol.resends]).toEqual([1, 1]);
  });
});

describe('forgetting', () => {
  it('clears the attempt and its timer: no callback comes after forget()', () => {
    host.meshable.add(BOB);
    paths.hint(BOB, [R1]);
    const attempt = new FakeAttempt();
    paths.begin(BOB, attempt.handle);
    expect(vi.getTimerCount()).toBe(1);
    paths.forget(BOB);
    expect(vi.getTimerCount()).toBe(0);
    expect(paths.viaOf(BOB)).toBeUndefined();
    vi.advanceTimersByTime(10 * MESH_SIGNAL_FALLBACK_MS);
    expect([attempt.resends, attempt.giveUps]).toEqual([0, 0]);
    expect(host.debugs).toEqual([]);
  });

  it('forgets held signals with the attempt', () => {
    host.meshable.add(BOB);
    host.server = false;
    paths.begin(BOB, new FakeAttempt().handle);
    paths.send(BOB, 'offer');
    paths.send(BOB, 'held');
    paths.forget(BOB);
    host.take();
    paths.arrived(BOB, { kind: 'mesh', route: [R1] });
    expect(host.take()).toEqual([]);
  });

  it('close() clears every timer', () => {
    host.meshable.add(BOB);
    paths.hint(BOB, [R1]);
    host.local.add(CAROL);
    const attempts = [new FakeAttempt(), new FakeAttempt()];
    paths.begin(BOB, attempts[0]?.handle ?? new FakeAttempt().handle);
    paths.begin(CAROL, attempts[1]?.handle ?? new FakeAttempt().handle);
    expect(vi.getTimerCount()).toBe(2);
    paths.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10 * MESH_SIGNAL_FALLBACK_MS);
    expect(attempts.map((a) => a.resends + a.giveUps)).toEqual([0, 0]);
  });
});

describe('remembered routes', () => {
  it('keeps a route for later attempts, until newer ones push it out', () => {
    host.meshable.add(BOB);
    paths.hint(BOB, [R1]);
    expect(paths.routeTo(BOB)).toEqual([R1]);
    expect(paths.begin(BOB, new FakeAttempt().handle)).toEqual({ kind: 'mesh', route: [R1] });
    paths.forget(BOB);
    // Still known for the next attempt; an empty route never replaces one.
    paths.hint(BOB, []);
    expect(paths.begin(BOB, new FakeAttempt().handle)).toEqual({ kind: 'mesh', route: [R1] });
    // 256 other peers later, the oldest route is gone.
    const other = (n: number): PeerId =>
      peerIdFromPublicKey(Uint8Array.from({ length: 32 }, (_, i) => (i < 2 ? (n >> (8 * i)) & 0xff : 0x41)));
    for (let n = 0; n < 256; n++) paths.hint(other(n), [R2]);
    expect(paths.routeTo(BOB)).toEqual([]);
    expect(paths.routeTo(other(255))).toEqual([R2]);
  });
});

// Issue 15, item 9: a path per authenticated sender, dropped only when a link closed (200,000 senders held 85 MiB).
describe('what the paths hold', () => {
  it('sends a reply the way its signal came and keeps nothing for it', () => {
    host.meshable.add(BOB);
    paths.reply(BOB, { kind: 'mesh', route: [R1] }, 'bye');
    paths.reply(CAROL, { kind: 'local' }, 'bye');
    expect(host.take()).toEqual([
      { via: 'mesh', to: BOB, payload: 'bye', route: [R1] },
      { via: 'server', to: CAROL, payload: 'bye' },
    ]);
    expect(paths.viaOf(BOB)).toBeUndefined();
    expect(paths.size).toBe(0);
  });

  it(`holds at most MAX_SIGNAL_PATHS (${MAX_SIGNAL_PATHS}), forgetting the oldest, and counts what it forgets`, () => {
    // Distinct acceptable keys, as many as needed.
    const sender = (n: number): PeerId =>
      peerIdFromPublicKey(
        Uint8Array.from({ length: 32 }, (_, i) => (i < 2 ? (n >> (8 * i)) & 0xff : (i * 7 + 3) & 0x7f)),
      );
    const tally = newLimitCounters();
    const bounded = new SignalPaths(host, tally);
    for (let n = 0; n <= MAX_SIGNAL_PATHS; n++) bounded.arrived(sender(n), { kind: 'server' });
    expect(bounded.viaOf(sender(0))).toBeUndefined();
    expect(bounded.viaOf(sender(MAX_SIGNAL_PATHS))).toEqual({ kind: 'server' });
    expect(bounded.size).toBe(MAX_SIGNAL_PATHS);
    expect(tally.signalPathsForgotten).toBe(1);
    bounded.close();
  });
});
