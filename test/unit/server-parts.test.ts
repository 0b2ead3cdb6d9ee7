import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../shared/rate-limit.js';
import { AddressCounter, OriginPolicy, addressKey, clientAddress } from '../../signaling-server/admission.js';
import { Registry, type RegistryEntry } from '../../signaling-server/registry.js';
import type { PeerId } from '../../shared/identity/peer-id.js';

describe('TokenBucket', () => {
  it('allows a burst, then the refill rate, with an injected clock', () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(bucket.take(0)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(99)).toBe(false); // 0.99 tokens
    expect(bucket.take(100)).toBe(true); // 1 token after 100 ms at 10/s
    expect(bucket.take(10_000, 5)).toBe(true); // refills to capacity, not beyond
    expect(bucket.take(10_000)).toBe(false);
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError);
  });
});

describe('OriginPolicy', () => {
  const policy = new OriginPolicy(['self', 'localhost', 'https://Friend.example:443']);
  it.each<[string | undefined, string, boolean]>([
    [undefined, 'h:1', true],
    ['http://h:1', 'h:1', true],
    ['https://h:1', 'H:1', true],
    ['http://h:2', 'h:1', false],
    ['http://localhost:9', 'h:1', true],
    ['http://[::1]:9', 'h:1', true],
    ['http://127.0.0.1', 'h:1', true],
    ['http://localhost.evil.example', 'h:1', false],
    ['https://friend.example', 'h:1', true],
    ['https://friend.example:8443', 'h:1', false],
    ['null', 'h:1', false],
    ['not a url', 'h:1', false],
  ])('origin %s to host %s: %s', (origin, host, allowed) => {
    expect(policy.allows(origin, host)).toBe(allowed);
  });
  it('allows anything with *', () => {
    expect(new OriginPolicy(['*']).allows('https://anyone.example', 'h')).toBe(true);
  });
});

describe('client addresses', () => {
  const request = (remote: string, forwarded?: string): IncomingMessage =>
    ({
      socket: { remoteAddress: remote },
      headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
    }) as unknown as IncomingMessage;
  it('uses the socket address unless told to trust the proxy, then the last forwarded hop', () => {
    expect(clientAddress(request('10.0.0.1', '1.1.1.1, 2.2.2.2'), false)).toBe('10.0.0.1');
    expect(clientAddress(request('10.0.0.1', '1.1.1.1, 2.2.2.2'), true)).toBe('2.2.2.2');
    expect(clientAddress(request('10.0.0.1'), true)).toBe('10.0.0.1');
  });
  it('counts connections per address up to the cap', () => {
    const counter = new AddressCounter(2);
    expect(counter.tryAcquire('a')).toBe(true);
    expect(counter.tryAcquire('a')).toBe(true);
    expect(counter.tryAcquire('a')).toBe(false);
    expect(counter.tryAcquire('b')).toBe(true);
    counter.release('a');
    expect(counter.tryAcquire('a')).toBe(true);
  });
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['64:ff9b::198.51.100.1', '64:ff9b:0:0::/64'],
    ['unknown', 'unknown'],
  ])('counts %s as %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
  it('caps a whole IPv6 /64 together, not each of its addresses', () => {
    const counter = new AddressCounter(2);
    expect(counter.tryAcquire('2001:db8:1:2::a')).toBe(true);
    expect(counter.tryAcquire('2001:db8:1:2::b')).toBe(true);
    expect(counter.tryAcquire('2001:db8:1:2:ffff::c')).toBe(false);
    expect(counter.tryAcquire('2001:db8:1:3::a')).toBe(true);
    counter.release('2001:db8:1:2::b');
    expect(counter.tryAcquire('2001:db8:1:2::d')).toBe(true);
  });
});

describe('Registry', () => {
  const entry = (id: string, network = 'n', expires = Infinity): RegistryEntry => ({
    id: id as PeerId,
    network,
    recordText: id,
    recordSeq: 1,
    recordExpiresAt: expires,
    slot: -1,
  });

  it('adds, replaces by ID, removes only the current entry, and forgets empty networks', () => {
    const registry = new Registry<RegistryEntry>();
    const a1 = entry('a');
    const a2 = entry('a');
    expect(registry.add(a1)).toBeUndefined();
    expect(registry.add(a2)).toBe(a1);
    expect(registry.size).toBe(1);
    expect(registry.remove(a1)).toBe(false);
    expect(registry.get('n', 'a' as PeerId)).toBe(a2);
    expect(registry.remove(a2)).toBe(true);
    expect(registry.networkCount).toBe(0);
  });

  it('samples k distinct live entries, never the excluded or expired, and touches O(k) slots', () => {
    let calls = 0;
    let seed = 1;
    const random = (): number => {
      calls++;
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const registry = new Registry<RegistryEntry>(random);
    const entries = Array.from({ length: 10_000 }, (_, i) => entry(`p${i}`, 'n', i % 100 === 0 ? 0 : Infinity));
    entries.forEach((e) => registry.add(e));
    for (let i = 0; i < 5000; i += 2) registry.remove(entries[i] as RegistryEntry);
    const me = entries[1] as RegistryEntry;
    calls = 0;
    const sample = registry.sample('n', 16, me, 1);
    expect(sample).toHaveLength(16);
    expect(new Set(sample).size).toBe(16);
    expect(sample).not.toContain(me);
    for (const e of sample) expect(e.recordExpiresAt).toBeGreaterThan(1);
    expect(calls).toBeLessThanOrEqual(64);
    expect(registry.sample('other', 16, undefined, 1)).toEqual([]);
  });
});
