/**
 * Transport over the browser's own RTCPeerConnection: trickle ICE, one
 * reliable ordered data channel, backpressure on the channel's buffered
 * amount. It replaced simple-peer, whose Node-stream stack (readable-stream,
 * buffer, events, process and global shims) was half of the widget's
 * gzipped size for what is here about a hundred lines.
 */
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import { selectedPairRttMs } from './stats.js';
import type { Transport, TransportFactory } from './transport.js';

/** The data channel's label (both sides see it; nothing depends on it). */
export const CHANNEL_LABEL = 'tabmesh';
/**
 * send() waits while more than this is buffered in the channel. Chromium
 * closes a channel whose buffer passes 16 MiB, so callers must wait well
 * below that; 64 KiB is what simple-peer used and keeps a 16 KiB-chunked
 * transfer at full speed on a LAN.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024;
/** Waiting senders resume once the buffer has drained to this. */
export const BUFFERED_LOW_BYTES = 16 * 1024;
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
 * Remote candidates held until the remote description arrives (they can
 * overtake it on another path). More are dropped: a connection needs a few.
 */
export const MAX_EARLY_CANDIDATES = 64;

const toBytes = (data: unknown): Uint8Array | undefined => {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (typeof data === 'string') return new TextEncoder().encode(data);
  return undefined;
};

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export const createWebRtcTransport: TransportFactory = (options, events) => {
  const pc = new RTCPeerConnection({
    iceServers: [...options.iceServers],
    iceTransportPolicy: options.iceTransportPolicy ?? 'all',
  });
  let channel: RTCDataChannel | undefined;
  let closed = false;
  const early: RTCIceCandidateInit[] = [];
  // Descriptions and candidates are applied strictly in arrival order.
  let queue: Promise<void> = Promise.resolve();

  const finish = (reason: string | undefined): void => {
    if (closed) return;
    closed = true;
    channel?.close();
    pc.close();
    events.onClose(reason);
  };
  const run = (step: () => Promise<void>, failure: string): void => {
    queue = queue.then(async () => {
      if (closed) return;
      try {
        await step();
      } catch (error) {
        finish(`${failure}: ${reasonOf(error)}`);
      }
    });
  };
  const addCandidate = async (candidate: RTCIceCandidateInit): Promise<void> => {
    try {
      await pc.addIceCandidate(candidate);
    } catch {
      // One unusable candidate (an unresolvable mDNS name, a protocol this
      // browser lacks) costs only that path; ICE goes on with the others.
      return;
    }
  };
  const describeLocal = async (): Promise<void> => {
    await pc.setLocalDescription();
    const description = pc.localDescription;
    if (closed || description === null) return;
    if (description.type === 'offer' || description.type === 'answer') {
      events.onSignal({ type: description.type, sdp: description.sdp });
    }
  };
  const attach = (dc: RTCDataChannel): void => {
    channel = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = BUFFERED_LOW_BYTES;
    dc.onopen = () => {
      if (!closed) events.onConnect();
    };
    dc.onmessage = (event: MessageEvent<unknown>) => {
      const bytes = toBytes(event.data);
      if (bytes !== undefined && !closed) events.onData(bytes);
    };
    dc.onclose = () => finish(undefined);
  };

  pc.onicecandidate = (event) => {
    const c = event.candidate;
    // A null or empty candidate marks the end of gathering; the far side needs no word of it.
    if (closed || c === null || c.candidate === '') return;
    events.onSignal({
      type: 'candidate',
      candidate: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex },
    });
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed') finish('ERR_CONNECTION_FAILURE');
  };
  if (options.initiator) {
    attach(pc.createDataChannel(CHANNEL_LABEL, { ordered: true }));
    run(describeLocal, 'ERR_CREATE_OFFER');
  } else {
    pc.ondatachannel = (event) => {
      if (channel === undefined) attach(event.channel);
      else event.channel.close();
    };
  }

  return {
    signal(signal) {
      if (closed) return;
      if (signal.type === 'candidate') {
        run(async () => {
          if (pc.remoteDescription === null) {
            if (early.length < MAX_EARLY_CANDIDATES) early.push(signal.candidate);
          } else await addCandidate(signal.candidate);
        }, 'ERR_ADD_ICE_CANDIDATE');
        return;
      }
      // An offer to the initiator, or an answer to the responder, is out of place.
      if ((signal.type === 'offer') === options.initiator) return;
      run(async () => {
        await pc.setRemoteDescription({ type: signal.type, sdp: signal.sdp });
        for (const candidate of early.splice(0)) await addCandidate(candidate);
        if (signal.type === 'offer') await describeLocal();
      }, 'ERR_SET_REMOTE_DESCRIPTION');
    },
    send(frame) {
      const dc = channel;
      if (closed || dc?.readyState !== 'open')
        return Promise.reject(new TabmeshError(ErrorCode.NOT_CONNECTED, 'the channel is closed'));
      if (dc.bufferedAmount >= MAX_CHANNEL_BUFFERED_BYTES)
        return Promise.reject(new TabmeshError(ErrorCode.RECIPIENT_BUSY, "the channel's send buffer is full"));
      // The DOM typings take ArrayBuffer-backed views only; ours always are.
      dc.send(frame as Uint8Array<ArrayBuffer>);
      if (dc.bufferedAmount <= MAX_BUFFERED_BYTES) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const onLow = (): void => {
          dc.removeEventListener('close', onClose);
          resolve();
        };
        const onClose = (): void => {
          dc.removeEventListener('bufferedamountlow', onLow);
          reject(new TabmeshError(ErrorCode.NOT_CONNECTED, 'the channel is closed'));
        };
        dc.addEventListener('bufferedamountlow', onLow, { once: true });
        dc.addEventListener('close', onClose, { once: true });
      });
    },
    close() {
      finish('closed locally');
    },
    async stats() {
      if (closed) return {};
      const rttMs = selectedPairRttMs(await pc.getStats());
      return rttMs === undefined ? {} : { rttMs };
    },
  } satisfies Transport;
};
