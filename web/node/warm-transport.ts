/**
 * Initiating transports made before we know whom they will connect to.
 * Making an offer and gathering candidates are the slowest local steps of a
 * dial, and need no identity: the first offer starts in boot() (the page's
 * first script), while storage and identity load and before the rest of the
 * page's code has run; the node keeps one more ready while it has no
 * connection (the dialler keeps it).
 */
import type { Transport, TransportEvents, TransportFactory } from '../transport/transport.js';
import { sameIceServers } from './stun-prediction.js';

/** A prepared transport unused for this long is closed (its ICE servers' credentials may age). */
export const WARM_TRANSPORT_MAX_AGE_MS = 20_000;

/**
 * An initiating transport whose offer and ICE gathering run before a link
 * adopts it. Its events wait until then.
 */
export class WarmTransport {
  readonly transport: Transport;
  readonly createdAt: number;
  private target: TransportEvents | undefined;
  private readonly held: ((events: TransportEvents) => void)[] = [];

  constructor(factory: TransportFactory, iceServers: readonly RTCIceServer[], now: number) {
    this.createdAt = now;
    const deliver = (event: (events: TransportEvents) => void): void => {
      if (this.target === undefined) this.held.push(event);
      else event(this.target);
    };
    this.transport = factory(
      { initiator: true, iceServers },
      {
        onSignal: (signal) => deliver((e) => e.onSignal(signal)),
        onConnect: () => deliver((e) => e.onConnect()),
        onData: (frame) => deliver((e) => e.onData(frame)),
        onClose: (reason) => deliver((e) => e.onClose(reason)),
      },
    );
  }

  /**
   * Hand the transport over: what it held reaches `events` now, in order. An
   * adopter that a held event calls back into (a held close) must hold
   * `transport` before it adopts.
   */
  adopt(events: TransportEvents): Transport {
    this.target = events;
    for (const event of this.held.splice(0)) event(events);
    return this.transport;
  }
}

/**
 * Start an initiating transport now, and return a factory that hands it out
 * once: to the first initiator asked for with the same ICE servers,
 * if asked within {@link WARM_TRANSPORT_MAX_AGE_MS}. Any other first request
 * closes it and gets a fresh transport.
 */
export function prepareOffer(
  factory: TransportFactory,
  iceServers: readonly RTCIceServer[],
  now: () => number,
): TransportFactory {
  let prepared: WarmTransport | undefined = new WarmTransport(factory, iceServers, now());
  return (options, events): Transport => {
    const warm = prepared;
    prepared = undefined;
    if (
      warm !== undefined &&
      options.initiator &&
      sameIceServers(options.iceServers, iceServers) &&
      now() - warm.createdAt <= WARM_TRANSPORT_MAX_AGE_MS
    )
      return warm.adopt(events);
    warm?.transport.close();
    return factory(options, events);
  };
}
