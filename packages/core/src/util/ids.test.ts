import { describe, expect, it } from 'vitest';
import { ID_PATTERN, idTime, newId } from './ids.js';

describe('newId', () => {
  it('is prefix_ + 38 base32 characters, unique, and sorts by creation', () => {
    const ids = Array.from({ length: 2_000 }, () => newId('ses'));
    for (const id of ids) expect(id).toMatch(ID_PATTERN);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('carries 128 random bits: the random tails of ids differ in about half their bits', () => {
    const tails = Array.from({ length: 200 }, () => newId('log').slice(-26));
    const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
    const bits = (tail: string) =>
      [...tail].map((c) => alphabet.indexOf(c).toString(2).padStart(5, '0')).join('');
    let differing = 0;
    let total = 0;
    for (let i = 1; i < tails.length; i++) {
      const a = bits(tails[i - 1]!);
      const b = bits(tails[i]!);
      for (let j = 0; j < 128; j++) differing += a[j] === b[j] ? 0 : 1;
      total += 128;
    }
    expect(differing / total).toBeGreaterThan(0.45);
    expect(differing / total).toBeLessThan(0.55);
  });
});

describe('idTime', () => {
  it('reads back the creation time of an id, and nothing from other strings', () => {
    const before = Date.now();
    const time = idTime(newId('log'))!;
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now() + 1);
    expect(idTime('log_ZZZ')).toBeUndefined();
    expect(idTime(`log_${'u'.repeat(38)}`)).toBeUndefined(); // not an id: u is not in the alphabet
    expect(idTime(`log_zzzzzzzzzz${'0'.repeat(28)}`)).toBe(32 ** 10 - 1);
  });
});
