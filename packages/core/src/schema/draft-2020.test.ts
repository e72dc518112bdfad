import { describe, expect, it } from 'vitest';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { JSONSchema } from '../catalog/types.js';
import { SessionPreset } from '../config/session-config.js';
import { toolSpecOf } from '../session.js';
import { draft2020Violations, olderDraftToolkit } from '../test/older-drafts.js';
import { ToolMux } from '../toolmux.js';
import { draft2020Keywords, toDraft2020Schema } from './draft-2020.js';
import { shapeInputSchema } from './shape.js';

const object = (properties: Record<string, JSONSchema>, rest: JSONSchema = {}): JSONSchema => ({
  type: 'object',
  properties,
  ...rest,
});

describe('draft2020Keywords', () => {
  it.each<[string, JSONSchema, JSONSchema]>([
    [
      "draft-04's exclusive minimum",
      { type: 'number', minimum: 0, exclusiveMinimum: true },
      { type: 'number', exclusiveMinimum: 0 },
    ],
    [
      "draft-04's exclusive maximum",
      { type: 'integer', maximum: 10, exclusiveMaximum: true, description: 'd' },
      { type: 'integer', description: 'd', exclusiveMaximum: 10 },
    ],
    ['an inclusive bound said so', { minimum: 1, exclusiveMinimum: false }, { minimum: 1 }],
    ['a flag beside no bound (it bounds nothing)', { exclusiveMaximum: true }, {}],
    [
      'a tuple with additionalItems',
      { type: 'array', items: [{ type: 'string' }], additionalItems: false },
      { type: 'array', prefixItems: [{ type: 'string' }], items: false },
    ],
    ['a tuple without', { items: [{ type: 'string' }, true] }, { prefixItems: [{ type: 'string' }, true] }],
    [
      'additionalItems beside no tuple (it constrains nothing)',
      { items: {}, additionalItems: false },
      { items: {} },
    ],
    [
      'dependencies: names and schemas',
      { dependencies: { a: ['b'], c: { required: ['d'] }, e: false } },
      { dependentRequired: { a: ['b'] }, dependentSchemas: { c: { required: ['d'] }, e: false } },
    ],
    [
      'dependencies joined to the 2020-12 keywords already there',
      {
        dependentRequired: { a: ['x'] },
        dependentSchemas: { c: { minProperties: 2 } },
        dependencies: { a: ['b', 'x'], c: { required: ['d'] } },
      },
      {
        dependentRequired: { a: ['x', 'b'] },
        dependentSchemas: { c: { allOf: [{ minProperties: 2 }, { required: ['d'] }] } },
      },
    ],
    [
      '$schema of any draft',
      { $schema: 'http://json-schema.org/draft-04/schema#', type: 'string' },
      { type: 'string' },
    ],
  ])('%s', (_, schema, expected) => {
    expect(draft2020Keywords(schema)).toEqual(expected);
    expect(draft2020Violations(draft2020Keywords(schema))).toEqual([]);
  });

  it('leaves what fits no draft as it is, for the validator to refuse', () => {
    for (const schema of [
      { minimum: '5', exclusiveMinimum: true },
      { exclusiveMinimum: '0' },
      { items: 5 },
      { items: [{}], prefixItems: [{}] },
      { dependencies: { a: 'b' } },
    ] as JSONSchema[]) {
      expect(draft2020Violations(draft2020Keywords(schema))).not.toEqual([]);
    }
    expect(draft2020Keywords({ minimum: '5', exclusiveMinimum: true })).toEqual({ minimum: '5' });
  });

  it('gives the schema itself when it has nothing to rewrite', () => {
    const schema = { type: 'number', exclusiveMinimum: 0, prefixItems: [] };
    expect(draft2020Keywords(schema)).toBe(schema);
  });
});

describe('toDraft2020Schema', () => {
  it('rewrites every depth, and no data or property name that looks like a keyword', () => {
    const lookalike = { minimum: 0, exclusiveMinimum: true, items: [1], dependencies: { a: ['b'] } };
    const schema = object(
      {
        // properties named like the keywords
        items: { type: 'array', items: [{ type: 'number', minimum: 0, exclusiveMinimum: true }] },
        dependencies: { anyOf: [{ type: 'integer', maximum: 5, exclusiveMaximum: true }, { type: 'null' }] },
        $schema: { type: 'string', enum: [lookalike], default: lookalike, examples: [lookalike] },
        nested: object({ deep: { $ref: '#/$defs/Bound' } }, { const: lookalike }),
      },
      { $defs: { Bound: { type: 'number', minimum: 1, exclusiveMinimum: true } } },
    );
    const before = structuredClone(schema);
    const rewritten = toDraft2020Schema(schema);
    expect(schema).toEqual(before);
    expect(rewritten).toEqual(
      object(
        {
          items: { type: 'array', prefixItems: [{ type: 'number', exclusiveMinimum: 0 }] },
          dependencies: { anyOf: [{ type: 'integer', exclusiveMaximum: 5 }, { type: 'null' }] },
          $schema: { type: 'string', enum: [lookalike], default: lookalike, examples: [lookalike] },
          nested: object({ deep: { $ref: '#/$defs/Bound' } }, { const: lookalike }),
        },
        { $defs: { Bound: { type: 'number', exclusiveMinimum: 1 } } },
      ),
    );
    expect(draft2020Violations(rewritten)).toEqual([]);
  });

  it('gives the schema itself when nothing at any depth is to change', () => {
    const schema = object({ a: { type: 'array', prefixItems: [{ type: 'number', exclusiveMinimum: 0 }] } });
    expect(toDraft2020Schema(schema)).toBe(schema);
  });
});

describe('a tool defined with an older draft schema', () => {
  it('is defined, shown and validated in draft 2020-12: calls honour the exclusive bounds, tuples and dependencies', () => {
    const { toolkit } = olderDraftToolkit();
    const [pay, pair] = toolkit.tools;
    // before: each call was refused with TOOL_DEFINITION_INVALID ("exclusiveMinimum must be number")
    expect(pay!.inputSchema).toEqual({
      type: 'object',
      properties: {
        amount: { type: 'number', description: 'More than 0', exclusiveMinimum: 0 },
        percent: { type: 'number', exclusiveMaximum: 100 },
        tip: { type: 'number', minimum: 0 },
        card: { type: 'string' },
        cvc: { type: 'string' },
      },
      required: ['amount'],
      dependentRequired: { card: ['cvc'] },
    });
    const issues = (input: unknown) => {
      const result = pay!.validate(input);
      return result.success ? [] : result.issues.map(({ path, message }) => `${path}: ${message}`);
    };
    expect(issues({ amount: 0 })).toEqual(['amount: is too small: send a number greater than 0']);
    expect(issues({ amount: 0.01, percent: 100 })).toEqual([
      'percent: is too large: send a number less than 100',
    ]);
    expect(issues({ amount: 0.01, percent: 99.9, tip: 0 })).toEqual([]);
    expect(issues({ amount: 1, card: '4242' })).toEqual(['cvc: is required when "card" is given: a string']);
    expect(pair!.inputSchema.properties).toEqual({
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false },
    });
    expect(pair!.validate({ pair: ['a', 1] }).success).toBe(true);
    expect(pair!.validate({ pair: [1, 'a'] }).success).toBe(false);
    expect(pair!.validate({ pair: ['a', 1, 2] }).success).toBe(false);
  });

  it('has its output schema rewritten too', () => {
    const tool = defineTool({
      slug: 'ACME_GET',
      description: 'Get',
      inputSchema: { type: 'object' },
      outputSchema: {
        type: 'object',
        properties: { n: { type: 'number', maximum: 1, exclusiveMaximum: true } },
      },
      execute: () => ({ n: 0 }),
    });
    expect(tool.outputSchema).toEqual({
      type: 'object',
      properties: { n: { type: 'number', exclusiveMaximum: 1 } },
    });
  });

  it('runs in a session by its bound; one invalid schema is handed out as any object, not as written', async () => {
    const { toolkit, received } = olderDraftToolkit();
    const mux = new ToolMux({
      toolkits: [toolkit],
      store: ':memory:',
      logger: { warn() {}, error() {}, debug() {} },
    });
    try {
      const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
      const refused = await session.execute('LEGACY_PAY', { amount: 0 });
      expect([refused.code, refused.error]).toEqual([
        'TOOL_ARGUMENTS_INVALID',
        'Invalid arguments for LEGACY_PAY: amount: is too small: send a number greater than 0',
      ]);
      expect((await session.execute('LEGACY_PAY', { amount: 0.5 })).successful).toBe(true);
      expect(received.LEGACY_PAY).toEqual([{ amount: 0.5 }]);
      const broken = await session.execute('LEGACY_BROKEN', { count: 6 });
      expect(broken.code).toBe('TOOL_DEFINITION_INVALID');
      // the place in the schema in argument paths, and what to write there (was Ajv's
      // `schema is invalid: data/properties/count/minimum must be number`)
      expect(broken.error).toBe(
        'Tool LEGACY_BROKEN: its input schema is not valid JSON Schema (inputSchema.properties.count.minimum: is a string: write a number). Fix the schema or define it with zod.',
      );
      // what every provider is handed: valid draft 2020-12, each tool's
      for (const tool of toolkit.tools) expect(draft2020Violations(toolSpecOf(tool).inputSchema)).toEqual([]);
      expect(toolSpecOf(toolkit.tools[2]!).inputSchema).toEqual({
        type: 'object',
        properties: {},
        additionalProperties: true,
      });
    } finally {
      await mux.close();
    }
  });
});

describe('shapeInputSchema', () => {
  it('rewrites older drafts in a schema it is given (a modifySchema hook), and hands out an invalid one as any object, saying why', () => {
    expect(
      shapeInputSchema(object({ n: { type: 'number', minimum: 0, exclusiveMinimum: true } })).schema,
    ).toEqual(object({ n: { type: 'number', exclusiveMinimum: 0 } }));
    for (const [invalid, problem] of [
      [
        object({ n: { type: 'number', minimum: '5' } }),
        'inputSchema.properties.n.minimum: is a string: write a number',
      ],
      [
        object({ n: { type: 'string' } }, { required: true }),
        'inputSchema.required: is a boolean: write an array',
      ],
      [
        object({ n: { type: 'strings' } }),
        'inputSchema.properties.n.type: unknown value "strings"; use one of array, boolean, integer, null, number, object, string. Did you mean "string"?',
      ],
    ] as const) {
      const shaped = shapeInputSchema(invalid);
      expect(shaped.schema).toEqual({ type: 'object', properties: {}, additionalProperties: true });
      // in argument paths and words, not Ajv's (`/properties/n/minimum must be number`)
      expect(shaped.warnings.at(-1)).toBe(
        `The input schema is not valid JSON Schema (${problem}); the model sees an object with any properties.`,
      );
    }
  });
});

describe('patterns', () => {
  it('writes an escape u mode refuses as the character it escapes, at any depth and in patternProperties names', () => {
    expect(
      toDraft2020Schema(
        object(
          {
            phone: { type: 'string', pattern: '^\\d{3}\\-\\d{4}$' },
            tag: { type: 'array', items: { type: 'string', pattern: '^[\\w\\-\\_]+\\:\\@\\#\\ x$' } },
          },
          { patternProperties: { '^x\\_': { type: 'string' } } },
        ),
      ),
    ).toEqual(
      object(
        {
          phone: { type: 'string', pattern: '^\\d{3}-\\d{4}$' },
          // a class keeps its \- (u mode takes it there), and escapes of syntax stay
          tag: { type: 'array', items: { type: 'string', pattern: '^[\\w\\-_]+:@# x$' } },
        },
        { patternProperties: { '^x_': { type: 'string' } } },
      ),
    );
  });

  it('joins two patternProperties names that are one once rewritten, so a property must match both', () => {
    expect(
      toDraft2020Schema(
        object({}, { patternProperties: { '^a_b$': { type: 'string' }, '^a\\_b$': { minLength: 3 } } }),
      ),
    ).toEqual(
      object({}, { patternProperties: { '^a_b$': { allOf: [{ type: 'string' }, { minLength: 3 }] } } }),
    );
  });

  it('leaves a pattern u mode reads, and one no rewrite makes readable, as it is', () => {
    for (const pattern of ['^a\\.b\\/c?\\$$', '[\\-a]', '\\p{L}+', '\\u{1F600}', '(', '\\a\\-', 'x\\']) {
      const schema = object({ s: { type: 'string', pattern } });
      expect(toDraft2020Schema(schema)).toBe(schema);
    }
  });

  it('a tool whose pattern had such an escape runs and checks it; one that is no regular expression is handed out as any object, saying why', async () => {
    const warnings: string[] = [];
    const echo = (slug: string, pattern: string) =>
      defineTool({
        slug,
        name: slug,
        description: 'echo',
        inputSchema: object({ code: { type: 'string', pattern } }),
        execute: async (args) => args,
      });
    const mux = new ToolMux({
      toolkits: [
        defineToolkit({
          slug: 'codes',
          name: 'Codes',
          description: 'codes',
          tools: [echo('CODES_DASH', '^\\d{3}\\-\\d{4}$'), echo('CODES_BROKEN', '^(\\d{3}$')],
        }),
      ],
      store: ':memory:',
      logger: { warn: (message) => warnings.push(message), error() {}, debug() {} },
    });
    try {
      const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
      // before: TOOL_DEFINITION_INVALID ("Invalid regular expression: /^\d{3}\-\d{4}$/u: Invalid escape")
      expect((await session.execute('CODES_DASH', { code: '555-1234' })).successful).toBe(true);
      const mismatch = await session.execute('CODES_DASH', { code: '555_1234' });
      expect([mismatch.code, mismatch.error]).toEqual([
        'TOOL_ARGUMENTS_INVALID',
        'Invalid arguments for CODES_DASH: code: does not match the pattern ^\\d{3}-\\d{4}$: send text that matches it',
      ]);
      expect((await session.execute('CODES_BROKEN', { code: '555' })).code).toBe('TOOL_DEFINITION_INVALID');
      const specs = new Map(
        (await session.tools()).map((tool) => {
          const { name, inputSchema } = tool as { name: string; inputSchema: JSONSchema };
          return [name, inputSchema];
        }),
      );
      // before: handed to every model API as written, a pattern no API can compile
      expect(specs.get('CODES_BROKEN')).toEqual({
        type: 'object',
        properties: {},
        additionalProperties: true,
      });
      expect(warnings.join('\n')).toContain(
        'pattern "^(\\\\d{3}$" is not a regular expression: Unterminated group',
      );
    } finally {
      await mux.close();
    }
  });
});
