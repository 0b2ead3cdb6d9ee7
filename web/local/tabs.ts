/**
 * Tabs of the same browser (same origin and storage partition) find each
 * other and signal over a BroadcastChannel, with no server at all. Each tab
 * says hello with its signed record when it starts; the others answer with
 * theirs; a closing tab says goodbye. Signals are the usual signed envelopes,
 * checked like any other; every message is parsed here, at the edge, with
 * caps, because any script of the origin can post on the channel.
 */
import { parsePeerId, type PeerId } from '../../shared/identity/peer-id.js';
import { MAX_RECORD_TEXT_CHARS } from '../../shared/records.js';
import { MAX_SIGNAL_PAYLOAD_CHARS } from '../../shared/limits.js';

/** Same-browser tabs remembered as live; more are ignored until some leave. */
export const MAX_LOCAL_TABS = 64;

/** A message between tabs of one browser, as {@link parseLocalMessage} builds it. */
export type LocalMessage =
  | { readonly t: 'hello' | 'here'; readonly id: PeerId; readonly record: string }
  | { readonly t: 'signal'; readonly from: PeerId; readonly to: PeerId; readonly payload: string }
  | { readonly t: 'bye'; readonly id: PeerId };

export interface LocalTabsEvents {
  /** A tab of this browser announced its record (still to be verified). */
  onRecord(record: string): void;
  /** A signal from a tab of this browser, addressed to us (still to be verified). */
  onSignal(from: PeerId, payload: string): void;
}

function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length <= max ? value : undefined;
}

function peer(value: unknown): PeerId | undefined {
  const parsed = parsePeerId(value);
  return parsed.ok ? parsed.value : undefined;
}

/** The edge parser: a structured-clone value from the channel, or undefined if it is not one of ours. */
export function parseLocalMessage(data: unknown): LocalMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const fields = data as Record<string, unknown>;
  switch (fields['t']) {
    case 'hello':
    case 'here': {
      const id = peer(fields['id']);
      const record = text(fields['record'], MAX_RECORD_TEXT_CHARS);
      return id === undefined || record === undefined ? undefined : { t: fields['t'], id, record };
    }
    case 'signal': {
      const from = peer(fields['from']);
      const to = peer(fields['to']);
      const payload = text(fields['payload'], MAX_SIGNAL_PAYLOAD_CHARS);
      return from === undefined || to === undefined || payload === undefined
        ? undefined
        : { t: 'signal', from, to, payload };
    }
    case 'bye': {
      const id = peer(fields['id']);
      return id === undefined ? undefined : { t: 'bye', id };
    }
    default:
      return undefined;
  }
}

export class LocalTabs {
  private readonly channel: BroadcastChannel;
  private readonly live = new Set<PeerId>();
  /** Messages from the channel that were not ours, for the node's tally. */
  ignored = 0;

  constructor(
    network: string,
    private readonly self: PeerId,
    private readonly record: () => string,
    private readonly events: LocalTabsEvents,
  ) {
    this.channel = new BroadcastChannel(`tabmesh/1/${network}`);
    this.channel.onmessage = (event: MessageEvent<unknown>) => this.receive(event.data);
    this.post({ t: 'hello', id: self, record: record() });
  }

  /** Whether `peer` is a live tab of this browser. */
  has(peer: PeerId): boolean {
    return this.live.has(peer);
  }

  /** Live tabs of this browser. */
  peers(): PeerId[] {
    return [...this.live];
  }

  /** Announce our (changed) record to the other tabs. */
  announce(): void {
    this.post({ t: 'here', id: this.self, record: this.record() });
  }

  send(to: PeerId, payload: string): boolean {
    if (!this.live.has(to)) return false;
    this.post({ t: 'signal', from: this.self, to, payload });
    return true;
  }

  close(): void {
    this.post({ t: 'bye', id: this.self });
    this.channel.close();
  }

  private post(message: LocalMessage): void {
    this.channel.postMessage(message);
  }

  private receive(data: unknown): void {
    const message = parseLocalMessage(data);
    if (message === undefined) {
      this.ignored++;
      return;
    }
    switch (message.t) {
      case 'hello':
      case 'here':
        if (message.id === this.self) return;
        if (this.live.has(message.id) || this.live.size < MAX_LOCAL_TABS) this.live.add(message.id);
        // A newcomer gets our record back; an answer needs none.
        if (message.t === 'hello') this.announce();
        this.events.onRecord(message.record);
        return;
      case 'signal':
        if (message.to !== this.self) return;
        // A tab that signals us is alive even if we missed its hello.
        if (this.live.size < MAX_LOCAL_TABS) this.live.add(message.from);
        this.events.onSignal(message.from, message.payload);
        return;
      case 'bye':
        this.live.delete(message.id);
        return;
    }
  }
}
