import { describe, expect, it } from 'vitest';
import { PING_FRAME } from '../../shared/protocol/channel.js';
import { PeerLink, type LinkEvents } from '../../web/node/link.js';
import type { Transport } from '../../web/transport/transport.js';
import { ed25519, newIdentity } from '../helpers/client.js';

describe('PeerLink', () => {
  it('sends no frame on a channel before it is confirmed (a link that replaced a confirmed one is not)', async () => {
    const [self, peer] = [await newIdentity(), await newIdentity()];
    const sent: Uint8Array[] = [];
    const closed: string[] = [];
    const transport: Transport = {
      signal: () => undefined,
      send: (frame) => {
        sent.push(frame);
        return Promise.resolve();
      },
      close: () => undefined,
    };
    const ignore = (): void => undefined;
    const events: LinkEvents = {
      onConnected: ignore,
      onClosed: (_link, _code, reason) => closed.push(reason),
      onMessage: ignore,
      onRecords: ignore,
      onRelay: ignore,
      onMembership: ignore,
      onProblem: ignore,
    };
    const link = PeerLink.initiate(
      {
        identity: self,
        ed25519,
        now: Date.now,
        iceServers: [],
        transport: () => transport,
        sendSignal: ignore,
      },
      events,
      peer.id,
    );
    expect(link.state).toBe('signaling');
    await expect(link.sendFrame(PING_FRAME)).rejects.toThrow('link not connected');
    expect(sent).toEqual([]);
    link.close(undefined, 'done', false);
    expect(closed).toEqual(['done']);
  });
});
