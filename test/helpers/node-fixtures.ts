/** Helpers for tests of the Node peer (web/nodejs): a logger that keeps warnings, a data directory, a stand-in transport. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../web/node/options.js';
import type { TransportFactory } from '../../web/transport/transport.js';

/** A logger that keeps each warning (message and fields) for the test to read. */
export class WarningLog implements Logger {
  readonly warnings: { readonly message: string; readonly fields: object | undefined }[] = [];
  debug(): void {}
  info(): void {}
  warn(message: string, fields?: object): void {
    this.warnings.push({ message, fields });
  }
  error(message: string, fields?: object): void {
    this.warnings.push({ message, fields });
  }
  /** The warnings' messages. */
  messages(): string[] {
    return this.warnings.map((w) => w.message);
  }
}

/** A fresh directory under the system's temp directory; `remove` deletes it. */
export async function tempDir(): Promise<{ readonly path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'tabmesh-node-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A transport that never connects: for nodes whose tests need no WebRTC. */
export const idleTransport: TransportFactory = () => ({
  signal: () => undefined,
  send: () => Promise.resolve(),
  close: () => undefined,
});
