/**
 * One node per data directory: a lock file (LOCK_FILE) holding the holder's
 * pid, created whole (see tryCreate). A second node (another process, or this one)
 * gets DATA_DIR_LOCKED; a lock whose pid is no longer alive is stale, and is
 * taken over with a warning. The lock goes when the node closes, and on the
 * process's exit if it did not (a synchronous 'exit' handler; a crash that
 * skips it leaves a stale lock, which the next start takes over).
 *
 * Taking over a stale lock is unlink-then-create: two processes doing it at
 * the same moment could both succeed. That needs two starts racing on one
 * directory right after a crash; running one node per directory is the
 * operator's part.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readSync, realpathSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { Logger } from '../node/options.js';
import { FILE_MODE, TEMP_MARK, isCode } from './atomic-file.js';
import { LOCK_FILE } from './data-dir.js';

/** Bytes of a lock file read: a pid and a newline need far fewer. */
export const MAX_LOCK_FILE_BYTES = 64;

/**
 * Lock files this process holds, by path. Per process by nature (a pid
 * cannot tell two nodes of one process apart), hence module state: with it a
 * second node here is refused, and a lock left by an earlier process that
 * had our pid (a container's pid 1, restarted) is known to be stale.
 */
const heldHere = new Set<string>();

export interface DirLock {
  readonly path: string;
  /** Remove the lock file (once; later calls do nothing). */
  release(): void;
}

/** Take the lock of data directory `dir` (absolute); throws DATA_DIR_LOCKED when a live node holds it. */
export function acquireLock(dir: string, logger: Logger): DirLock {
  const path = join(realpathSync(dir), LOCK_FILE);
  if (heldHere.has(path)) {
    throw new TabmeshError(
      ErrorCode.DATA_DIR_LOCKED,
      `data directory ${dir} is in use by another node of this process (pid ${process.pid})`,
    );
  }
  if (!tryCreate(path)) {
    const holder = readHolder(path);
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
      throw new TabmeshError(
        ErrorCode.DATA_DIR_LOCKED,
        `data directory ${dir} is in use by process ${holder} (lock file ${path})`,
      );
    }
    logger.warn(
      `taking over a stale lock on ${dir}: ${holder === undefined ? 'unreadable lock file' : `process ${holder} is gone`}`,
      { path },
    );
    unlinkIfPresent(path);
    if (!tryCreate(path)) {
      throw new TabmeshError(
        ErrorCode.DATA_DIR_LOCKED,
        `data directory ${dir} was locked by another process meanwhile`,
      );
    }
  }
  heldHere.add(path);
  const onExit = (): void => unlinkIfPresent(path);
  process.on('exit', onExit);
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      heldHere.delete(path);
      if (readHolder(path) === process.pid) unlinkIfPresent(path);
    },
  };
}

/**
 * Create the lock file holding our pid; false if it exists. The pid is
 * written to a file of our own first and hard-linked into place (link fails
 * if the name exists), so the lock file is never seen empty: a lock created
 * with O_EXCL and written after would, for a moment, read as unreadable to a
 * second start, which would take it over as stale.
 */
function tryCreate(path: string): boolean {
  const temp = `${path}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`;
  let fd: number;
  try {
    fd = openSync(temp, 'wx', FILE_MODE);
  } catch (error) {
    throw new TabmeshError(ErrorCode.DATA_DIR_UNUSABLE, `cannot create the lock file ${path}`, { cause: error });
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    throw new TabmeshError(ErrorCode.DATA_DIR_UNUSABLE, `cannot create the lock file ${path}`, { cause: error });
  } finally {
    unlinkIfPresent(temp);
  }
}

/** The pid in the lock file, or undefined if it is gone or holds no pid. */
function readHolder(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  const buffer = Buffer.alloc(MAX_LOCK_FILE_BYTES);
  let length: number;
  try {
    length = readSync(fd, buffer, 0, buffer.length, 0);
  } finally {
    closeSync(fd);
  }
  const text = buffer.subarray(0, length).toString('utf8');
  const match = /^(\d{1,10})\n?$/.exec(text);
  const pid = match?.[1] === undefined ? NaN : Number(match[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether process `pid` exists: signal 0 checks without sending; EPERM means it exists as another user's. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isCode(error, 'ESRCH');
  }
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
  }
}
