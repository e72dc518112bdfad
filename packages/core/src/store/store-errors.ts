import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import type { Dialect } from './migrations.js';

/**
 * Wraps a database failure. The message names the operation only, never row values (they may hold
 * secrets); the database error stays available as `cause` for logs.
 */
export function storeError(dialect: Dialect, operation: string, cause: unknown): ToolMuxError {
  if (isAliasConflict(cause)) {
    return new ToolMuxError({
      code: 'ALIAS_TAKEN',
      message:
        'Another connected account of this user and toolkit already has this alias; aliases are unique per user and toolkit. Choose another alias, or rename that account first.',
      cause,
    });
  }
  return new ToolMuxError({
    code: 'STORE_ERROR',
    message: `The ${dialect} store failed to ${operation}. The database error is attached as the cause.`,
    cause,
    details: { operation },
  });
}

/**
 * An operation asked of a store after its `close()` (a session of a closed ToolMux): TOOLMUX_CLOSED,
 * not a database failure.
 */
export function storeClosedError(dialect: Dialect, operation: string): ToolMuxError {
  return new ToolMuxError({
    code: 'TOOLMUX_CLOSED',
    message: `The ${dialect} store was closed (mux.close()), so it could not ${operation}. Create a new ToolMux to go on: what the store holds is kept, and use(sessionId) on the new one takes a session up.`,
    details: { operation },
  });
}

/**
 * A connection request with `maxAccounts` would make an account ACTIVE while the user already has that
 * many ACTIVE or INACTIVE accounts of the toolkit (callers replace it with a message naming them).
 */
export function accountLimitError(): ToolMuxError {
  return new ToolMuxError({
    code: 'ACCOUNT_LIMIT_REACHED',
    message:
      "The user already has the connection request's maxAccounts ACTIVE or INACTIVE accounts of this toolkit; nothing was written. Delete or disable one first.",
  });
}

/**
 * An account or connection request would be stored for an auth config that is not there (deleted
 * after the caller read it): nothing was written, so nothing outlives the config.
 */
export function authConfigGoneError(id: string): ToolMuxError {
  return new ToolMuxError({
    code: 'AUTH_CONFIG_NOT_FOUND',
    message: `No auth config "${id}": it was deleted while an account or connection request was being made through it, and nothing was stored. Create one with ${apiRef('authConfigs.create')} and connect through it.`,
    details: { authConfigId: id },
  });
}

/** `updateSession` found no row with this id. */
export function sessionNotFoundError(id: string): ToolMuxError {
  return new ToolMuxError({
    code: 'SESSION_NOT_FOUND',
    message: `Session "${id}" does not exist.`,
    details: { sessionId: id },
  });
}

/**
 * `updateSession` found the session at another version than the caller read. `given`: the caller
 * gave that version (`expectedVersion`, `expected_version`), and the message names it; otherwise it
 * is the version a session object read (one that is stale), and the message names none.
 */
export function configVersionConflictError(
  id: string,
  expectedVersion: number,
  currentVersion: number,
  { given = false }: { given?: boolean } = {},
): ToolMuxError {
  const expected = apiRef('expectedVersion');
  const read = apiRef('use', { sessionId: id });
  return new ToolMuxError({
    code: 'SESSION_VERSION_CONFLICT',
    // a version ahead of the stored one was never stored (each update counts up by one): nobody
    // updated the session, the caller has a version from elsewhere (another session, a typo)
    message:
      expectedVersion > currentVersion
        ? `Session "${id}" is at config version ${currentVersion}: the ${expected} given, ${expectedVersion}, is newer than any it has had (each update adds one). ` +
          `Send the ${apiRef('configVersion')} that ${read} answers, or leave ${expected} out to apply the update to the config as it is now.`
        : given
          ? `Session "${id}" was updated by someone else: the ${expected} given, ${expectedVersion}, is not its config version any more (it is ${currentVersion}). ` +
            `Read the session again with ${read} and retry the update on what it holds now, with the ${apiRef('configVersion')} it answers as ${expected}; or leave ${expected} out to apply the update to the config as it is now.`
          : `Session "${id}" was updated by someone else: expected config version ${expectedVersion}, ` +
            `found ${currentVersion}. Read the session again with ${read} and retry the update on what it holds now.`,
    details: { sessionId: id, expectedVersion, currentVersion },
  });
}

/** Rejects an `expectedVersion` that no stored session can have. */
export function assertExpectedVersion(expectedVersion: number): void {
  const problem = expectedVersionProblem(expectedVersion, 'expectedVersion', String);
  if (problem !== undefined) throw new ToolMuxError({ code: 'INVALID_REQUEST', message: `${problem}.` });
}

/** What is wrong with `value` as an expected config version given as `name` (shown with `show`), if anything. */
export function expectedVersionProblem(
  value: unknown,
  name: string,
  show: (value: unknown) => string,
): string | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1
    ? undefined
    : `${name} must be a positive integer (the configVersion you read); got ${typeof value === 'number' ? String(value) : show(value)}`;
}

/** The name of the unique index on (user, toolkit, alias) of connected accounts (migration 6). */
const ALIAS_INDEX = 'toolmux_connected_accounts_alias';

/** A write broke the unique alias index (PostgreSQL names the index; SQLite names its columns). */
function isAliasConflict(cause: unknown): boolean {
  if (typeof cause !== 'object' || cause === null) return false;
  const { constraint, message } = cause as { constraint?: unknown; message?: unknown };
  if (constraint === ALIAS_INDEX) return true;
  return (
    typeof message === 'string' &&
    message.includes('UNIQUE constraint failed') &&
    message.includes('toolmux_connected_accounts.alias')
  );
}
