/**
 * LinkTable: one PeerLink per peer. Real PeerLinks on fake transports joined
 * back to back, with real signed signals and a real channel confirmation
 * between two tables, so a link reaches `connected` the way it does in a tab.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../shared/bytes.js';
import { ErrorCode, TabmeshError, unwrap } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import { PING_FRAME } from '../../shared/protocol/channel.js';
import { openSignal, signSignal } from '../../shared/protocol/signal.js';
import { SIGNAL_TTL_MS } from '../../shared/limits.js';
import { PeerLink, type LinkContext, type LinkEvents } from '../../web/node/link.js';
import { LinkTable } from '../../web/node/link-table.js';
import type { Logger } from '../../web/node/options.js';
import type { Transport, TransportEvents, TransportFactory } from '../../web/transport/transport.js';
import { ed25519, newIdentity } from '../helpers/client.js';
import { withTimeout } from '../helpers/events.js';

const NOW = 1_800_000_000_000;
const RTT_MS = 42;
const ignore = (): void => undefined;

/** An SDP carrying one SHA-256 DTLS fingerprint, all a link reads of one. */
function sdp(): string {
  const fingerprint = crypto.getRandomValues(new Uint8Array(32));
  return `v=0\r\na=fingerprint:sha-256 ${toHex(fingerprint).replace(/(..)(?!$)/g, '$1:')}\r\n`;
}

/** A transport that can be told to fail its sends, counting what it sends and whether it closed. */
class FakeTransport implements Transport {
  readonly frames: Uint8Array[] = [];
  failSends: Error | undefined;
  closed = false;

  constructor(
    private readonly onSignal: Transport['signal'],
    private readonly deliver: (frame: Uint8Array) => void,
  ) {}

  signal(signal: Parameters<Transport['signal']>[0]): void {
    this.onSignal(signal);
  }
  send(frame: Uint8Array): Promise<void> {
    if (this.failSends !== undefined) return Promise.reject(this.failSends);
    this.frames.push(frame);
    this.deliver(frame);
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
  stats(): Promise<{ rttMs: number }> {
    return Promise.resolve({ rttMs: RTT_MS });
  }
}

/** One side: a table of its own, and what its links and logger reported. */
class Side {
  readonly table: LinkTable;
  readonly warnings: { message: string; fields: object | undefined }[] = [];
  readonly closed: { peer: PeerId; code: ErrorCode | undefined; reason: string }[] = [];
  readonly problems: string[] = [];
  readonly transports: FakeTransport[] = [];
  private connectedWaiters: { peer: PeerId; resolve: () => void }[] = [];
  /** Where this side's signals go (set when paired). */
  peerSide: Side | undefined;

  constructor(readonly identity: Identity) {
    const logger: Logger = {
      debug: ignore,
      info: ignore,
      warn: (message, fields) => void this.warnings.push({ message, fields }),
      error: ignore,
    };
    const events: LinkEvents = {
      onConnected: (link) => {
        this.connectedWaiters = this.connectedWaiters.filter((w) => {
          if (w.peer !== link.peer) return true;
          w.resolve();
          return false;
        });
      },
      onClosed: (link, code, reason) => void this.closed.push({ peer: link.peer, code, reason }),
      onMessage: ignore,
      onRecords: ignore,
      onRelay: ignore,
      onMembership: ignore,
      onProblem: (_link, code, message) => void this.problems.push(`${code}: ${message}`),
    };
    this.table = new LinkTable(events, logger);
  }

  /** Resolves when this side's link to `peer` is confirmed. */
  connectedTo(peer: PeerId): Promise<void> {
    return new Promise((resolve) => this.connectedWaiters.push({ peer, resolve }));
  }

  get context(): LinkContext {
    return {
      identity: this.identity,
      ed25519,
      now: () => NOW,
      iceServers: [],
      transport: this.transport,
      // Only to the paired side; attempts at anyone else signal into the void.
      sendSignal: (to, payload) => {
        if (this.peerSide?.identity.id === to) void this.peerSide.receiveSignal(this.identity.id, payload);
      },
      viaOf: () => 'server',
    };
  }

  /**
   * Fake transports: an initiator offers at once, a responder answers an
   * offer, and an answer opens the channel on both sides (the other side's
   * transport is the one made last there). Frames cross a microtask later.
   */
  private readonly transport: TransportFactory = (options, events: TransportEvents) => {
    const transport = new FakeTransport(
      (signal) => {
        if (signal.type === 'offer') queueMicrotask(() => events.onSignal({ type: 'answer', sdp: sdp() }));
        if (signal.type === 'answer') {
          queueMicrotask(() => {
            events.onConnect();
            this.peerSide?.transportEvents?.onConnect();
          });
        }
      },
      (frame) => queueMicrotask(() => this.peerSide?.transportEvents?.onData(frame)),
    );
    this.transports.push(transport);
    // The first transport is the one paired with the other side's.
    this.transportEvents ??= events;
    if (options.initiator) queueMicrotask(() => events.onSignal({ type: 'offer', sdp: sdp() }));
    return transport;
  };
  transportEvents: TransportEvents | undefined;

  /** A signal from the other side: checked, then handed to its link, or answered when it is an offer. */
  async receiveSignal(from: PeerId, payload: string): Promise<void> {
    const opened = await openSignal(ed25519, payload, { self: this.identity.id, relayedFrom: from, now: NOW });
    if (!opened.ok) {
      this.problems.push(`${opened.error.code}: ${opened.error.message}`);
      return;
    }
    const envelope = opened.value;
    const link = this.table.get(from);
    if (link !== undefined && !link.isClosed) link.handleSignal(envelope);
    else if (envelope.kind === 'offer') unwrap(this.table.answer(this.context, envelope));
  }
}

let sides: Side[] = [];

/** A side with no partner: its signals go nowhere. */
async function lone(): Promise<Side> {
  const side = new Side(await newIdentity());
  sides.push(side);
  return side;
}

async function pair(): Promise<{ a: Side; b: Side }> {
  const [a, b] = [new Side(await newIdentity()), new Side(await newIdentity())];
  a.peerSide = b;
  b.peerSide = a;
  sides.push(a, b);
  return { a, b };
}

/** Two tables with a confirmed link between them, `a` the initiator. */
async function connectedPair(): Promise<{ a: Side; b: Side; ab: PeerLink; ba: PeerLink }> {
  const { a, b } = await pair();
  const both = Promise.all([a.connectedTo(b.identity.id), b.connectedTo(a.identity.id)]);
  const ab = a.table.initiate(a.context, b.identity.id, undefined);
  await withTimeout(both, 5_000, 'both sides to confirm the channel');
  const ba = b.table.get(a.identity.id);
  if (ba === undefined) throw new Error('no answering link');
  expect([...a.problems, ...b.problems]).toEqual([]);
  return { a, b, ab, ba };
}

afterEach(() => {
  for (const side of sides) side.table.closeAll('test over');
  sides = [];
});

describe('LinkTable', () => {
  it('holds an attempt it starts, by peer', async () => {
    const [a, b, c] = [await lone(), await newIdentity(), await newIdentity()];
    const link = a.table.initiate(a.context, b.id, undefined);
    expect(a.table.get(b.id)).toBe(link);
    expect(link.initiator).toBe(true);
    expect(a.table.stateOf(b.id)).toBe('signaling');
    expect(a.table.stateOf(c.id)).toBeUndefined();
    expect(a.table.get(c.id)).toBeUndefined();
  });

  it('holds the link answering an offer in place of the one before; holds nothing for an unusable offer', async () => {
    const [a, b] = [await lone(), await lone()];
    const offer = async (body: string, session = crypto.getRandomValues(new Uint8Array(16))) =>
      unwrap(
        await openSignal(
          ed25519,
          await signSignal(a.identity, {
            to: b.identity.id,
            session,
            nonce: session,
            seq: 0,
            kind: 'offer',
            expiresAt: NOW + SIGNAL_TTL_MS,
            body,
          }),
          { self: b.identity.id, relayedFrom: a.identity.id, now: NOW },
        ),
      );
    const unusable = b.table.answer(b.context, await offer('v=0\r\n'));
    expect(unusable.ok).toBe(false);
    expect(b.table.get(a.identity.id)).toBeUndefined();
    expect(b.table.open()).toBe(0);
    expect(b.table.info()).toEqual([]);
    const first = unwrap(b.table.answer(b.context, await offer(sdp())));
    expect(b.table.get(a.identity.id)).toBe(first);
    expect(first.initiator).toBe(false);
    const refused = b.table.answer(b.context, await offer('v=0\r\n'));
    expect(refused.ok ? 'ok' : refused.error.code).toBe(ErrorCode.BAD_SDP);
    expect(b.table.get(a.identity.id)).toBe(first);
    const second = unwrap(b.table.answer(b.context, await offer(sdp())));
    expect(b.table.get(a.identity.id)).toBe(second);
    // Replacing is all the table does: closing the old link is its caller's.
    expect(first.state).toBe('signaling');
  });

  it('releases only the link still held for its peer', async () => {
    const [a, b] = [await lone(), await newIdentity()];
    const old = a.table.initiate(a.context, b.id, undefined);
    const current = a.table.initiate(a.context, b.id, undefined);
    old.close(undefined, 'superseded', false);
    expect(a.table.release(old)).toBe(false);
    expect(a.table.get(b.id)).toBe(current);
    expect(a.table.release(current)).toBe(true);
    expect(a.table.get(b.id)).toBeUndefined();
    expect(a.table.release(current)).toBe(false);
  });

  it('counts connected and open links by state: a closed link still held is neither', async () => {
    const { a, b, ab } = await connectedPair();
    const [c, d] = [await newIdentity(), await newIdentity()];
    const attempt = a.table.initiate(a.context, c.id, undefined);
    const dead = a.table.initiate(a.context, d.id, undefined);
    expect(a.table.connected()).toEqual([b.identity.id]);
    expect(a.table.open()).toBe(3);
    dead.close(undefined, 'gone', false);
    expect(a.table.open()).toBe(2);
    expect(a.table.connected()).toEqual([b.identity.id]);
    attempt.close(undefined, 'gone', false);
    ab.close(undefined, 'gone');
    expect(a.table.connected()).toEqual([]);
    expect(a.table.open()).toBe(0);
  });

  it('gives the confirmed link, and throws NOT_CONNECTED for an attempt or no link', async () => {
    const { a, b, ab } = await connectedPair();
    expect(a.table.confirmed(b.identity.id)).toBe(ab);
    const c = await newIdentity();
    a.table.initiate(a.context, c.id, undefined);
    for (const peer of [c.id, (await newIdentity()).id]) {
      let thrown: unknown;
      try {
        a.table.confirmed(peer);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TabmeshError);
      expect(thrown).toMatchObject({ code: ErrorCode.NOT_CONNECTED });
    }
    ab.close(undefined, 'gone');
    expect(() => a.table.confirmed(b.identity.id)).toThrow(TabmeshError);
  });

  it('sends a frame on a confirmed link', async () => {
    const { a, b, ab } = await connectedPair();
    const transport = a.transports[0];
    const before = transport?.frames.length ?? 0;
    a.table.sendFrame(b.identity.id, PING_FRAME);
    // The link's next send goes out after the table's.
    await ab.sendFrame(PING_FRAME);
    expect(transport?.frames.slice(before)).toEqual([PING_FRAME, PING_FRAME]);
    expect(ab.bytesSent).toBe(2 * PING_FRAME.length);
    expect(a.warnings).toEqual([]);
  });

  it('sends nothing and warns of nothing for a closed link, an attempt or no link (NOT_CONNECTED is dropped)', async () => {
    const { a, b, ab } = await connectedPair();
    const c = await newIdentity();
    const attempt = a.table.initiate(a.context, c.id, undefined);
    ab.close(undefined, 'gone');
    a.table.sendFrame(b.identity.id, PING_FRAME);
    a.table.sendFrame(c.id, PING_FRAME);
    a.table.sendFrame((await newIdentity()).id, PING_FRAME);
    // The same link's next send settles after the table's: by then its failure was handled.
    await expect(ab.sendFrame(PING_FRAME)).rejects.toMatchObject({ code: ErrorCode.NOT_CONNECTED });
    await expect(attempt.sendFrame(PING_FRAME)).rejects.toMatchObject({ code: ErrorCode.NOT_CONNECTED });
    expect(a.warnings).toEqual([]);
    expect(ab.bytesSent).toBe(0);
  });

  it('logs a send that fails for another reason', async () => {
    const { a, b, ab } = await connectedPair();
    const failure = new Error('send queue full');
    const transport = a.transports[0];
    if (transport === undefined) throw new Error('no transport');
    transport.failSends = failure;
    a.table.sendFrame(b.identity.id, PING_FRAME);
    await expect(ab.sendFrame(PING_FRAME)).rejects.toBe(failure);
    expect(a.warnings).toEqual([
      { message: 'a frame could not be sent', fields: { peer: b.identity.id, error: failure } },
    ]);
  });

  it("lists each link's figures", async () => {
    const { a, b, ab, ba } = await connectedPair();
    const c = await newIdentity();
    a.table.initiate(a.context, c.id, undefined);
    await ab.sendFrame(PING_FRAME);
    expect(a.table.info()).toEqual([
      {
        peer: b.identity.id,
        state: 'connected',
        initiator: true,
        bytesSent: PING_FRAME.length,
        bytesReceived: ab.bytesReceived,
        connectedAt: NOW,
        rttMs: RTT_MS,
        via: 'server',
        queuedBytes: 0,
      },
      {
        peer: c.id,
        state: 'signaling',
        initiator: true,
        bytesSent: 0,
        bytesReceived: 0,
        connectedAt: undefined,
        rttMs: undefined,
        via: undefined,
        queuedBytes: 0,
      },
    ]);
    // Each side's confirmation came in over the channel (the same size both ways), then the ping.
    expect(ab.bytesReceived).toBeGreaterThan(0);
    expect(ba.bytesReceived).toBe(ab.bytesReceived + PING_FRAME.length);
    expect(b.table.info()).toEqual([
      {
        peer: a.identity.id,
        state: 'connected',
        initiator: false,
        bytesSent: 0,
        bytesReceived: ba.bytesReceived,
        connectedAt: NOW,
        rttMs: RTT_MS,
        via: 'server',
        queuedBytes: 0,
      },
    ]);
  });

  it('closes every link on closeAll, with no code', async () => {
    const { a, b, ab } = await connectedPair();
    const c = await newIdentity();
    const attempt = a.table.initiate(a.context, c.id, undefined);
    a.table.closeAll('node closed');
    expect([ab.state, attempt.state]).toEqual(['closed', 'closed']);
    expect(a.closed).toEqual([
      { peer: b.identity.id, code: undefined, reason: 'node closed' },
      { peer: c.id, code: undefined, reason: 'node closed' },
    ]);
  });

  it('cuts off a neighbour with PROTOCOL_VIOLATION, and closes every link on closeAll', async () => {
    const { a, b, ab } = await connectedPair();
    const c = await newIdentity();
    const attempt = a.table.initiate(a.context, c.id, undefined);
    a.table.cutOff(b.identity.id, 'bad frame');
    expect(ab.state).toBe('closed');
    expect(a.closed).toEqual([{ peer: b.identity.id, code: ErrorCode.PROTOCOL_VIOLATION, reason: 'bad frame' }]);
    a.table.cutOff((await newIdentity()).id, 'nobody there');
    expect(attempt.state).toBe('signaling');
    a.table.closeAll('node closed');
    expect(attempt.state).toBe('closed');
    expect(a.closed.at(-1)).toEqual({ peer: c.id, code: undefined, reason: 'node closed' });
    expect(a.closed.filter((e) => e.peer === c.id)).toHaveLength(1);
  });
});
