/**
 * Command-line flags and environment variables for `tabmesh-signal`, parsed
 * and validated into SignalingServerOptions. Flags win over environment.
 */
import { parseArgs } from 'node:util';
import { DEFAULTS } from './defaults.js';
import { normalizeOrigin } from './admission.js';
import { LOG_LEVELS, type LogLevel } from './logger.js';
import { MIN_METRICS_TOKEN_CHARS, type SignalingServerOptions } from './options.js';
import { stunUrlsProblem } from './stun/urls.js';
import { turnConfigProblem } from './turn.js';

/** Each setting: flag, environment variable, kind, and help text. */
const SETTINGS = {
  port: { env: 'PORT', kind: 'int', help: `Port to listen on (0 = any free port). Default ${DEFAULTS.port}.` },
  host: { env: 'HOST', kind: 'string', help: `Address to bind. Default ${DEFAULTS.host}; 0.0.0.0 for all interfaces.` },
  origins: {
    env: 'TABMESH_ORIGINS',
    kind: 'list',
    help: `Comma-separated page origins allowed to connect: 'self' (--public-origin, or this server's own loopback origin when it listens on loopback), 'localhost', '*' or exact origins. Default ${DEFAULTS.origins.join(',')}.`,
  },
  'public-origin': {
    env: 'TABMESH_PUBLIC_ORIGIN',
    kind: 'string',
    help: "The origin pages reach this server at (https://mesh.example.com): what 'self' in --origins allows. Default: none.",
  },
  'max-peers': { env: 'TABMESH_MAX_PEERS', kind: 'int', help: `Most open connections. Default ${DEFAULTS.maxPeers}.` },
  'max-pending': {
    env: 'TABMESH_MAX_PENDING',
    kind: 'int',
    help: `Most connections not yet registered at once; beyond, 503 SERVER_BUSY and the client retries on its backoff. Default ${DEFAULTS.maxPendingRegistrations}.`,
  },
  'max-per-ip': {
    env: 'TABMESH_MAX_PER_IP',
    kind: 'int',
    help: `Most open connections from one IP address (an IPv6 address counts as its /64). Default ${DEFAULTS.maxConnectionsPerIp}.`,
  },
  'max-sockets-per-ip': {
    env: 'TABMESH_MAX_SOCKETS_PER_IP',
    kind: 'int',
    help: `Most TCP connections from one address before any HTTP is read (not with --trust-proxy). Default ${DEFAULTS.maxSocketsPerIp}.`,
  },
  'headers-timeout-ms': {
    env: 'TABMESH_HEADERS_TIMEOUT_MS',
    kind: 'int',
    help: `Time a client has to send a request's headers. Default ${DEFAULTS.headersTimeoutMs}.`,
  },
  'max-buffered-bytes': {
    env: 'TABMESH_MAX_BUFFERED_BYTES',
    kind: 'int',
    help: `Unsent bytes for one recipient past which relays to it are refused. Default ${DEFAULTS.maxBufferedBytes}.`,
  },
  'max-buffered-per-sender': {
    env: 'TABMESH_MAX_BUFFERED_PER_SENDER',
    kind: 'int',
    help: `Unsent bytes one sender may queue for one recipient (or its fair share, if smaller). Default ${DEFAULTS.maxBufferedPerSender}.`,
  },
  'send-budget-bytes': {
    env: 'TABMESH_SEND_BUDGET_BYTES',
    kind: 'int',
    help: `Unsent bytes past which a connection is closed (1008) rather than sent more; at least --max-buffered-bytes. Default ${DEFAULTS.sendBudgetBytes}.`,
  },
  'reply-credit': {
    env: 'TABMESH_REPLY_CREDIT',
    kind: 'int',
    help: `Replies a tab may send a peer on that peer's rate budget, one per signal from it (0: off). Default ${DEFAULTS.replyCreditPerPeer}.`,
  },
  'reply-credit-peers': {
    env: 'TABMESH_REPLY_CREDIT_PEERS',
    kind: 'int',
    help: `Peers a tab holds reply credit for at once. Default ${DEFAULTS.replyCreditPeers}.`,
  },
  'reply-credit-ttl-ms': {
    env: 'TABMESH_REPLY_CREDIT_TTL_MS',
    kind: 'int',
    help: `How long reply credit lasts. Default ${DEFAULTS.replyCreditTtlMs}.`,
  },
  'max-frame-bytes': {
    env: 'TABMESH_MAX_FRAME_BYTES',
    kind: 'int',
    help: `Largest WebSocket frame. Default ${DEFAULTS.maxFrameBytes}.`,
  },
  rate: { env: 'TABMESH_RATE', kind: 'number', help: `Messages per second per connection. Default ${DEFAULTS.rate}.` },
  burst: { env: 'TABMESH_BURST', kind: 'int', help: `Burst of messages per connection. Default ${DEFAULTS.burst}.` },
  'sample-size': {
    env: 'TABMESH_SAMPLE_SIZE',
    kind: 'int',
    help: `Peer records in a bootstrap sample (max 32). Default ${DEFAULTS.sampleSize}.`,
  },
  'registration-timeout-ms': {
    env: 'TABMESH_REGISTRATION_TIMEOUT_MS',
    kind: 'int',
    help: `Time to answer the challenge. Default ${DEFAULTS.registrationTimeoutMs}.`,
  },
  'heartbeat-ms': {
    env: 'TABMESH_HEARTBEAT_MS',
    kind: 'int',
    help: `Ping interval; a client silent for one interval is dropped. Default ${DEFAULTS.heartbeatIntervalMs}.`,
  },
  'shutdown-grace-ms': {
    env: 'TABMESH_SHUTDOWN_GRACE_MS',
    kind: 'int',
    help: `Time clients get to leave on shutdown. Default ${DEFAULTS.shutdownGraceMs}.`,
  },
  'server-name': {
    env: 'TABMESH_SERVER_NAME',
    kind: 'string',
    help: `Name bound into registrations. Default ${DEFAULTS.serverName}.`,
  },
  static: { env: 'TABMESH_STATIC', kind: 'string', help: 'Folder served at / . Default: the built page.' },
  'no-static': {
    env: 'TABMESH_NO_STATIC',
    kind: 'bool',
    help: 'Serve no page, only signaling and operations endpoints.',
  },
  'trust-proxy': {
    env: 'TABMESH_TRUST_PROXY',
    kind: 'bool',
    help: 'Take client addresses from X-Forwarded-For (set it behind exactly one reverse proxy).',
  },
  redis: {
    env: 'TABMESH_REDIS',
    kind: 'string',
    help: 'Redis URL (redis://[user:password@]host:port[/db], rediss:// for TLS): instances sharing one Redis act as one server. Default: none (on its own).',
  },
  'presence-ttl-ms': {
    env: 'TABMESH_PRESENCE_TTL_MS',
    kind: 'int',
    help: `With --redis: a dead instance's peers are forgotten within this. Default ${DEFAULTS.presenceTtlMs}.`,
  },
  'presence-refresh-ms': {
    env: 'TABMESH_PRESENCE_REFRESH_MS',
    kind: 'int',
    help: `With --redis: how often presence is renewed (below the TTL). Default ${DEFAULTS.presenceRefreshMs}.`,
  },
  'redis-timeout-ms': {
    env: 'TABMESH_REDIS_TIMEOUT_MS',
    kind: 'int',
    help: `With --redis: slower commands fail and the instance answers from its own peers. Default ${DEFAULTS.redisCommandTimeoutMs}.`,
  },
  'turn-urls': {
    env: 'TABMESH_TURN_URLS',
    kind: 'list',
    help: 'Comma-separated TURN URLs (turn:host:3478, turns:host:5349?transport=tcp; at most 8): with --turn-secret, each tab gets short-lived credentials for them (docs/TURN.md). Default: none.',
  },
  'turn-secret': {
    env: 'TABMESH_TURN_SECRET',
    kind: 'string',
    help: "The secret shared with the TURN server (coturn's static-auth-secret; at least 16 characters). Prefer the environment variable: a flag shows in the process list. Default: none.",
  },
  'turn-ttl-s': {
    env: 'TABMESH_TURN_TTL_S',
    kind: 'int',
    help: `Lifetime of each tab's TURN credentials in seconds (60..86400). Default ${DEFAULTS.turnTtlS}.`,
  },
  'stun-port': {
    env: 'TABMESH_STUN_PORT',
    kind: 'int',
    help: 'UDP port of the STUN responder, on --host: tabs behind a NAT learn their public address from it (open it in your firewall). Default: the same number as --port (a free one when --port is 0).',
  },
  'no-stun': {
    env: 'TABMESH_NO_STUN',
    kind: 'bool',
    help: 'Answer no STUN requests: open no UDP port.',
  },
  'stun-urls': {
    env: 'TABMESH_STUN_URLS',
    kind: 'list',
    help: "Comma-separated STUN URLs each tab is told of (stun:host:port; at most 8), instead of this server's own responder under the name the tab reached it by. Default: the responder's own.",
  },
  'metrics-token': {
    env: 'TABMESH_METRICS_TOKEN',
    kind: 'string',
    help: 'A token /metrics requires as "Authorization: Bearer <token>" (16+ characters); with it /metrics is also served on the main port. Prefer the environment variable. Default: none.',
  },
  'metrics-port': {
    env: 'TABMESH_METRICS_PORT',
    kind: 'int',
    help: 'A port of its own for /metrics (on --metrics-host). Default: none; without it or a token, /metrics is not served.',
  },
  'metrics-host': {
    env: 'TABMESH_METRICS_HOST',
    kind: 'string',
    help: `Address of the metrics port. Default ${DEFAULTS.metricsHost}.`,
  },
  'log-level': { env: 'LOG_LEVEL', kind: 'string', help: `One of ${LOG_LEVELS.join(', ')}. Default info.` },
} as const;

type Name = keyof typeof SETTINGS;

export class UsageError extends Error {}

export interface CliConfig {
  readonly options: SignalingServerOptions;
  readonly logLevel: LogLevel;
  readonly help: boolean;
  readonly version: boolean;
}

export function usage(): string {
  const lines = Object.entries(SETTINGS).map(([flag, s]) => {
    const value = s.kind === 'bool' ? '' : ' <value>';
    return `  --${flag}${value}\n      ${s.help} (env ${s.env})`;
  });
  return ['Usage: tabmesh-signal [options]', '', 'Options:', ...lines, '  --help, --version', ''].join('\n');
}

function parseValue(name: Name, raw: string): number | string | string[] | boolean {
  const kind = SETTINGS[name].kind;
  switch (kind) {
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, got '${raw}'`);
      return Number(raw);
    }
    case 'number': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value) || value <= 0)
        throw new UsageError(`--${name} must be a positive number`);
      return value;
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'bool':
      if (['1', 'true', 'yes', ''].includes(raw)) return true;
      if (['0', 'false', 'no'].includes(raw)) return false;
      throw new UsageError(`--${name} must be true or false`);
    case 'string':
      return raw;
  }
}

export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CliConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(
          Object.entries(SETTINGS).map(([flag, s]) => [
            flag,
            { type: s.kind === 'bool' ? 'boolean' : 'string' } as const,
          ]),
        ),
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const get = (name: Name): ReturnType<typeof parseValue> | undefined => {
    const flag = values[name];
    if (flag !== undefined) return typeof flag === 'boolean' ? flag : parseValue(name, flag);
    const fromEnv = env[SETTINGS[name].env];
    return fromEnv === undefined ? undefined : parseValue(name, fromEnv);
  };
  const num = (name: Name): number | undefined => {
    const value = get(name);
    return typeof value === 'number' ? value : undefined;
  };
  const str = (name: Name): string | undefined => {
    const value = get(name);
    return typeof value === 'string' ? value : undefined;
  };
  const options = compact<SignalingServerOptions>({
    port: num('port'),
    host: str('host'),
    origins: ((v) => (Array.isArray(v) ? v : undefined))(get('origins')),
    publicOrigin: str('public-origin'),
    maxPeers: num('max-peers'),
    maxPendingRegistrations: num('max-pending'),
    maxConnectionsPerIp: num('max-per-ip'),
    maxSocketsPerIp: num('max-sockets-per-ip'),
    headersTimeoutMs: num('headers-timeout-ms'),
    maxBufferedBytes: num('max-buffered-bytes'),
    maxBufferedPerSender: num('max-buffered-per-sender'),
    sendBudgetBytes: num('send-budget-bytes'),
    replyCreditPerPeer: num('reply-credit'),
    replyCreditPeers: num('reply-credit-peers'),
    replyCreditTtlMs: num('reply-credit-ttl-ms'),
    metricsToken: str('metrics-token'),
    metricsPort: num('metrics-port'),
    metricsHost: str('metrics-host'),
    maxFrameBytes: num('max-frame-bytes'),
    rate: num('rate'),
    burst: num('burst'),
    sampleSize: num('sample-size'),
    registrationTimeoutMs: num('registration-timeout-ms'),
    heartbeatIntervalMs: num('heartbeat-ms'),
    shutdownGraceMs: num('shutdown-grace-ms'),
    serverName: str('server-name'),
    staticDir: get('no-static') === true ? null : str('static'),
    trustProxy: get('trust-proxy') === true ? true : undefined,
    redis: str('redis'),
    presenceTtlMs: num('presence-ttl-ms'),
    presenceRefreshMs: num('presence-refresh-ms'),
    redisCommandTimeoutMs: num('redis-timeout-ms'),
    turnUrls: ((v) => (Array.isArray(v) ? v : undefined))(get('turn-urls')),
    turnSecret: str('turn-secret'),
    turnTtlS: num('turn-ttl-s'),
    stun: get('no-stun') === true ? false : undefined,
    stunPort: num('stun-port'),
    stunUrls: ((v) => (Array.isArray(v) ? v : undefined))(get('stun-urls')),
  });
  validate(options);
  const level = get('log-level') ?? 'info';
  if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return {
    options,
    logLevel: level as LogLevel,
    help: values['help'] === true,
    version: values['version'] === true,
  };
}

/** Drop the keys whose value is undefined (exactOptionalPropertyTypes forbids them). */
function compact<T extends object>(fields: { [K in keyof T]?: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as T;
}

function validate(options: SignalingServerOptions): void {
  const positive: [string, number | undefined][] = [
    ['max-peers', options.maxPeers],
    ['max-pending', options.maxPendingRegistrations],
    ['max-per-ip', options.maxConnectionsPerIp],
    ['max-sockets-per-ip', options.maxSocketsPerIp],
    ['headers-timeout-ms', options.headersTimeoutMs],
    ['max-buffered-bytes', options.maxBufferedBytes],
    ['max-buffered-per-sender', options.maxBufferedPerSender],
    ['send-budget-bytes', options.sendBudgetBytes],
    ['reply-credit-peers', options.replyCreditPeers],
    ['reply-credit-ttl-ms', options.replyCreditTtlMs],
    ['max-frame-bytes', options.maxFrameBytes],
    ['burst', options.burst],
    ['sample-size', options.sampleSize],
    ['registration-timeout-ms', options.registrationTimeoutMs],
    ['heartbeat-ms', options.heartbeatIntervalMs],
    ['presence-ttl-ms', options.presenceTtlMs],
    ['presence-refresh-ms', options.presenceRefreshMs],
    ['redis-timeout-ms', options.redisCommandTimeoutMs],
  ];
  for (const [flag, value] of positive) {
    if (value !== undefined && value < 1) throw new UsageError(`--${flag} must be at least 1`);
  }
  if (options.port !== undefined && options.port > 65535) throw new UsageError('--port must be 0..65535');
  if (options.metricsPort !== undefined && options.metricsPort > 65535)
    throw new UsageError('--metrics-port must be 0..65535');
  if (options.stunPort !== undefined && options.stunPort > 65535) throw new UsageError('--stun-port must be 0..65535');
  if (options.stun === false && options.stunPort !== undefined)
    throw new UsageError('--stun-port and --no-stun do not go together');
  const stunProblem = options.stunUrls === undefined ? undefined : stunUrlsProblem(options.stunUrls);
  if (stunProblem !== undefined) throw new UsageError(`--stun-urls: ${stunProblem}`);
  const buffered = options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes;
  if ((options.sendBudgetBytes ?? DEFAULTS.sendBudgetBytes) < buffered)
    throw new UsageError('--send-budget-bytes must be at least --max-buffered-bytes');
  if (options.metricsToken !== undefined && options.metricsToken.length < MIN_METRICS_TOKEN_CHARS)
    throw new UsageError(`--metrics-token must be at least ${MIN_METRICS_TOKEN_CHARS} characters`);
  if (options.publicOrigin !== undefined) {
    try {
      normalizeOrigin(options.publicOrigin);
    } catch {
      throw new UsageError('--public-origin must be an http(s) origin, like https://mesh.example.com');
    }
  }
  if (options.sampleSize !== undefined && options.sampleSize > 32)
    throw new UsageError('--sample-size must be at most 32');
  if (options.maxFrameBytes !== undefined && options.maxFrameBytes < 1024) {
    throw new UsageError('--max-frame-bytes must be at least 1024');
  }
  if (options.redis !== undefined && !/^rediss?:\/\/[^\s]+$/.test(options.redis)) {
    throw new UsageError('--redis must be a redis:// or rediss:// URL');
  }
  const ttl = options.presenceTtlMs ?? DEFAULTS.presenceTtlMs;
  const refresh = options.presenceRefreshMs ?? DEFAULTS.presenceRefreshMs;
  if (refresh >= ttl) throw new UsageError('--presence-refresh-ms must be below --presence-ttl-ms');
  if ((options.turnUrls === undefined) !== (options.turnSecret === undefined))
    throw new UsageError('--turn-urls and --turn-secret go together');
  if (options.turnUrls !== undefined && options.turnSecret !== undefined) {
    // The secret is never echoed: the problem names only its length rule.
    const problem = turnConfigProblem({
      urls: options.turnUrls,
      secret: options.turnSecret,
      ttlS: options.turnTtlS ?? DEFAULTS.turnTtlS,
    });
    if (problem !== undefined) throw new UsageError(`TURN: ${problem}`);
  } else if (options.turnTtlS !== undefined) throw new UsageError('--turn-ttl-s needs --turn-urls and --turn-secret');
  for (const origin of options.origins ?? []) {
    if (['self', 'localhost', '*'].includes(origin)) continue;
    try {
      normalizeOrigin(origin);
    } catch {
      throw new UsageError(`--origins: '${origin}' is not an http(s) origin, 'self', 'localhost' or '*'`);
    }
  }
}
