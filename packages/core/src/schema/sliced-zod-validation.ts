import { any, length, maxLength, minLength, refine, ZodArray, type z } from 'zod';
import type { StandardSchemaV1 } from '../catalog/standard-schema.js';
import type { ListedKeys } from '../util/json-slices.js';
import type { Steps } from '../util/slices.js';
import { entriesUpTo, type WideObjects } from './value-entries.js';

type Schema = z.core.$ZodType;
type Def = { type: string; checks?: unknown[] } & Record<string, unknown>;
type Key = PropertyKey;

/** An issue of a zod validation: its path (keys) and message. */
export interface ZodPathIssue {
  path: Key[];
  message: string;
  /** zod's code of the issue (a pipe goes on past `unrecognized_keys` alone). */
  code?: string;
}

/** The outcome of validating a part of the arguments: its output when it has no issues. */
interface PartResult {
  issues: ZodPathIssue[];
  value?: unknown;
}

/**
 * What a sliced validation may still do (how many issues it may still list: below 0, it has more
 * than it lists and stops), and what it knows of the arguments' wide objects.
 */
interface IssueBudget {
  left: number;
  /** The keys of wide objects a walk of the arguments listed already. */
  listedKeys: ListedKeys | undefined;
  /** Objects found to have {@link ZOD_CHUNK_ENTRIES} entries or more (listing their keys again is long). */
  wide: WeakSet<object>;
}

/**
 * Below this many entries (array items, object values, 256 characters of a string) a part of the
 * arguments goes to zod in one call: well under a millisecond of valid items, a few of invalid ones
 * (zod builds an issue for each). The unit a sliced validation yields between.
 */
export const ZOD_CHUNK_ENTRIES = 1024;

/**
 * A zod schema's validation of large arguments as steps ({@link Steps}) of at most about
 * {@link ZOD_CHUNK_ENTRIES} entries each, with zod's own result: zod parses a value in one
 * synchronous call, and a megabyte of invalid items held the event loop for a third of a second (an
 * issue per wrong field, each with its message), valid ones tens of milliseconds.
 *
 * The value is cut where zod's result is the sum of its parts, and each part goes to zod itself
 * (through its Standard Schema `validate`), so transforms, defaults, refinements and messages are
 * zod's: an array without checks of its own is validated a run of items at a time (zod's result for
 * `[...a, ...b]` is its result for `a` then `b`, the paths of `b` shifted), a record of string keys
 * a run of keys at a time, an object without checks of its own with its large properties taken out
 * (a copy of its schema takes them as they are) and each validated on its own, then put back in its
 * output. So is an array with zod's length checks (its items, then the checks on its length), a
 * discriminated union (the option its discriminator names), a pipe (its input, then its output
 * schema on that output) and a record of an enum's keys (each key's value on its own). Anything else
 * goes to zod whole: a plain union and a refinement over the whole, whose answers hang on whether
 * the parts' issues end the parse (a flag zod's results do not carry).
 *
 * Past `maxIssues` issues the validation stops and `cut` says so (zod would have gone on listing an
 * issue for every wrong item). Schemas that are not zod's go to their `validate` whole.
 *
 * @throws {Error} `ASYNC` (see {@link AsyncSchemaError}) when a part of the schema is async.
 */
export function* zodValidationSteps(
  schema: StandardSchemaV1,
  input: unknown,
  maxIssues: number,
  listedKeys?: ListedKeys,
): Steps<{ issues: ZodPathIssue[]; cut: boolean; value?: unknown }> {
  const budget: IssueBudget = { left: maxIssues, listedKeys, wide: new WeakSet() };
  const result = yield* partSteps(schema as unknown as Schema, input, budget);
  const cut = result.issues.length > maxIssues;
  if (cut) result.issues.length = maxIssues;
  return { ...result, cut };
}

/** A part of the schema's `validate` answered a promise: async refinements are not supported. */
export class AsyncSchemaError extends Error {
  constructor() {
    super('async schema');
    this.name = 'AsyncSchemaError';
  }
}

/** A schema of the same kind (and copy of zod) as `schema`, of `def`. */
function sameKind(schema: Schema, def: Def): Schema {
  const Constructor = (schema as unknown as { _zod: { constr: new (def: Def) => Schema } })._zod.constr;
  return new Constructor(def);
}

function defOf(schema: Schema): Def | undefined {
  const def = (schema as { _zod?: { def?: unknown } })?._zod?.def;
  return typeof def === 'object' && def !== null && typeof (def as Def).type === 'string'
    ? (def as Def)
    : undefined;
}

function withoutChecks(def: Def): boolean {
  return def.checks === undefined || def.checks.length === 0;
}

type Check = { _zod: { def: { check?: string; when?: unknown } & Record<string, unknown> } };

/**
 * The `when` of zod's own length checks (`.min()`, `.max()`, `.length()`, `.nonempty()`), by its
 * source: it runs them whatever issues the items have, unless one of those ended the parse (`abort`).
 * A check given a `when` of its own is not one of these.
 */
const LENGTH_CHECK_WHEN = new Map(
  [minLength(0), maxLength(0), length(0)].map((check) => {
    const { def } = (check as unknown as Check)._zod;
    return [def.check, String(def.when)];
  }),
);

/**
 * Whether an array schema's checks are all zod's length checks, made by this copy of zod (whose
 * messages they get here) and with no error map of the array's own (it would word their issues):
 * its result is then the items' result, then the checks' issues on the array's length.
 */
function lengthChecked(schema: Schema, def: Def): boolean {
  if (def.error !== undefined || (schema as { _zod: { constr?: unknown } })._zod.constr !== ZodArray) {
    return false;
  }
  return (def.checks as Check[]).every(({ _zod: { def: check } }) => {
    const when = check.check === undefined ? undefined : LENGTH_CHECK_WHEN.get(check.check);
    return when !== undefined && String(check.when) === when;
  });
}

/**
 * What a length-checked array's parts need (see {@link lengthChecked}): a copy of its schema whose
 * only check tells whether the items' issues ended the parse (zod asks a check's `when` only when
 * they did not), and a schema of its checks alone (on a value of any items: zod's own issues and
 * messages for the array's length, without a walk of its items). By schema.
 */
const lengthCheckedParts = new WeakMap<Schema, { items: Schema; checks: Schema }>();

/** Whether the last validation by a `lengthCheckedParts` items schema asked its check. */
let itemsWentOn = false;

const goingOn = refine(() => true, {
  when: () => {
    itemsWentOn = true;
    return false;
  },
});

function partsOf(schema: Schema, def: Def): { items: Schema; checks: Schema } {
  let parts = lengthCheckedParts.get(schema);
  if (!parts) {
    parts = {
      items: sameKind(schema, { ...def, checks: [goingOn] }),
      checks: any().check(...(def.checks as never[])) as unknown as Schema,
    };
    lengthCheckedParts.set(schema, parts);
  }
  return parts;
}

/**
 * The least maximum of an array's length checks: past it, zod answers the check's issue alone and
 * does not look at the items (one call of no walk), as the checks schema alone would not.
 */
function leastMaximum(def: Def): number {
  let least = Infinity;
  for (const { _zod } of def.checks as Check[]) {
    const maximum = _zod.def.maximum ?? _zod.def.length;
    if (typeof maximum === 'number' && maximum < least) least = maximum;
  }
  return least;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Zod's own call on a part: its issues with paths under `prefix`. */
function validateWhole(schema: Schema, value: unknown, prefix: readonly Key[]): PartResult {
  const result = (schema as unknown as StandardSchemaV1)['~standard'].validate(value);
  if (result instanceof Promise) {
    // the rejection (if any) is the async validation's, which is not waited for
    result.catch(() => {});
    throw new AsyncSchemaError();
  }
  if (!result.issues) return { issues: [], value: result.value };
  return {
    issues: result.issues.map((issue) => ({
      path: [
        ...prefix,
        ...(issue.path ?? []).map((segment) => (typeof segment === 'object' ? segment.key : segment)),
      ],
      message: issue.message,
      code: (issue as { code?: string }).code,
    })),
  };
}

/** How many entries `value` has, counted up to {@link ZOD_CHUNK_ENTRIES} (see `entriesUpTo`). */
function entriesOf(value: unknown, known: WideObjects): number {
  return entriesUpTo(value, ZOD_CHUNK_ENTRIES, known);
}

/**
 * The kind of split a schema allows for `value`, looking through `optional`, `nullable` and
 * `default` wrappers without checks (for a value they do not replace, their output is their inner
 * schema's): `undefined` when zod must see the value whole.
 */
function splittable(schema: Schema, value: unknown): { schema: Schema; def: Def } | undefined {
  let current = schema;
  for (let depth = 0; depth < 16; depth++) {
    const def = defOf(current);
    if (!def) return undefined;
    if (!withoutChecks(def)) {
      const lengths = def.type === 'array' && Array.isArray(value) && lengthChecked(current, def);
      // past a maximum zod answers without a walk of the items: in one call of its own
      return lengths && value.length <= leastMaximum(def) ? { schema: current, def } : undefined;
    }
    if (def.type === 'union' && typeof def.discriminator === 'string') {
      // zod validates the value by the option its discriminator names, as if it were that option
      const option = isPlainObject(value) ? optionNamed(def, value) : undefined;
      if (!option) return undefined;
      current = option;
    } else if (def.type === 'pipe') {
      // not a codec (whose `transform` runs between its two schemas)
      return def.transform === undefined ? { schema: current, def } : undefined;
    } else if (def.type === 'optional' || def.type === 'default') {
      if (value === undefined) return undefined;
      current = def.innerType as Schema;
    } else if (def.type === 'nullable') {
      if (value === null) return undefined;
      current = def.innerType as Schema;
    } else if (def.type === 'array') return Array.isArray(value) ? { schema: current, def } : undefined;
    else if (def.type === 'record') {
      const keyDef = defOf(def.keyType as Schema);
      if (!isPlainObject(value)) return undefined;
      if (keyDef?.type === 'string') return { schema: current, def };
      // a copy of the record's schema is made of its constructor
      const made = (current as { _zod: { constr?: unknown } })._zod.constr;
      return typeof made === 'function' && enumKeysOf(def) ? { schema: current, def } : undefined;
    } else if (def.type === 'object') {
      const extend = (current as { extend?: unknown }).extend;
      return typeof extend === 'function' && isPlainObject(def.shape) && isPlainObject(value)
        ? { schema: current, def }
        : undefined;
    } else return undefined;
  }
  return undefined;
}

/**
 * The option of a discriminated union that `value`'s discriminator names, found as zod finds it (by
 * the values each option's discriminator takes): `undefined` when none or more than one does (zod
 * then answers one issue, or tries each option: in one call, as a union does).
 */
function optionNamed(def: Def, value: Record<string, unknown>): Schema | undefined {
  const discriminator = def.discriminator as string;
  if (def.unionFallback || !Object.hasOwn(value, discriminator)) return undefined;
  const named = value[discriminator];
  let found: Schema | undefined;
  for (const option of def.options as Schema[]) {
    const values = (option as { _zod: { propValues?: Record<string, Set<unknown>> } })._zod.propValues;
    if (!values?.[discriminator]?.has(named)) continue;
    if (found) return undefined;
    found = option;
  }
  return found;
}

function* partSteps(
  schema: Schema,
  value: unknown,
  budget: IssueBudget,
  prefix: readonly Key[] = [],
): Steps<PartResult> {
  const split = entriesOf(value, budget) < ZOD_CHUNK_ENTRIES ? undefined : splittable(schema, value);
  if (!split) {
    const result = validateWhole(schema, value, prefix);
    budget.left -= result.issues.length;
    yield;
    return result;
  }
  if (split.def.type === 'array')
    return yield* arraySteps(split.schema, split.def, value as unknown[], budget, prefix);
  if (split.def.type === 'pipe') return yield* pipeSteps(split.schema, split.def, value, budget, prefix);
  if (split.def.type === 'record') {
    const keys = enumKeysOf(split.def);
    if (keys) {
      return yield* enumRecordSteps(
        split.schema,
        split.def,
        keys,
        value as Record<string, unknown>,
        budget,
        prefix,
      );
    }
    return yield* recordSteps(split.schema, value as Record<string, unknown>, budget, prefix);
  }
  return yield* objectSteps(split.schema, split.def, value as Record<string, unknown>, budget, prefix);
}

/**
 * A pipe (`.transform()`, `.pipe()`, `z.preprocess()`): its input schema, then its output schema on
 * that output, each split in turn. zod stops at the input's issues, and hands the output schema the
 * input's `unrecognized_keys` issues along with the value: that case goes to zod whole.
 */
function* pipeSteps(
  schema: Schema,
  def: Def,
  value: unknown,
  budget: IssueBudget,
  prefix: readonly Key[],
): Steps<PartResult> {
  const left = yield* partSteps(def.in as Schema, value, budget, prefix);
  if (left.issues.length === 0) return yield* partSteps(def.out as Schema, left.value, budget, prefix);
  if (left.issues.some((issue) => issue.code !== 'unrecognized_keys')) return left;
  budget.left += left.issues.length;
  const whole = validateWhole(schema, value, prefix);
  budget.left -= whole.issues.length;
  yield;
  return whole;
}

/** Items a run at a time (an item of many entries on its own, split in turn). */
function* arraySteps(
  schema: Schema,
  def: Def,
  items: unknown[],
  budget: IssueBudget,
  prefix: readonly Key[],
): Steps<PartResult> {
  const issues: ZodPathIssue[] = [];
  const output: unknown[] = [];
  const checked = withoutChecks(def) ? undefined : partsOf(schema, def);
  // whether zod would run the length checks after the items (no item's issue ended the parse)
  let checksRun = true;
  const runOf = function* (from: number, to: number): Steps<void> {
    if (from === to) return;
    itemsWentOn = false;
    const result = validateWhole(checked?.items ?? schema, items.slice(from, to), []);
    if (checked && !itemsWentOn) checksRun = false;
    for (const issue of result.issues) {
      issues.push({
        path: [...prefix, (issue.path[0] as number) + from, ...issue.path.slice(1)],
        message: issue.message,
        code: issue.code,
      });
    }
    budget.left -= result.issues.length;
    if (issues.length === 0) for (const item of result.value as unknown[]) output.push(item);
    yield;
  };
  let from = 0;
  let entries = 0;
  for (let index = 0; index < items.length && budget.left >= 0; index++) {
    const size = entriesOf(items[index], budget);
    // an item of a length-checked array is not split on its own: its issues would not tell whether
    // one of them ended the parse (which skips the checks)
    if (size >= ZOD_CHUNK_ENTRIES && !checked) {
      yield* runOf(from, index);
      const item = yield* partSteps(def.element as Schema, items[index], budget, [...prefix, index]);
      for (const issue of item.issues) issues.push(issue);
      if (issues.length === 0) output.push(item.value);
      from = index + 1;
      entries = 0;
    } else {
      entries += size;
      if (entries >= ZOD_CHUNK_ENTRIES) {
        yield* runOf(from, index + 1);
        from = index + 1;
        entries = 0;
      }
    }
  }
  if (budget.left >= 0) yield* runOf(from, items.length);
  if (checked && checksRun && budget.left >= 0) {
    // zod's issues for the items, then those of the checks: on the length alone
    const lengths = validateWhole(checked.checks, items, prefix);
    for (const issue of lengths.issues) issues.push(issue);
    budget.left -= lengths.issues.length;
  }
  return issues.length > 0 ? { issues } : { issues, value: output };
}

/** Keys a run at a time, each run a record of its own (zod skips `__proto__`, so the runs do). */
function* recordSteps(
  schema: Schema,
  record: Record<string, unknown>,
  budget: IssueBudget,
  prefix: readonly Key[],
): Steps<PartResult> {
  const issues: ZodPathIssue[] = [];
  const output: Record<string, unknown> = {};
  const keys = budget.listedKeys?.(record) ?? Object.keys(record);
  let run: Record<string, unknown> = {};
  let entries = 0;
  const validateRun = function* (): Steps<void> {
    if (entries === 0) return;
    const result = validateWhole(schema, run, prefix);
    for (const issue of result.issues) issues.push(issue);
    budget.left -= result.issues.length;
    if (issues.length === 0) Object.assign(output, result.value);
    run = {};
    entries = 0;
    yield;
  };
  let index = 0;
  for (; index < keys.length && budget.left >= 0; index++) {
    const key = keys[index]!;
    if (key === '__proto__') continue;
    run[key] = record[key];
    entries += 1 + entriesOf(record[key], budget);
    if (entries >= ZOD_CHUNK_ENTRIES) yield* validateRun();
  }
  if (budget.left >= 0) yield* validateRun();
  return issues.length > 0 ? { issues } : { issues, value: output };
}

/**
 * The keys of a record whose keys are an enum's or a literal's values (without checks), as zod
 * lists them (`__proto__` left out): zod validates the value of each, then names the others.
 */
function enumKeysOf(def: Def): string[] | undefined {
  const keyType = def.keyType as Schema;
  const keyDef = defOf(keyType);
  if (
    def.partial ||
    !keyDef ||
    (keyDef.type !== 'enum' && keyDef.type !== 'literal') ||
    !withoutChecks(keyDef)
  ) {
    return undefined;
  }
  const values = (keyType as { _zod: { values?: Set<unknown> } })._zod.values;
  if (!(values instanceof Set)) return undefined;
  const keys: string[] = [];
  for (const key of values) {
    if (typeof key !== 'string' && typeof key !== 'number') return undefined;
    if (key !== '__proto__') keys.push(String(key));
  }
  return keys;
}

/** A record schema whose values are taken as they are, by schema: its key issues alone. */
const recordTakingAsIs = new WeakMap<Schema, Schema>();

/**
 * A record of an enum's keys: a copy of its schema taking the values as they are (its issues of
 * unknown keys), then the value of each key on its own, put back in its output in its place.
 */
function* enumRecordSteps(
  schema: Schema,
  def: Def,
  keys: readonly string[],
  record: Record<string, unknown>,
  budget: IssueBudget,
  prefix: readonly Key[],
): Steps<PartResult> {
  let taking = recordTakingAsIs.get(schema);
  if (!taking) {
    taking = sameKind(schema, { ...def, valueType: any() });
    recordTakingAsIs.set(schema, taking);
  }
  return yield* restThenParts(taking, record, keys, () => def.valueType as Schema, keys, budget, prefix);
}

/**
 * `object` validated by `rest` (a copy of its schema that takes the values at `keys` as they are),
 * then the value at each of `keys` by its own schema; their outputs put back in the rest's output in
 * their places, the issues in zod's order (see {@link inKeyOrder}, by the keys of `order`).
 */
function* restThenParts(
  rest: Schema,
  object: Record<string, unknown>,
  keys: readonly string[],
  schemaAt: (key: string) => Schema,
  order: readonly string[],
  budget: IssueBudget,
  prefix: readonly Key[],
): Steps<PartResult> {
  const taken = validateWhole(rest, object, prefix);
  yield;
  const issues = [...taken.issues];
  const outputs = new Map<string, unknown>();
  for (const key of keys) {
    if (budget.left < 0) break;
    const part = yield* partSteps(schemaAt(key), object[key], budget, [...prefix, key]);
    for (const issue of part.issues) issues.push(issue);
    outputs.set(key, part.value);
  }
  // counted after the values': the rest's issues under a later key come after theirs in zod's
  // order, so the values go on until they alone pass the listed issues
  budget.left -= taken.issues.length;
  if (issues.length > 0) return { issues: inKeyOrder(issues, order, prefix) };
  const output = taken.value as Record<string, unknown>;
  for (const [key, value] of outputs) output[key] = value;
  return { issues, value: output };
}

/**
 * Issues in zod's order for an object or record: by the key they are under, in the order of `keys`;
 * the object's own (unknown keys) last; those under one key in the order they came.
 */
function inKeyOrder(issues: ZodPathIssue[], keys: readonly string[], prefix: readonly Key[]): ZodPathIssue[] {
  const order = new Map(keys.map((key, index) => [key, index]));
  const rank = (issue: ZodPathIssue) =>
    issue.path.length > prefix.length ? (order.get(String(issue.path[prefix.length])) ?? Infinity) : Infinity;
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => rank(a.issue) - rank(b.issue) || a.index - b.index)
    .map(({ issue }) => issue);
}

/**
 * The schema with `keys` taking any value as it is, by schema and keys: made (a zod object, its
 * parser compiled at its first use) once per set of large properties.
 */
const withAnyAt = new WeakMap<Schema, Map<string, Schema>>();

function schemaTakingAsIs(schema: Schema, keys: readonly string[]): Schema {
  let byKeys = withAnyAt.get(schema);
  if (!byKeys) {
    byKeys = new Map();
    withAnyAt.set(schema, byKeys);
  }
  const id = JSON.stringify(keys);
  let taking = byKeys.get(id);
  if (!taking) {
    const extend = (schema as unknown as { extend(shape: Record<string, unknown>): Schema }).extend;
    taking = extend.call(schema, Object.fromEntries(keys.map((key) => [key, any()])));
    // a schema's set of large properties comes from the arguments: a few are kept, not all
    if (byKeys.size >= 16) byKeys.clear();
    byKeys.set(id, taking);
  }
  return taking;
}

/**
 * The object with its large properties taken out (validated by a copy of its schema that takes
 * them as they are), then each of them on its own; their outputs go back in the object's output, in
 * their places. Issues in zod's order: by the property they are under, in the order of the shape;
 * the object's own (unknown keys) last.
 */
function* objectSteps(
  schema: Schema,
  def: Def,
  object: Record<string, unknown>,
  budget: IssueBudget,
  prefix: readonly Key[],
): Steps<PartResult> {
  const shape = def.shape as Record<string, Schema>;
  const large: string[] = [];
  for (const key of Object.keys(shape)) {
    if (!Object.hasOwn(object, key) || key === '__proto__') continue;
    const value = object[key];
    if (entriesOf(value, budget) >= ZOD_CHUNK_ENTRIES && splittable(shape[key]!, value)) {
      large.push(key);
    }
  }
  if (large.length === 0) {
    const whole = validateWhole(schema, object, prefix);
    budget.left -= whole.issues.length;
    yield;
    return whole;
  }
  const rest = schemaTakingAsIs(schema, large);
  return yield* restThenParts(rest, object, large, (key) => shape[key]!, Object.keys(shape), budget, prefix);
}
