import { describe, expect, it, vi } from 'vitest';
import { toHex } from '../../shared/bytes.js';
import { ErrorCode, TabmeshError, unwrap } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import { PING_FRAME, type ReceivedMessage } from '../../shared/protocol/channel.js';
import { openSignal, signSignal, type SignalEnvelope } from '../../shared/protocol/signal.js';
import { PeerLink, type LinkContext, type LinkEvents } from '../../web/node/link.js';
import type { Via } from '../../web/node/paths.js';
import type { Transport, TransportEvents } from '../../web/transport/transport.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const ignore = (): void => undefined;

function context(
  identity: Identity,
  transport: LinkContext['transport'],
  more: Partial<LinkContext> = {},
): LinkContext {
  return {
    identity,
    ed25519,
    now: Date.now,
    iceServers: [],
    transport,
    sendSignal: ignore,
    viaOf: () => undefined,
    ...more,
  };
}

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

/** An SDP carrying one SHA-256 DTLS fingerprint, all a link reads of one. */
function sdp(fingerprint: Uint8Array = crypto.getRandomValues(new Uint8Array(32))): string {
  return `v=0\r\na=fingerprint:sha-256 ${toHex(fingerprint).replace(/(..)(?!$)/g, '$1:')}\r\n`;
}

/**
 * Two fake transports joined back to back: the initiator's offers at once,
 * the responder answers the offer, and the answer opens the channel on both
 * sides. Frames cross in order, a task later.
 */
function transportPair(): { initiator: LinkContext['transport']; responder: LinkContext['transport'] } {
  const sides: { events?: TransportEvents; peer?: () => TransportEvents | undefined }[] = [{}, {}];
  const make =
    (index: 0 | 1): LinkContext['transport'] =>
    (options, events) => {
      const side = sides[index];
      const other = sides[1 - index];
      if (side === undefined || other === undefined) throw new Error('two sides');
      side.events = events;
      if (options.initiator) queueMicrotask(() => events.onSignal({ type: 'offer', sdp: sdp() }));
      const transport: Transport = {
        signal: (signal) => {
          if (signal.type === 'offer') queueMicrotask(() => events.onSignal({ type: 'answer', sdp: sdp() }));
          if (signal.type === 'answer') {
            setTimeout(() => {
              events.onConnect();
              other.events?.onConnect();
            });
          }
        },
        send: (frame) => {
          setTimeout(() => other.events?.onData(frame));
          return Promise.resolve();
        },
        close: ignore,
      };
      return transport;
    };
  return { initiator: make(0), responder: make(1) };
}

describe('PeerLink', () => {
  it('sends no frame on a channel before it is confirmed (a link that replaced a confirmed one is not)', async () => {
    const [self, peer] = [await newIdentity(), await newIdentity()];
    const sent: Uint8Array[] = [];
    const closed: string[] = [];
    const transport: Transport = {
      signal: ignore,
      send: (frame) => {
        sent.push(frame);
        return Promise.resolve();
      },
      close: ignore,
    };
    const link = PeerLink.initiate(
      context(self, () => transport),
      events({ onClosed: (_link, _code, reason) => closed.push(reason) }),
      peer.id,
    );
    expect(link.state).toBe('signaling');
    const refused = link.sendFrame(PING_FRAME);
    await expect(refused).rejects.toBeInstanceOf(TabmeshError);
    await expect(refused).rejects.toMatchObject({ code: ErrorCode.NOT_CONNECTED });
    await expect(link.sendMessage(false, new Uint8Array(3))).rejects.toMatchObject({ code: ErrorCode.NOT_CONNECTED });
    expect(sent).toEqual([]);
    link.close(undefined, 'done', false);
    expect(closed).toEqual(['done']);
  });

  it('refuses an unusable offer with a reason, as a failed Result', async () => {
    const [self, peer] = [await newIdentity(), await newIdentity()];
    const offer = (body: string, nonce: Uint8Array, session: Uint8Array): SignalEnvelope => ({
      from: peer.id,
      to: self.id,
      session,
      nonce,
      seq: 0,
      kind: 'offer',
      expiresAt: Date.now() + 1000,
      body,
    });
    const session = crypto.getRandomValues(new Uint8Array(16));
    const transport = (): Transport => ({ signal: ignore, send: () => Promise.resolve(), close: ignore });
    const made = [
      PeerLink.accept(context(self, transport), events(), offer('v=0\r\n', session, session)),
      PeerLink.accept(context(self, transport), events(), offer(sdp(), new Uint8Array(16), session)),
    ];
    expect(made.map((result) => (result.ok ? 'ok' : result.error.code))).toEqual([
      ErrorCode.BAD_SDP,
      ErrorCode.BAD_FIELD,
    ]);
    const accepted = PeerLink.accept(context(self, transport), events(), offer(sdp(), session, session));
    expect(accepted.ok && accepted.value.state).toBe('signaling');
    if (accepted.ok) accepted.value.close(undefined, 'done', false);
  });

  it('connects two links through the confirmation, and reads how its signals travelled as it does', async () => {
    const [a, b] = [await newIdentity(), await newIdentity()];
    const transports = transportPair();
    const links = new Map<PeerId, PeerLink>();
    const connected: { link: PeerLink; via: Via['kind'] | undefined }[] = [];
    const received: ReceivedMessage[] = [];
    const problems: string[] = [];
    let path: Via['kind'] = 'server';
    const linkEvents = events({
      onConnected: (link) => connected.push({ link, via: link.via }),
      onMessage: (_link, message) => received.push(message),
      onProblem: (_link, code, message) => problems.push(`${code}: ${message}`),
    });
    // Signals cross like the node's: opened (checked) on arrival, an offer accepted, the rest handed to the link.
    const deliver = async (from: Identity, to: Identity, payload: string): Promise<void> => {
      const envelope = unwrap(
        await openSignal(ed25519, payload, { self: to.id, relayedFrom: from.id, now: Date.now() }),
      );
      const link = links.get(from.id);
      if (link !== undefined) link.handleSignal(envelope);
      else links.set(from.id, unwrap(PeerLink.accept(contextOf(to), linkEvents, envelope)));
    };
    const contextOf = (self: Identity): LinkContext =>
      context(self, self === a ? transports.initiator : transports.responder, {
        sendSignal: (_to, payload) => void deliver(self, self === a ? b : a, payload),
        viaOf: (peer) => (peer === (self === a ? b.id : a.id) ? path : undefined),
      });
    const initiator = PeerLink.initiate(contextOf(a), linkEvents, b.id);
    links.set(b.id, initiator);
    expect(initiator.via).toBeUndefined();
    // The path changes while the attempt is under way: the one at connection counts.
    path = 'mesh';
    await vi.waitFor(() => expect(connected).toHaveLength(2));
    const responder = links.get(a.id);
    expect(new Set(connected.map((c) => c.link))).toEqual(new Set([initiator, responder]));
    expect(connected.map((c) => c.via)).toEqual(['mesh', 'mesh']);
    expect(initiator.state).toBe('connected');
    expect(responder?.state).toBe('connected');
    expect(initiator.heard).toBe(true);
    expect(initiator.connectedAt).toBeTypeOf('number');

    await initiator.sendMessage(false, new Uint8Array([104, 105]));
    await vi.waitFor(() => expect(received).toHaveLength(1));
    expect(received[0]?.payload).toEqual(new Uint8Array([104, 105]));
    expect(initiator.bytesSent).toBeGreaterThan(0);
    // What came in counts the peer's confirmation (a type byte, 176 signed bytes, a signature); what went out does not.
    expect(responder?.bytesReceived).toBe(1 + 176 + 64 + initiator.bytesSent);
    expect(problems).toEqual([]);
    initiator.close(undefined, 'done');
    responder?.close(undefined, 'done');
  });

  it("signals a bye when closed while signaling, and takes the peer's bye as its reason", async () => {
    const [a, b] = [await newIdentity(), await newIdentity()];
    const payloads: string[] = [];
    const transport = (): Transport => ({ signal: ignore, send: () => Promise.resolve(), close: ignore });
    const link = PeerLink.initiate(
      context(a, transport, { sendSignal: (_to, payload) => payloads.push(payload) }),
      events(),
      b.id,
    );
    link.close(ErrorCode.CONNECT_FAILED, 'gave up');
    await vi.waitFor(() => expect(payloads).toHaveLength(1));
    const bye = unwrap(
      await openSignal(ed25519, payloads[0] ?? '', { self: b.id, relayedFrom: a.id, now: Date.now() }),
    );
    expect(bye).toMatchObject({ kind: 'bye', body: ErrorCode.CONNECT_FAILED, session: link.session });

    const declined = PeerLink.initiate(context(a, transport), events(), b.id);
    const payload = await signSignal(b, {
      to: a.id,
      session: declined.session,
      nonce: crypto.getRandomValues(new Uint8Array(16)),
      seq: 0,
      kind: 'bye',
      expiresAt: Date.now() + 1000,
      body: 'GLARE',
    });
    declined.handleSignal(
      unwrap(await openSignal(ed25519, payload, { self: a.id, relayedFrom: b.id, now: Date.now() })),
    );
    expect(declined.declined).toBe('GLARE');
    expect(declined.state).toBe('closed');
  });

  it("takes a peer's RELAY_NEEDED bye while signaling as its own diagnosis", async () => {
    const [a, b] = [await newIdentity(), await newIdentity()];
    const transport = (): Transport => ({ signal: ignore, send: () => Promise.resolve(), close: ignore });
    const closes: (ErrorCode | undefined)[] = [];
    const link = PeerLink.initiate(context(a, transport), events({ onClosed: (_l, code) => closes.push(code) }), b.id);
    const payload = await signSignal(b, {
      to: a.id,
      session: link.session,
      nonce: crypto.getRandomValues(new Uint8Array(16)),
      seq: 0,
      kind: 'bye',
      expiresAt: Date.now() + 1000,
      body: ErrorCode.RELAY_NEEDED,
    });
    link.handleSignal(unwrap(await openSignal(ed25519, payload, { self: a.id, relayedFrom: b.id, now: Date.now() })));
    expect(closes).toEqual([ErrorCode.RELAY_NEEDED]);
  });
});
