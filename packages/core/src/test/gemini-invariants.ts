import { isDeepStrictEqual } from 'node:util';
import type { JSONSchema } from '../catalog/types.js';
import { geminiSchemaViolations, type JsonStringPath } from '../schema/gemini.js';
import type { PropertyKeyRenames } from '../schema/property-keys.js';
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
 * a `null` type), so {@link findSchemaViolations} can compare it with the tool's original schema.
 * At the `jsonStrings` paths (`toGeminiSchema`'s), a STRING enum holds texts of the values: they are
 * read back as the values (`"2"` → `2`, `"\"1\""` → `"1"`, `"auto"` → `"auto"`), typed as the values
 * are (no type for values of several kinds).
 */
export function geminiSchemaAsJsonSchema(
  schema: JSONSchema,
  jsonStrings: readonly JsonStringPath[] = [],
  steps: readonly string[] = [],
): JSONSchema {
  const out: JSONSchema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === 'type' || keyword === 'nullable' || keyword === 'format') continue;
    if (keyword === 'properties' && isSchemaObject(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, property]) => [
          name,
          geminiSchemaAsJsonSchema(property as JSONSchema, jsonStrings, [...steps, name]),
        ]),
      );
    } else if (keyword === 'items' && isSchemaObject(value))
      out.items = geminiSchemaAsJsonSchema(value, jsonStrings, [...steps, '*']);
    else if (keyword === 'anyOf' && Array.isArray(value)) {
      out.anyOf = value.map((variant) => geminiSchemaAsJsonSchema(variant as JSONSchema, jsonStrings, steps));
      if (schema.nullable === true) (out.anyOf as JSONSchema[]).push({ type: 'null' });
    } else out[keyword] = value;
  }
  let type = typeof schema.type === 'string' ? JSON_TYPES[schema.type] : undefined;
  const atJsonString = jsonStrings.some((path) => isDeepStrictEqual(path, steps));
  if (atJsonString && schema.type === 'STRING' && Array.isArray(schema.enum)) {
    // as decodeGeminiArguments reads them: JSON text parsed, any other text kept
    out.enum = schema.enum.map((text) => {
      try {
        return JSON.parse(text as string);
      } catch {
        return text;
      }
    });
    const kinds = [...new Set((out.enum as unknown[]).map((value) => typeof value))];
    type = kinds.length === 1 && ['boolean', 'number', 'string'].includes(kinds[0]!) ? kinds[0] : undefined;
  }
  if (type) out.type = schema.nullable === true ? [type, 'null'] : type;
  if (schema.nullable === true && Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
  return out;
}

/**
 * What is wrong with a Gemini declaration's `parameters` made from `original`: what the Gemini API
 * would refuse (`geminiSchemaViolations`), then every property, required flag, nullability and enum
 * value that changed the wrong way (`findSchemaViolations` on the schema read back, with the
 * `jsonStrings` of `toGeminiSchema`, its parameter names read back by its `renames`). A tool without
 * `parameters` must have had no properties.
 */
export function findGeminiViolations(
  original: JSONSchema,
  parameters: JSONSchema | undefined,
  jsonStrings: readonly JsonStringPath[] = [],
  renames?: PropertyKeyRenames,
): string[] {
  if (!parameters) {
    const names = Object.keys(isSchemaObject(original.properties) ? original.properties : {});
    return names.length > 0 ? [`$: no parameters, but the tool has properties ${names.join(', ')}`] : [];
  }
  return [
    ...geminiSchemaViolations(parameters),
    ...findSchemaViolations(original, geminiSchemaAsJsonSchema(ownNames(parameters, renames), jsonStrings), {
      strict: false,
    }),
  ];
}

/** `parameters` with its renamed parameter names as the tool's own (and their descriptions' notes left). */
function ownNames(parameters: JSONSchema, renames: PropertyKeyRenames | undefined): JSONSchema {
  if (!renames || !isSchemaObject(parameters.properties)) return parameters;
  const own = (name: string) => renames.back.get(name) ?? name;
  const properties: JSONSchema = {};
  for (const [name, property] of Object.entries(parameters.properties)) {
    Object.defineProperty(properties, own(name), {
      value: property,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return {
    ...parameters,
    properties,
    ...(Array.isArray(parameters.required)
      ? { required: parameters.required.map((name) => own(String(name))) }
      : {}),
  };
}
