/**
 * The part of simple-peer 9.11 that web/transport/simple-peer.ts uses. Our
 * own declaration: @types/simple-peer pulls Node's types into browser code.
 */
declare module 'simple-peer' {
  interface SignalData {
    type?: string;
    sdp?: string;
    candidate?: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null };
  }
  interface Options {
    initiator?: boolean;
    trickle?: boolean;
    config?: RTCConfiguration;
    channelConfig?: RTCDataChannelInit;
  }
  class SimplePeer {
    constructor(options?: Options);
    signal(data: SignalData): void;
    write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
    destroy(error?: Error): void;
    readonly connected: boolean;
    readonly destroyed: boolean;
    on(event: 'signal', listener: (data: SignalData) => void): this;
    on(event: 'connect' | 'close' | 'drain', listener: () => void): this;
    on(event: 'data', listener: (data: Uint8Array) => void): this;
    on(event: 'error', listener: (error: Error & { code?: string }) => void): this;
    once(event: 'drain' | 'close', listener: () => void): this;
    off(event: 'drain' | 'close', listener: () => void): this;
  }
  export default SimplePeer;
}
