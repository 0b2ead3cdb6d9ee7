/**
 * Vitest global setup: build what `npm start` serves, once: the page, then
 * the widget (dist/web/widget.js) beside it.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export default async function setup(): Promise<void> {
  for (const config of ['vite.config.ts', 'vite.widget.config.ts']) {
    await build({ configFile: fileURLToPath(new URL(`../../${config}`, import.meta.url)), logLevel: 'warn' });
  }
}
