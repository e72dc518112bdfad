import { describe, expect, it } from 'vitest';
import type { JSONSchema } from '../catalog/types.js';
import { mergeAllOf } from './all-of.js';
import { stripNullsForOptional } from './nulls.js';
import { toStrictSchema } from './strict.js';
import { plainJsonCopy } from './strict-spec.js';
import { mapSubschemas } from './subschemas.js';

/**
 * A tool schema or arguments with a `__proto__` key (JSON.parse makes it an own key; the SDK and REST
 * accept it) are copied with the key as an own property: an assignment `copy[key] = …` would instead
 * make its value the copy's prototype, so that the copy inherited its keywords (`required`, `type`).
 */
const parse = (text: string) => JSON.parse(text) as JSONSchema;

function expectOwnProto(value: unknown, inner: unknown): void {
  expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  expect(Object.hasOwn(value as object, '__proto__')).toBe(true);
  expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual(inner);
}

describe('schemas and arguments with a "__proto__" key', () => {
  it("keep it as an own key when a schema's subschemas are mapped or the schema is copied", () => {
    const schema = parse(
      '{"type":"object","properties":{"a":{"type":"string"}},"__proto__":{"required":["zzz"]}}',
    );
    for (const copy of [mapSubschemas(schema, (subschema) => subschema), plainJsonCopy(schema)]) {
      expectOwnProto(copy, { required: ['zzz'] });
      expect((copy as JSONSchema).required).toBeUndefined();
    }
  });

  it('keep a property named "__proto__" through allOf merging and strict mode', () => {
    const merged = mergeAllOf(
      parse(
        '{"allOf":[{"type":"object","properties":{"a":{"type":"string"}}},{"type":"object","properties":{"__proto__":{"type":"number"}},"required":["__proto__"]}]}',
      ),
    );
    expect(merged.ok).toBe(true);
    expectOwnProto((merged as { schema: JSONSchema }).schema.properties, { type: 'number' });

    const strict = toStrictSchema(
      parse('{"type":"object","properties":{"__proto__":{"type":"string"}},"required":["__proto__"]}'),
    );
    expect(strict.ok).toBe(true);
    expectOwnProto((strict as { schema: JSONSchema }).schema.properties, { type: 'string' });
  });

  // already so before: the stripped copy is a spread, whose own __proto__ the assignment then writes
  it('keep an argument named "__proto__" when strict mode\'s nulls are stripped below it', () => {
    const schema = parse(
      '{"type":"object","properties":{"__proto__":{"type":"object","properties":{"b":{"type":"string"}}}}}',
    );
    const args = JSON.parse('{"__proto__":{"b":null}}') as unknown;
    const stripped = stripNullsForOptional(schema, args);
    expectOwnProto(stripped, {});
  });
});
