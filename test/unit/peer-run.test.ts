import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { PeerConfig } from '../../web/nodejs/peer-config.js';
import { createPeerLog } from '../../web/nodejs/peer-log.js';
import { runPeer, SHUTDOWN_TIMEOUT_MS, type PeerNodeOptions, type RunnableNode } from '../../web/nodejs/peer-run.js';
import { PeerNodeStub } from '../helpers/peer-node-stub.js';

const CONFIG: PeerConfig = {
  signaling: ['ws://127.0.0.1:8787/ws'],
  network: 'room1',
  dataDir: '/srv/seed',
  maxConnections: 8,
  name: 'Seed',
  iceServers: [],
  metrics: undefined,
  logLevel: 'info',
};

/** runPeer with a stub node (or whatever `createNode` gives), a signal emitter and captured lines. */
function start(createNode: (options: PeerNodeOptions) => Promise<RunnableNode>, config: PeerConfig = CONFIG) {
  const lines: Record<string, unknown>[] = [];
  const log = createPeerLog('info', {
    write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  const signals = new EventEmitter();
  const exit = runPeer(config, log, { createNode, signals, version: '9.9.9' });
  const events = (): unknown[] => lines.map((line) => line['event']);
  return { lines, events, signals, exit };
}

/** Let pending promise callbacks run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('runPeer', () => {
  it('starts the node with the options, logs it, and on SIGTERM closes it and resolves 0', async () => {
    const node = new PeerNodeStub();
    const createNode = vi.fn<(options: PeerNodeOptions) => Promise<RunnableNode>>(() => Promise.resolve(node));
    const run = start(createNode);
    await settle();
    expect(createNode).toHaveBeenCalledWith(
      expect.objectContaining({
        signaling: CONFIG.signaling,
        network: 'room1',
        maxConnections: 8,
        name: 'Seed',
        dataDir: '/srv/seed',
        iceServers: [],
        logger: expect.any(Object) as object,
      }),
    );
    node.setSignaling('connected');
    run.signals.emit('SIGTERM', 'SIGTERM');
    expect(await run.exit).toBe(0);
    expect(node.closeCalls).toBe(1);
    expect(run.events()).toEqual(['starting', 'started', 'signaling', 'signaling', 'joined', 'stopping', 'stopped']);
    expect(run.lines[0]).toMatchObject({ version: '9.9.9', network: 'room1', dataDir: '/srv/seed' });
    expect(run.lines[1]).toMatchObject({ id: node.id, crypto: 'node:crypto' });
    expect(run.lines[4]).toMatchObject({ event: 'joined', id: node.id });
    expect(run.lines[5]).toMatchObject({ signal: 'SIGTERM' });
  });

  it('passes no dataDir for an ephemeral peer', async () => {
    const createNode = vi.fn<(options: PeerNodeOptions) => Promise<RunnableNode>>(() =>
      Promise.resolve(new PeerNodeStub()),
    );
    const run = start(createNode, { ...CONFIG, dataDir: undefined });
    await settle();
    expect(createNode.mock.calls[0]?.[0]).not.toHaveProperty('dataDir');
    run.signals.emit('SIGINT', 'SIGINT');
    expect(await run.exit).toBe(0);
  });

  it('logs one fatal line with the code and resolves 1 when the node cannot start', async () => {
    const run = start(() => Promise.reject(new TabmeshError(ErrorCode.BAD_FIELD, 'data folder locked by pid 12')));
    expect(await run.exit).toBe(1);
    expect(run.events()).toEqual(['starting', 'fatal']);
    expect(run.lines[1]).toMatchObject({ level: 50, code: 'BAD_FIELD', message: 'data folder locked by pid 12' });
    expect(run.lines[1]).not.toHaveProperty('stack');
  });

  it('gives an uncoded error the code UNKNOWN and its stack', async () => {
    const run = start(() => Promise.reject(new Error('boom')));
    expect(await run.exit).toBe(1);
    expect(run.lines[1]).toMatchObject({ event: 'fatal', code: 'UNKNOWN', message: 'boom' });
    expect(String(run.lines[1]?.['stack'])).toContain('Error: boom');
  });

  it('resolves 1 after SHUTDOWN_TIMEOUT_MS when close does not finish', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const node = new PeerNodeStub();
    node.closing = new Promise<void>(() => undefined);
    const run = start(() => Promise.resolve(node));
    await settle();
    run.signals.emit('SIGTERM', 'SIGTERM');
    await vi.advanceTimersByTimeAsync(SHUTDOWN_TIMEOUT_MS - 1);
    let exited: number | undefined;
    void run.exit.then((code) => (exited = code));
    await settle();
    expect(exited).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await run.exit).toBe(1);
    expect(run.events().slice(-2)).toEqual(['stopping', 'stop-timeout']);
    expect(run.lines.at(-1)).toMatchObject({ level: 50, timeoutMs: SHUTDOWN_TIMEOUT_MS });
  });

  it('exits at once, 1, on a second signal', async () => {
    const node = new PeerNodeStub();
    node.closing = new Promise<void>(() => undefined);
    const run = start(() => Promise.resolve(node));
    await settle();
    run.signals.emit('SIGTERM', 'SIGTERM');
    run.signals.emit('SIGINT', 'SIGINT');
    expect(await run.exit).toBe(1);
    expect(run.events().slice(-2)).toEqual(['stopping', 'stop-forced']);
    expect(run.lines.at(-1)).toMatchObject({ level: 40, signal: 'SIGINT' });
  });

  it('closes a node that finishes starting after the signal', async () => {
    const node = new PeerNodeStub();
    let started = (): void => undefined;
    const run = start(() => new Promise((resolve) => (started = () => resolve(node))));
    run.signals.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(node.closeCalls).toBe(0);
    started();
    expect(await run.exit).toBe(0);
    expect(node.closeCalls).toBe(1);
  });

  it('serves metrics while running and stops serving them on shutdown', async () => {
    const node = new PeerNodeStub();
    // createNode is called once the metrics port listens.
    let called = (): void => undefined;
    const creating = new Promise<void>((resolve) => (called = resolve));
    const createNode = (): Promise<RunnableNode> => {
      called();
      return Promise.resolve(node);
    };
    const run = start(createNode, { ...CONFIG, metrics: { host: '127.0.0.1', port: 0 } });
    await creating;
    await settle();
    const url = String(run.lines.find((line) => line['event'] === 'metrics')?.['url']);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain(`tabmesh_peer_info{id="${node.id}",network="room1",version="9.9.9"} 1`);
    run.signals.emit('SIGTERM', 'SIGTERM');
    expect(await run.exit).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });
});
