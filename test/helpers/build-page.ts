/**
 * Vitest global setup: build what `npm start` serves, once: the page, then
 * the widget (dist/web/widget.js) beside it, and the server's CLI
 * (dist/signaling-server/cli.js, which the NAT lab runs as a user would).
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { withTimeout } from './events.js';

/** Bound on compiling the server (about 5 s on 2 cores). */
const SERVER_BUILD_MS = 120_000;

/** `tsc -p signaling-server/tsconfig.build.json`, as `npm run build` compiles the server into dist/ (the lab benchmark too). */
export function buildServer(): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return withTimeout(
    new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [tsc, '-p', 'signaling-server/tsconfig.build.json'],
        { cwd: root },
        (error, stdout, stderr) => {
          if (error === null) resolve();
          else reject(new Error(`compiling the server failed: ${stdout}${stderr}`));
        },
      );
    }),
    SERVER_BUILD_MS,
    'the server to compile (tsc -p signaling-server/tsconfig.build.json)',
  );
}

export default async function setup(): Promise<void> {
  const configFile = fileURLToPath(new URL('../../vite.config.ts', import.meta.url));
  // The server compiles in a process of its own while Vite builds the page.
  const server = buildServer();
  try {
    for (const mode of ['production', 'widget']) await build({ configFile, mode, logLevel: 'warn' });
  } finally {
    await server;
  }
}
