import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { JSONSchema } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import { unionItemsSchema } from '../test/hard-schemas.js';
import {
  compiledDocumentCount,
  compileJsonSchemaValidator,
  formatValidationIssues,
  MAX_EXPLAINED_UNIONS,
  MAX_LISTED_ISSUES,
  slicedValidatorOf,
} from './validate.js';

const createIssue = compileJsonSchemaValidator(
  z.toJSONSchema(
    z.object({
      owner: z.string(),
      repo: z.string(),
      title: z.string().min(1),
      labels: z.array(z.string()).default([]),
      state: z.enum(['open', 'closed']).optional(),
      priority: z.enum(['low', 'high']).nullable().optional(),
      milestone: z.number().int().optional(),
      assignee: z.object({ login: z.string() }).optional(),
    }),
    { io: 'input' },
  ),
  'GITHUB_CREATE_ISSUE',
);

function issuesOf(result: ReturnType<typeof createIssue>) {
  if (result.success) throw new Error('expected the validation to fail');
  return result.issues;
}

describe('compileJsonSchemaValidator', () => {
  it('accepts valid input, fills in defaults and leaves the caller’s object alone', () => {
    const input = { owner: 'o', repo: 'r', title: 'Bug' };
    expect(createIssue(input)).toEqual({
      success: true,
      value: { owner: 'o', repo: 'r', title: 'Bug', labels: [] },
    });
    expect(input).toEqual({ owner: 'o', repo: 'r', title: 'Bug' });
  });

  it('reports issues a model can act on, by paths a model reads (`labels[1]`)', () => {
    const result = createIssue({
      owner: 'o',
      title: '',
      labels: ['ok', 3],
      state: 'merged',
      milestone: '5',
      assignee: {},
    });
    expect(issuesOf(result)).toEqual([
      { path: 'repo', message: 'is required: a string' },
      { path: 'title', message: 'is empty: send a string of at least 1 character' },
      { path: 'labels[1]', message: 'is a number: send a string' },
      { path: 'state', message: 'unknown value "merged"; use one of open, closed' },
      { path: 'milestone', message: 'is a string: send an integer' },
      { path: 'assignee.login', message: 'is required: a string' },
    ]);
  });

  it('explains a value that fits neither an enum nor null in one issue', () => {
    expect(issuesOf(createIssue({ owner: 'o', repo: 'r', title: 't', priority: 'urgent' }))).toEqual([
      { path: 'priority', message: 'is a string: send one of low, high or null' },
    ]);
  });

  it('shows a long list of allowed values by its first values and its count, not whole in every issue', () => {
    const values = Array.from({ length: 5000 }, (_, n) => `value_number_${n}`);
    const validator = compileJsonSchemaValidator(
      {
        type: 'object',
        properties: {
          pick: { enum: values },
          either: { anyOf: [{ enum: values.slice(0, 3000) }, { type: 'null' }] },
          short: { enum: ['a', 'b'] },
        },
      },
      'ENUMS_PICK',
    );
    const result = validator({ pick: 'nope', either: 'nope', short: 'c' });
    const issues = result.success ? [] : result.issues;
    expect(issues.map((each) => each.path)).toEqual(['pick', 'either', 'short']);
    expect(issues[0]!.message).toMatch(
      /^unknown value "nope"; use one of the 5,000 values the schema lists, such as value_number_0, value_number_1, .*, …$/,
    );
    expect(issues[1]!.message).toMatch(
      /^is a string: send one of the 3,000 values the schema lists, such as .*, … or null$/,
    );
    expect(issues[2]!.message).toBe('unknown value "c"; use one of a, b. Did you mean "a" or "b"?');
    for (const each of issues) expect(each.message.length).toBeLessThan(800);
  });

  it('reports unknown properties of closed objects and const mismatches', () => {
    const validate = compileJsonSchemaValidator(
      { type: 'object', properties: { mode: { const: 'fast' } }, additionalProperties: false },
      'ACME_RUN',
    );
    expect(issuesOf(validate({ mode: 'slow', extra: 1 }))).toEqual([
      { path: '(root)', message: 'unknown key "extra". Known keys: mode' },
      { path: 'mode', message: 'unknown value "slow"; use "fast"' },
    ]);
    expect(issuesOf(validate('nope'))).toEqual([{ path: '(root)', message: 'is a string: send an object' }]);
  });

  describe('unions', () => {
    const Repo = z
      .object({ kind: z.literal('repo'), repo: z.string(), branch: z.string().optional() })
      .meta({ id: 'ValidateTestRepo' });
    const Org = z.object({ kind: z.literal('org'), org: z.string() }).meta({ id: 'ValidateTestOrg' });
    const validate = compileJsonSchemaValidator(
      z.toJSONSchema(
        z.object({
          target: z.discriminatedUnion('kind', [Repo, Org]),
          id: z.union([z.string(), z.number()]).optional(),
          filters: z
            .array(
              z.union([
                z.object({ field: z.string(), value: z.string() }),
                z.object({ all: z.literal(true) }),
              ]),
            )
            .optional(),
        }),
        { io: 'input' },
      ),
      'ACME_SEARCH',
    );

    it('reports the errors of the variant the discriminator picks, also through $ref', () => {
      expect(issuesOf(validate({ target: { kind: 'repo', repo: 5, branch: 1 } }))).toEqual([
        { path: 'target.repo', message: 'is a number: send a string' },
        { path: 'target.branch', message: 'is a number: send a string' },
      ]);
    });

    it('lists the allowed discriminator values when none matches', () => {
      expect(issuesOf(validate({ target: { kind: 'team' } }))).toEqual([
        { path: 'target.kind', message: 'unknown value "team"; use one of repo, org' },
      ]);
    });

    it('lists the allowed types when the value has none of them', () => {
      expect(issuesOf(validate({ target: { kind: 'org', org: 'o' }, id: true }))).toEqual([
        { path: 'id', message: 'is a boolean: send a string or a number' },
      ]);
    });

    it('picks the variant that declares the keys the value has, inside arrays too', () => {
      const target = { kind: 'org', org: 'o' };
      expect(
        issuesOf(validate({ target, filters: [{ field: 'a', value: 'b' }, { field: 'a' }, { all: false }] })),
      ).toEqual([
        { path: 'filters[1].value', message: 'is required: a string' },
        { path: 'filters[2].all', message: 'unknown value false; use true' },
      ]);
      expect(issuesOf(validate({ target: { kind: 'team', org: 'o' } }))).toEqual([
        { path: 'target.kind', message: 'unknown value "team"; use "org"' },
      ]);
    });

    it(`tries the variants of at most ${MAX_EXPLAINED_UNIONS} failed unions one by one; the others are one issue each`, () => {
      const items = compileJsonSchemaValidator(unionItemsSchema(), 'ACME_ITEMS');
      const count = 1_000;
      // each try of a variant validates a copy of the value: 2 per explained union, 1 for the input
      const copies = vi.spyOn(globalThis, 'structuredClone');
      try {
        const issues = issuesOf(items({ items: Array.from({ length: count }, () => ({ a: 1 })) }));
        expect(copies.mock.calls.length).toBeLessThanOrEqual(1 + 2 * MAX_EXPLAINED_UNIONS);
        expect(issues).toHaveLength(count);
        expect(issues.slice(0, MAX_EXPLAINED_UNIONS)).toEqual(
          Array.from({ length: MAX_EXPLAINED_UNIONS }, (_, index) => ({
            path: `items[${index}].a`,
            message: 'is a number: send a string',
          })),
        );
        expect(issues[MAX_EXPLAINED_UNIONS]).toEqual({
          path: `items[${MAX_EXPLAINED_UNIONS}]`,
          message: 'matches none of the forms this field takes: send one of them (see the schema)',
        });
        expect(formatValidationIssues('ACME_ITEMS', issues)).toMatch(
          /^Invalid arguments for ACME_ITEMS: items\[0\]\.a: is a number: send a string; .*; and 980 more$/,
        );
      } finally {
        copies.mockRestore();
      }
    });

    it('says when a value matches several oneOf variants', () => {
      const ambiguous = compileJsonSchemaValidator(
        { type: 'object', properties: { n: { oneOf: [{ type: 'number' }, { type: 'integer' }] } } },
        'ACME_AMBIGUOUS',
      );
      expect(issuesOf(ambiguous({ n: 3 }))).toEqual([
        {
          path: 'n',
          message:
            'matches more than one of the forms this field takes (1 and 2): send a value that matches exactly one',
        },
      ]);
    });
  });

  it('validates recursive schemas to any depth', () => {
    const Node: z.ZodType<unknown> = z.object({
      name: z.string(),
      get children() {
        return z.array(Node).optional();
      },
    });
    const validate = compileJsonSchemaValidator(
      z.toJSONSchema(z.object({ tree: Node }), { io: 'input' }),
      'ACME_TREE',
    );
    const tree = {
      name: 'a',
      children: [
        { name: 'b', children: [{ name: 'c', children: [{ name: 'd', children: [{ name: 5 }] }] }] },
      ],
    };
    expect(issuesOf(validate({ tree }))).toEqual([
      {
        path: 'tree.children[0].children[0].children[0].children[0].name',
        message: 'is a number: send a string',
      },
    ]);
  });

  it('accepts draft-07 and OpenAPI schemas: definitions, tuple items, nullable, $schema, $id', () => {
    const draft07: JSONSchema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://example.com/tool.json',
      type: 'object',
      properties: {
        user: { $ref: '#/definitions/User' },
        point: { type: 'array', items: [{ type: 'number' }, { type: 'number' }], additionalItems: false },
        note: { type: 'string', nullable: true },
        email: { type: 'string', format: 'email' },
      },
      required: ['user'],
      definitions: { User: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } },
    };
    const validate = compileJsonSchemaValidator(draft07, 'ACME_DRAFT07');
    expect(compileJsonSchemaValidator(draft07, 'ACME_DRAFT07')).toBeTypeOf('function'); // same $id twice
    expect(validate({ user: { id: 1 }, point: [1, 2], note: null, email: 'not checked' }).success).toBe(true);
    expect(issuesOf(validate({ user: { id: 'x' }, point: [1, 2, 3] }))).toEqual([
      { path: 'user.id', message: 'is a string: send an integer' },
      { path: 'point', message: 'has 3 items: send an array of at most 2 items' },
    ]);
  });

  it('does not coerce types', () => {
    const validate = compileJsonSchemaValidator(
      { type: 'object', properties: { count: { type: 'number' }, on: { type: 'boolean' } } },
      'ACME_COUNT',
    );
    expect(issuesOf(validate({ count: '5', on: 'true' }))).toEqual([
      { path: 'count', message: 'is a string: send a number' },
      { path: 'on', message: 'is a string: send a boolean' },
    ]);
  });

  it(`lists at most ${MAX_LISTED_ISSUES} issues, then one that says there are more`, () => {
    const strings = compileJsonSchemaValidator(
      { type: 'object', properties: { items: { type: 'array', items: { type: 'string' } } } },
      'ACME_STRINGS',
    );
    const issues = issuesOf(strings({ items: Array(3 * MAX_LISTED_ISSUES).fill(5) }));
    expect(issues).toHaveLength(MAX_LISTED_ISSUES + 1);
    expect(issues[MAX_LISTED_ISSUES - 1]).toEqual({
      path: `items[${MAX_LISTED_ISSUES - 1}]`,
      message: 'is a number: send a string',
    });
    expect(issues[MAX_LISTED_ISSUES]).toEqual({
      path: '(root)',
      message: 'has more issues than the 1,000 listed; fix these first',
    });
    // exactly the limit: no such issue
    expect(issuesOf(strings({ items: Array(MAX_LISTED_ISSUES).fill(5) }))).toHaveLength(MAX_LISTED_ISSUES);
  });

  it('throws TOOL_DEFINITION_INVALID naming the tool for an invalid schema or a dangling reference', () => {
    for (const schema of [
      { type: 'object', properties: { a: { type: 'text' } } },
      { type: 'object', properties: { a: { $ref: '#/$defs/Missing' } } },
    ]) {
      let thrown: unknown;
      try {
        compileJsonSchemaValidator(schema, 'ACME_BROKEN');
      } catch (error) {
        thrown = error;
      }
      expect(ToolMuxError.isInstance(thrown)).toBe(true);
      expect(thrown).toMatchObject({
        code: 'TOOL_DEFINITION_INVALID',
        message: expect.stringContaining('Tool ACME_BROKEN'),
      });
    }
  });
});

describe('formatValidationIssues', () => {
  it('joins issues into one readable line', () => {
    expect(
      formatValidationIssues('GITHUB_CREATE_ISSUE', [
        { path: 'title', message: 'is required' },
        { path: 'labels[0]', message: 'is a number: send a string' },
      ]),
    ).toBe(
      'Invalid arguments for GITHUB_CREATE_ISSUE: title: is required; labels[0]: is a number: send a string',
    );
  });
});

describe('the sliced validator (a large call copies its arguments a slice at a time)', () => {
  /** A slice that is always due: the copy pauses at every look at the clock. */
  const everyTime = () => ({ due: () => true, pause: async () => {} });

  const union = compileJsonSchemaValidator(
    {
      type: 'object',
      properties: {
        shape: {
          anyOf: [
            {
              type: 'object',
              properties: { kind: { const: 'a' }, size: { type: 'number' } },
              required: ['kind'],
            },
            {
              type: 'object',
              properties: { kind: { const: 'b' }, tags: { type: 'array', items: { type: 'string' } } },
              required: ['kind', 'tags'],
              additionalProperties: false,
            },
          ],
        },
        rows: {
          type: 'array',
          items: {
            type: 'object',
            properties: { id: { type: 'integer' }, note: { type: 'string', default: 'none' } },
            required: ['id'],
          },
        },
        options: { type: 'object', additionalProperties: { type: 'boolean' }, default: { dry: true } },
      },
      required: ['rows'],
    },
    'UNION_TOOL',
  );

  it('explains a failure a slice at a time: thousands of failing union items pause as often as they take', async () => {
    const counting = () => {
      let pauses = 0;
      return { slice: { due: () => true, pause: async () => void pauses++ }, pauses: () => pauses };
    };
    // a few hundred rows are checked whole (see sliced-json-validation.ts), twenty fields missing in
    // each: thousands of errors from one call of Ajv
    const fields = Array.from({ length: 20 }, (_, index) => `f${index}`);
    const rowsOf = (required: string[]) =>
      slicedValidatorOf(
        compileJsonSchemaValidator(
          {
            type: 'object',
            properties: { rows: { type: 'array', items: { type: 'object', required } } },
            required: ['rows'],
          },
          'ROWS_TOOL',
        ),
      )!;
    const rows = Array.from({ length: 200 }, () => ({}));
    // the same value, of a schema that takes it: the copy's pauses
    const good = counting();
    expect((await rowsOf([])({ rows }, good.slice)).success).toBe(true);
    const bad = counting();
    const result = await rowsOf(fields)({ rows }, bad.slice);
    // Ajv's 4,000 errors are looked at 256 a step, each step a pause of its own
    expect(bad.pauses() - good.pauses()).toBeGreaterThanOrEqual(4_000 / 256);
    expect(issuesOf(result)).toHaveLength(MAX_LISTED_ISSUES + 1);
  });

  /** Arguments near the schemas above: right ones, wrong ones, and anything at all. */
  const args = fc.oneof(
    fc.record(
      {
        owner: fc.oneof(fc.string(), fc.integer()),
        repo: fc.string(),
        title: fc.string(),
        labels: fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 4 }),
        state: fc.constantFrom('open', 'closed', 'merged'),
        priority: fc.constantFrom('low', 'high', null, 'urgent'),
        assignee: fc.oneof(fc.record({ login: fc.string() }), fc.constant({})),
        shape: fc.oneof(
          fc.record({ kind: fc.constantFrom('a', 'b', 'c'), size: fc.oneof(fc.integer(), fc.string()) }),
          fc.record({ kind: fc.constant('b'), tags: fc.array(fc.oneof(fc.string(), fc.integer())) }),
        ),
        rows: fc.array(
          fc.record({ id: fc.oneof(fc.integer(), fc.double()), note: fc.string() }, { requiredKeys: [] }),
          { maxLength: 5 },
        ),
        options: fc.dictionary(fc.string(), fc.oneof(fc.boolean(), fc.integer())),
      },
      { requiredKeys: [] },
    ),
    fc.anything({ withDate: true, withMap: true, withNullPrototype: true, withSparseArray: true }),
  );

  it('gives what validate gives: the same value with its defaults, the same issues in the same order', async () => {
    await fc.assert(
      fc.asyncProperty(args, fc.constantFrom(createIssue, union), async (input, validate) => {
        const sliced = slicedValidatorOf(validate);
        expect(sliced).toBeDefined();
        const expected = validate(input);
        expect(await sliced!(input, everyTime())).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('leaves the caller’s object alone and copies what it was given, shared parts shared', async () => {
    const row = { id: 1 };
    const input = { rows: [row, row] };
    const result = await slicedValidatorOf(union)!(input, everyTime());
    expect(result).toEqual(union(input));
    expect(input).toEqual({ rows: [{ id: 1 }, { id: 1 }] });
    const value = (result as { value: { rows: object[] } }).value;
    expect(value.rows[0]).not.toBe(row);
    expect(value.rows[0]).toBe(value.rows[1]);
  });
});

describe('compiled schemas in memory', () => {
  /** A schema no other test compiles: thirty described fields and one of its own. */
  const schemaNumbered = (n: number): JSONSchema => ({
    type: 'object',
    properties: {
      ...Object.fromEntries(
        Array.from({ length: 30 }, (_, index) => [
          `field${index}`,
          { type: 'string', description: `Field ${index}` },
        ]),
      ),
      [`own${n}`]: { anyOf: [{ type: 'number' }, { type: 'object', properties: { n: { const: n } } }] },
    },
  });

  it('go with the last tool that uses them: defining and using 1,000 tools of distinct schemas, one after another, leaves the heap as it was', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const settle = async () => {
      // the registry forgets a document in a task after the collection that found it unreachable
      for (let round = 0; round < 3; round++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const use = (n: number) => {
      const validate = compileJsonSchemaValidator(schemaNumbered(n), `ACME_TOOL_${n}`);
      // a failed union: its variants are compiled too, to explain it
      expect(validate({ [`own${n}`]: 'x' })).toMatchObject({ success: false });
    };
    for (let n = 0; n < 100; n++) use(n);
    await settle();
    const before = { heap: process.memoryUsage().heapUsed, documents: compiledDocumentCount() };
    for (let n = 100; n < 1100; n++) use(n);
    await settle();
    // a shared Ajv instance kept every one: ~40 KB each, about 40 MB here
    expect(process.memoryUsage().heapUsed - before.heap).toBeLessThan(10_000_000);
    expect(compiledDocumentCount()).toBeLessThanOrEqual(before.documents + 50);
  }, 60_000);

  it('are shared by tools of the same schema, each validating on its own', () => {
    const before = compiledDocumentCount();
    const first = compileJsonSchemaValidator(schemaNumbered(-1), 'ACME_FIRST');
    const second = compileJsonSchemaValidator(schemaNumbered(-1), 'ACME_SECOND');
    expect(compiledDocumentCount()).toBe(before + 1);
    expect(first({ field1: 'a' })).toEqual({ success: true, value: { field1: 'a' } });
    expect(second({ field1: 2 })).toMatchObject({ success: false, issues: [{ path: 'field1' }] });
    expect(first({ field1: 3 })).toMatchObject({ success: false, issues: [{ path: 'field1' }] });
  });
});

describe('a tool schema that is not valid JSON Schema', () => {
  const refusal = (schema: unknown, which: 'input' | 'output' = 'input') => {
    try {
      compileJsonSchemaValidator(schema as JSONSchema, 'ACME_LOOKUP', which)({});
    } catch (error) {
      if (ToolMuxError.isInstance(error)) return [error.code, error.message];
    }
    return undefined;
  };

  it('names each place in the paths of argument refusals and what to write there, not Ajv’s words', () => {
    // before: `schema is invalid: data/properties/tags/items/type must be equal to one of the allowed
    // values, data/properties/tags/items/type must be array, … must match a schema in anyOf`
    expect(
      refusal({
        type: 'object',
        properties: { tags: { type: 'array', items: { type: 5 } }, 'a.b': { maxLength: -1 } },
        required: ['tags', 7],
      }),
    ).toEqual([
      'TOOL_DEFINITION_INVALID',
      'Tool ACME_LOOKUP: its input schema is not valid JSON Schema (inputSchema.properties.tags.items.type: is a number: write one of array, boolean, integer, null, number, object, string; inputSchema.properties["a.b"].maxLength: is too small: write an integer of at least 0; inputSchema.required[1]: is a number: write a string). Fix the schema or define it with zod.',
    ]);
    expect(refusal({ type: 'object', properties: { when: { type: 'strin' } } }, 'output')?.[1]).toBe(
      'Tool ACME_LOOKUP: its output schema is not valid JSON Schema (outputSchema.properties.when.type: unknown value "strin"; use one of array, boolean, integer, null, number, object, string. Did you mean "string"?). Fix the schema or define it with zod.',
    );
  });

  it('names the first 20 places of many, and how many more', () => {
    const properties = Object.fromEntries(
      Array.from({ length: 25 }, (_, index) => [`f${index}`, { minimum: 'x' }]),
    );
    const message = refusal({ type: 'object', properties })?.[1] ?? '';
    expect(message).toContain(
      'inputSchema.properties.f19.minimum: is a string: write a number; and 5 more).',
    );
    expect(message).not.toContain('f20');
  });
});
