import { describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import {
  checkId,
  checkText,
  checkUserId,
  findUnstorableString,
  shownValue,
  storableCallId,
  storableText,
  textProblem,
} from './stored-text.js';

function thrown(run: () => unknown): ToolMuxError {
  try {
    run();
  } catch (error) {
    expect(ToolMuxError.isInstance(error)).toBe(true);
    return error as ToolMuxError;
  }
  throw new Error('expected a ToolMuxError');
}

describe('stored text', () => {
  it('refuses user ids a database cannot keep apart, with USER_ID_INVALID naming the value escaped', () => {
    for (const [userId, problem] of [
      ['\ud800v1', 'lone UTF-16 surrogate (U+D800) at index 0'],
      ['\udc00v1', 'lone UTF-16 surrogate (U+DC00) at index 0'],
      ['v1\ud800', 'lone UTF-16 surrogate (U+D800) at index 2'],
      ['u\u0000', 'control character U+0000 at index 1'],
      ['u\u001b[31m', 'control character U+001B at index 1'],
      ['u\u0085', 'control character U+0085 at index 1'],
      ['a\nb', 'control character U+000A at index 1'],
      ['x'.repeat(257), '257 characters long, over the limit of 256'],
      ['', 'blank'],
      ['   ', 'blank'],
    ] as const) {
      const error = thrown(() => checkUserId(userId));
      expect(error.code).toBe('USER_ID_INVALID');
      expect(error.status).toBe(400);
      expect(error.message).toContain(problem);
      expect(error.message).toContain(`userId ${shownValue(userId)}`);
      // the message itself is storable and printable: no raw control character or lone surrogate
      expect(textProblem(error.message, { maxLength: 1000 })).toBeUndefined();
    }
  });

  it('accepts well-formed ids up to the limit, surrogate pairs and combining marks included', () => {
    for (const userId of [
      'alice',
      'Alice',
      'user 1',
      'x'.repeat(256),
      '👩‍💻',
      'e\u0301',
      '\ufffd',
      '__proto__',
    ]) {
      expect(checkUserId(userId)).toBe(userId);
    }
  });

  it('cuts long values in messages and refuses non-strings', () => {
    const error = thrown(() => checkId(`ses_${'a'.repeat(1000)}`, 'sessionId'));
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.message.length).toBeLessThan(300);
    expect(thrown(() => checkId(42, 'sessionId')).message).toBe(
      'sessionId must be a string; got number 42: pass well-formed Unicode text of 0 to 256 characters, with no control characters.',
    );
    expect(checkId('', 'sessionId')).toBe(''); // empty: merely unknown, the lookup says NOT_FOUND
  });

  it('lets free text keep tabs and line breaks, never NUL', () => {
    const rule = { field: 'name', code: 'CONFIG_INVALID', maxLength: 100, freeText: true } as const;
    expect(checkText('two\nlines\tand\r', rule)).toBe('two\nlines\tand\r');
    expect(thrown(() => checkText('nul\u0000', rule)).code).toBe('CONFIG_INVALID');
  });

  it('finds the first unstorable key or value in a JSON value, at any depth, iteratively', () => {
    let deep: unknown = 'bad\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnstorableString(deep, { maxLength: 10 })?.problem).toContain('U+0000');
    expect(findUnstorableString({ a: { '\ud800': 1 } }, { maxLength: 10 })).toMatchObject({
      path: 'a',
      isKey: true,
    });
    expect(findUnstorableString({ a: ['ok', 'x\u0001'] }, { maxLength: 10 })?.path).toBe('a[1]');
    expect(findUnstorableString({ a: ['ok', { b: 'fine' }] }, { maxLength: 10 })).toBeUndefined();
  });

  it('makes outside text storable: lone surrogates and controls become U+FFFD, line breaks stay', () => {
    expect(storableText('access_denied: no\u0000pe \ud800 x\ny')).toBe(
      'access_denied: no\ufffdpe \ufffd x\ny',
    );
    expect(storableText('fine text')).toBe('fine text');
    expect(textProblem(storableText('\u0000\u0001\udc00'), { maxLength: 10 })).toBeUndefined();
  });

  it('keeps a tool call id from a model response storable: controls and lone surrogates U+FFFD, cut to 256', () => {
    const fine = (id: string) => textProblem(id, { maxLength: 256, allowEmpty: true }) === undefined;
    for (const id of ['call_1', '', 'x'.repeat(256), 'toolu_\u{1F600}']) expect(storableCallId(id)).toBe(id);
    expect(storableCallId('x'.repeat(300))).toBe('x'.repeat(256));
    expect(storableCallId('call\u0000x\ty')).toBe('call\ufffdx\ufffdy');
    expect(storableCallId('call\ud800')).toBe('call\ufffd');
    // a cut that would split a surrogate pair leaves the pair out
    const pairAtCut = `${'x'.repeat(255)}\u{1F600}`;
    expect(storableCallId(pairAtCut)).toBe('x'.repeat(255));
    // a suffix (the inner calls of a multi-execute) stays whole after the cut
    expect(storableCallId('x'.repeat(256), '#12')).toBe(`${'x'.repeat(253)}#12`);
    expect(storableCallId('call_1', '#0')).toBe('call_1#0');
    for (const id of ['x'.repeat(300), 'a\u0000', '\udc00', pairAtCut, 'x'.repeat(1e6)]) {
      expect(fine(storableCallId(id))).toBe(true);
      expect(fine(storableCallId(id, '#199'))).toBe(true);
    }
  });
});
