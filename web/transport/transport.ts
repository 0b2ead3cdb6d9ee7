/**
 * The small interface the node uses for a WebRTC data channel, so nothing
 * else depends on the WebRTC API (and another implementation, e.g.
 * @roamhq/wrtc in Node, can stand in).
 */
import type { CandidateBody } from '../../shared/protocol/signal.js';
import type { PathTypes } from './stats.js';

export type TransportSignal =
  | { readonly type: 'offer' | 'answer'; readonly sdp: string }
  | { readonly type: 'candidate'; readonly candidate: CandidateBody };

export interface TransportEvents {
  onSignal(signal: TransportSignal): void;
  onConnect(): void;
  onData(frame: Uint8Array): void;
  onClose(reason: string | undefined): void;
}

export interface Transport {
  /** A signal from the remote side (already authenticated by the caller). */
  signal(signal: TransportSignal): void;
  /** Queue a frame; resolves once the channel can take more (backpressure). Rejects with NOT_CONNECTED once the channel has closed. */
  send(frame: Uint8Array): Promise<void>;
  close(): void;
  /**
   * Figures about the connection's current path. Optional: a transport that
   * cannot measure leaves it out, and the node then reports no round-trip time.
   */
  stats?(): Promise<TransportStats>;
  /**
   * Whether ICE has found a working candidate pair at any time (the ICE
   * connection state reached `connected` or `completed`). Optional: a
   * transport that cannot tell leaves it out, and a failure is not diagnosed.
   */
  pathFound?(): boolean;
}

export interface TransportStats {
  /** Round-trip time in ms on the selected path (ICE consent checks), once measured. */
  readonly rttMs?: number;
  /** The selected candidate pair's types: a direct (host), NAT-traversing (srflx, prflx) or relayed path. */
  readonly path?: PathTypes;
}

export interface TransportOptions {
  readonly initiator: boolean;
  readonly iceServers: readonly RTCIceServer[];
  /** 'relay' gathers TURN candidates only (RTCConfiguration.iceTransportPolicy). Default 'all'. */
  readonly iceTransportPolicy?: RTCIceTransportPolicy;
}

export type TransportFactory = (options: TransportOptions, events: TransportEvents) => Transport;
