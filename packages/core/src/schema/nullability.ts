import type { JSONSchema } from '../catalog/types.js';
import { isSchemaObject, splitAnnotations } from './subschemas.js';

/** Looks up a `$ref`; returns `undefined` when it cannot be resolved. */
export type RefResolver = (ref: string) => JSONSchema | boolean | undefined;

/** Primitive types that take `null` through a type list (`['string', 'null']`) rather than `anyOf`. */
const PRIMITIVE_TYPES = new Set(['string', 'number', 'integer', 'boolean']);

/**
 * Whether `null` is a valid value for `schema`, judged from `type`, `enum`, `const`, `nullable`,
 * `anyOf` / `oneOf` / `allOf` and (with `resolve`) `$ref`. Keywords it does not know are taken to accept
 * null. An unresolvable `$ref` counts as not accepting it.
 */
export function acceptsNull(schema: JSONSchema | boolean, resolve?: RefResolver): boolean {
  return acceptsNullWithin(schema, resolve, new Set());
}

/** `open` holds the schemas being checked on the current path, so that recursive references end. */
function acceptsNullWithin(
  schema: JSONSchema | boolean,
  resolve: RefResolver | undefined,
  open: Set<JSONSchema>,
): boolean {
  if (typeof schema === 'boolean') return schema;
  if (open.has(schema)) return false;
  open.add(schema);
  try {
    return ownKeywordsAcceptNull(
      schema,
      (subschema) => isSchema(subschema) && acceptsNullWithin(subschema, resolve, open),
      resolve,
    );
  } finally {
    open.delete(schema);
  }
}

function isSchema(value: unknown): value is JSONSchema | boolean {
  return typeof value === 'boolean' || isSchemaObject(value);
}

function ownKeywordsAcceptNull(
  schema: JSONSchema,
  check: (subschema: unknown) => boolean,
  resolve: RefResolver | undefined,
): boolean {
  const { type, nullable } = schema;
  // OpenAPI's `nullable: true` admits null whatever sits beside it (type, anyOf, oneOf …)
  if (nullable === true) return true;
  if (type !== undefined && !typeList(type).includes('null')) return false;
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) return false;
  if ('const' in schema && schema.const !== null) return false;
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some(check)) return false;
  if (Array.isArray(schema.oneOf) && !schema.oneOf.some(check)) return false;
  if (Array.isArray(schema.allOf) && !schema.allOf.every(check)) return false;
  return typeof schema.$ref !== 'string' || check(resolve?.(schema.$ref));
}

/** The `type` keyword as a list (`'string'` → `['string']`). */
export function typeList(type: unknown): string[] {
  if (typeof type === 'string') return [type];
  return Array.isArray(type) ? type.filter((item): item is string => typeof item === 'string') : [];
}

/**
 * A schema that accepts what `schema` accepts, and `null`. A primitive type gets `'null'` added to its
 * type list (and to its `enum`); an `anyOf` gets a `{ type: 'null' }` branch; anything else is wrapped
 * as `anyOf: [schema, { type: 'null' }]` with its description kept outside. Schemas that already
 * accept null are returned as they are.
 */
export function addNull(schema: JSONSchema): JSONSchema {
  if (acceptsNull(schema)) return schema;
  const { annotations, constraints } = splitAnnotations(schema);
  if (Array.isArray(constraints.anyOf) && Object.keys(constraints).length === 1) {
    return { ...schema, anyOf: [...constraints.anyOf, { type: 'null' }] };
  }
  const composite = ['const', 'anyOf', 'oneOf', 'allOf', 'not', 'if', '$ref'].some(
    (keyword) => keyword in schema,
  );
  const types = typeList(schema.type);
  if (!composite && types.length > 0 && types.every((type) => PRIMITIVE_TYPES.has(type))) {
    return withNullEnum({ ...schema, type: [...types, 'null'] });
  }
  if (!composite && schema.type === undefined && Array.isArray(schema.enum)) return withNullEnum(schema);
  return { ...annotations, anyOf: [constraints, { type: 'null' }] };
}

function withNullEnum(schema: JSONSchema): JSONSchema {
  if (!Array.isArray(schema.enum) || schema.enum.includes(null)) return schema;
  return { ...schema, enum: [...schema.enum, null] };
}

/**
 * Rewrite OpenAPI 3.0's `nullable: true` as standard JSON Schema (see {@link addNull}) and drop
 * `nullable` itself, which JSON Schema does not know. Only this schema object is changed, not its children.
 */
export function replaceOpenApiNullable(schema: JSONSchema): JSONSchema {
  if (!('nullable' in schema)) return schema;
  const { nullable, ...rest } = schema;
  return nullable === true ? addNull(rest) : rest;
}
