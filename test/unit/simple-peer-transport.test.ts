/**
 * The simple-peer transport over real WebRTC in Node (@roamhq/wrtc): two
 * transports wired signal to signal in process, and what remote input must
 * not do to a link (bad candidates, misdirected descriptions, a flood of
 * early candidates).
 */
import * as wrtc from '@roamhq/wrtc';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { CandidateBody } from '../../shared/protocol/signal.js';
import {
  MAX_BUFFERED_BYTES,
  MAX_CHANNEL_BUFFERED_BYTES,
  MAX_EARLY_CANDIDATES,
  simplePeerTransport,
  type WrtcModule,
} from '../../web/transport/simple-peer.js';
import type { Transport, TransportOptions, TransportSignal } from '../../web/transport/transport.js';

const TIMEOUT_MS = 10_000;

/** Settles with `promise`, or rejects after `ms` saying what was awaited. */
function within<T>(promise: Promise<T>, what: string, ms = TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

interface Recorded {
  readonly module: WrtcModule;
  readonly configs: RTCConfiguration[];
  readonly pcs: RTCPeerConnection[];
  /** The data channels the initiator created. */
  readonly channels: RTCDataChannel[];
  /** Every remote candidate given to addIceCandidate. */
  readonly added: (RTCIceCandidateInit | null | undefined)[];
}

/** A wrtc whose RTCPeerConnection records each configuration, instance and created channel. */
function recordingWrtc(): Recorded {
  const configs: RTCConfiguration[] = [];
  const pcs: RTCPeerConnection[] = [];
  const channels: RTCDataChannel[] = [];
  const added: (RTCIceCandidateInit | null | undefined)[] = [];
  const Base = wrtc.RTCPeerConnection as unknown as new (configuration?: RTCConfiguration) => RTCPeerConnection;
  class Recording extends Base {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      configs.push(configuration ?? {});
      pcs.push(this);
    }

    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      const channel = super.createDataChannel(label, init);
      channels.push(channel);
      return channel;
    }

    override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
      added.push(candidate);
      return super.addIceCandidate(candidate);
    }
  }
  return {
    module: {
      RTCPeerConnection: Recording,
      RTCSessionDescription: wrtc.RTCSessionDescription,
      RTCIceCandidate: wrtc.RTCIceCandidate,
    },
    configs,
    pcs,
    channels,
    added,
  };
}

interface End {
  readonly transport: Transport;
  readonly signals: TransportSignal[];
  readonly frames: Uint8Array[];
  readonly connected: Promise<void>;
  readonly closed: Promise<string | undefined>;
  closes: number;
}

const open: Transport[] = [];
afterEach(() => {
  for (const transport of open.splice(0)) transport.close();
});

/** One transport; `forward` decides what happens with each signal it emits. */
function end(initiator: boolean, forward: (signal: TransportSignal) => void, module = recordingWrtc().module): End {
  let connect = (): void => undefined;
  let close: (reason: string | undefined) => void = () => undefined;
  const connected = new Promise<void>((resolve) => (connect = resolve));
  const closed = new Promise<string | undefined>((resolve) => (close = resolve));
  const options: TransportOptions = { initiator, iceServers: [] };
  const result: End = {
    signals: [],
    frames: [],
    connected,
    closed,
    closes: 0,
    transport: simplePeerTransport(module)(options, {
      onSignal: (signal) => {
        result.signals.push(signal);
        forward(signal);
      },
      onConnect: connect,
      onData: (frame) => result.frames.push(frame),
      onClose: (reason) => {
        result.closes += 1;
        close(reason);
      },
    }),
  };
  open.push(result.transport);
  return result;
}

/** An initiator and a responder wired to each other; `meddle` sees every signal first and may add its own. */
function pair(meddle: (signal: TransportSignal, to: 'a' | 'b') => void = () => undefined): {
  a: End;
  b: End;
  recorded: Recorded;
} {
  const ends: { a?: End; b?: End } = {};
  const recorded = recordingWrtc();
  const a = end(
    true,
    (signal) => {
      meddle(signal, 'b');
      ends.b?.transport.signal(signal);
    },
    recorded.module,
  );
  const b = end(false, (signal) => {
    meddle(signal, 'a');
    ends.a?.transport.signal(signal);
  });
  ends.a = a;
  ends.b = b;
  return { a, b, recorded };
}

async function connect(ends: { a: End; b: End }): Promise<void> {
  await within(Promise.all([ends.a.connected, ends.b.connected]), 'both sides to connect');
}

/** Sends a frame from a to b and waits until b has it. */
async function roundTrip(ends: { a: End; b: End }, byte: number): Promise<void> {
  const before = ends.b.frames.length;
  await ends.a.transport.send(new Uint8Array([byte]));
  await within(
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (ends.b.frames.length > before) resolve();
        else setTimeout(check, 5);
      };
      check();
    }),
    'a frame to arrive',
  );
  expect(ends.b.frames.at(-1)).toEqual(new Uint8Array([byte]));
}

const candidate = (line: string, sdpMid: string | null = '0', sdpMLineIndex: number | null = 0): TransportSignal => ({
  type: 'candidate',
  candidate: { candidate: line, sdpMid, sdpMLineIndex } satisfies CandidateBody,
});
const MDNS_CANDIDATE = 'candidate:1 1 udp 2122260223 0b4f4e0c-0000-4000-8000-000000000000.local 54321 typ host';

describe('the simple-peer transport (Node, @roamhq/wrtc)', () => {
  it('passes only the configured ICE servers (none): no public STUN added', () => {
    const recorded = recordingWrtc();
    end(true, () => undefined, recorded.module);
    expect(recorded.configs).toHaveLength(1);
    expect(recorded.configs[0]?.iceServers).toEqual([]);
    expect(recorded.configs[0]?.iceTransportPolicy).toBe('all');
    expect(JSON.stringify(recorded.configs)).not.toMatch(/stun/i);
  });

  it('connects, carries 10 MiB in order with bounded buffering, and a close reaches the other side', async () => {
    const ends = pair();
    await connect(ends);
    const frameBytes = 16 * 1024;
    const frames = (10 * 1024 * 1024) / frameBytes;
    const channel = ends.recorded.channels[0];
    if (channel === undefined) throw new Error('no channel');
    let maxBuffered = 0;
    for (let i = 0; i < frames; i++) {
      const frame = new Uint8Array(frameBytes).fill(i % 251);
      new DataView(frame.buffer).setUint32(0, i);
      await ends.a.transport.send(frame);
      maxBuffered = Math.max(maxBuffered, channel.bufferedAmount);
    }
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (ends.b.frames.length >= frames) resolve();
          else setTimeout(check, 10);
        };
        check();
      }),
      '10 MiB to arrive',
      60_000,
    );
    expect(ends.b.frames).toHaveLength(frames);
    ends.b.frames.forEach((frame, i) => {
      expect(frame.constructor).toBe(Uint8Array);
      expect(frame.length).toBe(frameBytes);
      expect(new DataView(frame.buffer, frame.byteOffset).getUint32(0)).toBe(i);
      expect(frame[frameBytes - 1]).toBe(i % 251);
    });
    // Backpressure: a sender that awaits send() never finds more than the threshold and one frame buffered.
    expect(maxBuffered).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(MAX_BUFFERED_BYTES + frameBytes);

    ends.a.transport.close();
    expect(await within(ends.a.closed, 'the local close')).toBe('closed locally');
    await within(ends.b.closed, 'the remote side to see the close');
    await expect(ends.b.transport.send(new Uint8Array(1))).rejects.toMatchObject({ code: ErrorCode.NOT_CONNECTED });
    expect(ends.a.closes).toBe(1);
    expect(ends.b.closes).toBe(1);
  }, 90_000);

  it('refuses with RECIPIENT_BUSY the frames of a caller that does not wait, past MAX_CHANNEL_BUFFERED_BYTES', async () => {
    const ends = pair();
    await connect(ends);
    const frame = new Uint8Array(64 * 1024);
    const sends = (2 * MAX_CHANNEL_BUFFERED_BYTES) / frame.length;
    const outcomes = Array.from({ length: sends }, () =>
      ends.a.transport.send(frame).then(
        () => 'sent',
        (error: unknown) => (error instanceof TabmeshError ? error.code : 'other'),
      ),
    );
    const refused = (await within(Promise.all(outcomes), 'every send to settle', 60_000)).filter(
      (outcome) => outcome === ErrorCode.RECIPIENT_BUSY,
    );
    expect(refused.length).toBeGreaterThan(0);
    expect(ends.a.closes + ends.b.closes).toBe(0);
  }, 90_000);

  it('drops bad candidates (garbage, unresolvable mDNS) without harm, before and after connecting', async () => {
    let sent = false;
    const ends = pair((_signal, to) => {
      // Before the first real signal reaches either side: early candidates.
      if (sent) return;
      sent = true;
      const target = to === 'a' ? ends.a : ends.b;
      for (const bad of badCandidates()) target.transport.signal(bad);
    });
    await connect(ends);
    for (const bad of badCandidates()) {
      ends.a.transport.signal(bad);
      ends.b.transport.signal(bad);
    }
    await roundTrip(ends, 7);
    expect(ends.a.closes + ends.b.closes).toBe(0);
  });

  it('ignores an offer sent to the initiator, an answer to the responder, and a second answer', async () => {
    const ends = pair((signal) => {
      if (signal.type === 'offer') ends.a.transport.signal(signal);
      if (signal.type === 'answer') {
        ends.b.transport.signal(signal);
        // The real answer is delivered after this; a copy first would be the one applied, so send it after.
        queueMicrotask(() => ends.a.transport.signal(signal));
      }
    });
    await connect(ends);
    await roundTrip(ends, 9);
    expect(ends.a.closes + ends.b.closes).toBe(0);
  });

  it(`passes at most ${MAX_EARLY_CANDIDATES} candidates on before the remote description`, async () => {
    const recorded = recordingWrtc();
    const responder = end(false, () => undefined, recorded.module);
    const pc = recorded.pcs[0];
    if (pc === undefined) throw new Error('no peer connection');
    for (let i = 0; i < 3 * MAX_EARLY_CANDIDATES; i++)
      responder.transport.signal(candidate(`candidate:${i} 1 udp 2122260223 192.0.2.${i % 250} ${1024 + i} typ host`));
    // Only the offer: the initiator's own candidates would be added too, and counted.
    const initiator = end(true, (signal) => {
      if (signal.type === 'offer') responder.transport.signal(signal);
    });
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (initiator.signals.some((s) => s.type === 'offer') && pc.remoteDescription !== null) resolve();
          else setTimeout(check, 5);
        };
        check();
      }),
      'the offer to be applied',
    );
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (recorded.added.length >= MAX_EARLY_CANDIDATES) resolve();
          else setTimeout(check, 5);
        };
        check();
      }),
      'the held candidates to be added',
    );
    expect(recorded.added).toHaveLength(MAX_EARLY_CANDIDATES);
  });
});

function badCandidates(): TransportSignal[] {
  return [
    candidate('garbage'),
    candidate('candidate:garbage'),
    candidate(MDNS_CANDIDATE),
    candidate(MDNS_CANDIDATE, null, null),
    candidate(MDNS_CANDIDATE, '7', 3),
    candidate(`candidate:${'x'.repeat(2000)}`),
    {
      type: 'candidate',
      candidate: { candidate: 'candidate:1', sdpMid: 5, sdpMLineIndex: 0.5 } as unknown as CandidateBody,
    },
  ];
}
