import { ToolMuxError } from '../errors.js';
import { MAX_PAGE_LIMIT } from '../store/pagination.js';
import { expectedVersionProblem } from '../store/store-errors.js';
import { didYouMean } from './closest-names.js';
import { MAX_CURSOR_LENGTH } from './pagination.js';
import { kindOf, MAX_ID_LENGTH, shownValue } from './stored-text.js';

/**
 * What each public method that takes an options, query or request object takes there, in the words
 * its message uses: one table, so that embedded and remote mode answer a wrong value alike.
 */
const TAKES = {
  'session.tools()': 'tool modifiers ({ modifySchema?, beforeExecute?, afterExecute? })',
  'session.execute()': 'an options object ({ signal?, callId?, account? })',
  'session.handleToolCalls()': 'an options object ({ signal? })',
  'session.authorize()': 'an options object ({ callbackUrl?, alias? })',
  'session.ensureConnected()': 'an options object ({ callbackUrl?, alias? })',
  'session.waitForConnections()': 'an options object ({ timeoutMs?, signal? })',
  'session.proxyExecute()':
    'a request object ({ toolkit, endpoint, method?, body?, parameters?, connectedAccountId?, maxResponseBytes?, signal? })',
  'session.toolkits()': 'an options object ({ toolkits?, search?, connected?, limit?, cursor? })',
  'session.search()': 'an object ({ query, knownFields?, limit? })',
  'session.logs()': 'an options object ({ limit?, cursor?, parentId? })',
  'session.update()': 'an options object ({ expectedVersion? })',
  'mux.use()': 'an options object ({ customTools?, customToolkits? })',
  'mux.close()': 'an options object ({ timeoutMs? })',
  'mux.sessions.list()': 'a query object ({ userId?, limit?, cursor? })',
  'mux.logs.list()': 'a query object ({ sessionId?, userId?, toolSlug?, parentId?, limit?, cursor? })',
  'mux.toolkits.list()': 'a query object ({ search?, limit?, cursor? })',
  'mux.tools.get()': 'tool modifiers ({ modifySchema?, beforeExecute?, afterExecute? })',
  'mux.tools.execute()': 'a request object ({ userId, arguments?, connectedAccountId?, signal?, callId? })',
  'mux.authConfigs.list()': 'a query object ({ toolkit?, limit?, cursor? })',
  'mux.authConfigs.create()': 'an options object ({ type, clientId?, clientSecret?, scopes?, name? })',
  'mux.authConfigs.update()': 'the changes ({ clientId?, clientSecret?, scopes?, name? })',
  'mux.connectedAccounts.link()': 'an options object ({ callbackUrl?, alias? })',
  'mux.connectedAccounts.reconnect()': 'an options object ({ callbackUrl? })',
  'mux.connectedAccounts.create()': 'an options object ({ alias? })',
  'mux.connectedAccounts.update()': 'an object ({ alias }: the new alias, or null to remove it)',
  'mux.connectedAccounts.list()':
    'a query object ({ userIds?, toolkits?, statuses?, authConfigIds?, limit?, cursor? })',
  'mux.connectedAccounts.refresh()': 'an options object ({ signal? })',
  'mux.vault.rotate()': 'an options object ({ batchSize? })',
} as const;

export type ObjectTakingMethod = keyof typeof TAKES;

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The options (or query) object a public method was given: `{}` for undefined (left out), the object
 * itself for an object, and INVALID_REQUEST for anything else (null, a string, a number, an array, a
 * function), naming the method and what it takes, instead of a TypeError from reading a field of it
 * (or a string's characters taken for fields). Called at the entry of each method, before anything
 * is read or sent, so that embedded and remote mode answer alike.
 */
export function optionsObject<T extends object>(value: T | undefined, method: ObjectTakingMethod): T {
  if (value === undefined) return {} as T;
  if (isObject(value)) return value;
  throw new ToolMuxError({
    code: 'INVALID_REQUEST',
    message: `${method} takes ${TAKES[method]} or nothing; got ${kindOf(value)}.`,
  });
}

/**
 * The object a public method needs (a request, not optional): the object itself, and INVALID_REQUEST
 * for anything else, undefined included, naming the method and what it takes.
 */
export function requestObject<T extends object>(value: T, method: ObjectTakingMethod): T {
  if (isObject(value)) return value;
  throw new ToolMuxError({
    code: 'INVALID_REQUEST',
    message: `${method} takes ${TAKES[method]}; got ${kindOf(value)}.`,
  });
}

/**
 * The credentials `connectedAccounts.create()` or `connectionRequests.complete()` was given: the
 * object itself, and INVALID_REQUEST for anything else, naming only its kind (a string given there
 * is likely a secret). Whether its fields are the auth scheme's is checked later
 * (CONNECTED_ACCOUNT_INVALID, naming them).
 */
export function credentialsObject<T extends object>(
  value: T,
  method: 'mux.connectedAccounts.create()' | 'mux.connectionRequests.complete()',
): T {
  if (isObject(value)) return value;
  throw new ToolMuxError({
    code: 'INVALID_REQUEST',
    message: `${method} takes the credentials as an object of the auth scheme's fields (e.g. { apiKey }, { token }, or { username, password }); got ${kindOf(value)}.`,
  });
}

/** A field's check: what is wrong with `value` given as `name` (undefined: nothing). */
type FieldCheck = (value: unknown, name: string) => string | undefined;

/** Checked where it is used (with a message of its own). */
const checkedLater: FieldCheck = () => undefined;
/** A string of at most `most` characters (an id, a slug or a search text: what the REST API takes). */
const textUpTo =
  (most: number): FieldCheck =>
  (value, name) => {
    if (typeof value !== 'string') return `${name} must be a string; got ${shownValue(value)}`;
    if (value.length <= most) return undefined;
    return `${name} must be a string of at most ${most} characters; got ${shownValue(value)} (${value.length.toLocaleString('en')} characters)`;
  };
/** A string: an id, a slug or a user id, whose own check (`checkId`, `checkUserId`) says what it may hold. */
const text: FieldCheck = (value, name) =>
  typeof value === 'string' ? undefined : `${name} must be a string; got ${shownValue(value)}`;
const textOrNull: FieldCheck = (value, name) =>
  value === null || typeof value === 'string'
    ? undefined
    : `${name} must be a string (or null); got ${shownValue(value)}`;
const texts: FieldCheck = (value, name) => {
  if (!Array.isArray(value)) return `${name} must be an array of strings; got ${shownValue(value)}`;
  for (let index = 0; index < value.length; index++) {
    const problem = text(value[index], `${name}[${index}]`);
    if (problem !== undefined) return problem;
  }
  return undefined;
};
/**
 * A list filter: {@link texts}, and at least one. An empty list selected every row, as a missing one
 * does: `list({ userIds: ids })` with no ids listed every user's accounts.
 */
const filter: FieldCheck = (value, name) =>
  texts(value, name) ??
  ((value as unknown[]).length === 0
    ? `${name} is an empty list, which names nothing to select: leave ${name} out not to filter by it, or name at least one`
    : undefined);
const flag: FieldCheck = (value, name) =>
  typeof value === 'boolean' ? undefined : `${name} must be true or false; got ${shownValue(value)}`;
const fn: FieldCheck = (value, name) =>
  typeof value === 'function' ? undefined : `${name} must be a function; got ${shownValue(value)}`;
const cursor: FieldCheck = (value, name) =>
  typeof value === 'string' && value.length <= MAX_CURSOR_LENGTH
    ? undefined
    : `${name} must be the nextCursor of a previous page, a string (leave it out for the first page); got ${shownValue(value)}`;
/** An array (of tools or toolkits, whose items are checked where they are used). */
const list =
  (of: string): FieldCheck =>
  (value, name) =>
    Array.isArray(value) ? undefined : `${name} must be an array of ${of}; got ${shownValue(value)}`;
/** A page size: a whole number from 1 to `max` (the same words as `validateLimit`). */
const limit =
  (max: number): FieldCheck =>
  (value, name) =>
    typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max
      ? undefined
      : `${name} must be an integer from 1 to ${max}, got ${typeof value === 'number' ? String(value) : shownValue(value)}`;

/**
 * The fields of each public method's options object that lists or searches (and of those that take
 * tools or tool modifiers), with the check of each. {@link checkedFields} refuses any other key and a
 * value of the wrong kind, in both modes, before anything is read or sent.
 */
const FIELDS = {
  'mux.toolkits.list()': { search: textUpTo(200), limit: limit(500), cursor },
  'mux.sessions.list()': { userId: text, limit: limit(MAX_PAGE_LIMIT), cursor },
  'mux.logs.list()': {
    sessionId: text,
    userId: text,
    toolSlug: text,
    parentId: text,
    limit: limit(MAX_PAGE_LIMIT),
    cursor,
  },
  'mux.authConfigs.list()': { toolkit: text, limit: limit(MAX_PAGE_LIMIT), cursor },
  'mux.connectedAccounts.list()': {
    userIds: filter,
    toolkits: filter,
    statuses: filter,
    authConfigIds: filter,
    limit: limit(MAX_PAGE_LIMIT),
    cursor,
  },
  'mux.use()': { customTools: list('defineTool() results'), customToolkits: list('defineToolkit() results') },
  'mux.tools.get()': { modifySchema: fn, beforeExecute: fn, afterExecute: fn },
  'mux.tools.execute()': {
    userId: checkedLater,
    arguments: checkedLater,
    connectedAccountId: checkedLater,
    signal: checkedLater,
    callId: checkedLater,
  },
  'session.tools()': { modifySchema: fn, beforeExecute: fn, afterExecute: fn },
  'session.toolkits()': {
    toolkits: texts,
    search: textUpTo(MAX_ID_LENGTH),
    connected: flag,
    limit: limit(100),
    cursor,
  },
  'session.search()': { query: checkedLater, knownFields: textOrNull, limit: limit(50) },
  'session.logs()': { limit: limit(MAX_PAGE_LIMIT), cursor, parentId: text },
  'session.update()': {
    // the store's own check
    expectedVersion: (value, name) => expectedVersionProblem(value, name, shownValue),
  },
  // the options of these are checked where they are used; here only that no other key is given (a
  // misspelt one, `{ acount }`, `{ timeout }`, `{ callbackURL }`, was ignored: the call ran with the
  // default account, waited 60 s, sent the user back to the default page)
  'session.execute()': { signal: checkedLater, callId: checkedLater, account: checkedLater },
  'session.handleToolCalls()': { signal: checkedLater },
  'session.authorize()': { callbackUrl: checkedLater, alias: checkedLater },
  'session.ensureConnected()': { callbackUrl: checkedLater, alias: checkedLater },
  'session.waitForConnections()': { timeoutMs: checkedLater, signal: checkedLater },
  'mux.close()': { timeoutMs: checkedLater },
  'mux.connectedAccounts.link()': { callbackUrl: checkedLater, alias: checkedLater },
  'mux.connectedAccounts.reconnect()': { callbackUrl: checkedLater },
  'mux.connectedAccounts.create()': { alias: checkedLater },
  'mux.connectedAccounts.update()': { alias: checkedLater },
  'mux.connectedAccounts.refresh()': { signal: checkedLater },
  'mux.vault.rotate()': { batchSize: checkedLater },
} as const satisfies Partial<Record<ObjectTakingMethod, Record<string, FieldCheck>>>;

export type FieldCheckedMethod = keyof typeof FIELDS;

/**
 * `method`, which the compiler checks to take exactly the keys of `T` (its options type) in
 * {@link checkedFields}: an option added to the type and not here (or the other way round) is an
 * error naming it, as `mismatch`.
 *
 * @example fieldsOf<AuthorizeOptions>()('session.authorize()');
 */
export function fieldsOf<T>() {
  return <M extends FieldCheckedMethod>(
    method: M &
      ([Exclude<keyof T, keyof (typeof FIELDS)[M]> | Exclude<keyof (typeof FIELDS)[M], keyof T>] extends [
        never,
      ]
        ? unknown
        : {
            mismatch: Exclude<keyof T, keyof (typeof FIELDS)[M]> | Exclude<keyof (typeof FIELDS)[M], keyof T>;
          }),
  ): M => method;
}

/**
 * `options` (an object of `method`) with every key one of the method's fields, and every field given
 * (not undefined) of its kind: INVALID_REQUEST naming the method, the key (and the closest known one)
 * or the field and its value, cut short. A misspelt option (`{ serach: 'x' }`) was ignored, where the
 * REST API refuses it; a value of the wrong kind became a TypeError (`search: 123`, `cursor: 5`).
 */
export function checkedFields<T extends object>(options: T, method: FieldCheckedMethod): T {
  const fields: Readonly<Record<string, FieldCheck>> = FIELDS[method];
  for (const key in options) {
    if (!Object.hasOwn(options, key) || Object.hasOwn(fields, key)) continue;
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `${method} has no option ${shownValue(key)}.${didYouMean(key, Object.keys(fields))} It takes ${TAKES[method]}.`,
    });
  }
  for (const [name, check] of Object.entries(fields)) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    const problem = check(value, name);
    if (problem !== undefined) {
      throw new ToolMuxError({ code: 'INVALID_REQUEST', message: `${method}: ${problem}.` });
    }
  }
  return options;
}

/** {@link optionsObject} whose fields are {@link checkedFields}. */
export function checkedOptions<T extends object>(value: T | undefined, method: FieldCheckedMethod): T {
  return checkedFields(optionsObject(value, method), method);
}

/** {@link requestObject} whose fields are {@link checkedFields}. */
export function checkedRequest<T extends object>(value: T, method: FieldCheckedMethod): T {
  return checkedFields(requestObject(value, method), method);
}
