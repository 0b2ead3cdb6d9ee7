/**
 * The page's head script (web/index.html) opens the signaling socket and the
 * database before the page's modules load, so it cannot import the constants
 * it depends on: it writes their values, and this checks they still agree.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
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
});
