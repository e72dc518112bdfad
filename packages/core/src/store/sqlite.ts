import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { ToolMuxError } from '../errors.js';
import { newId } from '../util/ids.js';
import { makeDirectories } from '../util/key-file.js';
import { WorkSlice, yieldToEventLoop } from '../util/slices.js';
import { announceMigration } from './migration-events.js';
import {
  type AppliedMigration,
  ATTEMPT_CONDITION,
  MIGRATIONS_TABLE_SQL,
  type Migration,
  NEVER_CONNECTED_CONDITION,
  OPEN_FORM_REQUEST_CONDITION,
  pendingMigrations,
  SEALED_SECRET_TABLES,
  WORKBENCH_CELL_CONDITION,
} from './migrations.js';
import {
  assertPageQuery,
  LOG_READ_ROWS,
  type PageQuery,
  pageClause,
  sqliteLimit,
  toPage,
} from './pagination.js';
import {
  SAFETY_NET_AUTOCHECKPOINT_PAGES,
  SqliteCheckpointer,
  type SqliteCheckpointerOptions,
} from './sqlite-checkpointer.js';
import {
  accountLimitError,
  assertExpectedVersion,
  authConfigGoneError,
  configVersionConflictError,
  sessionNotFoundError,
  storeClosedError,
  storeError,
} from './store-errors.js';
import type {
  AuthConfigChanges,
  AuthConfigRecord,
  ConnectedAccountChanges,
  ConnectedAccountRecord,
  ConnectedAccountStatusRecord,
  ConnectionRequestRecord,
  ExecutionLogRecord,
  ExecutionStatus,
  ListAuthConfigsQuery,
  ListConnectedAccountsQuery,
  ListLogsQuery,
  ListSessionsQuery,
  Page,
  RecentConnectedAccountsQuery,
  SealedSecret,
  SealedSecretKind,
  SealedSecretsQuery,
  SessionRecord,
  SessionTokenRotation,
  SessionUpdate,
  Store,
  StoredSessionToken,
  WorkbenchFileRange,
  WorkbenchFileRecord,
  WorkbenchFileWrite,
} from './types.js';
import { ATTEMPT_EXPIRED_REASON, ATTEMPT_REPLACED_REASON, MAX_ATTEMPTS_ENDED_PER_START } from './types.js';
import {
  type FilePiecesRead,
  type FilePiecesReader,
  fileKeptChangingError,
  filePieces,
  GENERATION_PREFIX,
  piecesMissingError,
  readFileRange,
  readWholeFile,
  WORKBENCH_FILE_RECORD_BYTES,
  WORKBENCH_READ_ATTEMPTS,
  WORKBENCH_STALE_PIECES_MS,
} from './workbench-pieces.js';

export interface SqliteStoreOptions {
  /**
   * A database file (its parent directories are created) or `':memory:'` for a database that lives
   * as long as the store.
   */
  path: string;
  /** @internal WAL checkpoint settings (tests lower them; see SqliteCheckpointer). */
  checkpoints?: SqliteCheckpointerOptions;
  /**
   * How long `migrate()` waits for the database's write lock while another process holds it (its
   * own migrations, which may rebuild large tables, or a long write), in milliseconds. The wait
   * does not block the event loop.
   *
   * @default 600000
   */
  migrationTimeoutMs?: number;
  /**
   * @internal Opens an existing database file to read it only (`toolmux sessions list`): the file is
   * not created (a missing one fails), its mode and journal mode are left as they are, and the
   * connection refuses writes (`PRAGMA query_only`), so `migrate()` and every write fail.
   */
  readOnly?: boolean;
}

/** How long a statement waits for a lock another process holds before it fails (SQLITE_BUSY). */
const BUSY_TIMEOUT_MS = 5000;

/**
 * How long a write waits for the file's write lock that another process holds before it fails
 * (STORE_ERROR): as long as PostgreSQL's statements may take by default (`query_timeout`). It waits
 * off the event loop (see `write()`), so this is what the one caller waits, not every request; an
 * answered call waits for its log entry, which a wait of 5 s (the statements' busy timeout, all the
 * event loop could afford) lost behind a lock held longer than two of them (the writer's retry).
 */
const WRITE_LOCK_WAIT_MS = 30_000;

/**
 * The waits between a write's attempts to take the file's write lock while another process holds it
 * (SQLite's own busy handler sleeps so, 1 ms growing to 100), the last repeated until
 * {@link WRITE_LOCK_WAIT_MS} passed; the attempts themselves do not wait (see `write()`).
 */
const WRITE_LOCK_RETRY_MS = [1, 2, 5, 10, 15, 20, 25, 25, 50, 50, 100];

/** How long each attempt to take the write lock for migrations blocks the thread (see `migrate()`). */
const MIGRATION_LOCK_ATTEMPT_MS = 100;

/** A write that did not get the file's write lock within {@link WRITE_LOCK_WAIT_MS}. */
function writeLockTimeout(operation: string, cause: unknown): ToolMuxError {
  return new ToolMuxError({
    code: 'STORE_ERROR',
    message:
      `The sqlite store failed to ${operation}: another connection held the database's write lock for ${WRITE_LOCK_WAIT_MS} ms ` +
      '(another process writing to the file in a long transaction: a backup, the sqlite3 shell, a migration). Try again once it is done.',
    cause,
    details: { operation, timeoutMs: WRITE_LOCK_WAIT_MS },
  });
}

/** SQLITE_BUSY, and its extended codes: another connection holds the lock. */
function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' && (code & 0xff) === 5;
}

type Row = Record<string, unknown>;

const SESSION_COLUMNS =
  'id, user_id, config, config_version, token_hash, metadata, created_at, updated_at, token_version';
const LOG_COLUMNS =
  'id, session_id, user_id, tool_slug, toolkit, connected_account_id, call_id, status, error_code, ' +
  'error_message, duration_ms, input, output, created_at, parent_id';
const LOG_COLUMN_NAMES = LOG_COLUMNS.split(', ');

/**
 * A text of an entry longer than this (UTF-8 bytes) is read as a BLOB of its bytes, which
 * node:sqlite copies, and decoded a slice at a time after the statement (`decodeLongTexts`): turning
 * UTF-8 into a string is what a page costs (outside ASCII, ~300 MB/s), and a statement's rows are
 * turned into strings all at once. The server logs at most 4096 bytes per text, so its entries are
 * read as before; a remote client may upload 8192 characters (24 KB outside ASCII) per text.
 * Measured against a read without it: a page of 1000 such entries held the event loop for 29–45 ms
 * (CPU) without it, 7–22 ms with it; an ordinary page of 50 small entries costs 8% more
 * instructions with it (callgrind: 806k against 746k per page).
 */
export const LONG_LOG_TEXT_BYTES = 4096;
/** {@link LOG_COLUMNS} as pages read them: `error_message`, `input` and `output` when long as BLOBs. */
const LOG_PAGE_COLUMNS = LOG_COLUMNS.replace(
  /\b(error_message|input|output)\b/g,
  (column) =>
    `iif(octet_length(${column}) > ${LONG_LOG_TEXT_BYTES}, CAST(${column} AS BLOB), ${column}) AS ${column}`,
);
/** Where those texts are in a row of {@link LOG_PAGE_COLUMNS}: by position, or by name in an object. */
const LONG_LOG_TEXT_NAMES = ['error_message', 'input', 'output'];
const LONG_LOG_TEXT_COLUMNS = LONG_LOG_TEXT_NAMES.map((name) => LOG_COLUMN_NAMES.indexOf(name));
/** `ignoreBOM`: a text that begins with U+FEFF keeps it (the default decoder takes it for a byte order mark). */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Decodes the long texts that rows `from` on hold as bytes (see {@link LONG_LOG_TEXT_BYTES}), one
 * at a time, with the event loop free whenever `slice` is due. Every page goes through here, so the
 * loops are plain indexed ones over the rows it was given (`for…of` over copies of the rows made
 * this path cost an ordinary page twice as much: 862k instructions instead of 806k).
 */
async function decodeLongTexts(rows: Array<Row | unknown[]>, from: number, slice: WorkSlice): Promise<void> {
  if (from >= rows.length) return;
  const keys: ReadonlyArray<string | number> = Array.isArray(rows[from])
    ? LONG_LOG_TEXT_COLUMNS
    : LONG_LOG_TEXT_NAMES;
  for (let at = from; at < rows.length; at++) {
    const row = rows[at] as Record<string | number, unknown>;
    for (let column = 0; column < keys.length; column++) {
      const key = keys[column]!;
      const value = row[key];
      if (!(value instanceof Uint8Array)) continue;
      row[key] = utf8.decode(value);
      if (slice.due()) await slice.pause();
    }
  }
}

const AUTH_CONFIG_COLUMNS = 'id, toolkit, type, created_by, settings, secret, key_id, created_at, updated_at';
const ACCOUNT_COLUMNS =
  'id, user_id, toolkit, auth_config_id, status, status_reason, secret, key_id, expires_at, version, ' +
  'refresh_lease_until, connected_at, created_at, updated_at, alias';
/** The condition of an insert of an account or request: its auth config (the last parameter) exists. */
const AUTH_CONFIG_EXISTS = 'SELECT 1 FROM toolmux_auth_configs WHERE id = ?';
const REQUEST_COLUMNS =
  'id, kind, connected_account_id, user_id, toolkit, auth_config_id, state_hash, secret, key_id, ' +
  'callback_url, redirect_uri, status, expires_at, used_at, created_at, alias, max_accounts, reconnect_of';
/** What a read of a request selects: its inserted columns, and when newer requests replaced it (migration 17). */
const REQUEST_READ_COLUMNS = `${REQUEST_COLUMNS}, replaced_at`;

/**
 * Rows per INSERT of execution log entries: a batch of up to this many is one statement (prepared
 * once per row count, so at most this many such statements), a larger one several.
 */
export const LOG_ROWS_PER_INSERT = 32;
const LOG_COLUMN_COUNT = LOG_COLUMN_NAMES.length;
/** The placeholders of one row of {@link LOG_COLUMNS}. */
const LOG_ROW = `(${Array.from({ length: LOG_COLUMN_COUNT }, () => '?').join(', ')})`;

/** Statements built at run time (list queries) that a store keeps prepared, the least recently used dropped first. */
export const MAX_LIST_STATEMENTS = 256;
/** Columns of {@link ConnectedAccountChanges}, by property. */
const ACCOUNT_CHANGE_COLUMNS = {
  status: 'status',
  statusReason: 'status_reason',
  expiresAt: 'expires_at',
  refreshLeaseUntil: 'refresh_lease_until',
  connectedAt: 'connected_at',
  alias: 'alias',
} as const;

/** The fixed statements, prepared on first use (the tables exist only after `migrate()`). */
function prepareStatements(database: DatabaseSync) {
  return {
    insertSession: database.prepare(
      `INSERT INTO toolmux_sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    rotateSessionToken: database.prepare(
      'UPDATE toolmux_sessions SET token_version = ?, token_hash = ? ' +
        `WHERE id = ? AND token_version = ? RETURNING ${SESSION_COLUMNS}`,
    ),
    getSessionTokenHash: database.prepare('SELECT token_hash FROM toolmux_sessions WHERE id = ?'),
    getSessionToken: database.prepare('SELECT token_version, token_hash FROM toolmux_sessions WHERE id = ?'),
    getSession: database.prepare(`SELECT ${SESSION_COLUMNS} FROM toolmux_sessions WHERE id = ?`),
    deleteSession: database.prepare('DELETE FROM toolmux_sessions WHERE id = ?'),
    updateSession: database.prepare(
      'UPDATE toolmux_sessions SET config = ?, metadata = ?, config_version = config_version + 1, updated_at = ? ' +
        `WHERE id = ? AND config_version = ? RETURNING ${SESSION_COLUMNS}`,
    ),
    getSessionVersion: database.prepare('SELECT config_version FROM toolmux_sessions WHERE id = ?'),
    begin: database.prepare('BEGIN'),
    commit: database.prepare('COMMIT'),
    rollback: database.prepare('ROLLBACK'),
    insertAuthConfig: database.prepare(
      `INSERT INTO toolmux_auth_configs (${AUTH_CONFIG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    getAuthConfig: database.prepare(`SELECT ${AUTH_CONFIG_COLUMNS} FROM toolmux_auth_configs WHERE id = ?`),
    deleteAuthConfig: database.prepare('DELETE FROM toolmux_auth_configs WHERE id = ?'),
    // what went holding credentials: their tokens are revoked (see Store.deleteAuthConfig)
    heldAccountsOfConfig: database.prepare(
      `SELECT ${ACCOUNT_COLUMNS} FROM toolmux_connected_accounts WHERE auth_config_id = ? AND secret IS NOT NULL`,
    ),
    deleteAccountsOfConfig: database.prepare(
      `DELETE FROM toolmux_connected_accounts WHERE auth_config_id = ? RETURNING ${ACCOUNT_COLUMNS}`,
    ),
    deleteRequestsOfConfig: database.prepare(
      'DELETE FROM toolmux_connection_requests WHERE auth_config_id = ?',
    ),
    // only while its auth config is there: a config deleted after the caller read it keeps no account
    insertAccount: database.prepare(
      `INSERT INTO toolmux_connected_accounts (${ACCOUNT_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? ` +
        `WHERE EXISTS (${AUTH_CONFIG_EXISTS})`,
    ),
    authConfigExists: database.prepare(AUTH_CONFIG_EXISTS),
    getAccount: database.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM toolmux_connected_accounts WHERE id = ?`),
    getAccountStatus: database.prepare(
      'SELECT id, status, status_reason, version, toolkit FROM toolmux_connected_accounts WHERE id = ?',
    ),
    acquireRefreshLease: database.prepare(
      'UPDATE toolmux_connected_accounts SET refresh_lease_until = ?, version = version + 1, updated_at = ? ' +
        'WHERE id = ? AND version = ? AND (refresh_lease_until IS NULL OR refresh_lease_until < ?) ' +
        `RETURNING ${ACCOUNT_COLUMNS}`,
    ),
    deleteAccount: database.prepare('DELETE FROM toolmux_connected_accounts WHERE id = ?'),
    deleteRequestsOfAccount: database.prepare(
      'DELETE FROM toolmux_connection_requests WHERE connected_account_id = ?',
    ),
    insertRequest: database.prepare(
      `INSERT INTO toolmux_connection_requests (${REQUEST_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? ` +
        `WHERE EXISTS (${AUTH_CONFIG_EXISTS})`,
    ),
    getRequest: database.prepare(
      `SELECT ${REQUEST_READ_COLUMNS} FROM toolmux_connection_requests WHERE id = ?`,
    ),
    latestRequest: database.prepare(
      `SELECT ${REQUEST_READ_COLUMNS} FROM toolmux_connection_requests WHERE user_id = ? AND toolkit = ? ` +
        'ORDER BY created_at DESC, id DESC LIMIT 1',
    ),
    getRequestByStateHash: database.prepare(
      `SELECT ${REQUEST_READ_COLUMNS} FROM toolmux_connection_requests WHERE state_hash = ?`,
    ),
    // not once it expired: a newer attempt may have ended it since the callback read it
    markRequestUsed: database.prepare(
      'UPDATE toolmux_connection_requests SET used_at = ?1 WHERE id = ?2 AND used_at IS NULL AND expires_at > ?1',
    ),
    finishRequest: database.prepare(
      "UPDATE toolmux_connection_requests SET status = ? WHERE id = ? AND status = 'PENDING'",
    ),
    openFieldsRequest: database.prepare(
      'SELECT user_id, toolkit, max_accounts FROM toolmux_connection_requests ' +
        "WHERE id = ? AND kind = 'fields' AND status = 'PENDING' AND used_at IS NULL AND expires_at > ?",
    ),
    countAccountsInLimit: database.prepare(
      'SELECT count(*) AS n FROM toolmux_connected_accounts ' +
        "WHERE user_id = ? AND toolkit = ? AND status IN ('ACTIVE', 'INACTIVE') AND id <> ?",
    ),
    /**
     * An account no call can use lets go of its alias for another account of the user and toolkit
     * (the last parameter: the account that connects, which keeps an alias it has).
     */
    releaseAlias: database.prepare(
      'UPDATE toolmux_connected_accounts SET alias = NULL, version = version + 1, updated_at = ? ' +
        'WHERE user_id = ? AND toolkit = ? AND alias = ? AND id <> ? ' +
        "AND status IN ('INITIATED', 'FAILED', 'EXPIRED', 'REVOKED')",
    ),
    claimFieldsRequest: database.prepare(
      "UPDATE toolmux_connection_requests SET used_at = ?, status = 'COMPLETED', connected_account_id = ? " +
        "WHERE id = ? AND kind = 'fields' AND status = 'PENDING' AND used_at IS NULL AND expires_at > ?",
    ),
  };
}

/** The UPDATE of `updateConnectedAccount` (without RETURNING). */
function accountUpdate(
  id: string,
  changes: ConnectedAccountChanges,
  expectedVersion?: number,
): { sql: string; params: Array<string | number | null> } {
  const assignments: string[] = [];
  const params: Array<string | number | null> = [];
  for (const [property, column] of Object.entries(ACCOUNT_CHANGE_COLUMNS)) {
    const value = changes[property as keyof typeof ACCOUNT_CHANGE_COLUMNS];
    if (value === undefined) continue;
    assignments.push(`${column} = ?`);
    params.push(value instanceof Date ? value.getTime() : value);
  }
  if (changes.secret !== undefined) {
    assignments.push('secret = ?', 'key_id = ?');
    params.push(changes.secret?.ciphertext ?? null, changes.secret?.keyId ?? null);
  }
  assignments.push('version = version + 1', 'updated_at = ?');
  params.push(Date.now(), id);
  let sql = `UPDATE toolmux_connected_accounts SET ${assignments.join(', ')} WHERE id = ?`;
  if (expectedVersion !== undefined) {
    sql += ' AND version = ?';
    params.push(expectedVersion);
  }
  return { sql, params };
}

/** `putWorkbenchFile` found no session to write the file of (deleted before or while it wrote). */
const SESSION_GONE = Symbol('session gone');
/** `putWorkbenchFile` has finished this turn's pieces, not yet the file. */
const MORE_PIECES = Symbol('more pieces');

/** Pieces deleted by one statement (up to 768 KB of UTF-8 each). */
const PIECES_PER_DELETE = 4;

/** A workbench file's row as a write or deletion finds it (generation null: before the pieces). */
interface FileGeneration {
  generation: string | null;
  size: number | bigint;
  pieces: number | bigint | null;
}

/** Ends the open transaction after a failure (SQLite may have rolled it back itself). */
function rollBack(database: DatabaseSync): void {
  try {
    database.exec('ROLLBACK');
  } catch {
    // rolled back already: the first error is the one to report
  }
}

/** The statements of workbench files, prepared on first use. */
function prepareFileStatements(database: DatabaseSync) {
  return {
    sessionExists: database.prepare('SELECT 1 AS found FROM toolmux_sessions WHERE id = ?'),
    otherFilesBytes: database.prepare(
      `SELECT COALESCE(SUM(size + length(CAST(path AS BLOB)) + ${WORKBENCH_FILE_RECORD_BYTES}), 0) AS total FROM toolmux_workbench_files WHERE session_id = ? AND path <> ?`,
    ),
    insertPiece: database.prepare(
      'INSERT INTO toolmux_workbench_file_pieces (session_id, generation, piece, written_at, content) VALUES (?, ?, ?, ?, ?)',
    ),
    countPieces: database.prepare(
      'SELECT count(*) AS count FROM toolmux_workbench_file_pieces WHERE session_id = ? AND generation = ?',
    ),
    fileGeneration: database.prepare(
      'SELECT generation, size, pieces FROM toolmux_workbench_files WHERE session_id = ? AND path = ?',
    ),
    // writes under way, and old pieces still being deleted, that count against the quota (see
    // migration workbench_file_writes); a row as old as stale pieces no longer counts
    reservedBytes: database.prepare(
      'SELECT COALESCE(SUM(bytes), 0) AS total FROM toolmux_workbench_file_writes WHERE session_id = ? AND started_at >= ?',
    ),
    reserve: database.prepare(
      'INSERT INTO toolmux_workbench_file_writes (session_id, generation, bytes, started_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (session_id, generation) DO UPDATE SET bytes = excluded.bytes, started_at = excluded.started_at',
    ),
    release: database.prepare(
      'DELETE FROM toolmux_workbench_file_writes WHERE session_id = ? AND generation = ?',
    ),
    staleReservations: database.prepare(
      'DELETE FROM toolmux_workbench_file_writes WHERE session_id = ? AND started_at < ?',
    ),
    // a row of before the workbench_file_pieces migration gives its content up here (its pages are freed)
    upsertFile: database.prepare(
      `INSERT INTO toolmux_workbench_files (session_id, path, content, size, updated_at, generation, pieces) VALUES (?, ?, '', ?, ?, ?, ?)
       ON CONFLICT (session_id, path) DO UPDATE SET content = '', size = excluded.size, updated_at = excluded.updated_at,
         generation = excluded.generation, pieces = excluded.pieces`,
    ),
    getFile: database.prepare(
      'SELECT size, updated_at, generation, pieces, CASE WHEN generation IS NULL THEN content END AS content ' +
        'FROM toolmux_workbench_files WHERE session_id = ? AND path = ?',
    ),
    getPiece: database.prepare(
      'SELECT content FROM toolmux_workbench_file_pieces WHERE session_id = ? AND generation = ? AND piece = ?',
    ),
    deleteFile: database.prepare('DELETE FROM toolmux_workbench_files WHERE session_id = ? AND path = ?'),
    deletePieces: database.prepare(
      'DELETE FROM toolmux_workbench_file_pieces WHERE session_id = ? AND generation = ? AND piece IN ' +
        `(SELECT piece FROM toolmux_workbench_file_pieces WHERE session_id = ? AND generation = ? ORDER BY piece LIMIT ${PIECES_PER_DELETE})`,
    ),
    stalePieces: database.prepare(
      'SELECT DISTINCT generation FROM toolmux_workbench_file_pieces AS piece WHERE session_id = ? AND written_at < ? ' +
        'AND NOT EXISTS (SELECT 1 FROM toolmux_workbench_files AS file WHERE file.session_id = piece.session_id AND file.generation = piece.generation)',
    ),
  };
}

const date = (value: unknown): Date | null => (value === null ? null : new Date(value as number));
const time = (value: Date | null): number | null => (value === null ? null : value.getTime());

function sealed(row: Row): SealedSecret | null {
  return row.secret === null ? null : { keyId: row.key_id as string, ciphertext: row.secret as string };
}

function toAuthConfig(row: Row): AuthConfigRecord {
  return {
    id: row.id as string,
    toolkit: row.toolkit as string,
    type: row.type as AuthConfigRecord['type'],
    createdBy: row.created_by as AuthConfigRecord['createdBy'],
    settings: JSON.parse(row.settings as string) as Record<string, unknown>,
    secret: sealed(row),
    createdAt: new Date(row.created_at as number),
    updatedAt: new Date(row.updated_at as number),
  };
}

function toAccount(row: Row): ConnectedAccountRecord {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    toolkit: row.toolkit as string,
    authConfigId: row.auth_config_id as string,
    status: row.status as ConnectedAccountRecord['status'],
    statusReason: row.status_reason as string | null,
    secret: sealed(row),
    expiresAt: date(row.expires_at),
    version: row.version as number,
    refreshLeaseUntil: date(row.refresh_lease_until),
    connectedAt: date(row.connected_at),
    createdAt: new Date(row.created_at as number),
    updatedAt: new Date(row.updated_at as number),
    alias: row.alias as string | null,
  };
}

/** A request's values in the order of the `insertRequest` statement (its auth config id follows). */
function requestValues(record: ConnectionRequestRecord): SQLInputValue[] {
  return [
    record.id,
    record.kind,
    record.connectedAccountId,
    record.userId,
    record.toolkit,
    record.authConfigId,
    record.stateHash,
    record.secret?.ciphertext ?? null,
    record.secret?.keyId ?? null,
    record.callbackUrl,
    record.redirectUri,
    record.status,
    record.expiresAt.getTime(),
    time(record.usedAt),
    record.createdAt.getTime(),
    record.alias ?? null,
    record.maxAccounts ?? null,
    record.reconnectOf ?? null,
  ];
}

function toRequest(row: Row): ConnectionRequestRecord {
  return {
    id: row.id as string,
    kind: row.kind as ConnectionRequestRecord['kind'],
    connectedAccountId: row.connected_account_id as string | null,
    userId: row.user_id as string,
    toolkit: row.toolkit as string,
    authConfigId: row.auth_config_id as string,
    stateHash: row.state_hash as string | null,
    secret: sealed(row),
    callbackUrl: row.callback_url as string,
    redirectUri: row.redirect_uri as string | null,
    status: row.status as ConnectionRequestRecord['status'],
    expiresAt: new Date(row.expires_at as number),
    usedAt: date(row.used_at),
    createdAt: new Date(row.created_at as number),
    alias: row.alias as string | null,
    maxAccounts: row.max_accounts as number | null,
    replacedAt: date(row.replaced_at),
    reconnectOf: (row.reconnect_of as string | null) ?? null,
  };
}

function toSession(row: Row): SessionRecord {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    config: JSON.parse(row.config as string) as Record<string, unknown>,
    configVersion: row.config_version as number,
    tokenHash: row.token_hash as string,
    tokenVersion: row.token_version as number,
    metadata: JSON.parse(row.metadata as string) as Record<string, string>,
    createdAt: new Date(row.created_at as number),
    updatedAt: new Date(row.updated_at as number),
  };
}

/**
 * An entry from its row. Log pages are read as arrays of the values of {@link LOG_COLUMNS}, in that
 * order (`setReturnArrays`): node:sqlite builds an object per row slowly, and reading its properties is
 * slow too, a large part of a page's cost. Objects where node:sqlite cannot return arrays (before 22.16).
 */
function toLog(row: Row | readonly unknown[]): ExecutionLogRecord {
  if (!Array.isArray(row)) {
    const values = row as Row;
    return toLog([
      values.id,
      values.session_id,
      values.user_id,
      values.tool_slug,
      values.toolkit,
      values.connected_account_id,
      values.call_id,
      values.status,
      values.error_code,
      values.error_message,
      values.duration_ms,
      values.input,
      values.output,
      values.created_at,
      values.parent_id,
    ]);
  }
  return {
    id: row[0] as string,
    sessionId: row[1] as string | null,
    userId: row[2] as string,
    toolSlug: row[3] as string,
    toolkit: row[4] as string,
    connectedAccountId: row[5] as string | null,
    callId: row[6] as string | null,
    status: row[7] as ExecutionStatus,
    errorCode: row[8] as string | null,
    errorMessage: row[9] as string | null,
    durationMs: row[10] as number,
    input: row[11] as string,
    output: row[12] as string,
    createdAt: new Date(row[13] as number),
    parentId: row[14] as string | null,
  };
}

/** The id of an entry's row, as {@link toLog} reads it. */
function logRowId(row: Row | readonly unknown[]): string {
  return (Array.isArray(row) ? row[0] : (row as Row).id) as string;
}

/**
 * Creates the database file readable by its owner only (0600), in directories created 0700 (like the
 * key files beside it), and narrows an existing file and its `-wal` / `-shm` to 0600. SQLite gives
 * the `-wal` and `-shm` files it creates the database file's mode.
 */
function createPrivateFile(path: string): void {
  makeDirectories(dirname(path), 0o700);
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}

/**
 * The embedded store: SQLite through Node's built-in `node:sqlite`. Files use WAL journaling, so
 * readers do not block the writer, and wait up to 5 s for a lock held by another process. JSON is
 * stored as text and dates as integer milliseconds since the epoch, which round-trip a `Date` exactly.
 *
 * @example
 * ```ts
 * const store = new SqliteStore({ path: './.toolmux/toolmux.db' });
 * await store.migrate();
 * ```
 */
/**
 * The entries one turn of the event loop looks at when the log is filtered by tool beside a session
 * or a user (`SqliteStore.listLogs`): about a millisecond's work.
 */
export const TOOL_SCAN_WINDOW = 1_000;

/** The columns a log query may filter on (undefined: not filtered). */
type LogFilters = Record<'session_id' | 'user_id' | 'tool_slug' | 'parent_id', string | undefined>;

/** The indexes a log query may walk, the narrowest first: the columns each compares. */
const LOG_WALKS: ReadonlyArray<ReadonlyArray<keyof LogFilters>> = [
  ['parent_id'],
  ['session_id'],
  ['user_id', 'tool_slug'],
  ['tool_slug'],
  ['user_id'],
];

/**
 * Splits a log query's filters into `walk`, the columns of the one index it reads (the parent's,
 * else the session's, else the user's and the tool's (migration 22), else the tool's, else the
 * user's), and `check`, the others, compared behind
 * SQLite's unary `+`, which no index serves. The store runs no ANALYZE, so SQLite knows nothing of
 * how many entries a value has, and left to itself walked the index it met last: a page of a session
 * and its user read the user's whole log, a tool's entries of a session the tool's. A parent's calls
 * are walked by parent whatever else is asked (migration 21's index; a parent's calls are its
 * session's): without the session, beside a user or a tool they walked the user's or the tool's
 * entries, alone the whole table.
 */
function logWalk(filters: LogFilters): { walk: PageQuery['filters']; check: Record<string, string> } {
  const walked = LOG_WALKS.find((columns) => columns.every((column) => filters[column] !== undefined)) ?? [];
  const walk: PageQuery['filters'] = {};
  const check: Record<string, string> = {};
  for (const [column, value] of Object.entries(filters) as Array<[keyof LogFilters, string | undefined]>) {
    if (value === undefined) continue;
    if (walked.includes(column)) walk[column] = value;
    else check[`+${column}`] = value;
  }
  return { walk, check };
}

/**
 * Closes the connection and the checkpoint thread of a {@link SqliteStore} collected without
 * `close()`: its ToolMux was dropped (a module evaluated again on a hot reload, a ToolMux made per
 * request). node:sqlite does not close a collected `DatabaseSync` that prepared statements, so each
 * such store kept its connection, its file handles and (a file's) checkpoint thread for good. What is
 * held here must not hold the store, or it would never be collected.
 */
const droppedStores = new FinalizationRegistry<{
  database: DatabaseSync;
  checkpointer: SqliteCheckpointer | undefined;
}>(({ database, checkpointer }) => {
  void (checkpointer?.close() ?? Promise.resolve()).then(() => {
    try {
      database.close();
    } catch {
      // closed already
    }
  });
});

export class SqliteStore implements Store {
  readonly dialect = 'sqlite';
  private readonly database: DatabaseSync;
  private statements: ReturnType<typeof prepareStatements> | undefined;
  /** Statements built at run time (lists, updates), prepared once per distinct text. */
  /** Statements built at run time, by text, the least recently used first (see `statement`). */
  private readonly listStatements = new Map<string, StatementSync>();
  /** The multi-row INSERTs of execution log entries, by row count (see `insertLogs`). */
  readonly #logInserts: Array<StatementSync | undefined> = [];
  private closed = false;
  /** WAL checkpoints off the event loop (a file database only; see SqliteCheckpointer). */
  private readonly checkpointer: SqliteCheckpointer | undefined;

  /** See {@link SqliteStoreOptions.migrationTimeoutMs}. */
  private readonly migrationTimeoutMs: number;

  constructor({ path, checkpoints, migrationTimeoutMs = 600_000, readOnly = false }: SqliteStoreOptions) {
    if (!Number.isFinite(migrationTimeoutMs) || migrationTimeoutMs < 0) {
      throw new ToolMuxError({
        code: 'STORE_CONFIG_INVALID',
        message: `migrationTimeoutMs must be a number of milliseconds, 0 or more; got ${String(migrationTimeoutMs)}.`,
      });
    }
    this.migrationTimeoutMs = migrationTimeoutMs;
    if (readOnly && path !== ':memory:') {
      try {
        // read-write, so that the last connection to close removes the -wal and -shm files it made,
        // but never creating the file (mode=rw) and never writing (query_only)
        const url = pathToFileURL(resolve(path));
        url.search = 'mode=rw';
        this.database = new DatabaseSync(url);
        this.database.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA query_only = ON;`);
      } catch (error) {
        throw storeError('sqlite', `open the database file "${path}"`, error);
      }
      droppedStores.register(this, { database: this.database, checkpointer: undefined }, this);
      return;
    }
    try {
      if (path !== ':memory:') createPrivateFile(path);
      this.database = new DatabaseSync(path);
      if (path !== ':memory:') {
        // WAL + NORMAL: a commit is in the -wal file (the OS's page cache) when it returns, so it
        // survives a crash or kill of this process; only an OS crash or power loss can take the last
        // commits (never corrupting the file). Checkpoints run on a worker thread; this connection
        // checkpoints only if that falls far behind.
        // The busy timeout first: switching a new file to WAL needs a lock that another process
        // opening it at once may hold (with SQLite's default of no wait, 24 of 72 processes opening a
        // fresh file together failed "database is locked" before they could wait for migrations).
        this.database.exec(
          `PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; ` +
            `PRAGMA wal_autocheckpoint = ${SAFETY_NET_AUTOCHECKPOINT_PAGES};`,
        );
        // (the callback holds the connection, not the store: see droppedStores)
        const database = this.database;
        this.checkpointer = new SqliteCheckpointer(
          path,
          () => {
            // the worker could not run: checkpoint on this connection again, as SQLite does by default
            // (`isOpen` is Node.js 22.15 and later; a closed connection throws)
            try {
              database.exec('PRAGMA wal_autocheckpoint = 1000');
            } catch {
              // closed meanwhile
            }
          },
          checkpoints,
        );
      }
    } catch (error) {
      throw storeError('sqlite', `open the database file "${path}"`, error);
    }
    droppedStores.register(this, { database: this.database, checkpointer: this.checkpointer }, this);
  }

  /**
   * Runs pending migrations in one `BEGIN IMMEDIATE` transaction, so processes opening one file at
   * once apply each migration exactly once. While another process holds the write lock (running
   * its migrations, which may rebuild a large table), this waits up to `migrationTimeoutMs`,
   * retrying without blocking the event loop; a process killed mid-migration leaves its
   * transaction rolled back, and the next `migrate()` applies it all. `STORE_SCHEMA_TOO_NEW` when a
   * newer toolmux migrated the database (see `pendingMigrations`).
   */
  async migrate(): Promise<void> {
    const deadline = Date.now() + this.migrationTimeoutMs;
    for (;;) {
      const outcome = await this.write('run migrations', () => this.migrateOnce());
      if (outcome === 'migrated') return;
      if (outcome !== 'busy') throw outcome;
      if (Date.now() >= deadline) {
        throw new ToolMuxError({
          code: 'STORE_ERROR',
          message:
            `The sqlite store failed to run migrations: another connection held the database's write lock for ${this.migrationTimeoutMs} ms ` +
            '(another process running its migrations, or a long write). Start this process once that one is done, or give it longer (migrationTimeoutMs).',
          details: { operation: 'run migrations', timeoutMs: this.migrationTimeoutMs },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * One attempt of `migrate()`: 'busy' when another connection holds the write lock, the
   * STORE_SCHEMA_TOO_NEW error to throw (outside `write`, which would wrap it), or 'migrated'.
   */
  private migrateOnce(): 'migrated' | 'busy' | ToolMuxError {
    // each attempt blocks the thread for a short wait only (the connection's 5 s would hold the
    // event loop that long on every attempt); the connection's wait is set back at once
    this.database.exec(`PRAGMA busy_timeout = ${MIGRATION_LOCK_ATTEMPT_MS}`);
    try {
      this.database.exec('BEGIN IMMEDIATE');
    } catch (error) {
      if (isBusy(error)) return 'busy';
      throw error;
    } finally {
      this.database.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
    try {
      this.database.exec(MIGRATIONS_TABLE_SQL.sqlite);
      const applied = this.database.prepare('SELECT version, name FROM toolmux_migrations').all();
      let pending: Migration[];
      try {
        pending = pendingMigrations(applied as unknown as AppliedMigration[]);
      } catch (error) {
        this.database.exec('ROLLBACK');
        if (ToolMuxError.isInstance(error)) return error;
        throw error;
      }
      const record = this.database.prepare(
        'INSERT INTO toolmux_migrations (version, name, applied_at) VALUES (?, ?, ?)',
      );
      for (const migration of pending) {
        announceMigration({
          dialect: 'sqlite',
          version: migration.version,
          name: migration.name,
          concurrently: false,
          fresh: applied.length === 0,
        });
        this.database.exec(migration.sql.sqlite);
        record.run(migration.version, migration.name, Date.now());
      }
      this.database.exec('COMMIT');
      return 'migrated';
    } catch (error) {
      try {
        this.database.exec('ROLLBACK');
      } catch {
        // SQLite already rolled back (it does so itself after some errors); report the first error
      }
      throw error;
    }
  }

  /**
   * @internal The migrations the database's `toolmux_migrations` records, read without creating or
   * migrating anything: none when it has no such table (no toolmux ran on it).
   */
  async appliedMigrations(): Promise<AppliedMigration[]> {
    return this.run('read the schema version', () => {
      const table = this.database
        .prepare(
          "SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = 'toolmux_migrations'",
        )
        .get();
      if (table === undefined) return [];
      return this.database
        .prepare('SELECT version, name FROM toolmux_migrations ORDER BY version')
        .all() as unknown as AppliedMigration[];
    });
  }

  /** A cheap query that fails when the database file cannot be read. */
  async ping(): Promise<void> {
    this.run('answer a ping', () => this.database.prepare('SELECT 1 FROM toolmux_migrations LIMIT 1').get());
  }

  /** Closes the database; a second call does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    droppedStores.unregister(this);
    await this.checkpointer?.close();
    this.database.close();
  }

  /** Runs a WAL checkpoint on the checkpoint worker now (tests); undefined for `:memory:`. */
  async checkpoint(): Promise<{ log: number; checkpointed: number } | undefined> {
    return this.checkpointer?.checkpoint();
  }

  async insertSession(record: SessionRecord): Promise<void> {
    await this.write('insert a session', () => {
      this.prepared().insertSession.run(
        record.id,
        record.userId,
        JSON.stringify(record.config),
        record.configVersion,
        record.tokenHash,
        JSON.stringify(record.metadata),
        record.createdAt.getTime(),
        record.updatedAt.getTime(),
        record.tokenVersion,
      );
    });
  }

  async rotateSessionToken(
    id: string,
    { expectedTokenVersion, tokenVersion, tokenHash }: SessionTokenRotation,
  ): Promise<SessionRecord | undefined> {
    const { updated, current } = await this.write('rotate a session token', () => {
      const statements = this.prepared();
      const updated = statements.rotateSessionToken.get(tokenVersion, tokenHash, id, expectedTokenVersion);
      return { updated, current: updated ? undefined : statements.getSessionTokenHash.get(id) };
    });
    if (updated) return toSession(updated);
    if (!current) throw sessionNotFoundError(id);
    return undefined;
  }

  /**
   * Writes the content a piece at a time (see workbench-pieces.ts): a file of several pieces first
   * reserves its bytes against the quota (one short transaction, one write after the other, counting
   * the files in and the writes under way), so that writes at once never hold more than the quota
   * in the database; then the pieces of a turn's slice in one transaction, the last ones with the
   * switch of the file's row to the new generation (quota checked again, the reservation released),
   * then the old generation's pieces deleted a slice at a time (reserved until they are gone). A
   * file of one piece is one transaction, which counts the writes under way too.
   */
  async putWorkbenchFile(file: WorkbenchFileWrite, quotaBytes: number): Promise<number | undefined> {
    const operation = 'write a workbench file';
    // never `file.content`: it may join megabytes of pieces at once
    const { sessionId, path, size } = file;
    const pieces = filePieces(file);
    // the file's own record counts too (files of nothing do not fill the database for free)
    const pathBytes = Buffer.byteLength(path, 'utf8') + WORKBENCH_FILE_RECORD_BYTES;
    const slice = new WorkSlice();
    const generation = newId(GENERATION_PREFIX);
    const statements = this.#fileStatements();
    const reserved = pieces.count > 1;
    if (reserved) {
      await this.#deleteStalePieces(sessionId, slice);
      const admitted = await this.write(operation, () => {
        this.database.exec('BEGIN IMMEDIATE');
        try {
          if (statements.sessionExists.get(sessionId) === undefined) {
            this.database.exec('ROLLBACK');
            return SESSION_GONE;
          }
          // the files in (but the one it replaces, which counts its new size from the switch) and the
          // writes under way: a write over the quota writes no pieces
          const held = this.#otherFilesBytes(sessionId, path) + this.#reservedBytes(sessionId);
          if (held + size + pathBytes > quotaBytes) {
            this.database.exec('ROLLBACK');
            return false;
          }
          statements.reserve.run(sessionId, generation, size + pathBytes, Date.now());
          this.database.exec('COMMIT');
          return true;
        } catch (error) {
          rollBack(this.database);
          throw error;
        }
      });
      if (admitted === SESSION_GONE) throw sessionNotFoundError(sessionId);
      if (!admitted) return undefined;
    }
    const writtenAt = Date.now();
    let written = 0;
    let committed = 0;
    let outcome: typeof SESSION_GONE | { total: number | undefined; old: string | null };
    try {
      for (;;) {
        const turn = await this.write(operation, () => {
          this.database.exec('BEGIN IMMEDIATE');
          try {
            // a session deleted before or while its file is written: SESSION_NOT_FOUND below, not the
            // foreign key's failure (a STORE_ERROR, a server fault)
            if (statements.sessionExists.get(sessionId) === undefined) {
              this.database.exec('ROLLBACK');
              written = committed;
              return SESSION_GONE;
            }
            let chars = 0;
            while (written < pieces.count) {
              const piece = pieces.piece(written);
              statements.insertPiece.run(sessionId, generation, written, writtenAt, piece);
              chars += piece.length;
              written++;
              if (slice.due()) break;
            }
            const switched =
              written < pieces.count
                ? MORE_PIECES
                : this.#switchFile(file, generation, pieces.count, pathBytes, quotaBytes, reserved);
            if (switched !== MORE_PIECES && switched.total === undefined) {
              // over the quota: nothing of this transaction stays (earlier pieces are deleted below)
              this.database.exec('ROLLBACK');
              written = committed;
              return switched;
            }
            this.database.exec('COMMIT');
            committed = written;
            // pages of the WAL, for the checkpointer (a large file would otherwise outgrow its safety net)
            this.checkpointer?.written(Math.ceil(chars / 4096) + 1);
            return switched;
          } catch (error) {
            written = committed;
            rollBack(this.database);
            throw error;
          }
        });
        if (turn === MORE_PIECES) {
          await slice.pause();
          continue;
        }
        outcome = turn;
        break;
      }
    } catch (error) {
      // the pieces and the reservation go now when they can; else with the stale ones (their age)
      if (reserved) await this.#endWrite(sessionId, generation, committed > 0, slice).catch(() => {});
      throw error;
    }
    // the session's rows went with it, the reservation too
    if (outcome === SESSION_GONE) throw sessionNotFoundError(sessionId);
    const { total, old } = outcome;
    if (total === undefined) {
      if (reserved) await this.#endWrite(sessionId, generation, committed > 0, slice);
      return undefined;
    }
    if (old !== null) await this.#endWrite(sessionId, old, true, slice);
    return total;
  }

  /** The bytes the session's other files count against the quota (a path counts its UTF-8 bytes). */
  #otherFilesBytes(sessionId: string, path: string): number {
    const row = this.#fileStatements().otherFilesBytes.get(sessionId, path) as { total: number | bigint };
    return Number(row.total);
  }

  /** The bytes reserved by the session's writes under way and old pieces not yet deleted. */
  #reservedBytes(sessionId: string): number {
    const row = this.#fileStatements().reservedBytes.get(
      sessionId,
      Date.now() - WORKBENCH_STALE_PIECES_MS,
    ) as {
      total: number | bigint;
    };
    return Number(row.total);
  }

  /**
   * Inside the write's last transaction: points the file's row at `generation` when the quota allows
   * (`total` undefined when it does not). The old generation's pieces are deleted here when they are
   * few (one statement); else the old generation is returned, reserved until its pieces are deleted.
   * A write that `reserved` its bytes releases them; one that did not (one piece) counts the writes
   * under way.
   */
  #switchFile(
    file: WorkbenchFileWrite,
    generation: string,
    pieces: number,
    pathBytes: number,
    quotaBytes: number,
    reserved: boolean,
  ): { total: number | undefined; old: string | null } {
    const statements = this.#fileStatements();
    const { sessionId } = file;
    const previous = statements.fileGeneration.get(sessionId, file.path) as FileGeneration | undefined;
    const total = this.#otherFilesBytes(sessionId, file.path) + file.size + pathBytes;
    const underWay = reserved ? 0 : this.#reservedBytes(sessionId);
    if (total + underWay > quotaBytes) return { total: undefined, old: null };
    const found = Number((statements.countPieces.get(sessionId, generation) as { count: number }).count);
    if (found !== pieces) throw piecesMissingError(file.path, pieces, found);
    statements.upsertFile.run(sessionId, file.path, file.size, file.updatedAt.getTime(), generation, pieces);
    if (reserved) statements.release.run(sessionId, generation);
    return { total, old: this.#retire(sessionId, previous) };
  }

  /**
   * In the transaction that replaced or deleted a file (`previous`, its row as it was): deletes its
   * pieces when one statement does, else reserves their bytes (they are deleted a few at a time
   * after it, and count against the quota until then) and returns its generation.
   */
  #retire(sessionId: string, previous: FileGeneration | undefined): string | null {
    const old = previous?.generation ?? null;
    if (old === null) return null;
    const statements = this.#fileStatements();
    if (Number(previous!.pieces) <= PIECES_PER_DELETE) {
      const changes = Number(statements.deletePieces.run(sessionId, old, sessionId, old).changes);
      if (changes > 0) this.checkpointer?.written(changes);
      return null;
    }
    statements.reserve.run(sessionId, old, Number(previous!.size), Date.now());
    return old;
  }

  /** Deletes the pieces of a generation no file points at (when it has some), then its reservation. */
  async #endWrite(sessionId: string, generation: string, pieces: boolean, slice: WorkSlice): Promise<void> {
    if (pieces) await this.#deletePieces(sessionId, generation, slice);
    await this.write('delete the pieces of a workbench file', () => {
      this.#fileStatements().release.run(sessionId, generation);
    });
  }

  /** Deletes the pieces of one generation, a few per statement, a slice of the event loop at a time. */
  async #deletePieces(sessionId: string, generation: string, slice: WorkSlice): Promise<void> {
    const { deletePieces } = this.#fileStatements();
    for (;;) {
      await slice.breathe();
      const deleted = await this.write('delete the pieces of a workbench file', () => {
        const changes = Number(deletePieces.run(sessionId, generation, sessionId, generation).changes);
        if (changes > 0) this.checkpointer?.written(changes);
        return changes;
      });
      if (deleted === 0) return;
    }
  }

  /** Deletes pieces of the session that no file points at, left over from a write or deletion cut short. */
  async #deleteStalePieces(sessionId: string, slice: WorkSlice): Promise<void> {
    const before = Date.now() - WORKBENCH_STALE_PIECES_MS;
    const rows = this.run('find left-over pieces of workbench files', () =>
      this.#fileStatements().stalePieces.all(sessionId, before),
    ) as Array<{ generation: string }>;
    for (const { generation } of rows) await this.#deletePieces(sessionId, generation, slice);
    // reservations as old count no more: those of writes cut short go too
    await this.write('delete left-over reservations of workbench files', () => {
      this.#fileStatements().staleReservations.run(sessionId, before);
    });
  }

  #workbenchStatements: ReturnType<typeof prepareFileStatements> | undefined;

  #fileStatements(): ReturnType<typeof prepareFileStatements> {
    this.#workbenchStatements ??= prepareFileStatements(this.database);
    return this.#workbenchStatements;
  }

  /** Reads the row, then the pieces of its generation a slice at a time (see {@link FilePiecesRead}). */
  getWorkbenchFile(sessionId: string, path: string): Promise<WorkbenchFileRecord | undefined> {
    return readWholeFile(this.#filePieces, sessionId, path);
  }

  getWorkbenchFileRange(
    sessionId: string,
    path: string,
    offset: number,
    length: number,
  ): Promise<WorkbenchFileRange | undefined> {
    return readFileRange(this.#filePieces, sessionId, path, offset, length);
  }

  readonly #filePieces: FilePiecesRead = (sessionId, path, operation, begin) =>
    this.#readFilePieces(sessionId, path, operation, begin);

  /** This store's {@link FilePiecesRead}. */
  async #readFilePieces<T>(
    sessionId: string,
    path: string,
    operation: string,
    begin: () => FilePiecesReader<T>,
  ): Promise<{ size: number; updatedAt: Date; value: T } | undefined> {
    const statements = this.#fileStatements();
    const slice = new WorkSlice();
    for (let attempt = 0; attempt < WORKBENCH_READ_ATTEMPTS; attempt++) {
      if (attempt > 0) await slice.pause();
      const row = this.run(operation, () => statements.getFile.get(sessionId, path)) as
        | {
            size: number;
            updated_at: number;
            generation: string | null;
            pieces: number | null;
            content: string;
          }
        | undefined;
      if (!row) return undefined;
      const file = { size: Number(row.size), updatedAt: new Date(Number(row.updated_at)) };
      const reader = begin();
      // a row written before the workbench_file_pieces migration keeps its content
      if (row.generation === null) {
        reader.add(row.content);
        return { ...file, value: reader.end(true) };
      }
      const pieces = Number(row.pieces);
      let piece = 0;
      let enough = false;
      for (; piece < pieces && !enough; piece++) {
        if (slice.due()) await slice.pause();
        const got = this.run(operation, () => statements.getPiece.get(sessionId, row.generation, piece)) as
          | { content: string }
          | undefined;
        if (!got) break;
        enough = reader.add(got.content);
      }
      if (enough || piece === pieces) return { ...file, value: reader.end(piece === pieces) };
    }
    throw storeError('sqlite', operation, fileKeptChangingError(path));
  }

  async listWorkbenchFiles(sessionId: string): Promise<Array<Omit<WorkbenchFileRecord, 'content'>>> {
    const rows = this.run('list workbench files', () =>
      this.database
        .prepare(
          'SELECT path, size, updated_at FROM toolmux_workbench_files WHERE session_id = ? ORDER BY path',
        )
        .all(sessionId),
    ) as Array<{ path: string; size: number; updated_at: number }>;
    return rows.map((row) => ({
      sessionId,
      path: row.path,
      size: Number(row.size),
      updatedAt: new Date(Number(row.updated_at)),
    }));
  }

  /** Deletes the row (the file is gone for readers at once), then its pieces a slice at a time. */
  async deleteWorkbenchFile(sessionId: string, path: string): Promise<boolean> {
    const statements = this.#fileStatements();
    const deleted = await this.write('delete a workbench file', () => {
      this.database.exec('BEGIN IMMEDIATE');
      try {
        const row = statements.fileGeneration.get(sessionId, path) as FileGeneration | undefined;
        if (!row) {
          this.database.exec('COMMIT');
          return undefined;
        }
        statements.deleteFile.run(sessionId, path);
        // its pieces go now, or count against the quota until they are deleted (a few at a time, below)
        const old = this.#retire(sessionId, row);
        this.database.exec('COMMIT');
        return { generation: old };
      } catch (error) {
        rollBack(this.database);
        throw error;
      }
    });
    if (!deleted) return false;
    if (deleted.generation !== null) {
      try {
        await this.#endWrite(sessionId, deleted.generation, true, new WorkSlice());
      } catch (error) {
        // the file is deleted; its pieces are collected later as left over
        if (this.closed) return true;
        throw error;
      }
    }
    return true;
  }

  async getSessionTokenHash(id: string): Promise<string | undefined> {
    const row = this.run('read a session token', () => this.prepared().getSessionTokenHash.get(id));
    return row === undefined ? undefined : (row.token_hash as string);
  }

  async getSessionToken(id: string): Promise<StoredSessionToken | undefined> {
    const row = this.run('read a session token', () => this.prepared().getSessionToken.get(id));
    return row === undefined
      ? undefined
      : { tokenVersion: Number(row.token_version), tokenHash: row.token_hash as string };
  }

  async getSessionConfigVersion(id: string): Promise<number | undefined> {
    const row = this.run('read a session version', () => this.prepared().getSessionVersion.get(id));
    return row === undefined ? undefined : Number(row.config_version);
  }

  async deleteSession(id: string): Promise<boolean> {
    return this.write('delete a session', () => this.prepared().deleteSession.run(id).changes > 0);
  }

  async deleteLogsBefore(beforeId: string, limit: number): Promise<number> {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a whole number, 1 or more; got ${limit}`);
    // the limit written in (one statement per limit, cached): a bound LIMIT is prepared again on every run
    const text =
      'DELETE FROM toolmux_execution_logs WHERE id IN ' +
      `(SELECT id FROM toolmux_execution_logs WHERE id < ? ORDER BY id LIMIT ${limit})`;
    return this.write('delete old execution log entries', () =>
      Number(this.statement(text).run(beforeId).changes),
    );
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const row = this.run('read a session', () => this.prepared().getSession.get(id));
    return row === undefined ? undefined : toSession(row);
  }

  async updateSession(
    id: string,
    { config, metadata, expectedVersion }: SessionUpdate,
  ): Promise<SessionRecord> {
    assertExpectedVersion(expectedVersion);
    const { updated, current } = await this.write('update a session', () => {
      const statements = this.prepared();
      const updated = statements.updateSession.get(
        JSON.stringify(config),
        JSON.stringify(metadata),
        Date.now(),
        id,
        expectedVersion,
      );
      return { updated, current: updated ? undefined : statements.getSessionVersion.get(id) };
    });
    if (updated) return toSession(updated);
    if (!current) throw sessionNotFoundError(id);
    throw configVersionConflictError(id, expectedVersion, current.config_version as number);
  }

  async listSessions({ userId, limit, cursor }: ListSessionsQuery): Promise<Page<SessionRecord>> {
    assertPageQuery({ limit, cursor }, 'ses');
    const rows = this.list('list sessions', 'toolmux_sessions', SESSION_COLUMNS, {
      filters: { user_id: userId },
      limit,
      cursor,
    });
    return toPage(rows.map(toSession), limit);
  }

  /**
   * One transaction for the batch, written by multi-row INSERTs of up to {@link LOG_ROWS_PER_INSERT}
   * rows: a batch of that many or fewer (a turn's calls, as a rule) is one autocommitted statement,
   * a larger one runs its statements between BEGIN and COMMIT. A durable call waits for its turn's
   * batch, so this is on every call's path: each run of a statement opens the table and each of its
   * indexes anew (fetching their pages through the WAL index) and crosses from JavaScript to SQLite
   * and back, once per row with a statement per row. Measured on a log file, 16-entry batches: 10.5
   * µs of CPU per entry against 17.2 (the saving grows with the indexes: in memory, 6.2 against 8.6
   * µs with the two secondary indexes of the log, 3.3 against 4.3 with the primary key alone).
   */
  async insertLogs(records: readonly ExecutionLogRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.write('insert execution logs', () => {
      if (records.length <= LOG_ROWS_PER_INSERT) {
        this.#insertLogRows(records, 0, records.length);
        return;
      }
      const { begin, commit, rollback } = this.prepared();
      begin.run();
      try {
        for (let start = 0; start < records.length; start += LOG_ROWS_PER_INSERT) {
          this.#insertLogRows(records, start, Math.min(records.length, start + LOG_ROWS_PER_INSERT));
        }
        commit.run();
      } catch (error) {
        rollback.run();
        throw error;
      }
    });
    this.checkpointer?.written(records.length);
  }

  /** Runs the INSERT of `records[start..end)` (at most {@link LOG_ROWS_PER_INSERT} of them) as one statement. */
  #insertLogRows(records: readonly ExecutionLogRecord[], start: number, end: number): void {
    const rows = end - start;
    let statement = this.#logInserts[rows];
    if (statement === undefined) {
      statement = this.database.prepare(
        `INSERT INTO toolmux_execution_logs (${LOG_COLUMNS}) VALUES ${Array.from({ length: rows }, () => LOG_ROW).join(', ')}`,
      );
      this.#logInserts[rows] = statement;
    }
    const values: SQLInputValue[] = new Array(rows * LOG_COLUMN_COUNT);
    let at = 0;
    for (let index = start; index < end; index++) {
      const record = records[index]!;
      values[at++] = record.id;
      values[at++] = record.sessionId;
      values[at++] = record.userId;
      values[at++] = record.toolSlug;
      values[at++] = record.toolkit;
      values[at++] = record.connectedAccountId;
      values[at++] = record.callId;
      values[at++] = record.status;
      values[at++] = record.errorCode;
      values[at++] = record.errorMessage;
      values[at++] = record.durationMs;
      values[at++] = record.input;
      values[at++] = record.output;
      values[at++] = record.createdAt.getTime();
      values[at++] = record.parentId ?? null;
    }
    statement.run(...values);
  }

  async listLogs({
    sessionId,
    userId,
    toolSlug,
    parentId,
    limit,
    cursor,
  }: ListLogsQuery): Promise<Page<ExecutionLogRecord>> {
    assertPageQuery({ limit, cursor }, 'log');
    const { walk, check } = logWalk({
      session_id: sessionId,
      user_id: userId,
      tool_slug: toolSlug,
      parent_id: parentId,
    });
    // a tool's entries among a parent's, a session's or a user's: the walk may pass many that are not
    if (toolSlug !== undefined && Object.keys(check).length > 0) {
      return this.#listLogsChecked(walk, check, limit, cursor);
    }
    const filters = { ...walk, ...check };
    const slice = new WorkSlice();
    const wanted = limit + 1;
    const rows = this.#logRows(filters, cursor, Math.min(wanted, LOG_READ_ROWS));
    // a page of up to 50 entries (or the last of a session's log) is one statement, as it always was
    if (rows.length === wanted || rows.length < LOG_READ_ROWS) {
      await decodeLongTexts(rows, 0, slice);
      return toPage(rows.map(toLog), limit);
    }
    // a larger page: the next rows after the last one read, LOG_READ_ROWS at a time, as the next
    // page would read them (an entry written meanwhile is read once or not at all, never twice)
    let decoded = 0;
    for (;;) {
      await decodeLongTexts(rows, decoded, slice);
      decoded = rows.length;
      if (slice.due()) await slice.pause();
      const asked = Math.min(wanted - rows.length, LOG_READ_ROWS);
      const more = this.#logRows(filters, logRowId(rows[rows.length - 1]!), asked);
      for (const row of more) rows.push(row);
      if (more.length < asked || rows.length === wanted) break;
    }
    await decodeLongTexts(rows, decoded, slice);
    return toPage(rows.map(toLog), limit);
  }

  /** Up to `rows` entries (as arrays of {@link LOG_COLUMNS}) after `cursor`, newest first: one statement. */
  #logRows(filters: PageQuery['filters'], cursor: string | undefined, rows: number): Array<Row | unknown[]> {
    return this.run('list execution logs', () => {
      const { sql, params } = pageClause('sqlite', { filters, limit: rows - 1, cursor });
      return this.statement(`SELECT ${LOG_PAGE_COLUMNS} FROM toolmux_execution_logs ${sql}`, {
        arrays: true,
      }).all(...params);
    });
  }

  /**
   * A page of the entries that `walk` selects (by one index) and that pass `check` as well (a tool
   * beside a parent, a session or a user), looked for {@link TOOL_SCAN_WINDOW} entries of the walk
   * at a time, with the event loop free between two windows: a tool rarely called in a session may
   * look at all the session's entries, but no turn of the event loop holds more than a window.
   */
  async #listLogsChecked(
    walk: PageQuery['filters'],
    check: Record<string, string>,
    limit: number,
    cursor: string | undefined,
  ): Promise<Page<ExecutionLogRecord>> {
    const checks = Object.keys(check)
      .map((column) => `${column} = ?`)
      .join(' AND ');
    const found: Array<Row | unknown[]> = [];
    const slice = new WorkSlice();
    let after = cursor;
    for (;;) {
      const window = pageClause('sqlite', { filters: walk, limit: TOOL_SCAN_WINDOW - 1, cursor: after });
      // at most LOG_READ_ROWS entries per turn, as a page without a tool (see listLogs)
      const asked = Math.min(limit + 1 - found.length, LOG_READ_ROWS);
      const { rows, end } = this.run('list execution logs', () => ({
        rows: this.statement(
          `SELECT ${LOG_PAGE_COLUMNS} FROM toolmux_execution_logs WHERE id IN (SELECT id FROM toolmux_execution_logs ${window.sql}) ` +
            `AND ${checks} ORDER BY id DESC LIMIT ?`,
          { arrays: true },
        ).all(...window.params, ...Object.values(check), asked),
        end: this.statement(
          `SELECT min(id) AS id, count(*) AS n FROM (SELECT id FROM toolmux_execution_logs ${window.sql})`,
        ).get(...window.params) as { id: string; n: number },
      }));
      await decodeLongTexts(rows, 0, slice);
      for (const row of rows) found.push(row);
      if (found.length > limit) break;
      if (rows.length === asked) {
        // the window holds more of the entries wanted than were read: the next window begins after
        // the last one read
        after = logRowId(rows[rows.length - 1]!);
      } else {
        // a window that is not full was the last one
        if (end.n < TOOL_SCAN_WINDOW) break;
        after = end.id;
      }
      await yieldToEventLoop();
      slice.restart();
    }
    return toPage(found.map(toLog), limit);
  }

  async getLog(id: string): Promise<ExecutionLogRecord | undefined> {
    const row = this.run('read an execution log entry', () =>
      this.statement(`SELECT ${LOG_COLUMNS} FROM toolmux_execution_logs WHERE id = ?`, { arrays: true }).get(
        id,
      ),
    );
    return row === undefined ? undefined : toLog(row);
  }

  async hasWorkbenchCell(sessionId: string): Promise<boolean> {
    const row = this.run('read whether a session ran a workbench cell', () =>
      this.statement(
        `SELECT 1 FROM toolmux_execution_logs WHERE session_id = ? AND ${WORKBENCH_CELL_CONDITION} LIMIT 1`,
      ).get(sessionId),
    );
    return row !== undefined;
  }

  async moveLogChildren(sessionId: string, from: string, to: string): Promise<number> {
    return this.write('relink execution log entries', () =>
      Number(
        this.statement(
          // the parent's calls, by the parent index (see logWalk)
          'UPDATE toolmux_execution_logs SET parent_id = ? WHERE parent_id = ? AND +session_id = ?',
        ).run(to, from, sessionId).changes,
      ),
    );
  }

  async insertAuthConfig(record: AuthConfigRecord): Promise<boolean> {
    const result = await this.write('insert an auth config', () =>
      this.prepared().insertAuthConfig.run(
        record.id,
        record.toolkit,
        record.type,
        record.createdBy,
        JSON.stringify(record.settings),
        record.secret?.ciphertext ?? null,
        record.secret?.keyId ?? null,
        record.createdAt.getTime(),
        record.updatedAt.getTime(),
      ),
    );
    if (result.changes === 0 && record.createdBy !== 'toolmux') {
      throw storeError('sqlite', 'insert an auth config', new Error('duplicate auth config id'));
    }
    return result.changes > 0;
  }

  async getAuthConfig(id: string): Promise<AuthConfigRecord | undefined> {
    const row = this.run('read an auth config', () => this.prepared().getAuthConfig.get(id));
    return row === undefined ? undefined : toAuthConfig(row);
  }

  async listAuthConfigs({
    toolkit,
    createdBy,
    limit,
    cursor,
  }: ListAuthConfigsQuery): Promise<Page<AuthConfigRecord>> {
    assertPageQuery({ limit, cursor }, 'ac');
    const rows = this.list('list auth configs', 'toolmux_auth_configs', AUTH_CONFIG_COLUMNS, {
      filters: { toolkit, created_by: createdBy },
      limit,
      cursor,
    });
    return toPage(rows.map(toAuthConfig), limit);
  }

  async updateAuthConfig(
    id: string,
    changes: AuthConfigChanges,
    expectedUpdatedAt: Date,
  ): Promise<AuthConfigRecord | undefined> {
    const assignments = ['updated_at = ?'];
    const params: Array<string | number | null> = [changes.updatedAt.getTime()];
    if (changes.settings !== undefined) {
      assignments.push('settings = ?');
      params.push(JSON.stringify(changes.settings));
    }
    if (changes.secret !== undefined) {
      assignments.push('secret = ?', 'key_id = ?');
      params.push(changes.secret?.ciphertext ?? null, changes.secret?.keyId ?? null);
    }
    const row = await this.write('update an auth config', () =>
      this.statement(
        `UPDATE toolmux_auth_configs SET ${assignments.join(', ')} WHERE id = ? AND updated_at = ? ` +
          `RETURNING ${AUTH_CONFIG_COLUMNS}`,
      ).get(...params, id, expectedUpdatedAt.getTime()),
    );
    return row === undefined ? undefined : toAuthConfig(row);
  }

  async deleteAuthConfig(
    id: string,
    options: { keepHeldAccounts?: boolean } = {},
  ): Promise<false | ConnectedAccountRecord[] | { held: ConnectedAccountRecord[] }> {
    const deleted = await this.transaction('delete an auth config', () => {
      const statements = this.prepared();
      // (writes are serialized: no account gets credentials between this read and the deletion)
      const held = options.keepHeldAccounts ? statements.heldAccountsOfConfig.all(id) : [];
      if (held.length > 0) return { held };
      statements.deleteRequestsOfConfig.run(id);
      const accounts = statements.deleteAccountsOfConfig.all(id);
      return statements.deleteAuthConfig.run(id).changes > 0 && accounts;
    });
    if (deleted === false) return false;
    if (!Array.isArray(deleted)) return { held: deleted.held.map(toAccount) };
    return deleted.map(toAccount).filter((account) => account.secret !== null);
  }

  /**
   * With an alias, one transaction (BEGIN IMMEDIATE): the config is checked, the alias taken from an
   * account no call can use, and the account inserted, or nothing is written (the holder keeps it).
   */
  async insertConnectedAccount(record: ConnectedAccountRecord): Promise<void> {
    const { alias } = record;
    const inserted = alias
      ? await this.transaction('insert a connected account', () => {
          const statements = this.prepared();
          if (statements.authConfigExists.get(record.authConfigId) === undefined) return false;
          statements.releaseAlias.run(Date.now(), record.userId, record.toolkit, alias, record.id);
          return this.insertAccount(record);
        })
      : await this.write('insert a connected account', () => this.insertAccount(record));
    if (!inserted) throw authConfigGoneError(record.authConfigId);
  }

  async getConnectedAccount(id: string): Promise<ConnectedAccountRecord | undefined> {
    const row = this.run('read a connected account', () => this.prepared().getAccount.get(id));
    return row === undefined ? undefined : toAccount(row);
  }

  async getConnectedAccountStatus(id: string): Promise<ConnectedAccountStatusRecord | undefined> {
    const row = this.run('read a connected account status', () => this.prepared().getAccountStatus.get(id));
    return row === undefined
      ? undefined
      : {
          id: row.id as string,
          status: row.status as ConnectedAccountRecord['status'],
          statusReason: row.status_reason as string | null,
          version: row.version as number,
          toolkit: row.toolkit as string,
        };
  }

  async listConnectedAccounts({
    userIds,
    toolkits,
    statuses,
    authConfigIds,
    aliases,
    limit,
    cursor,
  }: ListConnectedAccountsQuery): Promise<Page<ConnectedAccountRecord>> {
    assertPageQuery({ limit, cursor }, 'ca');
    const rows = this.list('list connected accounts', 'toolmux_connected_accounts', ACCOUNT_COLUMNS, {
      filters: {
        user_id: userIds,
        toolkit: toolkits,
        status: statuses,
        auth_config_id: authConfigIds,
        alias: aliases,
      },
      limit,
      cursor,
    });
    return toPage(rows.map(toAccount), limit);
  }

  async listRecentConnectedAccounts({
    userId,
    authConfigId,
    statuses,
    limit,
  }: RecentConnectedAccountsQuery): Promise<ConnectedAccountRecord[]> {
    // the LIMIT in the text (see `sqliteLimit`): a bound one is prepared again on every run
    const rows = this.run('list connected accounts', () =>
      this.statement(
        `SELECT ${ACCOUNT_COLUMNS} FROM toolmux_connected_accounts ` +
          'WHERE user_id = ? AND auth_config_id = ? AND status IN (SELECT value FROM json_each(?)) ' +
          `ORDER BY connected_at DESC NULLS LAST, id DESC LIMIT ${sqliteLimit(limit)}`,
      ).all(userId, authConfigId, JSON.stringify(statuses)),
    );
    return rows.map(toAccount);
  }

  async updateConnectedAccount(
    id: string,
    changes: ConnectedAccountChanges,
    expectedVersion?: number,
  ): Promise<ConnectedAccountRecord | undefined> {
    const { sql, params } = accountUpdate(id, changes, expectedVersion);
    const row = await this.write('update a connected account', () =>
      this.statement(`${sql} RETURNING ${ACCOUNT_COLUMNS}`).get(...params),
    );
    return row === undefined ? undefined : toAccount(row);
  }

  async acquireRefreshLease(
    id: string,
    expectedVersion: number,
    leaseUntil: Date,
    now: Date,
  ): Promise<ConnectedAccountRecord | undefined> {
    const row = await this.write('lease a token refresh', () =>
      this.prepared().acquireRefreshLease.get(
        leaseUntil.getTime(),
        Date.now(),
        id,
        expectedVersion,
        now.getTime(),
      ),
    );
    return row === undefined ? undefined : toAccount(row);
  }

  async deleteConnectedAccount(id: string, expectedVersion?: number): Promise<boolean> {
    return this.transaction('delete a connected account', () => {
      const statements = this.prepared();
      if (expectedVersion !== undefined) {
        const account = statements.getAccountStatus.get(id);
        if (account === undefined || account.version !== expectedVersion) return false;
      }
      statements.deleteRequestsOfAccount.run(id);
      return statements.deleteAccount.run(id).changes > 0;
    });
  }

  async expireAbandonedAttempts(createdBefore: Date, now: Date, limit: number): Promise<number> {
    // the oldest attempts first, from their partial index (migration 15); the LIMIT written in
    const text =
      'UPDATE toolmux_connected_accounts SET status = ?, status_reason = ?, version = version + 1, ' +
      'updated_at = ? WHERE id IN (SELECT id FROM toolmux_connected_accounts ' +
      `WHERE ${ATTEMPT_CONDITION} AND created_at < ? ORDER BY created_at LIMIT ${sqliteLimit(limit)})`;
    return this.write('expire abandoned connection attempts', () =>
      Number(
        this.statement(text).run('EXPIRED', ATTEMPT_EXPIRED_REASON, now.getTime(), createdBefore.getTime())
          .changes,
      ),
    );
  }

  async deleteConnectionRequestsBefore(before: Date, limit: number): Promise<number> {
    const text =
      'DELETE FROM toolmux_connection_requests WHERE id IN (SELECT id FROM toolmux_connection_requests ' +
      `WHERE expires_at < ? ORDER BY expires_at LIMIT ${sqliteLimit(limit)})`;
    return this.write('delete old connection requests', () =>
      Number(this.statement(text).run(before.getTime()).changes),
    );
  }

  async deleteNeverConnectedAccountsBefore(before: Date, limit: number): Promise<number> {
    const select =
      `SELECT id FROM toolmux_connected_accounts WHERE ${NEVER_CONNECTED_CONDITION} ` +
      `AND updated_at < ? ORDER BY updated_at LIMIT ${sqliteLimit(limit)}`;
    return this.transaction('delete connected accounts never connected', () => {
      const ids = JSON.stringify(
        this.statement(select)
          .all(before.getTime())
          .map((row) => row.id),
      );
      this.statement(
        'DELETE FROM toolmux_connection_requests WHERE connected_account_id IN (SELECT value FROM json_each(?))',
      ).run(ids);
      return Number(
        this.statement(
          'DELETE FROM toolmux_connected_accounts WHERE id IN (SELECT value FROM json_each(?))',
        ).run(ids).changes,
      );
    });
  }

  /**
   * Accounts that never held credentials beyond the newest `keep` of each user and auth config that
   * has one changed since `changedSince`: the groups from migration 15's index (by `updated_at`), each
   * group's newest first from migration 16's, in one transaction with their deletion.
   */
  async deleteNeverConnectedAccountsBeyond(keep: number, changedSince: Date, limit: number): Promise<number> {
    const groups =
      'SELECT DISTINCT user_id, auth_config_id FROM toolmux_connected_accounts ' +
      `WHERE ${NEVER_CONNECTED_CONDITION} AND updated_at >= ?`;
    const beyond =
      'SELECT id FROM toolmux_connected_accounts WHERE user_id = ? AND auth_config_id = ? ' +
      `AND ${NEVER_CONNECTED_CONDITION} ORDER BY updated_at DESC, id DESC ` +
      `LIMIT ${sqliteLimit(limit)} OFFSET ${sqliteLimit(keep)}`;
    return this.transaction('delete connected accounts never connected beyond the newest', () => {
      const ids: SQLInputValue[] = [];
      for (const group of this.statement(groups).all(changedSince.getTime())) {
        if (ids.length >= limit) break;
        const rows = this.statement(beyond).all(group.user_id!, group.auth_config_id!);
        for (const row of rows.slice(0, limit - ids.length)) ids.push(row.id!);
      }
      if (ids.length === 0) return 0;
      const json = JSON.stringify(ids);
      this.statement(
        'DELETE FROM toolmux_connection_requests WHERE connected_account_id IN (SELECT value FROM json_each(?))',
      ).run(json);
      return Number(
        this.statement(
          'DELETE FROM toolmux_connected_accounts WHERE id IN (SELECT value FROM json_each(?))',
        ).run(json).changes,
      );
    });
  }

  /**
   * One BEGIN IMMEDIATE transaction: SQLite's write lock serializes the starts of every process on the
   * file, so each one counts the attempts the ones before committed. The pending attempts beyond the
   * bound are read newest first from migration 16's index of the user's attempts of the config.
   */
  async insertConnectionAttempt(
    account: ConnectedAccountRecord,
    request: ConnectionRequestRecord,
    maxPending: number,
  ): Promise<number> {
    const now = request.createdAt.getTime();
    const beyond =
      `SELECT id FROM toolmux_connected_accounts WHERE user_id = ? AND auth_config_id = ? AND ${ATTEMPT_CONDITION} ` +
      'AND id <> ? AND EXISTS (SELECT 1 FROM toolmux_connection_requests AS request ' +
      'WHERE request.connected_account_id = toolmux_connected_accounts.id ' +
      "AND request.status = 'PENDING' AND request.used_at IS NULL AND request.expires_at > ?) " +
      `ORDER BY created_at DESC, id DESC LIMIT ${MAX_ATTEMPTS_ENDED_PER_START} OFFSET ${sqliteLimit(maxPending - 1)}`;
    const ended = await this.transaction('start a connection attempt', () => {
      if (!this.insertAccount(account)) return undefined;
      this.prepared().insertRequest.run(...requestValues(request), request.authConfigId);
      const ids = this.statement(beyond)
        .all(account.userId, account.authConfigId, account.id, now)
        .map((row) => row.id!);
      if (ids.length === 0) return 0;
      const json = JSON.stringify(ids);
      // its request expires now: its waiter, a late callback and the connect page say so at once
      this.statement(
        'UPDATE toolmux_connection_requests SET expires_at = ?1, replaced_at = ?1 ' +
          'WHERE connected_account_id IN (SELECT value FROM json_each(?2)) ' +
          "AND status = 'PENDING' AND used_at IS NULL AND expires_at > ?1",
      ).run(now, json);
      return Number(
        this.statement(
          "UPDATE toolmux_connected_accounts SET status = 'EXPIRED', status_reason = ?, version = version + 1, " +
            `updated_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND ${ATTEMPT_CONDITION}`,
        ).run(ATTEMPT_REPLACED_REASON, now, json).changes,
      );
    });
    if (ended === undefined) throw authConfigGoneError(account.authConfigId);
    return ended;
  }

  /**
   * One BEGIN IMMEDIATE transaction, as `insertConnectionAttempt`: each insert counts the requests the
   * ones before committed. The open requests not expired yet are a range of migration 17's index.
   */
  async insertFieldsRequest(request: ConnectionRequestRecord, maxPending: number): Promise<number> {
    const now = request.createdAt.getTime();
    const beyond =
      `SELECT id FROM toolmux_connection_requests WHERE user_id = ? AND auth_config_id = ? AND ${OPEN_FORM_REQUEST_CONDITION} ` +
      'AND expires_at > ? AND id <> ? ' +
      `ORDER BY created_at DESC, id DESC LIMIT ${MAX_ATTEMPTS_ENDED_PER_START} OFFSET ${sqliteLimit(maxPending - 1)}`;
    const ended = await this.transaction('start a connection form request', () => {
      if (this.prepared().insertRequest.run(...requestValues(request), request.authConfigId).changes === 0) {
        return undefined;
      }
      const ids = this.statement(beyond)
        .all(request.userId, request.authConfigId, now, request.id)
        .map((row) => row.id!);
      if (ids.length === 0) return 0;
      // it expires now: its waiter and its connect page say so at once, and a completion is refused
      return Number(
        this.statement(
          'UPDATE toolmux_connection_requests SET expires_at = ?1, replaced_at = ?1 ' +
            `WHERE id IN (SELECT value FROM json_each(?2)) AND ${OPEN_FORM_REQUEST_CONDITION} AND expires_at > ?1`,
        ).run(now, JSON.stringify(ids)).changes,
      );
    });
    if (ended === undefined) throw authConfigGoneError(request.authConfigId);
    return ended;
  }

  async insertConnectionRequest(record: ConnectionRequestRecord): Promise<void> {
    const inserted = await this.write('insert a connection request', () => {
      return this.prepared().insertRequest.run(...requestValues(record), record.authConfigId).changes;
    });
    if (inserted === 0) throw authConfigGoneError(record.authConfigId);
  }

  async getConnectionRequest(id: string): Promise<ConnectionRequestRecord | undefined> {
    const row = this.run('read a connection request', () => this.prepared().getRequest.get(id));
    return row === undefined ? undefined : toRequest(row);
  }

  async latestConnectionRequest(
    userId: string,
    toolkit: string,
  ): Promise<ConnectionRequestRecord | undefined> {
    const row = this.run('read a connection request', () =>
      this.prepared().latestRequest.get(userId, toolkit),
    );
    return row === undefined ? undefined : toRequest(row);
  }

  async getConnectionRequestByStateHash(stateHash: string): Promise<ConnectionRequestRecord | undefined> {
    const row = this.run('read a connection request', () =>
      this.prepared().getRequestByStateHash.get(stateHash),
    );
    return row === undefined ? undefined : toRequest(row);
  }

  async markConnectionRequestUsed(id: string, usedAt: Date): Promise<boolean> {
    const result = await this.write('mark a connection request used', () =>
      this.prepared().markRequestUsed.run(usedAt.getTime(), id),
    );
    return result.changes > 0;
  }

  async finishConnectionRequest(id: string, status: 'COMPLETED' | 'FAILED'): Promise<boolean> {
    const result = await this.write('finish a connection request', () =>
      this.prepared().finishRequest.run(status, id),
    );
    return result.changes > 0;
  }

  /** BEGIN IMMEDIATE holds the database's write lock: the count and the insert are one step for every process. */
  async completeConnectionRequest(id: string, account: ConnectedAccountRecord, now: Date): Promise<boolean> {
    const outcome = await this.transaction('complete a connection request', () => {
      const statements = this.prepared();
      const request = statements.openFieldsRequest.get(id, now.getTime());
      if (request === undefined) return 'closed';
      const max = request.max_accounts as number | null;
      if (max !== null && this.accountsInLimit(account.userId, account.toolkit, account.id) >= max) {
        return 'full';
      }
      // a request whose config is gone (deleted with it, or left by an older version) makes no account
      if (statements.authConfigExists.get(account.authConfigId) === undefined) return 'closed';
      statements.claimFieldsRequest.run(now.getTime(), account.id, id, now.getTime());
      if (account.alias) {
        statements.releaseAlias.run(Date.now(), account.userId, account.toolkit, account.alias, account.id);
      }
      this.insertAccount(account);
      return 'completed';
    });
    if (outcome === 'full') throw accountLimitError();
    return outcome === 'completed';
  }

  async activateConnectedAccount(
    id: string,
    changes: ConnectedAccountChanges,
    maxAccounts: number | null,
  ): Promise<ConnectedAccountRecord | undefined> {
    const outcome = await this.transaction('activate a connected account', () => {
      const statements = this.prepared();
      const account = statements.getAccount.get(id);
      if (account === undefined) return undefined;
      const userId = account.user_id as string;
      const toolkit = account.toolkit as string;
      if (maxAccounts !== null && this.accountsInLimit(userId, toolkit, id) >= maxAccounts) {
        return 'full';
      }
      if (changes.alias) statements.releaseAlias.run(Date.now(), userId, toolkit, changes.alias, id);
      const { sql, params } = accountUpdate(id, changes);
      return this.statement(`${sql} RETURNING ${ACCOUNT_COLUMNS}`).get(...params);
    });
    if (outcome === 'full') throw accountLimitError();
    return outcome === undefined ? undefined : toAccount(outcome);
  }

  /** The user's ACTIVE and INACTIVE accounts of the toolkit, but `except` (what `maxAccounts` counts). */
  private accountsInLimit(userId: string, toolkit: string, except: string): number {
    return this.prepared().countAccountsInLimit.get(userId, toolkit, except)!.n as number;
  }

  async listSealedSecrets({
    kind,
    notKeyId,
    afterId,
    limit,
  }: SealedSecretsQuery): Promise<Array<{ id: string; secret: SealedSecret }>> {
    const table = SEALED_SECRET_TABLES[kind];
    const rows = this.run('list encrypted records', () =>
      this.statement(
        `SELECT id, secret, key_id FROM ${table} WHERE secret IS NOT NULL AND key_id <> ? AND id > ? ORDER BY id LIMIT ?`,
      ).all(notKeyId, afterId ?? '', limit),
    );
    return rows.map((row) => ({ id: row.id as string, secret: sealed(row)! }));
  }

  async replaceSealedSecret(
    kind: SealedSecretKind,
    id: string,
    expected: SealedSecret,
    next: SealedSecret,
  ): Promise<boolean> {
    const table = SEALED_SECRET_TABLES[kind];
    const result = await this.write('re-encrypt a record', () =>
      this.statement(
        `UPDATE ${table} SET secret = ?, key_id = ? WHERE id = ? AND secret = ? AND key_id = ?`,
      ).run(next.ciphertext, next.keyId, id, expected.ciphertext, expected.keyId),
    );
    return result.changes > 0;
  }

  /** Inserts an account (inside a transaction or alone); false when its auth config is not there. */
  private insertAccount(record: ConnectedAccountRecord): boolean {
    const { changes } = this.prepared().insertAccount.run(
      record.id,
      record.userId,
      record.toolkit,
      record.authConfigId,
      record.status,
      record.statusReason,
      record.secret?.ciphertext ?? null,
      record.secret?.keyId ?? null,
      time(record.expiresAt),
      record.version,
      time(record.refreshLeaseUntil),
      time(record.connectedAt),
      record.createdAt.getTime(),
      record.updatedAt.getTime(),
      record.alias ?? null,
      record.authConfigId,
    );
    return changes > 0;
  }

  /**
   * A statement built at run time, prepared once per distinct text and kept while it is among the
   * {@link MAX_LIST_STATEMENTS} used last (list queries write their LIMIT into the text, so a client
   * that tries every limit must not make the store keep a statement for each). `arrays`: its rows
   * come as arrays of the selected columns' values where node:sqlite can (else as objects).
   */
  private statement(text: string, { arrays = false } = {}): StatementSync {
    const key = arrays ? `arrays:${text}` : text;
    const statements = this.listStatements;
    let statement = statements.get(key);
    if (statement) {
      // the most recently used last
      statements.delete(key);
    } else {
      statement = this.database.prepare(text);
      if (arrays) (statement as Partial<Pick<StatementSync, 'setReturnArrays'>>).setReturnArrays?.(true);
      if (statements.size >= MAX_LIST_STATEMENTS) statements.delete(statements.keys().next().value!);
    }
    statements.set(key, statement);
    return statement;
  }

  /** How many statements built at run time the store keeps (for tests). */
  get keptStatements(): number {
    return this.listStatements.size;
  }

  /** Runs `work` in one transaction (a write: see `write`). */
  private async transaction<T>(operation: string, work: () => T): Promise<T> {
    return this.write(operation, () => {
      this.database.exec('BEGIN IMMEDIATE');
      try {
        const result = work();
        this.database.exec('COMMIT');
        return result;
      } catch (error) {
        this.database.exec('ROLLBACK');
        throw error;
      }
    });
  }

  private prepared(): ReturnType<typeof prepareStatements> {
    this.statements ??= prepareStatements(this.database);
    return this.statements;
  }

  private list(operation: string, table: string, columns: string, query: PageQuery): Row[] {
    return this.run(operation, () => {
      const { sql, params } = pageClause('sqlite', query);
      return this.statement(`SELECT ${columns} FROM ${table} ${sql}`).all(...params);
    });
  }

  /**
   * Runs work that writes, as `run`, once no checkpoint that resets the WAL holds the writes (see
   * SqliteCheckpointer): a write waits for it (the event loop does not), and writes held go in the
   * order they came. When none holds them, `work` runs at once, in the caller's turn.
   */
  private async write<T>(operation: string, work: () => T): Promise<T> {
    // another process may hold the file's write lock (another server on the file, a backup, the
    // sqlite3 shell): the connection's busy timeout would wait for it inside the statement, holding
    // the event loop, and so every other request of this process, for up to 5 s per statement. A
    // write's attempt fails at once instead (busy timeout 0), and is made again after a timer, up to
    // WRITE_LOCK_WAIT_MS. The work is whole statements, or a transaction it
    // rolls back, so an attempt that found the lock taken changed nothing.
    const deadline = performance.now() + WRITE_LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      for (let held = this.checkpointer?.held; held !== undefined; held = this.checkpointer?.held) await held;
      if (this.checkpointer === undefined) return this.run(operation, work); // in memory: no other process
      try {
        this.database.exec('PRAGMA busy_timeout = 0');
        return work();
      } catch (error) {
        if (this.closed) throw storeClosedError('sqlite', operation);
        if (!isBusy(error)) throw storeError('sqlite', operation, error);
        if (performance.now() >= deadline) throw writeLockTimeout(operation, error);
      } finally {
        if (!this.closed) this.database.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
      const wait = WRITE_LOCK_RETRY_MS[Math.min(attempt, WRITE_LOCK_RETRY_MS.length - 1)]!;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * Runs database work, wrapping a failure as `STORE_ERROR` that names `operation` (TOOLMUX_CLOSED
   * once the store is closed).
   */
  private run<T>(operation: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw this.closed ? storeClosedError('sqlite', operation) : storeError('sqlite', operation, error);
    }
  }
}
