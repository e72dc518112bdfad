import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import type { ToolResult } from '../execution/result.js';
import { checkedRequest } from './options-object.js';
import { checkId, checkText, MAX_ID_LENGTH, shownValue } from './stored-text.js';

/**
 * The checks of the positional arguments of public methods (ids, slugs, a session id) that the
 * embedded and the remote engine both run at a method's entry, before anything is read, stored or
 * sent: the same wrong value fails alike in both modes, and a remote ToolMux never sends an id that
 * a URL cannot carry (an empty one, or one of 100,000 characters) to learn that it names nothing.
 */

export const ID_FIX = 'pass an id exactly as toolmux returned it (ac_…, ca_…, cr_…)';

/** What an id of each kind starts with, and what its NOT_FOUND says after `No <noun> "<id>".`. */
const LOOKUPS = {
  authConfig: {
    field: 'authConfigId',
    prefix: 'ac_',
    code: 'AUTH_CONFIG_NOT_FOUND',
    noun: 'auth config',
    hint: () => `Create one with ${apiRef('authConfigs.create')}; ids start with "ac_".`,
  },
  connectedAccount: {
    field: 'connectedAccountId',
    prefix: 'ca_',
    code: 'CONNECTED_ACCOUNT_NOT_FOUND',
    noun: 'connected account',
    hint: () => `List them with ${apiRef('connectedAccounts.list')}; ids start with "ca_".`,
  },
  connectionRequest: {
    field: 'connectionRequestId',
    prefix: 'cr_',
    code: 'CONNECTION_REQUEST_NOT_FOUND',
    noun: 'connection request',
    hint: () =>
      `Connection requests come from ${apiRef('session.authorize')} and ${apiRef('connectedAccounts.link')} (ids start with "cr_"); they are deleted with their auth config or account.`,
  },
} as const;

export type IdKind = keyof typeof LOOKUPS;

/** The NOT_FOUND of an id of `kind` that names nothing. */
export function notFound(kind: IdKind, id: string): ToolMuxError {
  const { field, code, noun, hint } = LOOKUPS[kind];
  return new ToolMuxError({
    code,
    message: `No ${noun} "${id.slice(0, MAX_ID_LENGTH)}". ${hint()}`,
    details: { [field]: id.slice(0, MAX_ID_LENGTH) },
  });
}

/**
 * An id of `kind` a method was given, when it may name something: INVALID_REQUEST for one that no
 * id can be (not a string, longer than 256 characters, control characters), the kind's NOT_FOUND
 * for a string that is not one of its ids (empty, without the kind's prefix).
 */
export function lookupId(kind: IdKind, value: unknown): string {
  const { field, prefix } = LOOKUPS[kind];
  const id = checkId(value, field, { fix: ID_FIX });
  if (!id.startsWith(prefix)) throw notFound(kind, id);
  return id;
}

/** The SESSION_NOT_FOUND of `use(sessionId)` or `sessions.delete(sessionId)`. */
export function sessionNotFound(sessionId: unknown, method: 'use' | 'delete'): ToolMuxError {
  return new ToolMuxError({
    code: 'SESSION_NOT_FOUND',
    message:
      method === 'use'
        ? `No session "${String(sessionId)}". Create one with ${apiRef('create')}; session ids start with "ses_".`
        : `No session "${String(sessionId)}" to delete; session ids start with "ses_" (list them with ${apiRef('sessions.list')}).`,
  });
}

/** A session id given to `use()` or `sessions.delete()`, when it may name a session (see {@link lookupId}). */
export function sessionIdOf(value: unknown, method: 'use' | 'delete'): string {
  const sessionId = checkSessionId(value);
  if (sessionId === '') throw sessionNotFound(sessionId, method);
  return sessionId;
}

/** A session id: INVALID_REQUEST for one that no session id can be (not a string, too long, controls). */
export function checkSessionId(sessionId: unknown): string {
  return checkId(sessionId, 'sessionId', { fix: 'pass a session id as create() returned it (ses_…)' });
}

/** What an id toolmux made is, by its prefix, for a message about an id of one kind given for another. */
const ID_KINDS: ReadonlyArray<readonly [prefix: string, kind: string]> = [
  ['ses_', "a session's id"],
  ['log_', "a log entry's id"],
  ...Object.values(LOOKUPS).map(
    ({ prefix, noun }) => [prefix, `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}'s id`] as const,
  ),
];

/**
 * An id a list is filtered by, which must be of the kind `prefix` starts: INVALID_REQUEST for any
 * other, naming what it is when toolmux made it. A filter of the wrong kind selected nothing, and the
 * empty page read as "no entries" (a connected account's id passed as `sessionId`).
 */
export function filterIdOf(value: string, field: 'sessionId' | 'parentId', prefix: 'ses_' | 'log_'): string {
  if (value.startsWith(prefix)) return value;
  const [, what] = ID_KINDS.find(([other]) => value.startsWith(other)) ?? [];
  const wanted = prefix === 'ses_' ? 'session' : 'log entry';
  // the filter as its caller spells it: `sessionId` in the SDK, `session_id` in a REST query
  const named = apiRef(field);
  throw new ToolMuxError({
    code: 'INVALID_REQUEST',
    message: `${named} ${shownValue(value)} is ${what ?? 'no toolmux id'}, not a ${wanted} id: ${wanted} ids start with "${prefix}"${
      prefix === 'ses_' ? ` (as ${apiRef('create')} returned it)` : ` (a result's ${apiRef('logId')})`
    }.`,
    details: { field: named },
  });
}

/** A toolkit slug a method was given: INVALID_REQUEST for one that is not a non-empty string of at most 256 characters. */
export function toolkitSlugOf(value: unknown): string {
  return checkText(value, {
    field: 'toolkit',
    code: 'INVALID_REQUEST',
    maxLength: MAX_ID_LENGTH,
    fix: `pass a toolkit's slug as ${apiRef('toolkits.list')} lists it (e.g. "github")`,
  });
}

/**
 * The failed result of a tool call whose slug is not a non-empty string: a refused request (no call,
 * so no log entry), as the server answers one over REST.
 */
export function toolSlugRefusal(
  slug: unknown,
  method: 'execute()' | 'tools.execute()',
): ToolResult | undefined {
  if (typeof slug === 'string' && slug !== '') return undefined;
  const example =
    method === 'execute()'
      ? 'execute("GITHUB_CREATE_ISSUE", { … })'
      : 'tools.execute("GITHUB_CREATE_ISSUE", { userId, arguments: { … } })';
  return {
    successful: false,
    data: null,
    error: `${method} takes the tool's slug as a non-empty string, e.g. ${example}; got ${shownValue(slug)}.`,
    code: 'INVALID_REQUEST',
    logId: '',
  };
}

/** The changes of `connectedAccounts.update()`: an object with `alias` (a string, or null to remove it). */
export function aliasChangeOf(changes: { alias: string | null }): { alias: string | null } {
  const checked = checkedRequest(changes, 'mux.connectedAccounts.update()');
  if ('alias' in checked) return checked;
  throw new ToolMuxError({
    code: 'INVALID_REQUEST',
    message:
      'mux.connectedAccounts.update() takes an object ({ alias }: the new alias, or null to remove it); got an object without alias.',
  });
}
