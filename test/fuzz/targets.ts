/**
 * Every fuzz target, written once: `npm test` runs each for 10,000 cases
 * (test/unit/fuzz-targets.test.ts, test/server/hub-fuzz.test.ts) and
 * `npm run fuzz` for as many cases or minutes as asked (test/fuzz/run.ts).
 * Each feeds one decoder of untrusted input (or the server's frame handler)
 * valid inputs, structure-aware mutations of them and random ones, and holds
 * it to: a value or a typed error, never a throw, and what it accepts
 * re-encodes to what it read.
 */
import { admissionTarget } from './targets/admission.js';
import { channelFrameTarget, reassemblerTarget, sealedContentTarget } from './targets/channel.js';
import { instanceMessageTarget, presenceTarget } from './targets/cluster.js';
import { hubTarget, hubSocketTarget } from './targets/hub.js';
import { recordTarget, recordVerifyTarget } from './targets/records.js';
import { signalBodyTarget, signalTarget } from './targets/signal.js';
import { clientMessageTarget, serverMessageTarget } from './targets/signaling.js';
import { localTabsTarget, peerCacheTarget } from './targets/storage.js';
import { stunHostTarget, stunRequestTarget } from './targets/stun.js';
import { base64urlTarget, canonicalTarget, peerIdTarget } from './targets/wire.js';
import type { FuzzTarget } from './target.js';

/** The decoders: each parses untrusted bytes, text or stored values. */
export const CODEC_TARGETS: readonly FuzzTarget[] = [
  clientMessageTarget,
  serverMessageTarget,
  channelFrameTarget,
  reassemblerTarget,
  sealedContentTarget,
  signalTarget,
  signalBodyTarget,
  recordTarget,
  recordVerifyTarget,
  canonicalTarget,
  base64urlTarget,
  peerIdTarget,
  presenceTarget,
  instanceMessageTarget,
  peerCacheTarget,
  localTabsTarget,
  admissionTarget,
  stunRequestTarget,
  stunHostTarget,
];

/** The server's frame handler: the real Hub, in process and behind a real socket. */
export const SERVER_TARGETS: readonly FuzzTarget[] = [hubTarget, hubSocketTarget];

export const TARGETS: readonly FuzzTarget[] = [...CODEC_TARGETS, ...SERVER_TARGETS];
