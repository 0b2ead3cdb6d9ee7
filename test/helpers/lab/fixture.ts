/**
 * The NAT lab's test fixture: one {@link Lab} for the test file (built in
 * its first `beforeAll`, removed after its last test, and by an exit handler
 * if the run dies first), coturn on the public network, one Chromium per
 * home (launched in the home's namespace on first use), and, per test, the
 * real `tabmesh-signal` on the public network and tabs of the page it serves.
 * A failed test's tabs stay open until its failure reports have read them.
 *
 * ```ts
 * const net = useLab({ homes: [{ name: 'a', nat: 'port-preserving' }, { name: 'b', nat: 'port-preserving' }] });
 * it('…', async () => {
 *   const server = await net.server();
 *   const a = await net.tab('a', server, { network: 'x' });
 * });
 * ```
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { labChromiumFlags, launchChromium, newContext } from '../browser.js';
import { Scope, useScopes, type Query } from '../fixture.js';
import { Lab, type HomeSpec } from '../lab.js';
import { SignalProcess, TurnProcess, type Spawner } from '../processes.js';
import { openTab, traceNodes } from '../tabs.js';
import { traceIce } from './ice-trace.js';

import { SIGNAL_PORT, TURN_PORT } from './topology.js';

export { SIGNAL_PORT, TURN_PORT };
/** Bound on building the lab and starting coturn (a second or two). */
const LAB_START_MS = 30_000;

export interface LabFixture {
  /** This file's lab (built before its first `beforeAll` of its own). */
  readonly lab: Lab;
  /** coturn on the public network, shared-secret mode with {@link LabFixture.turnSecret}. */
  readonly turn: TurnProcess;
  /** The secret coturn and a server started with `turn: true` share. */
  readonly turnSecret: string;
  /**
   * The built `tabmesh-signal` on 203.0.113.1:8787 (STUN on the same UDP
   * port), serving the page; with `turn`, minting credentials for coturn.
   * Stopped after the test unless stopped before; one at a time (one port).
   */
  server(options?: { turn?: boolean; args?: readonly string[] }): Promise<SignalProcess>;
  /** Home `name`'s Chromium (its first machine's), launched on first use and kept for the file. */
  chromium(home: string): Promise<Browser>;
  /**
   * A tab of the page `server` serves, in a new browser profile of the
   * home's Chromium (traced for failure reports), once its node has started.
   */
  tab(home: string, server: SignalProcess, query: Query): Promise<Page>;
  /** Run `close` after the test (after the file when called outside a test), latest first. */
  defer(close: () => unknown): void;
}

/** Call at the top of a lab test file, before its own hooks. */
export function useLab(options: { homes: readonly HomeSpec[] }): LabFixture {
  const turnSecret = randomBytes(24).toString('base64url');
  let lab: Lab | undefined;
  let turn: TurnProcess | undefined;
  const browsers = new Map<string, Promise<Browser>>();
  const scopes = useScopes();
  const file = scopes.file;
  const scope = (): Scope => scopes.current();

  beforeAll(async () => {
    const built = await Lab.create({ homes: options.homes });
    lab = built;
    file.add(() => built.close());
    const spawn: Spawner = (command, args, spawnOptions) =>
      built.spawn(built.publicNamespace, command, args, spawnOptions);
    const started = await TurnProcess.start(turnSecret, { ip: built.publicAddress, port: TURN_PORT, spawn });
    turn = started;
    file.add(() => started.stop());
  }, LAB_START_MS);
  afterAll(() => scopes.closeFile());

  const fixture: LabFixture = {
    get lab() {
      if (lab === undefined) throw new Error('the lab is not built: useLab() must come before the hooks');
      return lab;
    },
    get turn() {
      if (turn === undefined) throw new Error('coturn is not running: useLab() must come before the hooks');
      return turn;
    },
    turnSecret,
    async server(serverOptions = {}) {
      const { lab } = fixture;
      const address = lab.publicAddress;
      const args = [
        ['--host', address, '--port', String(SIGNAL_PORT)],
        // The page's origin as the tabs see it: a public address, not loopback.
        ['--public-origin', `http://${address}:${SIGNAL_PORT}`],
        // Its clients get a second to leave when it is stopped (SignalProcess.stop waits 5 s).
        ['--shutdown-grace-ms', '1000'],
        serverOptions.turn === true ? ['--turn-urls', fixture.turn.url, `--turn-secret=${turnSecret}`] : [],
        [...(serverOptions.args ?? [])],
      ].flat();
      const server = await SignalProcess.startBuilt(args, (command, argv, spawnOptions) =>
        lab.spawn(lab.publicNamespace, command, argv, spawnOptions),
      );
      scope().add(() => server.stop());
      return server;
    },
    chromium(home) {
      const { lab } = fixture;
      let browser = browsers.get(home);
      if (browser === undefined) {
        const binary = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
        browser = launchChromium({
          executablePath: lab.executable(lab.home(home).namespace, binary),
          args: labChromiumFlags([`http://${lab.publicAddress}:${SIGNAL_PORT}`]),
        });
        browsers.set(home, browser);
        const launched = browser;
        file.add(async () => (await launched).close());
      }
      return browser;
    },
    async tab(home, server, query) {
      const context = await newContext(await fixture.chromium(home));
      scope().add(() => context.close());
      await traceNodes(context);
      await traceIce(context);
      const search = typeof query === 'string' ? query : new URLSearchParams(query).toString();
      return openTab(await context.newPage(), server.httpUrl, search);
    },
    defer(close) {
      scope().add(close);
    },
  };
  return fixture;
}
