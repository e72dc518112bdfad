import type { JSONSchema } from '../catalog/types.js';
import { setOwn } from '../util/own-key.js';
import { shownValue } from '../util/stored-text.js';
import { replaceOpenApiNullable } from './nullability.js';
import { forEachSubschema, isSchemaObject, transformSchemaTree } from './subschemas.js';

/**
 * Older drafts' spellings of what draft 2020-12 says otherwise, rewritten in one schema object (not
 * its children), so that the validator (Ajv's 2020-12 dialect) and every model API read one schema
 * alike. Draft 2020-12's meta-schema refuses some of them, and so do model APIs that check tool
 * schemas against it (Anthropic refuses the whole request: "JSON schema is invalid. It must match
 * JSON Schema draft 2020-12"):
 *
 * - draft-04's boolean `exclusiveMinimum` / `exclusiveMaximum` beside `minimum` / `maximum`: `true`
 *   becomes the numeric bound (`{ minimum: 0, exclusiveMinimum: true }` → `{ exclusiveMinimum: 0 }`),
 *   `false` (and a `true` beside no numeric bound, which bounds nothing) goes;
 * - draft-04…07 tuples: `items: [...]` becomes `prefixItems`, and `additionalItems` its `items`
 *   (`additionalItems` beside no tuple, which constrains nothing, goes);
 * - draft-04…07 `dependencies`: a list of names becomes `dependentRequired`, a schema
 *   `dependentSchemas` (joined to one already there: the names listed once, the schemas under `allOf`);
 * - `$schema` (naming an older draft, or any): the document is read as 2020-12 whatever it says;
 * - a `pattern` (or a `patternProperties` name) that escapes a character needing no escape (`\-`,
 *   `\_`, `\:` outside a class, as OpenAPI documents write them, and as PCRE, Python and Java read
 *   them): JSON Schema's regular expressions are ECMAScript's in `u` mode, which refuses such an
 *   escape, so the tool's every call failed (TOOL_DEFINITION_INVALID); the escape goes (see
 *   {@link unicodeModePattern}).
 *
 * A value these forms do not fit (`exclusiveMinimum: "0"`, `items: 5`) is left as it is, for the
 * validator to refuse. The same object when there is nothing to change.
 */
export function draft2020Keywords(schema: JSONSchema): JSONSchema {
  if (!hasOlderForm(schema)) return schema;
  const result: JSONSchema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (!REWRITTEN.has(keyword)) setOwn(result, keyword, value);
  }
  for (const [exclusive, bound] of BOUNDS) {
    const flag = schema[exclusive];
    if (typeof flag !== 'boolean') {
      if (flag !== undefined) result[exclusive] = flag;
      if (schema[bound] !== undefined) result[bound] = schema[bound];
    } else if (flag && typeof schema[bound] === 'number') result[exclusive] = schema[bound];
    else if (schema[bound] !== undefined) result[bound] = schema[bound];
  }
  if (Array.isArray(schema.items) && schema.prefixItems === undefined) {
    result.prefixItems = schema.items;
    if (schema.additionalItems !== undefined) result.items = schema.additionalItems;
  } else if (schema.items !== undefined) result.items = schema.items;
  if (isSchemaObject(schema.dependencies)) splitDependencies(schema.dependencies, result);
  else if (schema.dependencies !== undefined) result.dependencies = schema.dependencies;
  if (typeof schema.pattern === 'string') result.pattern = unicodeModePattern(schema.pattern);
  if (isSchemaObject(schema.patternProperties) && patternNamesToRewrite(schema.patternProperties)) {
    const properties: JSONSchema = {};
    for (const [name, subschema] of Object.entries(schema.patternProperties)) {
      const rewritten = unicodeModePattern(name);
      // `^a\_b$` beside `^a_b$`: one name now, and a property must match both subschemas
      const before = Object.hasOwn(properties, rewritten) ? properties[rewritten] : undefined;
      setOwn(properties, rewritten, before === undefined ? subschema : { allOf: [before, subschema] });
    }
    result.patternProperties = properties;
  }
  return result;
}

/** What ECMAScript reads as syntax in a pattern: escaped, these stay escaped (so does `/`). */
const SYNTAX_CHARACTERS = new Set('^$\\.*+?()[]{}|/');

/**
 * `pattern` with the escapes `u` mode refuses but a reader of any other dialect takes for the
 * character itself (`\-` outside a class, `\_`, `\:`, `\#`, `\@`, an escaped space or non-ASCII
 * letter) written as that character, when that makes it a pattern `u` mode reads; else `pattern`
 * itself (also when it has none: letters and digits after `\` are escapes of their own, or errors
 * this does not guess at). Linear in its length.
 */
export function unicodeModePattern(pattern: string): string {
  if (!pattern.includes('\\') || compilesInUnicodeMode(pattern)) return pattern;
  let out = '';
  let inClass = false;
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === '\\' && index + 1 < pattern.length) {
      const next = pattern[index + 1]!;
      index++;
      const needless =
        !SYNTAX_CHARACTERS.has(next) && !/[A-Za-z0-9]/.test(next) && !(next === '-' && inClass);
      out += needless ? next : `\\${next}`;
    } else {
      if (char === '[' && !inClass) inClass = true;
      else if (char === ']' && inClass) inClass = false;
      out += char;
    }
  }
  return compilesInUnicodeMode(out) ? out : pattern;
}

function compilesInUnicodeMode(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}

/**
 * The first `pattern` (or `patternProperties` name) of `schema`, at any depth, that is no regular
 * expression in `u` mode, with why (`pattern "(" is not a regular expression: Unterminated group`),
 * or `undefined`. Draft 2020-12's meta-schema says they are regular expressions (`format: "regex"`),
 * which a meta-schema check does not test.
 */
export function invalidPatternProblem(schema: JSONSchema): string | undefined {
  const stack: JSONSchema[] = [schema];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const patterns = [
      ...(typeof node.pattern === 'string' ? [node.pattern] : []),
      ...(isSchemaObject(node.patternProperties) ? Object.keys(node.patternProperties) : []),
    ];
    for (const pattern of patterns) {
      try {
        new RegExp(pattern, 'u');
      } catch (error) {
        const why = (error as Error).message.replace(/^Invalid regular expression: \/.*\/u?: /s, '');
        return `pattern ${shownValue(pattern)} is not a regular expression: ${why}`;
      }
    }
    forEachSubschema(node, (subschema) => stack.push(subschema));
  }
  return undefined;
}

/** Whether a name of `patternProperties` is one {@link unicodeModePattern} rewrites. */
function patternNamesToRewrite(properties: JSONSchema): boolean {
  return Object.keys(properties).some((name) => unicodeModePattern(name) !== name);
}

/** `[exclusive keyword, its bound]` of draft-04. */
const BOUNDS = [
  ['exclusiveMinimum', 'minimum'],
  ['exclusiveMaximum', 'maximum'],
] as const;

/** The keywords {@link draft2020Keywords} writes itself (others are copied as they are). */
const REWRITTEN: ReadonlySet<string> = new Set([
  '$schema',
  'exclusiveMinimum',
  'minimum',
  'exclusiveMaximum',
  'maximum',
  'items',
  'additionalItems',
  'dependencies',
]);

/** Whether `schema` itself (not its children) has a form {@link draft2020Keywords} rewrites. */
function hasOlderForm(schema: JSONSchema): boolean {
  return (
    '$schema' in schema ||
    typeof schema.exclusiveMinimum === 'boolean' ||
    typeof schema.exclusiveMaximum === 'boolean' ||
    (Array.isArray(schema.items) && schema.prefixItems === undefined) ||
    'additionalItems' in schema ||
    isSchemaObject(schema.dependencies) ||
    (typeof schema.pattern === 'string' && unicodeModePattern(schema.pattern) !== schema.pattern) ||
    (isSchemaObject(schema.patternProperties) && patternNamesToRewrite(schema.patternProperties))
  );
}

/** `dependencies` as `dependentRequired` and `dependentSchemas`, into `result` (which holds those already written). */
function splitDependencies(dependencies: JSONSchema, result: JSONSchema): void {
  const required: Record<string, unknown> = isSchemaObject(result.dependentRequired)
    ? { ...result.dependentRequired }
    : {};
  const schemas: Record<string, unknown> = isSchemaObject(result.dependentSchemas)
    ? { ...result.dependentSchemas }
    : {};
  const left: Record<string, unknown> = {};
  for (const [name, dependency] of Object.entries(dependencies)) {
    if (Array.isArray(dependency)) {
      const before = required[name];
      setOwn(required, name, Array.isArray(before) ? [...new Set([...before, ...dependency])] : dependency);
    } else if (isSchemaObject(dependency) || typeof dependency === 'boolean') {
      const before = schemas[name];
      setOwn(schemas, name, before === undefined ? dependency : { allOf: [before, dependency] });
    } else setOwn(left, name, dependency);
  }
  if (Object.keys(required).length > 0) result.dependentRequired = required;
  if (Object.keys(schemas).length > 0) result.dependentSchemas = schemas;
  // what is neither (invalid in every draft) stays, for the validator to refuse
  if (Object.keys(left).length > 0) result.dependencies = left;
}

/**
 * `schema` with {@link draft2020Keywords} applied at every depth: a copy when anything changes (the
 * input is not modified), else `schema` itself. Where a tool's schema enters toolmux (`defineTool`:
 * custom tools, MCP servers' tools, OpenAPI operations), so that search, `TOOLMUX_GET_TOOL_SCHEMAS`,
 * the validator and every provider read the same 2020-12 schema.
 *
 * @example
 * toDraft2020Schema({ type: 'object', properties: { n: { type: 'number', minimum: 0, exclusiveMinimum: true } } });
 * // { type: 'object', properties: { n: { type: 'number', exclusiveMinimum: 0 } } }
 */
export function toDraft2020Schema(schema: JSONSchema): JSONSchema {
  return anyOlderForm(schema) ? transformSchemaTree(schema, draft2020Keywords) : schema;
}

/** Whether a subschema of `schema` at any depth (or `schema` itself) has an older draft's form. */
function anyOlderForm(schema: JSONSchema): boolean {
  const stack: JSONSchema[] = [schema];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (hasOlderForm(node)) return true;
    forEachSubschema(node, (subschema) => stack.push(subschema));
  }
  return false;
}

/**
 * One schema node as the validator and the schema shaped for providers read it: older drafts' forms
 * as draft 2020-12 says them ({@link draft2020Keywords}), and OpenAPI's `nullable` as a `null` type.
 */
export function modernKeywords(schema: JSONSchema): JSONSchema {
  return replaceOpenApiNullable(draft2020Keywords(schema));
}
