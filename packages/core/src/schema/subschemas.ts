import type { JSONSchema } from '../catalog/types.js';
import { setOwn } from '../util/own-key.js';

/**
 * Keywords that only describe a schema, without constraining values. Where schemas are combined,
 * these stay on the outside and the outermost value wins.
 */
export const ANNOTATION_KEYWORDS: ReadonlySet<string> = new Set([
  'description',
  'title',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$comment',
]);

/** A schema's annotations (see {@link ANNOTATION_KEYWORDS}) apart from its other keywords. */
export function splitAnnotations(schema: JSONSchema): { annotations: JSONSchema; constraints: JSONSchema } {
  const annotations: JSONSchema = {};
  const constraints: JSONSchema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (ANNOTATION_KEYWORDS.has(keyword)) annotations[keyword] = value;
    else constraints[keyword] = value;
  }
  return { annotations, constraints };
}

/** The values a schema's `enum` allows, or its `const` as a one-value list; `undefined` without either. */
export function allowedValues(schema: JSONSchema): unknown[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum;
  return 'const' in schema ? [schema.const] : undefined;
}

/** Keywords whose value is a single subschema. */
const SINGLE_SUBSCHEMA_KEYWORDS = new Set([
  'additionalProperties',
  'items',
  'additionalItems',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'unevaluatedItems',
  'unevaluatedProperties',
]);

/** Keywords whose value is a list of subschemas (`items` too, in its draft-07 tuple form). */
const SUBSCHEMA_LIST_KEYWORDS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items']);

/** Keywords whose value maps names to subschemas (draft-07 `dependencies` may also hold string lists). */
export const SUBSCHEMA_MAP_KEYWORDS: ReadonlySet<string> = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'dependentSchemas',
  'dependencies',
]);

/** True for a schema object (as opposed to a boolean schema or a non-schema value). */
export function isSchemaObject(value: unknown): value is JSONSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A copy of `schema` in which every direct subschema object is replaced by what `visit` returns for it.
 * Values that are data rather than schemas (`enum`, `const`, `default`, `examples`…) and boolean
 * subschemas are deep-copied, so the result shares nothing with the input.
 */
export function mapSubschemas(schema: JSONSchema, visit: (subschema: JSONSchema) => unknown): JSONSchema {
  const result: JSONSchema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    setOwn(result, keyword, mapKeyword(keyword, value, visit));
  }
  return result;
}

function mapKeyword(keyword: string, value: unknown, visit: (subschema: JSONSchema) => unknown): unknown {
  if (SINGLE_SUBSCHEMA_KEYWORDS.has(keyword) && isSchemaObject(value)) return visit(value);
  if (SUBSCHEMA_LIST_KEYWORDS.has(keyword) && Array.isArray(value)) {
    return value.map((item) => (isSchemaObject(item) ? visit(item) : item));
  }
  if (SUBSCHEMA_MAP_KEYWORDS.has(keyword) && isSchemaObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([name, item]) => [
        name,
        isSchemaObject(item) ? visit(item) : structuredClone(item),
      ]),
    );
  }
  return structuredClone(value);
}

/** Calls `visit` with each direct subschema object of `schema`, but those under `skip` (nothing is copied). */
export function forEachSubschema(
  schema: JSONSchema,
  visit: (subschema: JSONSchema) => void,
  skip?: ReadonlySet<string>,
): void {
  for (const keyword in schema) {
    if (!Object.hasOwn(schema, keyword) || skip?.has(keyword)) continue;
    const value = schema[keyword];
    if (SINGLE_SUBSCHEMA_KEYWORDS.has(keyword)) {
      if (isSchemaObject(value)) visit(value);
    } else if (SUBSCHEMA_LIST_KEYWORDS.has(keyword) && Array.isArray(value)) {
      for (const item of value) if (isSchemaObject(item)) visit(item);
    } else if (SUBSCHEMA_MAP_KEYWORDS.has(keyword) && isSchemaObject(value)) {
      for (const name in value) {
        const item = Object.hasOwn(value, name) ? value[name] : undefined;
        if (isSchemaObject(item)) visit(item);
      }
    }
  }
}

/**
 * Apply `transform` to every schema object in the tree, children first, and return the new tree.
 * The input is not modified.
 */
export function transformSchemaTree(
  schema: JSONSchema,
  transform: (schema: JSONSchema) => JSONSchema,
): JSONSchema {
  return transform(mapSubschemas(schema, (subschema) => transformSchemaTree(subschema, transform)));
}
