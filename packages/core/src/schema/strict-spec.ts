import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { toStrictSchema } from './strict.js';

const cache = new WeakMap<
  ToolSpec,
  { strict: true; schema: JSONSchema } | { strict: false; schema: JSONSchema; reason: string }
>();

/**
 * The schema a provider hands out for `strict: true`: the tool's own strict schema, or the OpenAI
 * strict rewrite of its input schema; a tool that cannot be strict falls back to its non-strict
 * schema, alone, with the reason (providers log it as a warning).
 */
export function strictSchemaOf(
  spec: ToolSpec,
): { strict: true; schema: JSONSchema } | { strict: false; schema: JSONSchema; reason: string } {
  let entry = cache.get(spec);
  if (!entry) {
    if (spec.strictInputSchema) entry = { strict: true, schema: spec.strictInputSchema };
    else {
      const rewritten = toStrictSchema(spec.inputSchema);
      entry = rewritten.ok
        ? { strict: true, schema: rewritten.schema }
        : { strict: false, schema: spec.inputSchema, reason: rewritten.reason };
    }
    cache.set(spec, entry);
  }
  return entry;
}
