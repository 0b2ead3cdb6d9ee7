/**
 * The WebRTC transport's send buffer (issue 15, item 9): send() put every
 * frame on the channel whatever was buffered already, so a caller that did
 * not wait for it could grow the buffer until Chromium closed the channel
 * (at 16 MiB). A fake RTCPeerConnection stands in for the browser's, as
 * nothing here needs a real connection: only what send() does with the
 * channel's buffered amount.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import { MAX_CHANNEL_BUFFERED_BYTES, createWebRtcTransport } from '../../web/transport/webrtc.js';

/** A data channel that buffers what it is sent and never drains. */
class FakeChannel extends EventTarget {
  readyState: RTCDataChannelState = 'connecting';
  bufferedAmount = 0;
  binaryType = 'blob';
  bufferedAmountLowThreshold = 0;
  onopen: (() => void) | null = null;
  onmessage: ((event: MessageEvent<unknown>) => void) | null = null;
  onclose: (() => void) | null = null;

  send(data: Uint8Array): void {
    this.bufferedAmount += data.length;
  }

  close(): void {
    this.readyState = 'closed';
  }
}

class FakePeerConnection {
  static last: FakePeerConnection | undefined;
  readonly channel = new FakeChannel();
  localDescription = null;
  remoteDescription = null;
  connectionState = 'new';
  onicecandidate: unknown = null;
  onconnectionstatechange: unknown = null;
  ondatachannel: unknown = null;

  constructor() {
    FakePeerConnection.last = this;
  }

  createDataChannel(): FakeChannel {
    return this.channel;
  }

  setLocalDescription(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.channel.close();
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('the WebRTC transport', () => {
  it('refuses, with RECIPIENT_BUSY, frames that find MAX_CHANNEL_BUFFERED_BYTES buffered, from a caller that does not wait', async () => {
    vi.stubGlobal('RTCPeerConnection', FakePeerConnection);
    const ignore = (): void => undefined;
    const transport = createWebRtcTransport(
      { initiator: true, iceServers: [] },
      { onSignal: ignore, onConnect: ignore, onData: ignore, onClose: ignore },
    );
    const channel = FakePeerConnection.last?.channel;
    if (channel === undefined) throw new Error('no channel');
    channel.readyState = 'open';
    channel.onopen?.();
    const frame = new Uint8Array(16 * 1024);
    const refused: unknown[] = [];
    const frames = 2 * (MAX_CHANNEL_BUFFERED_BYTES / frame.length);
    // Each send's promise waits for the buffer to drain; this caller sends on regardless.
    for (let i = 0; i < frames; i++) transport.send(frame).catch((error: unknown) => refused.push(error));
    await Promise.resolve();
    expect(channel.bufferedAmount).toBe(MAX_CHANNEL_BUFFERED_BYTES);
    expect(refused).toHaveLength(frames / 2);
    expect(refused.every((e) => e instanceof TabmeshError && e.code === ErrorCode.RECIPIENT_BUSY)).toBe(true);
    transport.close();
  });
});
