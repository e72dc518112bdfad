import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

/** What toolmux reads of a zod 4 schema's internals (its definition's parts). */
export interface ZodInternals {
  safeParse?: (value: unknown) => { success: boolean; data?: unknown; error?: { issues: Issue[] } };
  _zod: {
    def: {
      type: string;
      shape?: Record<string, ZodInternals>;
      innerType?: ZodInternals;
      keyType?: ZodInternals;
      valueType?: ZodInternals;
      element?: ZodInternals;
      options?: ZodInternals[];
      in?: ZodInternals;
      out?: ZodInternals;
      checks?: unknown[];
    };
  };
}

export type ProtoKeyParse = { success: true; data: unknown } | { success: false; issues: Issue[] };

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'nonoptional', 'catch']);

/**
 * `schema.safeParse(value)`, except that an own `__proto__` key of a record (`z.record`: metadata,
 * credentials, per-toolkit maps, a JSON Schema's top level) is kept. zod 4 leaves such a key out of
 * what it returns, unchecked (assigning it would set the prototype); here its value is checked with
 * the record's key and value schemas, its issues join zod's others (paths through `__proto__`), and
 * it is put back into zod's copy as an own data property, in the key order of the input. Nothing
 * ever becomes a prototype.
 *
 * When the value holds no such key (the common case), this is zod's result as it is.
 */
export function safeParseKeepingProtoKeys(schema: z.core.$ZodType, value: unknown): ProtoKeyParse {
  const internals = schema as unknown as ZodInternals;
  const result = parse(internals, value);
  if (!hasProtoRecordKey(internals, value)) return result;
  const issues: Issue[] = [];
  const data = restore(internals, value, result.success ? result.data : undefined, [], issues);
  if (!result.success) return { success: false, issues: [...result.issues, ...issues] };
  if (issues.length > 0) return { success: false, issues };
  return { success: true, data };
}

function parse(schema: ZodInternals, value: unknown): ProtoKeyParse {
  const result = (schema as unknown as z.ZodType).safeParse(value);
  return result.success
    ? { success: true, data: result.data }
    : { success: false, issues: result.error.issues };
}

/**
 * Whether `value` has an own `__proto__` key anywhere `schema` reads it as a record key (every
 * branch of a union tried). Values zod passes on whole (`unknown`, `any`) keep the key themselves and
 * are not walked; an object schema names an unknown `__proto__` itself (strict) or drops it with every
 * other unknown key.
 */
function hasProtoRecordKey(schema: ZodInternals | undefined, value: unknown): boolean {
  if (!schema || value === null || typeof value !== 'object') return false;
  const def = schema._zod.def;
  if (WRAPPERS.has(def.type)) return hasProtoRecordKey(def.innerType, value);
  switch (def.type) {
    case 'pipe':
      return hasProtoRecordKey(def.in, value);
    case 'union':
      return (def.options ?? []).some((option) => hasProtoRecordKey(option, value));
    case 'array':
      return Array.isArray(value) && value.some((item) => hasProtoRecordKey(def.element, item));
    case 'object':
      if (Array.isArray(value)) return false;
      for (const [key, field] of Object.entries(def.shape ?? {})) {
        if (Object.hasOwn(value, key) && hasProtoRecordKey(field, (value as Record<string, unknown>)[key])) {
          return true;
        }
      }
      return false;
    case 'record':
      if (Array.isArray(value)) return false;
      if (Object.hasOwn(value, '__proto__')) return true;
      return Object.values(value).some((item) => hasProtoRecordKey(def.valueType, item));
    default:
      return false;
  }
}

/**
 * Walks `input` beside zod's `output` of it (undefined when zod refused it: then only the issues of
 * `__proto__` values are gathered) and returns `output` with each record's `__proto__` key put back.
 */
function restore(
  schema: ZodInternals | undefined,
  input: unknown,
  output: unknown,
  path: PropertyKey[],
  issues: Issue[],
): unknown {
  if (!schema || input === null || typeof input !== 'object') return output;
  const def = schema._zod.def;
  if (WRAPPERS.has(def.type)) return restore(def.innerType, input, output, path, issues);
  switch (def.type) {
    case 'pipe': {
      // what the pipe's second half makes of a transformed input is not the input's shape
      const transforms = def.out?._zod.def.type === 'transform';
      const next = restore(def.in, input, transforms ? undefined : output, path, issues);
      return transforms ? output : next;
    }
    case 'union': {
      // zod's union returns the first option that takes the value
      const chosen = (def.options ?? []).find((option) => parse(option, input).success);
      return chosen ? restore(chosen, input, output, path, issues) : output;
    }
    case 'array': {
      if (!Array.isArray(input)) return output;
      const items = Array.isArray(output) ? output : undefined;
      for (const [index, item] of input.entries()) {
        const next = restore(def.element, item, items?.[index], [...path, index], issues);
        if (items && next !== items[index]) items[index] = next;
      }
      return output;
    }
    case 'object': {
      if (Array.isArray(input)) return output;
      const fields = isObject(output) ? output : undefined;
      for (const [key, field] of Object.entries(def.shape ?? {})) {
        if (!Object.hasOwn(input, key)) continue;
        const before = fields?.[key];
        const next = restore(field, (input as Record<string, unknown>)[key], before, [...path, key], issues);
        if (fields && next !== before) fields[key] = next;
      }
      return output;
    }
    case 'record':
      return restoreRecord(def, input, output, path, issues);
    default:
      return output;
  }
}

function restoreRecord(
  def: ZodInternals['_zod']['def'],
  input: object,
  output: unknown,
  path: PropertyKey[],
  issues: Issue[],
): unknown {
  if (Array.isArray(input)) return output;
  const record = input as Record<string, unknown>;
  const entries = isObject(output) ? output : undefined;
  for (const key of Object.keys(record)) {
    if (key === '__proto__') continue;
    const before = entries && Object.hasOwn(entries, key) ? entries[key] : undefined;
    const next = restore(def.valueType, record[key], before, [...path, key], issues);
    if (entries && next !== before) entries[key] = next;
  }
  if (!Object.hasOwn(record, '__proto__')) return output;
  const where = [...path, '__proto__'];
  const own: unknown = Object.getOwnPropertyDescriptor(record, '__proto__')?.value;
  let failed = false;
  if (def.keyType) {
    const key = parse(def.keyType, '__proto__');
    if (!key.success) {
      failed = true;
      for (const issue of key.issues) issues.push({ ...issue, path: [...where, ...issue.path] } as Issue);
    }
  }
  const item = def.valueType ? safeParseKeepingProtoKeys(def.valueType as never, own) : undefined;
  if (item && !item.success) {
    failed = true;
    for (const issue of item.issues) issues.push({ ...issue, path: [...where, ...issue.path] } as Issue);
  }
  if (failed || !entries) return output;
  // a copy in the input's key order, `__proto__` an own data property of it
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    if (key === '__proto__') {
      Object.defineProperty(copy, key, {
        value: item?.success ? item.data : own,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else if (Object.hasOwn(entries, key)) copy[key] = entries[key];
  }
  for (const key of Object.keys(entries)) if (!Object.hasOwn(copy, key)) copy[key] = entries[key];
  return copy;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
