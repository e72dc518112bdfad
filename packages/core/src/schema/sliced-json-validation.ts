import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { JSONSchema } from '../catalog/types.js';
import type { ListedKeys } from '../util/json-slices.js';
import { isPlainObject } from '../util/own-key.js';
import type { Steps } from '../util/slices.js';
import { isSchemaObject } from './subschemas.js';
import { entriesUpTo, type WideObjects } from './value-entries.js';

/**
 * Below this many entries (array items, object values, 256 characters of a string) a part of the
 * arguments goes to Ajv in one call. The unit a sliced check yields between.
 */
export const AJV_CHUNK_ENTRIES = 1024;

/** Keywords that say nothing about a value (or that Ajv ignores here): a schema with others is checked whole. */
const ANNOTATIONS = new Set([
  'title',
  'description',
  'default',
  'examples',
  '$comment',
  'deprecated',
  'readOnly',
  'writeOnly',
  'format',
]);

/** What a sliced check knows and may still do. */
interface Context {
  /** The validator of the subschema at a JSON Pointer of the document (`''`: the document). */
  validatorAt(pointer: string): ValidateFunction | undefined;
  listedKeys: ListedKeys | undefined;
  /** Objects found to have {@link AJV_CHUNK_ENTRIES} entries or more. */
  wide: WeakSet<object>;
}

type Split = 'array' | 'record' | 'object';

/**
 * A document's check of a large value as steps of at most about {@link AJV_CHUNK_ENTRIES} entries
 * each, with Ajv's errors for the whole value, in the order one call gives them: Ajv checks a value
 * in one synchronous call, and a megabyte of invalid items held the event loop for 40–90 ms (an
 * error object for each wrong field).
 *
 * The value is cut where Ajv's errors are the sum of its parts, each part checked by the validator
 * of its own subschema: an array whose schema has no keyword but `items` is checked a run of items
 * at a time (its errors' paths shifted), an object whose schema has no keyword but
 * `additionalProperties` a run of keys at a time, an object whose schema has no keyword but
 * `properties`, `required` and `additionalProperties` with the large arrays and records in it (and
 * in such objects in it) replaced by empty ones (which their schemas take as they are), then each of
 * them on its own, their errors put where Ajv gives them. Defaults are written into the value as a
 * whole check writes them. An array or object of {@link AJV_CHUNK_ENTRIES} entries or more that none
 * of these cuts (`minItems`, `propertyNames`, a `$ref`, an `anyOf` around it…) is not checked here:
 * the check throws an {@link UncutPartError}, and the caller checks the value whole in the
 * validation thread. Smaller parts of any schema, and long strings of a type and length alone, are
 * checked whole.
 *
 * `enough(errors)` is asked as the errors grow (each time they double): true ends the check (the
 * explanation has all the issues it lists).
 */
export function* ajvErrorSteps(
  document: JSONSchema,
  value: unknown,
  options: {
    validatorAt(pointer: string): ValidateFunction | undefined;
    listedKeys?: ListedKeys;
    enough(errors: readonly ErrorObject[]): boolean;
  },
): Steps<ErrorObject[]> {
  const context: Context = {
    validatorAt: options.validatorAt,
    listedKeys: options.listedKeys,
    wide: new WeakSet(),
  };
  const errors: ErrorObject[] = [];
  let askAt = 1024;
  const collector = {
    add(found: readonly ErrorObject[]) {
      for (const error of found) errors.push(error);
    },
    done() {
      if (errors.length < askAt) return false;
      askAt = 2 * errors.length;
      return options.enough(errors);
    },
  };
  yield* partSteps(document, '', value, '', context, collector);
  return errors;
}

/**
 * A part of the value too large to check in one call (see {@link AJV_CHUNK_ENTRIES}) has a schema
 * the sliced check cannot cut: the value is to be checked whole, off the main thread.
 */
export class UncutPartError extends Error {
  constructor(instancePath: string) {
    super(`the part of the value at "${instancePath}" cannot be checked a part at a time`);
    this.name = 'UncutPartError';
  }
}

interface Collector {
  add(errors: readonly ErrorObject[]): void;
  /** Whether the check may stop (asked after each part). */
  done(): boolean;
}

function onlyKeywords(schema: JSONSchema, allowed: readonly string[]): boolean {
  for (const key of Object.keys(schema)) {
    if (!allowed.includes(key) && !ANNOTATIONS.has(key) && !key.startsWith('x-')) return false;
  }
  return true;
}

/**
 * Whether a large value that `schema` does not let be cut is checked whole where it is: a long
 * string whose schema says no more than its type and length (one quick pass over its text, which a
 * copy to the validation thread and back would only lengthen). Not an array or object (Ajv walks
 * its entries, with an error object for each wrong one), nor a string against a `pattern` (RE2 in
 * JavaScript: 40 ms for 900 KB) or a union.
 */
function checkedWhereItIs(schema: unknown, value: unknown): boolean {
  return typeof value === 'string' && isSchemaObject(schema) && onlyKeywords(schema, STRING_KEYWORDS);
}

const STRING_KEYWORDS = ['type', 'minLength', 'maxLength'];

/** How `schema` lets `value` be split, if it does. */
function splitOf(schema: unknown, value: unknown): Split | undefined {
  if (!isSchemaObject(schema)) return undefined;
  if (schema.type === 'array') {
    return Array.isArray(value) && onlyKeywords(schema, ['type', 'items']) ? 'array' : undefined;
  }
  if (schema.type !== 'object' || !isPlainObject(value)) return undefined;
  // not with `propertyNames`: Ajv gives the errors of all the names before those of the values
  if (schema.properties === undefined && onlyKeywords(schema, ['type', 'additionalProperties'])) {
    return 'record';
  }
  return isSchemaObject(schema.properties) &&
    onlyKeywords(schema, ['type', 'properties', 'required', 'additionalProperties'])
    ? 'object'
    : undefined;
}

/** How many entries `value` has, counted up to {@link AJV_CHUNK_ENTRIES} (see `entriesUpTo`). */
function entriesOf(value: unknown, known: WideObjects): number {
  return entriesUpTo(value, AJV_CHUNK_ENTRIES, known);
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** The subschema pointer of a property, as Ajv resolves it in a `$ref` fragment. */
function childPointer(pointer: string, ...keys: string[]): string {
  return pointer + keys.map((key) => `/${encodeURIComponent(escapePointer(key))}`).join('');
}

/** Ajv's errors for `value` against the subschema at `pointer`, with paths under `instancePath`. */
function checkWhole(pointer: string, value: unknown, instancePath: string, context: Context): ErrorObject[] {
  const validate = context.validatorAt(pointer);
  if (!validate) throw new Error(`no validator for the subschema at ${pointer}`);
  if (validate(value)) return [];
  const errors = validate.errors ?? [];
  return instancePath === ''
    ? errors
    : errors.map((error) => ({ ...error, instancePath: instancePath + error.instancePath }));
}

function* partSteps(
  schema: unknown,
  pointer: string,
  value: unknown,
  instancePath: string,
  context: Context,
  collector: Collector,
): Steps<boolean> {
  const large = entriesOf(value, context) >= AJV_CHUNK_ENTRIES;
  const split = large ? splitOf(schema, value) : undefined;
  if (large && split === undefined && !checkedWhereItIs(schema, value)) {
    throw new UncutPartError(instancePath);
  }
  const node = schema as JSONSchema;
  if (split === 'array')
    return yield* arraySteps(node, pointer, value as unknown[], instancePath, context, collector);
  if (split === 'record') {
    return yield* recordSteps(pointer, value as Record<string, unknown>, instancePath, context, collector);
  }
  if (split === 'object') {
    return yield* objectSteps(
      node,
      pointer,
      value as Record<string, unknown>,
      instancePath,
      context,
      collector,
    );
  }
  collector.add(checkWhole(pointer, value, instancePath, context));
  yield;
  return collector.done();
}

/** Items a run at a time, each run checked by the array's own validator (an item of many entries split in turn). */
function* arraySteps(
  schema: JSONSchema,
  pointer: string,
  items: unknown[],
  instancePath: string,
  context: Context,
  collector: Collector,
): Steps<boolean> {
  const runOf = function* (from: number, to: number): Steps<boolean> {
    if (from === to) return false;
    const errors = checkWhole(pointer, items.slice(from, to), '', context);
    collector.add(
      errors.map((error) => {
        const slash = error.instancePath.indexOf('/', 1);
        const end = slash === -1 ? error.instancePath.length : slash;
        const index = Number(error.instancePath.slice(1, end)) + from;
        return { ...error, instancePath: `${instancePath}/${index}${error.instancePath.slice(end)}` };
      }),
    );
    yield;
    return collector.done();
  };
  let from = 0;
  let entries = 0;
  for (let index = 0; index < items.length; index++) {
    const size = entriesOf(items[index], context);
    if (size >= AJV_CHUNK_ENTRIES) {
      if (yield* runOf(from, index)) return true;
      if (
        yield* partSteps(
          schema.items,
          childPointer(pointer, 'items'),
          items[index],
          `${instancePath}/${index}`,
          context,
          collector,
        )
      ) {
        return true;
      }
      from = index + 1;
      entries = 0;
    } else {
      entries += size;
      if (entries >= AJV_CHUNK_ENTRIES) {
        if (yield* runOf(from, index + 1)) return true;
        from = index + 1;
        entries = 0;
      }
    }
  }
  return yield* runOf(from, items.length);
}

/** Keys a run at a time, each run an object of its own checked by the record's validator. */
function* recordSteps(
  pointer: string,
  record: Record<string, unknown>,
  instancePath: string,
  context: Context,
  collector: Collector,
): Steps<boolean> {
  const keys = context.listedKeys?.(record) ?? Object.keys(record);
  let run: Record<string, unknown> = {};
  let entries = 0;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    // an own `__proto__` (JSON.parse makes one) stays a key of the run
    if (key === '__proto__') {
      Object.defineProperty(run, key, {
        value: record[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else run[key] = record[key];
    entries += 1 + entriesOf(record[key], context);
    if (entries >= AJV_CHUNK_ENTRIES || index === keys.length - 1) {
      collector.add(checkWhole(pointer, run, instancePath, context));
      run = {};
      entries = 0;
      yield;
      if (collector.done()) return true;
    }
  }
  return false;
}

/** A large array or record under an object, checked on its own. */
interface LargePart {
  /** Its keys from the object checked (through objects whose schemas allow a split). */
  path: string[];
  /** The place of each of those keys in the `properties` of its object's schema. */
  orders: Map<string, number>[];
  schema: unknown;
  pointer: string;
  holder: Record<string, unknown>;
  value: unknown;
  split: 'array' | 'record';
}

/**
 * The large arrays and records below `object`, through objects whose schemas allow a split, in
 * the order Ajv checks them (each object's `properties` in their order, depth first).
 */
function largePartsOf(
  schema: JSONSchema,
  pointer: string,
  object: Record<string, unknown>,
  instancePath: string,
  context: Context,
  above: { path: string[]; orders: Map<string, number>[] },
  parts: LargePart[],
): void {
  const properties = schema.properties as Record<string, unknown>;
  const names = Object.keys(properties);
  const order = new Map(names.map((name, index) => [name, index]));
  for (const key of names) {
    if (!Object.hasOwn(object, key) || key === '__proto__') continue;
    const value = object[key];
    if (entriesOf(value, context) < AJV_CHUNK_ENTRIES) continue;
    const split = splitOf(properties[key], value);
    const path = { path: [...above.path, key], orders: [...above.orders, order] };
    const child = childPointer(pointer, 'properties', key);
    const childPath = `${instancePath}/${escapePointer(key)}`;
    if (split === undefined) {
      // checked whole with the rest of the object, it would be one long call
      if (!checkedWhereItIs(properties[key], value)) throw new UncutPartError(childPath);
      continue;
    }
    if (split === 'object') {
      largePartsOf(
        properties[key] as JSONSchema,
        child,
        value as Record<string, unknown>,
        childPath,
        context,
        path,
        parts,
      );
    } else {
      parts.push({ ...path, schema: properties[key], pointer: child, holder: object, value, split });
    }
  }
}

/** Whether Ajv gives `error` (its path's keys below the object checked) before the errors of `part`. */
function comesBefore(keys: readonly string[], part: LargePart): boolean {
  for (let level = 0; level < part.path.length; level++) {
    // an error of an object above the part (`required`, `additionalProperties`): Ajv checks those
    // keywords before `properties`
    if (level >= keys.length) return true;
    if (keys[level] === part.path[level]) continue;
    const order = part.orders[level]!;
    // a key out of `properties` is checked by `additionalProperties`, before them too
    return (order.get(keys[level]!) ?? -1) < order.get(part.path[level]!)!;
  }
  return false;
}

/**
 * The object with its large arrays and records (see {@link largePartsOf}) replaced by empty ones
 * (`[]`, `{}`: their schemas take them as they are), then each of them on its own; their errors go
 * where Ajv gives them in a whole check (after those of the properties before them).
 */
function* objectSteps(
  schema: JSONSchema,
  pointer: string,
  object: Record<string, unknown>,
  instancePath: string,
  context: Context,
  collector: Collector,
): Steps<boolean> {
  const parts: LargePart[] = [];
  largePartsOf(schema, pointer, object, instancePath, context, { path: [], orders: [] }, parts);
  if (parts.length === 0) {
    collector.add(checkWhole(pointer, object, instancePath, context));
    yield;
    return collector.done();
  }
  for (const part of parts) part.holder[part.path.at(-1)!] = part.split === 'array' ? [] : {};
  let rest: ErrorObject[];
  try {
    rest = checkWhole(pointer, object, instancePath, context);
  } finally {
    for (const part of parts) part.holder[part.path.at(-1)!] = part.value;
  }
  yield;
  const keysOf = (error: ErrorObject) =>
    error.instancePath
      .slice(instancePath.length + 1)
      .split('/')
      .filter((_, index, all) => index > 0 || all[0] !== '')
      .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  let taken = 0;
  for (const part of parts) {
    let end = taken;
    while (end < rest.length && comesBefore(keysOf(rest[end]!), part)) end++;
    collector.add(rest.slice(taken, end));
    taken = end;
    const path = part.path.map((key) => `/${escapePointer(key)}`).join('');
    if (yield* partSteps(part.schema, part.pointer, part.value, instancePath + path, context, collector)) {
      return true;
    }
  }
  collector.add(rest.slice(taken));
  return collector.done();
}
