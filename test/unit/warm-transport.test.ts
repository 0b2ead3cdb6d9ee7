/**
 * WarmTransport: an initiating transport made before its link, whose events
 * wait until a link adopts it.
 */
import { describe, expect, it } from 'vitest';
import { PeerLink, type LinkEvents } from '../../web/node/link.js';
import { WarmTransport } from '../../web/node/warm-transport.js';
import type { TransportEvents, TransportFactory, TransportSignal } from '../../web/transport/transport.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const ignore = (): void => undefined;

/** A factory whose transport the test drives through the events it was given. */
function drivenFactory(): { factory: TransportFactory; events: () => TransportEvents; closes: () => number } {
  let given: TransportEvents | undefined;
  let closes = 0;
  const factory: TransportFactory = (_options, events) => {
    given = events;
    return {
      signal: ignore,
      send: () => Promise.resolve(),
      close: () => {
        closes++;
      },
    };
  };
  return {
    factory,
    events: () => {
      if (given === undefined) throw new Error('no transport made');
      return given;
    },
    closes: () => closes,
  };
}

/** Link events that record closes and signals, and ignore the rest. */
function recordingEvents(closed: string[]): LinkEvents {
  return {
    onConnected: ignore,
    onClosed: (_link, _code, reason) => closed.push(reason),
    onMessage: ignore,
    onRecords: ignore,
    onRelay: ignore,
    onMembership: ignore,
    onProblem: ignore,
  };
}

describe('WarmTransport', () => {
  it('holds what the transport says until adopted, then hands it over in order', async () => {
    const driven = drivenFactory();
    const warm = new WarmTransport(driven.factory, [], 1);
    const offer: TransportSignal = { type: 'offer', sdp: 'v=0' };
    driven.events().onSignal(offer);
    driven.events().onSignal({ type: 'candidate', candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0 } });
    const seen: string[] = [];
    const transport = warm.adopt({
      onSignal: (signal) => seen.push(signal.type),
      onConnect: () => seen.push('connect'),
      onData: ignore,
      onClose: ignore,
    });
    expect(transport).toBe(warm.transport);
    driven.events().onConnect();
    await Promise.resolve();
    expect(seen).toEqual(['offer', 'candidate', 'connect']);
  });

  // Found by a probe of the link layer: adopt() replayed held events inside
  // PeerLink's constructor, before the link held its transport, so a prepared
  // transport that had already failed (ERR_CREATE_OFFER, say) made the
  // constructor throw on this.transport.close().
  it('lets a link adopt a transport that closed before it was adopted: the link closes, it does not throw', async () => {
    const driven = drivenFactory();
    const warm = new WarmTransport(driven.factory, [], Date.now());
    driven.events().onClose('ERR_CREATE_OFFER: no');
    const [a, b] = await Promise.all([newIdentity(), newIdentity()]);
    const closed: string[] = [];
    const context = {
      identity: a,
      ed25519,
      now: Date.now,
      iceServers: [],
      transport: driven.factory,
      viaOf: () => undefined,
      sendSignal: ignore,
    };
    const link = PeerLink.initiate(context, recordingEvents(closed), b.id, warm);
    await Promise.resolve();
    expect(link.state).toBe('closed');
    expect(closed).toEqual(['ERR_CREATE_OFFER: no']);
    expect(driven.closes()).toBe(1);
  });
});
