/**
 * Everything the server writes to one connection goes through its Outbox,
 * which holds the connection's send budget: the server's own replies close a
 * connection that has left too much unread, and relays into it are refused
 * past the relay budget or their sender's quota of it. When the connection
 * reads slower than it is sent to, relays wait in one queue per sender and
 * go out one signal per sender per round, so a flood into a tab delays the
 * flooders, not everyone: what one party provokes is charged to that party.
 */
import type { Duplex } from 'node:stream';

/** What the outbox needs of a `ws` socket (structural, so the unit tests can fake it). */
export interface OutboxSocket {
  /** Bytes handed to `send` and not yet written to the kernel (ws counts its own and the TCP socket's). */
  readonly bufferedAmount: number;
  send(data: Buffer, options: { readonly binary: false }, callback?: (error?: Error | null) => void): void;
}

export interface OutboxLimits {
  /** Unsent bytes past which the server's own replies close the connection instead. */
  readonly sendBudgetBytes: number;
  /** Unsent bytes past which relays into the connection are refused. */
  readonly maxBufferedBytes: number;
  /** Relay bytes one sender may have waiting here (Infinity: no per-sender quota, one queue for all). */
  readonly maxBufferedPerSender: number;
}

/**
 * Bytes handed to the socket ahead of the kernel. Below it relays go
 * straight out (the common case: the kernel takes everything); above it
 * they wait in their senders' queues, where they can still be taken in
 * turn. 64 KiB holds a burst of signals to one tab in one event-loop turn.
 */
export const WRITE_AHEAD_BYTES = 64 * 1024;

const TEXT = { binary: false } as const;

/** The most bytes ws puts before a frame the server sends (2, and 8 for a length over 65,535; never masked). */
const MAX_FRAME_HEADER_BYTES = 10;

interface Queue {
  readonly frames: Buffer[];
  bytes: number;
}

export class Outbox {
  /** Relays waiting for the socket, by sender, in the order they are next served (made when one first waits). */
  private queues: Map<string, Queue> | undefined;
  private queuedBytes = 0;
  /**
   * Made when first needed: most connections never fall behind, and an idle
   * connection is the commonest kind, so it holds no closure for this.
   */
  private onWritten: ((error?: Error | null) => void) | undefined;
  /** Writes handed to the socket that call back when done, not yet called back. */
  private awaiting = 0;

  constructor(
    private readonly socket: OutboxSocket,
    private readonly limits: OutboxLimits,
  ) {}

  /** Bytes for this connection not yet written to the kernel: in the socket and in the queues. */
  get unsent(): number {
    return this.socket.bufferedAmount + this.queuedBytes;
  }

  /** Senders with relays waiting here now. */
  get senders(): number {
    return this.queues?.size ?? 0;
  }

  /** Whether `bytes` more stay within the send budget. */
  fits(bytes: number): boolean {
    return this.unsent + bytes <= this.limits.sendBudgetBytes;
  }

  /**
   * A reply of the server's own (or a notice): straight to the socket. False,
   * and nothing written, when it would take the connection over its send
   * budget: the caller closes it.
   */
  reply(data: Buffer): boolean {
    if (!this.fits(data.length)) return false;
    // Its completion may make room for relays waiting behind it.
    this.write(data);
    return true;
  }

  /**
   * A signal relayed from `sender` (its peer ID). False, and nothing kept,
   * past the relay budget or the sender's quota: the sender is told it is busy.
   */
  relay(data: Buffer, sender: string): boolean {
    const size = data.length;
    const total = this.unsent + size;
    if (total > this.limits.maxBufferedBytes || total > this.limits.sendBudgetBytes) return false;
    const fair = this.limits.maxBufferedPerSender !== Infinity;
    const key = fair ? sender : '';
    const queue = this.queues?.get(key);
    // A sender with nothing waiting may always have one signal in, however large.
    if (fair && queue !== undefined && queue.bytes + size > this.quota(sender)) return false;
    if (queue === undefined && this.senders === 0 && this.socket.bufferedAmount < WRITE_AHEAD_BYTES) {
      this.write(data);
      return true;
    }
    if (queue === undefined) (this.queues ??= new Map()).set(key, { frames: [data], bytes: size });
    else {
      queue.frames.push(data);
      queue.bytes += size;
    }
    this.queuedBytes += size;
    this.pump();
    return true;
  }

  /**
   * `sender`'s quota: maxBufferedPerSender, or an equal share of the relay
   * budget among the senders waiting here and one more (a share kept free
   * for a sender not waiting yet), whichever is smaller.
   */
  quota(sender: string): number {
    const active = this.senders + (this.queues?.has(sender) === true ? 0 : 1);
    return Math.min(this.limits.maxBufferedPerSender, Math.floor(this.limits.maxBufferedBytes / (active + 1)));
  }

  /**
   * Hand the socket what it may take, one signal per sender per round. While
   * relays wait, a write that calls back is always under way (one goes now if
   * none is: the socket may have fallen behind on frames ws wrote itself,
   * pings and pongs), so they never wait for nothing.
   */
  private pump(): void {
    const queues = this.queues;
    if (queues === undefined) return;
    while (this.socket.bufferedAmount < WRITE_AHEAD_BYTES || this.awaiting === 0) {
      const next = queues.entries().next();
      if (next.done === true) return;
      const [key, queue] = next.value;
      const frame = queue.frames.shift();
      queues.delete(key);
      if (frame === undefined) continue;
      queue.bytes -= frame.length;
      this.queuedBytes -= frame.length;
      // Served: to the back of the line, if it has more.
      if (queue.frames.length > 0) queues.set(key, queue);
      this.write(frame);
    }
  }

  /**
   * A write asks to be told when it is done only when something may wait on
   * it: relays are waiting, or it may leave the socket WRITE_AHEAD_BYTES
   * behind (only then can a relay come to wait). Idle and keeping-up
   * connections hold no callback at all.
   */
  private write(frame: Buffer): void {
    if (this.senders > 0 || this.socket.bufferedAmount + frame.length + MAX_FRAME_HEADER_BYTES >= WRITE_AHEAD_BYTES) {
      this.awaiting++;
      this.socket.send(frame, TEXT, (this.onWritten ??= this.written.bind(this)));
    } else this.socket.send(frame, TEXT);
  }

  /** ws calls back once a frame is written to the kernel (room for more), or with an error once the socket is gone. */
  private written(error?: Error | null): void {
    this.awaiting--;
    // Node calls back with null on success.
    if (error instanceof Error) {
      this.queues?.clear();
      this.queuedBytes = 0;
    } else if (this.senders > 0) this.pump();
  }
}

/**
 * Corks the TCP sockets written to in this event-loop turn and uncorks them
 * all on the next tick: everything relayed to one peer in a turn (an offer
 * and its candidates) leaves in one write, with no added latency.
 */
export class TickBatch {
  private readonly corked = new Set<Duplex>();

  add(tcp: Duplex): void {
    if (this.corked.has(tcp)) return;
    this.corked.add(tcp);
    tcp.cork();
    if (this.corked.size === 1) process.nextTick(this.flush);
  }

  private readonly flush = (): void => {
    for (const tcp of this.corked) tcp.uncork();
    this.corked.clear();
  };
}
