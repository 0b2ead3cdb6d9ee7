/**
 * Command-line flags and environment variables for `tabmesh-peer`, parsed and
 * validated into one typed PeerConfig. Flags win over the environment; a bad
 * value is a UsageError naming the flag (the CLI prints it with the usage and
 * exits 2). docs/NODE.md lists them all.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_TURN_URL_CHARS, MAX_TURN_CREDENTIAL_CHARS, MAX_TURN_USERNAME_CHARS } from '../../shared/limits.js';
import { isValidDisplayName, isValidEndpoint, isValidNetworkName } from '../../shared/records.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_NETWORK } from '../node/options.js';

/**
 * Most connections --max-connections allows. Each is a peer connection of its
 * own (UDP sockets, DTLS, SCTP) in one process, while the membership keeps at
 * most DEFAULT_ACTIVE_VIEW neighbours whatever the figure: the rest is room
 * for connections peers ask for, and past a few hundred a typo costs memory.
 */
export const MAX_PEER_CONNECTIONS = 256;
/** Most signaling URLs: they are tried in turn, so more only lengthen a rotation. */
export const MAX_SIGNALING_URLS = 8;
/** Most entries in --ice-servers (as many as TURN URLs a signaling server hands out). */
export const MAX_ICE_SERVERS = 8;
/** Most URLs in one --ice-servers entry. */
export const MAX_ICE_URLS_PER_SERVER = 4;
/**
 * Address of the metrics port unless --metrics-host says otherwise: metrics
 * name this peer's neighbours' counts and refusals, not for the public (as
 * tabmesh-signal's --metrics-port).
 */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

export type PeerLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const PEER_LOG_LEVELS: readonly PeerLogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
export const DEFAULT_LOG_LEVEL: PeerLogLevel = 'info';

const ICE_URL_PATTERN = /^(stun|stuns|turn|turns):[^\s]+$/;

/** Each setting: its environment variable, kind, and help text (every default named). */
const SETTINGS = {
  signaling: {
    env: 'TABMESH_SIGNALING',
    kind: 'list',
    help: `Signaling server WebSocket URL (ws:// or wss://), tried in turn; repeat the flag, or separate URLs with commas (at most ${MAX_SIGNALING_URLS}). Required.`,
  },
  network: { env: 'TABMESH_NETWORK', kind: 'string', help: `Network to join. Default ${DEFAULT_NETWORK}.` },
  'data-dir': {
    env: 'TABMESH_DATA_DIR',
    kind: 'string',
    help: 'Folder keeping the identity and the peer cache across restarts (created 0700; one process per folder). Required unless --ephemeral.',
  },
  ephemeral: {
    env: 'TABMESH_EPHEMERAL',
    kind: 'bool',
    help: 'Keep nothing: a new identity and an empty peer cache on every start. Default off.',
  },
  'max-connections': {
    env: 'TABMESH_MAX_CONNECTIONS',
    kind: 'int',
    help: `Most open connections (1..${MAX_PEER_CONNECTIONS}). Default ${DEFAULT_MAX_CONNECTIONS}.`,
  },
  name: { env: 'TABMESH_NAME', kind: 'string', help: "Display name in this peer's record. Default: none." },
  'ice-servers': {
    env: 'TABMESH_ICE_SERVERS',
    kind: 'string',
    help: `STUN/TURN servers as JSON, like [{"urls":"stun:stun.example.com:3478"}] (at most ${MAX_ICE_SERVERS}; turn: entries need username and credential; prefer the environment variable for credentials). Used with the signaling server's TURN credentials. Default: none.`,
  },
  'metrics-port': {
    env: 'TABMESH_METRICS_PORT',
    kind: 'int',
    help: 'Port serving Prometheus GET /metrics (on --metrics-host; 0 = any free port). Default: none (not served).',
  },
  'metrics-host': {
    env: 'TABMESH_METRICS_HOST',
    kind: 'string',
    help: `Address of the metrics port. Default ${DEFAULT_METRICS_HOST}.`,
  },
  'log-level': {
    env: 'LOG_LEVEL',
    kind: 'string',
    help: `One of ${PEER_LOG_LEVELS.join(', ')}. Default ${DEFAULT_LOG_LEVEL}.`,
  },
} as const;

type Name = keyof typeof SETTINGS;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface PeerConfig {
  readonly signaling: readonly string[];
  readonly network: string;
  /** Absolute path; undefined with --ephemeral. */
  readonly dataDir: string | undefined;
  readonly maxConnections: number;
  readonly name: string | undefined;
  readonly iceServers: readonly RTCIceServer[];
  /** Where /metrics is served; undefined when it is not. */
  readonly metrics: { readonly host: string; readonly port: number } | undefined;
  readonly logLevel: PeerLogLevel;
}

export type PeerCommand =
  { readonly kind: 'help' } | { readonly kind: 'version' } | { readonly kind: 'run'; readonly config: PeerConfig };

export function usage(): string {
  const lines = Object.entries(SETTINGS).map(([flag, s]) => {
    const value = s.kind === 'bool' ? '' : ' <value>';
    return `  --${flag}${value}\n      ${s.help} (env ${s.env})`;
  });
  return [
    'Usage: tabmesh-peer --signaling <ws-url> (--data-dir <folder> | --ephemeral) [options]',
    '',
    'Runs an always-on Tabmesh peer. Logs one JSON line per event to stdout;',
    'SIGTERM or SIGINT closes it. Exit codes: 0 stopped, 1 failed, 2 usage error.',
    '',
    'Options:',
    ...lines,
    '  --help, --version',
    '',
  ].join('\n');
}

type Env = Readonly<Record<string, string | undefined>>;

/** Parse argv (without node and the script) and the environment; throws UsageError. */
export function parsePeerCli(argv: readonly string[], env: Env, cwd: string = process.cwd()): PeerCommand {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(
          Object.entries(SETTINGS).map(([flag, s]) => [
            flag,
            s.kind === 'bool' ? { type: 'boolean' as const } : { type: 'string' as const, multiple: s.kind === 'list' },
          ]),
        ),
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values['help'] === true) return { kind: 'help' };
  if (values['version'] === true) return { kind: 'version' };
  const raw = (name: Name): string | string[] | boolean | undefined => values[name] ?? env[SETTINGS[name].env];
  const str = (name: Name): string | undefined => {
    const value = raw(name);
    return typeof value === 'string' ? value : undefined;
  };
  return { kind: 'run', config: buildConfig(raw, str, cwd) };
}

function buildConfig(
  raw: (name: Name) => string | string[] | boolean | undefined,
  str: (name: Name) => string | undefined,
  cwd: string,
): PeerConfig {
  const signaling = signalingUrls(raw('signaling'));
  const network = str('network') ?? DEFAULT_NETWORK;
  if (!isValidNetworkName(network)) throw new UsageError('--network must be 1 to 64 of A-Z a-z 0-9 . _ ~ -');
  const ephemeral = bool('ephemeral', raw('ephemeral'));
  const dir = str('data-dir');
  if (ephemeral && dir !== undefined) throw new UsageError('--data-dir and --ephemeral exclude each other');
  if (!ephemeral && (dir === undefined || dir.trim() === '')) {
    throw new UsageError('--data-dir is required (or --ephemeral, for a peer that keeps nothing)');
  }
  const maxConnections = int('max-connections', str('max-connections')) ?? DEFAULT_MAX_CONNECTIONS;
  if (maxConnections < 1 || maxConnections > MAX_PEER_CONNECTIONS)
    throw new UsageError(`--max-connections must be 1..${MAX_PEER_CONNECTIONS}`);
  const name = str('name');
  if (name !== undefined && !isValidDisplayName(name))
    throw new UsageError('--name must be 1 to 64 bytes, no control characters, no leading or trailing spaces');
  const iceJson = str('ice-servers');
  const port = int('metrics-port', str('metrics-port'));
  if (port !== undefined && port > 65535) throw new UsageError('--metrics-port must be 0..65535');
  const host = str('metrics-host');
  if (host !== undefined && host.trim() === '') throw new UsageError('--metrics-host must not be empty');
  if (host !== undefined && port === undefined) throw new UsageError('--metrics-host needs --metrics-port');
  return {
    signaling,
    network,
    dataDir: ephemeral || dir === undefined ? undefined : resolve(cwd, dir),
    maxConnections,
    name,
    iceServers: iceJson === undefined ? [] : parseIceServers(iceJson),
    metrics: port === undefined ? undefined : { host: host ?? DEFAULT_METRICS_HOST, port },
    logLevel: logLevel(str('log-level')),
  };
}

function signalingUrls(value: string | string[] | boolean | undefined): string[] {
  const given = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  const urls = [
    ...new Set(
      given
        .flatMap((v) => v.split(','))
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
  ];
  if (urls.length === 0) throw new UsageError('--signaling is required: a ws:// or wss:// URL');
  if (urls.length > MAX_SIGNALING_URLS) throw new UsageError(`--signaling takes at most ${MAX_SIGNALING_URLS} URLs`);
  for (const url of urls) {
    if (!isValidEndpoint(url))
      throw new UsageError(`--signaling: '${url}' is not a ws:// or wss:// URL (like ws://host:8787/ws)`);
  }
  return urls;
}

function int(name: Name, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  return Number(value);
}

/** A flag is present or not; its environment variable is 1/true/yes (or empty) or 0/false/no. */
function bool(name: Name, value: string | string[] | boolean | undefined): boolean {
  if (value === undefined || typeof value === 'boolean') return value ?? false;
  if (Array.isArray(value)) throw new UsageError(`--${name} takes no value`);
  const text = value.trim().toLowerCase();
  if (['1', 'true', 'yes', ''].includes(text)) return true;
  if (['0', 'false', 'no'].includes(text)) return false;
  throw new UsageError(`--${name} must be true or false`);
}

function logLevel(value: string | undefined): PeerLogLevel {
  const level = PEER_LOG_LEVELS.find((l) => l === (value ?? DEFAULT_LOG_LEVEL));
  if (level === undefined) throw new UsageError(`--log-level must be one of ${PEER_LOG_LEVELS.join(', ')}`);
  return level;
}

/**
 * Parse --ice-servers into fresh RTCIceServer objects, taking only the known
 * fields. Problems name the entry, never its values (they may hold a TURN
 * credential).
 */
export function parseIceServers(json: string): RTCIceServer[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new UsageError('--ice-servers must be JSON: an array of {"urls", "username", "credential"} objects');
  }
  if (!Array.isArray(parsed)) throw new UsageError('--ice-servers must be a JSON array');
  if (parsed.length > MAX_ICE_SERVERS) throw new UsageError(`--ice-servers takes at most ${MAX_ICE_SERVERS} entries`);
  return parsed.map((entry: unknown, i) => iceServer(entry, `--ice-servers entry ${i + 1}`));
}

function iceServer(entry: unknown, where: string): RTCIceServer {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw new UsageError(`${where} must be an object`);
  const fields = entry as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !['urls', 'username', 'credential'].includes(key));
  if (unknown !== undefined) throw new UsageError(`${where}: only urls, username and credential are allowed`);
  const urls: unknown = fields['urls'];
  const list: unknown[] = Array.isArray(urls) ? urls : [urls];
  if (list.length === 0 || list.length > MAX_ICE_URLS_PER_SERVER)
    throw new UsageError(`${where}: urls must be 1 to ${MAX_ICE_URLS_PER_SERVER} URLs`);
  const checked = list.map((url) => {
    if (typeof url !== 'string' || url.length > MAX_TURN_URL_CHARS || !ICE_URL_PATTERN.test(url))
      throw new UsageError(`${where}: each URL must be stun:, stuns:, turn: or turns: (at most ${MAX_TURN_URL_CHARS})`);
    return url;
  });
  const username = optionalString(fields['username'], MAX_TURN_USERNAME_CHARS, `${where}: username`);
  const credential = optionalString(fields['credential'], MAX_TURN_CREDENTIAL_CHARS, `${where}: credential`);
  if (checked.some((url) => url.startsWith('turn')) && (username === undefined || credential === undefined))
    throw new UsageError(`${where}: a turn: or turns: server needs username and credential`);
  return {
    urls: Array.isArray(urls) ? checked : (checked[0] ?? ''),
    ...(username === undefined ? {} : { username }),
    ...(credential === undefined ? {} : { credential }),
  };
}

function optionalString(value: unknown, max: number, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > max)
    throw new UsageError(`${what} must be a string of 1 to ${max} characters`);
  return value;
}
