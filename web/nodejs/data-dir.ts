/**
 * The data directory (option `dataDir`): created owner-only, its files'
 * names, and what happens to a file that cannot be trusted: it is moved
 * aside (never read again, never overwritten), with a warning naming it and
 * the reason, and the node starts that part fresh.
 */
import { chmod, mkdir, rename, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { Logger } from '../node/options.js';

/** Mode of a data directory this module creates: only its owner may list or enter it. */
export const DIR_MODE = 0o700;
/** Permission bits for group and others: none should be set on the directory or its files. */
export const GROUP_OTHER_BITS = 0o077;
/** The identity file's name. */
export const IDENTITY_FILE = 'identity.json';
/** The lock file's name. */
export const LOCK_FILE = 'lock';
/** What a refused file's new name adds: `<name>.corrupt-<time>`. */
export const ASIDE_MARK = '.corrupt-';

/** The file holding the peer cache of `network` (a valid network name has no path separators). */
export function peersFile(network: string): string {
  return `peers-${network}.json`;
}

/**
 * Make sure `path` is a directory we can use, creating it (mode DIR_MODE)
 * if absent; warns when an existing one is open to group or others.
 * Resolves with its absolute path; throws DATA_DIR_UNUSABLE.
 */
export async function prepareDataDir(path: string, logger: Logger): Promise<string> {
  const dir = resolve(path);
  try {
    const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    // The umask may have taken bits off the mode; none are added, but be exact.
    if (created !== undefined) await chmod(dir, DIR_MODE);
    const info = await stat(dir);
    if (!info.isDirectory()) throw new TabmeshError(ErrorCode.DATA_DIR_UNUSABLE, `${dir} is not a directory`);
    if (created === undefined && ownerOnlyModes() && (info.mode & GROUP_OTHER_BITS) !== 0) {
      logger.warn(
        `data directory ${dir} is open to other users (mode ${modeText(info.mode)}); ` +
          `its files are owner-only, but consider chmod 700`,
        { path: dir },
      );
    }
  } catch (error) {
    if (error instanceof TabmeshError) throw error;
    throw new TabmeshError(ErrorCode.DATA_DIR_UNUSABLE, `cannot use ${dir} as a data directory: ${describe(error)}`, {
      cause: error,
    });
  }
  return dir;
}

/**
 * Move a file that cannot be trusted out of the way (to
 * `<path>.corrupt-<ISO time>`, the colons made dashes for Windows) and say so.
 */
export async function moveAside(path: string, reason: string, logger: Logger): Promise<void> {
  const aside = `${path}${ASIDE_MARK}${new Date().toISOString().replace(/:/g, '-')}`;
  await rename(path, aside);
  logger.warn(`${path} ${reason}: moved aside to ${aside}, starting fresh`, { path, reason, movedTo: aside });
}

/** Tighten an existing file to owner-only, with a warning, if it is open to others. */
export async function ensureOwnerOnly(path: string, mode: number, logger: Logger): Promise<void> {
  if (!ownerOnlyModes() || (mode & GROUP_OTHER_BITS) === 0) return;
  await chmod(path, mode & ~GROUP_OTHER_BITS & 0o777);
  logger.warn(`${path} was readable by other users (mode ${modeText(mode)}): made owner-only`, { path });
}

/** Whether file modes mean anything here (not on Windows). */
function ownerOnlyModes(): boolean {
  return process.platform !== 'win32';
}

function modeText(mode: number): string {
  return (mode & 0o777).toString(8).padStart(3, '0');
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
