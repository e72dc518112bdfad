import { describe, expect, it } from 'vitest';
import { boundedErrorMessage, errorMessage, MAX_QUOTED_CHARS, quotedMessage, quotedText } from './errors.js';
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

/** quotedMessage: how a message of toolmux's own quotes what came from outside. */
describe('quotedMessage', () => {
  it('whole when short, its secrets masked', () => {
    expect(quotedMessage(new Error('key abcd-1234 refused'), ['abcd-1234'])).toBe('key [REDACTED] refused');
    expect(quotedMessage({ a: 1 })).toBe('{"a":1}');
    expect(quotedText('x'.repeat(MAX_QUOTED_CHARS))).toBe('x'.repeat(MAX_QUOTED_CHARS));
  });

  it('cut to its start, saying how long it was; a thrown object written only as far as the cut', () => {
    expect(quotedText('x'.repeat(MAX_QUOTED_CHARS + 1))).toBe(
      `${'x'.repeat(MAX_QUOTED_CHARS)}… (cut: the message had ${MAX_QUOTED_CHARS + 1} characters)`,
    );
    const object = quotedMessage({ data: 'x'.repeat(50_000_000) });
    expect(object.startsWith('{"data":"xxx')).toBe(true);
    expect(object).toMatch(/^\{"data":"x{16375}… \(cut: the message had more than \d+ characters\)$/);
    // never half a surrogate pair
    const emoji = quotedText(`${'x'.repeat(MAX_QUOTED_CHARS - 1)}😀`);
    expect(emoji.startsWith(`${'x'.repeat(MAX_QUOTED_CHARS - 1)}…`)).toBe(true);
  });

  it('masks before it cuts: a secret the cut splits, or one the masking of shorter ones pulls before the cut', () => {
    const secret = 'sk-live-0123456789abcdefghijklmnopqrstuvwxyz';
    // split by the cut
    const text = `${'y'.repeat(MAX_QUOTED_CHARS - 10)}${secret}${'z'.repeat(100)}`;
    expect(quotedText(text, [secret])).toBe(
      `${'y'.repeat(MAX_QUOTED_CHARS - 10)}[REDACTED]… (cut: the message had ${text.length} characters)`,
    );
    // each occurrence masked is shorter: what was past the cut comes before it, a secret's start too
    for (const separator of [', ', '; ', ' ']) {
      const many = quotedText(`${secret}${separator}`.repeat(1000), [secret]);
      expect(many).not.toContain('sk-live');
      expect(many).toContain(`[REDACTED]${separator}[REDACTED]`);
    }
    // a marker longer than a short secret: the masked text is cut to the bound all the same
    const short = quotedText('abcd '.repeat(10_000), ['abcd']);
    expect(short).not.toContain('abcd');
    expect(short.length).toBeLessThan(MAX_QUOTED_CHARS + 100);
  });
});
