/**
 * The Node peer's data directory (web/nodejs): the identity file persists,
 * owner-only; files that cannot be trusted are moved aside with a warning
 * and a fresh start, never a crash; writes are atomic; the peer cache file
 * keeps bytes and refuses another network's.
 */
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { createNode } from '../../web/nodejs/index.js';
import { writeAtomic } from '../../web/nodejs/atomic-file.js';
import { IDENTITY_FILE, peersFile, prepareDataDir } from '../../web/nodejs/data-dir.js';
import { decodeData, encodeData } from '../../web/nodejs/file-codec.js';
import { FileStore, MAX_DATA_FILE_BYTES } from '../../web/nodejs/file-store.js';
import { IdentityFile, MAX_IDENTITY_FILE_BYTES } from '../../web/nodejs/identity-file.js';
import { idleTransport, tempDir, WarningLog } from '../helpers/node-fixtures.js';

const ed = createNodeEd25519();
/** Nothing listens here: the node keeps trying, which these tests do not need. */
const NOWHERE = ['ws://127.0.0.1:9/ws'];

let dir: Awaited<ReturnType<typeof tempDir>>;
let log: WarningLog;

beforeEach(async () => {
  dir = await tempDir();
  log = new WarningLog();
});
afterEach(() => dir.remove());

const identityPath = (): string => join(dir.path, IDENTITY_FILE);
const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

/** The identity file's ID after opening it (a fresh one unless a usable file was there). */
async function openedId(): Promise<string> {
  const file = await IdentityFile.open(dir.path, ed, log);
  return Buffer.from(file.keyPair.publicKey).toString('hex');
}

/** Write a valid identity file, then let `spoil` change its decoded contents. */
async function writeSpoiled(spoil: (contents: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  await IdentityFile.open(dir.path, ed, log);
  const contents = decodeData(await readFile(identityPath(), 'utf8')) as Record<string, unknown>;
  await writeFile(identityPath(), encodeData(spoil(contents)));
}

/** Expect the identity file to have been moved aside for `reason`, with a warning naming it. */
async function expectMovedAside(reason: RegExp): Promise<void> {
  const names = await readdir(dir.path);
  expect(names.filter((n) => n.startsWith(`${IDENTITY_FILE}.corrupt-`))).toHaveLength(1);
  expect(names).toContain(IDENTITY_FILE);
  const warning = log.warnings.find((w) => w.message.includes(identityPath()));
  expect(warning?.message).toMatch(reason);
  expect(warning?.fields).toMatchObject({ path: identityPath() });
}

describe('the identity file', () => {
  it('gives the same ID to two nodes started one after the other on one directory', async () => {
    const options = { signaling: NOWHERE, dataDir: dir.path, logger: log };
    const first = await createNode(options, { transport: idleTransport });
    expect(first.status.storage).toBe('file');
    await first.close();
    const second = await createNode(options, { transport: idleTransport });
    expect(second.id).toBe(first.id);
    await second.close();
    expect(log.warnings).toEqual([]);
  });

  it('is owner-only (0600) in an owner-only (0700) directory', async () => {
    const inner = join(dir.path, 'a', 'b');
    await prepareDataDir(inner, log);
    await IdentityFile.open(inner, ed, log);
    expect(await mode(inner)).toBe(0o700);
    expect(await mode(join(inner, IDENTITY_FILE))).toBe(0o600);
  });

  it('warns of an existing directory open to others, and makes an open identity file owner-only', async () => {
    await chmod(dir.path, 0o755);
    await prepareDataDir(dir.path, log);
    expect(log.messages().join('\n')).toMatch(/open to other users \(mode 755\)/);
    await IdentityFile.open(dir.path, ed, log);
    await chmod(identityPath(), 0o644);
    await IdentityFile.open(dir.path, ed, log);
    expect(await mode(identityPath())).toBe(0o600);
  });

  it('keeps the seal key pair across restarts', async () => {
    const file = await IdentityFile.open(dir.path, ed, log);
    const store = new FileStore(dir.path, file, log);
    const nacl = (await import('tweetnacl')).default;
    const pair = nacl.box.keyPair();
    await store.set('seal:0', { publicKey: pair.publicKey, secretKey: pair.secretKey });
    const again = new FileStore(dir.path, await IdentityFile.open(dir.path, ed, log), log);
    expect(await again.get('seal:0')).toEqual({ publicKey: pair.publicKey, secretKey: pair.secretKey });
    expect(log.warnings).toEqual([]);
  });

  const spoiled: [string, (c: Record<string, unknown>) => Record<string, unknown>, RegExp][] = [
    ['a wrong-size seed', (c) => ({ ...c, seed: new Uint8Array(31) }), /32-byte seed/],
    ['a foreign public key', (c) => ({ ...c, publicKey: new Uint8Array(32).fill(7) }), /does not match its seed/],
    ['another version', (c) => ({ ...c, v: 2 }), /version 2, not 1/],
    ['another format', (c) => ({ ...c, format: 'something-else' }), /not a Tabmesh identity file/],
    [
      'mismatched seal halves',
      (c) => ({ ...c, seal: { publicKey: new Uint8Array(32).fill(1), secretKey: new Uint8Array(32).fill(2) } }),
      /seal key pair whose halves do not match/,
    ],
  ];
  for (const [what, spoil, reason] of spoiled) {
    it(`with ${what} is moved aside with a warning, and a fresh identity made`, async () => {
      await writeSpoiled(spoil);
      const before = await readFile(identityPath(), 'utf8');
      await openedId();
      await expectMovedAside(reason);
      const aside = (await readdir(dir.path)).find((n) => n.includes('.corrupt-')) ?? '';
      expect(await readFile(join(dir.path, aside), 'utf8')).toBe(before);
    });
  }

  it('that is not JSON, or truncated, is moved aside', async () => {
    await IdentityFile.open(dir.path, ed, log);
    const whole = await readFile(identityPath(), 'utf8');
    await writeFile(identityPath(), whole.slice(0, whole.length / 2));
    const id = await openedId();
    await expectMovedAside(/not valid JSON/);
    // The fresh identity is the one kept from now on.
    expect(await openedId()).toBe(id);
  });

  it('over its size cap is moved aside unread', async () => {
    await writeFile(identityPath(), 'x'.repeat(MAX_IDENTITY_FILE_BYTES + 1));
    await openedId();
    await expectMovedAside(/over the 4096-byte cap/);
  });

  it('that is not a file we can read makes createNode reject with DATA_DIR_UNUSABLE, not crash', async () => {
    await mkdir(identityPath());
    await expect(
      createNode({ signaling: NOWHERE, dataDir: dir.path, logger: log }, { transport: idleTransport }),
    ).rejects.toMatchObject({ code: ErrorCode.DATA_DIR_UNUSABLE });
    // The lock went with the failed start: a later one may try again.
    expect(await readdir(dir.path)).not.toContain('lock');
  });
});

describe('files in the data directory', () => {
  it('are written atomically, leaving no temporary files', async () => {
    const path = join(dir.path, 'x.json');
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeAtomic(path, JSON.stringify({ i }))));
    expect(await readdir(dir.path)).toEqual(['x.json']);
    expect(await mode(path)).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toHaveProperty('i');
  });

  it('keep Uint8Arrays (and nested ones) through a round trip', async () => {
    const store = new FileStore(dir.path, await IdentityFile.open(dir.path, ed, log), log);
    const value = { salt: new Uint8Array([1, 2, 255]), list: [new Uint8Array(0), 'text', 3], none: null };
    await store.set('cache:lobby', value);
    expect(await readdir(dir.path)).toContain(peersFile('lobby'));
    expect(await store.get('cache:lobby')).toEqual(value);
    expect(await store.get('cache:other')).toBeUndefined();
    await store.delete('cache:lobby');
    expect(await store.get('cache:lobby')).toBeUndefined();
  });

  it("refuse another network's cache: moved aside, read as absent", async () => {
    const store = new FileStore(dir.path, await IdentityFile.open(dir.path, ed, log), log);
    await store.set('cache:lobby', [1]);
    await writeFile(join(dir.path, peersFile('other')), await readFile(join(dir.path, peersFile('lobby'))));
    expect(await store.get('cache:other')).toBeUndefined();
    expect(log.messages().join('\n')).toMatch(/holds the cache of another network: moved aside/);
    expect(await readdir(dir.path)).not.toContain(peersFile('other'));
  });

  it('over MAX_DATA_FILE_BYTES, or with a malformed byte tag, are moved aside', async () => {
    const store = new FileStore(dir.path, await IdentityFile.open(dir.path, ed, log), log);
    await writeFile(join(dir.path, peersFile('big')), Buffer.alloc(MAX_DATA_FILE_BYTES + 1, 0x20));
    expect(await store.get('cache:big')).toBeUndefined();
    await writeFile(
      join(dir.path, peersFile('tag')),
      '{"format":"tabmesh-kv","v":1,"key":"cache:tag","value":{"$bytes":"not base64!"}}',
    );
    expect(await store.get('cache:tag')).toBeUndefined();
    const messages = log.messages().join('\n');
    expect(messages).toMatch(/over the 4194304-byte cap/);
    expect(messages).toMatch(/not valid JSON/);
  });

  it('a corrupt peer cache costs the node its peers, not its start', async () => {
    await writeFile(
      join(dir.path, peersFile('lobby')),
      '{"format":"tabmesh-kv","v":1,"key":"cache:lobby","value":[{"r":1}]',
    );
    const node = await createNode({ signaling: NOWHERE, dataDir: dir.path, logger: log }, { transport: idleTransport });
    expect(node.knownPeers()).toEqual([]);
    await node.close();
    expect(log.messages().join('\n')).toMatch(/peers-lobby\.json is not valid JSON/);
  });
});
