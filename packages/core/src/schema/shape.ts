import type { JSONSchema } from '../catalog/types.js';
import { setOwn } from '../util/own-key.js';
import { mergeAllOf } from './all-of.js';
import { modernKeywords } from './draft-2020.js';
import { inlineLocalRefs, type SchemaWithWarnings } from './inline-refs.js';
import { typeList } from './nullability.js';
import { allowedValues, isSchemaObject, transformSchemaTree } from './subschemas.js';
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
 * into the root when possible; root `anyOf`/`oneOf`/`not`/`if` are dropped, the properties of a root
 * `anyOf`/`oneOf` of objects listed at the root instead (see `liftRootUnions`). Each of these adds a
 * warning.
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
  const lifted = liftRootUnions(root);
  const dropped = ROOT_COMBINATORS.filter((keyword) => keyword in root);
  if (dropped.length > 0) {
    const unions = dropped.filter((keyword) => lifted.from.includes(keyword));
    const others = dropped.filter((keyword) => !lifted.from.includes(keyword));
    warnings.push(
      `Root-level ${dropped.join(', ')} removed from the schema the model sees${
        unions.length > 0
          ? ` (the properties of the ${unions.join(' and ')} variants are listed at the root, required when every variant requires them, and the variants described)`
          : ''
      }; arguments are still validated against ${others.length + unions.length > 1 ? 'them' : 'it'}.`,
    );
  }
  const kept = Object.fromEntries(
    Object.entries(root).filter(([keyword]) => !ROOT_COMBINATORS.includes(keyword)),
  );
  return { ...kept, type: 'object', ...lifted.keywords };
}

function isObjectRoot(root: JSONSchema): boolean {
  if (root.type !== undefined) return typeList(root.type).includes('object');
  if ('properties' in root) return true;
  // a union of objects, such as a discriminated union of actions, is an object root
  const unions = ['anyOf', 'oneOf'].filter((keyword) => keyword in root);
  if (
    unions.length > 0 &&
    unions.every((keyword) => objectVariants(root[keyword]) !== undefined) &&
    NON_OBJECT_ROOT_KEYWORDS.every((keyword) => unions.includes(keyword) || !(keyword in root))
  ) {
    return true;
  }
  return NON_OBJECT_ROOT_KEYWORDS.every((keyword) => !(keyword in root));
}

/** The variants of a root `anyOf`/`oneOf` that can be objects, each with its allOf merged; undefined if none can. */
function objectVariants(union: unknown): JSONSchema[] | undefined {
  if (!Array.isArray(union)) return undefined;
  const variants: JSONSchema[] = [];
  for (const variant of union) {
    if (variant === true) variants.push({});
    if (!isSchemaObject(variant)) continue;
    const merged = mergeAllOf(variant);
    if (!merged.ok) return undefined;
    const { type } = merged.schema;
    // a variant of another type never matches an object's arguments
    if (type === undefined || typeList(type).includes('object')) variants.push(merged.schema);
  }
  return variants.length > 0 ? variants : undefined;
}

/**
 * The root keywords that show the model what a root `anyOf`/`oneOf` of objects takes (model APIs refuse
 * a root union, so it is dropped): every variant's properties beside the root's own (a property several
 * variants define differently takes any of their schemas, one `enum` for `const`/`enum` values), the
 * properties every variant requires in `required`, `additionalProperties: false` when every variant
 * closes its object, and the variants in the description (`{ id } or { name }`). Arguments are still
 * validated against the union.
 */
function liftRootUnions(root: JSONSchema): { keywords: JSONSchema; from: string[] } {
  const properties: JSONSchema = { ...(isSchemaObject(root.properties) ? root.properties : {}) };
  const own = new Set(Object.keys(properties));
  const required = new Set(Array.isArray(root.required) ? root.required : []);
  const forms: string[] = [];
  const from: string[] = [];
  let closed: boolean | undefined;
  for (const keyword of ['anyOf', 'oneOf']) {
    const variants = objectVariants(root[keyword]);
    if (!variants) continue;
    from.push(keyword);
    const byName = new Map<string, JSONSchema[]>();
    for (const variant of variants) {
      for (const [name, property] of Object.entries(
        isSchemaObject(variant.properties) ? variant.properties : {},
      )) {
        if (own.has(name) || !isSchemaObject(property)) continue;
        const list = byName.get(name) ?? [];
        if (!list.some((seen) => JSON.stringify(seen) === JSON.stringify(property))) list.push(property);
        byName.set(name, list);
      }
    }
    for (const [name, schemas] of byName) setOwn(properties, name, oneSchemaOf(schemas));
    const requiredBy = variants.map(
      (variant) => new Set(Array.isArray(variant.required) ? variant.required : []),
    );
    for (const name of requiredBy[0] ?? []) {
      if (requiredBy.every((names) => names.has(name))) required.add(name);
    }
    const closes = variants.every((variant) => variant.additionalProperties === false);
    closed = closed === undefined ? closes : closed && closes;
    const shown = variants.map((variant, index) => formOf(variant, requiredBy[index]!));
    forms.push(
      `${keyword === 'oneOf' ? 'Exactly one of these forms' : 'One or more of these forms'}: ${shown.join(' or ')}.`,
    );
  }
  if (from.length === 0) return { keywords: { properties }, from };
  const keywords: JSONSchema = { properties };
  if (required.size > 0) keywords.required = [...required];
  if (closed && !('additionalProperties' in root)) keywords.additionalProperties = false;
  const description =
    typeof root.description === 'string' && root.description !== '' ? root.description : undefined;
  keywords.description = [description, ...forms].filter((text) => text !== undefined).join('\n\n');
  return { keywords, from };
}

/** One schema for a property that variants define differently: one enum of their values, or any of them. */
function oneSchemaOf(schemas: JSONSchema[]): JSONSchema {
  if (schemas.length === 1) return schemas[0]!;
  const valued = schemas.map((schema) => ({ schema, values: allowedValues(schema) }));
  if (
    valued.every(
      ({ schema, values }) => values && Object.keys(schema).every((keyword) => VALUE_KEYWORDS.has(keyword)),
    )
  ) {
    const values: unknown[] = [];
    for (const { values: some } of valued) {
      for (const value of some!)
        if (!values.some((seen) => JSON.stringify(seen) === JSON.stringify(value))) values.push(value);
    }
    const types = new Set(schemas.map((schema) => JSON.stringify(schema.type)));
    const descriptions = [
      ...new Set(schemas.map((schema) => schema.description).filter((text) => typeof text === 'string')),
    ];
    return {
      ...(types.size === 1 && schemas[0]!.type !== undefined ? { type: schemas[0]!.type } : {}),
      enum: values,
      ...(descriptions.length > 0 ? { description: descriptions.join(' / ') } : {}),
    };
  }
  return { anyOf: schemas };
}

/** What a `const`/`enum` property may hold besides its values and still be written as one enum. */
const VALUE_KEYWORDS = new Set(['type', 'const', 'enum', 'description', 'title']);

/** A variant as the description lists it: `{ kind: "a", x, y? }` (a `?` for an optional property). */
function formOf(variant: JSONSchema, required: Set<unknown>): string {
  const declared = isSchemaObject(variant.properties) ? variant.properties : {};
  const names = [
    ...new Set([...Object.keys(declared), ...[...required].filter((name) => typeof name === 'string')]),
  ];
  const fields = names.map((name) => {
    const property = declared[name];
    const values = isSchemaObject(property) ? allowedValues(property) : undefined;
    if (values?.length === 1) return `${name}: ${JSON.stringify(values[0])}`;
    return required.has(name) ? name : `${name}?`;
  });
  return fields.length === 0 ? '{}' : `{ ${fields.join(', ')} }`;
}

function anyObject(): JSONSchema {
  return { type: 'object', properties: {}, additionalProperties: true };
}
