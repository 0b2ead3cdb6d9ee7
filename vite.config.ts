/**
 * One config for the page build (root web/, output dist/web) and for Vitest
 * (tests under test/). simple-peer (next issue) needs `global` mapped to
 * globalThis in the browser build.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: `${here}web`,
  define: { global: 'globalThis' },
  build: {
    outDir: `${here}dist/web`,
    emptyOutDir: true,
    target: 'es2022',
  },
  test: {
    root: here,
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // Browser tests load the page `npm start` serves: build it once per run.
    globalSetup: ['./test/helpers/build-page.ts'],
    // Browser and socket tests wait on events with bounded timeouts of their own.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // 2 cores: one worker per core keeps Chromium tests from starving.
    maxWorkers: 2,
  },
});
