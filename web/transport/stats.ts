/**
 * Reading a peer connection's statistics (RTCPeerConnection.getStats()):
 * the round-trip time and the candidate types of the ICE candidate pair the
 * connection uses.
 * https://www.w3.org/TR/webrtc-stats/#dom-rtcicecandidatepairstats-currentroundtriptime
 */

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** An ICE candidate's type (RTCIceCandidateType): on this machine, reflected by a STUN server, learnt from a check, or a TURN relay. */
export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

/** The selected pair's two ends: what kind of path the connection takes. */
export interface PathTypes {
  readonly local: CandidateType;
  readonly remote: CandidateType;
}

const CANDIDATE_TYPES: ReadonlySet<string> = new Set(['host', 'srflx', 'prflx', 'relay']);

export function isCandidateType(value: unknown): value is CandidateType {
  return typeof value === 'string' && CANDIDATE_TYPES.has(value);
}

/**
 * The candidate pair the connection uses, or undefined when there is none
 * yet. Chromium names it in the `transport` stats; Firefox has no transport
 * stats, so there the nominated, succeeded pair stands in.
 */
function selectedPair(report: ReadonlyMap<string, unknown>): Record<string, unknown> | undefined {
  for (const stat of report.values()) {
    if (isRecord(stat) && stat['type'] === 'transport' && typeof stat['selectedCandidatePairId'] === 'string') {
      const selected = report.get(stat['selectedCandidatePairId']);
      if (isRecord(selected)) return selected;
      break;
    }
  }
  for (const stat of report.values()) {
    if (
      isRecord(stat) &&
      stat['type'] === 'candidate-pair' &&
      stat['nominated'] === true &&
      stat['state'] === 'succeeded'
    )
      return stat;
  }
  return undefined;
}

/** The selected pair's `currentRoundTripTime` (seconds in the report) in ms, or undefined when there is none yet. */
export function selectedPairRttMs(report: ReadonlyMap<string, unknown>): number | undefined {
  return rttOf(selectedPair(report));
}

/** The selected pair's candidate types, or undefined when there is no pair yet or a candidate's type is missing. */
export function selectedPairPath(report: ReadonlyMap<string, unknown>): PathTypes | undefined {
  return pathOf(report, selectedPair(report));
}

/** Both figures of the selected pair, the pair found once: what a transport's stats() gives. */
export function selectedPairStats(report: ReadonlyMap<string, unknown>): { rttMs?: number; path?: PathTypes } {
  const pair = selectedPair(report);
  const [rttMs, path] = [rttOf(pair), pathOf(report, pair)];
  return { ...(rttMs === undefined ? {} : { rttMs }), ...(path === undefined ? {} : { path }) };
}

function rttOf(pair: Record<string, unknown> | undefined): number | undefined {
  const seconds = pair?.['currentRoundTripTime'];
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function pathOf(
  report: ReadonlyMap<string, unknown>,
  pair: Record<string, unknown> | undefined,
): PathTypes | undefined {
  if (pair === undefined) return undefined;
  const typeOf = (id: unknown): CandidateType | undefined => {
    const candidate = typeof id === 'string' ? report.get(id) : undefined;
    const type = isRecord(candidate) ? candidate['candidateType'] : undefined;
    return isCandidateType(type) ? type : undefined;
  };
  const local = typeOf(pair['localCandidateId']);
  const remote = typeOf(pair['remoteCandidateId']);
  return local === undefined || remote === undefined ? undefined : { local, remote };
}
