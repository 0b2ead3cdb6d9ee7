/**
 * Why an attempt found no path: the candidate types each side offered,
 * noted as the signals pass, turned into a diagnosis when the channel never
 * opens although both descriptions were exchanged.
 *
 * Two peers behind symmetric NATs (a new outside port per destination), or
 * behind a firewall that drops unsolicited UDP, offer host and srflx
 * candidates that can never meet; only a TURN relay joins them. Without a
 * relay candidate on either side, that is what the failure says
 * (RELAY_NEEDED), so a user or self-hoster sees the fix rather than a bare
 * timeout. With a relay on one side the attempt had its best chance, and the
 * failure stays CONNECT_FAILED.
 */
import { ErrorCode } from '../../shared/errors.js';
import { isCandidateType, type CandidateType } from '../transport/stats.js';

/** An SDP candidate attribute's `typ` field (RFC 8839 §5.1). */
const TYP = /\styp\s+(\S+)/;

/** The type a candidate line (`candidate:…` or `a=candidate:…`) declares; undefined when it declares none we know. */
export function candidateTypeOf(line: string): CandidateType | undefined {
  const type = TYP.exec(line)?.[1];
  return isCandidateType(type) ? type : undefined;
}

/** The candidate types one side offered: in trickled candidates, and in its SDP's `a=candidate` lines. */
export class OfferedTypes {
  readonly local = new Set<CandidateType>();
  readonly remote = new Set<CandidateType>();

  noteCandidate(side: 'local' | 'remote', candidate: string): void {
    const type = candidateTypeOf(candidate);
    if (type !== undefined) this[side].add(type);
  }

  noteSdp(side: 'local' | 'remote', sdp: string): void {
    for (const line of sdp.split(/\r?\n/)) if (line.startsWith('a=candidate:')) this.noteCandidate(side, line);
  }

  /**
   * The code and words for an attempt whose descriptions were exchanged but
   * whose ICE checks never found a working pair: RELAY_NEEDED when both
   * sides had an address from a STUN server yet neither offered a relay;
   * CONNECT_FAILED, saying what was missing, otherwise.
   */
  diagnose(): { code: ErrorCode; message: string } {
    if (this.local.has('relay') || this.remote.has('relay')) {
      return { code: ErrorCode.CONNECT_FAILED, message: 'no path between the two peers, even through the TURN relay' };
    }
    const reflexive = (types: ReadonlySet<CandidateType>): boolean => types.has('srflx') || types.has('prflx');
    const [ours, theirs] = [reflexive(this.local), reflexive(this.remote)];
    if (!ours || !theirs) {
      const which = !ours && !theirs ? 'neither side has' : !ours ? 'this side has' : 'the peer has';
      return {
        code: ErrorCode.CONNECT_FAILED,
        message:
          `no direct path, and ${which} no address from a STUN server (unreachable, or none configured): ` +
          'a relay may not be what is missing (the signaling server answers STUN unless started with --no-stun)',
      };
    }
    return {
      code: ErrorCode.RELAY_NEEDED,
      message:
        'no direct path between the two networks (a symmetric NAT or a firewall): a TURN relay is needed ' +
        '(the signaling server offers one when started with --turn-urls and --turn-secret)',
    };
  }
}
