/**
 * Issue 15, item 9: what a peer can make a link hold. Real PeerLinks joined
 * in memory (link-pairs.ts), a virtual clock, the links' keepalive timers
 * driven by hand. Before the fix a peer could hold a message half-sent for as
 * long as it kept pinging, and broadcast copies forwarded to a channel that
 * did not drain queued without bound.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { utf8 } from '../../shared/bytes.js';
import { ErrorCode } from '../../shared/errors.js';
import { Purpose, type Identity } from '../../shared/identity/signing.js';
import {
  CHANNEL_KEEPALIVE_MS,
  MAX_FORWARD_QUEUE_BYTES,
  MAX_MESSAGE_BYTES,
  PARTIAL_MESSAGE_STALL_MS,
} from '../../shared/limits.js';
import {
  PING_FRAME,
  broadcastBytes,
  encodeMessageChunk,
  encodeMessageStart,
  type ReceivedMessage,
} from '../../shared/protocol/channel.js';
import type { LinkEvents } from '../../web/node/link.js';
import { Messages } from '../../web/node/messages.js';
import { newIdentity } from '../helpers/client.js';
import { recordingCore } from '../helpers/node-core.js';
import { linkPair } from './link-pairs.js';

const START = 1_800_000_000_000;
const ignore = (): void => undefined;

function events(more: Partial<LinkEvents> = {}): LinkEvents {
  return {
    onConnected: ignore,
    onClosed: ignore,
    onMessage: ignore,
    onRecords: ignore,
    onRelay: ignore,
    onMembership: ignore,
    onProblem: ignore,
    ...more,
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('what a peer can make a link hold', () => {
  it('closes a link whose peer holds a message half-sent for PARTIAL_MESSAGE_STALL_MS, however it keeps the link alive', async () => {
    // The keepalive runs when the test says, on the virtual clock.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const [peer, self] = [await newIdentity(), await newIdentity()];
    const clock = { now: START };
    const closed: { code: ErrorCode | undefined; reason: string }[] = [];
    const pair = await linkPair(
      peer,
      self,
      () => clock.now,
      (who) => (who === self ? events({ onClosed: (_link, code, reason) => closed.push({ code, reason }) }) : events()),
    );
    // The largest message, announced, one chunk of it sent, and then only keepalives.
    pair.aEnd.takeOver();
    void pair.aEnd.send(encodeMessageStart({ id: 1, binary: true, length: MAX_MESSAGE_BYTES }));
    void pair.aEnd.send(encodeMessageChunk(1, new Uint8Array(1024)));
    const step = CHANNEL_KEEPALIVE_MS / 2;
    for (let waited = 0; waited <= 2 * PARTIAL_MESSAGE_STALL_MS && closed.length === 0; waited += step) {
      clock.now += step;
      void pair.aEnd.send(PING_FRAME);
      vi.advanceTimersByTime(step);
    }
    expect(closed).toEqual([{ code: ErrorCode.PROTOCOL_VIOLATION, reason: 'a message in progress stalled' }]);
    expect(clock.now - START).toBeLessThanOrEqual(PARTIAL_MESSAGE_STALL_MS + step);
  });

  it('queues broadcast copies it forwards to a channel that does not drain only up to MAX_FORWARD_QUEUE_BYTES', async () => {
    const [self, slow, forwarder, alice, bob] = await Promise.all([
      newIdentity(),
      newIdentity(),
      newIdentity(),
      newIdentity(),
      newIdentity(),
    ]);
    const received: ReceivedMessage[] = [];
    const pair = await linkPair(
      slow,
      self,
      () => START,
      (who) => (who === slow ? events({ onMessage: (_link, message) => received.push(message) }) : events()),
    );
    const toSlow = pair.b;
    // The slow peer's channel takes the first frame and then nothing until released.
    pair.bEnd.hold();
    const { core } = recordingCore(self, { clock: START, network: 'n', connected: [slow.id] });
    const messages = new Messages(core, {
      sendMessage: (_peer, binary, payload, header) => toSlow.sendMessage(binary, payload, header),
      forwardMessage: (_peer, binary, payload, header) => toSlow.forwardMessage(binary, payload, header),
      deliver: ignore,
      cutOff: ignore,
    });
    const size = 256 * 1024;
    const copies = 2 * (MAX_FORWARD_QUEUE_BYTES / size);
    for (let i = 0; i < copies; i++) {
      // Two origins, so neither is over its own rate.
      const origin: Identity = i % 2 === 0 ? alice : bob;
      const payload = new Uint8Array(size).fill(i);
      const signature = await origin.sign(Purpose.BROADCAST, broadcastBytes(origin.id, i, true, payload));
      await messages.receive(forwarder.id, {
        binary: true,
        payload,
        broadcast: { origin: origin.id, seq: i, hops: 3, signature },
      });
    }
    pair.bEnd.release();
    // Our own message after them: once it is sent, all that was queued before it has gone.
    await toSlow.sendMessage(false, utf8('the end'));
    const forwarded = received.filter((m) => m.broadcast !== undefined);
    expect(forwarded).toHaveLength(MAX_FORWARD_QUEUE_BYTES / size);
    expect(received.at(-1)?.payload).toEqual(utf8('the end'));
  });
});
