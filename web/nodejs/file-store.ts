/**
 * The node's KeyValueStore in a data directory (kind 'file'). Two kinds of
 * key are kept:
 *
 * - `seal:0`, the seal key pair of the node's one identity slot: in the
 *   identity file (identity-file.ts), beside the key it goes with;
 * - any other key in a file of its own: `cache:<network>` (the peer cache)
 *   in `peers-<network>.json`, others in `kv-<hex of the key>.json`. Each
 *   holds `{"format": "tabmesh-kv", "v": 1, "key": "<key>", "value": …}`,
 *   bytes tagged as file-codec.ts writes them.
 *
 * What is read back is untrusted: a file over MAX_DATA_FILE_BYTES, not JSON,
 * of another format or version, or for another key (the cache of another
 * network) is moved aside with a warning and reads as absent. The values
 * themselves are the caller's to check (restoreCache verifies every record).
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import { toHex } from '../../shared/bytes.js';
import type { Logger } from '../node/options.js';
import type { KeyValueStore } from '../storage/store.js';
import { isCode, readBounded, writeAtomic } from './atomic-file.js';
import { moveAside, peersFile } from './data-dir.js';
import { decodeData, encodeData } from './file-codec.js';
import { parseSealKeyPair, type IdentityFile } from './identity-file.js';

/**
 * Largest data file read or written. A full peer cache (200 records of at
 * most 1 KiB, base64url, with their introducers) is under 1 MiB; 4 MiB
 * leaves room and refuses anything far larger before reading it whole.
 */
export const MAX_DATA_FILE_BYTES = 4 * 1024 * 1024;
/** The data files' `format`. */
export const DATA_FILE_FORMAT = 'tabmesh-kv';
/** The data files' version; another is refused (moved aside). */
export const DATA_FILE_VERSION = 1;
/** The identity slot a Node peer uses (one identity per data directory). */
export const NODE_SLOT = 0;

const SEAL_KEY = `seal:${NODE_SLOT}`;
const CACHE_PREFIX = 'cache:';

/** The file that holds `key`. */
export function fileForKey(key: string): string {
  if (key.startsWith(CACHE_PREFIX)) return peersFile(key.slice(CACHE_PREFIX.length));
  return `kv-${toHex(new TextEncoder().encode(key))}.json`;
}

export class FileStore implements KeyValueStore {
  readonly kind = 'file';
  /** Writes per file, one after another (the last one asked for wins). */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(
    private readonly dir: string,
    private readonly identity: IdentityFile,
    private readonly logger: Logger,
  ) {}

  async get(key: string): Promise<unknown> {
    if (key === SEAL_KEY) return this.identity.seal;
    const path = this.pathOf(key);
    const read = await readBounded(path, MAX_DATA_FILE_BYTES);
    if (read.kind === 'missing') return undefined;
    if (read.kind === 'too-large') {
      await moveAside(path, `is ${read.size} bytes, over the ${MAX_DATA_FILE_BYTES}-byte cap`, this.logger);
      return undefined;
    }
    let value: unknown;
    try {
      value = decodeData(read.text);
    } catch {
      // The parser's message may quote the file: the reason says what is wrong without it.
      await moveAside(path, 'is not valid JSON (corrupt or truncated)', this.logger);
      return undefined;
    }
    const refused = refusal(value, key);
    if (refused !== undefined) {
      await moveAside(path, refused, this.logger);
      return undefined;
    }
    return (value as { value: unknown }).value;
  }

  async set(key: string, value: unknown): Promise<void> {
    if (key === SEAL_KEY) {
      const pair = parseSealKeyPair(value);
      if (pair === undefined) throw new TabmeshError(ErrorCode.BAD_FIELD, 'a seal key pair is two 32-byte keys');
      return this.identity.setSeal(pair);
    }
    const text = encodeData({ format: DATA_FILE_FORMAT, v: DATA_FILE_VERSION, key, value });
    if (Buffer.byteLength(text) > MAX_DATA_FILE_BYTES) {
      throw new TabmeshError(ErrorCode.PAYLOAD_TOO_LARGE, `${key} is over the ${MAX_DATA_FILE_BYTES}-byte file cap`);
    }
    return this.queue(this.pathOf(key), () => writeAtomic(this.pathOf(key), text));
  }

  async delete(key: string): Promise<void> {
    if (key === SEAL_KEY) return this.identity.setSeal(undefined);
    const path = this.pathOf(key);
    return this.queue(path, () =>
      unlink(path).catch((error: unknown) => {
        if (!isCode(error, 'ENOENT')) throw error;
      }),
    );
  }

  private pathOf(key: string): string {
    return join(this.dir, fileForKey(key));
  }

  private queue(path: string, write: () => Promise<void>): Promise<void> {
    const next = (this.writes.get(path) ?? Promise.resolve()).then(write);
    // A failed write is the caller's to hear of; the next one still runs.
    const settled = next.catch(() => undefined);
    this.writes.set(path, settled);
    void settled.then(() => {
      if (this.writes.get(path) === settled) this.writes.delete(path);
    });
    return next;
  }
}

/** Why a decoded data file is refused for `key`, or undefined if it is one. */
function refusal(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return 'is not a Tabmesh data file';
  const { format, v, key: stored } = value as Record<string, unknown>;
  if (format !== DATA_FILE_FORMAT) return 'is not a Tabmesh data file';
  if (v !== DATA_FILE_VERSION) return `has another version than ${DATA_FILE_VERSION}`;
  if (stored !== key) {
    return key.startsWith(CACHE_PREFIX) ? 'holds the cache of another network' : 'holds another key';
  }
  return undefined;
}
