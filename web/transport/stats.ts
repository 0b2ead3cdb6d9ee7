/**
 * Reading a peer connection's statistics (RTCPeerConnection.getStats()):
 * the round-trip time of the ICE candidate pair the connection uses.
 * https://www.w3.org/TR/webrtc-stats/#dom-rtcicecandidatepairstats-currentroundtriptime
 */

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * The selected pair's `currentRoundTripTime` (seconds in the report) in ms,
 * or undefined when there is none yet. Chromium names the selected pair in
 * the `transport` stats; Firefox has no transport stats, so there the
 * nominated, succeeded pair stands in.
 */
export function selectedPairRttMs(report: ReadonlyMap<string, unknown>): number | undefined {
  let pair: Record<string, unknown> | undefined;
  for (const stat of report.values()) {
    if (isRecord(stat) && stat['type'] === 'transport' && typeof stat['selectedCandidatePairId'] === 'string') {
      const selected = report.get(stat['selectedCandidatePairId']);
      if (isRecord(selected)) pair = selected;
      break;
    }
  }
  if (pair === undefined) {
    for (const stat of report.values()) {
      if (
        isRecord(stat) &&
        stat['type'] === 'candidate-pair' &&
        stat['nominated'] === true &&
        stat['state'] === 'succeeded'
      ) {
        pair = stat;
        break;
      }
    }
  }
  const seconds = pair?.['currentRoundTripTime'];
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
