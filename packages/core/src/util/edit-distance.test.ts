import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { editDistanceByTable } from '../test/edit-distance-table.js';
import { editDistance, editDistanceWithin } from './edit-distance.js';

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps as one edit each', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('prot', 'port')).toBe(1);
    expect(editDistance('craete', 'create')).toBe(1);
    expect(editDistance('isue', 'issue')).toBe(1);
    // a swapped pair is not edited again (optimal string alignment): 'ca' → 'abc' is 3, not 2
    expect(editDistance('ca', 'abc')).toBe(3);
  });

  it('is the distance the whole table gives, for strings of any content', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '_'), maxLength: 16 });
    fc.assert(
      fc.property(word, word, (a, b) => {
        expect(editDistance(a, b)).toBe(editDistanceByTable(a, b));
      }),
      { numRuns: 3_000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        expect(editDistance(a, b)).toBe(editDistanceByTable(a, b));
      }),
      { numRuns: 1_000 },
    );
  });

  it('within a limit, is the distance when it is at most the limit and one more otherwise', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '_'), maxLength: 16 });
    fc.assert(
      fc.property(word, word, fc.integer({ min: 0, max: 18 }), (a, b, limit) => {
        expect(editDistanceWithin(a, b, limit)).toBe(Math.min(editDistanceByTable(a, b), limit + 1));
      }),
      { numRuns: 5_000 },
    );
    expect(editDistanceWithin('craete', 'create', 1)).toBe(1);
    expect(editDistanceWithin('x'.repeat(100_000), 'y'.repeat(100_000), 2)).toBe(3);
  });
});
