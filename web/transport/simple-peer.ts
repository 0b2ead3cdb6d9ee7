/**
 * The transport over simple-peer (pinned 9.11.1): trickle ICE, one reliable
 * ordered data channel, backpressure on the channel's buffered amount. In a
 * browser simple-peer drives the page's own RTCPeerConnection; in Node the
 * caller passes @roamhq/wrtc.
 *
 * simple-peer destroys the whole peer on remote input that a link should
 * shrug off (one bad candidate, an offer sent to the initiator, a second
 * answer), and queues early candidates without a bound: everything remote
 * is checked here before simple-peer sees it.
 */
import SimplePeer, { type SignalData } from 'simple-peer';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { CandidateBody } from '../../shared/protocol/signal.js';
import { selectedPairStats } from './stats.js';
import type { Transport, TransportEvents, TransportFactory, TransportOptions } from './transport.js';

/**
 * What simple-peer's `wrtc` option takes: the three WebRTC constructors it
 * calls (in Node, @roamhq/wrtc's). Declared here, not taken from the
 * package's declaration (web/transport/simple-peer-module.d.ts, which is not
 * shipped), so the published declarations stand on their own.
 */
export interface WrtcModule {
  readonly RTCPeerConnection: new (configuration?: RTCConfiguration) => RTCPeerConnection;
  readonly RTCSessionDescription: new (init: RTCSessionDescriptionInit) => unknown;
  readonly RTCIceCandidate: new (init: RTCIceCandidateInit) => unknown;
}

/** The data channel's label (both sides see it; nothing depends on it). */
export const CHANNEL_LABEL = 'tabmesh';
/**
 * send() waits while more than this is buffered in the channel. Chromium
 * closes a channel whose buffer passes 16 MiB, so callers must wait well
 * below that; 64 KiB is simple-peer's own threshold and keeps a 16
 * KiB-chunked transfer at full speed on a LAN.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024;
/**
 * A send that finds this much buffered already is refused (RECIPIENT_BUSY)
 * rather than buffered: Chromium closes a channel whose buffer passes
 * 16 MiB, and a caller that does not wait for send() (each frame is awaited
 * on a link's queue, but nothing here makes a caller do so) would otherwise
 * grow the buffer without bound. Half of Chromium's limit; an honest link
 * never comes near it (issue 15, item 9).
 */
export const MAX_CHANNEL_BUFFERED_BYTES = 8 * 1024 * 1024;
/**
 * Remote candidates held until the remote description is applied (they can
 * overtake it on another path). simple-peer queues them without a bound;
 * more than this are dropped here: a connection needs a few.
 */
export const MAX_EARLY_CANDIDATES = 64;
/**
 * How often a waiting sender looks at the buffered amount: one timer per
 * transport, only while someone waits. simple-peer takes the channel's
 * `onbufferedamountlow`, and @roamhq/wrtc never fires the event, so waiting
 * senders poll, and resume once the buffer is down to {@link MAX_BUFFERED_BYTES}.
 */
export const BUFFER_POLL_MS = 5;
/** A candidate line longer than this is dropped (the signaling codec allows no more). */
const MAX_CANDIDATE_CHARS = 1024;

/**
 * What simple-peer builds each remote candidate with, instead of the
 * platform's RTCIceCandidate. When addIceCandidate rejects, simple-peer
 * (`_addIceCandidate`) ignores the failure only if the candidate object has
 * no `address`, or one ending in `.local`; otherwise it destroys the whole
 * peer (ERR_ADD_ICE_CANDIDATE). Chromium's RTCIceCandidate parses `address`
 * out of the line, so a well-formed candidate that this browser cannot use
 * (an unsupported protocol, an unknown sdpMid) would cost the link. A plain
 * RTCIceCandidateInit has no `address`: a rejected candidate costs only
 * itself (simple-peer logs "Ignoring unsupported ICE candidate.").
 */
class PlainCandidate {
  readonly candidate: string | undefined;
  readonly sdpMid: string | null | undefined;
  readonly sdpMLineIndex: number | null | undefined;

  constructor(init: RTCIceCandidateInit) {
    this.candidate = init.candidate;
    this.sdpMid = init.sdpMid;
    this.sdpMLineIndex = init.sdpMLineIndex;
  }
}

/**
 * A remote candidate simple-peer may see: a `candidate:` line of bounded
 * length, sdpMid a string or null, sdpMLineIndex an integer or null. Cheap
 * shape checks only; what the platform still rejects costs that candidate
 * alone (see {@link PlainCandidate}).
 */
function usableCandidate(c: CandidateBody): boolean {
  return (
    typeof c.candidate === 'string' &&
    c.candidate.startsWith('candidate:') &&
    c.candidate.length <= MAX_CANDIDATE_CHARS &&
    (c.sdpMid === null || typeof c.sdpMid === 'string') &&
    (c.sdpMLineIndex === null || Number.isInteger(c.sdpMLineIndex))
  );
}

/**
 * Start the initiator's offer now rather than when simple-peer would: it
 * calls `_createOffer` from a `setTimeout(0)` (an old workaround for a
 * Chrome crash), which a page's first script, still busy loading, puts
 * behind all of its other work. Its channel exists already (made in the
 * constructor), so the offer carries it. simple-peer's own later call, and
 * any renegotiation (Tabmesh adds no media, so there is none), do nothing.
 */
function offerNow(peer: SimplePeer): void {
  const createOffer = peer._createOffer.bind(peer);
  let offered = false;
  peer._createOffer = () => {
    if (offered) return;
    offered = true;
    createOffer();
  };
  peer._createOffer();
}

const notConnected = (): Promise<never> =>
  Promise.reject(new TabmeshError(ErrorCode.NOT_CONNECTED, 'the channel is closed'));

/** The page's own WebRTC constructors, read when a transport is made. */
function browserRtc(): Omit<WrtcModule, 'RTCIceCandidate'> {
  return { RTCPeerConnection, RTCSessionDescription };
}

/**
 * A transport factory over simple-peer. `wrtc` is for Node (@roamhq/wrtc);
 * in a browser leave it out and the page's RTCPeerConnection is used.
 */
export function simplePeerTransport(wrtc?: WrtcModule): TransportFactory {
  return (options, events) => open(options, events, wrtc ?? browserRtc());
}

function open(options: TransportOptions, events: TransportEvents, rtc: Omit<WrtcModule, 'RTCIceCandidate'>): Transport {
  const peer = new SimplePeer({
    initiator: options.initiator,
    channelName: CHANNEL_LABEL,
    channelConfig: { ordered: true },
    // Always given, even empty: without it simple-peer adds public STUN
    // servers (Google's, Twilio's), and Tabmesh contacts no one the user did
    // not configure.
    config: { iceServers: [...options.iceServers], iceTransportPolicy: options.iceTransportPolicy ?? 'all' },
    trickle: true,
    allowHalfTrickle: false,
    wrtc: {
      RTCPeerConnection: rtc.RTCPeerConnection,
      RTCSessionDescription: rtc.RTCSessionDescription,
      RTCIceCandidate: PlainCandidate,
    },
  });
  if (options.initiator) offerNow(peer);
  let closed = false;
  /** The remote description was passed on (one per transport: a second would destroy the peer). */
  let described = false;
  let early = 0;
  const waiters: { resolve(): void; reject(error: Error): void }[] = [];
  let poll: ReturnType<typeof setInterval> | undefined;

  const stopPolling = (): void => {
    clearInterval(poll);
    poll = undefined;
  };
  const finish = (reason: string | undefined): void => {
    if (closed) return;
    closed = true;
    stopPolling();
    for (const waiter of waiters.splice(0))
      waiter.reject(new TabmeshError(ErrorCode.NOT_CONNECTED, 'the channel is closed'));
    if (!peer.destroyed) peer.destroy();
    events.onClose(reason);
  };
  const drained = (): void => {
    if (peer.bufferSize > MAX_BUFFERED_BYTES) return;
    stopPolling();
    for (const waiter of waiters.splice(0)) waiter.resolve();
  };

  peer.on('signal', (data: SignalData) => {
    if (closed) return;
    // Other signal types (renegotiate, transceiverRequest) are for media, which Tabmesh never adds.
    if ((data.type === 'offer' || data.type === 'answer') && typeof data.sdp === 'string') {
      events.onSignal({ type: data.type, sdp: data.sdp });
    } else if (data.type === 'candidate' && data.candidate !== undefined && data.candidate.candidate !== '') {
      const c = data.candidate;
      events.onSignal({
        type: 'candidate',
        candidate: { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null },
      });
    }
  });
  let pathFound = false;
  peer.on('iceStateChange', (state: string) => {
    if (state === 'connected' || state === 'completed') pathFound = true;
  });
  peer.on('connect', () => {
    if (!closed) events.onConnect();
  });
  peer.on('data', (data: Uint8Array | string) => {
    if (closed) return;
    // A Node Buffer (or, in the browser build, a plain Uint8Array): the same bytes, seen as a plain view.
    events.onData(
      typeof data === 'string'
        ? new TextEncoder().encode(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.length),
    );
  });
  peer.on('close', () => finish(undefined));
  // A remote close sometimes arrives as an error (ERR_DATA_CHANNEL) rather
  // than a plain close: either way the link is gone, and the code says why.
  peer.on('error', (error) => finish(error.code ?? error.message));

  return {
    signal(signal) {
      if (closed || peer.destroyed || peer.destroying) return;
      if (signal.type === 'candidate') {
        const c = signal.candidate;
        if (!usableCandidate(c)) return;
        // simple-peer's own test for queuing: no remote description applied yet.
        if (!peer._pc?.remoteDescription?.type) {
          if (early >= MAX_EARLY_CANDIDATES) return;
          early += 1;
        }
        peer.signal({ candidate: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } });
        return;
      }
      // One description per transport, of the kind this side expects: an
      // offer to the initiator, an answer to the responder, or a second one
      // would make simple-peer destroy the peer.
      if (described || (signal.type === 'offer') === options.initiator || signal.sdp === '') return;
      described = true;
      peer.signal({ type: signal.type, sdp: signal.sdp });
    },
    send(frame) {
      if (closed || !peer.connected) return notConnected();
      if (peer.bufferSize >= MAX_CHANNEL_BUFFERED_BYTES)
        return Promise.reject(new TabmeshError(ErrorCode.RECIPIENT_BUSY, "the channel's send buffer is full"));
      try {
        // channel.send, synchronous; not the stream's write(), whose callback waits on the event wrtc never fires.
        peer.send(frame);
      } catch (error) {
        finish(`ERR_DATA_CHANNEL: ${error instanceof Error ? error.message : String(error)}`);
        return notConnected();
      }
      if (waiters.length === 0 && peer.bufferSize <= MAX_BUFFERED_BYTES) return Promise.resolve();
      return new Promise((resolve, reject) => {
        waiters.push({ resolve, reject });
        poll ??= setInterval(drained, BUFFER_POLL_MS);
      });
    },
    close() {
      finish('closed locally');
    },
    pathFound: () => pathFound,
    async stats() {
      const pc = peer._pc;
      if (closed || pc === null) return {};
      return selectedPairStats(await pc.getStats());
    },
  } satisfies Transport;
}
