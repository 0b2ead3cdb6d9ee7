/**
 * A NodeCore for unit tests of the node's parts: a clock and the confirmed
 * peers the test sets, and problems and warnings recorded for it to read.
 */
import type { ErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import type { NodeCore } from '../../web/node/core.js';
import { ed25519 as nodeEd25519 } from './client.js';

export interface RecordedProblem {
  readonly code: ErrorCode;
  readonly message: string;
  readonly peer: PeerId | undefined;
}

export interface RecordedWarning {
  readonly message: string;
  readonly fields: object | undefined;
}

export interface RecordingCore {
  readonly core: NodeCore;
  /** What the core reports: set by the test. */
  readonly state: { clock: number; connected: PeerId[]; closed: boolean };
  readonly problems: RecordedProblem[];
  /** Warnings and errors logged. */
  readonly warnings: RecordedWarning[];
}

export function recordingCore(
  identity: Identity,
  options: {
    readonly clock: number;
    readonly network: string;
    readonly ed25519?: Ed25519;
    readonly connected?: PeerId[];
  },
): RecordingCore {
  const state = { clock: options.clock, connected: options.connected ?? [], closed: false };
  const problems: RecordedProblem[] = [];
  const warnings: RecordedWarning[] = [];
  const core: NodeCore = {
    identity,
    ed25519: options.ed25519 ?? nodeEd25519,
    network: options.network,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (message, fields) => warnings.push({ message, fields }),
      error: (message, fields) => warnings.push({ message, fields }),
    },
    now: () => state.clock,
    random: () => 0.5,
    closed: () => state.closed,
    connected: () => [...state.connected],
    problem: (code, message, peer) => problems.push({ code, message, peer }),
  };
  return { core, state, problems, warnings };
}
