/**
 * Short-lived TURN credentials in the shared-secret scheme that coturn checks
 * with `use-auth-secret` (the "TURN REST API", draft-uberti-behave-turn-rest):
 * the username carries its own expiry, `<unix seconds>:<peer ID>`, and the
 * password is base64(HMAC-SHA1(secret, username)). The TURN server needs no
 * user database and no call to us: it recomputes the HMAC with the same
 * secret and refuses a username whose time has passed. See docs/TURN.md.
 */
import { createHmac } from 'node:crypto';
import { MAX_TURN_TTL_MS, MAX_TURN_URL_CHARS, MAX_TURN_URLS } from '../shared/limits.js';
import type { TurnCredentials } from '../shared/protocol/signaling.js';

/** Shortest credential lifetime a server may be configured with: a connection attempt must fit in it. */
export const MIN_TURN_TTL_S = 60;
/** Longest: MAX_TURN_TTL_MS, what a client accepts. */
export const MAX_TURN_TTL_S = MAX_TURN_TTL_MS / 1000;
/**
 * A shorter secret is refused: the HMAC is only as strong as the secret, and
 * anyone who guesses it can mint credentials for the TURN server.
 */
export const MIN_TURN_SECRET_CHARS = 16;
/** What the TURN URL option accepts (the browser's RTCIceServer rules for TURN). */
export const TURN_URL_PATTERN = /^turns?:[^\s,]+$/;

export interface TurnConfig {
  readonly urls: readonly string[];
  /** The secret shared with the TURN server (coturn's `static-auth-secret`). Never logged. */
  readonly secret: string;
  /** Lifetime of each set of credentials, in seconds. */
  readonly ttlS: number;
}

/** Why a TURN configuration is unusable, or undefined when it is fine. */
export function turnConfigProblem(config: TurnConfig): string | undefined {
  if (config.urls.length === 0) return 'at least one TURN URL is needed';
  if (config.urls.length > MAX_TURN_URLS) return `at most ${MAX_TURN_URLS} TURN URLs`;
  for (const url of config.urls) {
    if (url.length > MAX_TURN_URL_CHARS || !TURN_URL_PATTERN.test(url))
      return `'${url.slice(0, MAX_TURN_URL_CHARS)}' is not a turn: or turns: URL of at most ${MAX_TURN_URL_CHARS} characters`;
  }
  if (config.secret.length < MIN_TURN_SECRET_CHARS)
    return `the TURN secret must be at least ${MIN_TURN_SECRET_CHARS} characters`;
  if (!Number.isInteger(config.ttlS) || config.ttlS < MIN_TURN_TTL_S || config.ttlS > MAX_TURN_TTL_S)
    return `the TURN credential lifetime must be ${MIN_TURN_TTL_S}..${MAX_TURN_TTL_S} s`;
  return undefined;
}

/**
 * Credentials for `user` (a peer ID) valid until `nowMs` plus the lifetime.
 * The expiry is whole seconds, rounded down, so the credentials never
 * outlive what they claim; `ttlMs` tells the client what is left.
 */
export function mintTurnCredentials(config: TurnConfig, user: string, nowMs: number): TurnCredentials {
  const expiresS = Math.floor(nowMs / 1000) + config.ttlS;
  return turnCredentialsUntil(config, user, expiresS, nowMs);
}

/**
 * Credentials whose username names `expiresS` (unix seconds) as their
 * expiry. mintTurnCredentials uses it; tests use it for expired ones.
 */
export function turnCredentialsUntil(
  config: Pick<TurnConfig, 'urls' | 'secret'>,
  user: string,
  expiresS: number,
  nowMs: number,
): TurnCredentials {
  const username = `${expiresS}:${user}`;
  const credential = createHmac('sha1', config.secret).update(username).digest('base64');
  return { urls: [...config.urls], username, credential, ttlMs: Math.max(1, expiresS * 1000 - nowMs) };
}
