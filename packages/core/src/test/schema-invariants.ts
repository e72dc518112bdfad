import { isDeepStrictEqual } from 'node:util';
import type { JSONSchema } from '../catalog/types.js';
import { resolveLocalRef } from '../schema/inline-refs.js';
import { acceptsNull, type RefResolver, typeList } from '../schema/nullability.js';
import { allowedValues, isSchemaObject } from '../schema/subschemas.js';

/** Options of {@link findSchemaViolations}. */
export interface SchemaViolationOptions {
  /** Whether `handedOut` is the schema for OpenAI strict mode (`strict: true` providers). */
  strict: boolean;
}

/**
 * What is wrong with the schema a provider hands a framework (`handedOut`), compared with the schema
 * the tool was defined with (`original`, which may use `$ref`, `$defs`, `allOf` and OpenAPI's
 * `nullable`). One readable sentence per problem, each starting with the JSON path it is about
 * (`$.labels[*].name`, with `/anyOf/1` for a union variant); empty when the schema is fine.
 *
 * Checked everywhere the two schemas can be followed side by side (properties, nested objects, array
 * items, union variants; a recursive `$ref` is followed once):
 * - no `$ref` is left anywhere in `handedOut`, and its root is `type: "object"`;
 * - every property of the original is still there;
 * - an optional property did not become required (in strict mode it may, if it now accepts `null`);
 * - a required property that did not accept `null` does not accept it now;
 * - an `enum` kept all its values;
 * - strict mode only: every object has `additionalProperties: false` and lists all its properties in `required`.
 *
 * @example
 * const spec = toolSpecOf(tool);
 * expect(findSchemaViolations(tool.inputSchema, spec.inputSchema, { strict: false })).toEqual([]);
 * const strict = strictSchemaOf(spec);
 * if (strict.strict) expect(findSchemaViolations(tool.inputSchema, strict.schema, { strict: true })).toEqual([]);
 */
export function findSchemaViolations(
  original: JSONSchema,
  handedOut: JSONSchema,
  options: SchemaViolationOptions,
): string[] {
  const violations: string[] = [];
  if (handedOut.type !== 'object') {
    violations.push(`$: the root must be type "object", got ${JSON.stringify(handedOut.type)}`);
  }
  forEachSubschema(handedOut, '$', (node, path) => {
    if ('$ref' in node) violations.push(`${path}: $ref ${JSON.stringify(node.$ref)} is left in the schema`);
    if (options.strict) violations.push(...strictObjectViolations(node, path));
  });
  new SchemaComparison(original, options.strict, violations).compare(original, handedOut, '$', []);
  return [...new Set(violations)]; // a property shared by several union variants is compared once per variant
}

/**
 * How many properties of `schema` are optional (not required by their object, or not by every
 * variant of its `anyOf` / `oneOf`) and limited to an `enum` or `const`, at any level that can be followed (properties, nested objects, array items,
 * union variants, `$ref`s into the schema itself). Count the original or the non-strict schema: in a
 * strict schema every property is required.
 *
 * @example
 * countOptionalEnumFields({ type: 'object', properties: { state: { enum: ['open', 'closed'] } } }); // 1
 */
export function countOptionalEnumFields(schema: JSONSchema): number {
  const walker = new SchemaWalker(schema);
  let count = 0;
  const visit = (node: JSONSchema, refsOnPath: readonly string[]): void => {
    const expanded = walker.expand(node, refsOnPath);
    if (!expanded) return;
    const alternatives = walker.alternatives(expanded.parts, expanded.refsOnPath);
    const { properties, required } = objectView(alternatives);
    for (const [name, property] of properties) {
      if (!required.has(name) && walker.allowedValues(property, expanded.refsOnPath)) count++;
      visit(property, expanded.refsOnPath);
    }
    for (const items of new Set(alternatives.map(itemsOf).filter(isSchemaObject)))
      visit(items, expanded.refsOnPath);
  };
  visit(schema, []);
  return count;
}

/** The problems strict mode has with one object schema of the handed-out schema. */
function strictObjectViolations(node: JSONSchema, path: string): string[] {
  if (!typeList(node.type).includes('object') && !('properties' in node)) return [];
  const violations: string[] = [];
  if (node.additionalProperties !== false) {
    violations.push(
      `${path}: strict mode needs additionalProperties: false, got ${JSON.stringify(node.additionalProperties)}`,
    );
  }
  const names = Object.keys(isSchemaObject(node.properties) ? node.properties : {});
  const required = new Set(Array.isArray(node.required) ? node.required : []);
  const unlisted = names.filter((name) => !required.has(name));
  const unknown = [...required].filter((name) => !names.includes(name as string));
  if (unlisted.length > 0)
    violations.push(`${path}: strict mode needs every property in required; missing ${unlisted.join(', ')}`);
  if (unknown.length > 0)
    violations.push(`${path}: required lists ${unknown.join(', ')}, which are not properties`);
  return violations;
}

/**
 * Walks `original` and `handedOut` side by side, appending a violation for each property, required
 * flag, nullability or enum value that changed the wrong way.
 */
class SchemaComparison {
  private readonly original: SchemaWalker;
  /** The handed-out schema has no `$defs`: its `$ref`s (already reported) are not followed. */
  private readonly handedOut = new SchemaWalker(undefined);

  private readonly strict: boolean;
  private readonly violations: string[];

  constructor(originalRoot: JSONSchema, strict: boolean, violations: string[]) {
    this.strict = strict;
    this.violations = violations;
    this.original = new SchemaWalker(originalRoot);
  }

  compare(original: JSONSchema, handedOut: JSONSchema, path: string, refsOnPath: readonly string[]): void {
    const expanded = this.original.expand(original, refsOnPath);
    if (!expanded) return; // a recursive reference, compared where it was first expanded
    const originals = this.original.alternatives(expanded.parts, expanded.refsOnPath);
    const handedOuts = this.handedOut.alternatives(
      this.handedOut.expand(handedOut, [])?.parts ?? [handedOut],
      [],
    );
    this.compareEnums(originals, handedOuts, path);
    this.compareObjects(
      originals.filter(hasProperties),
      handedOuts.filter(isObjectKind),
      path,
      expanded.refsOnPath,
    );
    this.compareItems(originals, handedOuts, path, expanded.refsOnPath);
  }

  private compareEnums(originals: JSONSchema[][], handedOuts: JSONSchema[][], path: string): void {
    const before = valuesOfAll(originals);
    const after = valuesOfAll(handedOuts);
    if (!before || !after) return;
    const lost = before.filter(
      (value) => value !== null && !after.some((kept) => isDeepStrictEqual(kept, value)),
    );
    if (lost.length > 0)
      this.violations.push(`${path}: the enum lost ${lost.map((value) => JSON.stringify(value)).join(', ')}`);
  }

  private compareObjects(
    originals: JSONSchema[][],
    handedOuts: JSONSchema[][],
    path: string,
    refsOnPath: readonly string[],
  ): void {
    if (originals.length > 0 && handedOuts.length === 0) {
      const names = [...objectView(originals).properties.keys()];
      this.violations.push(
        `${path}: is no longer an object schema, so its properties are missing: ${names.join(', ')}`,
      );
      return;
    }
    for (const [before, after, variant] of pairUp(originals, handedOuts)) {
      this.compareProperties(before, after, path + variant, refsOnPath);
    }
  }

  private compareProperties(
    originals: JSONSchema[][],
    handedOutParts: JSONSchema[],
    path: string,
    refsOnPath: readonly string[],
  ): void {
    const before = objectView(originals);
    const after = objectView([handedOutParts]);
    for (const [name, originalProperty] of before.properties) {
      const propertyPath = childPath(path, name);
      const handedOutProperty = after.properties.get(name);
      const wasRequired = before.required.has(name);
      if (!handedOutProperty) {
        this.violations.push(
          `${propertyPath}: the ${wasRequired ? 'required' : 'optional'} property is missing`,
        );
        continue;
      }
      this.compareRequired(
        originalProperty,
        handedOutProperty,
        wasRequired,
        after.required.has(name),
        propertyPath,
        refsOnPath,
      );
      this.compare(originalProperty, handedOutProperty, propertyPath, refsOnPath);
    }
  }

  private compareRequired(
    original: JSONSchema,
    handedOut: JSONSchema,
    wasRequired: boolean,
    isRequired: boolean,
    path: string,
    refsOnPath: readonly string[],
  ): void {
    const acceptsNullNow = acceptsNull(handedOut);
    if (!wasRequired && isRequired && !this.strict) {
      this.violations.push(`${path}: the optional property became required`);
    } else if (!wasRequired && isRequired && !acceptsNullNow) {
      this.violations.push(
        `${path}: the optional property became required without accepting null, so it cannot be left out`,
      );
    } else if (wasRequired && acceptsNullNow && !this.original.acceptsNull(original, refsOnPath)) {
      this.violations.push(`${path}: the required property does not accept null but now does`);
    }
  }

  private compareItems(
    originals: JSONSchema[][],
    handedOuts: JSONSchema[][],
    path: string,
    refsOnPath: readonly string[],
  ): void {
    const arrays = handedOuts.filter(isArrayKind);
    for (const [before, after, variant] of pairUp(
      originals.filter((parts) => itemsOf(parts)),
      arrays,
    )) {
      for (const parts of before)
        this.compare(itemsOf(parts)!, itemsOf(after) ?? {}, `${path}${variant}[*]`, refsOnPath);
    }
  }
}

/**
 * Reads a schema the way a validator does: through `$ref`s into its root and `allOf` parts, and into
 * the variants of `anyOf` / `oneOf`.
 */
class SchemaWalker {
  private readonly resolve: RefResolver;

  constructor(root: JSONSchema | undefined) {
    this.resolve = (ref) => (root ? resolveLocalRef(root, ref) : undefined);
  }

  /**
   * The schema, what its `$ref` points to and its `allOf` parts: everything a value must satisfy.
   * `undefined` when the schema re-enters a reference being expanded on this path (recursion).
   */
  expand(
    schema: JSONSchema,
    refsOnPath: readonly string[],
  ): { parts: JSONSchema[]; refsOnPath: readonly string[] } | undefined {
    const parts: JSONSchema[] = [];
    const refs = [...refsOnPath];
    const add = (node: JSONSchema): boolean => {
      if (typeof node.$ref === 'string') {
        if (refs.includes(node.$ref)) return false;
        refs.push(node.$ref);
      }
      parts.push(node);
      const target = typeof node.$ref === 'string' ? this.resolve(node.$ref) : undefined;
      const nested = [target, ...(Array.isArray(node.allOf) ? node.allOf : [])].filter(isSchemaObject);
      return nested.every(add);
    };
    return add(schema) ? { parts, refsOnPath: refs } : undefined;
  }

  /**
   * The non-null alternatives a value may take: one per variant of the first `anyOf` / `oneOf`
   * among the parts (nested unions flattened), each with the shared parts; the parts alone without a union.
   */
  alternatives(parts: JSONSchema[], refsOnPath: readonly string[]): JSONSchema[][] {
    const union = parts.map((part) => part.anyOf ?? part.oneOf).find(Array.isArray);
    if (!union) return [parts];
    return union.filter(isSchemaObject).flatMap((variant) => {
      const expanded = this.expand(variant, refsOnPath);
      if (!expanded || onlyNull(expanded.parts)) return [];
      return this.alternatives(expanded.parts, expanded.refsOnPath).map((alternative) => [
        ...parts,
        ...alternative,
      ]);
    });
  }

  /** The values an `enum` / `const` limits the schema to, across all its alternatives; `undefined` if any is open. */
  allowedValues(schema: JSONSchema, refsOnPath: readonly string[]): unknown[] | undefined {
    const expanded = this.expand(schema, refsOnPath);
    return expanded && valuesOfAll(this.alternatives(expanded.parts, expanded.refsOnPath));
  }

  /** Whether `null` is valid, counting OpenAPI's `nullable: true` as toolmux's validation does. */
  acceptsNull(schema: JSONSchema, refsOnPath: readonly string[]): boolean {
    const parts = this.expand(schema, refsOnPath)?.parts ?? [schema];
    return acceptsNull(schema, this.resolve) || parts.some((part) => part.nullable === true);
  }
}

/**
 * The properties a value may have in any of its alternatives (first definition wins), and the names
 * every alternative requires: what holds whichever alternative the value takes.
 */
function objectView(alternatives: JSONSchema[][]): {
  properties: Map<string, JSONSchema>;
  required: Set<string>;
} {
  const properties = new Map<string, JSONSchema>();
  for (const part of alternatives.flat()) {
    for (const [name, property] of Object.entries(isSchemaObject(part.properties) ? part.properties : {})) {
      if (isSchemaObject(property) && !properties.has(name)) properties.set(name, property);
    }
  }
  const requiredBy = alternatives.map(
    (parts) => new Set(parts.flatMap((part) => (Array.isArray(part.required) ? part.required : []))),
  );
  const required = new Set(
    [...properties.keys()].filter((name) => requiredBy.every((names) => names.has(name))),
  );
  return { properties, required };
}

function itemsOf(parts: JSONSchema[]): JSONSchema | undefined {
  return parts.map((part) => part.items).find(isSchemaObject);
}

/** The union of the allowed values of every alternative; `undefined` when one of them has no `enum`/`const`. */
function valuesOfAll(alternatives: JSONSchema[][]): unknown[] | undefined {
  const values: unknown[] = [];
  for (const parts of alternatives) {
    const allowed = parts.map(allowedValues).find(Array.isArray);
    if (!allowed) return undefined;
    values.push(...allowed);
  }
  return alternatives.length > 0 ? values : undefined;
}

function onlyNull(parts: JSONSchema[]): boolean {
  return parts.some(
    (part) =>
      isDeepStrictEqual(typeList(part.type), ['null']) || isDeepStrictEqual(allowedValues(part), [null]),
  );
}

function hasProperties(parts: JSONSchema[]): boolean {
  return parts.some((part) => isSchemaObject(part.properties) && Object.keys(part.properties).length > 0);
}

function isObjectKind(parts: JSONSchema[]): boolean {
  return parts.some((part) => typeList(part.type).includes('object') || 'properties' in part);
}

function isArrayKind(parts: JSONSchema[]): boolean {
  return parts.some((part) => typeList(part.type).includes('array') || 'items' in part);
}

/**
 * Which alternatives of the original to compare with which alternative of the handed-out schema: in
 * order when both have as many; the single original with each handed-out one; all originals together
 * with a single handed-out one (a union the handed-out schema dropped, such as a root `anyOf` of
 * `required` groups); none when that is ambiguous. The third element names the variant for paths
 * (`/anyOf/1`) when there are several.
 */
function pairUp(
  originals: JSONSchema[][],
  handedOuts: JSONSchema[][],
): Array<[JSONSchema[][], JSONSchema[], string]> {
  const variant = (index: number) => (handedOuts.length > 1 ? `/anyOf/${index}` : '');
  if (originals.length === handedOuts.length) {
    return originals.map((parts, index) => [[parts], handedOuts[index]!, variant(index)]);
  }
  if (originals.length === 1) return handedOuts.map((parts, index) => [originals, parts, variant(index)]);
  return handedOuts.length === 1 ? [[originals, handedOuts[0]!, '']] : [];
}

/** Keywords of a handed-out schema whose values are subschemas, and how paths name them. */
function childrenOf(keyword: string, value: unknown, path: string): Array<[JSONSchema, string]> {
  if (keyword === 'properties' && isSchemaObject(value)) {
    return Object.entries(value).flatMap(([name, child]) =>
      isSchemaObject(child) ? [[child, childPath(path, name)]] : [],
    );
  }
  if (keyword === 'items' && isSchemaObject(value)) return [[value, `${path}[*]`]];
  if (Array.isArray(value) && ['anyOf', 'oneOf', 'allOf', 'prefixItems', 'items'].includes(keyword)) {
    return value.flatMap((child, index) =>
      isSchemaObject(child) ? [[child, `${path}/${keyword}/${index}`]] : [],
    );
  }
  if (
    isSchemaObject(value) &&
    ['additionalProperties', 'not', 'if', 'then', 'else', 'contains'].includes(keyword)
  ) {
    return [[value, `${path}/${keyword}`]];
  }
  if (isSchemaObject(value) && ['$defs', 'definitions', 'patternProperties'].includes(keyword)) {
    return Object.entries(value).flatMap(([name, child]) =>
      isSchemaObject(child) ? [[child, `${path}/${keyword}/${name}`]] : [],
    );
  }
  return [];
}

function forEachSubschema(
  schema: JSONSchema,
  path: string,
  visit: (node: JSONSchema, path: string) => void,
): void {
  visit(schema, path);
  for (const [keyword, value] of Object.entries(schema)) {
    for (const [child, childPathValue] of childrenOf(keyword, value, path))
      forEachSubschema(child, childPathValue, visit);
  }
}

/** `$.labels` for plain names, `$["x-y"]` for others. */
function childPath(path: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}
