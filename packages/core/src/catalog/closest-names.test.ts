import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { editDistanceByTable } from '../test/edit-distance-table.js';
import { closestNames } from './catalog.js';

/** The definition: every candidate's edit distance computed in full (what closestNames did before it skipped any). */
function closestByDefinition(name: string, candidates: readonly string[], max = 3): string[] {
  const target = name.toLowerCase();
  const scored: Array<{ candidate: string; distance: number }> = [];
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    const distance = editDistanceByTable(target, lower);
    if (distance <= Math.max(2, Math.floor(target.length / 3)) || lower.includes(target)) {
      scored.push({ candidate, distance });
    }
  }
  return scored
    .sort((a, b) => a.distance - b.distance)
    .slice(0, max)
    .map((entry) => entry.candidate);
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
    // two letters swapped are one edit (two substitutions, as far as 'SPEED' is, before)
    expect(closestNames('SLACK_SNED', ['SLACK_SPEED', 'SLACK_SEND'])[0]).toBe('SLACK_SEND');
    expect(closestNames('SEND', slugs)).toEqual(['GMAIL_SEND_EMAIL']);
    expect(closestNames(`GITHUB_CREATE_ISSUE${'X'.repeat(100_000)}`, slugs)).toEqual([]);
  });
});
