/**
 * Transport over simple-peer (trickle ICE, one reliable ordered data channel).
 * The process shim must be loaded before this module (see web/shims).
 */
import SimplePeer from 'simple-peer';
import type { Transport, TransportFactory } from './transport.js';

export const createSimplePeerTransport: TransportFactory = (options, events) => {
  const peer = new SimplePeer({
    initiator: options.initiator,
    trickle: true,
    config: { iceServers: [...options.iceServers] },
  });
  let closed = false;
  const finish = (reason: string | undefined): void => {
    if (closed) return;
    closed = true;
    events.onClose(reason);
  };
  peer.on('signal', (data) => {
    if ((data.type === 'offer' || data.type === 'answer') && typeof data.sdp === 'string') {
      events.onSignal({ type: data.type, sdp: data.sdp });
    } else if (data.candidate !== undefined) {
      const { candidate, sdpMid, sdpMLineIndex } = data.candidate;
      events.onSignal({
        type: 'candidate',
        candidate: { candidate, sdpMid: sdpMid ?? null, sdpMLineIndex: sdpMLineIndex ?? null },
      });
    }
    // Renegotiation and transceiver requests concern media only; data channels never need them.
  });
  peer.on('connect', () => events.onConnect());
  peer.on('data', (data) => events.onData(data));
  peer.on('close', () => finish(undefined));
  peer.on('error', (error) => finish(error.code ?? error.message));
  const transport: Transport = {
    signal(signal) {
      if (closed) return;
      if (signal.type === 'candidate') peer.signal({ candidate: { ...signal.candidate } });
      else peer.signal({ type: signal.type, sdp: signal.sdp });
    },
    send(frame) {
      if (closed) return Promise.reject(new Error('channel closed'));
      // write() returns false above the stream's high-water mark; simple-peer
      // itself holds writes while the channel's bufferedAmount is over 64 KiB.
      if (peer.write(frame)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const onDrain = (): void => {
          peer.off('close', onClose);
          resolve();
        };
        const onClose = (): void => {
          peer.off('drain', onDrain);
          reject(new Error('channel closed'));
        };
        peer.once('drain', onDrain);
        peer.once('close', onClose);
      });
    },
    close() {
      if (!peer.destroyed) peer.destroy();
      finish('closed locally');
    },
  };
  return transport;
};
