/**
 * The page's head script (web/index.html) opens the signaling socket and the
 * database before the page's modules load, so it cannot import the constants
 * and the URL it depends on: it writes their values, and this checks they
 * still agree.
 */
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { THEME_KEY } from '../../web/app/theme.js';
import { defaultSignalingUrl } from '../../web/node/boot.js';
import { DEFAULT_NETWORK } from '../../web/node/options.js';
import { MAX_EARLY_FRAMES } from '../../web/signaling-client.js';
import { IDB_DATABASE, IDB_STORE } from '../../web/storage/store.js';

const html = readFileSync(new URL('../../web/index.html', import.meta.url), 'utf8');

describe("the page's head script", () => {
  it('uses the default network, frame cap and database names the node uses', () => {
    expect(html).toContain(`url.searchParams.set('network', query.get('network') || '${DEFAULT_NETWORK}')`);
    expect(html).toContain(`frames.length < ${MAX_EARLY_FRAMES}`);
    expect(html).toContain(`indexedDB.open('${IDB_DATABASE}')`);
    expect(html).toContain(`createObjectStore('${IDB_STORE}')`);
  });

  it('opens its socket to the signaling URL the node defaults to', () => {
    // The template literal the head script passes to `new URL`, run as the
    // page would run it.
    const written = /const url = new URL\((`[^`]*`)\);/.exec(html)?.[1];
    expect(written).toBeDefined();
    for (const location of [
      { protocol: 'http:', host: 'localhost:8080' },
      { protocol: 'https:', host: 'mesh.example' },
      { protocol: 'https:', host: '[::1]:8443' },
    ]) {
      expect(runInNewContext(written ?? '', { location })).toBe(defaultSignalingUrl(location));
    }
  });

  it('reads the theme from the key the toggle stores it under', () => {
    expect(html).toContain(`localStorage.getItem('${THEME_KEY}')`);
  });
});
