import { describe, expect, it } from 'vitest';
import { boundedErrorMessage, errorMessage } from './errors.js';
import { HOSTILE_THROWS } from './test/hostile-throws.js';

/** errorMessage reads anything code can throw, and never throws itself. */
describe('errorMessage', () => {
  it.each(HOSTILE_THROWS.filter((entry) => entry.kind !== 'Error of megabytes'))(
    '$kind: a readable message',
    ({ thrown, words }) => {
      const message = errorMessage(thrown());
      expect(typeof message).toBe('string');
      // the cut and the code are the tool result's, not errorMessage's
      for (const word of words.filter((word) => word !== 'connect it' && word !== 'new code'))
        expect(message).toContain(word);
    },
  );

  it('keeps what it said before: an Error its message, else its name; JSON; String()', () => {
    expect(errorMessage(new TypeError('bad'))).toBe('bad');
    expect(errorMessage(new TypeError(''))).toBe('TypeError');
    expect(errorMessage({ a: 1 })).toBe('{"a":1}');
    expect(errorMessage(5n)).toBe('5');
  });

  it('bounded: a thrown object is written as JSON only until it is longer than the bound', () => {
    const huge = boundedErrorMessage({ data: 'x'.repeat(50_000_000) }, 16_384);
    expect(huge.whole).toBe(false);
    expect(huge.text.startsWith('{"data":"xxx')).toBe(true);
    // a piece (16 K characters of a long string) past the bound at most
    expect(huge.text.length).toBeGreaterThan(16_384);
    expect(huge.text.length).toBeLessThan(3 * 16_384);
    // within the bound: the whole JSON, or String() when JSON cannot write it
    expect(boundedErrorMessage({ a: 1 }, 16_384)).toEqual({ text: '{"a":1}', whole: true });
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    expect(boundedErrorMessage(cycle, 16_384)).toEqual({ text: '[object Object]', whole: true });
    // a message that is a string already is answered whole: cutting it costs nothing
    expect(boundedErrorMessage(new Error('y'.repeat(100_000)), 10)).toEqual({
      text: 'y'.repeat(100_000),
      whole: true,
    });
  });
});
