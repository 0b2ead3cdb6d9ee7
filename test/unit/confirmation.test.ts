/**
 * The channel confirmation on its own, with real Ed25519: two sides that
 * learn each other's nonces and fingerprints, and frames handed across as the
 * link would hand them (parsed).
 */
import { describe, expect, it, vi } from 'vitest';
import { unwrap, type ErrorCode } from '../../shared/errors.js';
import { Purpose, verifyFrom, type Identity } from '../../shared/identity/signing.js';
import { MAX_FRAMES_BEFORE_CONFIRMED, SESSION_NONCE_BYTES } from '../../shared/limits.js';
import {
  PING_FRAME,
  confirmData,
  encodeConfirm,
  parseChannelFrame,
  type ChannelFrame,
  type ConfirmBody,
} from '../../shared/protocol/channel.js';
import { ChannelConfirmation } from '../../web/node/confirmation.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const parse = (frame: Uint8Array): ChannelFrame => unwrap(parseChannelFrame(frame));
const ping = (): ChannelFrame => parse(PING_FRAME);

/** One side's confirmation, with everything it reports recorded. */
class Side {
  readonly sent: Uint8Array[] = [];
  readonly confirmed: (readonly ChannelFrame[])[] = [];
  readonly failures: { code: ErrorCode; message: string }[] = [];
  readonly confirmation: ChannelConfirmation;

  constructor(
    readonly identity: Identity,
    peer: Identity,
    initiator: boolean,
    session: Uint8Array,
    readonly nonce: Uint8Array,
  ) {
    this.confirmation = new ChannelConfirmation(
      { identity, ed25519, peer: peer.id, initiator, session, localNonce: nonce },
      {
        send: (frame) => {
          this.sent.push(frame);
          return Promise.resolve();
        },
        confirmed: (held) => this.confirmed.push(held),
        failed: (code, message) => this.failures.push({ code, message }),
      },
    );
  }

  /** Our confirmation as the peer receives it. */
  ours(): ChannelFrame {
    const [frame] = this.sent;
    if (frame === undefined) throw new Error('nothing sent');
    return parse(frame);
  }
}

/** An initiator and a responder that have exchanged signed SDPs, and what they both should sign. */
async function pair(): Promise<{ initiator: Side; responder: Side; body: ConfirmBody; third: Identity }> {
  const [a, b, third] = [await newIdentity(), await newIdentity(), await newIdentity()];
  const session = random(SESSION_NONCE_BYTES);
  const responderNonce = random(SESSION_NONCE_BYTES);
  const [initiatorFingerprint, responderFingerprint] = [random(32), random(32)];
  const initiator = new Side(a, b, true, session, session);
  const responder = new Side(b, a, false, session, responderNonce);
  initiator.confirmation.learnLocal(initiatorFingerprint);
  responder.confirmation.learnRemote(session, initiatorFingerprint);
  responder.confirmation.learnLocal(responderFingerprint);
  initiator.confirmation.learnRemote(responderNonce, responderFingerprint);
  const body: ConfirmBody = {
    from: a.id,
    to: b.id,
    session,
    initiatorNonce: session,
    responderNonce,
    initiatorFingerprint,
    responderFingerprint,
  };
  return { initiator, responder, body, third };
}

/** A confirmation of `body` signed by `signer` for `purpose`, as received. */
async function confirmation(body: ConfirmBody, signer: Identity, purpose: Purpose = Purpose.CONFIRM) {
  return parse(encodeConfirm(body, await signer.sign(purpose, confirmData(body))));
}

describe('ChannelConfirmation', () => {
  it('confirms both directions with signatures over the shared statement', async () => {
    const { initiator, responder, body } = await pair();
    await initiator.confirmation.start();
    await responder.confirmation.start();
    // Each signs exactly the statement naming both IDs, the session, both nonces and both fingerprints.
    const fromInitiator = initiator.ours();
    expect(fromInitiator).toMatchObject({ type: 'confirm', body, data: confirmData(body) });
    const fromResponder = responder.ours();
    const back: ConfirmBody = { ...body, from: body.to, to: body.from };
    expect(fromResponder).toMatchObject({ type: 'confirm', body: back, data: confirmData(back) });
    if (fromInitiator.type !== 'confirm' || fromResponder.type !== 'confirm') throw new Error('not confirmations');
    const a = initiator.identity.id;
    expect(await verifyFrom(ed25519, a, Purpose.CONFIRM, confirmData(body), fromInitiator.signature)).toBe(true);

    responder.confirmation.receive(fromInitiator);
    initiator.confirmation.receive(fromResponder);
    await vi.waitFor(() => {
      expect(initiator.confirmed).toEqual([[]]);
      expect(responder.confirmed).toEqual([[]]);
    });
    expect([...initiator.failures, ...responder.failures]).toEqual([]);
  });

  it("waits for our own confirmation to be sent as well as for the peer's", async () => {
    const { initiator, responder } = await pair();
    await initiator.confirmation.start();
    responder.confirmation.receive(initiator.ours());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(responder.confirmed).toEqual([]);
    await responder.confirmation.start();
    expect(responder.confirmed).toEqual([[]]);
  });

  it.each<[string, (body: ConfirmBody, third: Identity) => ConfirmBody]>([
    ['the initiator fingerprint', (body) => ({ ...body, initiatorFingerprint: random(32) })],
    ['the responder fingerprint', (body) => ({ ...body, responderFingerprint: random(32) })],
    ['the initiator nonce', (body) => ({ ...body, initiatorNonce: random(SESSION_NONCE_BYTES) })],
    ['the responder nonce', (body) => ({ ...body, responderNonce: random(SESSION_NONCE_BYTES) })],
    ['the session', (body) => ({ ...body, session: random(SESSION_NONCE_BYTES) })],
    ['the sender', (body, third) => ({ ...body, from: third.id })],
    ['the recipient', (body, third) => ({ ...body, to: third.id })],
  ])('fails a confirmation, validly signed, that names another %s', async (_, alter) => {
    const { initiator, responder, body, third } = await pair();
    await responder.confirmation.start();
    responder.confirmation.receive(await confirmation(alter(body, third), initiator.identity));
    await vi.waitFor(() => expect(responder.failures).toHaveLength(1));
    expect(responder.failures).toEqual([
      { code: 'CONFIRM_FAILED', message: 'confirmation names other keys, nonces or fingerprints' },
    ]);
    expect(responder.confirmed).toEqual([]);
  });

  it('fails a confirmation from another peer, signed by that peer', async () => {
    const { responder, body, third } = await pair();
    await responder.confirmation.start();
    responder.confirmation.receive(await confirmation({ ...body, from: third.id }, third));
    await vi.waitFor(() => expect(responder.failures).toHaveLength(1));
    expect(responder.failures).toEqual([
      { code: 'CONFIRM_FAILED', message: 'confirmation names other keys, nonces or fingerprints' },
    ]);
    expect(responder.confirmed).toEqual([]);
  });

  it.each<[string, (signer: Identity, third: Identity) => Identity, Purpose]>([
    ['by another key', (_signer, third) => third, Purpose.CONFIRM],
    ['for another purpose', (signer) => signer, Purpose.SIGNAL],
  ])('fails a confirmation signed %s', async (_, who, purpose) => {
    const { initiator, responder, body, third } = await pair();
    await responder.confirmation.start();
    responder.confirmation.receive(await confirmation(body, who(initiator.identity, third), purpose));
    await vi.waitFor(() => expect(responder.failures).toHaveLength(1));
    expect(responder.failures).toEqual([{ code: 'CONFIRM_FAILED', message: 'confirmation signature does not verify' }]);
    expect(responder.confirmed).toEqual([]);
  });

  it('fails a confirmation whose signature has a byte changed', async () => {
    const { initiator, responder } = await pair();
    await initiator.confirmation.start();
    await responder.confirmation.start();
    const frame = initiator.sent[0] ?? new Uint8Array();
    const tampered = frame.slice();
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    responder.confirmation.receive(parse(tampered));
    await vi.waitFor(() => expect(responder.failures).toHaveLength(1));
    expect(responder.failures[0]?.code).toBe('CONFIRM_FAILED');
    expect(responder.confirmed).toEqual([]);
  });

  it("holds what comes behind the peer's confirmation until it is checked, then hands it over in order", async () => {
    const { initiator, responder } = await pair();
    await initiator.confirmation.start();
    await responder.confirmation.start();
    responder.confirmation.receive(initiator.ours());
    const frames = Array.from({ length: MAX_FRAMES_BEFORE_CONFIRMED }, ping);
    for (const frame of frames) responder.confirmation.receive(frame);
    expect(responder.confirmed).toEqual([]);
    await vi.waitFor(() => expect(responder.confirmed).toHaveLength(1));
    const [held] = responder.confirmed;
    expect(held).toHaveLength(MAX_FRAMES_BEFORE_CONFIRMED);
    held?.forEach((frame, i) => expect(frame).toBe(frames[i]));
    expect(responder.failures).toEqual([]);
  });

  it('fails when more than MAX_FRAMES_BEFORE_CONFIRMED frames come while it is checked', async () => {
    const { initiator, responder } = await pair();
    await initiator.confirmation.start();
    await responder.confirmation.start();
    responder.confirmation.receive(initiator.ours());
    for (let i = 0; i <= MAX_FRAMES_BEFORE_CONFIRMED; i++) responder.confirmation.receive(ping());
    expect(responder.failures).toEqual([
      { code: 'PROTOCOL_VIOLATION', message: 'too many frames while the channel was being confirmed' },
    ]);
    // The check, finishing afterwards, does not revive it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(responder.confirmed).toEqual([]);
  });

  it('treats a frame before any confirmation as a violation', async () => {
    const { initiator, responder } = await pair();
    await responder.confirmation.start();
    responder.confirmation.receive(ping());
    expect(responder.failures).toEqual([
      { code: 'PROTOCOL_VIOLATION', message: 'data before the channel was confirmed (a ping frame)' },
    ]);
    // A confirmation after that counts for nothing.
    await initiator.confirmation.start();
    responder.confirmation.receive(initiator.ours());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(responder.confirmed).toEqual([]);
    expect(responder.failures).toHaveLength(1);
  });

  it('fails when the channel opens before both signed SDPs are known', async () => {
    const [a, b] = [await newIdentity(), await newIdentity()];
    const session = random(SESSION_NONCE_BYTES);
    const side = new Side(a, b, true, session, session);
    side.confirmation.learnLocal(random(32));
    await side.confirmation.start();
    expect(side.failures).toEqual([
      { code: 'CONFIRM_FAILED', message: 'channel opened before both signed SDPs were known' },
    ]);
    expect(side.sent).toEqual([]);
  });

  it('fails, sending nothing, when our confirmation cannot be signed', async () => {
    const [a, b] = [await newIdentity(), await newIdentity()];
    const broken: Identity = { ...a, sign: () => Promise.reject(new Error('key unusable')) };
    const session = random(SESSION_NONCE_BYTES);
    const side = new Side(broken, b, true, session, session);
    side.confirmation.learnLocal(random(32));
    side.confirmation.learnRemote(random(SESSION_NONCE_BYTES), random(32));
    await side.confirmation.start();
    expect(side.failures).toEqual([{ code: 'CONFIRM_FAILED', message: 'our confirmation could not be signed' }]);
    expect(side.sent).toEqual([]);
  });

  it('reports nothing once stopped (the link closed), even if the check passes', async () => {
    const { initiator, responder } = await pair();
    await initiator.confirmation.start();
    await responder.confirmation.start();
    responder.confirmation.receive(initiator.ours());
    responder.confirmation.receive(ping());
    responder.confirmation.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(responder.confirmed).toEqual([]);
    expect(responder.failures).toEqual([]);
  });
});
