import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JSONSchema } from '../catalog/types.js';
import { stripNullsForOptional } from './nulls.js';
import { shapeInputSchema } from './shape.js';
import { toStrictSchema } from './strict.js';
import { compileJsonSchemaValidator } from './validate.js';

const ajv = new Ajv2020({ strict: false, validateFormats: false });

/** Every subschema of a strict schema (which only nests through properties, items and anyOf). */
function subschemas(schema: JSONSchema): JSONSchema[] {
  const children = [
    ...Object.values((schema.properties ?? {}) as Record<string, JSONSchema>),
    ...(schema.items ? [schema.items as JSONSchema] : []),
    ...((schema.anyOf ?? []) as JSONSchema[]),
  ];
  return [schema, ...children.flatMap(subschemas)];
}

function isObjectSchema(schema: JSONSchema): boolean {
  return schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object'));
}

function property(schema: JSONSchema, ...path: string[]): JSONSchema {
  return path.reduce((node, name) => {
    const object = isObjectSchema(node) ? node : (node.anyOf as JSONSchema[]).find(isObjectSchema)!;
    return (object.properties as Record<string, JSONSchema>)[name]!;
  }, schema);
}

function strictOf(source: JSONSchema): JSONSchema {
  const result = toStrictSchema(shapeInputSchema(source).schema);
  if (!result.ok) throw new Error(result.reason);
  return result.schema;
}

function expectStrictObjects(schema: JSONSchema): void {
  const objects = subschemas(schema).filter(isObjectSchema);
  expect(objects.length).toBeGreaterThan(0);
  for (const object of objects) {
    expect(object.additionalProperties).toBe(false);
    expect(object.required).toEqual(Object.keys(object.properties as object));
  }
}

const Address = z.object({
  street: z.string().describe('Street and number'),
  city: z.string().optional(),
  geo: z.object({ lat: z.number(), lng: z.number() }).optional(),
});

const hardSchema = z.object({
  title: z.string().describe('Issue title'),
  body: z.string().optional(),
  priority: z.enum(['low', 'high']).optional(),
  severity: z.enum(['minor', 'major']).nullable().optional(),
  assignee: z.object({ login: z.string() }).nullable(),
  milestone: z.number().int().nullish(),
  count: z.number().default(1),
  home: Address,
  shipping: Address.optional(),
  lines: z.array(
    z.object({ sku: z.string(), quantity: z.number().int().optional(), note: z.string().nullable() }),
  ),
  target: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('repo'), repo: z.string(), branch: z.string().optional() }),
    z.object({ kind: z.literal('org'), org: z.string() }),
  ]),
  filter: z.union([z.string(), z.object({ field: z.string(), value: z.string().optional() })]).optional(),
  both: z.intersection(z.object({ a: z.string() }), z.object({ b: z.number().optional() })),
  email: z.email().optional(),
  website: z.url().optional(),
});

const optionalPaths = [
  ['body'],
  ['priority'],
  ['severity'],
  ['milestone'],
  ['count'],
  ['shipping'],
  ['filter'],
  ['email'],
  ['website'],
  ['home', 'city'],
  ['home', 'geo'],
  ['both', 'b'],
];
const requiredNonNullPaths = [
  ['title'],
  ['home'],
  ['lines'],
  ['target'],
  ['both'],
  ['home', 'street'],
  ['both', 'a'],
];

describe('toStrictSchema', () => {
  const source = z.toJSONSchema(hardSchema, { io: 'input' });
  const strict = strictOf(source);

  it('gives every object additionalProperties: false and all its properties in required', () => {
    expectStrictObjects(strict);
    expect(strict.required).toEqual(Object.keys(source.properties as object));
  });

  it('keeps every optional field, now accepting null, and keeps required fields non-null', () => {
    for (const path of optionalPaths) {
      expect(ajv.validate(property(strict, ...path), null), path.join('.')).toBe(true);
    }
    for (const path of requiredNonNullPaths) {
      expect(ajv.validate(property(strict, ...path), null), path.join('.')).toBe(false);
    }
    expect(ajv.validate(property(strict, 'assignee'), null)).toBe(true); // required but nullable in zod
  });

  it('keeps an optional enum an enum, with null added', () => {
    expect(property(strict, 'priority')).toEqual({ type: ['string', 'null'], enum: ['low', 'high', null] });
    expect(property(strict, 'severity')).toEqual({
      anyOf: [{ type: 'string', enum: ['minor', 'major'] }, { type: 'null' }],
    });
  });

  it('turns a discriminated union (oneOf) into anyOf, with const as a one-value enum', () => {
    const target = property(strict, 'target');
    expect(target.oneOf).toBeUndefined();
    const variants = target.anyOf as JSONSchema[];
    expect(variants.map((variant) => property(variant, 'kind'))).toEqual([
      { type: 'string', enum: ['repo'] },
      { type: 'string', enum: ['org'] },
    ]);
    expect(ajv.validate(property(variants[0]!, 'branch'), null)).toBe(true);
  });

  it('drops keywords strict mode refuses and keeps descriptions and supported formats', () => {
    const keywords = new Set(subschemas(strict).flatMap((schema) => Object.keys(schema)));
    for (const refused of ['default', '$schema', 'oneOf', 'allOf', 'const', 'minLength', 'propertyNames']) {
      expect(keywords.has(refused), refused).toBe(false);
    }
    expect(property(strict, 'title').description).toBe('Issue title');
    expect(property(strict, 'home', 'street').description).toBe('Street and number');
    expect(property(strict, 'email').format).toBe('email');
    expect(property(strict, 'website').format).toBeUndefined();
  });

  it('drops a pattern the strict grammars refuse (lookaround, backreference, word boundary), naming it in the description', () => {
    const strict = strictOf(
      z.toJSONSchema(
        z.object({
          host: z.hostname(),
          password: z
            .string()
            .regex(/^(?=.*[A-Z])(?=.*\d).{8,}$/)
            .describe('New password'),
          repeated: z.string().regex(/^(ab)\1$/),
          word: z.string().regex(/\bcat\b/),
          kept: z.string().regex(/^[a-z(?=]+\(?!x\)$/),
          named: z.string().regex(/^(?<q>['"]).*\k<q>$/),
        }),
      ) as JSONSchema,
    );
    expect(property(strict, 'host')).toEqual({ type: 'string', format: 'hostname' });
    expect(property(strict, 'password')).toEqual({
      type: 'string',
      description: 'New password Must match the regular expression ^(?=.*[A-Z])(?=.*\\d).{8,}$.',
    });
    expect(property(strict, 'repeated').pattern).toBeUndefined();
    expect(property(strict, 'word').pattern).toBeUndefined();
    expect(property(strict, 'named').pattern).toBeUndefined();
    // lookaround-like text inside a character class or escaped is plain text: the pattern stays
    expect(property(strict, 'kept').pattern).toBe('^[a-z(?=]+\\(?!x\\)$');
  });

  it('merges allOf of objects and fails on allOf it cannot merge', () => {
    const merged = strictOf({
      type: 'object',
      properties: {
        person: {
          allOf: [
            { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
            { type: 'object', properties: { age: { type: 'integer' } } },
          ],
        },
      },
      required: ['person'],
    });
    expect(property(merged, 'person')).toEqual({
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: ['integer', 'null'] } },
      required: ['name', 'age'],
      additionalProperties: false,
    });

    const conflicting = toStrictSchema({
      type: 'object',
      properties: {
        code: {
          allOf: [
            { type: 'string', pattern: '^a' },
            { type: 'string', pattern: 'z$' },
          ],
        },
      },
    });
    expect(conflicting).toEqual({
      ok: false,
      reason: '$.code: allOf parts set "pattern" to different values',
    });
  });

  it('splits a list of types into an anyOf and infers missing types', () => {
    const schema = strictOf({
      type: 'object',
      properties: { id: { type: ['string', 'integer'] }, mode: { enum: ['a', 'b'] }, fixed: { const: 3 } },
      required: ['id', 'mode', 'fixed'],
    });
    expect(property(schema, 'id')).toEqual({ anyOf: [{ type: 'string' }, { type: 'integer' }] });
    expect(property(schema, 'mode')).toEqual({ type: 'string', enum: ['a', 'b'] });
    expect(property(schema, 'fixed')).toEqual({ type: 'number', enum: [3] });
  });

  it('fails on records and free-form objects, naming the path', () => {
    const record = toStrictSchema(
      shapeInputSchema(
        z.toJSONSchema(z.object({ meta: z.object({ labels: z.record(z.string(), z.string()) }) })),
      ).schema,
    );
    expect(record).toEqual({ ok: false, reason: expect.stringMatching(/^\$\.meta\.labels: is a record/) });

    const loose = toStrictSchema(
      shapeInputSchema(
        z.toJSONSchema(z.object({ options: z.object({ a: z.string() }).loose() }), { io: 'input' }),
      ).schema,
    );
    expect(loose).toEqual({ ok: false, reason: expect.stringMatching(/^\$\.options: is a record/) });

    const freeForm = toStrictSchema({
      type: 'object',
      properties: { items: { type: 'array', items: { type: 'object' } } },
    });
    expect(freeForm).toEqual({
      ok: false,
      reason: expect.stringMatching(/^\$\.items\[\*\]: is a free-form object/),
    });

    const anyValue = toStrictSchema({ type: 'object', properties: { 'odd key': {} } });
    expect(anyValue).toEqual({
      ok: false,
      reason: '$["odd key"]: accepts any value; strict mode needs a type',
    });

    const permissiveRoot = toStrictSchema(shapeInputSchema({ type: 'string' }).schema);
    expect(permissiveRoot.ok).toBe(false);
  });

  it('fails on an object whose required names a key its properties do not list, at any depth', () => {
    expect(
      toStrictSchema({
        type: 'object',
        properties: { query: { type: 'string' } },
        required: ['query', 'limit'],
      }),
    ).toEqual({
      ok: false,
      reason: expect.stringMatching(/^\$: requires "limit", which properties does not list/),
    });
    const nested = toStrictSchema({
      type: 'object',
      properties: {
        pages: {
          type: 'array',
          items: { type: 'object', properties: { size: { type: 'integer' } }, required: ['size', 'cursor'] },
        },
      },
    });
    expect(nested).toEqual({
      ok: false,
      reason: expect.stringMatching(/^\$\.pages\[\*\]: requires "cursor"/),
    });
    // a key required by a variant that the object around it lists is fine
    const variants = toStrictSchema({
      type: 'object',
      properties: {
        who: {
          type: 'object',
          properties: { id: { type: 'string' }, name: { type: 'string' } },
          anyOf: [{ required: ['id'] }, { required: ['name'] }],
        },
      },
    });
    expect(variants.ok).toBe(true);
  });

  it('fails on recursive schemas cut by shaping, on tuples and on unions at the root', () => {
    const Node: z.ZodType<unknown> = z.object({
      name: z.string(),
      get children() {
        return z.array(Node);
      },
    });
    const tree = toStrictSchema(
      shapeInputSchema(z.toJSONSchema(z.object({ root: Node }), { io: 'input' })).schema,
    );
    expect(tree).toEqual({ ok: false, reason: expect.stringContaining('accepts any value') });

    const tuple = toStrictSchema(
      shapeInputSchema(z.toJSONSchema(z.object({ pair: z.tuple([z.string(), z.number()]) }))).schema,
    );
    expect(tuple).toEqual({ ok: false, reason: expect.stringMatching(/^\$\.pair: is a tuple/) });

    expect(toStrictSchema({ anyOf: [{ type: 'object', properties: {} }] })).toEqual({
      ok: false,
      reason: '$: the root must be a single object schema',
    });
  });

  it('accepts a tool without parameters', () => {
    expect(toStrictSchema(shapeInputSchema(z.toJSONSchema(z.object({}))).schema)).toEqual({
      ok: true,
      schema: { type: 'object', properties: {}, required: [], additionalProperties: false },
    });
  });

  it('enforces the size limits: 10 levels of objects, 5000 properties, 1000 enum values', () => {
    let deep: JSONSchema = { type: 'object', properties: { leaf: { type: 'string' } } };
    for (let level = 1; level < 10; level++) deep = { type: 'object', properties: { next: deep } };
    expect(toStrictSchema(deep).ok).toBe(true);
    const tooDeep = toStrictSchema({ type: 'object', properties: { next: deep } });
    expect(tooDeep).toEqual({ ok: false, reason: expect.stringContaining('more than 10 levels') });

    const many = (count: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, index) => [`p${index}`, { type: 'string' }]));
    expect(toStrictSchema({ type: 'object', properties: many(5000) }).ok).toBe(true);
    expect(toStrictSchema({ type: 'object', properties: many(5001) })).toEqual({
      ok: false,
      reason: expect.stringContaining('5000 properties'),
    });

    const values = (count: number) => Array.from({ length: count }, (_, index) => `v${index}`);
    const enums = toStrictSchema({
      type: 'object',
      properties: { a: { enum: values(600) }, b: { enum: values(401) } },
    });
    expect(enums).toEqual({ ok: false, reason: expect.stringContaining('1000 enum values') });
  });

  it('does not mutate its input', () => {
    const shaped = shapeInputSchema(source).schema;
    const before = structuredClone(shaped);
    toStrictSchema(shaped);
    expect(shaped).toEqual(before);
  });
});

/** A small seeded random generator, so that a failing round trip can be replayed. */
function randomSource(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** A value valid for a strict schema; picks null for a nullable field whenever `random` says so. */
function sample(schema: JSONSchema, random: () => number): unknown {
  if (Array.isArray(schema.anyOf)) {
    const variants = schema.anyOf as JSONSchema[];
    return sample(variants[Math.floor(random() * variants.length)]!, random);
  }
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];
  const type = types.find((candidate) => candidate !== 'null');
  if (types.includes('null') && (type === undefined || random() < 0.5)) return null;
  if (Array.isArray(schema.enum)) return schema.enum.filter((value) => value !== null)[0];
  if (type === 'object') {
    const properties = schema.properties as Record<string, JSONSchema>;
    return Object.fromEntries(
      Object.entries(properties).map(([name, property]) => [name, sample(property, random)]),
    );
  }
  if (type === 'array') {
    return Array.from({ length: Math.floor(random() * 3) }, () => sample(schema.items as JSONSchema, random));
  }
  if (schema.format === 'email') return 'dev@example.com';
  return { string: 'text', integer: 2, number: 2.5, boolean: true }[type ?? 'string'];
}

describe('strict round trip', () => {
  const schemas: Record<string, JSONSchema> = {
    zod: z.toJSONSchema(hardSchema.omit({ website: true }), { io: 'input' }),
    openApi: {
      type: 'object',
      properties: {
        name: { type: 'string', nullable: true },
        owner: { $ref: '#/definitions/User' },
        reviewers: { type: 'array', items: { $ref: '#/definitions/User' } },
        state: { type: 'string', enum: ['open', 'closed'] },
      },
      required: ['owner'],
      definitions: {
        User: {
          type: 'object',
          properties: { id: { type: 'integer' }, team: { type: 'string' } },
          required: ['id'],
        },
      },
    },
  };

  for (const [name, original] of Object.entries(schemas)) {
    it(`a strict payload, stripped of nulls, validates against the original ${name} schema`, () => {
      const strict = strictOf(original);
      const validateStrict = ajv.compile(strict);
      const validateOriginal = compileJsonSchemaValidator(original, 'TEST_ROUND_TRIP');
      let failuresWithoutStripping = 0;
      for (let seed = 1; seed <= 200; seed++) {
        const payload = sample(strict, randomSource(seed));
        expect(validateStrict(payload), JSON.stringify(validateStrict.errors)).toBe(true);
        const result = validateOriginal(stripNullsForOptional(original, payload));
        expect(result, JSON.stringify(payload)).toMatchObject({ success: true });
        if (!validateOriginal(payload).success) failuresWithoutStripping++;
      }
      expect(failuresWithoutStripping).toBeGreaterThan(100);
    });
  }
});
