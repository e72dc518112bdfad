import { isDeepStrictEqual } from 'node:util';
import type { JSONSchema } from '../catalog/types.js';
import { setOwn } from '../util/own-key.js';
import { typeList } from './nullability.js';
import { ANNOTATION_KEYWORDS, isSchemaObject } from './subschemas.js';

/** The outcome of merging: the merged schema, or why the parts cannot be one schema. */
export type MergeResult = { ok: true; schema: JSONSchema } | { ok: false; reason: string };

type KeywordMerge = { ok: true; value: unknown } | { ok: false; reason: string };

/**
 * Fold `schema.allOf` into `schema` itself: the usual shape of an intersection of objects
 * (`allOf: [Base, { properties: { extra } }]`) becomes one object with all properties. Properties are
 * united (a property defined by several parts is merged the same way), `required` lists are joined,
 * `type`s are intersected, annotations keep their first value. Any other keyword that parts set to different values cannot be merged without
 * changing the meaning, and gives `{ ok: false }`. Subschemas must already be inlined (no `$ref`).
 *
 * @example
 * mergeAllOf({ allOf: [{ type: 'object', properties: { a: { type: 'string' } } }, { properties: { b: { type: 'number' } }, required: ['b'] }] });
 * // { ok: true, schema: { type: 'object', properties: { a: …, b: … }, required: ['b'] } }
 */
export function mergeAllOf(schema: JSONSchema): MergeResult {
  const { allOf, ...base } = schema;
  if (!Array.isArray(allOf)) return { ok: true, schema };
  let merged: JSONSchema = base;
  for (const part of allOf) {
    if (!isSchemaObject(part)) return { ok: false, reason: 'allOf contains a boolean schema' };
    const flattened = mergeAllOf(part);
    if (!flattened.ok) return flattened;
    const result = mergeTwo(merged, flattened.schema);
    if (!result.ok) return result;
    merged = result.schema;
  }
  return { ok: true, schema: merged };
}

function mergeTwo(first: JSONSchema, second: JSONSchema): MergeResult {
  const merged: JSONSchema = { ...first };
  for (const [keyword, value] of Object.entries(second)) {
    if (!Object.hasOwn(merged, keyword)) {
      setOwn(merged, keyword, value);
      continue;
    }
    if (isDeepStrictEqual(merged[keyword], value) || ANNOTATION_KEYWORDS.has(keyword)) continue;
    const result = mergeKeyword(keyword, merged[keyword], value);
    if (!result.ok) return result;
    setOwn(merged, keyword, result.value);
  }
  return { ok: true, schema: merged };
}

function mergeKeyword(keyword: string, first: unknown, second: unknown): KeywordMerge {
  if (keyword === 'required' && Array.isArray(first) && Array.isArray(second)) {
    return { ok: true, value: [...new Set([...first, ...second])] };
  }
  if (keyword === 'type') {
    const secondTypes = typeList(second);
    const common = typeList(first).filter((type) => secondTypes.includes(type));
    if (common.length === 0) {
      return {
        ok: false,
        reason: `allOf parts have no type in common (${JSON.stringify(first)} and ${JSON.stringify(second)})`,
      };
    }
    return { ok: true, value: common.length === 1 ? common[0] : common };
  }
  if (keyword === 'properties' && isSchemaObject(first) && isSchemaObject(second)) {
    return mergeProperties(first, second);
  }
  return { ok: false, reason: `allOf parts set "${keyword}" to different values` };
}

function mergeProperties(first: JSONSchema, second: JSONSchema): KeywordMerge {
  const properties: JSONSchema = { ...first };
  for (const [name, schema] of Object.entries(second)) {
    const existing = Object.hasOwn(properties, name) ? properties[name] : undefined;
    if (existing === undefined) {
      setOwn(properties, name, schema);
      continue;
    }
    if (!isSchemaObject(existing) || !isSchemaObject(schema)) {
      return { ok: false, reason: `allOf parts define property "${name}" differently` };
    }
    const result = mergeAllOf({ allOf: [existing, schema] });
    if (!result.ok) return { ok: false, reason: `property "${name}": ${result.reason}` };
    setOwn(properties, name, result.schema);
  }
  return { ok: true, value: properties };
}
