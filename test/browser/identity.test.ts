import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../shared/bytes.js';
import { SMALL_ORDER_KEY_ENCODINGS, verifyDetached } from '../../shared/identity/ed25519.js';
import { peerIdFromPublicKey } from '../../shared/identity/peer-id.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { RFC8032, addScalarL } from '../helpers/ed25519-vectors.js';
import { useBrowser } from '../helpers/fixture.js';

const browser = useBrowser();

describe('identity in Chromium', () => {
  it('Web Crypto and tweetnacl in the browser give the RFC 8032 answers, the same IDs as Node, and refuse the same inputs', async () => {
    const page = await browser.fixtureTab('identity', '', 'identityChecks');
    const malleated = RFC8032.map((v) => toHex(addScalarL(fromHex(v.signature))));
    const out = await page.evaluate(([vectors, mall, small]) => window.identityChecks(vectors, mall, small), [
      RFC8032.map((v) => ({ ...v })),
      malleated,
      SMALL_ORDER_KEY_ENCODINGS.map(toHex),
    ] as const);
    // Chromium has native Ed25519, so detection picks it.
    expect(out.detected).toBe('webcrypto');
    const node = createNodeEd25519();
    for (const r of out.results) {
      expect(r.verifies).toBe(true);
      expect(r.malleatedVerifies).toBe(false);
      if (r.vector >= 0) {
        const v = RFC8032[r.vector];
        expect(r.publicKey).toBe(v?.public);
        expect(r.signature).toBe(v?.signature);
        expect(r.id).toBe(peerIdFromPublicKey(fromHex(v?.public ?? '')));
      } else {
        // A key generated in the browser verifies in Node.
        const message = new TextEncoder().encode('generated in the browser');
        expect(await verifyDetached(node, fromHex(r.publicKey), message, fromHex(r.signature))).toBe(true);
        expect(r.id).toBe(peerIdFromPublicKey(fromHex(r.publicKey)));
      }
    }
    // BoringSSL refuses S + L natively; tweetnacl does not, which the shared checks cover.
    expect(out.results.filter((r) => r.backend === 'webcrypto' && r.vector >= 0).every((r) => !r.rawMalleated)).toBe(
      true,
    );
    expect(out.results.filter((r) => r.backend === 'tweetnacl' && r.vector >= 0).every((r) => r.rawMalleated)).toBe(
      true,
    );
    expect(out.smallOrderAccepted).toEqual(SMALL_ORDER_KEY_ENCODINGS.map(() => false));
  });
});
