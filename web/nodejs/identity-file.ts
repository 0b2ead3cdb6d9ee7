/**
 * The node's identity in the data directory: IDENTITY_FILE, owner-only
 * (0600), holding the Ed25519 seed, its public key (so a file whose halves
 * disagree is caught), and the X25519 seal key pair once the node has made
 * one (so the seal key in our record survives restarts; the node reads and
 * writes it as `seal:0` through the file store). Format:
 *
 *     {"format": "tabmesh-identity", "v": 1,
 *      "seed": {"$bytes": "<base64, 32 bytes>"},
 *      "publicKey": {"$bytes": "<base64, 32 bytes>"},
 *      "seal": {"publicKey": {"$bytes": "…"}, "secretKey": {"$bytes": "…"}}}   (seal optional)
 *
 * A file that is too large, not JSON, of another format or version, with
 * keys of the wrong size, or whose keys do not match, is moved aside with a
 * warning and a fresh identity made: never trusted, never overwritten.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesEqual } from '../../shared/bytes.js';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { Ed25519, Ed25519KeyPair } from '../../shared/identity/ed25519.js';
import { PUBLIC_KEY_BYTES, SEAL_KEY_BYTES, SEED_BYTES } from '../../shared/limits.js';
import { loadNacl, sealKeyPairMatches, type SealKeyPair } from '../../shared/seal.js';
import type { Logger } from '../node/options.js';
import { readBounded, writeAtomic } from './atomic-file.js';
import { IDENTITY_FILE, describe, ensureOwnerOnly, moveAside } from './data-dir.js';
import { decodeData, encodeData } from './file-codec.js';

/** The identity file's `format`: tells it from any other JSON file. */
export const IDENTITY_FORMAT = 'tabmesh-identity';
/** The identity file's version; another is refused (moved aside), not guessed at. */
export const IDENTITY_VERSION = 1;
/** Largest identity file read: a real one is about 300 bytes. */
export const MAX_IDENTITY_FILE_BYTES = 4 * 1024;

interface Contents {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly seal: SealKeyPair | undefined;
}

/** The identity file of one data directory, loaded or freshly made. */
export class IdentityFile {
  /** Writes of the file, one after another. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private contents: Contents,
    /** The key pair of the seed. */
    readonly keyPair: Ed25519KeyPair,
  ) {}

  /**
   * Load `dir`'s identity, or make and write a fresh one (moving an
   * untrustworthy file aside first). Throws DATA_DIR_UNUSABLE when the file
   * cannot be read, moved aside or written.
   */
  static async open(dir: string, ed: Ed25519, logger: Logger): Promise<IdentityFile> {
    const path = join(dir, IDENTITY_FILE);
    try {
      const loaded = await load(path, ed, logger);
      if (loaded !== undefined) return new IdentityFile(path, loaded.contents, loaded.keyPair);
      const seed = crypto.getRandomValues(new Uint8Array(SEED_BYTES));
      const keyPair = await ed.fromSeed(seed);
      const file = new IdentityFile(path, { seed, publicKey: keyPair.publicKey, seal: undefined }, keyPair);
      await file.write();
      return file;
    } catch (error) {
      if (error instanceof TabmeshError) throw error;
      throw new TabmeshError(ErrorCode.DATA_DIR_UNUSABLE, `cannot use the identity file ${path}: ${describe(error)}`, {
        cause: error,
      });
    }
  }

  /** The stored seal key pair, checked when loaded; undefined until one is stored. */
  get seal(): SealKeyPair | undefined {
    return this.contents.seal;
  }

  /** Store `seal` (or none) in the file. */
  setSeal(seal: SealKeyPair | undefined): Promise<void> {
    this.contents = { ...this.contents, seal };
    return this.write();
  }

  private write(): Promise<void> {
    const { seed, publicKey, seal } = this.contents;
    const text = encodeData({ format: IDENTITY_FORMAT, v: IDENTITY_VERSION, seed, publicKey, seal });
    const next = this.writing.then(() => writeAtomic(this.path, text));
    // A failed write is the caller's to hear of; the next one still runs.
    this.writing = next.catch(() => undefined);
    return next;
  }
}

/** The file's contents and key pair, undefined if there is none (or it was moved aside). */
async function load(
  path: string,
  ed: Ed25519,
  logger: Logger,
): Promise<{ contents: Contents; keyPair: Ed25519KeyPair } | undefined> {
  const read = await readBounded(path, MAX_IDENTITY_FILE_BYTES);
  if (read.kind === 'missing') return undefined;
  if (read.kind === 'too-large') {
    await moveAside(path, `is ${read.size} bytes, over the ${MAX_IDENTITY_FILE_BYTES}-byte cap`, logger);
    return undefined;
  }
  let value: unknown;
  try {
    value = decodeData(read.text);
  } catch {
    // The parser's message may quote the file: the reason says what is wrong without it.
    await moveAside(path, 'is not valid JSON (corrupt or truncated)', logger);
    return undefined;
  }
  const parsed = parseContents(value);
  if (typeof parsed === 'string') {
    await moveAside(path, parsed, logger);
    return undefined;
  }
  const keyPair = await ed.fromSeed(parsed.seed);
  if (!bytesEqual(keyPair.publicKey, parsed.publicKey)) {
    await moveAside(path, 'holds a public key that does not match its seed', logger);
    return undefined;
  }
  if (parsed.seal !== undefined && !sealKeyPairMatches(await loadNacl(), parsed.seal)) {
    await moveAside(path, 'holds a seal key pair whose halves do not match', logger);
    return undefined;
  }
  await ensureOwnerOnly(path, (await stat(path)).mode, logger);
  return { contents: parsed, keyPair };
}

/** The contents, or why they are refused. */
function parseContents(value: unknown): Contents | string {
  if (typeof value !== 'object' || value === null) return 'is not a Tabmesh identity file';
  const { format, v, seed, publicKey, seal } = value as Record<string, unknown>;
  if (format !== IDENTITY_FORMAT) return 'is not a Tabmesh identity file';
  if (v !== IDENTITY_VERSION) {
    return `has version ${typeof v === 'number' && Number.isSafeInteger(v) ? v : 'unknown'}, not ${IDENTITY_VERSION}`;
  }
  if (!isBytes(seed, SEED_BYTES)) return `has no ${SEED_BYTES}-byte seed`;
  if (!isBytes(publicKey, PUBLIC_KEY_BYTES)) return `has no ${PUBLIC_KEY_BYTES}-byte public key`;
  if (seal === undefined) return { seed, publicKey, seal: undefined };
  const pair = parseSealKeyPair(seal);
  if (pair === undefined) return `has a seal key pair that is not two ${SEAL_KEY_BYTES}-byte keys`;
  return { seed, publicKey, seal: pair };
}

/** A seal key pair of the right sizes (whether its halves match is checked apart). */
export function parseSealKeyPair(value: unknown): SealKeyPair | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { publicKey, secretKey } = value as Record<string, unknown>;
  if (!isBytes(publicKey, SEAL_KEY_BYTES) || !isBytes(secretKey, SEAL_KEY_BYTES)) return undefined;
  return { publicKey, secretKey };
}

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}
