import { z } from 'zod';
import { argumentPath } from '../util/argument-path.js';
import { describeZodIssue, missingFieldMessage } from '../util/zod-issues.js';
import type { StandardResult, StandardSchemaV1 } from './standard-schema.js';
import type { ValidationIssue } from './types.js';

/** One issue of a Standard Schema's answer. */
type StandardIssue = Extract<StandardResult<unknown>, { issues: unknown }>['issues'][number];

/**
 * The zod (v4) schema whose issues `describeZodIssue` words: the schema itself, or for a JSON Schema
 * zod wrote (`z.toJSONSchema(…)`, a Standard Schema zod validates), the zod schema of that JSON
 * Schema (`z.fromJSONSchema`), whose bounds and options the words name; undefined for another
 * library's (and zod 3's, whose issues are of another shape).
 */
function zodSchemaOf(schema: StandardSchemaV1): z.core.$ZodType | undefined {
  const def = (schema as { _zod?: { def?: { type?: unknown } } })._zod?.def;
  if (typeof def?.type === 'string') return schema as unknown as z.core.$ZodType;
  if (schema['~standard'].vendor !== 'zod' || '_def' in schema) return undefined;
  let converted = convertedSchemas.get(schema);
  if (converted === undefined) {
    try {
      converted = z.fromJSONSchema(schema as unknown as Parameters<typeof z.fromJSONSchema>[0]);
    } catch {
      // bounds then come from each issue alone
      converted = z.unknown();
    }
    convertedSchemas.set(schema, converted);
  }
  return converted;
}

/** {@link zodSchemaOf}'s zod schemas of JSON Schemas zod wrote, by schema. */
const convertedSchemas = new WeakMap<object, z.core.$ZodType>();

/**
 * One issue of a tool's Standard Schema as the model reads it: for a zod schema, what is wrong and
 * what to send with the schema's own bounds and options (`is too large: send an integer from 1 to
 * 5`, `has 0 items: send an array of at least 1 item`, `unknown value "c"; use one of a, b`) where
 * zod said "Too big: expected number to be <=5", by the path a union's closest form names; a field
 * left out `is required` and what to give; a message its author wrote as written. Another library's
 * message is its own (a field left out reads as a zod one's).
 */
export function describeArgumentIssue(
  schema: StandardSchemaV1,
  input: unknown,
  issue: StandardIssue,
): ValidationIssue {
  const zod = zodSchemaOf(schema);
  const { code, errors } = issue as { code?: unknown; errors?: unknown };
  // an issue of zod's shape (a union's with the issues of its forms)
  if (zod !== undefined && typeof code === 'string' && (code !== 'invalid_union' || Array.isArray(errors))) {
    const { path, message } = describeZodIssue(zod, input, issue as z.core.$ZodIssue);
    return { path: argumentPath(path), message: message.replace(/\.$/, '') };
  }
  return {
    path: argumentPath(issue.path),
    message: missingFieldMessage(input, issue as never) ?? issue.message,
  };
}

/**
 * The issues of a tool's arguments (see {@link describeArgumentIssue}): the first `max` of them, an
 * issue worded alike at the same path once (an integer over its `.max()` breaks zod's safe range
 * too), and `more` last when there were more than `max`. Each issue's words are bounded by the
 * schema and the value at its path: a million wrong items cost `max` descriptions, not a million.
 */
export function describeArgumentIssues(
  schema: StandardSchemaV1,
  input: unknown,
  issues: Iterable<StandardIssue>,
  max: number,
  more: string,
): ValidationIssue[] {
  const described: ValidationIssue[] = [];
  const seen = new Set<string>();
  let count = 0;
  for (const issue of issues) {
    if (count === max) {
      described.push({ path: '(root)', message: more });
      break;
    }
    count++;
    const each = describeArgumentIssue(schema, input, issue);
    const line = `${each.path}\u0000${each.message}`;
    if (seen.has(line)) continue;
    seen.add(line);
    described.push(each);
  }
  return described;
}
