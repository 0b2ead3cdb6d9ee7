/**
 * What every part of the node shares: who we are, the clock and randomness
 * (injected, so tests drive them), the logger, the problem tally, and which
 * peers have confirmed channels. Each part takes this plus a small host
 * interface of its own for what only it needs.
 */
import type { ErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import type { Logger } from './options.js';

export interface NodeCore {
  /** Our identity: our ID (`identity.id`) and our signing key. */
  readonly identity: Identity;
  readonly ed25519: Ed25519;
  readonly network: string;
  readonly logger: Logger;
  now(): number;
  random(): number;
  /** Whether the node has been closed. */
  closed(): boolean;
  /** Peers with open, confirmed channels. */
  connected(): PeerId[];
  /** Count a refusal or problem (the node's `problems()`), log it, and emit a `warning`. */
  problem(code: ErrorCode, message: string, peer: PeerId | undefined): void;
}
