/**
 * WebRTC in Node: @roamhq/wrtc, an optional dependency (a native module with
 * prebuilt binaries for common platforms only), loaded when a node first
 * needs it, so `tabmesh/node` imports without it and says what is missing.
 */
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { simplePeerTransport } from '../transport/simple-peer.js';

/** The package that gives Node WebRTC. */
export const WRTC_PACKAGE = '@roamhq/wrtc';

/** What simple-peer's `wrtc` option takes. */
export type Wrtc = NonNullable<Parameters<typeof simplePeerTransport>[0]>;

const MISSING = `Tabmesh in Node needs the optional dependency ${WRTC_PACKAGE}: npm install ${WRTC_PACKAGE}`;

/** Imports a module by name (a test gives one that fails). */
export type Importer = (specifier: string) => Promise<unknown>;

const importModule: Importer = (specifier) => import(specifier);

/**
 * Load @roamhq/wrtc; throws TabmeshError WEBRTC_UNAVAILABLE when it is not
 * installed, does not load (no binary for this platform), or lacks the
 * classes simple-peer needs.
 */
export async function loadWrtc(importer: Importer = importModule): Promise<Wrtc> {
  let loaded: unknown;
  try {
    loaded = await importer(WRTC_PACKAGE);
  } catch (error) {
    throw new TabmeshError(ErrorCode.WEBRTC_UNAVAILABLE, MISSING, { cause: error });
  }
  // A CommonJS module: its exports are the namespace's default.
  const exports: unknown = hasProperty(loaded, 'default') ? loaded.default : loaded;
  const classes = ['RTCPeerConnection', 'RTCSessionDescription', 'RTCIceCandidate'] as const;
  if (!classes.every((name) => hasProperty(exports, name) && typeof exports[name] === 'function')) {
    throw new TabmeshError(ErrorCode.WEBRTC_UNAVAILABLE, `${WRTC_PACKAGE} loaded without its WebRTC classes`);
  }
  // Checked above to be the three constructors; their types are the standard ones it implements.
  return exports as Wrtc;
}

function hasProperty<K extends string>(value: unknown, key: K): value is Record<K, unknown> {
  return typeof value === 'object' && value !== null && key in value;
}
