/**
 * Vitest global setup: build what `npm start` serves, once: the page, then
 * the widget (dist/web/widget.js) beside it.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export default async function setup(): Promise<void> {
  const configFile = fileURLToPath(new URL('../../vite.config.ts', import.meta.url));
  for (const mode of ['production', 'widget']) await build({ configFile, mode, logLevel: 'warn' });
}
