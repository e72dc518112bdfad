import type { JSONSchema } from '../catalog/types.js';

/**
 * Schemas and values for tests and benchmarks of large tool schemas (compiled and checked in the
 * validation thread) and large values (checked a slice at a time).
 */

/** `width` properties of several kinds (defaults, enums, patterns, nested objects, unions), named after `salt`. */
export function wideSchema(width: number, salt = ''): JSONSchema {
  const properties: Record<string, JSONSchema> = {};
  for (let index = 0; index < width; index++) {
    const name = `${salt}p${index}`;
    switch (index % 5) {
      case 0:
        properties[name] = { type: 'string', minLength: 1, pattern: '^[a-z]+$' };
        break;
      case 1:
        properties[name] = { type: 'integer', minimum: 0, default: index };
        break;
      case 2:
        properties[name] = { enum: ['open', 'closed'] };
        break;
      case 3:
        properties[name] = {
          type: 'object',
          properties: { login: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
          required: ['login'],
          additionalProperties: false,
        };
        break;
      default:
        properties[name] = {
          anyOf: [{ type: 'number' }, { type: 'object', properties: { n: { const: index } } }],
        };
    }
  }
  return { type: 'object', properties, required: [`${salt}p0`], additionalProperties: false };
}

/** Values of each kind that pass and fail, for a schema of `wideSchema(width, salt)` (width 10 or more). */
export function wideSchemaValues(salt = ''): unknown[] {
  const p = (index: number) => `${salt}p${index}`;
  return [
    { [p(0)]: 'abc' },
    { [p(0)]: 'abc', [p(1)]: 5, [p(2)]: 'open', [p(3)]: { login: 'x', tags: ['a'] }, [p(4)]: 3 },
    { [p(0)]: 'ABC' },
    { [p(0)]: '' },
    {},
    { [p(0)]: 'abc', [p(1)]: -1, [p(6)]: 1.5 },
    { [p(0)]: 'abc', [p(2)]: 'merged' },
    { [p(0)]: 'abc', [p(3)]: { tags: [1] }, [p(8)]: { login: 2, extra: true } },
    { [p(0)]: 'abc', [p(4)]: 'x', [p(9)]: { n: 1 } },
    { [p(0)]: 'abc', unknown: true },
    { [p(0)]: 'abc', [p(3)]: null, [p(1)]: '7' },
  ];
}

/** An object of `rows`, each of a discriminated union (`anyOf`): Ajv's check of a row tries its variants. */
export const unionRowsSchema: JSONSchema = {
  type: 'object',
  properties: {
    rows: {
      type: 'array',
      items: {
        anyOf: [
          {
            type: 'object',
            properties: { kind: { const: 'a' }, n: { type: 'integer' }, s: { type: 'string' } },
            required: ['kind', 'n'],
          },
          {
            type: 'object',
            properties: { kind: { const: 'b' }, tags: { type: 'array', items: { type: 'string' } } },
            required: ['kind'],
          },
        ],
      },
    },
  },
  required: ['rows'],
};

/**
 * `count` rows of {@link unionRowsSchema}, that match it or each fail both variants (`n` a string):
 * 120,000 are about 4 MB of JSON (3 MB of wrong ones).
 */
export function unionRows(count: number, good: boolean): { rows: unknown[] } {
  return {
    rows: Array.from({ length: count }, (_, index) =>
      good
        ? index % 2
          ? { kind: 'a', n: index, s: 'hello' }
          : { kind: 'b', tags: ['x', 'y'] }
        : { kind: 'a', n: `x${index}` },
    ),
  };
}
