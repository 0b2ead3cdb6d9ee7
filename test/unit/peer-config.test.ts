import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_NETWORK } from '../../web/node/options.js';
import {
  DEFAULT_METRICS_HOST,
  MAX_ICE_SERVERS,
  MAX_PEER_CONNECTIONS,
  MAX_SIGNALING_URLS,
  parseIceServers,
  parsePeerCli,
  usage,
  UsageError,
  type PeerConfig,
} from '../../web/nodejs/peer-config.js';

const CWD = '/srv/tabmesh';
const WS = 'ws://127.0.0.1:8787/ws';

/** Parse and expect a run command; its config. */
function config(argv: string[], env: Record<string, string> = {}): PeerConfig {
  const command = parsePeerCli(argv, env, CWD);
  if (command.kind !== 'run') throw new Error(`expected a run command, got ${command.kind}`);
  return command.config;
}

describe('tabmesh-peer options', () => {
  it('reads every flag', () => {
    expect(
      config([
        '--signaling',
        WS,
        '--signaling',
        'wss://b.example/ws,wss://c.example/ws',
        '--network',
        'room1',
        '--data-dir',
        './seed',
        '--max-connections',
        '20',
        '--name',
        'Seed one',
        '--ice-servers',
        '[{"urls":"stun:stun.example.com:3478"}]',
        '--metrics-port',
        '9465',
        '--metrics-host',
        '0.0.0.0',
        '--log-level',
        'debug',
      ]),
    ).toEqual({
      signaling: [WS, 'wss://b.example/ws', 'wss://c.example/ws'],
      network: 'room1',
      dataDir: '/srv/tabmesh/seed',
      maxConnections: 20,
      name: 'Seed one',
      iceServers: [{ urls: 'stun:stun.example.com:3478' }],
      metrics: { host: '0.0.0.0', port: 9465 },
      logLevel: 'debug',
    });
  });

  it('reads every environment variable', () => {
    expect(
      config([], {
        TABMESH_SIGNALING: `${WS}, wss://b.example/ws`,
        TABMESH_NETWORK: 'room2',
        TABMESH_DATA_DIR: '/var/lib/tabmesh-peer',
        TABMESH_MAX_CONNECTIONS: '12',
        TABMESH_NAME: 'Seed',
        TABMESH_ICE_SERVERS: '[{"urls":["turn:turn.example.com:3478"],"username":"u","credential":"c"}]',
        TABMESH_METRICS_PORT: '0',
        TABMESH_METRICS_HOST: '::1',
        LOG_LEVEL: 'warn',
      }),
    ).toEqual({
      signaling: [WS, 'wss://b.example/ws'],
      network: 'room2',
      dataDir: '/var/lib/tabmesh-peer',
      maxConnections: 12,
      name: 'Seed',
      iceServers: [{ urls: ['turn:turn.example.com:3478'], username: 'u', credential: 'c' }],
      metrics: { host: '::1', port: 0 },
      logLevel: 'warn',
    });
  });

  it('lets flags win over the environment', () => {
    const env = {
      TABMESH_SIGNALING: 'wss://env.example/ws',
      TABMESH_NETWORK: 'from-env',
      TABMESH_DATA_DIR: '/env',
      TABMESH_MAX_CONNECTIONS: '3',
      TABMESH_NAME: 'Env',
      TABMESH_METRICS_PORT: '1000',
      LOG_LEVEL: 'error',
    };
    const argv = ['--signaling', WS, '--network', 'flag', '--data-dir', '/flag', '--max-connections', '4'];
    expect(config([...argv, '--name', 'Flag', '--metrics-port', '2000', '--log-level', 'debug'], env)).toMatchObject({
      signaling: [WS],
      network: 'flag',
      dataDir: '/flag',
      maxConnections: 4,
      name: 'Flag',
      metrics: { host: DEFAULT_METRICS_HOST, port: 2000 },
      logLevel: 'debug',
    });
  });

  it('defaults everything but the signaling URL and the data folder', () => {
    expect(config(['--signaling', WS, '--data-dir', 'data'])).toEqual({
      signaling: [WS],
      network: DEFAULT_NETWORK,
      dataDir: '/srv/tabmesh/data',
      maxConnections: DEFAULT_MAX_CONNECTIONS,
      name: undefined,
      iceServers: [],
      metrics: undefined,
      logLevel: 'info',
    });
  });

  it('keeps nothing with --ephemeral (flag or environment)', () => {
    expect(config(['--signaling', WS, '--ephemeral']).dataDir).toBeUndefined();
    expect(config(['--signaling', WS], { TABMESH_EPHEMERAL: 'true' }).dataDir).toBeUndefined();
    expect(() => config(['--signaling', WS], { TABMESH_EPHEMERAL: '0' })).toThrow(/--data-dir is required/);
  });

  it('drops repeated signaling URLs', () => {
    expect(config(['--signaling', WS, '--signaling', WS, '--ephemeral']).signaling).toEqual([WS]);
  });

  it('answers --help and --version whatever else is missing', () => {
    expect(parsePeerCli(['--help'], {})).toEqual({ kind: 'help' });
    expect(parsePeerCli(['-h', '--network', 'bad name'], {})).toEqual({ kind: 'help' });
    expect(parsePeerCli(['--version'], {})).toEqual({ kind: 'version' });
  });

  it('documents every flag, its environment variable and its default', () => {
    const text = usage();
    for (const flag of [
      'signaling',
      'network',
      'data-dir',
      'ephemeral',
      'max-connections',
      'name',
      'ice-servers',
      'metrics-port',
      'metrics-host',
      'log-level',
    ]) {
      expect(text).toContain(`--${flag}`);
    }
    for (const env of ['TABMESH_SIGNALING', 'TABMESH_DATA_DIR', 'TABMESH_MAX_CONNECTIONS', 'LOG_LEVEL']) {
      expect(text).toContain(`(env ${env})`);
    }
    expect(text).toContain(`Default ${DEFAULT_NETWORK}.`);
    expect(text).toContain(`Default ${DEFAULT_MAX_CONNECTIONS}.`);
    expect(text).toContain(`Default ${DEFAULT_METRICS_HOST}.`);
  });

  const base = ['--signaling', WS, '--ephemeral'];
  it.each<[string[], Record<string, string>, RegExp]>([
    [[], {}, /--signaling is required/],
    [['--ephemeral'], {}, /--signaling is required/],
    [['--signaling', WS], {}, /--data-dir is required/],
    [['--signaling', WS, '--data-dir', ' '], {}, /--data-dir is required/],
    [['--signaling', 'http://a.example/ws', '--ephemeral'], {}, /--signaling: 'http:\/\/a.example\/ws' is not a ws/],
    [['--signaling', 'ws://a.example:70000/ws', '--ephemeral'], {}, /is not a ws:\/\/ or wss:\/\/ URL/],
    [
      ['--ephemeral'],
      { TABMESH_SIGNALING: Array.from({ length: MAX_SIGNALING_URLS + 1 }, (_, i) => `ws://s${i}.example/ws`).join() },
      /at most 8 URLs/,
    ],
    [['--signaling', WS, '--data-dir', 'd', '--ephemeral'], {}, /exclude each other/],
    [[...base, '--network', 'has space'], {}, /--network must be/],
    [[...base, '--network', 'x'.repeat(65)], {}, /--network must be/],
    [[...base, '--max-connections', '0'], {}, /--max-connections must be 1\.\.256/],
    [[...base, '--max-connections', String(MAX_PEER_CONNECTIONS + 1)], {}, /--max-connections must be 1\.\.256/],
    [[...base, '--max-connections', 'many'], {}, /--max-connections must be a whole number, got 'many'/],
    [[...base], { TABMESH_MAX_CONNECTIONS: '-1' }, /--max-connections must be a whole number/],
    [[...base, '--name', ' padded'], {}, /--name must be/],
    [[...base, '--name', 'a\u0007b'], {}, /--name must be/],
    [[...base, '--name', 'é'.repeat(33)], {}, /--name must be/],
    [[...base, '--metrics-port', '65536'], {}, /--metrics-port must be 0\.\.65535/],
    [[...base, '--metrics-port', '1.5'], {}, /--metrics-port must be a whole number/],
    [[...base, '--metrics-host', '127.0.0.1'], {}, /--metrics-host needs --metrics-port/],
    [[...base, '--metrics-port', '1', '--metrics-host', ''], {}, /--metrics-host must not be empty/],
    [[...base, '--log-level', 'loud'], {}, /--log-level must be one of debug, info, warn, error, silent/],
    [['--signaling', WS], { TABMESH_EPHEMERAL: 'maybe' }, /--ephemeral must be true or false/],
    [[...base, '--ice-servers', '{'], {}, /--ice-servers must be JSON/],
    [[...base, '--unknown'], {}, /Unknown option '--unknown'/],
    [[...base, 'positional'], {}, /positional/],
    [[...base, '--ephemeral=yes'], {}, /--ephemeral/],
  ])('refuses %j %j', (argv, env, message) => {
    expect(() => config(argv, env)).toThrow(UsageError);
    expect(() => config(argv, env)).toThrow(message);
  });
});

describe('--ice-servers', () => {
  it('builds fresh objects with only the known fields', () => {
    const json =
      '[{"urls":"stuns:a.example"},{"urls":["turns:b.example:5349?transport=tcp"],"username":"u","credential":"p"}]';
    expect(parseIceServers(json)).toEqual([
      { urls: 'stuns:a.example' },
      { urls: ['turns:b.example:5349?transport=tcp'], username: 'u', credential: 'p' },
    ]);
  });

  it.each<[string, RegExp]>([
    ['{"urls":"stun:a"}', /must be a JSON array/],
    [JSON.stringify(Array.from({ length: MAX_ICE_SERVERS + 1 }, () => ({ urls: 'stun:a' }))), /at most 8 entries/],
    ['[1]', /entry 1 must be an object/],
    ['[null]', /entry 1 must be an object/],
    ['[{"urls":"stun:a"},{"urls":"stun:a","extra":1}]', /entry 2: only urls, username and credential/],
    ['[{"urls":[]}]', /urls must be 1 to 4 URLs/],
    ['[{"urls":["stun:a","stun:b","stun:c","stun:d","stun:e"]}]', /urls must be 1 to 4 URLs/],
    ['[{"urls":"http://a.example"}]', /each URL must be stun:, stuns:, turn: or turns:/],
    ['[{"urls":7}]', /each URL must be/],
    [`[{"urls":"stun:${'a'.repeat(300)}"}]`, /each URL must be/],
    ['[{"urls":"turn:a.example"}]', /needs username and credential/],
    ['[{"urls":"turn:a.example","username":"u","credential":""}]', /credential must be a string/],
    ['[{"urls":"turn:a.example","username":5,"credential":"c"}]', /username must be a string/],
  ])('refuses %s', (json, message) => {
    expect(() => parseIceServers(json)).toThrow(UsageError);
    expect(() => parseIceServers(json)).toThrow(message);
  });

  it('never echoes a credential in its message', () => {
    const secret = 'hunter2-very-secret';
    const json = JSON.stringify([{ urls: 'turn:a.example', username: 'u', credential: secret, other: secret }]);
    let caught: unknown;
    try {
      parseIceServers(json);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect(String(caught)).not.toContain(secret);
  });
});
