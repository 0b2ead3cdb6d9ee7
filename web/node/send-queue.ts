/**
 * A link's outgoing frames, in order, one at a time (each waits for the
 * channel's backpressure before the next). Whole messages are queued as one
 * job, so their chunks are never interleaved with other frames. What is
 * queued on behalf of others (broadcast copies we forward) is bounded in
 * bytes (issue 15, item 9): a channel that cannot keep up no longer grows an
 * unbounded queue of 1 MiB copies.
 */
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import {
  MAX_MESSAGE_ID,
  chunkFrames,
  encodeMessageStart,
  type BroadcastHeader,
} from '../../shared/protocol/channel.js';
import type { LimitCounters } from './options.js';

export interface SendPort {
  /** Whether frames may go now (the link is connected); a job that finds it not fails with NOT_CONNECTED. */
  connected(): boolean;
  /** Put one frame on the channel; resolves once the channel can take more. */
  transmit(frame: Uint8Array): Promise<void>;
}

/** For a chain that only keeps sends in order: each send's own promise, returned to its caller, carries its failure. */
function leftToTheCaller(): void {
  // The chain goes on after a failed send.
}

export class SendQueue {
  private chain: Promise<void> = Promise.resolve();
  private nextMessageId = 0;
  #queuedBytes = 0;

  constructor(
    private readonly port: SendPort,
    /** Bytes queued beyond which a forwarded copy is not queued (MAX_FORWARD_QUEUE_BYTES). */
    private readonly forwardLimit: number,
    private readonly tally: LimitCounters,
  ) {}

  /** Payload bytes of messages queued and not yet sent. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Send one frame after those already queued. */
  frame(frame: Uint8Array): Promise<void> {
    return this.enqueue(() => this.port.transmit(frame));
  }

  /** Send a whole message (chunked); resolves when the last chunk is on the channel. */
  message(binary: boolean, payload: Uint8Array, broadcast?: BroadcastHeader): Promise<void> {
    const id = this.nextMessageId;
    this.nextMessageId = (this.nextMessageId + 1) % MAX_MESSAGE_ID;
    const length = payload.length;
    this.#queuedBytes += length;
    const job = this.enqueue(async () => {
      await this.port.transmit(
        encodeMessageStart({ id, binary, length, ...(broadcast === undefined ? {} : { broadcast }) }),
      );
      for (const chunk of chunkFrames(id, payload)) await this.port.transmit(chunk);
    });
    const settled = (): void => {
      this.#queuedBytes -= length;
    };
    job.then(settled, settled);
    return job;
  }

  /**
   * Queue a broadcast copy we pass on, unless `forwardLimit` bytes are
   * queued already (counted): undefined when it was not queued. Our own
   * messages are queued regardless; their callers await them.
   */
  forward(binary: boolean, payload: Uint8Array, broadcast: BroadcastHeader): Promise<void> | undefined {
    if (this.#queuedBytes + payload.length > this.forwardLimit) {
      this.tally.forwardOverQueue++;
      return undefined;
    }
    return this.message(binary, payload, broadcast);
  }

  /** Resolves (never rejects) once everything queued so far has gone or failed. */
  drained(): Promise<void> {
    return this.chain;
  }

  private enqueue(send: () => Promise<void>): Promise<void> {
    const job = this.chain.then(() => {
      if (!this.port.connected()) throw new TabmeshError(ErrorCode.NOT_CONNECTED, 'the link is not connected');
      return send();
    });
    this.chain = job.catch(leftToTheCaller);
    return job;
  }
}
