/** The fuzzing machinery itself (test/fuzz/): a broken mutator or runner would hide crashes rather than show them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sameValue } from '../fuzz/check.js';
import { mutateBytes, mutateJson, mutateText, nearTheCap } from '../fuzz/mutate.js';
import { defineTarget } from '../fuzz/target.js';

describe('the fuzz runner', () => {
  const failing = defineTarget<number>({
    name: 'toy',
    about: 'refuses numbers of 1000 and over',
    prepare: () =>
      Promise.resolve({
        input: fc.integer({ min: 0, max: 1_000_000 }),
        async: false,
        check: (n) => {
          if (n >= 1000) throw new Error(`too big: ${n}`);
          return 'accepted';
        },
      }),
  });

  it('reports a failing case minimised, with the seed and path that replay it', async () => {
    const report = await failing.run({ cases: 10_000 });
    expect(report.failure?.input).toBe('1000');
    expect(report.failure?.message).toContain('too big: 1000');
    const path = report.failure?.path;
    if (path === null || path === undefined) throw new Error('no path');
    const replay = await failing.run({ cases: 1, seed: report.seed, path });
    expect(replay.failure?.input).toBe('1000');
  });

  it('runs all the cases asked for, in batches, and stops between batches at a time limit', async () => {
    const passing = defineTarget<number>({
      name: 'fine',
      about: 'takes anything',
      share: 0.5,
      prepare: () => Promise.resolve({ input: fc.nat(), async: false, check: () => 'refused' }),
    });
    const all = await passing.run({ cases: 50_000 });
    expect(all).toMatchObject({ cases: 25_000, refused: 25_000, accepted: 0, interrupted: false });
    const limited = await passing.run({ cases: 1_000_000, timeLimitMs: 1 });
    expect(limited.interrupted).toBe(true);
    expect(limited.cases).toBeLessThan(500_000);
  });

  it('counts a failure to give back what a target held as a crash', async () => {
    const leaky = defineTarget<number>({
      name: 'leaky',
      about: 'keeps something',
      prepare: () =>
        Promise.resolve({
          input: fc.nat(),
          async: false,
          check: () => 'accepted',
          close: () => Promise.reject(new Error('2 connections left')),
        }),
    });
    expect((await leaky.run({ cases: 10 })).failure?.message).toContain('2 connections left');
  });
});

describe('mutations', () => {
  it('cut, delete, insert, overwrite, flip and repeat bytes, wrapping positions into range', () => {
    const bytes = Uint8Array.of(1, 2, 3, 4);
    expect([...mutateBytes(bytes, [{ kind: 'cut', at: 2 }])]).toEqual([1, 2]);
    expect([...mutateBytes(bytes, [{ kind: 'delete', at: 1, count: 2 }])]).toEqual([1, 4]);
    expect([...mutateBytes(bytes, [{ kind: 'insert', at: 9, bytes: Uint8Array.of(7) }])]).toEqual([1, 2, 3, 4, 7]);
    expect([...mutateBytes(bytes, [{ kind: 'overwrite', at: 3, bytes: Uint8Array.of(8, 9) }])]).toEqual([1, 2, 3, 8]);
    expect([...mutateBytes(bytes, [{ kind: 'flip', at: 0, bits: 0xff }])]).toEqual([0xfe, 2, 3, 4]);
    expect(mutateBytes(bytes, [{ kind: 'repeat', at: 1, length: 2, times: 1000 }])).toHaveLength(2002);
    expect([...bytes]).toEqual([1, 2, 3, 4]);
  });

  it('cut, splice and repeat text', () => {
    expect(mutateText('abcd', [{ kind: 'replace', at: 1, text: 'XY' }])).toBe('aXYd');
    expect(mutateText('abcd', [{ kind: 'insert', at: 4, text: '\ud800' }])).toBe('abcd\ud800');
    expect(mutateText('abcd', [{ kind: 'repeat', at: 0, length: 1, times: 3 }])).toBe('aaabcd');
  });

  it('bend JSON fields: delete, set, splice raw tokens JSON.stringify never writes, wrap', () => {
    const text = JSON.stringify({ v: 1, t: 'signal', payload: 'p' });
    expect(JSON.parse(mutateJson(text, [{ kind: 'delete', key: 't' }]))).toEqual({ v: 1, payload: 'p' });
    expect(mutateJson(text, [{ kind: 'raw', key: 'v', token: '1e400' }])).toBe(
      '{"v":1e400,"t":"signal","payload":"p"}',
    );
    expect(mutateJson(text, [{ kind: 'set', key: '__proto__', value: 1 }])).toContain('"__proto__":1');
    expect(mutateJson(text, [{ kind: 'wrap' }])).toBe(`[${text}]`);
  });

  it('fill a field to within a few characters of a cap, with one-, two- and six-character escapes', () => {
    const valid = fc.constant(JSON.stringify({ v: 1, t: 'signal', payload: '' }));
    for (const text of fc.sample(nearTheCap(valid, ['payload'], 1000), 200)) {
      expect(text.length).toBeGreaterThanOrEqual(1000 - 8 - 6);
      expect(text.length).toBeLessThanOrEqual(1000 + 3);
    }
  });
});

describe('sameValue', () => {
  it('compares decoded values: one zero, bytes by content, fields whatever their prototype', () => {
    expect(sameValue({ a: 0, b: Uint8Array.of(1) }, { a: -0, b: new Uint8Array([0, 1]).subarray(1) })).toBe(true);
    expect(sameValue({ a: 1 }, Object.assign(Object.create(null) as object, { a: 1 }))).toBe(true);
    expect(sameValue({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameValue([1, 2], [1, 2, 3])).toBe(false);
    expect(sameValue(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
  });
});
