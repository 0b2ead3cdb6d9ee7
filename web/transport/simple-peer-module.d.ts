/**
 * The part of simple-peer 9.11 (pinned) that Tabmesh uses: the transport
 * (web/transport/simple-peer.ts) and the benchmark's bare baseline
 * (test/bench/fixtures/bare). Our own declaration: @types/simple-peer pulls
 * Node's types into browser code. `_pc` is private to simple-peer; the
 * version is pinned, so reading it (for getStats) is safe.
 */
declare module 'simple-peer' {
  /** What the `wrtc` option takes: the three WebRTC constructors simple-peer calls. */
  export interface Wrtc {
    readonly RTCPeerConnection: new (configuration?: RTCConfiguration) => RTCPeerConnection;
    readonly RTCSessionDescription: new (init: RTCSessionDescriptionInit) => unknown;
    readonly RTCIceCandidate: new (init: RTCIceCandidateInit) => unknown;
  }
  export interface SignalData {
    type?: string;
    sdp?: string;
    candidate?: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null };
  }
  export interface Options {
    initiator?: boolean;
    channelName?: string;
    channelConfig?: RTCDataChannelInit;
    config?: RTCConfiguration;
    trickle?: boolean;
    allowHalfTrickle?: boolean;
    wrtc?: Wrtc;
  }
  export interface PeerError extends Error {
    code?: string;
  }
  class SimplePeer {
    constructor(options?: Options);
    signal(data: SignalData): void;
    /** channel.send, synchronous; a no-op while destroying. Throws once destroyed. */
    send(data: Uint8Array): void;
    destroy(error?: Error): void;
    /** The channel's bufferedAmount (0 without a channel). */
    readonly bufferSize: number;
    readonly connected: boolean;
    readonly destroyed: boolean;
    readonly destroying: boolean;
    /** The peer connection; null once destroyed. */
    readonly _pc: RTCPeerConnection | null;
    /** Private (the version is pinned): creates the initiator's offer; simple-peer calls it a macrotask after construction. */
    _createOffer(): void;
    on(event: 'signal', listener: (data: SignalData) => void): this;
    on(event: 'connect' | 'close', listener: () => void): this;
    on(event: 'data', listener: (data: Uint8Array) => void): this;
    on(event: 'error', listener: (error: PeerError) => void): this;
    on(event: 'iceStateChange', listener: (iceConnectionState: string, iceGatheringState: string) => void): this;
  }
  export default SimplePeer;
}
