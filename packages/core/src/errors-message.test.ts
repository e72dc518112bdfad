import { describe, expect, it } from 'vitest';
import { errorMessage } from './errors.js';
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
});
