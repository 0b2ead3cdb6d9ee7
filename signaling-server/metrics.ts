/**
 * Prometheus metrics (prom-client), one registry per server instance so
 * several servers in one process never share counters.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ErrorCode } from '../shared/errors.js';

export interface MetricsSource {
  connections(): { pending: number; registered: number };
  networkSizes(): [string, number][];
  networkCount(): number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly registrations: Counter;
  readonly relayed: Counter;
  private readonly refusals: Counter<'reason'>;
  readonly creditedAnswers: Counter;

  constructor(source: MetricsSource, maxNetworks: number, processMetrics: boolean) {
    const registers = [this.registry];
    // prom-client's own names start process_ or nodejs_: 'tabmesh_' makes tabmesh_process_cpu_…, not tabmesh_process_process_cpu_….
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'tabmesh_' });
    new Gauge({
      name: 'tabmesh_connections',
      help: 'Open WebSocket connections, by registration state.',
      labelNames: ['state'],
      registers,
      collect() {
        const { pending, registered } = source.connections();
        this.set({ state: 'pending' }, pending);
        this.set({ state: 'registered' }, registered);
      },
    });
    new Gauge({
      name: 'tabmesh_peers',
      help: `Registered peers per network (the ${maxNetworks} largest by name; the rest summed as _other).`,
      labelNames: ['network'],
      registers,
      collect() {
        this.reset();
        let other = 0;
        source.networkSizes().forEach(([name, size], i) => {
          if (i < maxNetworks) this.set({ network: name }, size);
          else other += size;
        });
        if (other > 0) this.set({ network: '_other' }, other);
      },
    });
    new Gauge({
      name: 'tabmesh_networks',
      help: 'Networks with at least one registered peer.',
      registers,
      collect() {
        this.set(source.networkCount());
      },
    });
    this.registrations = new Counter({
      name: 'tabmesh_registrations_total',
      help: 'Successful registrations.',
      registers,
    });
    this.relayed = new Counter({
      name: 'tabmesh_relayed_messages_total',
      help: 'Signal messages relayed to a peer.',
      registers,
    });
    this.refusals = new Counter({
      name: 'tabmesh_refusals_total',
      help: 'Refused connections, frames and messages, by error code.',
      labelNames: ['reason'],
      registers,
    });
    this.creditedAnswers = new Counter({
      name: 'tabmesh_credited_answers_total',
      help: 'Signals relayed as answers on reply credit: paid for by the signals they answer, not by their sender.',
      registers,
    });
  }

  refused(reason: ErrorCode): void {
    this.refusals.inc({ reason });
  }

  async refusalCount(reason: ErrorCode): Promise<number> {
    const metric = await this.refusals.get();
    return metric.values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Metrics of presence and relays across instances (only with `--redis`). */
export class FederationMetrics {
  private readonly up: Gauge;
  readonly errors: Counter;
  /** Signals this instance sent to, and received from, other instances, by outcome. */
  private readonly crossInstance: Counter<'direction' | 'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.up = new Gauge({
      name: 'tabmesh_redis_up',
      help: '1 while this instance reaches Redis, 0 while it serves its own peers only.',
      registers,
    });
    this.up.set(0);
    this.errors = new Counter({
      name: 'tabmesh_redis_errors_total',
      help: 'Redis commands and connections that failed or timed out.',
      registers,
    });
    this.crossInstance = new Counter({
      name: 'tabmesh_cross_instance_signals_total',
      help: 'Signals relayed through another instance: direction out (sent) or in (received), by outcome.',
      labelNames: ['direction', 'outcome'],
      registers,
    });
  }

  setUp(up: boolean): void {
    this.up.set(up ? 1 : 0);
  }

  signal(direction: 'out' | 'in', outcome: string): void {
    this.crossInstance.inc({ direction, outcome });
  }

  async signalCount(direction: 'out' | 'in', outcome: string): Promise<number> {
    const metric = await this.crossInstance.get();
    return (
      metric.values.find((v) => v.labels['direction'] === direction && v.labels['outcome'] === outcome)?.value ?? 0
    );
  }
}

/**
 * What the STUN responder did with each datagram: `answered`, or why not
 * (stun/codec.ts's refusals, `rate_limited`, and `too_small`: an answer that
 * would exceed MAX_AMPLIFICATION times the request, never expected of a
 * Binding request, kept as the rule's guard).
 */
export const STUN_RESULTS = [
  'answered',
  'malformed',
  'not_binding',
  'unknown_attribute',
  'bad_fingerprint',
  'rate_limited',
  'too_small',
] as const;
export type StunResult = (typeof STUN_RESULTS)[number];

/** tabmesh_stun_requests_total{result}: only with the STUN responder on. */
export class StunMetrics {
  private readonly requests: Counter<'result'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'tabmesh_stun_requests_total',
      help: 'STUN datagrams received on the UDP port, by result: answered, or why dropped.',
      labelNames: ['result'],
      registers: [registry],
    });
    // Every result present from the start, so a rate over it is defined before the first refusal.
    for (const result of STUN_RESULTS) this.requests.inc({ result }, 0);
  }

  count(result: StunResult): void {
    this.requests.inc({ result });
  }

  async countOf(result: StunResult): Promise<number> {
    const metric = await this.requests.get();
    return metric.values.find((v) => v.labels['result'] === result)?.value ?? 0;
  }
}
