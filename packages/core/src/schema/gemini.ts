import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { mergeAllOf } from './all-of.js';
import { typeList } from './nullability.js';
import {
  type PropertyKeyRenames,
  type PropertyKeyRule,
  planPropertyKeyRenames,
  renamePropertyKeys,
  restorePropertyKeys,
} from './property-keys.js';
import { isSchemaObject } from './subschemas.js';
import { linearRegExp } from './validate.js';

/*
 * Gemini function declarations take `parameters` in "a select subset of an OpenAPI 3.0 schema
 * object" (the `Schema` type of the Gemini API and of `@google/genai`):
 *
 * - keywords: `type`, `format`, `title`, `description`, `nullable`, `enum`, `properties`, `required`,
 *   `propertyOrdering`, `minProperties`, `maxProperties`, `items`, `minItems`, `maxItems`, `minLength`,
 *   `maxLength`, `pattern`, `minimum`, `maximum`, `anyOf`, `default`, `example`; nothing else (no
 *   `$ref`, `additionalProperties`, `oneOf`, `allOf`, `const`, `not`, `exclusiveMinimum`…);
 * - `type` is ONE of STRING, NUMBER, INTEGER, BOOLEAN, ARRAY, OBJECT (no type lists: `nullable: true`
 *   says null is allowed);
 * - `enum` lists strings, for a STRING (`format: "enum"`) only: the API refuses it on any other type
 *   ("enum: only allowed for STRING type"), although `@google/genai`'s `Schema` documents an INTEGER
 *   enum;
 * - `format`: `enum` or `date-time` for STRING, `float` or `double` for NUMBER, `int32` or `int64` for
 *   INTEGER;
 * - an OBJECT has non-empty `properties` ("should be non-empty for OBJECT type"), and `required` names
 *   only those; `properties` and `required` only on an OBJECT, `items` only on an ARRAY, which must
 *   have it;
 * - the `int64` keywords (`minItems`, `maxLength`…) are decimal strings; `parameters` is an OBJECT, and a
 *   tool without arguments has no `parameters`;
 * - parameter names (the keys of `parameters.properties`) start with a letter or an underscore and
 *   hold only a-z, A-Z, 0-9 and underscores, at most 64 characters (`FunctionDeclaration.parameters`
 *   in `@google/genai`); the keys of nested objects are not parameter names and have no such rule.
 */

/** A parameter name Gemini takes (see the rules above). */
export const GEMINI_PARAMETER_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;

/** Gemini's rule on parameter names: the root's property keys only. */
export const GEMINI_PARAMETER_NAME_RULE: PropertyKeyRule = {
  valid: (key) => GEMINI_PARAMETER_NAME.test(key),
  fix: (key) => {
    const fixed = key.replace(/[^a-zA-Z0-9_]/g, '_');
    return (/^[a-zA-Z_]/.test(fixed) ? fixed : `_${fixed}`).slice(0, 64);
  },
  maxLength: 64,
  nested: false,
};

/** The Gemini `Type` names, by JSON Schema type. */
const GEMINI_TYPES: Record<string, string> = {
  string: 'STRING',
  number: 'NUMBER',
  integer: 'INTEGER',
  boolean: 'BOOLEAN',
  array: 'ARRAY',
  object: 'OBJECT',
};

const ALLOWED_KEYWORDS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'properties',
  'required',
  'propertyOrdering',
  'minProperties',
  'maxProperties',
  'items',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'anyOf',
  'default',
  'example',
]);

const FORMATS: Record<string, readonly string[]> = {
  STRING: ['enum', 'date-time'],
  NUMBER: ['float', 'double'],
  INTEGER: ['int32', 'int64'],
};

/** Keywords allowed only with one type, and the int64 ones Gemini takes as decimal strings. */
const TYPE_KEYWORDS: Record<string, readonly string[]> = {
  OBJECT: ['properties', 'required', 'propertyOrdering', 'minProperties', 'maxProperties'],
  ARRAY: ['items', 'minItems', 'maxItems'],
  STRING: ['minLength', 'maxLength', 'pattern'],
};
const INT64_KEYWORDS = ['minProperties', 'maxProperties', 'minItems', 'maxItems', 'minLength', 'maxLength'];

/**
 * Where the model sends a JSON value as a string (free-form objects, records, values of any type, one of
 * an enum whose values are not all strings): property names, and `*` for the items of an array.
 */
export type JsonStringPath = readonly string[];

/**
 * Where the model sends a JSON value as a string although a variant there takes plain text too (a
 * union of a string and a record, `type: ['string', 'object']`, one property of two variants): the
 * string is parsed back only when it is not valid as text there (`text`, the variants that take
 * strings) and what it parses to fits a variant it was sent for (`json`).
 */
export interface JsonOrTextPath {
  steps: JsonStringPath;
  text: readonly JSONSchema[];
  json: readonly JSONSchema[];
}

/** A tool's input schema in the Gemini subset. */
export interface GeminiSchemaResult {
  /** The declaration's `parameters`, or `undefined` for a tool that takes no arguments. */
  parameters: JSONSchema | undefined;
  /**
   * What the subset cannot express and the model is only told in a description (allowed values it
   * cannot enumerate, tuples, properties beyond the named ones, unmergeable `allOf`), one sentence
   * each, starting with the JSON path; empty when nothing was. Formats and bounds it cannot declare
   * are described too but not listed, and values sent as JSON strings lose nothing.
   */
  loosened: string[];
  /**
   * Where the model sends a JSON value as a string; `decodeGeminiArguments` parses them back. The
   * paths name the tool's own keys (read back from `renames` first).
   */
  jsonStrings: JsonStringPath[];
  /**
   * Where the model sends a JSON value as a string beside a variant that takes plain text; parsed back
   * by `decodeGeminiArguments` only when the text is not valid as text there. Absent when there are none.
   */
  jsonOrText?: JsonOrTextPath[];
  /**
   * The parameter names Gemini does not take (`filter[id]`, `page-size`, `1st`), handed out renamed
   * (each renamed parameter's description names the tool's own key); `geminiArgumentsOf` reads them
   * back. `undefined` when every name is taken as it is.
   */
  renames?: PropertyKeyRenames;
}

/**
 * Rewrite an input schema shaped by `shapeInputSchema` into the Gemini subset (see the rules above),
 * keeping every property and whether it is required:
 *
 * - a type list becomes one type with `nullable: true`, or an `anyOf` of single types; `null` in an
 *   `anyOf`/`oneOf`/`enum` becomes `nullable: true`; `oneOf` becomes `anyOf`; `allOf` is merged;
 * - `const` becomes a one-value `enum`, and a union of `const`s and `enum`s one `enum`; an `enum`
 *   whose values are not all strings (numbers, booleans, objects, mixed kinds) becomes a STRING enum of
 *   texts, parsed back by {@link decodeGeminiArguments}: a string as it is (`"auto"`), any other value
 *   as its JSON text (`"2"`, `"true"`), and a string that is JSON text itself in double quotes
 *   (`"\"1\""`, so `["1", 1]` stay apart, which the description says); an `enum` of strings only is
 *   kept as it is;
 * - formats, `exclusiveMinimum`/`exclusiveMaximum`, `multipleOf`, `uniqueItems`, tuples and extra
 *   properties beside named ones are written into the description instead;
 * - an object without named properties (a record or free-form object) and a value of any type become
 *   a STRING holding JSON, described as such, that {@link decodeGeminiArguments} parses back; beside a
 *   variant that takes any string (`type: ['string', 'object']`), only a string that is not valid as
 *   that text is parsed (`jsonOrText`), and no value there (at any depth of a union's variants) is sent
 *   as a text of an enum to parse back.
 *
 * Arguments are still validated against the original schema when the tool runs, so loosening only
 * changes what the model is shown.
 */
export function toGeminiSchema(schema: JSONSchema): GeminiSchemaResult {
  const shaper = new GeminiShaper();
  const properties = isSchemaObject(schema.properties) ? schema.properties : {};
  if (Object.values(properties).every((property) => property === false)) {
    if (schema.additionalProperties !== undefined && schema.additionalProperties !== false) {
      shaper.loosened.push('$: takes an object of any properties; Gemini declares no parameters for it');
    }
    const required = requiredNamesOf(schema);
    if (required.length > 0) {
      shaper.loosened.push(
        `$: requires ${quotedList(required)}, which properties does not declare; Gemini declares no parameters for this tool`,
      );
    }
    return { parameters: undefined, loosened: shaper.loosened, jsonStrings: [] };
  }
  const shaped = shaper.shape(schema, '$', []);
  const renames = planPropertyKeyRenames([shaped], GEMINI_PARAMETER_NAME_RULE);
  const parameters = renamePropertyKeys(shaped, renames);
  return {
    parameters,
    loosened: shaper.loosened,
    jsonStrings: shaper.jsonStrings,
    ...(shaper.jsonOrText.length > 0 ? { jsonOrText: shaper.jsonOrText } : {}),
    ...(renames ? { renames } : {}),
  };
}

/**
 * A Gemini function call's arguments as the tool takes them: renamed parameter names read back
 * (`renames`), then the values sent as JSON strings parsed back (`jsonStrings`). Never mutates `args`.
 */
export function geminiArgumentsOf(
  args: unknown,
  shaped: Pick<GeminiSchemaResult, 'jsonStrings' | 'jsonOrText' | 'renames'>,
): unknown {
  const restored = restorePropertyKeys(args, shaped.renames);
  return shaped.jsonStrings.length > 0 || shaped.jsonOrText
    ? decodeGeminiArguments(restored, shaped.jsonStrings, shaped.jsonOrText)
    : restored;
}

const cache = new WeakMap<ToolSpec, GeminiSchemaResult>();

/** {@link toGeminiSchema} of a tool's input schema, computed once per spec. */
export function geminiSchemaOf(spec: ToolSpec): GeminiSchemaResult {
  let result = cache.get(spec);
  if (!result) {
    result = toGeminiSchema(spec.inputSchema);
    cache.set(spec, result);
  }
  return result;
}

class GeminiShaper {
  readonly loosened: string[] = [];
  readonly jsonStrings: JsonStringPath[] = [];
  /**
   * Where (`steps`, joined) a variant of the union being shaped takes any string: an enum whose values
   * are not all strings cannot be sent as texts there, since "42" meant as a string would be parsed.
   */
  readonly #stringsTaken = new Map<string, JSONSchema[]>();
  readonly jsonOrText: JsonOrTextPath[] = [];
  readonly #jsonOrTextAt = new Map<
    string,
    { steps: JsonStringPath; text: JSONSchema[]; json: JSONSchema[] }
  >();

  shape(input: JSONSchema, path: string, steps: readonly string[]): JSONSchema {
    const merged = mergeAllOf(input);
    let schema = input;
    const notes: string[] = [];
    if (merged.ok) schema = merged.schema;
    else {
      const { allOf: _allOf, ...rest } = input;
      schema = rest;
      notes.push('It must also match further conditions, checked when the tool runs.');
      this.loosened.push(`${path}: allOf cannot be merged (${merged.reason}); its parts are not shown`);
    }
    const listed: unknown[] = Array.isArray(schema.anyOf)
      ? schema.anyOf
      : Array.isArray(schema.oneOf)
        ? schema.oneOf
        : [];
    if (listed.includes(true)) {
      // a variant `true` takes any value, so the union does (a variant `false` takes none: left out)
      const { anyOf: _anyOf, oneOf: _oneOf, ...rest } = schema;
      return this.#single(annotations(rest, {}), undefined, false, path, steps, notes);
    }
    const variants = listed.filter(isSchemaObject);
    if (variants.length > 0) return this.#union(schema, variants, path, steps, notes);
    const types = typeList(schema.type);
    const nullable = types.includes('null') || (Array.isArray(schema.enum) && schema.enum.includes(null));
    const nonNull = types.filter((type) => type !== 'null');
    if (nonNull.length > 1) {
      const { type: _type, ...rest } = schema;
      return this.#union(
        rest,
        nonNull.map((type) => ({ ...rest, type })),
        path,
        steps,
        notes,
      );
    }
    return this.#single(schema, nonNull[0], nullable, path, steps, notes);
  }

  #union(
    schema: JSONSchema,
    variants: JSONSchema[],
    path: string,
    steps: readonly string[],
    notes: string[],
  ): JSONSchema {
    const { anyOf: _anyOf, oneOf: _oneOf, ...base } = schema;
    const siblings = Object.keys(base).filter((key) => !['title', 'description', 'default'].includes(key));
    const nonNull = variants.filter(
      (variant) => !(typeList(variant.type).length === 1 && variant.type === 'null'),
    );
    const nullable = nonNull.length < variants.length || typeList(schema.type).includes('null');
    // keywords beside the union (a shared `type`, `properties`…) apply to every variant
    const parts = nonNull.map((variant) =>
      siblings.length > 0
        ? { ...Object.fromEntries(siblings.map((key) => [key, base[key]])), ...variant }
        : variant,
    );
    if (parts.length === 0)
      return this.#single({ ...base, type: 'null' }, undefined, true, path, steps, notes);
    const listed = parts.length > 1 ? listedUnion(parts) : undefined;
    if (listed) {
      // a union of listed values (zod's union of literals) is one enum: one STRING enum of texts,
      // in which a string and a number of one text ("1" and 1) stay apart
      const { values, described } = listed;
      return this.#single(
        { ...annotations(base, {}), enum: values },
        undefined,
        nullable || values.includes(null),
        path,
        steps,
        [...notes, ...described.map((line) => `${line}.`)],
      );
    }
    if (parts.length === 1) {
      const shaped = this.shape(parts[0]!, path, steps);
      return withNotes(
        { ...shaped, ...annotations(base, shaped), ...(nullable ? { nullable: true } : {}) },
        notes,
      );
    }
    // where a variant takes any string (here, or at a property or item of it), the others cannot be
    // sent as texts to parse back without doubt: "42" meant as a string would be parsed
    const taken = new Map<string, JSONSchema[]>();
    for (const part of parts) stringPlaces(part, steps, taken);
    for (const [key, schemas] of taken) {
      const list = this.#stringsTaken.get(key) ?? [];
      list.push(...schemas);
      this.#stringsTaken.set(key, list);
    }
    const anyOf = parts.map((part, index) => this.shape(part, `${path}/anyOf/${index}`, steps));
    for (const [key, schemas] of taken) {
      const list = this.#stringsTaken.get(key)!;
      list.length -= schemas.length;
      if (list.length === 0) this.#stringsTaken.delete(key);
    }
    return withNotes({ ...annotations(base, {}), anyOf, ...(nullable ? { nullable: true } : {}) }, notes);
  }

  #single(
    schema: JSONSchema,
    declaredType: string | undefined,
    nullable: boolean,
    path: string,
    steps: readonly string[],
    notes: string[],
  ): JSONSchema {
    const values = Array.isArray(schema.enum)
      ? schema.enum.filter((value) => value !== null)
      : 'const' in schema
        ? [schema.const]
        : undefined;
    const type = declaredType ?? inferType(schema, values);
    const out: JSONSchema = annotations(schema, {});
    if (nullable) out.nullable = true;
    if (type === undefined || type === 'null') {
      if (type === 'null') {
        notes.push('Always null.');
        return withNotes({ ...out, type: 'STRING', nullable: true, enum: ['null'], format: 'enum' }, notes);
      }
      const keys = requiredKeys(schema);
      // `required` without a type binds only an object: a value of another type is valid there
      if (keys) notes.push(`An object there must have ${keys}.`);
      return this.#jsonString(out, schema, 'any JSON value', steps, notes);
    }
    if (values !== undefined && isTextEnum(values) && !this.#stringsTaken.has(steps.join('\u0000'))) {
      // Gemini takes an enum on a STRING only: a text for each value, parsed back before the call runs
      this.#parseBackAt(steps);
      const enumValues = [...new Set(values.map(enumText))];
      const quoted = values.find((value) => typeof value === 'string' && enumText(value) !== value);
      if (typeof quoted === 'string')
        notes.push(`Values in double quotes are text: ${enumText(quoted)} is the text ${quoted}.`);
      if (out.default !== undefined) out.default = enumText(out.default);
      return withNotes({ ...out, type: 'STRING', enum: enumValues, format: 'enum' }, notes);
    }
    if (values !== undefined && !enumFits(type, values)) {
      notes.push(
        values.length === 0
          ? 'No value is allowed here.'
          : `One of: ${values.map((value) => JSON.stringify(value)).join(', ')}.`,
      );
      this.loosened.push(`${path}: the allowed values ${JSON.stringify(values)} are described, not enforced`);
    } else if (values !== undefined) {
      out.enum = values as string[];
      out.format = 'enum';
    }
    out.type = GEMINI_TYPES[type];
    if (type === 'object') return this.#object(schema, out, path, steps, notes);
    if (type === 'array') return this.#array(schema, out, path, steps, notes);
    if (type === 'string') {
      copyInt64(schema, out, ['minLength', 'maxLength']);
      if (typeof schema.pattern === 'string') out.pattern = schema.pattern;
    }
    if (type === 'number' || type === 'integer') {
      for (const keyword of ['minimum', 'maximum'] as const) {
        if (typeof schema[keyword] === 'number') out[keyword] = schema[keyword];
      }
      if (typeof schema.exclusiveMinimum === 'number') notes.push(`Greater than ${schema.exclusiveMinimum}.`);
      if (typeof schema.exclusiveMaximum === 'number') notes.push(`Less than ${schema.exclusiveMaximum}.`);
      if (typeof schema.multipleOf === 'number') notes.push(`A multiple of ${schema.multipleOf}.`);
    }
    if (typeof schema.format === 'string' && out.format === undefined) {
      if (FORMATS[out.type as string]?.includes(schema.format)) out.format = schema.format;
      else notes.push(`Format: ${schema.format}.`);
    }
    return withNotes(out, notes);
  }

  /**
   * Required names of an object that Gemini is not sent as parameters (no property, or a `false` one):
   * Gemini refuses a whole request whose `required` names a property it was not sent ("required[0]:
   * property is not defined"), so they are left out of `required`, with a warning; one that has no
   * property at all (any value) is said in the description, and the session still checks each call
   * against the tool's schema.
   */
  #undeclaredRequired(
    path: string,
    required: readonly string[],
    properties: JSONSchema,
    names: readonly string[],
    notes: string[],
  ) {
    const undeclared = required.filter((name) => !names.includes(name));
    if (undeclared.length === 0) return;
    this.loosened.push(
      `${path}: requires ${quotedList(undeclared)}, which properties does not declare; left out of required, as Gemini refuses a required name without a property`,
    );
    const anyValue = undeclared.filter((name) => !Object.hasOwn(properties, name));
    if (anyValue.length > 0) notes.push(`Also required: ${quotedList(anyValue)} (any value).`);
  }

  #object(schema: JSONSchema, out: JSONSchema, path: string, steps: readonly string[], notes: string[]) {
    const properties = isSchemaObject(schema.properties) ? schema.properties : {};
    // a property whose schema is `false` may not be sent at all: it is not declared
    const names = Object.keys(properties).filter((name) => properties[name] !== false);
    if (names.length === 0) {
      const values =
        isSchemaObject(schema.additionalProperties) &&
        describeType(schema.additionalProperties) !== 'any value'
          ? ` whose values are ${describeType(schema.additionalProperties)}`
          : '';
      const { format: _format, enum: _enum, ...rest } = out;
      // the keys it must have, which no declaration can say of a JSON string: the model is told
      const keys = requiredKeys(schema);
      const must = keys ? `${values ? ',' : ''} with ${keys}${values ? ',' : ''}` : '';
      return this.#jsonString(rest, schema, `a JSON object${values}${must}`, steps, notes);
    }
    out.properties = Object.fromEntries(
      names.map((name) => [
        name,
        this.shape(subschemaOf(properties[name]), `${path}.${name}`, [...steps, name]),
      ]),
    );
    const required = requiredNamesOf(schema);
    const declared = required.filter((name) => names.includes(name));
    if (declared.length > 0) out.required = declared;
    this.#undeclaredRequired(path, required, properties, names, notes);
    copyInt64(schema, out, ['minProperties', 'maxProperties']);
    const extra = schema.additionalProperties ?? (schema.patternProperties ? {} : undefined);
    if (extra !== undefined && extra !== false) {
      notes.push(
        `Other properties${isSchemaObject(extra) && Object.keys(extra).length > 0 ? ` (${describeType(extra)})` : ''} are allowed too.`,
      );
      this.loosened.push(`${path}: properties beyond the named ones cannot be declared`);
    }
    return withNotes(out, notes);
  }

  #array(schema: JSONSchema, out: JSONSchema, path: string, steps: readonly string[], notes: string[]) {
    const tuple = Array.isArray(schema.prefixItems)
      ? schema.prefixItems
      : Array.isArray(schema.items)
        ? schema.items
        : undefined;
    const itemSteps = [...steps, '*'];
    if (tuple) {
      // an item schema `false` takes no value: the list ends before it; `true` takes any value
      const end = tuple.indexOf(false);
      const entries: unknown[] = end === -1 ? tuple : tuple.slice(0, end);
      const parts = entries.filter(isSchemaObject);
      notes.push(
        entries.length === 0
          ? 'An empty list.'
          : `A list of ${entries.length} items, in order: ${entries.map((entry) => (isSchemaObject(entry) ? describeType(entry) : 'any value')).join(', ')}.`,
      );
      this.loosened.push(`${path}: a tuple is declared as a list of any of its item types`);
      const items = parts.length < entries.length ? {} : parts.length === 1 ? parts[0]! : { anyOf: parts };
      out.items = this.shape(items, `${path}[*]`, itemSteps);
    } else {
      out.items = this.shape(isSchemaObject(schema.items) ? schema.items : {}, `${path}[*]`, itemSteps);
    }
    copyInt64(schema, out, ['minItems', 'maxItems']);
    if (schema.uniqueItems === true) notes.push('Items must be unique.');
    return withNotes(out, notes);
  }

  /** Has `decodeGeminiArguments` parse the string at `steps` (once, whatever the variants there). */
  #parseBackAt(steps: readonly string[]): void {
    if (!this.jsonStrings.some((known) => known.join('\u0000') === steps.join('\u0000'))) {
      this.jsonStrings.push(steps);
    }
  }

  /** A value Gemini cannot declare, sent by the model as a string of JSON and parsed back. */
  #jsonString(out: JSONSchema, schema: JSONSchema, what: string, steps: readonly string[], notes: string[]) {
    const key = steps.join('\u0000');
    const text = this.#stringsTaken.get(key);
    if (text) {
      // another variant takes text here: a string valid as that text stays text
      let entry = this.#jsonOrTextAt.get(key);
      if (!entry) {
        entry = { steps, text: [], json: [] };
        this.#jsonOrTextAt.set(key, entry);
        this.jsonOrText.push(entry);
      }
      for (const variant of text) if (!entry.text.includes(variant)) entry.text.push(variant);
      entry.json.push(schema);
      notes.push(`Write ${what} as a JSON string; a string that is valid as text here is taken as text.`);
      return withNotes({ ...out, type: 'STRING' }, notes);
    }
    // nothing is lost: the model is told, and decodeGeminiArguments parses the value back
    this.#parseBackAt(steps);
    notes.push(`Write ${what} as a JSON string.`);
    return withNotes({ ...out, type: 'STRING' }, notes);
  }
}

/**
 * A subschema as an object: JSON Schema's boolean schema `true` (any value; MCP servers send it for
 * a property of any type) is `{}`, and so is anything else that is not a schema object.
 */
function subschemaOf(value: unknown): JSONSchema {
  return isSchemaObject(value) ? value : {};
}

/** `title`, `description` and `default` of `schema`, keeping those `over` already has. */
function annotations(schema: JSONSchema, over: JSONSchema): JSONSchema {
  const out: JSONSchema = {};
  if (typeof schema.title === 'string') out.title = schema.title;
  if (typeof schema.description === 'string') out.description = schema.description;
  if (schema.default !== undefined && schema.default !== null && typeof schema.default !== 'object') {
    out.default = schema.default;
  }
  for (const key of Object.keys(out)) if (over[key] !== undefined) delete out[key];
  return out;
}

/**
 * The keys an object schema's `required` lists, in words (`the keys "a", "b" (required)`), or
 * `undefined` without any: said of an object sent as a JSON string, whose declaration has no
 * `required` (it was dropped, and the model sent objects without them until the call was refused).
 */
function requiredKeys(schema: JSONSchema): string | undefined {
  const required = requiredNamesOf(schema);
  if (required.length === 0) return undefined;
  return `the ${required.length === 1 ? 'key' : 'keys'} ${quotedList(required)} (required)`;
}

/** `"a", "b"`. */
function quotedList(names: readonly string[]): string {
  return names.map((name) => JSON.stringify(name)).join(', ');
}

/** The names an object schema's `required` lists, once each (anything else in it is ignored). */
function requiredNamesOf(schema: JSONSchema): string[] {
  if (!Array.isArray(schema.required)) return [];
  return [...new Set(schema.required.filter((name): name is string => typeof name === 'string'))];
}

function withNotes(schema: JSONSchema, notes: readonly string[]): JSONSchema {
  if (notes.length === 0) return schema;
  const description = [schema.description, ...notes].filter((text) => typeof text === 'string' && text);
  return { ...schema, description: description.join(' ') };
}

function copyInt64(schema: JSONSchema, out: JSONSchema, keywords: readonly string[]): void {
  for (const keyword of keywords) {
    const value = schema[keyword];
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) out[keyword] = String(value);
  }
}

function inferType(schema: JSONSchema, values: unknown[] | undefined): string | undefined {
  if (isSchemaObject(schema.properties) || 'additionalProperties' in schema) return 'object';
  if ('items' in schema || 'prefixItems' in schema) return 'array';
  if (values && values.length > 0) {
    const kinds = new Set(values.map((value) => (Number.isInteger(value) ? 'integer' : typeof value)));
    // whole and fractional numbers together are numbers
    if (kinds.size === 2 && kinds.has('integer') && kinds.has('number')) return 'number';
    if (kinds.size === 1) {
      const [kind] = kinds;
      if (kind === 'string' || kind === 'integer' || kind === 'number' || kind === 'boolean') return kind;
    }
    return 'string';
  }
  if ('pattern' in schema || 'minLength' in schema || 'maxLength' in schema) return 'string';
  if ('minimum' in schema || 'maximum' in schema) return 'number';
  return undefined;
}

/** Whether a union variant takes any string (a string without `enum` or `const`, any value, or a union of such). */
function takesAnyString(schema: JSONSchema): boolean {
  const variants = Array.isArray(schema.anyOf)
    ? schema.anyOf
    : Array.isArray(schema.oneOf)
      ? schema.oneOf
      : [];
  if (variants.some((variant) => isSchemaObject(variant) && takesAnyString(variant))) return true;
  if (Array.isArray(schema.enum) || 'const' in schema) return false;
  const types = typeList(schema.type);
  if (types.length > 0) return types.includes('string');
  return (
    variants.length === 0 &&
    !['properties', 'additionalProperties', 'items', 'prefixItems', 'minimum', 'maximum'].some(
      (keyword) => keyword in schema,
    )
  );
}

/**
 * Adds to `places` (by steps joined with NUL) each place of the value `schema` describes where it takes
 * any string ({@link takesAnyString}): at `steps` itself, at its properties, its items (`*`), through
 * its variants.
 */
function stringPlaces(schema: unknown, steps: readonly string[], places: Map<string, JSONSchema[]>): void {
  if (!isSchemaObject(schema)) return;
  if (takesAnyString(schema)) {
    const key = steps.join('\u0000');
    const list = places.get(key) ?? [];
    list.push(schema);
    places.set(key, list);
  }
  if (isSchemaObject(schema.properties)) {
    for (const [name, property] of Object.entries(schema.properties))
      stringPlaces(property, [...steps, name], places);
  }
  const items = [
    ...(Array.isArray(schema.prefixItems) ? schema.prefixItems : []),
    ...(Array.isArray(schema.items) ? schema.items : [schema.items]),
  ];
  for (const item of items) stringPlaces(item, [...steps, '*'], places);
  for (const keyword of ['anyOf', 'oneOf']) {
    const variants = schema[keyword];
    if (Array.isArray(variants)) for (const variant of variants) stringPlaces(variant, steps, places);
  }
}

/**
 * Whether `text` is valid as a string for one of `schemas` (each takes any string, see
 * {@link takesAnyString}), as far as its type, length and pattern say. A pattern RE2 cannot run in
 * linear time counts as matched: the text then stays text, as sent.
 */
function validText(text: string, schemas: readonly JSONSchema[]): boolean {
  return schemas.some((schema) => {
    const variants = Array.isArray(schema.anyOf)
      ? schema.anyOf
      : Array.isArray(schema.oneOf)
        ? schema.oneOf
        : [];
    const strings = variants.filter((variant) => isSchemaObject(variant) && takesAnyString(variant));
    if (strings.length > 0 && validText(text, strings as JSONSchema[])) return true;
    const types = typeList(schema.type);
    if (types.length > 0 && !types.includes('string')) return false;
    if (types.length === 0 && variants.length > 0) return false;
    const length =
      typeof schema.minLength === 'number' || typeof schema.maxLength === 'number' ? [...text].length : 0;
    if (typeof schema.minLength === 'number' && length < schema.minLength) return false;
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) return false;
    if (typeof schema.pattern === 'string') {
      const pattern = linearRegExp(schema.pattern);
      if (pattern && !pattern.test(text)) return false;
    }
    return true;
  });
}

/** Whether `value` has a type one of `schemas` (the variants sent as JSON strings) takes. */
function fitsJsonVariant(value: unknown, schemas: readonly JSONSchema[]): boolean {
  return schemas.some((schema) => {
    const types = typeList(schema.type);
    if (types.length > 0) return types.some((type) => hasType(value, type));
    if (isSchemaObject(schema.properties) || 'additionalProperties' in schema) return isSchemaObject(value);
    return true;
  });
}

/** Whether Gemini's string-only `enum` can say exactly these values of a STRING. */
function enumFits(type: string, values: unknown[]): boolean {
  return type === 'string' && values.length > 0 && values.every((value) => typeof value === 'string');
}

/**
 * Whether these allowed values (no `null`: that is `nullable`) are declared as a STRING enum of
 * {@link enumText}s, parsed back by {@link decodeGeminiArguments}: any list with a value that is not a
 * string (numbers, booleans, objects, mixed kinds). A list of strings only is Gemini's own enum, kept
 * as it is.
 */
function isTextEnum(values: unknown[]): boolean {
  return (
    values.some((value) => typeof value !== 'string') &&
    values.every((value) => value !== undefined && (typeof value !== 'number' || Number.isFinite(value)))
  );
}

/**
 * The text that stands for an allowed value in a STRING enum, such that parsing it back (`JSON.parse`,
 * keeping a text that is not JSON as it is) gives the value again: a value that is not a string as its
 * JSON text (`2`, `true`, `{"a":1}`); a string as it is, unless it is JSON text itself (`"1"`, `"true"`,
 * `"null"`), which it is in double quotes, so `["1", 1]` are the texts `"1"` and `1`.
 */
function enumText(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  try {
    JSON.parse(value);
  } catch {
    return value;
  }
  return JSON.stringify(value);
}

/** Keywords of a union variant that only allows listed values (with what describes them). */
const LISTED_VALUE_KEYWORDS = new Set([
  'enum',
  'const',
  'type',
  'title',
  'description',
  'default',
  '$comment',
]);

/**
 * The values a union variant allows when it only lists them (`const`, `enum`, or a union of such,
 * `type` filtering them), with the descriptions of those that have one; `undefined` for any other
 * variant.
 */
function listedValues(schema: JSONSchema): { values: unknown[]; described: string[] } | undefined {
  const variants = Array.isArray(schema.anyOf)
    ? schema.anyOf
    : Array.isArray(schema.oneOf)
      ? schema.oneOf
      : undefined;
  if (variants) {
    if (
      Object.keys(schema).some((key) => !['anyOf', 'oneOf', 'title', 'description', '$comment'].includes(key))
    )
      return undefined;
    const values: unknown[] = [];
    const described: string[] = [];
    for (const variant of variants) {
      const listed = isSchemaObject(variant) ? listedValues(variant) : undefined;
      if (!listed) return undefined;
      values.push(...listed.values);
      described.push(...listed.described);
    }
    return { values, described };
  }
  if (Object.keys(schema).some((key) => !LISTED_VALUE_KEYWORDS.has(key))) return undefined;
  const types = typeList(schema.type);
  let values: unknown[];
  if ('const' in schema) values = [schema.const];
  else if (Array.isArray(schema.enum)) values = schema.enum;
  else if (types.length === 1 && types[0] === 'null') values = [null];
  else return undefined;
  if (types.length > 0) values = values.filter((value) => types.some((type) => hasType(value, type)));
  const described =
    typeof schema.description === 'string' && values.length > 0
      ? [`${values.map(enumText).join(', ')}: ${schema.description}`]
      : [];
  return { values, described };
}

/**
 * The values of union variants that all only list values, one of which is not a string (those Gemini
 * is sent as one STRING enum of texts); `undefined` otherwise (a union of strings only stays a union).
 */
function listedUnion(parts: readonly JSONSchema[]): { values: unknown[]; described: string[] } | undefined {
  const values: unknown[] = [];
  const described: string[] = [];
  for (const part of parts) {
    const listed = listedValues(part);
    if (!listed) return undefined;
    values.push(...listed.values);
    described.push(...listed.described);
  }
  return isTextEnum(values.filter((value) => value !== null)) ? { values, described } : undefined;
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'null') return value === null;
  if (type === 'integer') return Number.isInteger(value);
  if (type === 'array') return Array.isArray(value);
  if (type === 'object') return isSchemaObject(value);
  return typeof value === type;
}

function describeType(schema: JSONSchema): string {
  const types = typeList(schema.type);
  if (types.length > 0) return types.join(' or ');
  if (Array.isArray(schema.enum)) {
    if (schema.enum.length === 0) return 'no value';
    return `one of ${schema.enum.map((value) => JSON.stringify(value)).join(', ')}`;
  }
  if ('const' in schema) return JSON.stringify(schema.const);
  return 'any value';
}

/**
 * Parse back the values the model sent as strings of JSON (see `jsonStrings`), so the arguments can
 * be validated against the original schema. A string that is not valid JSON stays as it is (the
 * validation then says what is wrong). Never mutates `args`.
 */
export function decodeGeminiArguments(
  args: unknown,
  jsonStrings: readonly JsonStringPath[],
  jsonOrText: readonly JsonOrTextPath[] = [],
): unknown {
  let result = args;
  for (const steps of jsonStrings) result = decodeAt(result, steps, 0, undefined);
  for (const entry of jsonOrText) result = decodeAt(result, entry.steps, 0, entry);
  return result;
}

/**
 * The string at `steps` parsed back: always at a `jsonStrings` path; at a `jsonOrText` one (`entry`)
 * only when it is not valid as text there and what it parses to fits a variant sent as JSON.
 */
function decodeAt(
  value: unknown,
  steps: readonly string[],
  index: number,
  entry: JsonOrTextPath | undefined,
): unknown {
  if (index === steps.length) {
    if (typeof value !== 'string') return value;
    if (entry && validText(value, entry.text)) return value;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return value;
    }
    return entry && !fitsJsonVariant(parsed, entry.json) ? value : parsed;
  }
  const step = steps[index]!;
  if (step === '*' && Array.isArray(value)) {
    let changed = false;
    const items = value.map((item) => {
      const decoded = decodeAt(item, steps, index + 1, entry);
      if (decoded !== item) changed = true;
      return decoded;
    });
    return changed ? items : value;
  }
  if (isSchemaObject(value) && step in value) {
    const child = value[step];
    const decoded = decodeAt(child, steps, index + 1, entry);
    return decoded === child ? value : { ...value, [step]: decoded };
  }
  return value;
}

/**
 * What the Gemini API would refuse in a function declaration's `parameters` (the rules at the top of
 * this file): one sentence per problem, starting with its JSON path; empty when it is accepted.
 *
 * @example
 * geminiSchemaViolations({ type: 'OBJECT', properties: { a: { type: ['STRING', 'NULL'] } } });
 * // ['$.a: type must be one of STRING, NUMBER, INTEGER, BOOLEAN, ARRAY, OBJECT, got ["STRING","NULL"]']
 */
export function geminiSchemaViolations(parameters: JSONSchema): string[] {
  const violations: string[] = [];
  if (parameters.type !== 'OBJECT')
    violations.push(`$: parameters must be type OBJECT, got ${JSON.stringify(parameters.type)}`);
  if (isSchemaObject(parameters.properties)) {
    for (const name of Object.keys(parameters.properties)) {
      if (!GEMINI_PARAMETER_NAME.test(name))
        violations.push(
          `$: parameter name ${JSON.stringify(name)} must start with a letter or an underscore and hold only a-z, A-Z, 0-9 and underscores, at most 64 characters`,
        );
    }
  }
  checkNode(parameters, '$', violations);
  return violations;
}

function checkNode(node: unknown, path: string, violations: string[]): void {
  if (!isSchemaObject(node)) {
    violations.push(`${path}: a schema must be an object, got ${JSON.stringify(node)}`);
    return;
  }
  for (const keyword of Object.keys(node)) {
    if (!ALLOWED_KEYWORDS.has(keyword))
      violations.push(`${path}: keyword "${keyword}" is not in the Gemini subset`);
  }
  const type = node.type;
  const anyOf = node.anyOf;
  if (anyOf !== undefined) {
    if (!Array.isArray(anyOf) || anyOf.length === 0)
      violations.push(`${path}: anyOf must be a non-empty list`);
    else {
      for (const [index, variant] of anyOf.entries())
        checkNode(variant, `${path}/anyOf/${index}`, violations);
    }
  } else if (typeof type !== 'string' || !Object.values(GEMINI_TYPES).includes(type)) {
    violations.push(
      `${path}: type must be one of ${Object.values(GEMINI_TYPES).join(', ')}, got ${JSON.stringify(type)}`,
    );
  }
  for (const [only, keywords] of Object.entries(TYPE_KEYWORDS)) {
    for (const keyword of keywords) {
      if (keyword in node && type !== only)
        violations.push(`${path}: ${keyword} is only allowed for type ${only}`);
    }
  }
  for (const keyword of INT64_KEYWORDS) {
    if (keyword in node && !(typeof node[keyword] === 'string' && /^\d+$/.test(node[keyword] as string))) {
      violations.push(`${path}: ${keyword} must be a decimal string, got ${JSON.stringify(node[keyword])}`);
    }
  }
  for (const keyword of ['minimum', 'maximum']) {
    if (keyword in node && (typeof node[keyword] !== 'number' || (type !== 'NUMBER' && type !== 'INTEGER'))) {
      violations.push(`${path}: ${keyword} must be a number on a NUMBER or INTEGER`);
    }
  }
  for (const keyword of ['title', 'description', 'pattern']) {
    if (keyword in node && typeof node[keyword] !== 'string')
      violations.push(`${path}: ${keyword} must be a string`);
  }
  if ('nullable' in node && typeof node.nullable !== 'boolean')
    violations.push(`${path}: nullable must be a boolean`);
  if ('format' in node && !(typeof type === 'string' && FORMATS[type]?.includes(node.format as string))) {
    violations.push(
      `${path}: format ${JSON.stringify(node.format)} is not supported for type ${JSON.stringify(type)}`,
    );
  }
  if ('enum' in node) {
    const values = node.enum;
    if (
      !Array.isArray(values) ||
      values.length === 0 ||
      !values.every((value) => typeof value === 'string')
    ) {
      violations.push(`${path}: enum must be a non-empty list of strings`);
    }
    if (type !== 'STRING') violations.push(`${path}: enum is only allowed for STRING type`);
  }
  if (type === 'OBJECT') {
    const properties = node.properties;
    if (!isSchemaObject(properties) || Object.keys(properties).length === 0) {
      violations.push(`${path}: properties should be non-empty for OBJECT type`);
    } else {
      for (const [name, property] of Object.entries(properties))
        checkNode(property, `${path}.${name}`, violations);
    }
    // a set: `required` may name thousands of properties
    const names = new Set(isSchemaObject(properties) ? Object.keys(properties) : []);
    for (const keyword of ['required', 'propertyOrdering']) {
      if (!(keyword in node)) continue;
      const list = node[keyword];
      if (!Array.isArray(list) || !list.every((name) => typeof name === 'string' && names.has(name))) {
        violations.push(`${path}: ${keyword} must list only names of its properties`);
      } else if (new Set(list).size !== list.length)
        violations.push(`${path}: ${keyword} lists a name twice`);
    }
  }
  if (type === 'ARRAY') {
    if (!('items' in node)) violations.push(`${path}: items is required for type ARRAY`);
    else checkNode(node.items, `${path}[*]`, violations);
  }
}
