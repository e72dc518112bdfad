import type { JSONSchema } from '../catalog/types.js';
import { setOwn } from '../util/own-key.js';
import { mergeAllOf } from './all-of.js';
import { addNull, typeList } from './nullability.js';
import { withoutRefusedPattern } from './patterns.js';
import { allowedValues, isSchemaObject } from './subschemas.js';

/** A schema rewritten for strict mode, or why the tool has to stay non-strict. */
export type StrictSchemaResult = { ok: true; schema: JSONSchema } | { ok: false; reason: string };

/*
 * The rules below follow OpenAI's Structured Outputs subset of JSON Schema, which function calling
 * uses with `strict: true`. Strict mode constrains decoding, so the API refuses (400) a schema with
 * anything outside the subset, and one refused schema fails the whole request, every tool with it.
 * Whatever is loosened here is still enforced later: arguments are validated against the original
 * schema after `stripNullsForOptional`.
 */

/**
 * Sizes the API refuses beyond: objects nested more than 10 levels, more than 5,000 properties in all,
 * more than 1,000 enum values in all, more than 120,000 characters of property names and enum values,
 * and an enum of more than 250 strings that are together longer than 15,000 characters.
 */
const LIMITS = {
  objectDepth: 10,
  properties: 5_000,
  enumValues: 1_000,
  characters: 120_000,
  largeEnumValues: 250,
  largeEnumCharacters: 15_000,
};

/** String formats strict mode supports. Others are dropped: the value stays a plain string. */
const SUPPORTED_FORMATS = new Set([
  'date-time',
  'time',
  'date',
  'duration',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'uuid',
]);

/**
 * Keywords strict mode supports for each primitive type. Everything else (`default`, `examples`,
 * `minLength`/`maxLength`, `not`, `if`/`then`/`else`, `x-…` extensions…) is outside the documented
 * subset and dropped, because keywords the API does not support make it refuse the schema.
 */
const KEYWORDS_BY_TYPE: Record<string, readonly string[]> = {
  string: ['pattern', 'format'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  boolean: [],
};

/** Kept on every schema: they are what the model reads to fill a field. */
const DESCRIPTIVE_KEYWORDS = ['title', 'description'];

/**
 * Rewrite a schema shaped by `shapeInputSchema` for OpenAI strict mode (function calling and
 * Structured Outputs with `strict: true`):
 *
 * - every object gets `additionalProperties: false` and lists all its properties in `required`
 *   (strict mode demands both); a property that was optional becomes required and nullable
 *   (`type: ['string', 'null']`, `null` added to an `enum`, or `anyOf: [..., { type: 'null' }]`), so the
 *   model sends `null` for "absent" — `stripNullsForOptional` turns that back into an absent field;
 * - `oneOf` becomes `anyOf` (strict mode has no `oneOf`; exclusivity is checked on validation);
 * - `allOf` is merged into one schema (strict mode has no `allOf`), or the rewrite fails;
 * - `const` becomes a one-value `enum` (the form strict mode documents), a missing `type` is
 *   inferred from `enum`/`properties`/`items`, and a type list such as `['string', 'number']`
 *   becomes an `anyOf` of single types (strict mode only documents `[type, 'null']`);
 * - unsupported keywords are dropped (see `KEYWORDS_BY_TYPE`), `title` and `description` are kept.
 *
 * It fails, naming the JSON path (`$.metadata`), for what strict mode cannot express: records and
 * free-form objects (`additionalProperties` true or a schema, `patternProperties`, no `properties`),
 * an object whose `required` names a key its `properties` does not list, values of any type (`{}`),
 * tuples, a root that is not one object, and schemas beyond `LIMITS`.
 * `{ ok: false }` is how a single tool falls back to non-strict on its own.
 *
 * @example
 * const shaped = shapeInputSchema(tool.inputSchema).schema;
 * const strict = toStrictSchema(shaped);
 * const parameters = strict.ok ? strict.schema : shaped; // and warn with strict.reason
 */
export function toStrictSchema(schema: JSONSchema): StrictSchemaResult {
  try {
    const root = new StrictRewriter().rewrite(schema, { path: '$', depth: 0 });
    // Strict mode needs the root to be an object schema: not a union, and not nullable.
    if (root.type !== 'object') return { ok: false, reason: '$: the root must be a single object schema' };
    return { ok: true, schema: root };
  } catch (error) {
    if (error instanceof NotStrictError) return { ok: false, reason: error.message };
    throw error;
  }
}

/** Where the rewrite is: the JSON path of the value (`$.items[*].name`) and how many objects enclose it. */
interface Location {
  path: string;
  depth: number;
}

class NotStrictError extends Error {
  constructor(at: Location, problem: string) {
    super(`${at.path}: ${problem}`);
  }
}

/** Rewrites one schema, counting properties, enum values and characters toward `LIMITS` as it goes. */
class StrictRewriter {
  private properties = 0;
  private enumValues = 0;
  private characters = 0;

  rewrite(schema: JSONSchema, at: Location): JSONSchema {
    if ('$ref' in schema) {
      throw new NotStrictError(at, 'still contains a $ref; shape the schema with shapeInputSchema first');
    }
    const merged = mergeAllOf(schema);
    if (!merged.ok) throw new NotStrictError(at, merged.reason);
    const { oneOf, ...node } = merged.schema;
    if (oneOf !== undefined) {
      if (node.anyOf !== undefined) throw new NotStrictError(at, 'uses anyOf and oneOf together');
      node.anyOf = oneOf;
    }
    if (Array.isArray(node.anyOf)) return this.union(node, node.anyOf, at);
    return this.typed(node, at);
  }

  /** `anyOf` variants are rewritten one by one; keywords beside `anyOf` are merged into each variant. */
  private union(node: JSONSchema, variants: unknown[], at: Location): JSONSchema {
    const { anyOf: _anyOf, ...rest } = node;
    const shared = omit(rest, DESCRIPTIVE_KEYWORDS);
    const rewritten = variants.map((variant) => {
      if (!isSchemaObject(variant)) throw new NotStrictError(at, 'anyOf contains a boolean schema');
      return this.rewrite(Object.keys(shared).length === 0 ? variant : { allOf: [shared, variant] }, at);
    });
    return { ...pick(node, DESCRIPTIVE_KEYWORDS), anyOf: rewritten };
  }

  /** A schema without `anyOf`: one type, `null` and a type, or several types split into an `anyOf`. */
  private typed(node: JSONSchema, at: Location): JSONSchema {
    const types = inferTypes(node);
    if (types.length === 0) throw new NotStrictError(at, 'accepts any value; strict mode needs a type');
    const nullable = types.includes('null');
    const nonNull = types.filter((type) => type !== 'null');
    if (nonNull.length === 0) return { ...pick(node, DESCRIPTIVE_KEYWORDS), type: 'null' };
    if (nonNull.length === 1) {
      const single = this.single(node, nonNull[0]!, at);
      return nullable ? addNull(single) : single;
    }
    // A list of several types is not in the subset; an anyOf of single-typed schemas is.
    const inner = omit(node, DESCRIPTIVE_KEYWORDS);
    const variants = nonNull.map((type) => this.single(inner, type, at));
    return {
      ...pick(node, DESCRIPTIVE_KEYWORDS),
      anyOf: nullable ? [...variants, { type: 'null' }] : variants,
    };
  }

  private single(node: JSONSchema, type: string, at: Location): JSONSchema {
    if (type === 'object') return this.object(node, at);
    if (type === 'array') return this.array(node, at);
    const keywords = KEYWORDS_BY_TYPE[type];
    if (!keywords) throw new NotStrictError(at, `has unknown type "${type}"`);
    const result: JSONSchema = { ...pick(node, DESCRIPTIVE_KEYWORDS), type, ...pick(node, keywords) };
    if (typeof result.format === 'string' && !SUPPORTED_FORMATS.has(result.format)) delete result.format;
    const values = allowedValues(node)?.filter((value) => valueHasType(value, type));
    if (values) {
      this.countEnum(values, at);
      result.enum = values;
    }
    return withoutRefusedPattern(result);
  }

  private object(node: JSONSchema, at: Location): JSONSchema {
    const depth = at.depth + 1;
    if (depth > LIMITS.objectDepth) {
      throw new NotStrictError(at, `objects nest more than ${LIMITS.objectDepth} levels deep`);
    }
    // A record (keys not known in advance) cannot be listed in `required`, and strict mode needs
    // `additionalProperties: false`, so records and free-form objects cannot be strict.
    const extra = node.additionalProperties;
    if ('patternProperties' in node || (extra !== undefined && extra !== false)) {
      throw new NotStrictError(
        at,
        'is a record (accepts keys not listed in properties); strict mode needs every key listed',
      );
    }
    if (!isSchemaObject(node.properties) && extra !== false) {
      throw new NotStrictError(
        at,
        'is a free-form object (no properties); strict mode needs every key listed',
      );
    }
    const properties = (node.properties ?? {}) as JSONSchema;
    const names = Object.keys(properties);
    this.countProperties(names, at);
    const required = new Set(Array.isArray(node.required) ? node.required : []);
    // valid JSON Schema (the key is only required, of any value), but strict mode lets the model send
    // only the keys properties lists: every call would lack it
    const undeclared = [...required].filter(
      (name) => typeof name === 'string' && !Object.hasOwn(properties, name),
    );
    if (undeclared.length > 0) {
      throw new NotStrictError(
        at,
        `requires ${undeclared.map((name) => JSON.stringify(name)).join(', ')}, which properties does not list; strict mode lets the model send listed keys only`,
      );
    }
    const rewritten: JSONSchema = {};
    for (const name of names) {
      const child = { path: childPath(at.path, name), depth };
      const property = properties[name];
      if (!isSchemaObject(property)) {
        throw new NotStrictError(child, 'is a boolean schema; strict mode needs a type');
      }
      const strict = this.rewrite(property, child);
      // Strict mode requires every property; "optional" is expressed as "may be null".
      setOwn(rewritten, name, required.has(name) ? strict : addNull(strict));
    }
    return {
      ...pick(node, DESCRIPTIVE_KEYWORDS),
      type: 'object',
      properties: rewritten,
      required: names,
      additionalProperties: false,
    };
  }

  private array(node: JSONSchema, at: Location): JSONSchema {
    // Strict mode has no tuples (`prefixItems`, draft-07 `items: [...]`): only arrays of one item schema.
    if ('prefixItems' in node || Array.isArray(node.items)) {
      throw new NotStrictError(at, 'is a tuple; strict mode supports arrays of one item schema only');
    }
    if (!isSchemaObject(node.items)) {
      throw new NotStrictError(at, 'is an array without an item schema; strict mode needs typed items');
    }
    const items = this.rewrite(node.items, { path: `${at.path}[*]`, depth: at.depth });
    return {
      ...pick(node, DESCRIPTIVE_KEYWORDS),
      type: 'array',
      items,
      ...pick(node, ['minItems', 'maxItems']),
    };
  }

  private countProperties(names: string[], at: Location): void {
    this.properties += names.length;
    if (this.properties > LIMITS.properties) {
      throw new NotStrictError(at, `the schema has more than ${LIMITS.properties} properties`);
    }
    this.countCharacters(names, at);
  }

  private countEnum(values: unknown[], at: Location): void {
    this.enumValues += values.length;
    if (this.enumValues > LIMITS.enumValues) {
      throw new NotStrictError(at, `the schema has more than ${LIMITS.enumValues} enum values`);
    }
    const strings = values.filter((value): value is string => typeof value === 'string');
    if (strings.length > LIMITS.largeEnumValues && totalLength(strings) > LIMITS.largeEnumCharacters) {
      throw new NotStrictError(
        at,
        `an enum of more than ${LIMITS.largeEnumValues} values may have at most ${LIMITS.largeEnumCharacters} characters`,
      );
    }
    this.countCharacters(strings, at);
  }

  private countCharacters(strings: string[], at: Location): void {
    this.characters += totalLength(strings);
    if (this.characters > LIMITS.characters) {
      throw new NotStrictError(at, `property names and enum values exceed ${LIMITS.characters} characters`);
    }
  }
}

/** The types a schema allows: its `type`, or what its `enum`, `const`, `properties` or `items` imply. */
function inferTypes(node: JSONSchema): string[] {
  if (node.type !== undefined) return typeList(node.type);
  const values = allowedValues(node);
  if (values) return [...new Set(values.map(jsonType))];
  if (
    ['properties', 'additionalProperties', 'patternProperties', 'required'].some((keyword) => keyword in node)
  )
    return ['object'];
  if (['items', 'prefixItems'].some((keyword) => keyword in node)) return ['array'];
  return [];
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function valueHasType(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  return jsonType(value) === type;
}

function childPath(path: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}

function totalLength(strings: string[]): number {
  return strings.reduce((sum, value) => sum + value.length, 0);
}

function pick(node: JSONSchema, keywords: readonly string[]): JSONSchema {
  return Object.fromEntries(
    keywords.filter((keyword) => keyword in node).map((keyword) => [keyword, structuredClone(node[keyword])]),
  );
}

function omit(node: JSONSchema, keywords: readonly string[]): JSONSchema {
  return Object.fromEntries(Object.entries(node).filter(([keyword]) => !keywords.includes(keyword)));
}
