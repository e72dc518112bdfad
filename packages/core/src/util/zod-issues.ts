import type { z } from 'zod';
import { didYouMean } from './closest-names.js';

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

const shown = (value: unknown) =>
  JSON.stringify(typeof value === 'string' ? value.slice(0, 100) : value) ?? String(value);

/**
 * The failing branch of a union that came closest: the one whose first issue lies deepest in the
 * value (a list of tags whose one entry is wrong, rather than "not an object").
 */
function closestBranch(branches: readonly Issue[][]): Issue[] | undefined {
  let best: Issue[] | undefined;
  for (const branch of branches) {
    if (branch.length === 0) continue;
    const depth = Math.max(...branch.map((issue) => issue.path.length));
    const bestDepth = best ? Math.max(...best.map((issue) => issue.path.length)) : -1;
    if (depth > bestDepth || (depth === bestDepth && best && branch.length < best.length)) best = branch;
  }
  return best;
}

/**
 * The most unknown keys one message names, then how many more: a body of 32,000 unknown keys (a
 * quarter of a megabyte) was answered with all of them, 373 KB (746 KB from Composio's routes, which
 * say it twice).
 */
export const MAX_LISTED_KEYS = 10;

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
  switch (issue.code) {
    case 'invalid_union': {
      const branch = closestBranch(issue.errors);
      const first = branch?.[0];
      const rootTypes = issue.errors.every(
        (candidate) =>
          candidate.length === 1 && candidate[0]!.code === 'invalid_type' && candidate[0]!.path.length === 0,
      );
      if (rootTypes) {
        const expected = [
          ...new Set(issue.errors.map((candidate) => (candidate[0] as { expected?: string }).expected)),
        ];
        const got = valueAt(input, path);
        return {
          path,
          message: `expected ${expected.join(' or ')}, got ${got === null ? 'null' : Array.isArray(got) ? 'array' : typeof got}`,
        };
      }
      if (!first) return { path, message: issue.message };
      return describeZodIssue(schema, input, { ...first, path: [...path, ...first.path] } as Issue, options);
    }
    case 'invalid_value': {
      const got = valueAt(input, path);
      const values = issue.values.map((value) => String(value));
      const hint = typeof got === 'string' ? didYouMean(got, values) : '';
      const use = values.length === 1 ? shown(issue.values[0]) : `one of ${values.join(', ')}`;
      // left out: not an unknown value, a missing one
      if (got === undefined) return { path, message: `is required: ${use}.` };
      return {
        path,
        message: `unknown value ${shown(got)}; use ${values.length === 1 ? shown(issue.values[0]) : `one of ${values.join(', ')}`}.${hint}`,
      };
    }
    case 'unrecognized_keys': {
      const object = schemaAt(schema, path);
      const def = object?._zod.def as unknown as Def | undefined;
      const known = def?.type === 'object' ? Object.keys(def.shape as object) : [];
      const listed = issue.keys.slice(0, MAX_LISTED_KEYS).map((key) => `"${key.slice(0, 100)}"`);
      const more = issue.keys.length - listed.length;
      const keys = `${listed.join(', ')}${more > 0 ? ` and ${more.toLocaleString('en')} more` : ''}`;
      const hint = issue.keys.length === 1 ? didYouMean(issue.keys[0]!, known) : '';
      return {
        path,
        message: `unknown key${issue.keys.length === 1 ? '' : 's'} ${keys}.${hint}${known.length > 0 ? ` Known keys: ${known.join(', ')}.` : ''}`,
      };
    }
    default: {
      // with `showNumbers`, a number or a boolean is shown (`Too small: expected number to be >=100
      // (got -1).`): without it `1e20`'s "expected int to be <=9007199254740991" reads as a riddle.
      // Only where no number is a secret (a REST body's may be a credential: `{ apiKey: 1234… }`).
      const got = valueAt(input, path);
      if (!options.showNumbers || (typeof got !== 'number' && typeof got !== 'boolean')) {
        return { path, message: issue.message };
      }
      return { path, message: `${issue.message.replace(/\.$/, '')} (got ${String(got)}).` };
    }
  }
}
