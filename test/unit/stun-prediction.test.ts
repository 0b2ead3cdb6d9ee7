/**
 * The first offer is made before the signaling server names its STUN URLs:
 * made with what the server is expected to name (stun-prediction.ts), it is
 * handed to the first dial when the expectation was right, and replaced by a
 * fresh transport when it was not (prepareOffer compares the lists).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  STUN_MEMORY_KEY,
  defaultStunUrl,
  expectedStun,
  rememberStun,
  sameIceServers,
  stunServers,
} from '../../web/node/stun-prediction.js';
import { prepareOffer } from '../../web/node/warm-transport.js';
import type { TransportFactory } from '../../web/transport/transport.js';

const ignore = (): void => undefined;

/** A localStorage for Node, as a tab has one. */
class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

function withStorage(): MemoryStorage {
  const storage = new MemoryStorage();
  Object.defineProperty(globalThis, 'localStorage', { value: storage, configurable: true });
  return storage;
}

afterEach(() => {
  Reflect.deleteProperty(globalThis, 'localStorage');
});

describe('the STUN servers a signaling server is expected to name', () => {
  it("defaults to the server's host on the port the URL reaches it at", () => {
    expect(defaultStunUrl('ws://127.0.0.1:8787/ws')).toBe('stun:127.0.0.1:8787');
    expect(defaultStunUrl('wss://Mesh.Example.com/ws?network=x')).toBe('stun:mesh.example.com:443');
    expect(defaultStunUrl('ws://mesh.example.com/ws')).toBe('stun:mesh.example.com:80');
    expect(defaultStunUrl('ws://[::1]:9000/ws')).toBe('stun:[::1]:9000');
    expect(defaultStunUrl('not a url')).toBeUndefined();
    // No localStorage (Node): the default.
    expect(expectedStun('ws://127.0.0.1:8787/ws')).toEqual([{ urls: ['stun:127.0.0.1:8787'] }]);
  });

  it('prefers what the same server named last time, including none', () => {
    withStorage();
    rememberStun('wss://a.example/ws', ['stun:a.example:3478', 'stun:b.example:3478']);
    expect(expectedStun('wss://a.example/ws')).toEqual([{ urls: ['stun:a.example:3478', 'stun:b.example:3478'] }]);
    rememberStun('wss://c.example/ws', undefined);
    expect(expectedStun('wss://c.example/ws')).toEqual([]);
    // Another server: the default.
    expect(expectedStun('wss://d.example/ws')).toEqual([{ urls: ['stun:d.example:443'] }]);
  });

  it('takes nothing malformed from storage: anything else is the default', () => {
    const storage = withStorage();
    const url = 'wss://a.example/ws';
    for (const bad of [
      '{',
      '"stun:a.example:1"',
      '[1]',
      '["http://a.example"]',
      JSON.stringify(Array(9).fill('stun:a:1')),
    ]) {
      storage.setItem(STUN_MEMORY_KEY + url, bad);
      expect(expectedStun(url)).toEqual([{ urls: ['stun:a.example:443'] }]);
    }
  });
});

describe('prepareOffer with an expected list', () => {
  /** A factory that counts transports made and closed, and records their ICE servers. */
  function counting(): { factory: TransportFactory; made: (readonly RTCIceServer[])[]; closed: () => number } {
    const made: (readonly RTCIceServer[])[] = [];
    let closed = 0;
    const factory: TransportFactory = (options) => {
      made.push(options.iceServers);
      return {
        signal: () => undefined,
        send: () => Promise.resolve(),
        close: () => {
          closed++;
        },
      };
    };
    return { factory, made, closed: () => closed };
  }

  /** Events nobody reads. */
  const events = { onSignal: ignore, onConnect: ignore, onData: ignore, onClose: ignore };

  it('hands the prepared offer to a dial whose servers are the same (a list built anew)', () => {
    const { factory, made, closed } = counting();
    const prepared = prepareOffer(factory, stunServers(['stun:127.0.0.1:8787']), () => 0);
    prepared({ initiator: true, iceServers: [{ urls: ['stun:127.0.0.1:8787'] }] }, events);
    expect(made).toHaveLength(1);
    expect(closed()).toBe(0);
    expect(sameIceServers(made[0] ?? [], [{ urls: ['stun:127.0.0.1:8787'] }])).toBe(true);
  });

  it('closes it and makes a fresh one when the server named other servers', () => {
    const { factory, made, closed } = counting();
    const prepared = prepareOffer(factory, stunServers(['stun:127.0.0.1:8787']), () => 0);
    prepared({ initiator: true, iceServers: [{ urls: ['stun:127.0.0.1:40000'] }] }, events);
    expect(made).toEqual([[{ urls: ['stun:127.0.0.1:8787'] }], [{ urls: ['stun:127.0.0.1:40000'] }]]);
    expect(closed()).toBe(1);
  });
});
