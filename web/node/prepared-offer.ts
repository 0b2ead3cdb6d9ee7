/**
 * The first offer, started by createNode before the node exists: making an
 * offer and gathering candidates are the slowest local steps of a first dial,
 * and they need no identity, so they run while storage and identity load.
 * The node's own prepared transport (WarmTransport in link.ts) is the first
 * initiator it asks the factory for; it gets this one, already under way.
 */
import type { Transport, TransportFactory } from '../transport/transport.js';
import { WarmTransport } from './link.js';

/**
 * Start an initiating transport now, and return a factory that hands it out
 * once: to the first initiator asked for with the same `iceServers` array.
 * Any other first request closes it and gets a fresh transport.
 */
export function prepareOffer(
  factory: TransportFactory,
  iceServers: readonly RTCIceServer[],
  now: number,
): TransportFactory {
  let prepared: WarmTransport | undefined = new WarmTransport(factory, iceServers, now);
  return (options, events): Transport => {
    const warm = prepared;
    prepared = undefined;
    if (warm !== undefined && options.initiator && options.iceServers === iceServers) return warm.adopt(events);
    warm?.transport.close();
    return factory(options, events);
  };
}
