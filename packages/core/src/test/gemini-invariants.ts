import type { JSONSchema } from '../catalog/types.js';
import { geminiSchemaViolations } from '../schema/gemini.js';
import { isSchemaObject } from '../schema/subschemas.js';
import { findSchemaViolations } from './schema-invariants.js';

const JSON_TYPES: Record<string, string> = {
  STRING: 'string',
  NUMBER: 'number',
  INTEGER: 'integer',
  BOOLEAN: 'boolean',
  ARRAY: 'array',
  OBJECT: 'object',
};

/**
 * A Gemini `Schema` read back as the JSON Schema it means (`OBJECT` → `object`, `nullable: true` →
 * a `null` type, an INTEGER's string enum → numbers), so {@link findSchemaViolations} can compare
 * it with the tool's original schema.
 */
export function geminiSchemaAsJsonSchema(schema: JSONSchema): JSONSchema {
  const out: JSONSchema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === 'type' || keyword === 'nullable' || keyword === 'format') continue;
    if (keyword === 'properties' && isSchemaObject(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, property]) => [
          name,
          geminiSchemaAsJsonSchema(property as JSONSchema),
        ]),
      );
    } else if (keyword === 'items' && isSchemaObject(value)) out.items = geminiSchemaAsJsonSchema(value);
    else if (keyword === 'anyOf' && Array.isArray(value)) {
      out.anyOf = value.map((variant) => geminiSchemaAsJsonSchema(variant as JSONSchema));
      if (schema.nullable === true) (out.anyOf as JSONSchema[]).push({ type: 'null' });
    } else out[keyword] = value;
  }
  const type = typeof schema.type === 'string' ? JSON_TYPES[schema.type] : undefined;
  if (type) out.type = schema.nullable === true ? [type, 'null'] : type;
  if (schema.type === 'INTEGER' && Array.isArray(schema.enum)) out.enum = schema.enum.map(Number);
  if (schema.nullable === true && Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
  return out;
}

/**
 * What is wrong with a Gemini declaration's `parameters` made from `original`: what the Gemini API
 * would refuse (`geminiSchemaViolations`), then every property, required flag, nullability and enum
 * value that changed the wrong way (`findSchemaViolations` on the schema read back). A tool without
 * `parameters` must have had no properties.
 */
export function findGeminiViolations(original: JSONSchema, parameters: JSONSchema | undefined): string[] {
  if (!parameters) {
    const names = Object.keys(isSchemaObject(original.properties) ? original.properties : {});
    return names.length > 0 ? [`$: no parameters, but the tool has properties ${names.join(', ')}`] : [];
  }
  return [
    ...geminiSchemaViolations(parameters),
    ...findSchemaViolations(original, geminiSchemaAsJsonSchema(parameters), { strict: false }),
  ];
}
