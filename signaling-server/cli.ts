#!/usr/bin/env node
/**
 * `tabmesh-signal`: run a signaling server. See `tabmesh-signal --help` and
 * docs/SELF-HOSTING.md (every option). Exits 0 after a graceful shutdown on
 * SIGTERM or SIGINT, 2 on a usage error, 1 if it cannot start.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createLogger } from './logger.js';
import { parseCli, usage, UsageError } from './config.js';
import { createSignalingServer } from './server.js';

/** The package version, from package.json beside dist/ or beside this source file's folder. */
function version(): string {
  for (const path of ['../package.json', '../../package.json']) {
    const url = new URL(path, import.meta.url);
    if (!existsSync(url)) continue;
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'tabmesh') return pkg.version ?? 'unknown';
  }
  return 'unknown';
}

async function main(): Promise<number> {
  let config;
  try {
    config = parseCli(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tabmesh-signal: ${error.message}\n\n${usage()}`);
      return 2;
    }
    throw error;
  }
  if (config.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (config.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const logger = createLogger(config.logLevel);
  const server = createSignalingServer(config.options, { logger });
  try {
    await server.listen();
  } catch (error) {
    logger.error({ err: error }, 'cannot listen');
    return 1;
  }
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal; exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'signal received');
      server.close().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`tabmesh-signal: ${String(error)}\n`);
    process.exit(1);
  },
);
