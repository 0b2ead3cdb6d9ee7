import { describe, expect, it } from 'vitest';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import { createPeerLog, nodeLogger, watchNode, type PeerLog } from '../../web/nodejs/peer-log.js';
import { PeerNodeStub, stubPeerId } from '../helpers/peer-node-stub.js';

/** A log at `level` whose lines are parsed into `lines`. */
function capture(level: 'debug' | 'info' = 'info'): { log: PeerLog; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createPeerLog(level, {
    write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { log, lines };
}

const events = (lines: Record<string, unknown>[]): unknown[] => lines.map((line) => line['event']);

describe('tabmesh-peer log lines', () => {
  it('writes one JSON object per event with level, time, service and event, and no msg', () => {
    const { log, lines } = capture();
    log.info('starting', { version: '1.2.3', network: 'room1', dataDir: '/srv/seed' });
    log.debug('message', { from: 'x' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toEqual({
      level: 30,
      time: expect.any(Number) as number,
      service: 'tabmesh-peer',
      event: 'starting',
      version: '1.2.3',
      network: 'room1',
      dataDir: '/srv/seed',
    });
  });

  it("routes the node's diagnostics into `node` lines, errors as name, message and code", () => {
    const { log, lines } = capture();
    const logger = nodeLogger(log);
    logger.debug('not shown at info');
    logger.warn('storage moved aside', { file: 'peers.json' });
    logger.error('failed', { err: new TabmeshError(ErrorCode.BAD_FIELD, 'bad') });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        event: 'node',
        message: 'storage moved aside',
        detail: { file: 'peers.json' },
      }),
      expect.objectContaining({
        level: 50,
        event: 'node',
        message: 'failed',
        detail: { err: { name: 'TabmeshError', message: 'bad', code: 'BAD_FIELD' } },
      }),
    ]);
  });
});

describe('watchNode', () => {
  it('logs the signaling state, then joined once with the peer ID in `id`', () => {
    const node = new PeerNodeStub();
    const { log, lines } = capture();
    watchNode(node, log, new AbortController().signal);
    node.setSignaling('connected');
    node.setSignaling('disconnected');
    node.setSignaling('connected');
    expect(events(lines)).toEqual(['signaling', 'signaling', 'joined', 'signaling', 'signaling']);
    expect(lines[0]).toMatchObject({ state: 'connecting', url: 'ws://127.0.0.1:8787/ws' });
    expect(lines[2]).toMatchObject({
      id: node.id,
      network: 'room1',
      via: 'signaling',
      signalingUrl: 'ws://127.0.0.1:8787/ws',
    });
  });

  it('joins on the first peer connection when that comes first, and logs the node already connected', () => {
    const node = new PeerNodeStub();
    const { log, lines } = capture();
    watchNode(node, log, new AbortController().signal);
    node.open = [stubPeerId(2)];
    node.emit('peer:connect', { peer: stubPeerId(2) });
    node.setSignaling('connected');
    expect(events(lines)).toEqual(['signaling', 'peer:connect', 'joined', 'signaling']);
    expect(lines[1]).toMatchObject({ peer: stubPeerId(2), connections: 1 });
    expect(lines[2]).toMatchObject({ id: node.id, via: 'peer' });

    const already = new PeerNodeStub();
    already.status = { ...already.status, signaling: 'connected' };
    const second = capture();
    watchNode(already, second.log, new AbortController().signal);
    expect(events(second.lines)).toEqual(['signaling', 'joined']);
  });

  it('logs disconnections, warnings, and neighbour counts only when they change', () => {
    const node = new PeerNodeStub();
    const { log, lines } = capture();
    watchNode(node, log, new AbortController().signal);
    const [a, b] = [stubPeerId(2), stubPeerId(3)];
    node.emit('neighbours', { active: [a], passive: [b] });
    node.emit('neighbours', { active: [b], passive: [a] });
    node.emit('neighbours', { active: [a, b], passive: [] });
    node.emit('peer:disconnect', { peer: a, code: ErrorCode.HEARTBEAT_TIMEOUT, reason: 'silent' });
    node.emit('peer:disconnect', { peer: b, code: undefined, reason: 'closed' });
    node.emit('warning', { code: ErrorCode.BAD_SIGNATURE, message: 'bad record', peer: a });
    expect(lines.slice(1)).toEqual([
      expect.objectContaining({ event: 'neighbours', active: 1, passive: 1 }),
      expect.objectContaining({ event: 'neighbours', active: 2, passive: 0 }),
      expect.objectContaining({ event: 'peer:disconnect', peer: a, code: 'HEARTBEAT_TIMEOUT', reason: 'silent' }),
      expect.objectContaining({ event: 'peer:disconnect', peer: b, code: null, reason: 'closed' }),
      expect.objectContaining({ level: 40, event: 'warning', code: 'BAD_SIGNATURE', message: 'bad record', peer: a }),
    ]);
  });

  it('logs messages at debug with their size, never their payload, and stops when the signal aborts', () => {
    const node = new PeerNodeStub();
    const { log, lines } = capture('debug');
    const stop = new AbortController();
    watchNode(node, log, stop.signal);
    node.emit('message', { from: stubPeerId(2), data: 'secret payload é', broadcast: true });
    stop.abort();
    node.emit('message', { from: stubPeerId(2), data: 'later', broadcast: false });
    node.setSignaling('connected');
    expect(lines.slice(1)).toEqual([
      { ...lines[1], event: 'message', from: stubPeerId(2), bytes: 17, broadcast: true, routed: false },
    ]);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });
});
