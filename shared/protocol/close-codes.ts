/**
 * WebSocket close codes a signaling server uses, and the error code behind
 * each. 1000-1015 are RFC 6455's; 4000-4999 are ours (modelled on HTTP
 * statuses so they read at a glance).
 */
import { ErrorCode } from '../errors.js';

export const CloseCode = {
  /** Server shutting down (with a goaway message first). */
  GOING_AWAY: 1001,
  /** A binary frame on the text-only signaling channel. */
  UNSUPPORTED_DATA: 1003,
  /** The client left more than its send budget unread (`NOT_READING`). */
  POLICY_VIOLATION: 1008,
  /** Frame over the server's size cap (sent by ws itself). */
  MESSAGE_TOO_BIG: 1009,
  /** A malformed or out-of-order message before registration. */
  BAD_REQUEST: 4400,
  /** Registration refused: signature, ID, network or record checks failed. */
  UNAUTHORIZED: 4401,
  /** No valid registration before the challenge expired. */
  TIMEOUT: 4408,
  /** The same peer ID registered again on a newer connection. */
  REPLACED: 4409,
  /** The client speaks no protocol version this server supports. */
  VERSION_UNSUPPORTED: 4426,
  /** Kept flooding while throttled. */
  FLOODING: 4429,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The close code for an error that ends a connection during registration. */
export function registrationCloseCode(code: ErrorCode): CloseCode {
  switch (code) {
    case ErrorCode.VERSION_UNSUPPORTED:
      return CloseCode.VERSION_UNSUPPORTED;
    case ErrorCode.CHALLENGE_EXPIRED:
    case ErrorCode.REGISTRATION_TIMEOUT:
      return CloseCode.TIMEOUT;
    case ErrorCode.BAD_SIGNATURE:
    case ErrorCode.ID_MISMATCH:
    case ErrorCode.NETWORK_MISMATCH:
    case ErrorCode.RECORD_BAD_SIGNATURE:
    case ErrorCode.RECORD_EXPIRED:
    case ErrorCode.RECORD_FUTURE_DATED:
    case ErrorCode.RECORD_LIFETIME_TOO_LONG:
    case ErrorCode.RECORD_MALFORMED:
    case ErrorCode.RECORD_TOO_LARGE:
      return CloseCode.UNAUTHORIZED;
    default:
      return CloseCode.BAD_REQUEST;
  }
}
