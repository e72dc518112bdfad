import { ToolMuxError } from '../errors.js';

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
  'mux.connectedAccounts.create()': 'an options object ({ alias? })',
  'mux.connectedAccounts.update()': 'an object ({ alias }: the new alias, or null to remove it)',
  'mux.connectedAccounts.list()':
    'a query object ({ userIds?, toolkits?, statuses?, authConfigIds?, limit?, cursor? })',
  'mux.connectedAccounts.refresh()': 'an options object ({ signal? })',
  'mux.vault.rotate()': 'an options object ({ batchSize? })',
} as const;

export type ObjectTakingMethod = keyof typeof TAKES;

/** What a value is, for a message: its kind only (a string given here may be a secret). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

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
