import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeZodIssue, MAX_LISTED_KEYS } from './zod-issues.js';

/** The message for the first issue of `input` against `schema`. */
function messageOf(schema: z.ZodType, input: unknown): string {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('expected the input to fail');
  return describeZodIssue(schema, input, result.error.issues[0]!).message;
}

describe('describeZodIssue: unknown keys', () => {
  const body = z.strictObject({ user_id: z.string(), config: z.object({}).optional() });
  const unknown = (count: number) =>
    Object.fromEntries([['user_id', 'u'], ...Array.from({ length: count }, (_, n) => [`k${n}`, 1])]);

  it('names each unknown key while they are few, with the known keys', () => {
    expect(messageOf(body, unknown(2))).toBe('unknown keys "k0", "k1". Known keys: user_id, config.');
    expect(messageOf(body, { user_id: 'u', confg: {} })).toBe(
      'unknown key "confg". Did you mean "config"? Known keys: user_id, config.',
    );
  });

  it(`names the first ${MAX_LISTED_KEYS} of many, then how many more: the message does not grow with the input`, () => {
    const message = messageOf(body, unknown(30_000));
    expect(message).toBe(
      `unknown keys ${Array.from({ length: MAX_LISTED_KEYS }, (_, n) => `"k${n}"`).join(', ')} and 29,990 more. Known keys: user_id, config.`,
    );
    expect(messageOf(body, unknown(300_000)).length).toBe(message.length + 1);
  });
});

describe('describeZodIssue: values of a list', () => {
  const schema = z.object({ method: z.enum(['GET', 'POST']) });

  it('names a value left out as required, with the values it takes', () => {
    // before: 'unknown value undefined; use one of GET, POST.'
    expect(messageOf(schema, {})).toBe('is required: one of GET, POST.');
  });

  it('names a value not in the list, and the closest one', () => {
    expect(messageOf(schema, { method: 'GTE' })).toMatch(/^unknown value "GTE"; use one of GET, POST\./);
  });
});
