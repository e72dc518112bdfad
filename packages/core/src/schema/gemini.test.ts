import { describe, expect, it } from 'vitest';
import { toolSpecOf } from '../session.js';
import { findGeminiViolations } from '../test/gemini-invariants.js';
import { hardSchemaToolkit } from '../test/hard-schemas.js';
import {
  decodeGeminiArguments,
  geminiArgumentsOf,
  geminiSchemaViolations,
  toGeminiSchema,
} from './gemini.js';
import { shapeInputSchema } from './shape.js';

function gemini(properties: Record<string, unknown>, required: string[] = []) {
  const original = { type: 'object', properties, ...(required.length > 0 ? { required } : {}) };
  const result = toGeminiSchema(shapeInputSchema(original).schema);
  expect(findGeminiViolations(original, result.parameters, result.jsonStrings, result.renames)).toEqual([]);
  return { ...result, properties: result.parameters!.properties as Record<string, Record<string, unknown>> };
}

describe('toGeminiSchema', () => {
  it("describes an empty enum as allowing no value, and counts a tuple's boolean item schemas", () => {
    const { properties } = gemini({
      none: { type: 'number', enum: [] },
      anyThird: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }, true] },
      endsAtSecond: { type: 'array', prefixItems: [{ type: 'string' }, false, { type: 'integer' }] },
      noneOf: { type: 'array', prefixItems: [{ type: 'string' }, { enum: [] }] },
    });
    expect(properties.none?.description).toBe('No value is allowed here.');
    expect(properties.anyThird?.description).toBe('A list of 3 items, in order: string, integer, any value.');
    expect(properties.endsAtSecond?.description).toBe('A list of 1 items, in order: string.');
    expect(properties.noneOf?.description).toBe('A list of 2 items, in order: string, no value.');
  });

  it('turns type lists and null variants into one type with nullable, and oneOf into anyOf', () => {
    const { properties, loosened } = gemini(
      {
        a: { type: ['string', 'null'] },
        b: { anyOf: [{ type: 'integer' }, { type: 'null' }], description: 'B' },
        c: { oneOf: [{ type: 'string' }, { type: 'number' }] },
        d: { type: ['string', 'integer'] },
        e: { type: 'string', nullable: true },
      },
      ['a'],
    );
    expect(properties.a).toEqual({ type: 'STRING', nullable: true });
    expect(properties.b).toEqual({ type: 'INTEGER', nullable: true, description: 'B' });
    expect(properties.c).toEqual({ anyOf: [{ type: 'STRING' }, { type: 'NUMBER' }] });
    expect(properties.d).toEqual({ anyOf: [{ type: 'STRING' }, { type: 'INTEGER' }] });
    expect(properties.e).toEqual({ type: 'STRING', nullable: true });
    expect(loosened).toEqual([]);
  });

  it('makes const and enums of strings string enums, as they are', () => {
    const { properties, loosened, jsonStrings } = gemini({
      kind: { const: 'user' },
      state: { type: 'string', enum: ['open', 'closed', null] },
      texts: { enum: ['1', 'true', 'null'] },
      literals: {
        anyOf: [
          { type: 'string', const: 'a' },
          { type: 'string', const: '1' },
        ],
      },
    });
    expect(properties.kind).toEqual({ type: 'STRING', enum: ['user'], format: 'enum' });
    expect(properties.state).toEqual({
      type: 'STRING',
      nullable: true,
      enum: ['open', 'closed'],
      format: 'enum',
    });
    expect(properties.texts).toEqual({ type: 'STRING', enum: ['1', 'true', 'null'], format: 'enum' });
    expect(properties.literals).toEqual({
      anyOf: [
        { type: 'STRING', enum: ['a'], format: 'enum' },
        { type: 'STRING', enum: ['1'], format: 'enum' },
      ],
    });
    expect(loosened).toEqual([]);
    expect(jsonStrings).toEqual([]);
  });

  it('declares an enum or const with values that are not all strings as a STRING enum of texts, each parsed back to its value', () => {
    const { properties, loosened, jsonStrings } = gemini({
      mixed: { enum: ['auto', 1, true], default: 1 },
      withNull: { enum: ['a', 2, null] },
      ambiguous: { enum: ['1', 1, 'true', true, 'null', ' 2', 'x'] },
      object: { const: { mode: 'fast' } },
      list: { enum: [[1, 2], 'none'] },
      nested: {
        type: 'object',
        properties: { level: { enum: ['low', 2] } },
      },
      rows: { type: 'array', items: { enum: ['all', 0] } },
      literals: {
        anyOf: [
          { type: 'string', const: '1', description: 'One as text' },
          { type: 'number', const: 1 },
          { anyOf: [{ type: 'boolean', const: false }, { type: 'null' }] },
        ],
      },
    });
    expect(properties.mixed).toEqual({
      type: 'STRING',
      enum: ['auto', '1', 'true'],
      format: 'enum',
      default: '1',
    });
    expect(properties.withNull).toEqual({ type: 'STRING', nullable: true, enum: ['a', '2'], format: 'enum' });
    // a string that is JSON text itself is sent in double quotes, so "1" and 1 stay apart
    expect(properties.ambiguous).toEqual({
      type: 'STRING',
      enum: ['"1"', '1', '"true"', 'true', '"null"', '" 2"', 'x'],
      format: 'enum',
      description: 'Values in double quotes are text: "1" is the text 1.',
    });
    expect(properties.object).toEqual({ type: 'STRING', enum: ['{"mode":"fast"}'], format: 'enum' });
    expect(properties.list).toEqual({ type: 'STRING', enum: ['[1,2]', 'none'], format: 'enum' });
    expect(properties.nested!.properties).toEqual({
      level: { type: 'STRING', enum: ['low', '2'], format: 'enum' },
    });
    expect(properties.rows!.items).toEqual({ type: 'STRING', enum: ['all', '0'], format: 'enum' });
    // a union of literals is one enum
    expect(properties.literals).toEqual({
      type: 'STRING',
      nullable: true,
      enum: ['"1"', '1', 'false'],
      format: 'enum',
      description: '"1": One as text. Values in double quotes are text: "1" is the text 1.',
    });
    expect(loosened).toEqual([]);
    expect(jsonStrings).toEqual([
      ['mixed'],
      ['withNull'],
      ['ambiguous'],
      ['object'],
      ['list'],
      ['nested', 'level'],
      ['rows', '*'],
      ['literals'],
    ]);
    const sent = {
      mixed: '1',
      withNull: null,
      object: '{"mode":"fast"}',
      list: '[1,2]',
      nested: { level: '2' },
      rows: ['all', '0'],
      literals: '"1"',
    };
    const decode = (values: Record<string, unknown>) => decodeGeminiArguments(values, jsonStrings);
    expect(decode(sent)).toEqual({
      mixed: 1,
      withNull: null,
      object: { mode: 'fast' },
      list: [1, 2],
      nested: { level: 2 },
      rows: ['all', 0],
      literals: '1',
    });
    for (const [text, value] of [
      ['"1"', '1'],
      ['1', 1],
      ['"true"', 'true'],
      ['true', true],
      ['"null"', 'null'],
      ['" 2"', ' 2'],
      ['x', 'x'],
    ] as const) {
      expect(decode({ ambiguous: text })).toEqual({ ambiguous: value });
    }
    expect(decode({ mixed: 'auto' })).toEqual({ mixed: 'auto' });
    expect(decode({ mixed: 'true' })).toEqual({ mixed: true });
    expect(decode({ literals: '1' })).toEqual({ literals: 1 });
    expect(decode({ literals: 'false' })).toEqual({ literals: false });
  });

  it('describes the values of an enum that is not all strings beside a variant that takes any string', () => {
    const { properties, loosened, jsonStrings } = gemini({
      limit: { anyOf: [{ enum: ['none', 0] }, { type: 'string' }] },
    });
    expect(properties.limit).toEqual({
      anyOf: [{ type: 'STRING', description: 'One of: "none", 0.' }, { type: 'STRING' }],
    });
    expect(jsonStrings).toEqual([]);
    expect(loosened).toEqual(['$.limit/anyOf/0: the allowed values ["none",0] are described, not enforced']);
  });

  it('declares enums of numbers or booleans as STRING enums of their JSON texts (Gemini takes enum on STRING only) and parses them back', () => {
    const { properties, loosened, jsonStrings, parameters } = gemini({
      size: { type: 'integer', enum: [1, 2, 3], format: 'int32', minimum: 1, default: 2 },
      ratio: { type: 'number', enum: [0.5, 1.5] },
      steps: { enum: [1, 2.5] },
      flag: { const: true },
      level: { type: ['integer', 'null'], enum: [10, 20, null] },
      sizes: { type: 'array', items: { type: 'integer', enum: [4, 8] } },
    });
    expect(geminiSchemaViolations(parameters!)).toEqual([]);
    expect(properties.size).toEqual({ type: 'STRING', enum: ['1', '2', '3'], format: 'enum', default: '2' });
    expect(properties.ratio).toEqual({ type: 'STRING', enum: ['0.5', '1.5'], format: 'enum' });
    expect(properties.steps).toEqual({ type: 'STRING', enum: ['1', '2.5'], format: 'enum' });
    expect(properties.flag).toEqual({ type: 'STRING', enum: ['true'], format: 'enum' });
    expect(properties.level).toEqual({ type: 'STRING', nullable: true, enum: ['10', '20'], format: 'enum' });
    expect(properties.sizes!.items).toEqual({ type: 'STRING', enum: ['4', '8'], format: 'enum' });
    expect(loosened).toEqual([]);
    const sent = { size: '2', ratio: '1.5', steps: '2.5', flag: 'true', level: null, sizes: ['8', '4'] };
    expect(decodeGeminiArguments(sent, jsonStrings)).toEqual({
      size: 2,
      ratio: 1.5,
      steps: 2.5,
      flag: true,
      level: null,
      sizes: [8, 4],
    });
    // a model that sends the number itself is taken as it is
    expect(decodeGeminiArguments({ size: 3 }, jsonStrings)).toEqual({ size: 3 });
  });

  it('describes an enum of numbers beside a variant that takes any string: "42" meant as a string stays one', () => {
    const { properties, jsonStrings, loosened } = gemini({
      limit: { anyOf: [{ type: 'number', const: 0 }, { type: 'string' }] },
      nested: { anyOf: [{ anyOf: [{ const: 1 }, { const: 2 }] }, { type: 'string', format: 'email' }] },
      pages: { anyOf: [{ const: 1 }, { const: 2 }] },
    });
    expect(properties.limit).toEqual({
      anyOf: [{ type: 'NUMBER', description: 'One of: 0.' }, { type: 'STRING' }],
    });
    expect(jsonStrings).toEqual([['pages']]);
    expect(loosened.map((line) => line.split(':')[0])).toEqual([
      '$.limit/anyOf/0',
      // a union of consts is one enum
      '$.nested/anyOf/0',
    ]);
    expect(decodeGeminiArguments({ limit: '42', pages: '2' }, jsonStrings)).toEqual({
      limit: '42',
      pages: 2,
    });
  });

  it('describes formats, bounds and extra properties it cannot declare, and keeps what it can', () => {
    const { properties, loosened } = gemini({
      email: { type: 'string', format: 'email', description: 'Mail', minLength: 3, pattern: '^.+@.+$' },
      at: { type: 'string', format: 'date-time' },
      n: { type: 'number', exclusiveMinimum: 0, maximum: 10, multipleOf: 0.5 },
      tags: { type: 'array', items: { type: 'string' }, uniqueItems: true, maxItems: 5 },
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }] },
      meta: {
        type: 'object',
        properties: { a: { type: 'string' } },
        additionalProperties: { type: 'number' },
      },
    });
    expect(properties.email).toEqual({
      type: 'STRING',
      description: 'Mail Format: email.',
      minLength: '3',
      pattern: '^.+@.+$',
    });
    expect(properties.at).toEqual({ type: 'STRING', format: 'date-time' });
    expect(properties.n).toEqual({
      type: 'NUMBER',
      maximum: 10,
      description: 'Greater than 0. A multiple of 0.5.',
    });
    expect(properties.tags).toEqual({
      type: 'ARRAY',
      items: { type: 'STRING' },
      maxItems: '5',
      description: 'Items must be unique.',
    });
    expect(properties.pair!.items).toEqual({ anyOf: [{ type: 'STRING' }, { type: 'INTEGER' }] });
    expect(properties.meta).toEqual({
      type: 'OBJECT',
      properties: { a: { type: 'STRING' } },
      description: 'Other properties (number) are allowed too.',
    });
    expect(loosened.map((line) => line.split(':')[0])).toEqual(['$.pair', '$.meta']);
  });

  it('sends records, free-form objects and values of any type as JSON strings and parses them back', () => {
    const { properties, jsonStrings } = gemini({
      labels: { type: 'object', additionalProperties: { type: 'number' } },
      rows: { type: 'array', items: { type: 'object' } },
      anything: {},
    });
    expect(properties.labels).toEqual({
      type: 'STRING',
      description: 'Write a JSON object whose values are number as a JSON string.',
    });
    expect(properties.rows!.items).toMatchObject({ type: 'STRING' });
    expect(jsonStrings).toEqual([['labels'], ['rows', '*'], ['anything']]);
    const sent = { labels: '{"stars":5}', rows: ['{"a":1}', '{"b":2}'], anything: '42', other: '{"x":1}' };
    const decoded = decodeGeminiArguments(sent, jsonStrings);
    expect(decoded).toEqual({
      labels: { stars: 5 },
      rows: [{ a: 1 }, { b: 2 }],
      anything: 42,
      other: '{"x":1}',
    });
    expect(sent.labels).toBe('{"stars":5}');
    expect(decodeGeminiArguments({ labels: 'not json' }, jsonStrings)).toEqual({ labels: 'not json' });
  });

  it('declares no parameters for a tool without properties', () => {
    expect(toGeminiSchema({ type: 'object', properties: {} })).toEqual({
      parameters: undefined,
      loosened: [],
      jsonStrings: [],
    });
  });

  it('shapes every hard schema with no violation', () => {
    for (const tool of hardSchemaToolkit().toolkit.tools) {
      const { parameters, jsonStrings, renames } = toGeminiSchema(toolSpecOf(tool).inputSchema);
      expect(findGeminiViolations(tool.inputSchema, parameters, jsonStrings, renames), tool.slug).toEqual([]);
    }
  });
});

describe('geminiSchemaViolations', () => {
  it.each([
    [{ type: 'object', properties: { a: { type: 'STRING' } } }, '$: parameters must be type OBJECT'],
    [{ type: 'OBJECT', properties: {} }, '$: properties should be non-empty for OBJECT type'],
    [{ type: 'OBJECT', properties: { a: { type: ['STRING', 'NULL'] } } }, '$.a: type must be one of'],
    [
      { type: 'OBJECT', properties: { a: { $ref: '#/x' } } },
      '$.a: keyword "$ref" is not in the Gemini subset',
    ],
    [
      {
        type: 'OBJECT',
        properties: {
          a: { type: 'OBJECT', properties: { b: { type: 'STRING' } }, additionalProperties: false },
        },
      },
      'keyword "additionalProperties"',
    ],
    [{ type: 'OBJECT', properties: { a: { type: 'STRING', const: 'x' } } }, 'keyword "const"'],
    [
      { type: 'OBJECT', properties: { a: { type: 'STRING', format: 'email' } } },
      '$.a: format "email" is not supported',
    ],
    [
      { type: 'OBJECT', properties: { a: { type: 'BOOLEAN', enum: ['true'] } } },
      '$.a: enum is only allowed for STRING type',
    ],
    [
      { type: 'OBJECT', properties: { a: { type: 'INTEGER', format: 'enum', enum: ['1', '2'] } } },
      '$.a: enum is only allowed for STRING type',
    ],
    [
      { type: 'OBJECT', properties: { a: { type: 'INTEGER', enum: [1] } } },
      '$.a: enum must be a non-empty list of strings',
    ],
    [{ type: 'OBJECT', properties: { a: { type: 'ARRAY' } } }, '$.a: items is required for type ARRAY'],
    [
      { type: 'OBJECT', properties: { a: { type: 'STRING', items: { type: 'STRING' } } } },
      '$.a: items is only allowed for type ARRAY',
    ],
    [
      { type: 'OBJECT', properties: { a: { type: 'STRING', maxLength: 5 } } },
      '$.a: maxLength must be a decimal string',
    ],
    [
      { type: 'OBJECT', properties: { a: { type: 'STRING' } }, required: ['b'] },
      '$: required must list only names of its properties',
    ],
    [{ type: 'OBJECT', properties: { a: { anyOf: [] } } }, '$.a: anyOf must be a non-empty list'],
  ])('refuses %j', (schema, message) => {
    expect(geminiSchemaViolations(schema).join('\n')).toContain(message);
  });

  it('accepts the documented subset', () => {
    expect(
      geminiSchemaViolations({
        type: 'OBJECT',
        properties: {
          a: { type: 'STRING', format: 'enum', enum: ['x'], nullable: true, description: 'A' },
          b: { type: 'INTEGER', format: 'int64', minimum: 0, maximum: 9 },
          c: { type: 'ARRAY', items: { anyOf: [{ type: 'STRING' }, { type: 'NUMBER' }] }, minItems: '1' },
          d: { type: 'STRING', format: 'date-time', pattern: '^2', maxLength: '30' },
        },
        required: ['a'],
        propertyOrdering: ['a', 'b', 'c', 'd'],
      }),
    ).toEqual([]);
  });
});

describe('parameter names Gemini does not take', () => {
  it('are renamed at the root only, distinct and described, flagged by geminiSchemaViolations, and read back', () => {
    const original = {
      type: 'object',
      properties: {
        'page-size': { type: 'integer' },
        page_size: { type: 'integer' },
        '1st': { type: 'string' },
        '': { type: 'string' },
        nested: { type: 'object', properties: { 'a-b': { type: 'string' } } },
        record: { type: 'object', additionalProperties: { type: 'number' } },
      },
      required: ['page-size'],
    };
    const result = toGeminiSchema(shapeInputSchema(original).schema);
    const properties = result.parameters!.properties as Record<string, Record<string, unknown>>;
    expect(Object.keys(properties)).toEqual(['page_size_2', 'page_size', '_1st', '_', 'nested', 'record']);
    expect(result.parameters!.required).toEqual(['page_size_2']);
    expect(properties._1st!.description).toBe('The tool\'s own name for this parameter: "1st".');
    expect(Object.keys(properties.nested!.properties as object)).toEqual(['a-b']);
    expect(findGeminiViolations(original, result.parameters, result.jsonStrings, result.renames)).toEqual([]);
    expect(
      geminiSchemaViolations({ type: 'OBJECT', properties: { 'page-size': { type: 'INTEGER' } } }),
    ).toEqual([
      '$: parameter name "page-size" must start with a letter or an underscore and hold only a-z, A-Z, 0-9 and underscores, at most 64 characters',
    ]);
    expect(
      geminiArgumentsOf(
        { page_size_2: 1, page_size: 2, _1st: 'x', nested: { 'a-b': 'y' }, record: '{"k":1}' },
        result,
      ),
    ).toEqual({ 'page-size': 1, page_size: 2, '1st': 'x', nested: { 'a-b': 'y' }, record: { k: 1 } });
  });
});

describe('a string beside a value sent as a JSON string', () => {
  it('stays the string the model sent unless it is not valid as text there and its JSON fits', () => {
    const result = toGeminiSchema(
      shapeInputSchema({
        type: 'object',
        properties: {
          body: { type: ['string', 'object'] },
          short: {
            anyOf: [
              { type: 'string', maxLength: 3 },
              { type: 'object', additionalProperties: {} },
            ],
          },
          pick: {
            anyOf: [
              { type: 'object', properties: { level: { enum: [1, 2] } } },
              { type: 'object', properties: { level: { type: 'string' } } },
            ],
          },
        },
      }).schema,
    );
    expect(result.jsonStrings).toEqual([]);
    const decode = (args: Record<string, unknown>) => geminiArgumentsOf(args, result);
    expect(decode({ body: '12345' })).toEqual({ body: '12345' });
    expect(decode({ body: 'true' })).toEqual({ body: 'true' });
    expect(decode({ body: '{"a":1}' })).toEqual({ body: '{"a":1}' });
    expect(decode({ short: 'abc' })).toEqual({ short: 'abc' });
    expect(decode({ short: '{"a":1}' })).toEqual({ short: { a: 1 } });
    // parsed, but not to a value any JSON variant takes: the text as sent
    expect(decode({ short: '1234' })).toEqual({ short: '1234' });
    expect(decode({ pick: { level: '2' } })).toEqual({ pick: { level: '2' } });
    const properties = result.parameters!.properties as Record<string, Record<string, any>>;
    expect(properties.pick!.anyOf[0].properties.level).toEqual({
      type: 'INTEGER',
      description: 'One of: 1, 2.',
    });
  });
});
