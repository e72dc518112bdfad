import { describe, expect, it } from 'vitest';
import type { JSONSchema } from '../catalog/types.js';
import { acceptsNull, addNull, replaceOpenApiNullable } from './nullability.js';

describe('acceptsNull', () => {
  it('reads type, enum, const, unions and references', () => {
    expect(acceptsNull({ type: ['string', 'null'] })).toBe(true);
    expect(acceptsNull({ type: 'string' })).toBe(false);
    expect(acceptsNull({ type: 'string', nullable: true })).toBe(true);
    expect(acceptsNull({ enum: ['a', null] })).toBe(true);
    expect(acceptsNull({ type: ['string', 'null'], enum: ['a'] })).toBe(false);
    expect(acceptsNull({ const: 'a' })).toBe(false);
    expect(acceptsNull({ anyOf: [{ type: 'string' }, { type: 'null' }] })).toBe(true);
    expect(acceptsNull({ allOf: [{ type: ['string', 'null'] }, { type: 'string' }] })).toBe(false);
    expect(acceptsNull({})).toBe(true);

    const definitions: Record<string, JSONSchema> = {
      '#/$defs/Maybe': { type: 'null' },
      '#/$defs/Loop': { anyOf: [{ $ref: '#/$defs/Loop' }] },
    };
    const resolve = (ref: string) => definitions[ref];
    expect(acceptsNull({ $ref: '#/$defs/Maybe' }, resolve)).toBe(true);
    expect(acceptsNull({ $ref: '#/$defs/Loop' }, resolve)).toBe(false);
    expect(acceptsNull({ $ref: '#/$defs/Missing' }, resolve)).toBe(false);
  });
});

describe('addNull', () => {
  it('adds null to primitive types and their enums, to anyOf, and wraps everything else', () => {
    expect(addNull({ type: 'string', description: 'd' })).toEqual({
      type: ['string', 'null'],
      description: 'd',
    });
    expect(addNull({ type: 'string', enum: ['a'] })).toEqual({ type: ['string', 'null'], enum: ['a', null] });
    expect(addNull({ enum: [1, 2] })).toEqual({ enum: [1, 2, null] });
    expect(addNull({ anyOf: [{ type: 'string' }], title: 't' })).toEqual({
      anyOf: [{ type: 'string' }, { type: 'null' }],
      title: 't',
    });
    expect(addNull({ type: 'object', properties: {}, description: 'd' })).toEqual({
      description: 'd',
      anyOf: [{ type: 'object', properties: {} }, { type: 'null' }],
    });
    expect(addNull({ const: 'x' })).toEqual({ anyOf: [{ const: 'x' }, { type: 'null' }] });
    const nullable = { type: ['string', 'null'] };
    expect(addNull(nullable)).toBe(nullable);
  });
});

describe('replaceOpenApiNullable', () => {
  it('turns nullable: true into a null union and drops nullable: false', () => {
    expect(replaceOpenApiNullable({ type: 'integer', nullable: true })).toEqual({
      type: ['integer', 'null'],
    });
    expect(replaceOpenApiNullable({ type: 'integer', nullable: false })).toEqual({ type: 'integer' });
    const plain = { type: 'integer' };
    expect(replaceOpenApiNullable(plain)).toBe(plain);
  });
});
