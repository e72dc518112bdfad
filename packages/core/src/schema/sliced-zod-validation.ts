import { any, z } from 'zod';
import type { StandardSchemaV1 } from '../catalog/standard-schema.js';
import type { ListedKeys } from '../util/json-slices.js';
import { isPlainObject } from '../util/own-key.js';
import type { Steps } from '../util/slices.js';
import { entriesUpTo, type WideObjects } from './value-entries.js';

type Schema = z.core.$ZodType;
type Def = { type: string; checks?: unknown[] } & Record<string, unknown>;
type Key = PropertyKey;

/** An issue of a zod validation: its path (keys) and message. */
export interface ZodPathIssue {
  /** The keys, or the caller's own text of them (see `zodValidationSteps`'s `describe`). */
  path: Key[] | string;
  message: string;
  /** zod's code of the issue (a pipe goes on past `unrecognized_keys` alone). */
  code?: string;
}

/**
 * An issue as zod raises it, before its message is made: whether it ends the parse (`continue`) is
 * still on it. Its path is the whole path from the arguments' root.
 */
type RawIssue = { path: Key[]; code?: string; continue?: boolean; schema?: unknown } & Record<
  string,
  unknown
>;

/**
 * The output of a part that is not known: its validation stopped past the listed issues, or the
 * schema, of another version of zod, answered issues through its `validate` (no output with them).
 */
const UNKNOWN: unique symbol = Symbol('unknown output');

/**
 * The outcome of validating a part of the arguments, as zod's payload for it would be: its issues,
 * its output (with issues too, where zod's is known: an array's, an object's), and whether they
 * end the parse, which decides a union's answer and whether a refinement runs.
 */
interface PartResult {
  issues: RawIssue[];
  value: unknown;
  /** An issue does not go on (`continue !== true`): zod's `util.aborted` of the issues. */
  aborted: boolean;
  /** An issue says to stop (`continue === false`): zod's `util.explicitlyAborted` of the issues. */
  explicit: boolean;
  /** zod marked the part's payload aborted (a pipe whose input failed). */
  flagged?: boolean;
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
  /**
   * Whether the schema is of this version of zod, whose internals are known here: parts run through
   * `_zod.run` (their issues keep `continue`), and unions and checks are split. Otherwise each part
   * goes to its Standard Schema `validate`, and unions and checks to zod whole.
   */
  known: boolean;
  /**
   * A union's option: past its listed issues it goes on until one of them ends the parse, as the
   * union's answer hangs on whether one does.
   */
  untilAborted?: boolean;
  /** An issue counted here ends the parse. */
  abortSeen?: boolean;
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
 * (its `_zod.run`, the issues then worded by zod's `finalizeIssue`, as its Standard Schema
 * `validate` does), so transforms, defaults, refinements and messages are zod's: an array is
 * validated a run of items at a time (zod's result for `[...a, ...b]` is its result for `a` then
 * `b`, the paths of `b` shifted), a record of string keys a run of keys at a time, an object with its
 * large properties taken out (a copy of its schema takes them as they are) and each validated on its
 * own, then put back in its output. So is a discriminated union (the option its discriminator
 * names, as zod finds it; one naming none that falls back to trying each, as a union), a pipe (its
 * input, then its output schema on that output) and a record of an enum's keys (each key's value
 * on its own), and a `z.lazy` (the schema its getter makes, so a recursive schema splits wherever
 * the value is large). A union (`z.union`, `.or()`, `z.xor`) has each option validated so,
 * then zod's rule: the first option without issues, else the one option whose issues do not end the
 * parse (each has `continue: true`), else `invalid_union`. A schema with checks (`.refine()`,
 * `.superRefine()`, `.check()`, an array's `.min()`) has its value validated so by a copy of it
 * without them, then its checks run as zod runs them: each where zod would (a check with a `when`
 * unless an issue said to stop, one without unless an issue ended the parse), on the output. Those
 * last two go by the issues' `continue`, which zod's results do not carry: they are split only for a
 * schema of this version of zod, whose parts run through its `_zod.run`.
 *
 * Anything else goes to zod whole, as does an array past a maximum of its length (zod then answers
 * without a walk of its items).
 *
 * Past `maxIssues` issues the validation stops and `cut` says so (zod would have gone on listing an
 * issue for every wrong item). A union's option goes on past them until one of its issues ends the
 * parse; an `invalid_union`'s list of each option's issues (`errors`, which an error map may read)
 * then holds the first of them. Schemas that are not zod's go to their `validate` whole.
 *
 * @throws {Error} `ASYNC` (see {@link AsyncSchemaError}) when a part of the schema is async.
 */
export function* zodValidationSteps(
  schema: StandardSchemaV1,
  input: unknown,
  maxIssues: number,
  listedKeys?: ListedKeys,
  /** The caller's own path and message of an issue as zod finished it (undefined: zod's). */
  describe?: (issue: z.core.$ZodIssue) => { path: string; message: string },
): Steps<{ issues: ZodPathIssue[]; cut: boolean; value?: unknown }> {
  const known = ofThisZod(schema as unknown as Schema);
  const budget: IssueBudget = { left: maxIssues, listedKeys, wide: new WeakSet(), known };
  const result = yield* partSteps(schema as unknown as Schema, input, budget);
  const cut = result.issues.length > maxIssues;
  if (cut) result.issues.length = maxIssues;
  const issues = result.issues.map((issue) => {
    const finished = known ? worded(issue) : (issue as unknown as ZodPathIssue);
    const { code } = finished;
    const { path, message } = describe?.(finished as unknown as z.core.$ZodIssue) ?? finished;
    return { path: path as Key[] | string, message, code };
  });
  return issues.length > 0 ? { issues, cut } : { issues, cut, value: result.value };
}

/** zod's context of a Standard Schema `validate` (no error map of the call's own). */
const contextOf = () => ({ async: false });

/** An issue as zod finishes it: its message from the error maps in zod's order. */
function worded(issue: RawIssue): { path: unknown[]; message: string; code?: string } {
  return z.core.util.finalizeIssue(issue as never, contextOf(), z.core.config()) as never;
}

/** Whether `schema` was made by this version of zod (whose `_zod.run` and checks are read here). */
function ofThisZod(schema: Schema): boolean {
  const version = (schema as { _zod?: { version?: typeof z.core.version } })?._zod?.version;
  return (
    version?.major === z.core.version.major &&
    version.minor === z.core.version.minor &&
    version.patch === z.core.version.patch &&
    typeof (schema as { _zod: { run?: unknown } })._zod.run === 'function'
  );
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

type Check = {
  _zod: {
    def: { when?: (payload: Payload) => boolean };
    check(payload: Payload): unknown;
  };
};

/** zod's payload of a part: its output and issues (a check reads and adds to them). */
type Payload = { value: unknown; issues: RawIssue[] };

/** A copy of a schema without its checks, by schema: its value validated in parts, then the checks. */
const uncheckedCopies = new WeakMap<Schema, Schema>();

function uncheckedCopy(schema: Schema, def: Def): Schema {
  let copy = uncheckedCopies.get(schema);
  if (!copy) {
    copy = sameKind(schema, { ...def, checks: [] });
    uncheckedCopies.set(schema, copy);
  }
  return copy;
}

/** Whether zod's issues end the parse (`aborted`) or say to stop (`explicit`). */
function endsOf(issues: readonly RawIssue[]): { aborted: boolean; explicit: boolean } {
  let aborted = false;
  let explicit = false;
  for (const issue of issues) {
    if (issue.continue !== true) aborted = true;
    if (issue.continue === false) explicit = true;
  }
  return { aborted, explicit };
}

/** Counts a part's issues against the budget (and whether one of them ends the parse). */
function charged(budget: IssueBudget, result: PartResult): PartResult {
  budget.left -= result.issues.length;
  if (result.aborted) budget.abortSeen = true;
  return result;
}

/**
 * Whether the validation goes on: within its listed issues, or in a union's option that has none
 * yet that ends the parse.
 */
function going(budget: IssueBudget): boolean {
  return budget.left >= 0 || (budget.untilAborted === true && budget.abortSeen !== true);
}

/** Throws the error of an async part, its promise's rejection (if any) handled. */
function asyncPart(result: unknown): never {
  if (result instanceof Promise) result.catch(() => {});
  throw new AsyncSchemaError();
}

/**
 * Zod's own call on a part: its issues with paths under `prefix`, and its output. Past the listed
 * issues (a union's option looking for one that ends the parse) one is kept.
 */
function validateWhole(
  schema: Schema,
  value: unknown,
  prefix: readonly Key[],
  budget: IssueBudget,
): PartResult {
  if (!budget.known) return standardResult(schema, value, prefix);
  let payload: { value: unknown; issues: RawIssue[]; aborted?: boolean } | Promise<unknown>;
  try {
    payload = (schema as unknown as { _zod: { run: Function } })._zod.run({ value, issues: [] }, contextOf());
  } catch {
    // zod's `validate` takes a throw for an async part (and retries it async, which rejects)
    asyncPart(undefined);
  }
  if (payload instanceof Promise) asyncPart(payload);
  const issues = payload.issues;
  const ends = endsOf(issues);
  if (budget.left < 0 && issues.length > 1) issues.length = 1;
  for (const issue of issues) issue.path = [...prefix, ...((issue.path as Key[] | undefined) ?? [])];
  return { issues, value: payload.value, ...ends, flagged: payload.aborted === true };
}

/** A part's Standard Schema `validate` (a schema of another version of zod): its worded issues. */
function standardResult(schema: Schema, value: unknown, prefix: readonly Key[]): PartResult {
  const result = (schema as unknown as StandardSchemaV1)['~standard'].validate(value);
  if (result instanceof Promise) asyncPart(result);
  if (!result.issues) return { issues: [], value: result.value, aborted: false, explicit: false };
  // the issue whole (a union's `errors`, a bound): a caller's words for it read them
  const issues = result.issues.map((issue) => ({
    ...issue,
    path: [
      ...prefix,
      ...(issue.path ?? []).map((segment) => (typeof segment === 'object' ? segment.key : segment)),
    ],
    message: issue.message,
    code: (issue as { code?: string }).code,
  }));
  return { issues, value: UNKNOWN, aborted: false, explicit: false };
}

/** A schema whose validation of a value is split, and its definition. */
interface Split {
  schema: Schema;
  def: Def;
}

/** The steps of a split validation of `value` at `prefix`. */
type SplitSteps = (
  split: Split,
  value: unknown,
  budget: IssueBudget,
  prefix: readonly Key[],
) => Steps<PartResult>;

/** How many entries `value` has, counted up to {@link ZOD_CHUNK_ENTRIES} (see `entriesUpTo`). */
function entriesOf(value: unknown, known: WideObjects): number {
  return entriesUpTo(value, ZOD_CHUNK_ENTRIES, known);
}

/**
 * The kind of split a schema allows for `value`, looking through `optional`, `nullable` and
 * `default` wrappers (for a value they do not replace, their output is their inner schema's, on
 * the same payload): `undefined` when zod must see the value whole. `known`: the schema is of this
 * version of zod (see {@link IssueBudget}).
 */
function splittable(
  schema: Schema,
  value: unknown,
  known: boolean,
): { schema: Schema; def: Def } | undefined {
  let current = schema;
  for (let depth = 0; depth < 16; depth++) {
    const def = defOf(current);
    if (!def) return undefined;
    if (!withoutChecks(def)) {
      if (!known || (current as { _zod: { traits?: Set<string> } })._zod.traits?.has('$ZodCheck')) {
        return undefined;
      }
      // past the least maximum of its leading length checks, zod answers without a walk of the items
      const caps = z.core.util.sizeCaps(def.checks as never);
      if (Array.isArray(value) && def.type === 'array' && caps.some(([maximum]) => value.length > maximum)) {
        return undefined;
      }
      return splittable(uncheckedCopy(current, def), value, known) ? { schema: current, def } : undefined;
    }
    const discriminated = def.type === 'union' && typeof def.discriminator === 'string';
    // zod validates the value by the option its discriminator names, as if it were that option;
    // a value of no object, or naming none, in one issue (no walk), unless the union falls back to
    // trying each option (`unionFallback`), as a plain union does
    const named = discriminated && isPlainObject(value) ? optionNamed(def, value) : undefined;
    if (named) current = named;
    else if (discriminated && (named === undefined || def.unionFallback !== true)) return undefined;
    else if (def.type === 'union') {
      const options = def.options as Schema[];
      // one option: zod runs it on the union's payload
      if (options.length === 1) current = options[0]!;
      else return known ? { schema: current, def } : undefined;
    } else if (def.type === 'pipe') {
      // not a codec (whose `transform` runs between its two schemas)
      return def.transform === undefined ? { schema: current, def } : undefined;
    } else if (def.type === 'optional' || def.type === 'default') {
      if (value === undefined) return undefined;
      current = def.innerType as Schema;
    } else if (def.type === 'nullable') {
      if (value === null) return undefined;
      current = def.innerType as Schema;
    } else if (def.type === 'lazy') {
      // zod runs the schema its getter makes (once) on the lazy one's payload: a recursive schema
      // splits as the part of itself that the value is at
      const inner = known ? innerOfLazy(current) : undefined;
      if (inner === undefined) return undefined;
      current = inner;
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

/** The schema a `z.lazy` stands for (its getter's, made once); undefined when its getter throws. */
function innerOfLazy(schema: Schema): Schema | undefined {
  try {
    const inner = (schema as { _zod: { innerType?: unknown } })._zod.innerType;
    return defOf(inner as Schema) ? (inner as Schema) : undefined;
  } catch {
    // zod's whole parse meets the same throw, and answers as it does
    return undefined;
  }
}

/**
 * The option of a discriminated union that `value`'s discriminator names, found as zod finds it:
 * the value at the discriminator (absent or inherited too, as zod reads it) in a map of the values
 * each option's discriminator takes (see {@link discriminatorMapOf}). `null` when it names none (or
 * names two, as `undefined` may), `undefined` when zod cannot make its map (it throws).
 */
function optionNamed(def: Def, value: Record<string, unknown>): Schema | null | undefined {
  const map = discriminatorMapOf(def);
  return map && (map.get(value[def.discriminator as string]) ?? null);
}

/** A discriminated union's options by the value of their discriminator, by definition. */
const discriminatorMaps = new WeakMap<Def, Map<unknown, Schema | null> | undefined>();

/**
 * The options of a discriminated union by the values their discriminator takes (each option's
 * `propValues`), as zod's parse looks them up: a value two options take names none if it is
 * `undefined` (`null` here); zod refuses any other (and an option whose values are not known) with
 * a throw, `undefined` here.
 */
function discriminatorMapOf(def: Def): Map<unknown, Schema | null> | undefined {
  if (discriminatorMaps.has(def)) return discriminatorMaps.get(def);
  const discriminator = def.discriminator as string;
  let map: Map<unknown, Schema | null> | undefined = new Map();
  for (const option of def.options as Schema[]) {
    const values = (option as { _zod: { propValues?: Record<string, Set<unknown>> } })._zod.propValues?.[
      discriminator
    ];
    if (!values || values.size === 0 || [...values].some((each) => map!.has(each) && each !== undefined)) {
      map = undefined;
      break;
    }
    for (const each of values) map.set(each, map.has(each) ? null : option);
  }
  discriminatorMaps.set(def, map);
  return map;
}

/** Zod's one call on a part, counted, then a pause. */
function* wholeSteps(
  schema: Schema,
  value: unknown,
  budget: IssueBudget,
  prefix: readonly Key[],
): Steps<PartResult> {
  const result = charged(budget, validateWhole(schema, value, prefix, budget));
  yield;
  return result;
}

function* partSteps(
  schema: Schema,
  value: unknown,
  budget: IssueBudget,
  prefix: readonly Key[] = [],
): Steps<PartResult> {
  const split =
    entriesOf(value, budget) < ZOD_CHUNK_ENTRIES ? undefined : splittable(schema, value, budget.known);
  if (!split) return yield* wholeSteps(schema, value, budget, prefix);
  if (!withoutChecks(split.def)) return yield* checkedSteps(split, value, budget, prefix);
  if (split.def.type === 'union') return yield* unionSteps(split, value, budget, prefix);
  if (split.def.type === 'array')
    return yield* arraySteps(split.schema, split.def, value as unknown[], budget, prefix);
  if (split.def.type === 'pipe') return yield* pipeSteps(split, value, budget, prefix);
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
 * A schema with checks: its value by a copy of it without them, then each check as zod's `runChecks`
 * runs it, on that output: one with a `when` unless an issue so far said to stop (`continue: false`)
 * and its `when` says so, one without unless an issue so far ended the parse. A check's issues are
 * the schema's (worded by its error map), after its value's. zod's output with issues (which a
 * check may see) is rebuilt from the parts' as zod builds it; where it is not known, zod's whole call.
 */
const checkedSteps: SplitSteps = function* ({ schema, def }, value, budget, prefix) {
  const inner = yield* partSteps(uncheckedCopy(schema, def), value, budget, prefix);
  // past the listed issues: the checks' would come after them
  if (!going(budget)) return inner;
  // the payload as zod's checks see it: the issues' paths from the schema
  const payload: Payload = {
    value: inner.value,
    issues: inner.issues.map((issue) => ({ ...issue, path: issue.path.slice(prefix.length) })),
  };
  const own = payload.issues.length;
  let aborted = inner.flagged === true || inner.aborted;
  let explicit = inner.flagged === true || inner.explicit;
  for (const check of def.checks as Check[]) {
    const { when } = check._zod.def;
    if (when) {
      if (explicit) continue;
      if (inner.value === UNKNOWN) return yield* wholeInstead(schema, value, budget, prefix, inner);
      if (!calledOn(() => when(payload))) continue;
    } else if (aborted) continue;
    if (inner.value === UNKNOWN) return yield* wholeInstead(schema, value, budget, prefix, inner);
    const from = payload.issues.length;
    const returned = calledOn(() => check._zod.check(payload));
    if (returned instanceof Promise) asyncPart(returned);
    for (let index = from; index < payload.issues.length; index++) {
      const issue = payload.issues[index]!;
      // zod's `attachSchema`: the schema's error map words its checks' issues
      issue.schema ??= schema;
      if (issue.continue !== true) aborted = true;
      if (issue.continue === false) explicit = true;
    }
  }
  const added = payload.issues.slice(own);
  for (const issue of added) issue.path = [...prefix, ...((issue.path as Key[] | undefined) ?? [])];
  const ends = endsOf(added);
  charged(budget, { issues: added, value: undefined, ...ends });
  return {
    issues: [...inner.issues, ...added],
    value: payload.value,
    aborted: inner.aborted || ends.aborted,
    explicit: inner.explicit || ends.explicit,
    flagged: inner.flagged,
  };
};

/** A call of the schema's own code (a check, its `when`): a throw is taken as zod's `validate` takes it. */
function calledOn<T>(call: () => T): T {
  try {
    return call();
  } catch {
    // zod's `validate` retries a part that throws as async, which rejects
    return asyncPart(undefined);
  }
}

/** Zod's whole call on a part instead of the parts' answer (`done`, uncounted). */
function* wholeInstead(
  schema: Schema,
  value: unknown,
  budget: IssueBudget,
  prefix: readonly Key[],
  done: PartResult,
): Steps<PartResult> {
  budget.left += done.issues.length;
  return yield* wholeSteps(schema, value, budget, prefix);
}

/**
 * A union: each option validated in parts, in turn, on a budget of its own (its issues are the
 * union's only if it is the one that failed without ending the parse), then zod's rule for them: the
 * first option without issues; else the one option whose issues do not end the parse, with them;
 * else one `invalid_union` issue listing each option's. `z.xor`: the one option without issues, else
 * `invalid_union` (with each option's issues when none has none).
 */
const unionSteps: SplitSteps = function* ({ schema, def }, value, budget, prefix) {
  // a discriminated union's fallback is zod's plain union (its `inclusive: false` is not read there)
  const exclusive = def.inclusive === false && typeof def.discriminator !== 'string';
  const results: PartResult[] = [];
  for (const option of def.options as Schema[]) {
    const own: IssueBudget = { ...budget, untilAborted: true, abortSeen: false };
    const result = yield* partSteps(option, value, own, prefix);
    if (!exclusive && result.issues.length === 0) return result;
    results.push(result);
  }
  const issue: RawIssue = { code: 'invalid_union', input: value, inst: schema, path: [...prefix] };
  if (exclusive) {
    const matches = results.flatMap((result, index) => (result.issues.length === 0 ? [index] : []));
    if (matches.length === 1) return results[matches[0]!]!;
    if (matches.length > 1) Object.assign(issue, { errors: [], inclusive: false, matches });
  } else {
    const notEnded = results.filter((result) => !(result.flagged === true || result.aborted));
    if (notEnded.length === 1) return charged(budget, notEnded[0]!);
  }
  // each option's issues as zod lists them in `errors`: worded (a run at a time), their paths from
  // the union
  if (issue.errors === undefined) {
    const errors: unknown[][] = [];
    for (const result of results) {
      const listed: unknown[] = [];
      for (const each of result.issues) {
        listed.push(worded({ ...each, path: each.path.slice(prefix.length) }));
        if (listed.length % ZOD_CHUNK_ENTRIES === 0) yield;
      }
      errors.push(listed);
    }
    issue.errors = errors;
  }
  return charged(budget, { issues: [issue], value, aborted: true, explicit: false });
};

/**
 * A pipe (`.transform()`, `.pipe()`, `z.preprocess()`): its input schema, then its output schema on
 * that output, each split in turn. zod stops at the input's issues (marking its payload aborted),
 * and hands the output schema the input's `unrecognized_keys` issues along with the value: that
 * case goes to zod whole.
 */
const pipeSteps: SplitSteps = function* ({ schema, def }, value, budget, prefix) {
  const left = yield* partSteps(def.in as Schema, value, budget, prefix);
  if (left.issues.length === 0) return yield* partSteps(def.out as Schema, left.value, budget, prefix);
  if (left.issues.some((issue) => issue.code !== 'unrecognized_keys')) return { ...left, flagged: true };
  return yield* wholeInstead(schema, value, budget, prefix, left);
};

/** Items a run at a time (an item of many entries on its own, split in turn); zod's output of each. */
function* arraySteps(
  schema: Schema,
  def: Def,
  items: unknown[],
  budget: IssueBudget,
  prefix: readonly Key[],
): Steps<PartResult> {
  const issues: RawIssue[] = [];
  let output: unknown[] | typeof UNKNOWN = [];
  const ends = { aborted: false, explicit: false };
  const add = (result: PartResult) => {
    for (const issue of result.issues) issues.push(issue);
    ends.aborted ||= result.aborted;
    ends.explicit ||= result.explicit;
  };
  const runOf = function* (from: number, to: number): Steps<void> {
    if (from === to) return;
    const result = validateWhole(schema, items.slice(from, to), [], budget);
    for (const issue of result.issues) {
      issue.path = [...prefix, (issue.path[0] as number) + from, ...issue.path.slice(1)];
    }
    add(charged(budget, result));
    if (result.value === UNKNOWN) output = UNKNOWN;
    else if (output !== UNKNOWN) for (const item of result.value as unknown[]) output.push(item);
    yield;
  };
  let from = 0;
  let entries = 0;
  let index = 0;
  for (; index < items.length && going(budget); index++) {
    const size = entriesOf(items[index], budget);
    if (size >= ZOD_CHUNK_ENTRIES) {
      yield* runOf(from, index);
      const item = yield* partSteps(def.element as Schema, items[index], budget, [...prefix, index]);
      add(item);
      if (item.value === UNKNOWN) output = UNKNOWN;
      else if (output !== UNKNOWN) output.push(item.value);
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
  if (going(budget)) yield* runOf(from, items.length);
  else output = UNKNOWN;
  return { issues, value: output, ...ends };
}

/** Keys a run at a time, each run a record of its own (zod skips `__proto__`, so the runs do). */
function* recordSteps(
  schema: Schema,
  record: Record<string, unknown>,
  budget: IssueBudget,
  prefix: readonly Key[],
): Steps<PartResult> {
  const issues: RawIssue[] = [];
  let output: Record<string, unknown> | typeof UNKNOWN = {};
  const ends = { aborted: false, explicit: false };
  const keys = budget.listedKeys?.(record) ?? Object.keys(record);
  let run: Record<string, unknown> = {};
  let entries = 0;
  const validateRun = function* (): Steps<void> {
    if (entries === 0) return;
    const result = charged(budget, validateWhole(schema, run, prefix, budget));
    for (const issue of result.issues) issues.push(issue);
    ends.aborted ||= result.aborted;
    ends.explicit ||= result.explicit;
    // zod sets each key's output, with issues too, in the order of the keys
    if (result.value === UNKNOWN) output = UNKNOWN;
    else if (output !== UNKNOWN) Object.assign(output, result.value);
    run = {};
    entries = 0;
    yield;
  };
  let index = 0;
  for (; index < keys.length && going(budget); index++) {
    const key = keys[index]!;
    if (key === '__proto__') continue;
    run[key] = record[key];
    entries += 1 + entriesOf(record[key], budget);
    if (entries >= ZOD_CHUNK_ENTRIES) yield* validateRun();
  }
  if (going(budget)) yield* validateRun();
  else output = UNKNOWN;
  return { issues, value: output, ...ends };
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
 * their places (as zod puts a present key's, with issues too), the
 * issues in zod's order (see {@link inKeyOrder}, by the keys of `order`). The rest's issues are
 * counted after the values': those under a later key come after the values' in zod's order, so the
 * values go on until they alone pass the listed issues.
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
  const taken = validateWhole(rest, object, prefix, budget);
  yield;
  const issues = [...taken.issues];
  const ends = { aborted: taken.aborted, explicit: taken.explicit };
  const outputs = new Map<string, unknown>();
  for (const key of keys) {
    if (!going(budget)) break;
    const part = yield* partSteps(schemaAt(key), object[key], budget, [...prefix, key]);
    for (const issue of part.issues) issues.push(issue);
    ends.aborted ||= part.aborted;
    ends.explicit ||= part.explicit;
    outputs.set(key, part.value);
  }
  charged(budget, taken);
  let output = taken.value as Record<string, unknown> | typeof UNKNOWN;
  const known =
    output !== UNKNOWN && outputs.size === keys.length && ![...outputs.values()].includes(UNKNOWN);
  if (!known) output = UNKNOWN;
  else for (const [key, value] of outputs) (output as Record<string, unknown>)[key] = value;
  return { issues: issues.length > 0 ? inKeyOrder(issues, order, prefix) : issues, value: output, ...ends };
}

/**
 * Issues in zod's order for an object or record: by the key they are under, in the order of `keys`;
 * the object's own (unknown keys) last; those under one key in the order they came.
 */
function inKeyOrder(issues: RawIssue[], keys: readonly string[], prefix: readonly Key[]): RawIssue[] {
  const order = new Map(keys.map((key, index) => [key, index]));
  const rank = (issue: RawIssue) =>
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
    if (entriesOf(value, budget) >= ZOD_CHUNK_ENTRIES && splittable(shape[key]!, value, budget.known)) {
      large.push(key);
    }
  }
  if (large.length === 0) return yield* wholeSteps(schema, object, budget, prefix);
  const rest = schemaTakingAsIs(schema, large);
  const schemaAt = (key: string) => shape[key]!;
  return yield* restThenParts(rest, object, large, schemaAt, Object.keys(shape), budget, prefix);
}
