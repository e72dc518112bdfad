import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeZodIssue, MAX_KNOWN_KEYS, MAX_LISTED_KEYS } from './zod-issues.js';

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

  it(`names the first ${MAX_KNOWN_KEYS} known keys of many, then how many more, however the unknown key is refused`, () => {
    const wide = z.strictObject(
      Object.fromEntries(Array.from({ length: 300 }, (_, n) => [`p${n}`, z.number().optional()])),
    );
    const first = Array.from({ length: MAX_KNOWN_KEYS }, (_, n) => `p${n}`).join(', ');
    // (every one of the 300 was listed, for each object with an unknown key)
    expect(messageOf(wide, { p1: 1, extra: 1 })).toBe(
      `unknown key "extra". Known keys: ${first} and 280 more.`,
    );
    const union = z.union([wide, z.strictObject({ q: z.string() })]);
    expect(messageOf(union, { p1: 1, q: 'a' })).toContain(`Known keys: ${first} and 281 more.`);
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

/**
 * An object refused by every branch of a union of objects: before, the branch whose first issue lay
 * deepest was described, so `{}`, `{ enable: "X" }` and `{ disabled: [...] }` of a toolkit's tool
 * filter all read "tags: expected array or object, got undefined".
 */
describe('describeZodIssue: an object that no branch of a union takes', () => {
  const slugs = z.array(z.string());
  const tagFilter = z.union([
    z.array(z.string()),
    z.object({ enable: z.array(z.string()).optional(), disable: z.array(z.string()).optional() }).strict(),
  ]);
  const filter = z.union([
    z.union([
      slugs,
      z.object({ enable: slugs, disable: slugs }).strict(),
      z.object({ enable: slugs }).strict(),
      z.object({ disable: slugs }).strict(),
    ]),
    z.object({ tags: tagFilter }).strict(),
  ]);
  const config = z
    .object({ tools: z.record(z.string(), filter).optional(), tags: tagFilter.optional() })
    .strict();
  const described = (input: unknown) => {
    const result = config.safeParse(input);
    if (result.success) throw new Error('expected the input to fail');
    const { path, message } = describeZodIssue(config, input, result.error.issues[0]!);
    return `${path.join('.')}: ${message}`;
  };

  it('with none of the keys its forms need (a key given as undefined is not given): which ones', () => {
    const needs =
      'tools.github: expected an array or an object with the key "enable", "disable" or "tags", got an object with no key.';
    expect(described({ tools: { github: {} } })).toBe(needs);
    expect(described({ tools: { github: { disable: undefined } } })).toBe(needs);
  });

  it('with a key that no form knows: the closest key and every form’s keys', () => {
    expect(described({ tools: { github: { disabled: ['GITHUB_X'] } } })).toBe(
      'tools.github: unknown key "disabled". Did you mean "disable"? Known keys: enable, disable, tags.',
    );
    // a union of one object form (zod reports its unknown key alone)
    expect(described({ tags: { enabled: ['x'] } })).toBe(
      'tags: unknown key "enabled". Did you mean "enable"? Known keys: enable, disable.',
    );
  });

  it('with keys of different forms: that they do not go together', () => {
    expect(described({ tools: { github: { enable: ['GITHUB_X'], tags: ['read'] } } })).toBe(
      'tools.github: the keys "enable" and "tags" do not go together: give one of them. Known keys: enable, disable, tags.',
    );
  });

  it('with many keys no form knows: the first of them, a message that does not grow with the input', () => {
    const keys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, n) => [`k${n}`, 1]));
    const message = described({ tools: { github: keys(30_000) } });
    expect(message).toBe(
      `tools.github: unknown keys ${Array.from({ length: MAX_LISTED_KEYS }, (_, n) => `"k${n}"`).join(', ')} and 29,990 more. Known keys: enable, disable, tags.`,
    );
    // ten times the keys: one more digit in the count
    expect(described({ tools: { github: keys(300_000) } }).length).toBe(message.length + 1);
  });

  it('whose keys fit one form: that form’s issue, at its key', () => {
    expect(described({ tools: { github: { enable: 'GITHUB_X' } } })).toBe(
      'tools.github.enable: is a string: send an array',
    );
    expect(described({ tools: { github: { tags: { enable: 'read' } } } })).toBe(
      'tools.github.tags.enable: is a string: send an array',
    );
  });
});

/**
 * A required field left out: zod raises whatever its schema fails on `undefined` (`invalid_type`
 * "Invalid input: expected string, received undefined", `invalid_value` of an enum, `invalid_union`),
 * and each reads `is required` with what to give, as a JSON Schema tool's argument does.
 */
describe('describeZodIssue: a required field left out', () => {
  const schema = z.object({
    user_id: z.string(),
    limit: z.number().int(),
    tags: z.array(z.string()),
    config: z.object({ a: z.string() }),
    metadata: z.record(z.string(), z.string()),
    flag: z.boolean(),
    id: z.union([z.string(), z.number()]),
    kind: z.literal('oauth2'),
    method: z.enum(['GET', 'POST']),
    pair: z.tuple([z.string(), z.string()]),
  });
  const full = {
    user_id: 'u',
    limit: 1,
    tags: [],
    config: { a: 'x' },
    metadata: {},
    flag: true,
    id: 1,
    kind: 'oauth2',
    method: 'GET',
    pair: ['a', 'b'],
  };
  const expected: Record<keyof typeof full, string> = {
    user_id: 'is required: a string.',
    limit: 'is required: a number.',
    tags: 'is required: an array.',
    config: 'is required: an object.',
    metadata: 'is required: an object.',
    flag: 'is required: a boolean.',
    id: 'is required: a string or a number.',
    kind: 'is required: "oauth2".',
    method: 'is required: one of GET, POST.',
    pair: 'is required: an array.',
  };

  it('says each field left out, or given as undefined, is required and what to give', () => {
    for (const name of Object.keys(full) as (keyof typeof full)[]) {
      const { [name]: _left, ...without } = full;
      expect([name, messageOf(schema, without)]).toEqual([name, expected[name]]);
      expect([name, messageOf(schema, { ...full, [name]: undefined })]).toEqual([name, expected[name]]);
    }
  });

  it('names a field of a nested object by its own path', () => {
    const result = schema.safeParse({ ...full, config: {} });
    if (result.success) throw new Error('expected the input to fail');
    expect(describeZodIssue(schema, { ...full, config: {} }, result.error.issues[0]!)).toEqual({
      path: ['config', 'a'],
      message: 'is required: a string.',
    });
  });

  it('words a value of the wrong type, and keeps the message of a check of an optional field', () => {
    // before: zod's "Invalid input: expected string, received number"
    expect(messageOf(schema, { ...full, user_id: 5 })).toBe('is a number: send a string');
    const checked = z
      .object({ note: z.string().optional() })
      .refine((value) => value.note !== undefined, { message: 'give a note', path: ['note'] });
    expect(messageOf(checked, {})).toBe('give a note');
    // a discriminated union without its discriminator: required, with the values it takes
    const event = z.object({
      event: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('a') }),
        z.object({ kind: z.literal('b'), b: z.string() }),
      ]),
    });
    expect(messageOf(event, { event: {} })).toBe('is required: one of a, b.');
    expect(messageOf(event, { event: { kind: 'c' } })).toMatch(/^unknown value "c"; use one of a, b\./);
    // a key named like an Object.prototype member is left out all the same
    expect(messageOf(z.object({ toString: z.string() }), {})).toBe('is required: a string.');
  });
});

/**
 * Each issue zod raises with its default English message ("Too small: expected array to have >=1
 * items", "Invalid input: expected string, received number", "Invalid string: must match pattern …")
 * reads as what is wrong and what to send, with the schema's own bounds; a message its author wrote
 * is kept.
 */
describe('describeZodIssue: zod’s default messages in words', () => {
  const schema = z.object({
    toolkits: z.array(z.string()).min(1).max(50),
    exactly: z.array(z.string()).length(2),
    name: z.string().min(1).max(64),
    note: z.string().max(10).optional(),
    limit: z.number().int().min(1).max(50),
    ratio: z.number().gt(0).lt(1),
    count: z.number().int(),
    step: z.number().multipleOf(5),
    id: z.string().regex(/^ca_/),
    prefixed: z.string().startsWith('ac_'),
    email: z.email(),
    when: z.iso.datetime(),
    labels: z.record(z.string().min(2), z.string()),
    checked: z.string().refine((text) => text !== 'no'),
    authored: z.string().min(3, 'give three letters or more'),
  });
  const valid = {
    toolkits: ['a'],
    exactly: ['a', 'b'],
    name: 'n',
    limit: 1,
    ratio: 0.5,
    count: 1,
    step: 5,
    id: 'ca_1',
    prefixed: 'ac_1',
    email: 'a@example.com',
    when: '2026-01-31T12:00:00Z',
    labels: { ab: 'x' },
    checked: 'yes',
    authored: 'abc',
  };
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ toolkits: [] }, 'has 0 items: send an array of 1 to 50 items'],
    [{ toolkits: Array(51).fill('a') }, 'has 51 items: send an array of 1 to 50 items'],
    [{ exactly: ['a'] }, 'has 1 item: send an array of exactly 2 items'],
    [{ name: '' }, 'is empty: send a string of 1 to 64 characters'],
    [{ name: 'x'.repeat(65) }, 'is too long: send a string of 1 to 64 characters'],
    [{ note: 'x'.repeat(11) }, 'is too long: send a string of at most 10 characters'],
    [{ limit: 0 }, 'is too small: send an integer from 1 to 50'],
    [{ limit: 2 ** 60 }, 'is too large: send an integer from 1 to 50'],
    [{ ratio: 1 }, 'is too large: send a number greater than 0 and less than 1'],
    [{ count: 1.5 }, 'is not a whole number: send an integer'],
    [{ count: 'one' }, 'is a string: send a number'],
    [{ name: null }, 'is null: send a string'],
    [{ toolkits: 'github' }, 'is a string: send an array'],
    [{ step: 7 }, 'is not a multiple of 5: send a multiple of 5'],
    [{ id: 'x' }, 'does not match the pattern /^ca_/: send text that matches it'],
    [{ prefixed: 'x' }, 'does not start with "ac_": send text that starts with it'],
    [{ email: 'x' }, 'is not a valid email address: send an email address'],
    [
      { when: 'x' },
      'is not a valid ISO 8601 date and time: send an ISO 8601 date and time such as 2026-01-31T12:00:00Z',
    ],
    [{ labels: { a: 'x' } }, 'has a key that is too short: send a string of at least 2 characters'],
    [{ checked: 'no' }, 'is not valid: send a value this field accepts (see the schema)'],
    [{ authored: 'ab' }, 'give three letters or more'],
  ];

  it('words each kind of issue as what is wrong and what to send', () => {
    for (const [change, expected] of cases) {
      expect([change, messageOf(schema, { ...valid, ...change })]).toEqual([change, expected]);
    }
  });

  it('shows a number only with showNumbers, never a string', () => {
    const input = { ...valid, limit: 0 };
    const issue = schema.safeParse(input).error!.issues[0]!;
    expect(describeZodIssue(schema, input, issue, { showNumbers: true }).message).toBe(
      'is too small (got 0): send an integer from 1 to 50',
    );
    expect(messageOf(schema, { ...valid, name: 'sk-secret'.repeat(10) })).not.toContain('sk-secret');
  });
});
