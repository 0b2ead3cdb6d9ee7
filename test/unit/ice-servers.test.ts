import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TurnCredentials } from '../../shared/protocol/signaling.js';
import { IceServers, type IceHost } from '../../web/node/ice-servers.js';
import { TURN_WAIT_MAX_MS } from '../../web/node/options.js';

const NOW = 1_800_000_000_000;
const LISTED: readonly RTCIceServer[] = [{ urls: 'stun:stun.example.com:3478' }];
const TURN: TurnCredentials = {
  urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'],
  username: '1800000600:peer',
  credential: 'c2VjcmV0',
  ttlMs: 600_000,
};
/** What TURN credentials become in the list each link is made with. */
const TURN_SERVER: RTCIceServer = { urls: [...TURN.urls], username: TURN.username, credential: TURN.credential };

/** A host with a clock the test sets, counting what it is asked. */
class FakeHost implements IceHost {
  clock = NOW;
  turnRequests = 0;
  pendingCalls = 0;

  now(): number {
    return this.clock;
  }
  requestTurn(): void {
    this.turnRequests++;
  }
  credentialsPending(): void {
    this.pendingCalls++;
  }
}

/** A promise whose settling the test can observe without awaiting it. */
function observe<T>(promise: Promise<T>): { readonly settled: () => boolean; readonly value: Promise<T> } {
  let settled = false;
  const value = promise.finally(() => {
    settled = true;
  });
  return { settled: () => settled, value };
}

/** Let every pending promise callback run (fake timers: no time passes). */
async function flush(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

describe('IceServers', () => {
  let host: FakeHost;

  beforeEach(() => {
    vi.useFakeTimers();
    host = new FakeHost();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns a configured list as it is while there are no server credentials', async () => {
    const ice = new IceServers(LISTED, host);
    expect(await ice.current()).toEqual(LISTED);
    expect(host.turnRequests).toBe(0);
    expect(host.pendingCalls).toBe(0);
  });

  it('calls a configured function for each link, and its servers win over the server’s TURN', async () => {
    let calls = 0;
    const fromApp = (): Promise<RTCIceServer[]> => {
      calls++;
      return Promise.resolve([
        { urls: `turn:app.example.com:${3000 + calls}`, username: 'app', credential: `secret-${calls}` },
      ]);
    };
    const ice = new IceServers(fromApp, host);
    ice.receive(TURN);
    expect(await ice.current()).toEqual([
      { urls: 'turn:app.example.com:3001', username: 'app', credential: 'secret-1' },
    ]);
    expect(await ice.current()).toEqual([
      { urls: 'turn:app.example.com:3002', username: 'app', credential: 'secret-2' },
    ]);
    expect(calls).toBe(2);
  });

  it('does not hold a configured function back while server credentials are pending', async () => {
    const ice = new IceServers(async () => Promise.resolve(LISTED), host);
    ice.pending();
    const servers = observe(ice.current());
    await flush();
    expect(servers.settled()).toBe(true);
    expect(await servers.value).toEqual(LISTED);
  });

  it('appends the server’s TURN servers, with their credentials, after the listed ones', async () => {
    const ice = new IceServers(LISTED, host);
    ice.receive(TURN);
    expect(await ice.current()).toEqual([...LISTED, TURN_SERVER]);
    expect(await new IceServers([], host).current()).toEqual([]);
  });

  it('after pending(), holds dials until the credentials arrive, then gives them the TURN servers', async () => {
    const ice = new IceServers(LISTED, host);
    ice.pending();
    const first = observe(ice.current());
    const second = observe(ice.current());
    await vi.advanceTimersByTimeAsync(TURN_WAIT_MAX_MS - 1);
    expect(first.settled()).toBe(false);
    expect(second.settled()).toBe(false);
    ice.receive(TURN);
    await flush();
    expect(first.settled() && second.settled()).toBe(true);
    expect(await first.value).toEqual([...LISTED, TURN_SERVER]);
    expect(await second.value).toEqual([...LISTED, TURN_SERVER]);
    // The waits' timers are cleared once the credentials came.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits at most TURN_WAIT_MAX_MS for announced credentials, then dials without them', async () => {
    const ice = new IceServers(LISTED, host);
    ice.pending();
    const servers = observe(ice.current());
    await vi.advanceTimersByTimeAsync(TURN_WAIT_MAX_MS - 1);
    expect(servers.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(servers.settled()).toBe(true);
    expect(await servers.value).toEqual(LISTED);
  });

  it('tells the host once that credentials are pending, however often they are announced', () => {
    const ice = new IceServers(LISTED, host);
    ice.pending();
    ice.pending();
    expect(host.pendingCalls).toBe(1);
    // Once they came, a new announcement is a new wait.
    ice.receive(TURN);
    ice.pending();
    expect(host.pendingCalls).toBe(2);
  });

  it('stopWaiting() releases the dials waiting, and later ones do not wait', async () => {
    const ice = new IceServers(LISTED, host);
    ice.pending();
    const waiting = observe(ice.current());
    await flush();
    expect(waiting.settled()).toBe(false);
    ice.stopWaiting();
    await flush();
    expect(waiting.settled()).toBe(true);
    expect(await waiting.value).toEqual(LISTED);
    const later = observe(ice.current());
    await flush();
    expect(later.settled()).toBe(true);
  });

  it('asks for fresh credentials only once half their ttl has passed', () => {
    const ice = new IceServers(LISTED, host);
    ice.maintain();
    expect(host.turnRequests).toBe(0);
    ice.receive(TURN);
    host.clock = NOW + TURN.ttlMs / 2 - 1;
    ice.maintain();
    expect(host.turnRequests).toBe(0);
    host.clock = NOW + TURN.ttlMs / 2;
    ice.maintain();
    expect(host.turnRequests).toBe(1);
    // Fresh credentials move the next refresh on by half their ttl, from when they came.
    ice.receive({ ...TURN, ttlMs: 100_000 });
    host.clock += 49_999;
    ice.maintain();
    expect(host.turnRequests).toBe(1);
    host.clock += 1;
    ice.maintain();
    expect(host.turnRequests).toBe(2);
  });

  it('receive(undefined) clears the credentials: no TURN servers, and no refresh asked for', async () => {
    const ice = new IceServers(LISTED, host);
    ice.receive(TURN);
    ice.receive(undefined);
    expect(await ice.current()).toEqual(LISTED);
    host.clock = NOW + TURN.ttlMs * 2;
    ice.maintain();
    expect(host.turnRequests).toBe(0);
  });

  it('receive(undefined) also ends a wait: the server said there are none', async () => {
    const ice = new IceServers(LISTED, host);
    ice.pending();
    const waiting = observe(ice.current());
    ice.receive(undefined);
    await flush();
    expect(waiting.settled()).toBe(true);
    expect(await waiting.value).toEqual(LISTED);
  });

  describe('the server’s STUN URLs', () => {
    const STUN = ['stun:mesh.example.com:8787'];

    it('come first, before the server’s TURN, when the application lists no servers', async () => {
      const none: readonly RTCIceServer[] = [];
      const ice = new IceServers(none, host);
      expect(await ice.current()).toBe(none);
      ice.receiveStun(STUN);
      ice.receive(TURN);
      expect(await ice.current()).toEqual([{ urls: STUN }, TURN_SERVER]);
    });

    it('make a transport prepared without them out of date, once per change', () => {
      const ice = new IceServers([], host);
      ice.receiveStun(STUN);
      ice.receiveStun(STUN);
      expect(host.pendingCalls).toBe(1);
      ice.receiveStun(undefined);
      expect(host.pendingCalls).toBe(2);
    });

    it('are forgotten when a challenge names none', async () => {
      const none: readonly RTCIceServer[] = [];
      const ice = new IceServers(none, host);
      ice.receiveStun(STUN);
      ice.receiveStun(undefined);
      expect(await ice.current()).toBe(none);
    });

    it('are not used when the application lists servers of its own, or gives a function', async () => {
      const listed = new IceServers(LISTED, host);
      listed.receiveStun(STUN);
      expect(await listed.current()).toEqual(LISTED);
      const fromApp = new IceServers(() => Promise.resolve(LISTED), host);
      fromApp.receiveStun(STUN);
      expect(await fromApp.current()).toEqual(LISTED);
      expect(host.pendingCalls).toBe(0);
    });
  });
});
