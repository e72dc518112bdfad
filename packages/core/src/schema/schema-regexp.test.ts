import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PatternChecks, withPatternChecks } from './pattern-worker.js';
import { compileJsonSchemaValidator, schemaRegExp } from './validate.js';

/** Patterns of the common subset: literals, classes, escapes, groups, alternation, quantifiers, anchors. */
const atom: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('a', 'b', 'é', '😀', ' ', '1', '\\.', '\\/'),
  fc.constantFrom('.', '\\d', '\\w', '\\s', '\\D', '\\W', '\\S'),
  fc.constantFrom('[ab]', '[^a]', '[a-c1]', '[^\\d]', '[😀é]', '[.\\-]', '\\p{L}', '\\p{Lu}', '\\P{L}'),
  fc.constantFrom('[\\s]', '[^\\s]', '[a\\s]', '[\\S]', '[^\\Sa]', '[]', '[^]', '(?:\\0)', '\\n', '\\t'),
);
const quantifier = fc.constantFrom('', '', '*', '+', '?', '{2}', '{1,3}', '{2,}', '*?', '+?');
const pattern: fc.Arbitrary<string> = fc
  .letrec<{ alternation: string; sequence: string; term: string }>((tie) => ({
    alternation: fc
      .array(tie('sequence'), { minLength: 1, maxLength: 3 })
      .map((sequences) => sequences.join('|')),
    sequence: fc.array(tie('term'), { minLength: 0, maxLength: 4 }).map((terms) => terms.join('')),
    term: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.tuple(atom, quantifier).map(([a, q]) => a + q),
      // assertions take no quantifier
      fc.constantFrom('\\b', '\\B'),
      // a group repeated a bounded number of times: the native engine, the reference here, backtracks
      // exponentially on nested unbounded quantifiers
      fc
        .tuple(fc.constantFrom('(', '(?:'), tie('alternation'), fc.constantFrom('', '?', '{2}', '{0,2}'))
        .map(([open, inner, q]) => `${open}${inner})${q}`),
    ),
  }))
  .alternation.chain((body) =>
    fc.tuple(fc.boolean(), fc.boolean()).map(([start, end]) => `${start ? '^' : ''}${body}${end ? '$' : ''}`),
  );
const text = fc
  .array(
    fc.constantFrom(
      'a',
      'b',
      'c',
      'é',
      'É',
      '😀',
      '1',
      ' ',
      '.',
      '-',
      '/',
      '\t',
      'A',
      '\n',
      '\r',
      '\v',
      '\u00a0',
      '\u2028',
      '\ufeff',
    ),
    { maxLength: 10 },
  )
  .map((chars) => chars.join(''));

describe('schemaRegExp (the regular expressions of tool schemas)', () => {
  it('answers as ECMAScript does on the common subset of patterns', () => {
    fc.assert(
      fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 8 }), (source, texts) => {
        const native = new RegExp(source, 'u');
        const engine = schemaRegExp(source, 'u');
        // what RE2 cannot run goes to the worker thread: a budget that takes the slowest of these (V8
        // interprets an expression's first runs, tens of milliseconds for some of them)
        const checks = new PatternChecks(10_000);
        const answers = withPatternChecks(checks, () => texts.map((each) => engine.test(each)));
        // a test that did not finish in the budget answers false, which is no answer about the
        // pattern: on a machine loaded with a whole CI run, one of these once said false where
        // ECMAScript says true (it answers true alone, in 1 ms)
        fc.pre(checks.allFinished);
        for (const [index, each] of texts.entries())
          expect(answers[index], `/${source}/u on ${JSON.stringify(each)}`).toBe(native.test(each));
      }),
      { numRuns: 2000, seed: 2026 },
    );
    // 2,000 runs: 5–14 s alone on this 2-core machine, 22.5 s once with a whole CI run beside it
  }, 60_000);

  it('refuses what ECMAScript refuses, and runs what RE2 cannot (lookaround, backreferences) as ECMAScript does', () => {
    for (const invalid of ['(?i)abc', '\\A', 'a{,3}', '(?P<name>a)']) {
      expect(() => schemaRegExp(invalid, 'u'), invalid).toThrow(SyntaxError);
    }
    expect(schemaRegExp('^(?=.*[A-Z]).{3,}$', 'u').test('abC')).toBe(true);
    expect(schemaRegExp('^(?=.*[A-Z]).{3,}$', 'u').test('abc')).toBe(false);
    expect(schemaRegExp('^(a)\\1$', 'u').test('aa')).toBe(true);
    expect(schemaRegExp('^\\u0041$', 'u').test('A')).toBe(true);
  });

  it('checks arguments against nested quantifiers in time linear in the text: 100,000 characters against ^(a+)+$', () => {
    // a backtracking engine takes 2^n steps for n `a`s and a `!`: seconds at 30, for ever at 100,000
    const validate = compileJsonSchemaValidator(
      {
        type: 'object',
        properties: { word: { type: 'string', pattern: '^(a+)+$' } },
        patternProperties: { '^(x+x+)+y$': { type: 'number' } },
      },
      'ACME_WORDS',
    );
    expect(validate({ word: `${'a'.repeat(100_000)}!` })).toMatchObject({
      success: false,
      issues: [{ path: 'word', message: 'does not match the pattern ^(a+)+$: send text that matches it' }],
    });
    expect(validate({ word: 'a'.repeat(100_000) })).toMatchObject({ success: true });
    expect(validate({ [`${'x'.repeat(50_000)}y`]: 'not a number' })).toMatchObject({ success: false });
    expect(validate({ [`${'x'.repeat(50_000)}z`]: 'not a number' })).toMatchObject({ success: true });
  });
});
