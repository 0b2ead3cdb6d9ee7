/**
 * Reading and writing the data directory's files. A write is atomic: a
 * temporary file beside the target (created 0600, never world-readable even
 * for a moment), fsynced, renamed over the target, then the directory
 * fsynced, so a crash leaves the old file or the new one, never half of one.
 * A read is bounded: a file over its cap is refused before it is read whole.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Mode of every file written: the owner reads and writes, nobody else. */
export const FILE_MODE = 0o600;
/** What marks a temporary file, before its target's name: `<name>.tmp-<random>`. */
export const TEMP_MARK = '.tmp-';

export type ReadResult =
  | { readonly kind: 'missing' }
  | { readonly kind: 'read'; readonly text: string }
  | { readonly kind: 'too-large'; readonly size: number };

/** Read `path` as UTF-8 if it is at most `capBytes` long. */
export async function readBounded(path: string, capBytes: number): Promise<ReadResult> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return { kind: 'missing' };
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size > capBytes) return { kind: 'too-large', size };
    // One byte more than the cap: a file that grew since stat is still caught.
    const buffer = Buffer.alloc(capBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > capBytes) return { kind: 'too-large', size: length };
    }
    return { kind: 'read', text: buffer.subarray(0, length).toString('utf8') };
  } finally {
    await handle.close();
  }
}

/** Replace `path` with `text` atomically (see the file's comment); the file ends with mode FILE_MODE. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `${basename(path)}${TEMP_MARK}${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, 'wx', FILE_MODE);
  try {
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch((cleanup: unknown) => {
      // The write's own error is the one to report; a temp file left over is harmless.
      if (!isCode(cleanup, 'ENOENT')) throw new AggregateError([error, cleanup], 'write and cleanup failed');
    });
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Make a rename in `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Windows cannot fsync a directory (EPERM/EISDIR); there the rename is as durable as it gets.
    if (!isCode(error, 'EPERM') && !isCode(error, 'EISDIR') && !isCode(error, 'EINVAL')) throw error;
  } finally {
    await handle.close();
  }
}

/** Whether `error` is a Node system error with `code`. */
export function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}
