/**
 * One node per data directory (web/nodejs/lock.ts): a second holder gets
 * DATA_DIR_LOCKED naming the directory and the holder's pid; a lock whose
 * process is gone is taken over with a warning; close releases it. And
 * without @roamhq/wrtc, WEBRTC_UNAVAILABLE says what to install.
 */
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { LOCK_FILE } from '../../web/nodejs/data-dir.js';
import { createNode } from '../../web/nodejs/index.js';
import { acquireLock } from '../../web/nodejs/lock.js';
import { loadWrtc } from '../../web/nodejs/wrtc.js';
import { idleTransport, tempDir, WarningLog } from '../helpers/node-fixtures.js';

const NOWHERE = ['ws://127.0.0.1:9/ws'];

let dir: Awaited<ReturnType<typeof tempDir>>;
let log: WarningLog;

beforeEach(async () => {
  dir = await tempDir();
  log = new WarningLog();
});
afterEach(() => dir.remove());

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  if (child.pid === undefined) throw new Error('no child pid');
  return child.pid;
}

describe('the data directory lock', () => {
  it('refuses a second node of this process, and is released by close', async () => {
    const options = { signaling: NOWHERE, dataDir: dir.path, logger: log };
    const first = await createNode(options, { transport: idleTransport });
    expect(await readFile(join(dir.path, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    await expect(createNode(options, { transport: idleTransport })).rejects.toMatchObject({
      code: ErrorCode.DATA_DIR_LOCKED,
      message: expect.stringContaining(dir.path) as unknown,
    });
    await first.close();
    expect(await readdir(dir.path)).not.toContain(LOCK_FILE);
    const second = await createNode(options, { transport: idleTransport });
    await second.close();
  });

  it("refuses while another live process holds it, naming that process's pid", async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      if (child.pid === undefined) throw new Error('no child pid');
      await writeFile(join(dir.path, LOCK_FILE), `${child.pid}\n`);
      expect(() => acquireLock(dir.path, log)).toThrow(
        expect.objectContaining({
          code: ErrorCode.DATA_DIR_LOCKED,
          message: expect.stringContaining(`process ${child.pid}`) as unknown,
        }),
      );
    } finally {
      child.kill();
    }
  });

  it('takes over a stale lock (its process gone) with a warning', async () => {
    const pid = await deadPid();
    await writeFile(join(dir.path, LOCK_FILE), `${pid}\n`);
    const lock = acquireLock(dir.path, log);
    expect(log.messages().join('\n')).toMatch(new RegExp(`stale lock .*process ${pid} is gone`));
    expect(await readFile(join(dir.path, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
    lock.release();
    expect(await readdir(dir.path)).toEqual([]);
  });

  it('takes over an unreadable lock file with a warning', async () => {
    await writeFile(join(dir.path, LOCK_FILE), 'garbage');
    acquireLock(dir.path, log).release();
    expect(log.messages().join('\n')).toMatch(/unreadable lock file/);
  });

  it('releases on process exit when the node was never closed', async () => {
    const script = `
      import { acquireLock } from ${JSON.stringify(new URL('../../web/nodejs/lock.ts', import.meta.url).href)};
      import { readdirSync } from 'node:fs';
      acquireLock(${JSON.stringify(dir.path)}, console);
      console.log(readdirSync(${JSON.stringify(dir.path)}).join(','));
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(output.trim()).toBe(LOCK_FILE);
    expect(await readdir(dir.path)).toEqual([]);
  });
});

describe('WebRTC in Node', () => {
  it('without @roamhq/wrtc, fails with WEBRTC_UNAVAILABLE and says what to install', async () => {
    const missing = (): Promise<unknown> => Promise.reject(new Error("Cannot find package '@roamhq/wrtc'"));
    await expect(loadWrtc(missing)).rejects.toMatchObject({
      code: ErrorCode.WEBRTC_UNAVAILABLE,
      message: 'Tabmesh in Node needs the optional dependency @roamhq/wrtc: npm install @roamhq/wrtc',
    });
    await expect(loadWrtc(() => Promise.resolve({ default: {} }))).rejects.toMatchObject({
      code: ErrorCode.WEBRTC_UNAVAILABLE,
    });
  });

  it('loads the installed @roamhq/wrtc', async () => {
    const wrtc = await loadWrtc();
    expect(typeof wrtc.RTCPeerConnection).toBe('function');
  });
});
