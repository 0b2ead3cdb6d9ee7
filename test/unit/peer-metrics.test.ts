import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { listenForMetrics, PeerMetrics } from '../../web/nodejs/peer-metrics.js';
import { PeerNodeStub, stubLink, stubPeerId } from '../helpers/peer-node-stub.js';

function metricsOf(node: PeerNodeStub, signal?: AbortSignal): PeerMetrics {
  return new PeerMetrics(node, {
    version: '9.9.9',
    processMetrics: false,
    ...(signal === undefined ? {} : { signal }),
  });
}

/** The sample lines of the exposition text (no # HELP / # TYPE). */
async function samples(metrics: PeerMetrics): Promise<string[]> {
  return (await metrics.text()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe('tabmesh-peer metrics', () => {
  it("renders the node's connections, views, cache and signaling state", async () => {
    const node = new PeerNodeStub();
    const [a, b, c] = [stubPeerId(2), stubPeerId(3), stubPeerId(4)];
    node.open = [a, b];
    node.linkList = [stubLink(a, 'connected'), stubLink(b, 'connected'), stubLink(c, 'signaling')];
    node.views = { active: [a, b], passive: [c] };
    node.status = { ...node.status, signaling: 'connected' };
    const lines = await samples(metricsOf(node));
    expect(lines).toEqual(
      expect.arrayContaining([
        `tabmesh_peer_info{id="${node.id}",network="room1",version="9.9.9"} 1`,
        'tabmesh_peer_connections 2',
        'tabmesh_peer_links{state="connected"} 2',
        'tabmesh_peer_links{state="signaling"} 1',
        'tabmesh_peer_links{state="confirming"} 0',
        'tabmesh_peer_view_size{view="active"} 2',
        'tabmesh_peer_view_size{view="passive"} 1',
        'tabmesh_peer_known_peers 0',
        'tabmesh_peer_signaling{state="connected"} 1',
        'tabmesh_peer_signaling{state="disconnected"} 0',
      ]),
    );
    expect(lines.some((line) => line.startsWith('tabmesh_peer_process_'))).toBe(false);
  });

  it('counts messages received by kind, from the node’s events, until the signal aborts', async () => {
    const node = new PeerNodeStub();
    const stop = new AbortController();
    const metrics = metricsOf(node, stop.signal);
    const from = stubPeerId(2);
    node.emit('message', { from, data: 'hi', broadcast: false });
    node.emit('message', { from, data: new Uint8Array(3), broadcast: false, routed: true });
    node.emit('message', { from, data: 'all', broadcast: true });
    node.emit('message', { from, data: 'all again', broadcast: true });
    stop.abort();
    node.emit('message', { from, data: 'after', broadcast: true });
    expect(await samples(metrics)).toEqual(
      expect.arrayContaining([
        'tabmesh_peer_messages_received_total{kind="direct"} 1',
        'tabmesh_peer_messages_received_total{kind="routed"} 1',
        'tabmesh_peer_messages_received_total{kind="broadcast"} 2',
      ]),
    );
  });

  it('reads mesh counters, limit refusals and problems on each scrape, unknown codes as _other', async () => {
    const node = new PeerNodeStub();
    const metrics = metricsOf(node);
    node.mesh = { sent: 1, forwarded: 7, delivered: 3, dropped: 2 };
    node.limits = { ...node.limits, relayOverRate: 5, partialMessages: 1 };
    node.problemCounts = { [ErrorCode.RATE_LIMITED]: 4, [ErrorCode.BAD_SIGNATURE]: 1, NOT_A_CODE: 2, ALSO_NOT: 1 };
    expect(await samples(metrics)).toEqual(
      expect.arrayContaining([
        'tabmesh_peer_mesh_frames_total{outcome="forwarded"} 7',
        'tabmesh_peer_mesh_frames_total{outcome="delivered"} 3',
        'tabmesh_peer_mesh_frames_total{outcome="sent"} 1',
        'tabmesh_peer_mesh_frames_total{outcome="dropped"} 2',
        'tabmesh_peer_limit_refusals_total{limit="relayOverRate"} 5',
        'tabmesh_peer_limit_refusals_total{limit="partialMessages"} 1',
        'tabmesh_peer_limit_refusals_total{limit="unansweredDeclines"} 0',
        'tabmesh_peer_problems_total{code="RATE_LIMITED"} 4',
        'tabmesh_peer_problems_total{code="BAD_SIGNATURE"} 1',
        'tabmesh_peer_problems_total{code="_other"} 3',
      ]),
    );
    node.mesh = { ...node.mesh, forwarded: 9 };
    expect(await samples(metrics)).toContain('tabmesh_peer_mesh_frames_total{outcome="forwarded"} 9');
  });

  it("includes Node's process metrics under tabmesh_peer_ by default", async () => {
    const text = await new PeerMetrics(new PeerNodeStub(), { version: '1' }).text();
    expect(text).toContain('tabmesh_peer_process_resident_memory_bytes');
  });
});

/** GET (or another method) a URL; its status, content type and body. */
function fetchText(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { method }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'] ?? '', body }),
      );
    })
      .on('error', reject)
      .end();
  });
}

describe('the metrics listener', () => {
  it('answers 503 while starting, then GET /metrics only; 404 elsewhere, 405 for other methods', async () => {
    const errors: unknown[] = [];
    const listener = await listenForMetrics('127.0.0.1', 0, (error) => errors.push(error));
    try {
      expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect((await fetchText(listener.url)).status).toBe(503);
      listener.attach(metricsOf(new PeerNodeStub()));
      const ok = await fetchText(`${listener.url}?x=1`);
      expect(ok.status).toBe(200);
      expect(ok.type).toContain('text/plain');
      expect(ok.body).toContain('tabmesh_peer_connections 0');
      expect((await fetchText(listener.url, 'HEAD')).status).toBe(200);
      expect((await fetchText(listener.url, 'POST')).status).toBe(405);
      expect((await fetchText(listener.url.replace('/metrics', '/'))).status).toBe(404);
      expect(errors).toEqual([]);
    } finally {
      await listener.close();
    }
  });

  it('fails to start on a port in use, with the system error code', async () => {
    const first = await listenForMetrics('127.0.0.1', 0, () => undefined);
    try {
      const port = Number(new URL(first.url).port);
      await expect(listenForMetrics('127.0.0.1', port, () => undefined)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await first.close();
    }
  });
});
