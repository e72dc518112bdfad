import { z } from 'zod';
import { didYouMean } from './closest-names.js';
import { kindOf } from './range-words.js';
import { refusedValue, unknownValueWords } from './refusal-words.js';
import type { Voice } from './voice.js';
import { hasZodDefaultMessage, wordZodDefault } from './zod-issue-words.js';

type Issue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;
type Def = { type: string } & Record<string, unknown>;

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** The schema inside optional / nullable / default / pipe wrappers. */
function unwrap(schema: Schema | undefined): Schema | undefined {
  let current = schema;
  for (let depth = 0; current && depth < 20; depth++) {
    const def = current._zod.def as unknown as Def;
    if (WRAPPERS.has(def.type)) current = def.innerType as Schema;
    else if (def.type === 'pipe') current = def.in as Schema;
    else if (def.type === 'lazy') current = (def.getter as () => Schema)();
    else return current;
  }
  return current;
}

/** The schema at `path` below `schema`, through objects, records and arrays (undefined inside unions). */
function schemaAt(schema: Schema, path: readonly PropertyKey[]): Schema | undefined {
  let current: Schema | undefined = schema;
  for (const key of path) {
    const inner = unwrap(current);
    if (!inner) return undefined;
    const def = inner._zod.def as unknown as Def;
    if (def.type === 'object') current = (def.shape as Record<string, Schema>)[String(key)];
    else if (def.type === 'record') current = def.valueType as Schema;
    else if (def.type === 'array') current = def.element as Schema;
    else return undefined;
  }
  return unwrap(current);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/**
 * The failing branch of a union that came closest: the one whose first issue lies deepest in the
 * value (a list of tags whose one entry is wrong, rather than "not an object"), the first such. By
 * its first issue alone: a large value's branch may hold thousands of issues (a spread of them into
 * `Math.max` overflowed the stack), and a check of tool arguments a part at a time keeps only the
 * first issues of a union's branches past the issues it lists, so that both answer alike.
 */
function closestBranch(branches: readonly Issue[][]): Issue[] | undefined {
  let best: Issue[] | undefined;
  let bestDepth = -1;
  for (const branch of branches) {
    const depth = branch[0]?.path.length;
    if (depth !== undefined && depth > bestDepth) {
      best = branch;
      bestDepth = depth;
    }
  }
  return best;
}

/**
 * An unknown value the closest branch refuses, with the values of every branch whose first issue
 * refuses it at the same place (a discriminated union that tries each form: `kind` takes "add" or
 * "remove", not only the first form's "add").
 */
function valuesOfEveryBranch(first: Issue, branches: readonly Issue[][]): Issue {
  if (first.code !== 'invalid_value') return first;
  const at = first.path.join('\u0000');
  const values = new Set<unknown>();
  for (const branch of branches) {
    const each = branch[0];
    if (each?.code === 'invalid_value' && each.path.join('\u0000') === at)
      for (const value of each.values) values.add(value);
  }
  return { ...first, values: [...values] } as Issue;
}

/** A union's branches, those of a union inside it (a branch that failed as a whole) in its place. */
function flatBranches(branches: readonly Issue[][]): Issue[][] {
  return branches.flatMap((branch) => {
    const only = branch.length === 1 ? branch[0]! : undefined;
    return only?.code === 'invalid_union' && only.path.length === 0 ? flatBranches(only.errors) : [branch];
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const quotedKey = (key: string) => refusedValue(key);

/**
 * `items` (each as `show` writes it) joined with `word` before the last ("a, b or c"; "a, b, c" with
 * a comma); of many, the first {@link MAX_LISTED_KEYS} and how many more.
 */
export function listOf(
  items: readonly string[],
  word: 'and' | 'or' | ',',
  show = (item: string) => item,
): string {
  const listed = items.slice(0, MAX_LISTED_KEYS).map(show);
  if (items.length > listed.length)
    return `${listed.join(', ')} and ${(items.length - listed.length).toLocaleString('en')} more`;
  if (word === ',' || listed.length < 2) return listed.join(', ');
  return `${listed.slice(0, -1).join(', ')} ${word} ${listed.at(-1)}`;
}

/**
 * An object refused by every branch of a union of objects: the branches whose keys fit it best (the
 * fewest unknown keys, then the fewest required keys left out; a key given as `undefined` is left out).
 * `message` when that says more than any one branch's first issue: none fits, and several would with
 * a key the object lacks (`{}` for a list, `{ enable }`, `{ disable }` or `{ tags }`: which keys it
 * needs), or with only some of its keys (two keys of different branches, or a misspelt key, named with
 * what every branch knows). Before, the branch whose first issue lay deepest was described: for `{}`,
 * `{ enable: "X" }` or `{ disabled: [...] }` alike, "tags: expected array or object, got undefined".
 */
function objectFits(
  branches: readonly Issue[][],
  got: Record<string, unknown>,
  /** The keys of the union's object branches, where its schema is known. */
  schemaKeys: readonly string[] | undefined,
): { branches: Issue[][]; message?: string } | undefined {
  // a key given as undefined is not given
  const given = Object.keys(got).filter((key) => got[key] !== undefined);
  const fits: Array<{ issues: Issue[]; unknown: string[]; missing: string[]; refused: Set<string> }> = [];
  const types = new Set<string>();
  for (const issues of branches) {
    const root = issues.find((each) => each.path.length === 0 && each.code === 'invalid_type');
    if (root !== undefined) {
      // a branch that is no object: what it expects is an alternative
      types.add(String((root as { expected?: unknown }).expected));
      continue;
    }
    const unknown = issues.flatMap((each) =>
      each.code === 'unrecognized_keys' && each.path.length === 0
        ? each.keys.filter((key) => got[key] !== undefined)
        : [],
    );
    // whatever the issue of a key left out says (a type, a union of its own)
    const missing = issues.flatMap((each) =>
      each.path.length === 1 && got[String(each.path[0])] === undefined ? [String(each.path[0])] : [],
    );
    fits.push({ issues, unknown, missing, refused: new Set(unknown) });
  }
  if (fits.length === 0) return undefined;
  const score = (fit: (typeof fits)[number]) => fit.unknown.length * 1_000_000 + fit.missing.length;
  const best = Math.min(...fits.map(score));
  const closest = fits.filter((fit) => score(fit) === best);
  const [first] = closest;
  if (
    first === undefined ||
    (first.unknown.length === 0 && (first.missing.length === 0 || closest.length === 1))
  )
    return { branches: closest.map((fit) => fit.issues) };
  if (first.unknown.length === 0) {
    // several branches would take the object with keys it lacks: which ones
    const needs = [...new Set(closest.map((fit) => fit.missing.map(quotedKey).join(' and ')))];
    const others = [...types].map((type) => (type === 'array' ? 'an array' : `a ${type}`));
    return {
      branches: closest.map((fit) => fit.issues),
      message: `expected ${others.length > 0 ? `${listOf(others, 'or')} or ` : ''}an object with the key ${listOf(needs, 'or')}, got an object with ${given.length === 0 ? 'no key' : `only ${listOf(given, 'or', quotedKey)}`}.`,
    };
  }
  // keys every branch refuses (misspelt), or that no one branch takes together
  // (sets: linear in the keys given, however many a body holds)
  const knownSet = new Set(
    schemaKeys ?? fits.flatMap((fit) => [...given.filter((key) => !fit.refused.has(key)), ...fit.missing]),
  );
  const known = [...knownSet];
  const refusedByAll = first.unknown.filter((key) => !knownSet.has(key));
  if (refusedByAll.length > 0)
    return { branches: closest.map((fit) => fit.issues), message: unknownKeysMessage(refusedByAll, known) };
  return {
    branches: closest.map((fit) => fit.issues),
    message: `the keys ${listOf(given, 'and', quotedKey)} do not go together: give ${given.length === 2 ? 'one of them' : 'the keys of one form'}.${known.length > 0 ? ` Known keys: ${knownKeysText(known, MAX_KNOWN_KEYS)}.` : ''}`,
  };
}

/** The keys of the object schemas among `schema`'s union branches (unions inside it included). */
function unionKeys(schema: Schema | undefined): string[] | undefined {
  const def = schema?._zod.def as unknown as Def | undefined;
  if (def?.type !== 'union') return undefined;
  const keys = new Set<string>();
  const visit = (option: Schema | undefined, depth: number) => {
    const inner = unwrap(option);
    const optionDef = inner?._zod.def as unknown as Def | undefined;
    if (optionDef?.type === 'object') for (const key of Object.keys(optionDef.shape as object)) keys.add(key);
    else if (optionDef?.type === 'union' && depth < 10)
      for (const each of optionDef.options as Schema[]) visit(each, depth + 1);
  };
  visit(schema, 0);
  return [...keys];
}

/**
 * The first issue of the union's object form that takes every one of `keys`, for `value` (the first
 * such form that refuses it); undefined when no form takes them all.
 */
function ownerIssue(
  union: Schema | undefined,
  keys: readonly string[],
  value: unknown,
): { form: Schema; value: unknown; issue: Issue } | undefined {
  const forms: Schema[] = [];
  const visit = (option: Schema | undefined, depth: number) => {
    const inner = unwrap(option);
    const def = inner?._zod.def as unknown as Def | undefined;
    if (def?.type === 'object' && keys.every((key) => Object.hasOwn(def.shape as object, key)))
      forms.push(inner!);
    else if (def?.type === 'union' && depth < 10)
      for (const each of def.options as Schema[]) visit(each, depth + 1);
  };
  visit(union, 0);
  for (const form of forms) {
    const result = z.safeParse(form, value);
    if (!result.success && result.error.issues[0] !== undefined)
      return { form, value, issue: result.error.issues[0] as Issue };
  }
  return undefined;
}

/** `known` joined, of many the first `max` and how many more. */
function knownKeysText(known: readonly string[], max: number): string {
  return known.length > max
    ? `${known.slice(0, max).join(', ')} and ${(known.length - max).toLocaleString('en')} more`
    : known.join(', ');
}

/**
 * "unknown key …", with the closest known key (unless `hint` is false) and the known keys (of many,
 * the first `maxKnown`, {@link MAX_KNOWN_KEYS} by default, and how many more: a tool of hundreds of
 * properties, with an unknown key in each of a thousand items, was answered with every known key
 * for each of them).
 */
export function unknownKeysMessage(
  unknown: readonly string[],
  known: readonly string[],
  options: { hint?: boolean; maxKnown?: number; voice?: Voice } = {},
): string {
  const keys = listOf(unknown, ',', quotedKey);
  const maxKnown = options.maxKnown ?? MAX_KNOWN_KEYS;
  const listed = knownKeysText(known, maxKnown);
  // a tool's result: what its output schema takes, with no hint (the tool, not a model, wrote the key)
  if (options.voice === 'output')
    return `unknown key${unknown.length === 1 ? '' : 's'} ${keys} where the output schema takes ${known.length > 0 ? `only the keys ${listed}` : 'no keys'}.`;
  const hint = unknown.length === 1 && options.hint !== false ? didYouMean(unknown[0]!, known) : '';
  return `unknown key${unknown.length === 1 ? '' : 's'} ${keys}.${hint}${known.length > 0 ? ` Known keys: ${listed}.` : ''}`;
}

/**
 * The most unknown keys one message names, then how many more: a body of 32,000 unknown keys (a
 * quarter of a megabyte) was answered with all of them, 373 KB (746 KB from Composio's routes, which
 * say it twice).
 */
export const MAX_LISTED_KEYS = 10;

/**
 * The known keys an unknown key's message names, of more: a config's or a tool's usual dozen or so
 * are all named, a schema of hundreds of properties is not written out for every refused object.
 */
export const MAX_KNOWN_KEYS = 20;

/** What a zod issue expected, in words (`a string`, `one of low, high`); undefined when it does not say. */
function expectationOf(issue: Issue, depth = 0): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = String(issue.expected);
      const noun = TYPE_NOUNS[expected] ?? expected;
      return `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? refusedValue(issue.values[0])
        : `one of ${issue.values.map((value) => String(value)).join(', ')}`;
    case 'invalid_union': {
      if (depth > 10) return undefined;
      // a discriminated union's discriminator: the values it takes
      const options = (issue as { options?: unknown[] }).options;
      if (issue.errors.length === 0 && options !== undefined && options.length > 0)
        return options.length === 1 ? refusedValue(options[0]) : `one of ${options.map(String).join(', ')}`;
      // what each branch expected of the value itself
      const each = flatBranches(issue.errors).map((branch) => {
        const root = branch.find((candidate) => candidate.path.length === 0);
        return root === undefined ? undefined : expectationOf(root, depth + 1);
      });
      // a discriminated union's missing discriminator comes without branches
      if (each.length === 0 || each.some((expectation) => expectation === undefined)) return undefined;
      return [...new Set(each)].join(' or ');
    }
    default:
      return undefined;
  }
}

/** What a schema takes, in words (`a string`, `any JSON value`); undefined for a union and the like. */
function nounOfSchema(schema: Schema | undefined): string | undefined {
  const type = (schema?._zod.def as unknown as Def | undefined)?.type;
  if (type === undefined) return undefined;
  if (type === 'unknown' || type === 'any') return 'any JSON value';
  if (!['string', 'number', 'boolean', 'array', 'object', 'record', 'tuple', 'bigint'].includes(type))
    return undefined;
  const noun = TYPE_NOUNS[type] ?? type;
  return `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;
}

/** The words for zod's expected types that are not already plain ones. */
const TYPE_NOUNS: Record<string, string> = {
  record: 'object',
  tuple: 'array',
  map: 'Map',
  set: 'Set',
  int: 'integer',
};

/**
 * A field of an object left out (or given as `undefined`) that the schema requires: `is required`
 * and what to give (without a period, as a tool's issues are joined), whatever the issue zod raised for it — `invalid_type` ("expected string,
 * received undefined"), `invalid_value` of an enum or literal, `invalid_union`. Undefined for any
 * other issue (a refinement of an optional field reads as its author wrote it), or a value there.
 */
export function missingFieldMessage(input: unknown, issue: Issue, schema?: Schema): string | undefined {
  // a Standard Schema issue of another library may come without a path
  const path = issue.path ?? [];
  if (path.length === 0) return undefined;
  if (issue.code !== 'invalid_type' && issue.code !== 'invalid_value' && issue.code !== 'invalid_union')
    return undefined;
  const parent = valueAt(input, path.slice(0, -1));
  const key = path.at(-1) as string;
  if (!isPlainObject(parent) || (Object.hasOwn(parent, key) && parent[key] !== undefined)) return undefined;
  // `.nonoptional()` (and an object's `z.unknown()` field) expects "nonoptional": what lies inside
  const expectation =
    issue.code === 'invalid_type' && issue.expected === 'nonoptional'
      ? schema && nounOfSchema(schemaAt(schema, path))
      : expectationOf(issue);
  if (expectation !== undefined) return `is required: ${expectation}`;
  // zod's own words ("Invalid input") say nothing more than `is required`; an author's are kept
  return hasZodDefaultMessage(issue, undefined)
    ? 'is required'
    : `is required (${issue.message.replace(/\.$/, '')})`;
}

/**
 * One zod issue as a message that names the bad value and the fix, as precisely as hand-written
 * checks do: an unknown enum value gets "did you mean" and the allowed values, an unknown key the
 * known keys, a union the issue of the branch that came closest instead of "Invalid input". Values
 * shown are only enum values and keys (and, with `showNumbers`, numbers and booleans), never other
 * input (which may hold credentials).
 *
 * @returns the issue's path in the value (deeper than `issue.path` when a union branch was chosen)
 *   and the message, without the path.
 */
export function describeZodIssue(
  schema: Schema,
  input: unknown,
  issue: Issue,
  options: { showNumbers?: boolean } = {},
): { path: PropertyKey[]; message: string } {
  const path = [...issue.path];
  const missing = missingFieldMessage(input, issue, schema);
  if (missing !== undefined) return { path, message: `${missing}.` };
  switch (issue.code) {
    case 'invalid_union': {
      const branches = flatBranches(issue.errors);
      const got = valueAt(input, path);
      const discriminators = (issue as { options?: unknown[] }).options;
      if (branches.length === 0 && discriminators !== undefined && discriminators.length > 0) {
        // a discriminated union's discriminator of no branch: as an unknown enum value
        return { path, message: unknownValueWords(got, discriminators, discriminators.map(String)) };
      }
      const fitting = isPlainObject(got)
        ? objectFits(branches, got, unionKeys(schemaAt(schema, path)))
        : undefined;
      if (fitting?.message !== undefined) return { path, message: fitting.message };
      const branch = closestBranch(fitting?.branches ?? branches);
      const first = branch?.[0];
      const rootTypes = branches.every(
        (candidate) =>
          candidate.length === 1 && candidate[0]!.code === 'invalid_type' && candidate[0]!.path.length === 0,
      );
      if (rootTypes) {
        // what is wrong and what to send, as every other issue says it ("expected string or number,
        // got object" said neither in those words)
        const expected = [...new Set(branches.map((candidate) => expectationOf(candidate[0]!)))];
        return { path, message: `is ${kindOf(got)}: send ${listOf(expected as string[], 'or')}` };
      }
      if (!first) return { path, message: defaultWords(schema, input, issue, options) ?? issue.message };
      return describeZodIssue(
        schema,
        input,
        { ...valuesOfEveryBranch(first, branches), path: [...path, ...first.path] } as Issue,
        options,
      );
    }
    case 'invalid_value': {
      // left out where no object holds it (a hole of an array): a missing value, not an unknown one
      const values = issue.values.map((value) => String(value));
      return { path, message: unknownValueWords(valueAt(input, path), issue.values, values) };
    }
    case 'unrecognized_keys': {
      const object = schemaAt(schema, path);
      const def = object?._zod.def as unknown as Def | undefined;
      // an object of a union (zod names the one branch whose only issue is the key): the keys of all
      if (def?.type === 'object')
        return { path, message: unknownKeysMessage(issue.keys, Object.keys(def.shape as object)) };
      // keys another form of the union takes: that form's issue ({ mode: 7 } read "unknown key
      // "mode". Did you mean "mode"?" where the form with `mode` refused its value)
      const owner = ownerIssue(object, issue.keys, valueAt(input, path));
      if (owner !== undefined) {
        const described = describeZodIssue(owner.form, owner.value, owner.issue, options);
        return { path: [...path, ...described.path], message: described.message };
      }
      return { path, message: unknownKeysMessage(issue.keys, unionKeys(object) ?? []) };
    }
    default: {
      const words = defaultWords(schema, input, issue, options);
      if (words !== undefined) return { path, message: words };
      // a message its author wrote; with `showNumbers`, a number or a boolean is shown: only where no
      // number is a secret (a REST body's may be a credential: `{ apiKey: 1234… }`)
      const got = valueAt(input, path);
      if (!options.showNumbers || (typeof got !== 'number' && typeof got !== 'boolean')) {
        return { path, message: issue.message };
      }
      return { path, message: `${issue.message.replace(/\.$/, '')} (got ${String(got)}).` };
    }
  }
}

/**
 * An issue with zod's default message in words that say what is wrong and what to send, with the
 * schema's own bounds: `has 0 items: send an array of 1 to 50 items` where zod said "Too small:
 * expected array to have >=1 items" (see `wordZodDefault`). Undefined for a message its author wrote.
 */
function defaultWords(
  schema: Schema,
  input: unknown,
  issue: Issue,
  options: { showNumbers?: boolean },
): string | undefined {
  return wordZodDefault(issue, valueAt(input, issue.path), schemaAt(schema, issue.path), {
    showNumbers: options.showNumbers === true,
    expected: expectationOf(issue),
  });
}
