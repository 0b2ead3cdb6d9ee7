/**
 * The browser builds carry simple-peer with stand-ins for its Node
 * dependencies (vite.config.ts, web/transport/shims/): simple-peer's own code
 * is there, readable-stream's is not. Reads what the global setup
 * (test/helpers/build-page.ts) has just built into dist/web: the page and
 * the widget.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** Only simple-peer's index.js has this error code (its ICE failure). */
const SIMPLE_PEER_MARK = 'ERR_ICE_CONNECTION_FAILURE';
/** readable-stream's own error codes and state classes. */
const READABLE_STREAM_MARKS = ['ERR_STREAM_PUSH_AFTER_EOF', 'ReadableState', 'ERR_MULTIPLE_CALLBACK'];

async function pageScripts(): Promise<string> {
  const assets = join(DIST, 'assets');
  const names = (await readdir(assets)).filter((name) => name.endsWith('.js'));
  const texts = await Promise.all(names.map((name) => readFile(join(assets, name), 'utf8')));
  return texts.join('\n');
}

describe('the browser bundles', () => {
  it.each([
    ['the widget', () => readFile(join(DIST, 'widget.js'), 'utf8')],
    ['the page', pageScripts],
  ])('%s: simple-peer inside, readable-stream not', async (_name, read) => {
    const code = await read();
    expect(code).toContain(SIMPLE_PEER_MARK);
    for (const mark of READABLE_STREAM_MARKS) expect(code).not.toContain(mark);
  });
});
