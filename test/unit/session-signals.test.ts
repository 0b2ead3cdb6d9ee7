import { describe, expect, it } from 'vitest';
import { openSignal } from '../../shared/protocol/signal.js';
import { MAX_RESENT_SIGNALS, SessionSignals } from '../../web/node/session-signals.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const NOW = 1_800_000_000_000;

async function setup() {
  const alice = await newIdentity();
  const bob = await newIdentity();
  const session = crypto.getRandomValues(new Uint8Array(16));
  const delivered: string[] = [];
  const signals = new SessionSignals({
    identity: alice,
    peer: bob.id,
    session,
    nonce: session,
    now: () => NOW,
    deliver: (payload) => delivered.push(payload),
  });
  /** What bob reads from each delivered payload. */
  const opened = () =>
    Promise.all(
      delivered.map(async (payload) => {
        const result = await openSignal(ed25519, payload, { self: bob.id, relayedFrom: alice.id, now: NOW });
        if (!result.ok) throw result.error;
        return result.value;
      }),
    );
  return { alice, session, signals, delivered, opened };
}

describe('SessionSignals', () => {
  it('signs each signal for the peer and session, in the order sent, with rising sequence numbers', async () => {
    const { alice, session, signals, opened } = await setup();
    await Promise.all([
      signals.send('offer', 'v=0 sdp'),
      signals.send('candidate', 'c1'),
      signals.send('candidate', 'c2'),
    ]);
    const envelopes = await opened();
    expect(envelopes.map((e) => [e.kind, e.body, e.seq])).toEqual([
      ['offer', 'v=0 sdp', 0],
      ['candidate', 'c1', 1],
      ['candidate', 'c2', 2],
    ]);
    for (const envelope of envelopes) {
      expect(envelope.from).toBe(alice.id);
      expect(envelope.session).toEqual(session);
      expect(envelope.expiresAt).toBeGreaterThan(NOW);
    }
  });

  it('sends the kept signals again with fresh sequence numbers, but not a bye', async () => {
    const { signals, opened } = await setup();
    await signals.send('offer', 'sdp');
    await signals.sendOnce('bye', 'closed');
    signals.resendAll((error) => {
      throw error;
    });
    await signals.sendOnce('candidate', 'marker'); // queued behind the resend
    const envelopes = await opened();
    expect(envelopes.map((e) => [e.kind, e.seq])).toEqual([
      ['offer', 0],
      ['bye', 1],
      ['offer', 2],
      ['candidate', 3],
    ]);
  });

  it(`keeps at most ${MAX_RESENT_SIGNALS} signals for re-sending`, async () => {
    const { signals, delivered } = await setup();
    await Promise.all(Array.from({ length: MAX_RESENT_SIGNALS + 5 }, (_, i) => signals.send('candidate', `c${i}`)));
    delivered.length = 0;
    signals.resendAll((error) => {
      throw error;
    });
    await signals.sendOnce('bye', 'marker');
    expect(delivered).toHaveLength(MAX_RESENT_SIGNALS + 1);
  });
});
