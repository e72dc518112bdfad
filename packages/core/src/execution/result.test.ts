import { describe, expect, it } from 'vitest';
import { formatToolResultForModel } from './result.js';

const success = (data: unknown) => ({ successful: true as const, data, error: null, logId: 'log_1' });

describe('formatToolResultForModel', () => {
  it('reads a string as it is, any other value as its JSON text', () => {
    expect(formatToolResultForModel(success('saved'))).toBe('saved');
    expect(formatToolResultForModel(success(' padded\n'))).toBe(' padded\n');
    expect(formatToolResultForModel(success({ id: 1 }))).toBe('{"id":1}');
    expect(formatToolResultForModel(success(null))).toBe('null');
  });

  it.each(['', ' ', '\n', ' \n\t\r', '\u00a0\u2003'])(
    'reads a string of nothing but whitespace (%j) as its JSON text, never as empty text',
    (data) => {
      // the Messages API refuses a tool_result whose text is empty, and that request with it
      const text = formatToolResultForModel(success(data));
      expect(text).toBe(JSON.stringify(data));
      expect(text.trim()).not.toBe('');
    },
  );

  it('says the code of a failure', () => {
    expect(
      formatToolResultForModel({
        successful: false,
        data: null,
        error: 'no',
        code: 'TOOL_NOT_FOUND',
        logId: '',
      }),
    ).toBe('Error (TOOL_NOT_FOUND): no');
  });
});
