import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { safeParseKeepingProtoKeys } from './zod-proto-keys.js';

/** JSON text: an object literal's `__proto__` would set the prototype, JSON.parse makes an own key. */
const parse = (text: string) => JSON.parse(text) as unknown;

const schema = z.strictObject({
  metadata: z.record(z.string(), z.string().max(3)).optional(),
  tools: z
    .record(z.string(), z.union([z.array(z.string()), z.strictObject({ tags: z.array(z.string()) })]))
    .optional(),
  nested: z.record(z.string(), z.record(z.string(), z.number())).optional(),
  list: z.array(z.record(z.string(), z.boolean())).optional(),
});

describe('safeParseKeepingProtoKeys', () => {
  it('keeps a "__proto__" key as an own data property, in the input key order, at every depth', () => {
    const input = parse(
      '{"metadata":{"a":"1","__proto__":"p","b":"2"},"tools":{"__proto__":{"tags":["x"]}},' +
        '"nested":{"__proto__":{"__proto__":1,"c":2}},"list":[{"__proto__":true}]}',
    );
    const result = safeParseKeepingProtoKeys(schema, input);
    expect(result.success).toBe(true);
    const data = (result as { data: Record<string, Record<string, unknown>> }).data;
    expect(JSON.stringify(data)).toBe(JSON.stringify(input));
    expect(Object.keys(data.metadata!)).toEqual(['a', '__proto__', 'b']);
    for (const record of [
      data.metadata,
      data.tools,
      data.nested,
      Object.getOwnPropertyDescriptor(data.nested, '__proto__')?.value,
    ]) {
      expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
      expect(Object.hasOwn(record as object, '__proto__')).toBe(true);
    }
    expect(({} as Record<string, unknown>).tags).toBeUndefined();
  });

  it("checks the value under it with the record's value schema, its issues beside zod's others", () => {
    const result = safeParseKeepingProtoKeys(
      schema,
      parse(
        '{"metadata":{"a":5,"__proto__":"long"},"tools":{"__proto__":{"tags":[1]}},"nested":{"x":{"__proto__":"n"}}}',
      ),
    );
    expect(result.success).toBe(false);
    const paths = (result as { issues: Array<{ path: PropertyKey[] }> }).issues.map((issue) =>
      issue.path.join('.'),
    );
    expect(paths).toEqual(['metadata.a', 'metadata.__proto__', 'tools.__proto__', 'nested.x.__proto__']);
  });

  it('is zod itself for a value without such a key', () => {
    fc.assert(
      fc.property(
        fc.record({
          metadata: fc.dictionary(
            fc.string().filter((key) => key !== '__proto__'),
            fc.oneof(fc.string(), fc.integer()),
          ),
          list: fc.array(
            fc.dictionary(
              fc.string().filter((key) => key !== '__proto__'),
              fc.boolean(),
            ),
          ),
        }),
        (input) => {
          const ours = safeParseKeepingProtoKeys(schema, input);
          const zods = schema.safeParse(input);
          expect(ours.success).toBe(zods.success);
          if (ours.success && zods.success) expect(ours.data).toEqual(zods.data);
          if (!ours.success && !zods.success) expect(ours.issues).toEqual(zods.error.issues);
        },
      ),
    );
  });
});
