import { describe, expect, it } from 'vitest';
import type { ToolSpec } from '../provider.js';
import { plainJsonCopy, StrictSchemas, strictSchemaOf } from './strict-spec.js';

function spec(slug: string, inputSchema: ToolSpec['inputSchema']): ToolSpec {
  return { slug, name: slug, description: slug, inputSchema, toolkit: 'demo', annotations: {} };
}

const strictable = spec('DEMO_STRICT', {
  type: 'object',
  properties: { title: { type: 'string' }, note: { type: 'string' } },
  required: ['title'],
});
const record = spec('DEMO_RECORD', {
  type: 'object',
  properties: { labels: { type: 'object', additionalProperties: { type: 'string' } } },
});

describe('StrictSchemas (the strict option providers share)', () => {
  it('off: no schemas, no warnings', () => {
    const warnings: string[] = [];
    const schemas = new StrictSchemas(false, { warn: (message) => warnings.push(message) });
    expect(schemas.shape([strictable, record])).toEqual([undefined, undefined]);
    expect(warnings).toEqual([]);
  });

  it('on: each tool’s strict schema, and one warning per call naming each fallback the first time only', () => {
    const warnings: string[] = [];
    const schemas = new StrictSchemas(true, { warn: (message) => warnings.push(message) });
    const [first, second] = schemas.shape([strictable, record]);
    expect(first).toEqual(strictSchemaOf(strictable));
    expect(first?.strict).toBe(true);
    expect(first?.schema.required).toEqual(['title', 'note']);
    expect(second).toMatchObject({ strict: false, schema: record.inputSchema });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^toolmux: 1 tool cannot be handed out in strict mode and stay non-strict: DEMO_RECORD \(\$\.labels: /,
    );
    // the same tools again (another session's tools()): no second warning
    schemas.shape([record, strictable]);
    expect(warnings).toHaveLength(1);
    // another provider instance warns on its own
    const other: string[] = [];
    new StrictSchemas(true, { warn: (message) => other.push(message) }).shape([record]);
    expect(other).toHaveLength(1);
  });
});

describe('plainJsonCopy', () => {
  it('copies own enumerable JSON members only, deeply, leaving the original untouched', () => {
    const hidden = { type: 'string' };
    Object.defineProperty(hidden, '~standard', { value: { vendor: 'zod' }, enumerable: false });
    const original = {
      type: 'object',
      properties: { a: hidden },
      skip: undefined,
      fn: () => 1,
      list: [{ x: 1 }],
    };
    const copy = plainJsonCopy(original) as Record<string, unknown>;
    expect(copy).toEqual({ type: 'object', properties: { a: { type: 'string' } }, list: [{ x: 1 }] });
    expect(Object.keys(copy)).toEqual(['type', 'properties', 'list']);
    (copy.list as Array<{ x: number }>)[0]!.x = 2;
    expect(original.list[0]!.x).toBe(1);
    expect('~standard' in ((copy.properties as Record<string, object>).a as object)).toBe(false);
  });
});
