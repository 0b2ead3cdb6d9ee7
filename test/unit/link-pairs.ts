/**
 * Real PeerLinks joined in memory, for unit tests of what flows between
 * them: the signals cross (signed, opened and checked as the node does),
 * each side confirms the channel with its real signed confirmation, and
 * frames then cross synchronously, each side's clock the test's. A test can
 * take one end over from its link (takeOver) to play a hostile peer that
 * writes raw frames and reads nothing.
 */
import { toHex } from '../../shared/bytes.js';
import { unwrap } from '../../shared/errors.js';
import type { Identity } from '../../shared/identity/signing.js';
import { openSignal } from '../../shared/protocol/signal.js';
import { PeerLink, type LinkContext, type LinkEvents } from '../../web/node/link.js';
import type { Transport, TransportEvents, TransportFactory } from '../../web/transport/transport.js';
import { ed25519 } from '../helpers/client.js';

/** An SDP carrying one SHA-256 DTLS fingerprint, all a link reads of one. */
function sdp(): string {
  const fingerprint = crypto.getRandomValues(new Uint8Array(32));
  return `v=0\r\na=fingerprint:sha-256 ${toHex(fingerprint).replace(/(..)(?!$)/g, '$1:')}\r\n`;
}

/** One end of an in-memory channel. */
export class MemoryEnd implements Transport {
  events: TransportEvents | undefined;
  other: MemoryEnd | undefined;
  closed = false;
  /** Taken over from its link: see takeOver. */
  private taken = false;

  constructor(private readonly initiator: boolean) {}

  open(events: TransportEvents): void {
    this.events = events;
    if (this.initiator) queueMicrotask(() => events.onSignal({ type: 'offer', sdp: sdp() }));
  }

  signal(signal: Parameters<Transport['signal']>[0]): void {
    if (signal.type === 'offer') queueMicrotask(() => this.events?.onSignal({ type: 'answer', sdp: sdp() }));
    if (signal.type === 'answer') {
      queueMicrotask(() => {
        this.events?.onConnect();
        this.other?.events?.onConnect();
      });
    }
  }

  /** Put a frame on the channel, as the link does, or raw (a hostile peer). */
  send(frame: Uint8Array): Promise<void> {
    const other = this.other;
    if (!this.closed && other !== undefined && !other.closed) other.events?.onData(frame);
    if (this.waiting === undefined) return Promise.resolve();
    // A full buffer: the frame is in it, and the sender waits for it to drain.
    return new Promise((resolve) => this.waiting?.push(resolve));
  }

  /** From now on, sends wait (a channel that does not drain) until release(). */
  hold(): void {
    this.waiting = [];
  }

  /** Let the channel drain: waiting sends resolve, and later ones do at once. */
  release(): void {
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    for (const resolve of waiting) resolve();
  }

  private waiting: (() => void)[] | undefined;

  /**
   * The test takes this end over from its link: the link hears nothing more
   * (what the other side sends here is lost), and its closing (its own
   * keepalive giving up, say) no longer closes the channel. The test then
   * writes raw frames with send().
   */
  takeOver(): void {
    this.events = undefined;
    this.taken = true;
  }

  close(): void {
    if (this.closed || this.taken) return;
    this.closed = true;
    const other = this.other;
    if (other !== undefined && !other.closed) {
      queueMicrotask(() => {
        if (other.closed) return;
        other.closed = true;
        other.events?.onClose('closed by the peer');
      });
    }
  }
}

export interface LinkedPair {
  readonly a: PeerLink;
  readonly b: PeerLink;
  readonly aEnd: MemoryEnd;
  readonly bEnd: MemoryEnd;
}

/**
 * Link `a` (the initiator) and `b`, each with its own events; resolves once
 * both links are connected. `now` is both sides' clock.
 */
export async function linkPair(
  a: Identity,
  b: Identity,
  now: () => number,
  eventsOf: (self: Identity) => LinkEvents,
): Promise<LinkedPair> {
  const aEnd = new MemoryEnd(true);
  const bEnd = new MemoryEnd(false);
  aEnd.other = bEnd;
  bEnd.other = aEnd;
  const factory =
    (end: MemoryEnd): TransportFactory =>
    (_options, events) => {
      end.open(events);
      return end;
    };
  let connected = 0;
  let done: () => void = () => undefined;
  const both = new Promise<void>((resolve) => (done = resolve));
  const wrap = (self: Identity): LinkEvents => {
    const events = eventsOf(self);
    return {
      ...events,
      onConnected: (link) => {
        events.onConnected(link);
        if (++connected === 2) done();
      },
    };
  };
  const aEvents = wrap(a);
  const bEvents = wrap(b);
  let bLink: PeerLink | undefined;
  const context = (self: Identity, end: MemoryEnd, deliver: (payload: string) => void): LinkContext => ({
    identity: self,
    ed25519,
    now,
    iceServers: [],
    transport: factory(end),
    sendSignal: (_to, payload) => deliver(payload),
    viaOf: () => 'server',
  });
  const open = async (payload: string, from: Identity, to: Identity) =>
    unwrap(await openSignal(ed25519, payload, { self: to.id, relayedFrom: from.id, now: now() }));
  const bContext = context(b, bEnd, (payload) => {
    void open(payload, b, a).then((envelope) => aLink.handleSignal(envelope));
  });
  const aContext = context(a, aEnd, (payload) => {
    void open(payload, a, b).then((envelope) => {
      if (bLink === undefined) bLink = unwrap(PeerLink.accept(bContext, bEvents, envelope));
      else bLink.handleSignal(envelope);
    });
  });
  // The responder's signals reach it only once it has sent its offer, after this.
  const aLink = PeerLink.initiate(aContext, aEvents, b.id);
  await both;
  if (bLink === undefined) throw new Error('the responder never answered');
  return { a: aLink, b: bLink, aEnd, bEnd };
}
