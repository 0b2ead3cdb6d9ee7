/**
 * The embeddable widget as the server serves it: dist/web/widget.js, ONE
 * self-contained ES module (every dependency and every lazily loaded chunk
 * inlined), so `<script type="module" src="https://server/widget.js">` is
 * all a site needs. Built after the page (vite.config.ts), into its folder.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: `${here}web`,
  publicDir: false,
  logLevel: 'warn',
  build: {
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
      output: { format: 'es', entryFileNames: 'widget.js', codeSplitting: false },
    },
  },
});
