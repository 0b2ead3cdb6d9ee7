import { describe, expect, it } from 'vitest';
import { toHex } from '../../shared/bytes.js';
import { ErrorCode, unwrap } from '../../shared/errors.js';
import { openSignal, signSignal } from '../../shared/protocol/signal.js';
import { candidateTypeOf, OfferedTypes } from '../../web/node/ice-paths.js';
import { PeerLink, type LinkContext, type LinkEvents } from '../../web/node/link.js';
import type { Transport, TransportEvents } from '../../web/transport/transport.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const host = 'candidate:1 1 udp 2122260223 192.168.10.2 40000 typ host generation 0';
const srflx = 'candidate:2 1 udp 1686052607 203.0.113.10 40000 typ srflx raddr 192.168.10.2 rport 40000';
const relay = 'candidate:3 1 udp 41885439 203.0.113.1 50000 typ relay raddr 203.0.113.10 rport 40000';

describe('candidateTypeOf', () => {
  it("reads a candidate's typ, trickled or as an SDP attribute, and nothing else", () => {
    expect(candidateTypeOf(host)).toBe('host');
    expect(candidateTypeOf(`a=${srflx}`)).toBe('srflx');
    expect(candidateTypeOf(relay)).toBe('relay');
    expect(candidateTypeOf('candidate:4 1 udp 1 1.2.3.4 5 typ prflx')).toBe('prflx');
    for (const odd of ['', 'candidate:1 1 udp 1 1.2.3.4 5', 'candidate:1 typ carrier-pigeon', 'typhost'])
      expect(candidateTypeOf(odd)).toBeUndefined();
  });
});

describe('OfferedTypes.diagnose', () => {
  const offered = (local: string[], remote: string[]): OfferedTypes => {
    const types = new OfferedTypes();
    for (const c of local) types.noteCandidate('local', c);
    for (const c of remote) types.noteCandidate('remote', c);
    return types;
  };

  it('says a relay is needed when both sides reached STUN and neither offered a relay', () => {
    const diagnosis = offered([host, srflx], [host, srflx]).diagnose();
    expect(diagnosis.code).toBe(ErrorCode.RELAY_NEEDED);
    expect(diagnosis.message).toContain('--turn-urls');
  });

  it('counts reflexive candidates found in an SDP', () => {
    const types = new OfferedTypes();
    types.noteSdp('remote', `v=0\r\na=${host}\r\na=${srflx}\r\na=fingerprint:sha-256 AA\r\n`);
    types.noteSdp('local', `v=0\na=${srflx}\n`);
    expect([...types.remote]).toEqual(['host', 'srflx']);
    expect([...types.local]).toEqual(['srflx']);
    expect(types.diagnose().code).toBe(ErrorCode.RELAY_NEEDED);
  });

  it('stays CONNECT_FAILED, saying why, with a relay on either side or without a STUN address on a side', () => {
    for (const [local, remote] of [
      [
        [host, relay],
        [host, srflx],
      ],
      [[host], [relay]],
    ] as const) {
      const diagnosis = offered([...local], [...remote]).diagnose();
      expect(diagnosis.code).toBe(ErrorCode.CONNECT_FAILED);
      expect(diagnosis.message).toContain('even through');
    }
    for (const [local, remote, which] of [
      [[host], [host], 'neither side'],
      [[host], [host, srflx], 'this side'],
      [[host, srflx], [host], 'the peer'],
    ] as const) {
      const diagnosis = offered([...local], [...remote]).diagnose();
      expect(diagnosis.code).toBe(ErrorCode.CONNECT_FAILED);
      expect(diagnosis.message).toContain(`${which} has no address from a STUN server`);
    }
  });
});

/** An SDP with a DTLS fingerprint and the given candidate attributes. */
function sdp(...candidates: string[]): string {
  const fingerprint = toHex(crypto.getRandomValues(new Uint8Array(32))).replace(/(..)(?!$)/g, '$1:');
  return ['v=0', `a=fingerprint:sha-256 ${fingerprint}`, ...candidates.map((c) => `a=${c}`), ''].join('\r\n');
}

describe('a link whose channel never opens', () => {
  /**
   * A responder link for an offer carrying `remote` candidates, on a fake
   * transport that gathers `local` ones and whose ICE found a pair or not;
   * the transport then fails, and the link's close code is returned.
   */
  async function failedWith(local: string[], remote: string[], pathFound: boolean): Promise<ErrorCode | undefined> {
    const [a, b] = [await newIdentity(), await newIdentity()];
    let transportEvents: TransportEvents | undefined;
    const transport: LinkContext['transport'] = (_options, events) => {
      transportEvents = events;
      const fake: Transport = {
        signal: (signal) => {
          if (signal.type !== 'offer') return;
          queueMicrotask(() => {
            events.onSignal({ type: 'answer', sdp: sdp() });
            for (const candidate of local)
              events.onSignal({ type: 'candidate', candidate: { candidate, sdpMid: '0', sdpMLineIndex: 0 } });
          });
        },
        send: () => Promise.resolve(),
        close: () => undefined,
        pathFound: () => pathFound,
      };
      return fake;
    };
    const closed: (ErrorCode | undefined)[] = [];
    const events: LinkEvents = {
      onConnected: () => undefined,
      onClosed: (_link, code) => closed.push(code),
      onMessage: () => undefined,
      onRecords: () => undefined,
      onRelay: () => undefined,
      onMembership: () => undefined,
      onProblem: () => undefined,
    };
    const context: LinkContext = {
      identity: b,
      ed25519,
      now: Date.now,
      iceServers: [],
      transport,
      sendSignal: () => undefined,
      viaOf: () => undefined,
    };
    const session = crypto.getRandomValues(new Uint8Array(16));
    const offer = await signSignal(a, {
      to: b.id,
      session,
      nonce: session,
      seq: 0,
      kind: 'offer',
      expiresAt: Date.now() + 10_000,
      body: sdp(...remote),
    });
    const link = unwrap(
      PeerLink.accept(
        context,
        events,
        unwrap(await openSignal(ed25519, offer, { self: b.id, relayedFrom: a.id, now: Date.now() })),
      ),
    );
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    transportEvents?.onClose('ERR_ICE_CONNECTION_FAILURE');
    expect(link.state).toBe('closed');
    return closed[0];
  }

  it('closes with RELAY_NEEDED when ICE found no pair between two STUN-reflected sides', async () => {
    expect(await failedWith([host, srflx], [host, srflx], false)).toBe(ErrorCode.RELAY_NEEDED);
  });

  it('keeps the plain close when ICE had found a pair (the failure came later, e.g. DTLS)', async () => {
    expect(await failedWith([host, srflx], [host, srflx], true)).toBeUndefined();
  });
});
