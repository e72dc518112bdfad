import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closestNames } from './catalog.js';

/** The definition: every candidate's edit distance computed in full (what closestNames did before it skipped any). */
function closestByDefinition(name: string, candidates: readonly string[], max = 3): string[] {
  const target = name.toLowerCase();
  const scored: Array<{ candidate: string; distance: number }> = [];
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    const distance = fullEditDistance(target, lower);
    if (distance <= Math.max(2, Math.floor(target.length / 3)) || lower.includes(target)) {
      scored.push({ candidate, distance });
    }
  }
  return scored
    .sort((a, b) => a.distance - b.distance)
    .slice(0, max)
    .map((entry) => entry.candidate);
}

function fullEditDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      rows[i]![j] = Math.min(
        rows[i - 1]![j]! + 1,
        rows[i]![j - 1]! + 1,
        rows[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return rows[a.length]![b.length]!;
}

describe('closestNames', () => {
  it('suggests what the full edit distance suggests, for names of any length against any candidates', () => {
    // a small alphabet makes near and contained names common
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'A', '_'), maxLength: 24 });
    fc.assert(
      fc.property(word, fc.array(word, { maxLength: 12 }), (name, candidates) => {
        expect(closestNames(name, candidates)).toEqual(closestByDefinition(name, candidates));
      }),
      { numRuns: 3_000 },
    );
  });

  it('still finds the slug a long name contains or is a typo of', () => {
    const slugs = ['GITHUB_CREATE_ISSUE', 'GITHUB_LIST_ISSUES', 'GMAIL_SEND_EMAIL'];
    expect(closestNames('github_create_isue', slugs)).toEqual(['GITHUB_CREATE_ISSUE']);
    expect(closestNames('SEND', slugs)).toEqual(['GMAIL_SEND_EMAIL']);
    expect(closestNames(`GITHUB_CREATE_ISSUE${'X'.repeat(100_000)}`, slugs)).toEqual([]);
  });
});
