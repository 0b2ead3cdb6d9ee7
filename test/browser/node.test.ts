import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { SESSION_NONCE_BYTES, SIGNAL_TTL_MS } from '../../shared/limits.js';
import { openSignal, signSignal, type SignalEnvelope } from '../../shared/protocol/signal.js';
import { ed25519, joined } from '../helpers/client.js';
import { useBrowser } from '../helpers/fixture.js';
import { isOneMesh, waitForMesh } from '../helpers/mesh.js';
import {
  collectMessages,
  idOf,
  reloadTab,
  waitForConnections,
  waitForMessages,
  waitForPeer,
  waitForStoredIdentity,
} from '../helpers/tabs.js';

/** Signals read while waiting for an offer (an offer's trickled candidates come before the next). */
const MAX_SIGNALS_PER_OFFER = 64;

const browser = useBrowser();

describe('tabs as peers', () => {
  it('six tabs join, each gets authenticated connections, and a broadcast reaches every other tab exactly once', async () => {
    const server = await browser.pageServer();
    const tabs = await browser.tabs(server, 6, 'network=six');
    const ids = await Promise.all(tabs.map(idOf));
    expect(new Set(ids).size).toBe(6);
    await Promise.all(tabs.map((tab) => waitForConnections(tab, 1)));
    // One mesh before the broadcast: six tabs joining at once may pair off first.
    await waitForMesh(tabs, isOneMesh);
    for (const [i, tab] of tabs.entries()) {
      const connected = await tab.evaluate(() => window.tabmesh?.connections() ?? []);
      for (const peer of connected) expect(ids.filter((_, j) => j !== i)).toContain(peer);
    }
    const readers = await Promise.all(tabs.map(collectMessages));
    const [origin, ...others] = tabs;
    if (origin === undefined) throw new Error('no tabs');
    await origin.evaluate(() => window.tabmesh?.broadcast('hello, six'));
    await Promise.all(others.map((tab) => waitForMessages(tab, 'hello, six', 1)));
    // A second round from every tab: once all of it has arrived, any duplicate
    // of the first broadcast would have had all that time to arrive as well.
    await Promise.all(tabs.map((tab, i) => tab.evaluate((n) => window.tabmesh?.broadcast(`round two from ${n}`), i)));
    await Promise.all(
      tabs.flatMap((tab, i) =>
        tabs.map((_, j) => (i === j ? Promise.resolve() : waitForMessages(tab, `round two from ${j}`, 1))),
      ),
    );
    for (const [i, read] of readers.entries()) {
      const messages = await read();
      const first = messages.filter((m) => m.data === 'hello, six');
      expect(first).toHaveLength(i === 0 ? 0 : 1);
      if (i > 0) expect(first[0]).toEqual({ from: ids[0], data: 'hello, six', broadcast: true });
      for (let j = 0; j < tabs.length; j++) {
        expect(messages.filter((m) => m.data === `round two from ${j}`)).toHaveLength(i === j ? 0 : 1);
      }
    }
  });

  it('sends 10 MiB to a peer intact, and refuses more than 16 MiB with a clear error', async () => {
    const server = await browser.pageServer();
    const [a, b] = await browser.tabs(server, 2, 'network=bulk');
    if (a === undefined || b === undefined) throw new Error('no tabs');
    const idB = await idOf(b);
    await waitForPeer(a, idB);
    const received = b.evaluate(
      () =>
        new Promise<{ length: number; digest: string }>((resolve) => {
          window.tabmesh?.addEventListener('message', (event) => {
            const { data } = event.detail;
            if (typeof data === 'string') return;
            void crypto.subtle.digest('SHA-256', new Uint8Array(data)).then((d) =>
              resolve({
                length: data.length,
                digest: [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, '0')).join(''),
              }),
            );
          });
        }),
    );
    const sent = await a.evaluate(async (to) => {
      const payload = new Uint8Array(10 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 65536) crypto.getRandomValues(payload.subarray(i, i + 65536));
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', payload));
      await window.tabmesh?.send(to, payload);
      return { length: payload.length, digest: [...digest].map((x) => x.toString(16).padStart(2, '0')).join('') };
    }, idB);
    expect(await received).toEqual(sent);
    const refusal = await a.evaluate(async (to) => {
      try {
        await window.tabmesh?.send(to, new Uint8Array(16 * 1024 * 1024 + 1));
        return 'sent';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    }, idB);
    expect(refusal).toBe('PAYLOAD_TOO_LARGE');
  });

  it('gives a reloaded tab its own ID back, and it reconnects', async () => {
    const server = await browser.pageServer();
    const [a, b] = await browser.tabs(server, 2, 'network=reload');
    if (a === undefined || b === undefined) throw new Error('no tabs');
    const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
    await waitForPeer(a, idB);
    await waitForStoredIdentity(b);
    await reloadTab(b);
    expect(await idOf(b)).toBe(idB);
    await waitForPeer(b, idA);
    await waitForPeer(a, idB);
  });

  it("stores a first visit's fresh key in a slot holding no usable key, leaving a stored identity for a later tab", async () => {
    const server = await browser.pageServer();
    const slotOf = (page: Page): Promise<string | null> => page.evaluate(() => sessionStorage.getItem('tabmesh:slot'));
    const first = await browser.tab(server, 'network=first-visit');
    const kept = await idOf(first);
    await waitForStoredIdentity(first);
    expect(await slotOf(first)).toBe('0');
    // As if localStorage were cleared and IndexedDB kept: the next tab takes
    // the first-visit way, with slot 0 free (its tab closed) but not empty.
    await first.evaluate(() => localStorage.removeItem('tabmesh:identity-stored'));
    await first.close({ runBeforeUnload: true });
    const second = await browser.tab(server, 'network=first-visit');
    await waitForStoredIdentity(second);
    expect(await idOf(second)).not.toBe(kept);
    expect(await slotOf(second)).toBe('1');
    // The identity left in slot 0 comes back to the next tab.
    const third = await browser.tab(server, 'network=first-visit');
    expect(await idOf(third)).toBe(kept);
    expect(await slotOf(third)).toBe('0');
  });

  it("discards a foreign key found in a reloaded tab's identity slot, and keeps the fresh one it makes", async () => {
    const server = await browser.pageServer();
    const tab = await browser.tab(server, 'network=foreign-key');
    const before = await idOf(tab);
    await waitForStoredIdentity(tab);
    const warnings: string[] = [];
    tab.on('console', (message) => {
      if (message.type() === 'warning') warnings.push(message.text());
    });
    // Another key's private half under this slot's public key: it parses, and fails its check.
    const slot = await tab.evaluate(async () => {
      const slot = sessionStorage.getItem('tabmesh:slot');
      const other = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('tabmesh');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error ?? new Error('open failed'));
      });
      const read = db.transaction('kv').objectStore('kv').get(`identity:${slot}`);
      const stored = await new Promise<{ publicKey: Uint8Array }>((resolve) => {
        read.onsuccess = () => resolve(read.result as { publicKey: Uint8Array });
      });
      const write = db.transaction('kv', 'readwrite');
      write
        .objectStore('kv')
        .put({ kind: 'webcrypto', publicKey: stored.publicKey, privateKey: other.privateKey }, `identity:${slot}`);
      await new Promise<void>((resolve, reject) => {
        write.oncomplete = () => resolve();
        write.onerror = () => reject(write.error ?? new Error('write failed'));
      });
      db.close();
      return slot;
    });
    await reloadTab(tab);
    const fresh = await idOf(tab);
    expect(fresh).not.toBe(before);
    expect(await tab.evaluate(() => sessionStorage.getItem('tabmesh:slot'))).toBe(slot);
    expect(warnings.join('\n')).toContain(`tabmesh: discarded an unusable identity in storage slot identity:${slot}`);
    // The fresh key was stored in the slot: the next reload comes back to it.
    await reloadTab(tab);
    expect(await idOf(tab)).toBe(fresh);
  });

  it('never gives two tabs open together the same ID', async () => {
    const server = await browser.pageServer();
    const tabs = await browser.tabs(server, 4, 'network=slots');
    const ids = await Promise.all(tabs.map(idOf));
    expect(new Set(ids).size).toBe(4);
    // A tab opened after another closed may take the freed slot, never a held one.
    await tabs[1]?.close();
    const late = await browser.tab(server, 'network=slots');
    const lateId = await idOf(late);
    expect([ids[0], ids[2], ids[3]]).not.toContain(lateId);
  });

  it('keeps the record of a peer that declined as busy, and dials it again after the back-off', async () => {
    const server = await browser.pageServer();
    // A peer speaking the protocol from Node: registered first, so it is in the
    // tab's sample, and it declines every offer with a signed bye, BUSY.
    const { client, identity } = await joined(server.wsUrl, 'busy');
    browser.defer(() => client.close());
    const tab = await browser.tab(server, 'network=busy');
    const tabId = await idOf(tab);
    const nextOffer = async (): Promise<SignalEnvelope> => {
      for (let i = 0; i < MAX_SIGNALS_PER_OFFER; i++) {
        const message = await client.next(undefined, 20_000);
        if (message.type !== 'signal') continue;
        const opened = await openSignal(ed25519, message.payload, {
          self: identity.id,
          relayedFrom: message.from,
          now: Date.now(),
        });
        if (!opened.ok) throw new Error(`the tab sent a signal that does not open: ${opened.error.message}`);
        if (opened.value.kind === 'offer') return opened.value;
      }
      throw new Error(`no offer among ${MAX_SIGNALS_PER_OFFER} signals`);
    };
    const decline = async (offer: SignalEnvelope): Promise<void> => {
      const payload = await signSignal(identity, {
        to: tabId,
        session: offer.session,
        nonce: randomBytes(SESSION_NONCE_BYTES),
        seq: 0,
        kind: 'bye',
        expiresAt: Date.now() + SIGNAL_TTL_MS,
        body: 'BUSY',
      });
      client.send({ type: 'signal', to: tabId, payload });
    };
    const first = await nextOffer();
    expect(first.from).toBe(tabId);
    await decline(first);
    // The only peer it knows is alive, only busy: the tab tries again, a new session.
    const second = await nextOffer();
    expect(Buffer.from(second.session).equals(Buffer.from(first.session))).toBe(false);
    const known = await tab.evaluate(() => window.tabmesh?.knownPeers().map((peer) => peer.id) ?? []);
    expect(known).toContain(identity.id);
    expect(await tab.evaluate(() => window.tabmesh?.connections() ?? [])).toEqual([]);
  });
});
