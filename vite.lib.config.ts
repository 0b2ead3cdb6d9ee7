/**
 * The package's browser entries (`tabmesh`, `tabmesh/widget`): plain ES
 * modules in dist/lib with every dependency bundled in, so a consumer's
 * bundler (Vite, webpack, esbuild) needs no `global`/`process` setup and
 * resolves nothing of ours. Shared code and tweetnacl (loaded only when
 * first needed) are chunks beside them. Not minified: consumers minify.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: `${here}web`,
  publicDir: false,
  logLevel: 'warn',
  build: {
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
  },
});
