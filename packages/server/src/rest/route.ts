import type { ToolMuxError } from '@toolmux/core';
import {
  checkText,
  checkUserId,
  describeZodIssue,
  type ErrorAudience,
  isPlainObject,
  pathUnder,
  safeParseKeepingProtoKeys,
  shownValue,
  type TextRule,
  type WorkSlice,
  type ZodInternals,
} from '@toolmux/core/internal';
import type { HonoRequest } from 'hono';
import type { z } from 'zod';
import { invalidRequest } from '../http-errors.js';
import { type LargeArray, parseWithLargeArrays } from './large-arrays.js';

type Output<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a route handler receives: its validated path parameters, query and body. */
export interface RouteInput<P, Q, B> {
  params: Output<P>;
  query: Output<Q>;
  body: Output<B>;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** In whose words messages name operations: the REST API's, or the SDK's for a remote-mode client. */
  audience: ErrorAudience;
}

/**
 * One REST route. The same zod schemas validate the request and write the OpenAPI document, so the
 * document cannot drift from what the server accepts.
 */
export interface Route<
  P extends z.ZodObject | undefined = z.ZodObject | undefined,
  Q extends z.ZodObject | undefined = z.ZodObject | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R extends z.ZodType = z.ZodType,
> {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Below `/api/v1`, Hono style: `/sessions/:sessionId`. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  response: R;
  /** @default 200 */
  status?: 200 | 201;
  /** @default true: needs the project API key */
  auth?: boolean;
  /** The largest body this route reads, when the server's `bodyLimit` is smaller. */
  bodyLimit?: number;
  /** Arrays of the body that may hold thousands of items: checked an item at a time. */
  largeArrays?: readonly LargeArray[];
  handle(input: RouteInput<P, Q, B>): Promise<z.input<R>>;
}

/** Declares a route with its types inferred from its schemas. */
export function route<
  P extends z.ZodObject | undefined = undefined,
  Q extends z.ZodObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  R extends z.ZodType = z.ZodType,
>(definition: Route<P, Q, B, R>): Route {
  return definition as unknown as Route;
}

/**
 * Parses one part of a request; a mismatch is a 400 that names every bad field (up to five) by its
 * REST path (`body.config.tags[0]`), with the precise message of core's `describeZodIssue` (the value
 * a union came closest to, "did you mean", the known keys) rather than zod's "Invalid input".
 */
export function parseRequestPart(
  schema: z.ZodType | undefined,
  value: unknown,
  part: 'path' | 'query' | 'body',
): unknown {
  if (!schema) return undefined;
  checkRequestText(value, part);
  if (part === 'query') checkQueryNumbers(schema, value);
  const opaque = part === 'body' ? opaqueArguments(schema, value) : undefined;
  const checked = opaque ? { ...(value as object), arguments: {} } : value;
  // zod's records skip a `__proto__` key: this parse checks it with the record's schemas and keeps it
  const result = safeParseKeepingProtoKeys(schema, checked);
  if (result.success) {
    if (opaque) (result.data as { arguments: unknown }).arguments = opaque;
    return result.data;
  }
  throw requestPartError(schema, value, part, result.issues, 0);
}

/**
 * {@link parseRequestPart} of a body with arrays that may hold thousands of items (a remote client's
 * custom tools), a slice at a time: each item is checked on its own (see `parseWithLargeArrays`).
 * The same data, and the same 400, as one parse of the whole.
 */
export async function parseLargeRequestPart(
  schema: z.ZodType,
  value: unknown,
  largeArrays: readonly LargeArray[],
  slice: WorkSlice,
): Promise<unknown> {
  checkRequestText(value, 'body');
  const result = await parseWithLargeArrays(schema, value, largeArrays, slice);
  if (result.success) return result.data;
  throw requestPartError(schema, value, 'body', result.issues, result.more);
}

/**
 * A field's path in a part of the request, as a tool's argument refusals name one (see
 * `argumentPath`): `body.config.tags[0]`, `body.headers["x.y"]`, `query.statuses[1]`; the part
 * itself for the whole of it.
 */
export function requestPath(part: 'path' | 'query' | 'body', path: readonly PropertyKey[]): string {
  return pathUnder(part, path);
}

/** The 400 of a part: its first five issues, by REST path, and how many more there are. */
function requestPartError(
  schema: z.ZodType,
  value: unknown,
  part: 'path' | 'query' | 'body',
  found: ReadonlyArray<Parameters<typeof describeZodIssue>[2]>,
  alsoFound: number,
): ToolMuxError {
  // a value that breaks two checks alike is named once (`2 ** 60` for an integer of at most 50 breaks
  // its `.max()` and zod's safe-integer range: one "is too large: send an integer from 1 to 50")
  const issues: string[] = [];
  let repeated = 0;
  for (const issue of found) {
    if (issues.length === 5) break;
    const { path, message } = describeZodIssue(schema, value, issue);
    const where = requestPath(part, path);
    const line = `${where}: ${message.replace(/\.$/, '')}`;
    if (issues.includes(line)) repeated++;
    else issues.push(line);
  }
  const count = found.length + alsoFound - repeated;
  const more = count > 5 ? ` (and ${count - 5} more)` : '';
  const text = `${issues.join('; ')}${more}`;
  return invalidRequest(`Invalid request ${part}: ${text}${/[.?!]$/.test(text) ? '' : '.'}`);
}

/**
 * A body's tool arguments, when zod need not walk them: the body schema's `arguments` is a record of
 * anything (`z.record(z.string(), z.unknown())`, optional or nullable) and the value is a plain
 * object, which such a record always accepts. Checking a megabyte of arguments would hold the event
 * loop for one long turn and copy them; core checks them against the tool's input schema a slice at
 * a time. The arguments then reach the handler as parsed (zod's copy would drop a `__proto__` key).
 * `undefined` when zod must check them (a non-object gets zod's own message).
 */
function opaqueArguments(schema: z.ZodType, value: unknown): object | undefined {
  if (!isPlainObject(value)) return undefined;
  const args = (value as { arguments?: unknown }).arguments;
  if (!isPlainObject(args)) return undefined;
  const def = (schema as unknown as ZodInternals)._zod.def;
  if (def.type !== 'object') return undefined;
  let field = def.shape?.arguments?._zod.def;
  while (field && (field.type === 'optional' || field.type === 'nullable')) field = field.innerType?._zod.def;
  if (field?.type !== 'record') return undefined;
  const key = field.keyType?._zod.def;
  const item = field.valueType?._zod.def.type;
  const anyKey = key?.type === 'string' && (key.checks ?? []).length === 0;
  return anyKey && (item === 'unknown' || item === 'any') && (field.checks ?? []).length === 0
    ? (args as object)
    : undefined;
}

/**
 * Path and query values are ids, slugs, cursors and search text: each must be text the store can
 * keep (core's rule: well-formed Unicode, no control characters), checked here before anything looks
 * them up. A `user_id` anywhere is checked as a user id (USER_ID_INVALID). Core checks the rest of a
 * body where it is used.
 */
function checkRequestText(value: unknown, part: 'path' | 'query' | 'body'): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const record = value as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    const item = record[name];
    if (typeof item === 'string') checkRequestValue(item, name, part);
    // a query list of `name[]` parameters (see singleQueryValues): each value as one
    else if (part === 'query' && Array.isArray(item)) {
      for (const value of item) if (typeof value === 'string') checkRequestValue(value, name, part);
    }
  }
}

function checkRequestValue(item: string, name: string, part: 'path' | 'query' | 'body'): void {
  if (name === 'user_id') checkUserId(item, `${part}.user_id`);
  else if (name === 'user_ids[]') checkUserId(item, `${part}.user_ids[]`);
  else if (part !== 'body') checkText(item, parameterRule(part, name));
}

/** The rule of a path or query parameter, made once per name (see {@link checkRequestText}). */
function parameterRule(part: 'path' | 'query', name: string): TextRule {
  const rules = PARAMETER_RULES[part];
  let rule = rules.get(name);
  if (rule === undefined) {
    rule = {
      field: `${part} parameter ${name}`,
      code: 'INVALID_REQUEST',
      maxLength: 8192,
      allowEmpty: true,
      fix: 'ids, slugs and cursors are well-formed Unicode text without control characters; pass them as the API returned them',
    };
    // the names routes declare, and a few a caller made up (those are refused by the schema next)
    if (rules.size < MAX_PARAMETER_RULES) rules.set(name, rule);
  }
  return rule;
}

/** Rules by parameter name, per part: a request's values are checked without making a rule each. */
const PARAMETER_RULES = { path: new Map<string, TextRule>(), query: new Map<string, TextRule>() };
const MAX_PARAMETER_RULES = 256;

/**
 * A request's query parameters, one value each. Hono's `query()` keeps the first value of a repeated
 * parameter and drops the others, so `?user_ids=u1&user_ids=u2` listed u1's accounts alone and
 * `?limit=1&limit=50` one item, without a word: a parameter given more than once is refused, naming
 * it and its values, unless it is one of `lists` (a list that takes its values either way). A
 * parameter named `name[]` is a list of values taken as they are, one per parameter: its values
 * come as an array, however many there are.
 */
export function singleQueryValues(
  request: HonoRequest,
  lists: ReadonlySet<string> = NO_LISTS,
): Record<string, string | string[]> {
  // no `?`, no parameters: the common request pays nothing more
  if (!request.url.includes('?')) return {};
  const all = request.queries();
  const values: Record<string, string | string[]> = {};
  for (const name of Object.keys(all)) {
    const given = all[name]!;
    if (name.endsWith('[]')) {
      setOwn(values, name, given);
      continue;
    }
    if (given.length > 1 && !lists.has(name)) {
      const shown = given.slice(0, 3).map(shownValue).join(', ');
      const more = given.length > 3 ? `, and ${given.length - 3} more` : '';
      throw invalidRequest(
        `query parameter ${name} is given ${given.length} times (${shown}${more}): give it once; a list takes its values comma-separated in one parameter (${name}=a,b).`,
      );
    }
    setOwn(values, name, given[0]!);
  }
  return values;
}

/**
 * `record[name] = value` as an own key, also for `__proto__`: an assignment would set the object's
 * prototype (or, for a string, do nothing), and the strict query schema would not see the key.
 */
function setOwn(record: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__') {
    Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
  } else record[name] = value;
}

const NO_LISTS: ReadonlySet<string> = new Set();

/**
 * The page sizes of a query (`limit`, coerced from the text by zod) as the text of a whole number:
 * zod's `Number()` took `0x10` for 16, `1e2` for 100, ` 7` for 7 and an empty `limit=` for 0 (then
 * "too small"), and named none of them ("expected number, received NaN" for `abc`). A value that is
 * not decimal digits, or is out of the field's range, is refused naming it and the range.
 */
function checkQueryNumbers(schema: z.ZodType, value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  const fields = numberFieldsOf(schema);
  if (fields.length === 0) return;
  const record = value as Record<string, unknown>;
  for (const { name, min, max } of fields) {
    const text = record[name];
    if (typeof text !== 'string') continue;
    const number = /^[0-9]{1,16}$/.test(text) ? Number(text) : Number.NaN;
    if (number >= min && number <= max) continue;
    throw invalidRequest(
      `query parameter ${name} ${shownValue(text)} is not a whole number from ${min} to ${max}: pass one in decimal digits (${name}=${Math.min(max, Math.max(min, 20))}), or leave it out for the default.`,
    );
  }
}

interface NumberField {
  name: string;
  min: number;
  max: number;
}

/** The coerced number fields of an object schema, with their bounds (made once per schema). */
function numberFieldsOf(schema: z.ZodType): readonly NumberField[] {
  const known = NUMBER_FIELDS.get(schema);
  if (known !== undefined) return known;
  const fields: NumberField[] = [];
  const def = (schema as unknown as ZodInternals)._zod.def;
  for (const [name, field] of Object.entries(def.type === 'object' ? (def.shape ?? {}) : {})) {
    let inner = field as unknown as ZodInternals & { minValue?: number | null; maxValue?: number | null };
    while (inner._zod.def.type === 'optional' || inner._zod.def.type === 'default') {
      inner = inner._zod.def.innerType as typeof inner;
    }
    const innerDef = inner._zod.def as { type: string; coerce?: boolean };
    if (innerDef.type !== 'number' || innerDef.coerce !== true) continue;
    fields.push({
      name,
      min: inner.minValue ?? Number.MIN_SAFE_INTEGER,
      max: inner.maxValue ?? Number.MAX_SAFE_INTEGER,
    });
  }
  NUMBER_FIELDS.set(schema, fields);
  return fields;
}

const NUMBER_FIELDS = new WeakMap<z.ZodType, readonly NumberField[]>();

/**
 * Refuses query parameters on a route that takes none (`DELETE /sessions/:id?force=true`,
 * `POST /sessions?user_id=…`): they were not read, so the request ran as if they were not there,
 * where a route that takes some refuses one it does not know. Undefined (no query) otherwise.
 */
export function checkNoQuery(request: HonoRequest, method: string, path: string): undefined {
  const at = request.url.indexOf('?');
  if (at < 0 || at === request.url.length - 1) return undefined;
  const names = Object.keys(request.queries());
  if (names.length === 0) return undefined;
  const listed = names.slice(0, 5).map(shownValue).join(', ');
  const more = names.length > 5 ? ` and ${names.length - 5} more` : '';
  const where = method === 'get' || method === 'delete' ? '' : ' (its fields go in the JSON body)';
  throw invalidRequest(
    `${method.toUpperCase()} /api/v1${path} takes no query parameters${where}: leave out ${listed}${more}.`,
  );
}
