/**
 * tabmesh-peer's Prometheus metrics (prom-client), read from the node's
 * public API when scraped, and a small HTTP listener answering GET /metrics
 * only. Every name starts `tabmesh_peer_` (the server's are `tabmesh_`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { isErrorCode } from '../../shared/errors.js';
import type { SignalingState } from '../signaling-client.js';
import type { TabmeshNode } from '../node/options.js';

/** The part of the node the metrics read. */
export type MetricsNode = Pick<
  TabmeshNode,
  | 'id'
  | 'network'
  | 'status'
  | 'connections'
  | 'links'
  | 'neighbourhood'
  | 'knownPeers'
  | 'problems'
  | 'meshStats'
  | 'limitStats'
  | 'addEventListener'
>;

const SIGNALING_STATES: readonly SignalingState[] = ['connecting', 'connected', 'disconnected', 'closed'];
/** Link states as LinkInfo names them; any other is counted as `other`. */
const LINK_STATES = ['signaling', 'confirming', 'connected', 'closed'];
/** The label for a problem code outside the catalogue, so no input can grow the label set. */
const OTHER_CODE = '_other';

export interface PeerMetricsOptions {
  /** The package version, in tabmesh_peer_info. */
  readonly version: string;
  /** Also Node's process metrics (CPU, memory, event loop), as tabmesh_peer_process_… Default true. */
  readonly processMetrics?: boolean;
  /** Stop counting messages once this aborts. */
  readonly signal?: AbortSignal;
}

export class PeerMetrics {
  readonly registry = new Registry();

  constructor(node: MetricsNode, options: PeerMetricsOptions) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'tabmesh_peer_' });
    new Gauge({
      name: 'tabmesh_peer_info',
      help: "Always 1; the labels name this peer's ID, network and package version.",
      labelNames: ['id', 'network', 'version'],
      registers,
    }).set({ id: node.id, network: node.network, version: options.version }, 1);
    new Gauge({
      name: 'tabmesh_peer_connections',
      help: 'Open, confirmed channels to other peers.',
      registers,
      collect() {
        this.set(node.connections().length);
      },
    });
    new Gauge({
      name: 'tabmesh_peer_links',
      help: 'Connections by state: signaling, confirming, connected, closed (and other).',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = new Map([...LINK_STATES, 'other'].map((state) => [state, 0]));
        for (const link of node.links()) {
          const state = LINK_STATES.includes(link.state) ? link.state : 'other';
          counts.set(state, (counts.get(state) ?? 0) + 1);
        }
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'tabmesh_peer_view_size',
      help: 'Membership views: active (neighbours kept connected) and passive (known in reserve).',
      labelNames: ['view'],
      registers,
      collect() {
        const { active, passive } = node.neighbourhood();
        this.set({ view: 'active' }, active.length);
        this.set({ view: 'passive' }, passive.length);
      },
    });
    new Gauge({
      name: 'tabmesh_peer_known_peers',
      help: 'Peer records in the cache.',
      registers,
      collect() {
        this.set(node.knownPeers().length);
      },
    });
    new Gauge({
      name: 'tabmesh_peer_signaling',
      help: 'The signaling connection: 1 for its current state, 0 for the others.',
      labelNames: ['state'],
      registers,
      collect() {
        const current = node.status.signaling;
        for (const state of SIGNALING_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
    const received = new Counter({
      name: 'tabmesh_peer_messages_received_total',
      help: 'Messages delivered to this peer, by kind: direct (over a channel), routed (sealed through the mesh), broadcast.',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['direct', 'routed', 'broadcast']) received.inc({ kind }, 0);
    node.addEventListener(
      'message',
      ({ detail }) =>
        received.inc({ kind: detail.broadcast ? 'broadcast' : detail.routed === true ? 'routed' : 'direct' }),
      options.signal === undefined ? {} : { signal: options.signal },
    );
    counterFrom(
      registers,
      'tabmesh_peer_mesh_frames_total',
      'Sealed frames through the mesh: sent, forwarded for others, delivered to this peer, dropped.',
      'outcome',
      () => node.meshStats(),
    );
    counterFrom(
      registers,
      'tabmesh_peer_limit_refusals_total',
      "What the node's limits refused, by limit (LimitCounters in the API).",
      'limit',
      () => node.limitStats(),
    );
    counterFrom(registers, 'tabmesh_peer_problems_total', 'Refusals and problems, by error code.', 'code', () => {
      const byCode: Record<string, number> = {};
      for (const [code, count] of Object.entries(node.problems())) {
        const label = isErrorCode(code) ? code : OTHER_CODE;
        byCode[label] = (byCode[label] ?? 0) + count;
      }
      return byCode;
    });
  }

  /** The registry's text, as Prometheus scrapes it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** A counter whose values the node keeps: read on each scrape, one label value per key. */
function counterFrom(
  registers: Registry[],
  name: string,
  help: string,
  label: string,
  read: () => Readonly<Record<string, number>>,
): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers,
    collect() {
      this.reset();
      for (const [key, value] of Object.entries(read())) this.inc({ [label]: key }, value);
    },
  });
}

export interface MetricsListener {
  /** The URL /metrics is served at. */
  readonly url: string;
  /** Serve these metrics from now on (until then, /metrics answers 503: the peer is starting). */
  attach(metrics: PeerMetrics): void;
  close(): Promise<void>;
}

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };

/**
 * Listen on host:port for GET (or HEAD) /metrics; every other path is 404,
 * other methods 405. Listening comes first, before the node starts, so a
 * port in use stops the peer before it takes its data folder or the network.
 */
export async function listenForMetrics(
  host: string,
  port: number,
  onError: (error: unknown) => void,
): Promise<MetricsListener> {
  let metrics: PeerMetrics | undefined;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, TEXT).end('Not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...TEXT, Allow: 'GET, HEAD' }).end();
      return;
    }
    if (metrics === undefined) {
      response.writeHead(503, TEXT).end('Starting\n');
      return;
    }
    const { contentType } = metrics;
    metrics.text().then(
      (text) => response.writeHead(200, { 'Content-Type': contentType }).end(request.method === 'GET' ? text : ''),
      (error: unknown) => {
        onError(error);
        response.writeHead(500, TEXT).end('Metrics collection failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', onError);
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/metrics`,
    attach: (given) => (metrics = given),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
