import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { spelledOut } from '../search/tokenize.js';
import { editDistanceByTable } from '../test/edit-distance-table.js';
import {
  closestNames,
  NameMatcher,
  SUGGESTION_WORK_LIMIT,
  type SuggestionWork,
} from '../util/closest-names.js';
import { editDistance } from '../util/edit-distance.js';

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

/** Ten thousand names of three shapes a large catalog has: numbered, toolkit × verb × noun, random. */
function largeCatalogs(): Array<{ shape: string; names: string[] }> {
  const numbered = Array.from({ length: 10_000 }, (_, i) => `ACME_OPERATION_NUMBER_${i}`);
  const verbs = ['LIST', 'GET', 'CREATE', 'UPDATE', 'DELETE', 'SEARCH', 'ADD', 'REMOVE'];
  const nouns = [
    'USER',
    'ISSUE',
    'REPO',
    'FILE',
    'COMMENT',
    'LABEL',
    'PROJECT',
    'ORDER',
    'INVOICE',
    'CUSTOMER',
  ];
  const api: string[] = [];
  for (let toolkit = 0; api.length < 10_000; toolkit++) {
    for (const verb of verbs)
      for (const noun of nouns) api.push(`TK${toolkit}_${verb}_${noun}${toolkit % 3 ? 'S' : ''}`);
  }
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789';
  const randomNames = Array.from({ length: 10_000 }, () =>
    Array.from(
      { length: 12 + Math.floor(random() * 40) },
      () => letters[Math.floor(random() * letters.length)],
    ).join(''),
  );
  return [
    { shape: 'numbered', names: numbered },
    { shape: 'toolkit × verb × noun', names: api.slice(0, 10_000) },
    { shape: 'random', names: randomNames },
  ];
}

/** `closestByDefinition` with the three-row edit distance, fast enough for 10,000 names. */
function closestByScan(name: string, candidates: readonly string[], max = 3): string[] {
  const target = name.toLowerCase();
  const threshold = Math.max(2, Math.floor(target.length / 3));
  const scored: Array<{ candidate: string; distance: number }> = [];
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    if (lower.includes(target)) scored.push({ candidate, distance: lower.length - target.length });
    else if (Math.abs(lower.length - target.length) <= threshold) {
      const distance = editDistance(target, lower);
      if (distance <= threshold) scored.push({ candidate, distance });
    }
  }
  return scored
    .sort((a, b) => a.distance - b.distance)
    .slice(0, max)
    .map((entry) => entry.candidate);
}

describe('NameMatcher', () => {
  const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'A', '_'), maxLength: 24 });

  it('with respell, what the name spelled out finds comes first at the same distance, in a subset too', () => {
    const names = [
      'DEVHUB_GET_USER',
      'DEVHUB_GET_ISSUE',
      'DEVHUB_GET_REPOSITORY',
      'DEVHUB_LIST_MY_REPOSITORIES',
      'DEVHUB_SEND_MESSAGE',
    ];
    const plain = NameMatcher.sorted(names);
    const matcher = NameMatcher.sorted(names, { respell: spelledOut });
    // by characters alone, USER and ISSUE are nearer to REPO than REPOSITORY is
    expect(plain.closest('DEVHUB_GET_REPO')).toEqual([
      'DEVHUB_GET_USER',
      'DEVHUB_GET_ISSUE',
      'DEVHUB_GET_REPOSITORY',
    ]);
    expect(matcher.closest('DEVHUB_GET_REPO')).toEqual([
      'DEVHUB_GET_REPOSITORY',
      'DEVHUB_GET_USER',
      'DEVHUB_GET_ISSUE',
    ]);
    expect(plain.closest('devhub_list_repos')).not.toContain('DEVHUB_LIST_MY_REPOSITORIES');
    expect(matcher.closest('devhub_list_repos')[0]).toBe('DEVHUB_LIST_MY_REPOSITORIES');
    expect(matcher.closest('Devhub-Send-Msg')[0]).toBe('DEVHUB_SEND_MESSAGE');
    // before, a PR was no abbreviation: DEVHUB_CREATE_PR suggested nothing of pull requests
    const pulls = NameMatcher.sorted([...names, 'DEVHUB_CREATE_PULL_REQUEST', 'DEVHUB_CREATE_ISSUE'], {
      respell: spelledOut,
    });
    expect(pulls.closest('DEVHUB_CREATE_PR')[0]).toBe('DEVHUB_CREATE_PULL_REQUEST');
    expect(matcher.subset((name) => name !== 'DEVHUB_GET_REPOSITORY').closest('DEVHUB_GET_REPO')).toEqual([
      'DEVHUB_GET_USER',
      'DEVHUB_GET_ISSUE',
    ]);
    // a name without abbreviations is looked for once, as before
    const work: SuggestionWork = { units: 0, cells: 0, complete: true };
    expect(matcher.closest('DEVHUB_GET_USR', 3, work)).toEqual(plain.closest('DEVHUB_GET_USR'));
    const once = work.units;
    matcher.closest('DEVHUB_GET_REPO', 3, work);
    expect(work.units).toBeGreaterThan(once);
    expect(work.units).toBeLessThanOrEqual(2 * (SUGGESTION_WORK_LIMIT + 1_000));
  });

  it('spelledOut writes out the abbreviations search reads as words, plurals too, in their case', () => {
    expect(spelledOut('GITHUB_GET_REPO')).toBe('GITHUB_GET_REPOSITORY');
    expect(spelledOut('GITHUB_LIST_REPOS')).toBe('GITHUB_LIST_REPOSITORIES');
    expect(spelledOut('slack-send-msg')).toBe('slack-send-message');
    expect(spelledOut('Notion Query Db')).toBe('Notion Query Database');
    expect(spelledOut('LIST_DIRS2')).toBe('LIST_DIRECTORIES2');
    // an abbreviation of two words takes the name's separator
    expect(spelledOut('GITHUB_CREATE_PR')).toBe('GITHUB_CREATE_PULL_REQUEST');
    expect(spelledOut('github-list-prs')).toBe('github-list-pull-requests');
    expect(spelledOut('Merge Pr')).toBe('Merge Pull request');
    // a word that merely starts like one is left alone
    expect(spelledOut('GITHUB_REPORT_ORGANIZER')).toBe('GITHUB_REPORT_ORGANIZER');
  });

  it('sorted, and a subset of it, suggests what the full edit distance suggests', () => {
    fc.assert(
      fc.property(
        word,
        fc.uniqueArray(word, { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.func(fc.boolean()),
        (name, candidates, max, keep) => {
          const matcher = NameMatcher.sorted(candidates);
          expect(matcher.closest(name, max)).toEqual(closestByDefinition(name, candidates, max));
          const kept = candidates.filter((candidate) => keep(candidate));
          expect(matcher.subset((candidate) => keep(candidate)).closest(name, max)).toEqual(
            closestByDefinition(name, kept, max),
          );
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('is bounded by its work limit whatever the name, against 10,000 names of any shape', () => {
    const names = [
      'ACME_OPERATION_NUMBERX_77777',
      'ACME_OPERATION_NUMBER_99999',
      'BIGAPI_ENDPOINT_OPERATIONS_99999',
      'Z'.repeat(30),
      'x',
      '',
      '_'.repeat(40),
      'ACME_OPERATION_',
      'TK1_LIST_USERS_AND_MORE',
      'A'.repeat(64),
      `ACME${'_OPERATION'.repeat(5)}`,
      'ACME_OPERATION_NUMBER_1'.split('').reverse().join(''),
    ];
    for (const { shape, names: candidates } of largeCatalogs()) {
      const matcher = NameMatcher.sorted(candidates);
      const longest = Math.max(...candidates.map((candidate) => candidate.length));
      for (const name of [...names, ...candidates.slice(0, 200).map((c) => `${c.slice(1)}Q`)]) {
        const work: SuggestionWork = { units: 0, cells: 0, complete: true };
        matcher.closest(name, 3, work);
        // the last row or look may pass the limit by its own size
        expect(work.units, `${shape}: ${name}`).toBeLessThanOrEqual(SUGGESTION_WORK_LIMIT + 2 * longest + 8);
        // before, every name of about its length cost its whole table
        expect(work.cells, `${shape}: ${name}`).toBeLessThan(SUGGESTION_WORK_LIMIT);
      }
    }
  });

  it('finds typos of names among 10,000 as the full edit distance does, within its work limit', () => {
    let seed = 11;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * below);
    };
    /** `name` with one or two typos: a letter dropped, doubled, replaced, or two swapped. */
    const typo = (name: string) => {
      let typed = name;
      for (let edits = 1 + random(2); edits > 0; edits--) {
        const at = random(typed.length - 1);
        const kind = random(4);
        if (kind === 0) typed = typed.slice(0, at) + typed.slice(at + 1);
        else if (kind === 1) typed = typed.slice(0, at) + typed[at] + typed.slice(at);
        else if (kind === 2) typed = `${typed.slice(0, at)}E${typed.slice(at + 1)}`;
        else typed = typed.slice(0, at) + typed[at + 1] + typed[at] + typed.slice(at + 2);
      }
      return typed.toLowerCase();
    };
    for (const { shape, names } of largeCatalogs()) {
      const matcher = NameMatcher.sorted(names);
      for (let n = 0; n < 20; n++) {
        const name = typo(names[random(names.length)]!);
        const work: SuggestionWork = { units: 0, cells: 0, complete: true };
        expect(matcher.closest(name, 3, work), `${shape}: ${name}`).toEqual(closestByScan(name, names));
        expect(work.complete, `${shape}: ${name}`).toBe(true);
      }
    }
  }, 60_000); // a full scan of 10,000 names per typo: seconds alone, more on a loaded machine

  it('answers with what it found when the work limit cuts the walk short', () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `ACME_OPERATION_NUMBER_${i}`);
    const work: SuggestionWork = { units: 0, cells: 0, complete: true };
    const found = NameMatcher.sorted(names).closest('ACME_OPERATION_NUMBR_1234', 3, work, 2_000);
    expect(work.complete).toBe(false);
    expect(work.units).toBeLessThan(2_000 + 100);
    expect(found.length).toBeLessThanOrEqual(3);
    // the walk starts where the name's prefix is: the typo's own name is found
    expect(NameMatcher.sorted(names).closest('ACME_OPERATION_NUMBER_12345', 1, work, 5_000)).toEqual([
      'ACME_OPERATION_NUMBER_1234',
    ]);
  });
});
