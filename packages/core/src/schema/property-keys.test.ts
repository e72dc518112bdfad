import { describe, expect, it } from 'vitest';
import type { ToolSpec } from '../provider.js';
import { anthropicArgumentsOf, anthropicKeyRenamesOf, withAnthropicKeys } from './anthropic-keys.js';
import { restorePropertyKeys } from './property-keys.js';

const spec = (
  inputSchema: ToolSpec['inputSchema'],
  strictInputSchema?: ToolSpec['inputSchema'],
): ToolSpec => ({
  slug: 'T',
  name: 'T',
  description: 'T',
  inputSchema,
  ...(strictInputSchema ? { strictInputSchema } : {}),
  toolkit: 't',
  annotations: {},
});

describe('property keys renamed for Anthropic', () => {
  it('gives keys that would meet one form distinct names, kept keys first, alike every time', () => {
    const schema = {
      type: 'object',
      properties: { 'a b': {}, 'a/b': { type: 'string' }, a_b: { type: 'string' }, a_b_2: {}, ok: {} },
    };
    const shaped = withAnthropicKeys(spec(schema), schema);
    expect(Object.keys(shaped.properties as object)).toEqual(['a_b_3', 'a_b_4', 'a_b', 'a_b_2', 'ok']);
    expect((shaped.properties as any).a_b_3).toEqual({
      description: 'The tool\'s own name for this parameter: "a b".',
    });
    expect(withAnthropicKeys(spec(schema), schema)).toEqual(shaped);
    expect(schema.properties).toHaveProperty('a b');
  });

  it('renames a key alike in every variant of one place, and a key of 65+ characters within 64', () => {
    const long = 'k'.repeat(80);
    const schema = {
      type: 'object',
      properties: {
        pick: {
          anyOf: [
            { type: 'object', properties: { 'x[1]': { type: 'string' } }, required: ['x[1]'] },
            { type: 'object', properties: { 'x[1]': { type: 'number' }, [long]: {} } },
          ],
        },
      },
    };
    const shaped = withAnthropicKeys(spec(schema), schema) as any;
    const [first, second] = shaped.properties.pick.anyOf;
    expect(Object.keys(first.properties)).toEqual(['x_1_']);
    expect(first.required).toEqual(['x_1_']);
    expect(Object.keys(second.properties)).toEqual(['x_1_', 'k'.repeat(64)]);
    const args = { pick: { x_1_: 'a', ['k'.repeat(64)]: 1 } };
    expect(anthropicArgumentsOf(spec(schema), args)).toEqual({ pick: { 'x[1]': 'a', [long]: 1 } });
  });

  it('reads arguments back without touching what was not renamed, and keeps the handed-out key over the own one', () => {
    const schema = { type: 'object', properties: { 'q?': { type: 'string' }, n: { type: 'number' } } };
    const tool = spec(schema);
    const plain = { n: 1 };
    expect(anthropicArgumentsOf(tool, plain)).toBe(plain);
    expect(anthropicArgumentsOf(tool, { 'q?': 'own', q_: 'sent', n: 1 })).toEqual({ 'q?': 'sent', n: 1 });
    expect(anthropicKeyRenamesOf(spec({ type: 'object', properties: { 'a.b-c_d': {} } }))).toBeUndefined();
    expect(restorePropertyKeys(plain, undefined)).toBe(plain);
  });

  it('keeps a key __proto__ as a key of its own when reading back', () => {
    const schema = { type: 'object', properties: { 'a b': { type: 'object', properties: { '[x]': {} } } } };
    const restored = anthropicArgumentsOf(spec(schema), JSON.parse('{"a_b":{"_x_":1,"__proto__":2}}')) as any;
    expect(Object.getPrototypeOf(restored['a b'])).toBe(Object.prototype);
    expect(Object.hasOwn(restored['a b'], '__proto__')).toBe(true);
    expect(restored['a b']['[x]']).toBe(1);
  });
});
