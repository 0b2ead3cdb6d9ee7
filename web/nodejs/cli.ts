#!/usr/bin/env node
/**
 * `tabmesh-peer`: run an always-on Tabmesh peer (a seed). See
 * `tabmesh-peer --help` and docs/NODE.md. It logs one JSON line per event to
 * stdout; exits 0 after a graceful shutdown on SIGTERM or SIGINT, 1 if it
 * cannot start or stop in time, 2 on a usage error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parsePeerCli, usage, UsageError } from './peer-config.js';
import { createPeerLog } from './peer-log.js';
import { logFatal, runPeer } from './peer-run.js';

/** The package version, from package.json above web/nodejs/ (source) or dist/node/web/nodejs/ (built). */
function version(): string {
  for (const path of ['../../package.json', '../../../../package.json']) {
    const url = new URL(path, import.meta.url);
    if (!existsSync(url)) continue;
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: unknown; version?: unknown };
    if (pkg.name === 'tabmesh' && typeof pkg.version === 'string') return pkg.version;
  }
  return 'unknown';
}

function main(): Promise<number> {
  let command;
  try {
    command = parsePeerCli(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`tabmesh-peer: ${error.message}\n\n${usage()}`);
    return Promise.resolve(2);
  }
  if (command.kind === 'help') {
    process.stdout.write(usage());
    return Promise.resolve(0);
  }
  if (command.kind === 'version') {
    process.stdout.write(`${version()}\n`);
    return Promise.resolve(0);
  }
  const log = createPeerLog(command.config.logLevel);
  // Whatever escapes at run time is one fatal line too, never a bare stack trace.
  const crash = (error: unknown): void => {
    logFatal(log, error);
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  return runPeer(command.config, log, {
    // Loaded only now, so --help and usage errors never load WebRTC.
    createNode: async (options) => (await import('./index.js')).createNode(options),
    signals: process,
    version: version(),
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`tabmesh-peer: ${String(error)}\n`);
    process.exit(1);
  },
);
