import type { JSONSchema } from '../catalog/types.js';
import { mergeAllOf } from './all-of.js';
import { modernKeywords } from './draft-2020.js';
import { inlineLocalRefs, type SchemaWithWarnings } from './inline-refs.js';
import { typeList } from './nullability.js';
import { transformSchemaTree } from './subschemas.js';
import { draft2020Problem } from './validate.js';

/**
 * Root keywords some model APIs reject next to `type: "object"` (Anthropic refuses a top-level
 * `anyOf`/`oneOf`/`allOf`). Dropping them only loosens what the model is shown: arguments are still
 * validated against the original schema.
 */
const ROOT_COMBINATORS = ['anyOf', 'oneOf', 'not', 'if', 'then', 'else'];

/** Keywords that make an untyped root something other than "any object". */
const NON_OBJECT_ROOT_KEYWORDS = ['anyOf', 'oneOf', 'enum', 'const', 'not'];

/**
 * The input schema every provider hands to its framework (non-strict): a plain JSON copy whose root is
 * `type: "object"` with `properties`, local `$ref`s inlined (see {@link inlineLocalRefs}), `$schema` and
 * `$id` removed, older drafts' forms written as draft 2020-12 says them (see `draft2020Keywords`:
 * `defineTool` did so already, a `modifySchema` hook's schema may have them) and OpenAPI's
 * `nullable: true` rewritten as a JSON Schema null union. Descriptions, enums, defaults and formats are
 * kept.
 *
 * A root that is not an object (possible from MCP servers and OpenAPI specs, not from `defineTool`)
 * becomes `{ type: 'object', properties: {}, additionalProperties: true }`; a root `allOf` is merged
 * into the root when possible; root `anyOf`/`oneOf`/`not`/`if` are dropped. Each of these adds a warning.
 *
 * A schema that is still not valid draft 2020-12 JSON Schema (`minimum: "5"`, `required: true`) is
 * handed out as that object with any properties too, with a warning: model APIs that check tool
 * schemas refuse the whole request for one invalid schema (Anthropic's: "JSON schema is invalid. It
 * must match JSON Schema draft 2020-12"), every other tool with it. The calls of a tool defined with
 * such a JSON Schema are refused all the same (`TOOL_DEFINITION_INVALID`, naming the problem).
 *
 * @example
 * const { schema, warnings } = shapeInputSchema(mcpTool.inputSchema);
 */
export function shapeInputSchema(schema: JSONSchema): SchemaWithWarnings {
  const { schema: inlined, warnings } = inlineLocalRefs(schema);
  const normalized = transformSchemaTree(inlined, normalizeKeywords);
  const shaped = objectRoot(normalized, warnings);
  const problem = draft2020Problem(shaped);
  if (problem === undefined) return { schema: shaped, warnings };
  warnings.push(
    `The input schema is not valid JSON Schema (${problem}); the model sees an object with any properties.`,
  );
  return { schema: anyObject(), warnings };
}

function normalizeKeywords(schema: JSONSchema): JSONSchema {
  const { $id: _id, ...rest } = schema;
  return modernKeywords(rest);
}

function objectRoot(schema: JSONSchema, warnings: string[]): JSONSchema {
  const merged = mergeAllOf(schema);
  if (!merged.ok) {
    warnings.push(
      `The root allOf cannot be merged into one object (${merged.reason}); the model sees an object with any properties.`,
    );
    return anyObject();
  }
  const root = merged.schema;
  if (!isObjectRoot(root)) {
    warnings.push(
      `The root of the input schema is not an object schema; the model sees an object with any properties.`,
    );
    return anyObject();
  }
  const dropped = ROOT_COMBINATORS.filter((keyword) => keyword in root);
  if (dropped.length > 0) {
    warnings.push(
      `Root-level ${dropped.join(', ')} removed from the schema the model sees; arguments are still validated against them.`,
    );
  }
  const kept = Object.fromEntries(
    Object.entries(root).filter(([keyword]) => !ROOT_COMBINATORS.includes(keyword)),
  );
  return { ...kept, type: 'object', properties: root.properties ?? {} };
}

function isObjectRoot(root: JSONSchema): boolean {
  if (root.type !== undefined) return typeList(root.type).includes('object');
  return NON_OBJECT_ROOT_KEYWORDS.every((keyword) => !(keyword in root)) || 'properties' in root;
}

function anyObject(): JSONSchema {
  return { type: 'object', properties: {}, additionalProperties: true };
}
