import { describe, expect, it } from 'vitest';
import { secretMatcher } from './api-key.js';

describe('secretMatcher', () => {
  const secret = 'Bearer key-0123456789abcdef';
  const matches = secretMatcher(secret);

  it('takes the secret itself, and a copy of it made elsewhere', () => {
    expect(matches(secret)).toBe(true);
    expect(matches(['Bearer ', 'key-0123456789', 'abcdef'].join(''))).toBe(true);
  });

  it('refuses every text that differs: one character anywhere, a prefix, an extension, the case, empty', () => {
    for (let index = 0; index < secret.length; index++) {
      const changed = `${secret.slice(0, index)}${secret[index] === 'x' ? 'y' : 'x'}${secret.slice(index + 1)}`;
      expect(matches(changed), changed).toBe(false);
      // the secret cut short by one or more characters
      expect(matches(secret.slice(0, index)), secret.slice(0, index)).toBe(false);
    }
    expect(matches(`${secret}x`)).toBe(false);
    expect(matches(`${secret}\u0000`)).toBe(false);
    expect(matches(secret.toLowerCase())).toBe(false);
    expect(matches('')).toBe(false);
  });

  it('compares UTF-16 units exactly (no encoding makes two texts alike)', () => {
    const unicode = secretMatcher('kéy-\u{1F511}-\u00ff');
    expect(unicode('kéy-\u{1F511}-\u00ff')).toBe(true);
    // the same text as Node reads UTF-8 header bytes (latin1): another text
    expect(unicode(Buffer.from('kéy-\u{1F511}-\u00ff').toString('latin1'))).toBe(false);
    expect(unicode('kéy-\u{1F512}-\u00ff')).toBe(false);
    // a lone surrogate and the replacement character are one and the same in UTF-8, not here
    expect(secretMatcher('key\ud800')('key\ufffd')).toBe(false);
  });

  it('reads a character past the end of the presented text as a difference, also NUL', () => {
    const withNul = secretMatcher('key\u0000');
    expect(withNul('key')).toBe(false);
    expect(withNul('key\u0000')).toBe(true);
  });
});
