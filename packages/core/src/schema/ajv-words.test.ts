import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { JSONSchema } from '../catalog/types.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { ToolMux } from '../toolmux.js';
import { WorkSlice } from '../util/slices.js';
import { compileJsonSchemaValidator, slicedValidatorOf } from './validate.js';

/**
 * A tool declared with plain JSON Schema (a custom tool's, an MCP server's, an HTTP toolkit's, a
 * remote client's) is checked by Ajv, whose refusals read Ajv's English: `n: must be <= 5`, `tags:
 * must NOT have fewer than 1 items`, `kind: must be equal to one of the allowed values`. They are
 * now worded as a zod tool's are (argument-words.test.ts): what is wrong at which path and what to
 * send, with the schema's own bounds and options. This walks every keyword a tool's JSON Schema can
 * break, and asks of each refusal that Ajv's own message for it (Ajv run beside on the same schema)
 * is nowhere in it, that it says what to send, and that it names the schema's bounds or options.
 */

interface Case {
  /** The Ajv keyword the value breaks. */
  keyword: string;
  schema: JSONSchema;
  bad: unknown;
  /** The path of the issue below the field (`[0]`, `.name`). */
  at?: string;
  /** What the words must name: the schema's bounds or options. */
  names: RegExp;
}

const CASES: Case[] = [
  { keyword: 'type', schema: { type: 'integer' }, bad: 'x', names: /^is a string: send an integer$/ },
  {
    keyword: 'type',
    schema: { type: 'integer' },
    bad: 1.5,
    names: /^is not a whole number: send an integer$/,
  },
  { keyword: 'type', schema: { type: ['string', 'null'] }, bad: 5, names: /send a string or null$/ },
  {
    keyword: 'type',
    schema: { type: 'array', items: { type: 'string' } },
    bad: ['a', 5],
    at: '[1]',
    names: /^is a number: send a string$/,
  },
  {
    keyword: 'enum',
    schema: { enum: ['low', 'high'] },
    bad: 'lo',
    names: /^unknown value "lo"; use one of low, high\. Did you mean "low"\?$/,
  },
  {
    keyword: 'enum',
    schema: { enum: ['low', 'high'] },
    bad: { x: 1 },
    names: /^is an object: use one of low, high$/,
  },
  { keyword: 'const', schema: { const: 'fast' }, bad: 'slow', names: /^unknown value "slow"; use "fast"$/ },
  {
    keyword: 'minimum',
    schema: { type: 'integer', minimum: 1, maximum: 5 },
    bad: 0,
    names: /^is too small: send an integer from 1 to 5$/,
  },
  {
    keyword: 'maximum',
    schema: { type: 'integer', minimum: 1, maximum: 5 },
    bad: 9,
    names: /^is too large: send an integer from 1 to 5$/,
  },
  {
    keyword: 'exclusiveMinimum',
    schema: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    bad: 0,
    names: /^is too small: send a number greater than 0 and of at most 1$/,
  },
  {
    keyword: 'exclusiveMaximum',
    schema: { type: 'number', exclusiveMaximum: 100 },
    bad: 100,
    names: /^is too large: send a number less than 100$/,
  },
  {
    keyword: 'multipleOf',
    schema: { type: 'number', multipleOf: 0.25 },
    bad: 0.3,
    names: /^is not a multiple of 0\.25: send a multiple of 0\.25$/,
  },
  {
    keyword: 'minLength',
    schema: { type: 'string', minLength: 2, maxLength: 4 },
    bad: 'a',
    names: /^is too short: send a string of 2 to 4 characters$/,
  },
  {
    keyword: 'minLength',
    schema: { type: 'string', minLength: 1 },
    bad: '',
    names: /^is empty: send a string of at least 1 character$/,
  },
  {
    keyword: 'maxLength',
    schema: { type: 'string', minLength: 2, maxLength: 4 },
    bad: 'abcde',
    names: /^is too long: send a string of 2 to 4 characters$/,
  },
  {
    keyword: 'pattern',
    schema: { type: 'string', pattern: '^[a-z]+$' },
    bad: 'A1',
    names: /^does not match the pattern \^\[a-z\]\+\$: send text that matches it$/,
  },
  {
    keyword: 'minItems',
    schema: { type: 'array', minItems: 1, maxItems: 2 },
    bad: [],
    names: /^has 0 items: send an array of 1 to 2 items$/,
  },
  {
    keyword: 'maxItems',
    schema: { type: 'array', minItems: 1, maxItems: 2 },
    bad: [1, 2, 3],
    names: /^has 3 items: send an array of 1 to 2 items$/,
  },
  {
    keyword: 'items',
    schema: { type: 'array', prefixItems: [{ type: 'string' }], items: false },
    bad: ['a', 'b'],
    names: /^has 2 items: send an array of at most 1 item$/,
  },
  {
    keyword: 'unevaluatedItems',
    schema: { type: 'array', prefixItems: [{ type: 'string' }], unevaluatedItems: false },
    bad: ['a', 'b'],
    names: /^has 2 items: send an array of at most 1 item$/,
  },
  {
    keyword: 'uniqueItems',
    schema: { type: 'array', uniqueItems: true },
    bad: [1, 2, 1],
    names: /^has the same item at \[0\] and \[2\]: send an array whose items all differ$/,
  },
  {
    keyword: 'contains',
    schema: { type: 'array', contains: { type: 'string' }, minContains: 2 },
    bad: [1, 'a'],
    names: /^has too few items of the kind its "contains" describes: send an array with at least 2 of them/,
  },
  {
    keyword: 'contains',
    schema: { type: 'array', contains: { type: 'string' }, maxContains: 1 },
    bad: ['a', 'b'],
    names:
      /^has too few or too many items of the kind its "contains" describes: send an array with exactly 1 of them/,
  },
  {
    keyword: 'required',
    schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    bad: {},
    at: '.name',
    names: /^is required: a string$/,
  },
  {
    keyword: 'required',
    schema: { type: 'object', properties: { kind: { enum: ['a', 'b'] } }, required: ['kind'] },
    bad: {},
    at: '.kind',
    names: /^is required: one of a, b$/,
  },
  {
    keyword: 'dependentRequired',
    schema: {
      type: 'object',
      properties: { card: { type: 'string' }, cvc: { type: 'string' } },
      dependentRequired: { card: ['cvc'] },
    },
    bad: { card: '4242' },
    at: '.cvc',
    names: /^is required when "card" is given: a string$/,
  },
  {
    keyword: 'additionalProperties',
    schema: { type: 'object', properties: { title: { type: 'string' } }, additionalProperties: false },
    bad: { titel: 'x' },
    names: /^unknown key "titel"\. Did you mean "title"\? Known keys: title$/,
  },
  {
    keyword: 'unevaluatedProperties',
    schema: { type: 'object', properties: { title: {} }, unevaluatedProperties: false },
    bad: { title: 1, extra: 2 },
    names: /^unknown key "extra"\. Known keys: title$/,
  },
  {
    keyword: 'propertyNames',
    schema: { type: 'object', propertyNames: { pattern: '^[a-z]+$' } },
    bad: { 'A B': 1 },
    names: /^has a key "A B" that does not match the pattern \^\[a-z\]\+\$: send text that matches it$/,
  },
  {
    keyword: 'propertyNames',
    schema: { type: 'object', propertyNames: { minLength: 2 } },
    bad: { x: 1 },
    names: /^has a key "x" that is too short: send a string of at least 2 characters$/,
  },
  {
    keyword: 'propertyNames',
    schema: { type: 'object', propertyNames: { enum: ['low', 'high'] } },
    bad: { mid: 1 },
    names: /^has an unknown key "mid"; use one of low, high$/,
  },
  {
    keyword: 'minProperties',
    schema: { type: 'object', minProperties: 1, maxProperties: 2 },
    bad: {},
    names: /^has 0 keys: send an object of 1 to 2 keys$/,
  },
  {
    keyword: 'maxProperties',
    schema: { type: 'object', minProperties: 1, maxProperties: 2 },
    bad: { a: 1, b: 2, c: 3 },
    names: /^has 3 keys: send an object of 1 to 2 keys$/,
  },
  {
    keyword: 'oneOf',
    schema: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
    bad: true,
    names: /^is a boolean: send a string or an integer$/,
  },
  {
    keyword: 'oneOf',
    schema: { oneOf: [{ type: 'number' }, { type: 'integer' }] },
    bad: 3,
    names:
      /^matches more than one of the forms this field takes \(1 and 2\): send a value that matches exactly one$/,
  },
  {
    keyword: 'anyOf',
    schema: { anyOf: [{ type: 'string', minLength: 3 }, { type: 'integer' }] },
    bad: 'ab',
    names: /^is too short: send a string of at least 3 characters$/,
  },
  {
    keyword: 'anyOf',
    schema: { anyOf: [{ enum: ['low', 'high'] }, { type: 'null' }] },
    bad: 7,
    names: /^is a number: send one of low, high or null$/,
  },
  {
    keyword: 'anyOf',
    schema: {
      anyOf: [
        { type: 'object', properties: { kind: { const: 'a' } }, required: ['kind'] },
        { type: 'object', properties: { kind: { const: 'b' } }, required: ['kind'] },
      ],
    },
    bad: { kind: 'c' },
    at: '.kind',
    names: /^unknown value "c"; use one of a, b/,
  },
  {
    keyword: 'not',
    schema: { not: { type: 'string' } },
    bad: 's',
    names: /^matches a form this field must not take: send a value outside it/,
  },
  {
    keyword: 'if',
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
    schema: { if: { type: 'string' }, then: { minLength: 3 } },
    bad: 'ab',
    names: /^is too short: send a string of at least 3 characters$/,
  },
  {
    keyword: 'if',
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
    schema: { if: { type: 'string' }, then: false },
    bad: 'ab',
    names: /^is not allowed here: leave it out$/,
  },
  {
    keyword: 'false schema',
    schema: { type: 'object', properties: { secret: false } },
    bad: { secret: 1 },
    at: '.secret',
    names: /^is not allowed here: leave it out$/,
  },
];

/** Phrases of Ajv's English (`must be <= 5`, `must NOT have …`, `items ## 0 and 2`), whatever the keyword. */
const AJV_PHRASES =
  /must (?:be|NOT|have|match|contain|pass)\b|should |property name must|is not an allowed property|allowed variant|## |valid item\(s\)/;

/** What every issue says to do: send something, use one of a list, leave it out, give what is required. */
const SAYS_WHAT_TO_DO = /: (?:send|use|leave it out)|; use|is required|Known keys/;

const schema = {
  type: 'object',
  properties: Object.fromEntries(CASES.map((each, index) => [`f${index}`, each.schema])),
} as const satisfies JSONSchema;

/** Ajv as the project uses it, run beside on the same schema: its own messages for each case. */
const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
const rawValidate = ajv.compile(schema);

function ajvErrors(value: unknown): ErrorObject[] {
  return rawValidate(value) ? [] : [...(rawValidate.errors ?? [])];
}

/** The task's example. */
const demoTool = defineTool({
  slug: 'AJV_DEMO',
  description: 'Demo.',
  inputSchema: {
    type: 'object',
    properties: {
      n: { type: 'integer', minimum: 1, maximum: 5 },
      tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
      kind: { enum: ['a', 'b'] },
      notes: { type: 'array', items: { type: 'string' } },
    },
  },
  execute: () => 1,
});
/** Keys a path quotes. */
const keysTool = defineTool({
  slug: 'AJV_KEYS',
  description: 'Keys.',
  inputSchema: {
    type: 'object',
    properties: {
      headers: { type: 'object', additionalProperties: { type: 'array', items: { type: 'integer' } } },
    },
  },
  execute: () => 1,
});
const mux = new ToolMux({
  toolkits: [
    defineToolkit({
      slug: 'ajv',
      description: 'Ajv words.',
      tools: [
        defineTool({
          slug: 'AJV_WORDS',
          description: 'Takes one field per JSON Schema keyword.',
          inputSchema: schema,
          execute: () => 'ran',
        }),
        demoTool,
        keysTool,
      ],
    }),
  ],
  store: ':memory:',
  logger: { debug() {}, warn() {}, error() {} },
});
afterAll(() => mux.close());
const session = await mux.create('ajv_words_user', { toolkits: ['ajv'] });

describe('a JSON Schema tool’s argument refusals are worded as a zod tool’s', () => {
  it('walks every keyword: no Ajv phrase survives, each says what to send with the schema’s bounds and options', async () => {
    const bad: string[] = [];
    const keywords = new Set<string>();
    for (const [index, each] of CASES.entries()) {
      const args = { [`f${index}`]: each.bad };
      const raw = ajvErrors(args);
      // the case reaches the keyword it is about
      expect(
        raw.map((error) => error.keyword),
        `f${index}`,
      ).toContain(each.keyword);
      keywords.add(each.keyword);
      const result = await session.execute('AJV_WORDS', args);
      expect(result.code, JSON.stringify(args)).toBe('TOOL_ARGUMENTS_INVALID');
      const prefix = `Invalid arguments for AJV_WORDS: f${index}${each.at ?? ''}: `;
      const error = result.error ?? '';
      const message = error.startsWith(prefix) ? error.slice(prefix.length) : undefined;
      const ajvMessages = raw.map((error) => error.message ?? '').filter((text) => text.length > 0);
      if (
        message === undefined ||
        !each.names.test(message) ||
        AJV_PHRASES.test(error) ||
        !SAYS_WHAT_TO_DO.test(message) ||
        ajvMessages.some((text) => error.includes(text))
      )
        bad.push(`${each.keyword} ${JSON.stringify(each.bad)} -> ${error} (Ajv: ${ajvMessages.join('; ')})`);
    }
    expect(bad.join('\n')).toBe('');
    expect([...keywords].sort()).toEqual(
      [
        'additionalProperties',
        'anyOf',
        'const',
        'contains',
        'dependentRequired',
        'enum',
        'exclusiveMaximum',
        'exclusiveMinimum',
        'false schema',
        'if',
        'items',
        'maxItems',
        'maxLength',
        'maxProperties',
        'maximum',
        'minItems',
        'minLength',
        'minProperties',
        'minimum',
        'multipleOf',
        'not',
        'oneOf',
        'pattern',
        'propertyNames',
        'required',
        'type',
        'unevaluatedItems',
        'unevaluatedProperties',
        'uniqueItems',
      ].sort(),
    );
  });

  it('words the task’s example alike, a part at a time (large arguments) and in a multi-execute', async () => {
    // before: 'n: must be <= 5; tags: must NOT have fewer than 1 items; kind: must be equal to one
    // of the allowed values' (then 'must be one of: a, b')
    const expected =
      'Invalid arguments for AJV_DEMO: n: is too large: send an integer from 1 to 5; tags: has 0 items: send an array of at least 1 item; kind: unknown value "c"; use one of a, b. Did you mean "a" or "b"?';
    expect((await session.execute('AJV_DEMO', { n: 9, tags: [], kind: 'c' })).error).toBe(expected);
    // a megabyte of notes: checked a part at a time, worded alike
    const notes = Array.from({ length: 60_000 }, (_, index) => `note ${index}`);
    const large = await session.execute('AJV_DEMO', {
      n: 9,
      tags: [],
      kind: 'c',
      notes: [...notes.slice(0, 40_000), 7, ...notes.slice(40_000)],
    });
    expect(large.error).toBe(`${expected}; notes[40000]: is a number: send a string`);
    const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'AJV_DEMO', arguments: { n: 9, tags: [], kind: 'c' } }],
    });
    const [entry] = (multi.data as { results: Array<{ error: string | null }> }).results;
    expect(entry!.error).toBe(expected);
  });

  it('quotes a value and a key from outside cut to 100 characters, never a megabyte of them', async () => {
    const huge = 'x'.repeat(1_000_000);
    const enumIndex = CASES.findIndex((each) => each.keyword === 'enum');
    const keyIndex = CASES.findIndex((each) => each.keyword === 'propertyNames');
    const extraIndex = CASES.findIndex((each) => each.keyword === 'additionalProperties');
    const result = await session.execute('AJV_WORDS', {
      [`f${enumIndex}`]: huge,
      [`f${keyIndex}`]: { [`A${huge}`]: 1 },
      [`f${extraIndex}`]: { [huge]: 1 },
    });
    const error = result.error ?? '';
    expect(error).toContain(`f${enumIndex}: unknown value "${'x'.repeat(100)}"; use one of low, high`);
    expect(error).toContain(`f${keyIndex}: has a key "A${'x'.repeat(99)}" that does not match the pattern`);
    expect(error).toContain(`f${extraIndex}: unknown key "${'x'.repeat(100)}". Known keys: title`);
    expect(error.length).toBeLessThan(2_000);
  });

  it('quotes a key that needs it in the path as a zod tool’s issues do', async () => {
    const result = await session.execute('AJV_KEYS', { headers: { 'x.y': [1, 'a'], '0': ['b'] } });
    expect(result.error).toBe(
      'Invalid arguments for AJV_KEYS: headers["0"][0]: is a string: send an integer; headers["x.y"][1]: is a string: send an integer',
    );
  });
});

describe('a tool’s result that breaks its output schema is told what the tool returned, not what to send', () => {
  // before: a result's mismatch was told in the arguments' words (`count: is a string: send a
  // number`), as if the model had sent it; the tool produced it, and no one can send it again
  const output = compileJsonSchemaValidator(schema, 'AJV_WORDS', 'output');
  /** Words of the arguments' voice: what to send or use, a hint, what is required. */
  const ARGUMENT_VOICE = /\bsend\b|\buse\b|leave it out|Did you mean|is required|Known keys|fix these/;

  it('walks every keyword: each issue says what the output schema asks for, none what to send', async () => {
    const bad: string[] = [];
    for (const [index, each] of CASES.entries()) {
      const value = { [`f${index}`]: each.bad };
      for (const result of [output(value), await slicedValidatorOf(output)!(value, new WorkSlice())]) {
        const issues = result.success ? [] : result.issues;
        const words = issues.map(({ path, message }) => `${path}: ${message}`).join('; ');
        if (
          issues.length === 0 ||
          !issues.every(({ path }) => path.startsWith(`f${index}`)) ||
          !issues.every(({ message }) =>
            / where the output schema (asks for|requires|takes|allows)\b/.test(message),
          ) ||
          ARGUMENT_VOICE.test(words) ||
          AJV_PHRASES.test(words)
        )
          bad.push(`${each.keyword} ${JSON.stringify(each.bad)} -> ${words}`);
      }
    }
    expect(bad.join('\n')).toBe('');
  });

  it('words the task’s example with the schema’s own bounds and options, and the arguments’ check stays as it was', async () => {
    const demo = {
      type: 'object',
      properties: demoTool.inputSchema.properties,
      required: ['label'],
    } as JSONSchema;
    const result = compileJsonSchemaValidator(demo, 'AJV_DEMO', 'output')({ n: 9, tags: [], kind: 'c' });
    expect(result.success ? [] : result.issues).toEqual([
      { path: 'label', message: 'is missing where the output schema requires it' },
      { path: 'n', message: 'is too large where the output schema asks for an integer from 1 to 5' },
      { path: 'tags', message: 'has 0 items where the output schema asks for an array of at least 1 item' },
      { path: 'kind', message: 'unknown value "c" where the output schema asks for one of a, b' },
    ]);
    // the same schema as an input schema (one document per voice, though their texts are alike)
    const input = compileJsonSchemaValidator(demo, 'AJV_DEMO', 'input')({ n: 9, tags: [], kind: 'c' });
    expect(input.success ? [] : input.issues.map(({ message }) => message)).toContain(
      'is too large: send an integer from 1 to 5',
    );
  });
});
