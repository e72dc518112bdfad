import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { typeList } from './nullability.js';
import { withoutRefusedPattern } from './patterns.js';
import { transformSchemaTree } from './subschemas.js';

const cache = new WeakMap<ToolSpec, JSONSchema>();

/**
 * The non-strict schema to hand OpenAI for a tool: its input schema, with what OpenAI refuses for
 * the whole request changed, at every depth (arguments are still validated against the original):
 *
 * - a `pattern` with lookaround ("regex lookaround is not supported") is left out and described
 *   (see `withoutRefusedPattern`);
 * - an array without an item schema ("array schema missing items"; MCP servers and OpenAPI
 *   documents have them) gets `items: {}`.
 *
 * The input schema itself (the same object) when there is nothing to change.
 */
export function openaiInputSchemaOf(spec: ToolSpec): JSONSchema {
  let schema = cache.get(spec);
  if (!schema) {
    let changed = false;
    const shaped = transformSchemaTree(spec.inputSchema, (node) => {
      const fixed = withArrayItems(withoutRefusedPattern(node));
      if (fixed !== node) changed = true;
      return fixed;
    });
    schema = changed ? shaped : spec.inputSchema;
    cache.set(spec, schema);
  }
  return schema;
}

/** An array schema (`type: 'array'` or a type list with it) without `items` gets `items: {}`. */
function withArrayItems(schema: JSONSchema): JSONSchema {
  if ('items' in schema || !typeList(schema.type).includes('array')) return schema;
  return { ...schema, items: {} };
}
