/**
 * One config for every browser build and for Vitest, chosen by Vite's mode:
 *
 * - `vite build` (mode `production`): the page, web/ → dist/web.
 * - `vite build --mode widget`: the embeddable widget as the server serves it,
 *   dist/web/widget.js: ONE self-contained ES module (every dependency and
 *   every lazily loaded chunk inlined), so `<script type="module"
 *   src="https://server/widget.js">` is all a site needs. Built after the
 *   page, into its folder.
 * - `vite build --mode lib`: the package's browser entries (`tabmesh`,
 *   `tabmesh/widget`), plain ES modules in dist/lib with every dependency
 *   bundled in, so a consumer's bundler needs no `global`/`process` setup.
 *   Shared code and tweetnacl (loaded only when first needed) are chunks
 *   beside them. Not minified: consumers minify.
 * - Vitest (mode `test`): the tests under test/.
 *
 * The browser builds swap simple-peer's Node dependencies for small
 * stand-ins (`simplePeerShims`); Vitest runs simple-peer over the real ones.
 */
import { fileURLToPath } from 'node:url';
import type { BuildEnvironmentOptions, HtmlTagDescriptor, Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The widget's file name inside dist/web (the server serves it at /widget.js). */
export const WIDGET_FILE = 'widget.js';

/**
 * Inline every imported constant (the numbers of shared/limits.ts, above all)
 * where it is used, not only in conditions (rolldown's default, `smart`). For
 * the minified browser builds; the lib keeps its names for its readers.
 */
const inlineConstants = { inlineConst: { mode: 'all', pass: 2 } } as const;

const widget: BuildEnvironmentOptions = {
  outDir: `${here}dist/web`,
  emptyOutDir: false,
  target: 'es2022',
  minify: true,
  // Not library mode: that leaves whitespace in ES output, and this file is
  // loaded as is. The entry's exports stay (a host may import the class).
  copyPublicDir: false,
  modulePreload: false,
  rolldownOptions: {
    input: `${here}web/widget/index.ts`,
    preserveEntrySignatures: 'strict',
    output: { format: 'es', entryFileNames: WIDGET_FILE, codeSplitting: false },
    optimization: inlineConstants,
  },
};

const lib: BuildEnvironmentOptions = {
  outDir: `${here}dist/lib`,
  emptyOutDir: true,
  target: 'es2022',
  minify: false,
  lib: {
    entry: { tabmesh: `${here}web/tabmesh.ts`, widget: `${here}web/widget/index.ts` },
    formats: ['es'],
    fileName: (_format, name) => `${name}.js`,
  },
  rolldownOptions: { output: { chunkFileNames: 'chunks/[name]-[hash].js' } },
};

/**
 * Stand-ins for simple-peer's Node dependencies in the browser builds (not in
 * Vitest, where Node runs the real packages): each is only what simple-peer's
 * index.js calls (web/transport/shims/). The real readable-stream, buffer,
 * events, process and util shims, debug and randombytes were about 20 KiB of
 * the widget, gzipped, for code Tabmesh never runs: it reads a peer through
 * its events, never as a stream.
 */
export const simplePeerShims: Readonly<Record<string, string>> = {
  'readable-stream': `${here}web/transport/shims/readable-stream.ts`,
  buffer: `${here}web/transport/shims/buffer.ts`,
  debug: `${here}web/transport/shims/debug.cjs`,
  randombytes: `${here}web/transport/shims/randombytes.cjs`,
};

/**
 * Vite wraps every dynamic `import()` of a client build in its preload helper
 * (`\0vite/preload-helper.js`, about 1.7 KB minified), whatever
 * `build.modulePreload` says; no option turns that off outside library mode.
 * The widget inlines every lazily loaded module, so there is nothing to
 * preload: this stands a pass-through in for the helper, resolved and loaded
 * before Vite's own plugin sees it.
 */
function withoutPreloadHelper(): Plugin {
  const id = '\0vite/preload-helper.js';
  return {
    name: 'tabmesh:without-preload-helper',
    apply: 'build',
    enforce: 'pre',
    resolveId: (source) => (source === id ? id : undefined),
    load: (loaded) => (loaded === id ? 'export const __vitePreload = (load) => load();' : undefined),
  };
}

/**
 * tweetnacl falls back to Node's `crypto` behind `typeof require` when it finds
 * no `self.crypto`. In a bundle that test sees rolldown's `require` shim, so
 * the shim (with its long error message) and an empty stand-in for `crypto` are
 * bundled for a branch that does nothing in a browser. A browser has no
 * `require`: say so at build time (for every module), and the dead code goes.
 * Only for the builds that run in browsers alone, not the lib: a consumer may
 * run that under Node, where tweetnacl needs the branch.
 */
const browserOnly = { 'typeof require': JSON.stringify('undefined') };

/**
 * The page's first script (web/app/entry.ts) starts booting, then imports the
 * rest (web/app/main.ts) dynamically, so the browser would ask for that chunk
 * only once the first script has run. This plugin names it, with the chunks it
 * imports, in `<link rel="modulepreload">` tags in the page's head: the
 * browser fetches and compiles it while the first script loads and runs.
 */
function preloadPageChunks(): Plugin {
  let base = '/';
  return {
    name: 'tabmesh:preload-page-chunks',
    apply: 'build',
    configResolved(config) {
      base = config.base;
    },
    transformIndexHtml: {
      order: 'post',
      handler(_html, { bundle, chunk }): HtmlTagDescriptor[] {
        if (bundle === undefined || chunk === undefined) return [];
        const loaded = new Set([chunk.fileName, ...chunk.imports]);
        const wanted: string[] = [];
        const visit = (fileName: string): void => {
          const output = bundle[fileName];
          if (loaded.has(fileName) || output?.type !== 'chunk') return;
          loaded.add(fileName);
          wanted.push(fileName);
          output.imports.forEach(visit);
        };
        for (const output of Object.values(bundle)) {
          if (output.type === 'chunk' && output.facadeModuleId?.endsWith('/web/app/main.ts') === true)
            visit(output.fileName);
        }
        return wanted.map((fileName) => ({
          tag: 'link',
          attrs: { rel: 'modulepreload', crossorigin: true, href: `${base}${fileName}` },
          injectTo: 'head',
        }));
      },
    },
  };
}

export default defineConfig(({ mode }) => ({
  root: `${here}web`,
  plugins: mode === 'production' ? [preloadPageChunks()] : mode === 'widget' ? [withoutPreloadHelper()] : [],
  ...(mode === 'test'
    ? {}
    : {
        resolve: { alias: { ...simplePeerShims } },
        define: {
          // queue-microtask (simple-peer's) names Node's `global` where there is no `window`, as in a worker.
          global: 'globalThis',
          ...(mode === 'production' || mode === 'widget' ? browserOnly : {}),
        },
      }),
  ...(mode === 'widget' || mode === 'lib' ? { publicDir: false as const, logLevel: 'warn' as const } : {}),
  build:
    mode === 'widget'
      ? widget
      : mode === 'lib'
        ? lib
        : {
            outDir: `${here}dist/web`,
            emptyOutDir: true,
            target: 'es2022',
            rolldownOptions: { optimization: inlineConstants },
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
    // One test file at a time: a browser test runs a dozen tabs, each with
    // real WebRTC, on 2 cores; two such files at once starve each other's
    // timers (observed as connection attempts outliving their timeouts).
    maxWorkers: 1,
  },
}));
