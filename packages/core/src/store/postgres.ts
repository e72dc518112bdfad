import type { Client, Pool, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { quotedMessage, ToolMuxError } from '../errors.js';
import { newId } from '../util/ids.js';
import { MAX_TIMER_MS } from '../util/whole-number.js';
import { announceMigration } from './migration-events.js';
import {
  type AppliedMigration,
  ATTEMPT_CONDITION,
  type IndexChange,
  indexStatements,
  MIGRATIONS,
  MIGRATIONS_TABLE_SQL,
  type Migration,
  NEVER_CONNECTED_CONDITION,
  OPEN_FORM_REQUEST_CONDITION,
  pendingMigrations,
  SEALED_SECRET_TABLES,
  WORKBENCH_CELL_CONDITION,
} from './migrations.js';
import { assertPageQuery, LOG_READ_ROWS, type PageQuery, pageClause, toPage } from './pagination.js';
import { PostgresConnectionListener } from './postgres-connection-listener.js';
import { SessionLogPageReader, unindexed } from './postgres-log-pages.js';
import {
  accountLimitError,
  assertExpectedVersion,
  authConfigGoneError,
  configVersionConflictError,
  sessionNotFoundError,
  storeClosedError,
  storeError,
} from './store-errors.js';
import { postgresSpecProblem, shownStoreSpec } from './store-spec-text.js';
import type {
  AuthConfigChanges,
  AuthConfigRecord,
  ConnectedAccountChanges,
  ConnectedAccountRecord,
  ConnectedAccountStatusRecord,
  ConnectionRequestRecord,
  ConnectionWatch,
  ExecutionLogRecord,
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

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database` (or `postgresql://…`). */
  connectionString: string;
  /**
   * The schema that holds toolmux's tables: `migrate()` creates it when missing, and every pooled
   * connection gets it as its `search_path`. Lower-case letters, digits and `_`, at most 63 characters.
   * @default the connection's own `search_path` (usually `public`)
   */
  schema?: string;
  /**
   * The most connections the pool keeps open (the execution log has 4 more). The open stores of a
   * process with the same URL, schema, pool size, log commit and timeouts share their pools.
   * @default 10
   */
  poolSize?: number;
  /**
   * How execution log entries commit. `'server'`: the commit returns once PostgreSQL has the entry
   * (`synchronous_commit = off` on the connections that write the log), so an answered call's entry
   * survives any crash of a toolmux process, and a burst of calls costs one commit each batch instead
   * of one disk flush; a crash of the database server itself may lose its last fraction of a second
   * of log entries, as SQLite in WAL mode may on power loss. `'disk'`: every log commit waits for the
   * disk, like every other write of the store (sessions, accounts, credentials always do).
   * @default 'server'
   */
  logCommit?: 'server' | 'disk';
  /**
   * The longest wait, in milliseconds, for a new connection to be set up (TCP, TLS, authentication),
   * and also for a pooled connection to become free when all are busy. Else the URL's
   * `connect_timeout` (seconds, as libpq reads it). @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * The longest wait, in milliseconds, for the answer to one statement (a read, a write, a commit of
   * log entries); past it the statement fails with `STORE_ERROR` and its connection is closed, not
   * reused. Else the URL's `query_timeout` (milliseconds, as node-postgres reads it). @default 30000
   */
  queryTimeoutMs?: number;
  /**
   * The same for each statement of `migrate()` (waiting for another instance's migrations included),
   * which may rewrite large tables. Else the URL's `migration_timeout` (milliseconds).
   * @default 600000
   */
  migrationTimeoutMs?: number;
  /**
   * TCP keepalive on every connection: probes start after this many milliseconds without traffic, so
   * a connection whose database went away without a word is noticed and closed. Else the URL's
   * `keepalives_idle` (seconds, as libpq reads it). @default 10000
   */
  keepAliveIdleMs?: number;
}

/** The waits of a store, in milliseconds (see {@link PostgresStoreOptions}). */
interface PostgresTimeouts {
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  migrationTimeoutMs: number;
  keepAliveIdleMs: number;
}

const DEFAULT_TIMEOUTS: PostgresTimeouts = {
  connectTimeoutMs: 10_000,
  queryTimeoutMs: 30_000,
  migrationTimeoutMs: 600_000,
  keepAliveIdleMs: 10_000,
};

/**
 * The URL parameters that set the waits: the names and units of libpq (`connect_timeout`,
 * `keepalives_idle`: seconds) and of node-postgres (`query_timeout`: milliseconds), so a URL written
 * for them means the same here, and toolmux's own `migration_timeout` (milliseconds).
 */
const TIMEOUT_PARAMETERS = [
  { parameter: 'connect_timeout', option: 'connectTimeoutMs', unit: 'seconds' },
  { parameter: 'query_timeout', option: 'queryTimeoutMs', unit: 'milliseconds' },
  { parameter: 'migration_timeout', option: 'migrationTimeoutMs', unit: 'milliseconds' },
  { parameter: 'keepalives_idle', option: 'keepAliveIdleMs', unit: 'seconds' },
] as const;

/** The query parameters of a connection string, as node-postgres reads them. */
/**
 * In a transaction that connects an account (`except`) under `alias`: an account of the user and
 * toolkit no call can use lets go of the alias, so that a refused connection frees nothing.
 */
async function releaseAlias(
  query: TransactionQuery,
  userId: string,
  toolkit: string,
  alias: string,
  except: string,
): Promise<void> {
  await query(
    'UPDATE toolmux_connected_accounts SET alias = NULL, version = version + 1, updated_at = $1 ' +
      'WHERE user_id = $2 AND toolkit = $3 AND alias = $4 AND id <> $5 ' +
      "AND status IN ('INITIATED', 'FAILED', 'EXPIRED', 'REVOKED')",
    [new Date(), userId, toolkit, alias, except],
  );
}

function urlParameters(connectionString: string): URLSearchParams {
  const query = connectionString.indexOf('?');
  if (query < 0) return new URLSearchParams();
  const hash = connectionString.indexOf('#', query);
  return new URLSearchParams(connectionString.slice(query + 1, hash < 0 ? undefined : hash));
}

/** The waits of `options`, then of the URL's parameters, then the defaults; a bad value throws. */
function timeoutsOf(options: PostgresStoreOptions): PostgresTimeouts {
  const parameters = urlParameters(options.connectionString);
  const timeouts = { ...DEFAULT_TIMEOUTS };
  for (const { parameter, option, unit } of TIMEOUT_PARAMETERS) {
    const given = options[option];
    if (given !== undefined) {
      if (!Number.isInteger(given) || given < 1 || given > MAX_TIMER_MS) {
        throw invalidOption(
          `${option} must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}; got ${String(given)}.`,
        );
      }
      timeouts[option] = given;
      continue;
    }
    const text = parameters.get(parameter);
    if (text === null) continue;
    const value = Number(text);
    const ms = unit === 'seconds' ? Math.round(value * 1000) : value;
    const whole = unit === 'seconds' || Number.isInteger(value);
    if (text.trim() === '' || !Number.isFinite(value) || !whole || ms < 1 || ms > MAX_TIMER_MS) {
      throw invalidOption(
        `The store URL's ${parameter} must be a positive ${unit === 'seconds' ? 'number of seconds (e.g. 10 or 0.5)' : 'whole number of milliseconds (e.g. 30000)'}; got ${JSON.stringify(text)}.`,
      );
    }
    timeouts[option] = ms;
  }
  return timeouts;
}

/**
 * From this size (the table's, as `pg_table_size` counts it) a migration's indexes are built
 * `CONCURRENTLY` (see `IndexChange`); a smaller table's are built in the migration transaction: they
 * take a few milliseconds there, where a concurrent build waits for every transaction of the
 * database that started before it (an empty table's, on a new database, as well).
 */
export const ONLINE_INDEX_FROM_BYTES = 8 * 1024 * 1024;

/** How often a migration asks again for the index-build lock another instance holds (see `lockIndexBuilds`). */
const MIGRATION_LOCK_POLL_MS = 100;

/**
 * The index-build lock of every store of the search_path in releases before the lock was keyed by
 * the schema migrated: such a release holds it while it builds, any schema's. A store of the
 * search_path holds it in shared mode through its migration as well, so that it neither alters nor
 * builds the indexes of a table that release builds (in a rolling deploy), nor that release of its.
 */
const LEGACY_INDEX_LOCK = 'toolmux_migration_indexes:';

/** How much longer than the server (statement_timeout) a migration's connection waits for a statement. */
const SERVER_TIMEOUT_LEAD_MS = 2_000;

/**
 * Sets up the connection that migrates, and answers the schema migrated (`$2`, else the first existing
 * schema of its search_path). The server ends each statement at migrationTimeoutMs (`$1`) itself, and
 * (PostgreSQL 14 and later) a statement of a client gone, checked every second: a `CREATE INDEX
 * CONCURRENTLY` otherwise runs on when the process that sent it gave up or died, holding the table
 * and the index-build lock, until it has waited for every older transaction and built its index.
 */
const MIGRATION_SESSION_SQL = `SELECT set_config('statement_timeout', $1, false),
  CASE WHEN current_setting('server_version_num')::int >= 140000
    THEN set_config('client_connection_check_interval', '1000', false) END,
  coalesce($2::text, current_schema()) AS schema`;

type MigrationQuery = <R extends QueryResultRow = QueryResultRow>(
  text: string,
  values?: unknown[],
) => Promise<QueryResult<R>>;

/** Whether `table` (in the connection's search path) holds {@link ONLINE_INDEX_FROM_BYTES} or more. */
async function largeTable(query: MigrationQuery, table: string): Promise<boolean> {
  const { rows } = await query<{ bytes: string | null }>('SELECT pg_table_size(to_regclass($1)) AS bytes', [
    table,
  ]);
  return Number(rows[0]?.bytes ?? 0) >= ONLINE_INDEX_FROM_BYTES;
}

/**
 * The index migrations of `migrations` whose indexes the database lacks, holds invalid (a concurrent
 * build cut off), or that still hold an index they drop, and the validity of each index they name
 * (`true`, `false` invalid, `null` absent): one catalog read.
 */
async function unbuilt(
  query: MigrationQuery,
  migrations: readonly Migration[],
): Promise<{ migrations: Migration[]; validity: ReadonlyMap<string, boolean | null> }> {
  const names = migrations.flatMap(({ indexes }) => [
    ...indexes!.create.map((index) => index.name),
    ...(indexes!.drop ?? []),
  ]);
  const { rows } = await query<{ name: string; valid: boolean | null }>(
    'SELECT name, (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(name)) AS valid FROM unnest($1::text[]) AS name',
    [names],
  );
  const validity = new Map(rows.map((row) => [row.name, row.valid]));
  return {
    migrations: migrations.filter(
      ({ indexes }) =>
        indexes!.create.some((index) => validity.get(index.name) !== true) ||
        (indexes!.drop ?? []).some((name) => validity.get(name) !== null),
    ),
    validity,
  };
}

/**
 * Builds `change`'s indexes with `CREATE INDEX CONCURRENTLY`, outside a transaction, then drops
 * what it drops likewise. A concurrent build cut off part way (a killed process, a timeout) leaves
 * its index behind marked invalid (`validity`, as {@link unbuilt} read it), which `IF NOT EXISTS`
 * would keep: such an index is dropped and built again.
 */
async function buildIndexesConcurrently(
  query: MigrationQuery,
  change: IndexChange,
  validity: ReadonlyMap<string, boolean | null>,
): Promise<void> {
  for (const { name } of change.create) {
    if (validity.get(name) === false) await query(`DROP INDEX CONCURRENTLY ${name}`);
  }
  for (const statement of indexStatements(change, true)) await query(statement);
}

/** pg's and pg-pool's errors for the waits this store bounds, by message. */
const TIMEOUT_MESSAGES = new Map<string, 'connect' | 'pool' | 'query'>([
  // pg-pool: the new connection was not set up within connectionTimeoutMillis
  ['Connection terminated due to connection timeout', 'connect'],
  // pg's own timer of connectionTimeoutMillis, when it fires before the pool's
  ['timeout expired', 'connect'],
  // pg-pool: no connection became free within connectionTimeoutMillis
  ['timeout exceeded when trying to connect', 'pool'],
  // pg: no answer to a statement within query_timeout (pg-pool then closes its connection)
  ['Query read timeout', 'query'],
]);

/** The server ended the statement at its statement_timeout (a migration's, see `MIGRATION_SESSION_SQL`). */
function statementTimedOut(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error as { code?: unknown }).code === '57014' &&
    error.message.includes('statement timeout')
  );
}

/**
 * SQLSTATEs of a connection the server ended: an administrator (`pg_terminate_backend`, a pooler
 * or a failover), a server shutting down or recovering from a crash, and class 08, the connection
 * exceptions. Whatever ended this one most likely ended the store's other connections too.
 */
const CONNECTION_ENDED_CODES = new Set(['57P01', '57P02', '57P03']);

/** pg's errors of a connection that broke under a statement (the socket closed, or was reset). */
const CONNECTION_ENDED_MESSAGES = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
]);
const CONNECTION_ENDED_ERRNOS = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT']);

/**
 * Whether the server ended the statement's connection in place of answering it (an ErrorResponse of
 * {@link CONNECTION_ENDED_CODES}): the statement did not commit, so it may be sent again as it was.
 * (A connection that broke without a word leaves that unknown: a commit may have landed.)
 */
function endedByServer(error: unknown): boolean {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && CONNECTION_ENDED_CODES.has(code);
}

/**
 * How many times a statement is sent when the server ended the connection under it ({@link
 * endedByServer}: it did not commit): each failed attempt took the idle connections out of the pool
 * ({@link connectionEnded}), but one busy at that moment can come back to it and be ended next by the
 * same event (an administrator's `pg_terminate_backend` over every connection goes through them one
 * by one). A read is sent again also after a connection that broke without a word.
 */
const STATEMENT_ATTEMPTS = 3;

/** A statement that only reads: sending it again after any broken connection changes nothing. */
const READ_ONLY_STATEMENT = /^\s*SELECT\b/i;

/** Whether `error` says that the statement's connection is gone (not that the statement failed). */
function connectionEnded(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_ENDED_CODES.has(code) || code.startsWith('08'))) return true;
  if (typeof code === 'string' && CONNECTION_ENDED_ERRNOS.has(code)) return true;
  return CONNECTION_ENDED_MESSAGES.has(error.message);
}

/** SQLSTATE insufficient_privilege: a statement the database role may not run. */
const INSUFFICIENT_PRIVILEGE = '42501';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const SESSION_COLUMNS =
  'id, user_id, config, config_version, token_hash, metadata, created_at, updated_at, token_version';
const LOG_COLUMNS =
  'id, session_id, user_id, tool_slug, toolkit, connected_account_id, call_id, status, error_code, ' +
  'error_message, duration_ms, input, output, created_at, parent_id';

/**
 * A log column as `insertLogs` sends it in JSON: PostgreSQL's `text` holds no NUL and its `json`
 * operators refuse a lone surrogate, so both become U+FFFD (what UTF-8 encoding does to the latter).
 */
function logText(value: string): string;
function logText(value: string | null): string | null;
function logText(value: string | null): string | null {
  if (value === null || (value.isWellFormed() && !value.includes('\0'))) return value;
  return value.toWellFormed().replaceAll('\0', '\uFFFD');
}

function toSession(row: QueryResultRow): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    config: row.config,
    configVersion: row.config_version,
    tokenHash: row.token_hash,
    tokenVersion: row.token_version,
    metadata: row.metadata,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * A log query's filters for {@link pageClause}: beside a parent, the other columns are compared where
 * no index serves them (see `unindexed`), so the parent's calls are walked by the parent index and
 * checked; otherwise the planner picks the walk.
 */
function logFilters(
  filters: Partial<Record<'session_id' | 'user_id' | 'tool_slug' | 'parent_id', string>>,
): PageQuery['filters'] {
  if (filters.parent_id === undefined) return filters;
  return Object.fromEntries(
    Object.entries(filters).map(([column, value]) => [
      column === 'parent_id' ? column : unindexed(column),
      value,
    ]),
  );
}

/**
 * The columns of an entry as they are read. `created_at` comes as seconds since the epoch, in
 * decimal (`extract(epoch …)`: `1764633600.123456`), which {@link epochMilliseconds} reads as the
 * `Date` that `pg` would parse from its text, rounded down to the millisecond like that, at a
 * fraction of the cost: a page of a log reads 50 of them. Not `floor(… * 1000)::int8`: that
 * arithmetic on a numeric cost the database about a quarter of what reading a page of a session's
 * log costs it (bench/logs.bench.ts), where the digits say the milliseconds already.
 */
const LOG_READ_COLUMNS = LOG_COLUMNS.replace('created_at', 'extract(epoch FROM created_at) AS created_at');

/**
 * The milliseconds since the epoch, rounded down, of `extract(epoch FROM …)` as PostgreSQL writes
 * it: a numeric with 6 decimals since PostgreSQL 14 (`1764633600.123456`), the shortest digits of a
 * double before (`1764633600.123`), or a number `pg` parsed. From the digits: `1764633600.123 * 1000`
 * in doubles is not always 1764633600123.
 */
export function epochMilliseconds(value: string | number): number {
  const text = typeof value === 'number' ? String(value) : value;
  const point = text.indexOf('.');
  // whole seconds; Infinity, NaN and exponents (a double before PostgreSQL 14, far from now) alike
  if (point < 0 || text.indexOf('e', point) >= 0) return Math.floor(Number(text) * 1000);
  if (text.charCodeAt(0) !== 45 /* - */) {
    // at most 3 decimals: the double nearest to them, times 1000, is within far less than ½ of the
    // whole number of milliseconds they say (below 2^53 milliseconds: every date a Date holds)
    return Math.round(Number(text.slice(0, point + 4)) * 1000);
  }
  // before 1970: -1.0005 s is -1001 ms rounded down, so the digits after the milliseconds count too
  const milliseconds = Math.round(Number(text.slice(1, point + 4)) * 1000);
  return -milliseconds - (/[1-9]/.test(text.slice(point + 4)) ? 1 : 0);
}

/**
 * Between the columns of an entry packed by {@link LOG_PACKED_COLUMN}: a control character that no id,
 * slug or JSON payload holds. A value that holds it anyway (an error message) is caught on reading
 * (the entry splits into more parts than it has columns), and its page is read unpacked.
 */
const PACKED_SEPARATOR = '\x1f';
/** The columns of {@link LOG_COLUMNS} whose value may be null. */
const NULLABLE_LOG_COLUMNS = new Set([
  'session_id',
  'connected_account_id',
  'call_id',
  'error_code',
  'error_message',
  'parent_id',
]);
const LOG_COLUMN_COUNT = LOG_COLUMNS.split(',').length;

/**
 * An entry's columns as one text, for the pages of a session's log (read often, by many clients at
 * once): `pg` decodes each column of each row on its own, and for a page of 51 rows of 15 columns
 * that was most of what reading it cost this process; one column per row costs a third of it (and
 * the database about as much as sending the columns). The values of {@link LOG_READ_COLUMNS} in
 * that order, each after a {@link PACKED_SEPARATOR} but the first; a value that may be null is
 * written after a `!` (`'!' || value` is null for null, which `concat` writes as nothing), so null
 * and '' stay apart. It begins with the id (before the first separator), so entries sort by id.
 */
const LOG_PACKED_COLUMN = `concat(${LOG_READ_COLUMNS.split(', ')
  .map((column) => {
    const name = column.replace(/.* AS /, '');
    return NULLABLE_LOG_COLUMNS.has(name)
      ? `'!' || ${column.replace(/ AS .*/, '')}`
      : column.replace(/ AS .*/, '');
  })
  .join(", E'\\x1f', ")}) AS entry`;

/** Where each column of a packed entry ends (see {@link unpackLog}): reused, entries are unpacked one at a time. */
const packedEnds = new Int32Array(LOG_COLUMN_COUNT);

/**
 * The entries of texts read with {@link LOG_PACKED_COLUMN}, the same as {@link toLog} of the
 * columns; undefined when a value held a separator (then the page is read unpacked).
 */
function unpackLogs(texts: readonly string[]): ExecutionLogRecord[] | undefined {
  const entries: ExecutionLogRecord[] = [];
  for (const text of texts) {
    const entry = unpackLog(text);
    if (entry === undefined) return undefined;
    entries.push(entry);
  }
  return entries;
}

/**
 * One packed entry. The separators are found with `indexOf` and each value is sliced once: a
 * `split` made an array of 15 strings per entry, and slicing the nullable ones again to drop their
 * `!` (for a page of 51 entries, ~20 µs of CPU → ~13 µs). Exactly `LOG_COLUMN_COUNT - 1` separators,
 * else undefined.
 */
function unpackLog(text: string): ExecutionLogRecord | undefined {
  const ends = packedEnds;
  let from = 0;
  for (let column = 0; column < LOG_COLUMN_COUNT - 1; column++) {
    const at = text.indexOf(PACKED_SEPARATOR, from);
    if (at < 0) return undefined;
    ends[column] = at;
    from = at + 1;
  }
  if (text.indexOf(PACKED_SEPARATOR, from) >= 0) return undefined;
  ends[LOG_COLUMN_COUNT - 1] = text.length;
  return {
    id: packedValue(text, 0),
    sessionId: packedNullable(text, 1),
    userId: packedValue(text, 2),
    toolSlug: packedValue(text, 3),
    toolkit: packedValue(text, 4),
    connectedAccountId: packedNullable(text, 5),
    callId: packedNullable(text, 6),
    status: packedValue(text, 7) as ExecutionLogRecord['status'],
    errorCode: packedNullable(text, 8),
    errorMessage: packedNullable(text, 9),
    // as pg parses a double precision column
    durationMs: Number.parseFloat(packedValue(text, 10)),
    input: packedValue(text, 11),
    output: packedValue(text, 12),
    createdAt: new Date(epochMilliseconds(packedValue(text, 13))),
    parentId: packedNullable(text, 14),
  };
}

/** Column `column` of the entry whose separators {@link unpackLog} found. */
function packedValue(text: string, column: number): string {
  return text.slice(column === 0 ? 0 : packedEnds[column - 1]! + 1, packedEnds[column]);
}

/** A column that may be null: '' for null, else '!' and the value. */
function packedNullable(text: string, column: number): string | null {
  const start = packedEnds[column - 1]! + 1;
  return start === packedEnds[column] ? null : text.slice(start + 1, packedEnds[column]);
}

function toLog(row: QueryResultRow): ExecutionLogRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    userId: row.user_id,
    toolSlug: row.tool_slug,
    toolkit: row.toolkit,
    connectedAccountId: row.connected_account_id,
    callId: row.call_id,
    status: row.status,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    durationMs: row.duration_ms,
    input: row.input,
    output: row.output,
    createdAt: new Date(epochMilliseconds(row.created_at)),
    parentId: row.parent_id,
  };
}

const AUTH_CONFIG_COLUMNS = 'id, toolkit, type, created_by, settings, secret, key_id, created_at, updated_at';
const ACCOUNT_COLUMNS =
  'id, user_id, toolkit, auth_config_id, status, status_reason, secret, key_id, expires_at, version, ' +
  'refresh_lease_until, connected_at, created_at, updated_at, alias';
const REQUEST_COLUMNS =
  'id, kind, connected_account_id, user_id, toolkit, auth_config_id, state_hash, secret, key_id, ' +
  'callback_url, redirect_uri, status, expires_at, used_at, created_at, alias, max_accounts, reconnect_of';
/** What a read of a request selects: its inserted columns, and when newer requests replaced it (migration 17). */
const REQUEST_READ_COLUMNS = `${REQUEST_COLUMNS}, replaced_at`;

/** Columns of {@link ConnectedAccountChanges}, by property. */
const ACCOUNT_CHANGE_COLUMNS = {
  status: 'status',
  statusReason: 'status_reason',
  expiresAt: 'expires_at',
  refreshLeaseUntil: 'refresh_lease_until',
  connectedAt: 'connected_at',
  alias: 'alias',
} as const;

function sealed(row: QueryResultRow): SealedSecret | null {
  return row.secret === null ? null : { keyId: row.key_id, ciphertext: row.secret };
}

function toAuthConfig(row: QueryResultRow): AuthConfigRecord {
  return {
    id: row.id,
    toolkit: row.toolkit,
    type: row.type,
    createdBy: row.created_by,
    settings: row.settings,
    secret: sealed(row),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toAccount(row: QueryResultRow): ConnectedAccountRecord {
  return {
    id: row.id,
    userId: row.user_id,
    toolkit: row.toolkit,
    authConfigId: row.auth_config_id,
    status: row.status,
    statusReason: row.status_reason,
    secret: sealed(row),
    expiresAt: row.expires_at,
    version: row.version,
    refreshLeaseUntil: row.refresh_lease_until,
    connectedAt: row.connected_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    alias: row.alias,
  };
}

function toRequest(row: QueryResultRow): ConnectionRequestRecord {
  return {
    id: row.id,
    kind: row.kind,
    connectedAccountId: row.connected_account_id,
    userId: row.user_id,
    toolkit: row.toolkit,
    authConfigId: row.auth_config_id,
    stateHash: row.state_hash,
    secret: sealed(row),
    callbackUrl: row.callback_url,
    redirectUri: row.redirect_uri,
    status: row.status,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    createdAt: row.created_at,
    alias: row.alias,
    maxAccounts: row.max_accounts,
    replacedAt: row.replaced_at ?? null,
    reconnectOf: row.reconnect_of ?? null,
  };
}

/** The UPDATE of `updateConnectedAccount` (without RETURNING). */
function accountUpdate(
  id: string,
  changes: ConnectedAccountChanges,
  expectedVersion?: number,
): { sql: string; params: unknown[] } {
  const assignments: string[] = [];
  const params: unknown[] = [];
  const placeholder = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  for (const [property, column] of Object.entries(ACCOUNT_CHANGE_COLUMNS)) {
    const value = changes[property as keyof typeof ACCOUNT_CHANGE_COLUMNS];
    if (value !== undefined) assignments.push(`${column} = ${placeholder(value)}`);
  }
  if (changes.secret !== undefined) {
    assignments.push(
      `secret = ${placeholder(changes.secret?.ciphertext ?? null)}`,
      `key_id = ${placeholder(changes.secret?.keyId ?? null)}`,
    );
  }
  assignments.push('version = version + 1', `updated_at = ${placeholder(new Date())}`);
  let sql = `UPDATE toolmux_connected_accounts SET ${assignments.join(', ')} WHERE id = ${placeholder(id)}`;
  if (expectedVersion !== undefined) sql += ` AND version = ${placeholder(expectedVersion)}`;
  return { sql, params };
}

/** The values of {@link ACCOUNT_COLUMNS}, in order. */
function accountValues(record: ConnectedAccountRecord): unknown[] {
  return [
    record.id,
    record.userId,
    record.toolkit,
    record.authConfigId,
    record.status,
    record.statusReason,
    record.secret?.ciphertext ?? null,
    record.secret?.keyId ?? null,
    record.expiresAt,
    record.version,
    record.refreshLeaseUntil,
    record.connectedAt,
    record.createdAt,
    record.updatedAt,
    record.alias ?? null,
  ];
}

/** A request's values in the order of {@link REQUEST_COLUMNS}. */
function requestValues(record: ConnectionRequestRecord): unknown[] {
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
    record.expiresAt,
    record.usedAt,
    record.createdAt,
    record.alias ?? null,
    record.maxAccounts ?? null,
    record.reconnectOf ?? null,
  ];
}

/** A statement on the connection of a transaction (see `PostgresStore.transaction`). */
type TransactionQuery = (text: string, values?: unknown[]) => Promise<QueryResultRow[]>;

function invalidOption(message: string): ToolMuxError {
  return new ToolMuxError({ code: 'STORE_CONFIG_INVALID', message });
}

/** The bytes a session's other files count against the quota ($1 the session, $2 the path written). */
const OTHER_FILES_BYTES = `SELECT COALESCE(SUM(size + octet_length(path) + ${WORKBENCH_FILE_RECORD_BYTES}), 0)::bigint AS total FROM toolmux_workbench_files WHERE session_id = $1 AND path <> $2`;

/**
 * The bytes reserved by a session's workbench writes under way ($1 the session, $2 the oldest start
 * that counts: a reservation as old as stale pieces is a write cut short, see migration
 * workbench_file_writes).
 */
const RESERVED_BYTES = `SELECT COALESCE(SUM(bytes), 0)::bigint AS total FROM toolmux_workbench_file_writes WHERE session_id = $1 AND started_at >= $2`;

/** Pieces of a workbench file read by one statement (up to 3 MB of UTF-8). */
const PIECES_PER_READ = 4;

/**
 * The two pools of one connection setting (URL, schema, pool size, log commit, timeouts), shared by
 * every open store of the process that uses it, counted by `users`: a ToolMux made per request (a
 * serverless handler, a route that builds its own) and dropped without `close()` used to keep its
 * own pools, and their connections stayed open for pg's 10 s idle timeout (about 33 such requests
 * in 10 s reached PostgreSQL's default 100 connections, for every application on the server). The
 * last store to close (or to be collected unclosed) ends the pools.
 */
interface SharedPools {
  readonly key: string;
  readonly pool: Pool;
  readonly logPool: Pool;
  /** Every connection of both pools open now, for a close that gets no answer. */
  readonly clients: Set<Client>;
  /** The connect timeout: how long the pools' connections get to say goodbye when they end. */
  readonly cutAfterMs: number;
  users: number;
}

const sharedPools = new Map<string, SharedPools>();

/**
 * Gives back one store's share of `shared`: when it was the last, the pools are no longer handed to
 * new stores and are ended, and the promise of their ending is returned.
 */
function releasePools(shared: SharedPools): Promise<unknown> | undefined {
  shared.users--;
  if (shared.users > 0) return undefined;
  if (sharedPools.get(shared.key) === shared) sharedPools.delete(shared.key);
  return Promise.all([shared.pool.end(), shared.logPool.end()]);
}

/** A store collected without `close()` gives back its share of the pools (its listener idles out). */
const droppedStores = new FinalizationRegistry<SharedPools>((shared) => {
  const ended = releasePools(shared);
  if (ended === undefined) return;
  endConnections([ended], [shared.clients], shared.cutAfterMs).catch(() => {});
});

/** Keeps `client` in `clients` until its connection ends. */
function trackClient(clients: Set<Client>, client: Client): Client {
  clients.add(client);
  client.once('end', () => clients.delete(client));
  return client;
}

/**
 * Resolves once `ending` did and every connection of `clients` ended. Each connection says goodbye
 * and waits for the database to close it; one whose database went silent would wait for the kernel's
 * TCP timeouts (minutes, and the process could not exit meanwhile), so what is still open after
 * `cutAfterMs` is cut.
 */
async function endConnections(
  ending: readonly Promise<unknown>[],
  clients: readonly Set<Client>[],
  cutAfterMs: number,
): Promise<void> {
  const timer = setTimeout(() => {
    for (const set of clients) for (const client of set) client.connection.stream.destroy();
  }, cutAfterMs);
  try {
    await Promise.all(ending);
    const open = clients.flatMap((set) => [...set]);
    await Promise.all(open.map((client) => new Promise((resolve) => client.once('end', resolve))));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The shared store: PostgreSQL through a `pg` connection pool, for several server instances that
 * share state. JSON is `json` (kept as written, keys in their order) and dates
 * are `timestamptz` (microsecond precision, so a `Date` round-trips exactly). `pg` is imported only
 * by {@link PostgresStore.create}, so SQLite users never load it.
 *
 * @example
 * ```ts
 * const store = await PostgresStore.create({ connectionString: process.env.DATABASE_URL! });
 * await store.migrate();
 * ```
 */
/**
 * `ANY(ARRAY(…))` of the ids of at most `limit` (a parameter) rows of `table` matching `where`, first
 * by `order`: a batch of the pruning statements (deleteLogsBefore, connection-state-pruning.ts). The
 * array is an InitPlan, chosen once before the statement runs; as `IN (subquery)` the planner may scan
 * the subquery again for each row it changes (a nested-loop semi-join), and each scan, skipping the
 * rows changed already, takes others: more than `limit` (3 attempts of a batch of 2 were expired so).
 * The array then drives a primary-key index scan. SKIP LOCKED: instances pruning at once take
 * different rows instead of waiting, and a row a callback is changing is left to the next run.
 */
function oldestBatch(table: string, where: string, order: string, limit: string): string {
  return `ANY(ARRAY(SELECT id FROM ${table} WHERE ${where} ORDER BY ${order} LIMIT ${limit} FOR UPDATE SKIP LOCKED))`;
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres';
  /**
   * Log batches start at 8 entries (up to 4 commit at once, on the log pool's connections): with 16
   * or 64 concurrent calls, some groups run while others commit, instead of all of them waiting for
   * one commit per turn (`bench/log-durability.bench.ts`: 1.3–1.6× the calls per second at 16 and 64
   * callers; 8 did as well as 16 or better at 8 to 64 callers, 4 and 12 worse).
   */
  readonly logBatchSize = 8;
  private ending: Promise<void> | undefined;
  /** The LISTEN connection of `watchConnections`, opened by the first wait. */
  private readonly listener: PostgresConnectionListener;
  /** The listener's connection while it is open, for a close that gets no answer. */
  private readonly listenerClients = new Set<Client>();

  /** The pools this store shares with the other open stores of the process that connect alike. */
  private readonly shared: SharedPools;
  private readonly pool: Pool;
  /** The connections that write the execution log (see `logCommit`). */
  private readonly logPool: Pool;
  private readonly schema: string | undefined;
  private readonly timeouts: PostgresTimeouts;

  private constructor(
    shared: SharedPools,
    schema: string | undefined,
    listen: () => Client,
    timeouts: PostgresTimeouts,
  ) {
    this.shared = shared;
    this.pool = shared.pool;
    this.logPool = shared.logPool;
    this.schema = schema;
    this.timeouts = timeouts;
    // the set, not this store: a store dropped without close() stays collectable while the
    // listener's connection is open (droppedStores then gives its share of the pools back)
    const clients = this.listenerClients;
    this.listener = new PostgresConnectionListener(
      () => trackClient(clients, listen()),
      schema,
      timeouts.queryTimeoutMs,
    );
    droppedStores.register(this, shared, this);
  }

  /** Checks the options and creates the pool; connections open on first use. */
  static async create(storeOptions: PostgresStoreOptions): Promise<PostgresStore> {
    const { connectionString, schema, poolSize = 10, logCommit = 'server' } = storeOptions;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw invalidOption(
        `Invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and _ (at most 63 characters).`,
      );
    }
    if (!Number.isInteger(poolSize) || poolSize < 1) {
      throw invalidOption(`poolSize must be a positive integer; got ${String(poolSize)}.`);
    }
    if (logCommit !== 'server' && logCommit !== 'disk') {
      throw invalidOption(`logCommit must be 'server' or 'disk'; got ${JSON.stringify(logCommit)}.`);
    }
    const specProblem = postgresSpecProblem(connectionString);
    if (specProblem !== undefined) {
      throw invalidOption(
        `Invalid store ${JSON.stringify(shownStoreSpec(connectionString))}: ${specProblem}.`,
      );
    }
    const timeouts = timeoutsOf(storeOptions);
    const { Client, Pool } = await import('pg');
    const options = schema === undefined ? undefined : `-c search_path=${schema}`;
    // every wait on the database is bounded: setting up a connection and waiting for a free one
    // (connectionTimeoutMillis, both in pg-pool), each statement (query_timeout, given per statement
    // in query() and migrate(): the URL's own would replace one given here), and a connection that
    // went silent while idle (TCP keepalive)
    const connection = {
      connectionString,
      options,
      connectionTimeoutMillis: timeouts.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: timeouts.keepAliveIdleMs,
    };
    try {
      // pg reads the URL (and the files its sslcert, sslkey and sslrootcert name) for every new
      // connection, inside pg-pool's connect(), which throws what it throws there instead of rejecting:
      // read once now, without connecting, so that a URL pg refuses is this error instead
      new Client(connection);
    } catch (error) {
      throw invalidOption(
        `The store ${shownStoreSpec(connectionString)} cannot be used: ${quotedMessage(error)}. Correct the store URL (see the PostgreSQL documentation of connection URIs).`,
      );
    }
    const listen = () => new Client(connection);
    const key = JSON.stringify([connectionString, schema ?? null, poolSize, logCommit, timeouts]);
    const open = sharedPools.get(key);
    if (open !== undefined) {
      open.users++;
      return new PostgresStore(open, schema, listen, timeouts);
    }
    // an idle pooled connection (and its idle timer) does not keep the process alive: a script or a
    // handler that ends without close() exits at once, not when the pool's 10 s idle timeout ends
    // the connections (the execution log of a call is committed before the call answers)
    const pool = new Pool({ ...connection, max: poolSize, allowExitOnIdle: true });
    // the log writer commits at most 4 batches at once (ExecutionLogWriter). With logCommit 'server'
    // each new connection is set up before the pool hands it out (pg-pool's awaited `onConnect`, not
    // a query sent from the 'connect' event, which pg warns would overlap the first query); set there
    // rather than in `options`, which an `options` parameter of the connection string replaces
    const logPool = new Pool({
      ...connection,
      max: 4,
      allowExitOnIdle: true,
      ...(logCommit === 'server'
        ? {
            onConnect: async (client: { query(query: object): Promise<unknown> }) => {
              await client
                .query({ text: 'SET synchronous_commit = off', query_timeout: timeouts.queryTimeoutMs })
                .catch(() => {});
            },
          }
        : {}),
    } as ConstructorParameters<typeof Pool>[0]);
    // An idle connection that breaks (server restart, network) is dropped by the pool and replaced on
    // the next query; without a listener the pool's 'error' event would crash the process.
    pool.on('error', () => {});
    logPool.on('error', () => {});
    const shared: SharedPools = {
      key,
      pool,
      logPool,
      clients: new Set(),
      cutAfterMs: timeouts.connectTimeoutMs,
      users: 1,
    };
    for (const each of [pool, logPool]) each.on('connect', (client) => trackClient(shared.clients, client));
    sharedPools.set(key, shared);
    return new PostgresStore(shared, schema, listen, timeouts);
  }

  /**
   * Runs pending migrations in one transaction that holds an advisory lock, so server processes
   * starting at once apply each migration exactly once. A migration that only makes indexes, on a
   * table of {@link ONLINE_INDEX_FROM_BYTES} or more, is recorded there and its indexes are built
   * after it, `CONCURRENTLY` (see `IndexChange`: the instances still serving go on writing the
   * table), by {@link ensureIndexes}. The whole run holds the index-build lock of the schema it
   * migrates (taken before the transaction, see {@link lockIndexBuilds}): a migration that alters a
   * table is not applied while another instance builds an index of it (its `ALTER TABLE` would wait
   * for the build's lock, every write of the table queued behind it, and the build for its snapshot).
   */
  async migrate(): Promise<void> {
    const client = await this.connect('connect to run migrations');
    const timeoutMs = this.timeouts.migrationTimeoutMs;
    // each statement may wait for another instance's migrations (the lock) or build a large index;
    // the server ends it at migrationTimeoutMs (statement_timeout, below), this side waits a little
    // longer for the server's answer, so that a build never runs on after this side gave up on it
    // (within Node's longest timer: a longer one runs after 1 ms)
    const clientTimeoutMs = Math.min(timeoutMs + SERVER_TIMEOUT_LEAD_MS, MAX_TIMER_MS);
    const query = <R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]) =>
      client.query<R>({ text, values, query_timeout: clientTimeoutMs } as QueryConfig);
    try {
      const { rows } = await query<{ schema: string | null }>(MIGRATION_SESSION_SQL, [
        String(timeoutMs),
        this.schema ?? null,
      ]);
      // the schema the migrations go to: a search_path's first existing schema when none is given
      const schema = rows[0]?.schema ?? '';
      const indexLock = `toolmux_migration_indexes:${schema}`;
      // a store of the search_path: earlier releases build under one key for every such schema,
      // which this one shares with its kind (stores of other schemas do not wait for each other)
      const sharedLock = this.schema === undefined && schema !== '' ? LEGACY_INDEX_LOCK : undefined;
      await this.lockIndexBuilds(query, indexLock, sharedLock);
      await query('BEGIN');
      // a store of the search_path: the key of earlier releases ('' for every such schema) as well
      if (this.schema === undefined)
        await query('SELECT pg_advisory_xact_lock(hashtext($1))', ['toolmux_migrations:']);
      await query('SELECT pg_advisory_xact_lock(hashtext($1))', [`toolmux_migrations:${schema}`]);
      if (this.schema !== undefined) {
        const existing = await query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.schema]);
        if (existing.rowCount === 0) await query(`CREATE SCHEMA "${this.schema}"`);
      }
      await query(MIGRATIONS_TABLE_SQL.postgres);
      const applied = await query<AppliedMigration>('SELECT version, name FROM toolmux_migrations');
      // the migrations announced here whose indexes ensureIndexes builds (not announced again)
      const deferred = new Set<number>();
      for (const migration of pendingMigrations(applied.rows)) {
        const { indexes } = migration;
        const concurrently = indexes !== undefined && (await largeTable(query, indexes.table));
        announceMigration({
          dialect: 'postgres',
          version: migration.version,
          name: migration.name,
          concurrently,
          fresh: applied.rows.length === 0,
        });
        // one of a large table's indexes: built after this transaction (ensureIndexes)
        if (concurrently) deferred.add(migration.version);
        else await query(migration.sql.postgres);
        await query('INSERT INTO toolmux_migrations (version, name, applied_at) VALUES ($1, $2, now())', [
          migration.version,
          migration.name,
        ]);
      }
      await query('COMMIT');
      await this.ensureIndexes(query, deferred);
      await query('SELECT pg_advisory_unlock(hashtext($1))', [indexLock]);
      if (sharedLock !== undefined)
        await query('SELECT pg_advisory_unlock_shared(hashtext($1))', [sharedLock]);
      // not back to the pool: its statement_timeout would bound the store's own statements
      client.release(true);
    } catch (error) {
      // the connection is discarded, which ends the transaction and lets go of the locks: no
      // ROLLBACK, which a connection that went silent would not answer either
      client.release(true);
      // a database migrated by a newer toolmux (pendingMigrations), the index lock held too long by
      // another instance: said as they are, not as a failure of the database
      if (ToolMuxError.isInstance(error)) throw error;
      throw this.failure('run migrations', error, 'migration');
    }
  }

  /**
   * Builds the indexes of the recorded index migrations that the database lacks (or holds invalid,
   * or still holds an index they drop), `CONCURRENTLY`, each migration's `postgresAfter` after them:
   * those of a large table that {@link migrate} recorded just now, or that an instance cut off while
   * building left. One catalog read when there are none (every start). Under the index-build lock
   * {@link migrate} holds, not the migration lock: the previous release waits for the migration lock
   * inside a transaction, which keeps a snapshot, which a concurrent build waits for (the two would
   * deadlock).
   */
  // `private`, not `#`: tests call the store through a Proxy (a store without some methods), which
  // `#` members refuse as a receiver
  private async ensureIndexes(query: MigrationQuery, announced: ReadonlySet<number>): Promise<void> {
    const changes = MIGRATIONS.filter((migration) => migration.indexes !== undefined);
    const { migrations, validity } = await unbuilt(query, changes);
    for (const migration of migrations) {
      // one an instance cut off while building left, or that another instance recorded just now
      if (!announced.has(migration.version)) {
        announceMigration({
          dialect: 'postgres',
          version: migration.version,
          name: migration.name,
          concurrently: true,
          fresh: false,
        });
      }
      await buildIndexesConcurrently(query, migration.indexes!, validity);
      if (migration.postgresAfter !== undefined) await query(migration.postgresAfter);
    }
  }

  /**
   * Takes the index-build lock `key` (of the schema migrated) for the connection, and `shared` (see
   * {@link LEGACY_INDEX_LOCK}) in shared mode, both or neither, asked for every
   * {@link MIGRATION_LOCK_POLL_MS}, so that no one waits for them holding a snapshot (which another
   * instance's concurrent build would wait for); gives up after migrationTimeoutMs.
   */
  private async lockIndexBuilds(query: MigrationQuery, key: string, shared?: string): Promise<void> {
    const timeoutMs = this.timeouts.migrationTimeoutMs;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const { rows } = await query<{ locked: boolean }>(
        shared === undefined
          ? 'SELECT pg_try_advisory_lock(hashtext($1)) AS locked'
          : `SELECT CASE WHEN pg_try_advisory_lock(hashtext($1)) THEN CASE WHEN
              pg_try_advisory_lock_shared(hashtext($2)) THEN true ELSE NOT pg_advisory_unlock(hashtext($1)) END END AS locked`,
        shared === undefined ? [key] : [key, shared],
      );
      if (rows[0]?.locked === true) return;
      if (performance.now() >= deadline) {
        throw new ToolMuxError({
          code: 'STORE_ERROR',
          message:
            `The postgres store failed to run migrations: another toolmux instance has been migrating or building indexes of a large table for more than ${timeoutMs} ms. ` +
            'Wait for it to finish; if it only needs longer, raise migration_timeout in the store URL (migrationTimeoutMs of PostgresStore.create).',
          details: { operation: 'run migrations', timeout: 'migration_timeout', timeoutMs },
        });
      }
      await new Promise((done) => setTimeout(done, MIGRATION_LOCK_POLL_MS));
    }
  }

  /**
   * @internal The migrations the database's `toolmux_migrations` records (in the schema the
   * connections' `search_path` names), read without creating or migrating anything: none when it
   * has no such table (no toolmux ran on it).
   */
  async appliedMigrations(): Promise<AppliedMigration[]> {
    const operation = 'read the schema version';
    const [table] = await this.query(
      operation,
      "SELECT to_regclass('toolmux_migrations') IS NOT NULL AS present",
      [],
    );
    if (!table?.present) return [];
    const rows = await this.query(
      operation,
      'SELECT version, name FROM toolmux_migrations ORDER BY version',
      [],
    );
    return rows.map((row) => ({ version: Number(row.version), name: String(row.name) }));
  }

  /** One round trip that reads a toolmux table: fails when the database or the schema is gone. */
  async ping(): Promise<void> {
    await this.query('answer a ping', 'SELECT 1 FROM toolmux_migrations LIMIT 1', []);
  }

  /**
   * Closes this store's listening connection and gives back its share of the pools: the last open
   * store of the process on them closes their connections. A second call waits for the first.
   */
  async close(): Promise<void> {
    if (this.ending === undefined) {
      droppedStores.unregister(this);
      const pools = releasePools(this.shared);
      this.ending = endConnections(
        [this.listener.close(), ...(pools === undefined ? [] : [pools])],
        pools === undefined ? [this.listenerClients] : [this.listenerClients, this.shared.clients],
        this.timeouts.connectTimeoutMs,
      );
    }
    await this.ending;
  }

  async insertSession(record: SessionRecord): Promise<void> {
    await this.query(
      'insert a session',
      `INSERT INTO toolmux_sessions (${SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        record.id,
        record.userId,
        JSON.stringify(record.config),
        record.configVersion,
        record.tokenHash,
        JSON.stringify(record.metadata),
        record.createdAt,
        record.updatedAt,
        record.tokenVersion,
      ],
    );
  }

  async rotateSessionToken(
    id: string,
    { expectedTokenVersion, tokenVersion, tokenHash }: SessionTokenRotation,
  ): Promise<SessionRecord | undefined> {
    const updated = await this.query(
      'rotate a session token',
      'UPDATE toolmux_sessions SET token_version = $1, token_hash = $2 ' +
        `WHERE id = $3 AND token_version = $4 RETURNING ${SESSION_COLUMNS}`,
      [tokenVersion, tokenHash, id, expectedTokenVersion],
    );
    if (updated[0]) return toSession(updated[0]);
    if ((await this.getSessionTokenHash(id)) === undefined) throw sessionNotFoundError(id);
    return undefined;
  }

  /**
   * Writes the content a piece at a time (see workbench-pieces.ts). A file of several pieces first
   * reserves its bytes against the quota in a short transaction that locks the session's row (so
   * writes at once, on any instance, never hold more than the quota in the database, pieces under way
   * included), then puts every piece but the last in a statement of its own. One transaction then
   * puts the last piece, checks the quota, points the file's row at the new generation, deletes the
   * old generation's pieces and the reservation. A file of one piece is that transaction alone,
   * counting the writes under way.
   */
  async putWorkbenchFile(file: WorkbenchFileWrite, quotaBytes: number): Promise<number | undefined> {
    const operation = 'write a workbench file';
    // never `file.content`: it may join megabytes of pieces at once
    const { sessionId, path, size } = file;
    const pieces = filePieces(file);
    const pieceOf = pieces.piece;
    const generation = newId(GENERATION_PREFIX);
    const insertPiece =
      'INSERT INTO toolmux_workbench_file_pieces (session_id, generation, piece, written_at, content) VALUES ($1, $2, $3, $4, $5)';
    // a path counts its UTF-8 bytes, and the file its record (files of nothing are not free)
    const charged = size + Buffer.byteLength(path, 'utf8') + WORKBENCH_FILE_RECORD_BYTES;
    const reserved = pieces.count > 1;
    if (reserved) {
      const stale = new Date(Date.now() - WORKBENCH_STALE_PIECES_MS);
      await this.query(
        'delete left-over pieces of workbench files',
        `WITH pieces AS (
           DELETE FROM toolmux_workbench_file_pieces AS piece WHERE session_id = $1 AND written_at < $2
             AND NOT EXISTS (SELECT 1 FROM toolmux_workbench_files AS file
               WHERE file.session_id = piece.session_id AND file.generation = piece.generation)
         )
         DELETE FROM toolmux_workbench_file_writes WHERE session_id = $1 AND started_at < $2`,
        [sessionId, stale],
      );
      // one write after the other (the session's row locked, as the switch below does): each counts
      // the files in and the writes under way, and reserves its bytes or writes no pieces
      const admitted = await this.transaction(operation, async (query) => {
        const locked = await query('SELECT 1 FROM toolmux_sessions WHERE id = $1 FOR UPDATE', [sessionId]);
        if (locked.length === 0) return 'gone';
        // the files in (but the one it replaces, which counts its new size from the switch) and the
        // writes under way
        const [held] = await query(
          `SELECT (${OTHER_FILES_BYTES}) + (${RESERVED_BYTES.replaceAll('$2', '$3')}) AS total`,
          [sessionId, path, stale],
        );
        if (Number(held?.total) + charged > quotaBytes) return 'over';
        await query(
          'INSERT INTO toolmux_workbench_file_writes (session_id, generation, bytes, started_at) VALUES ($1, $2, $3, $4)',
          // this host's clock, as the pieces' written_at and the age rule
          [sessionId, generation, charged, new Date()],
        );
        return 'reserved';
      });
      if (admitted === 'gone') throw sessionNotFoundError(sessionId);
      if (admitted === 'over') return undefined;
    }
    const writtenAt = new Date();
    try {
      for (let index = 0; index < pieces.count - 1; index++) {
        await this.query(operation, insertPiece, [sessionId, generation, index, writtenAt, pieceOf(index)]);
      }
    } catch (error) {
      // a piece of a session that is not there (deleted before or while it wrote) fails its foreign key
      const [found] = await this.query(operation, 'SELECT 1 AS found FROM toolmux_sessions WHERE id = $1', [
        sessionId,
      ]).catch(() => [{ found: 1 }]);
      if (found === undefined) throw sessionNotFoundError(sessionId);
      // the pieces and the reservation go now when they can; else with the stale ones (their age)
      await this.#endWrite(sessionId, generation).catch(() => {});
      throw error;
    }
    const client = await this.connect(operation);
    const query = (text: string, values?: unknown[]) =>
      client.query({ text, values, query_timeout: this.timeouts.queryTimeoutMs } as QueryConfig);
    let switched: { total: number | undefined };
    try {
      // Writes of one session go one after the other: the session's row is locked first (an insert of
      // a file locks it too, for its foreign key), so the sum below, read after the lock, sees every
      // write committed before. One statement alone would not: writes at once each saw the others'
      // rows not yet there, and all went in (16 writes of 20 MB under the 64 MB quota).
      await query('BEGIN');
      const locked = await query('SELECT 1 FROM toolmux_sessions WHERE id = $1 FOR UPDATE', [sessionId]);
      // a session deleted before or while its file is written: SESSION_NOT_FOUND, not the foreign
      // key's failure (a STORE_ERROR, a server fault)
      if (locked.rowCount === 0) throw sessionNotFoundError(sessionId);
      const last = pieces.count - 1;
      if (last >= 0) await query(insertPiece, [sessionId, generation, last, writtenAt, pieceOf(last)]);
      // a write that reserved its bytes is counted in them already; one that did not (one piece)
      // counts the writes under way
      const { rows } = await query(
        `SELECT (${OTHER_FILES_BYTES}) + $3::bigint${reserved ? '' : ` + (${RESERVED_BYTES.replaceAll('$2', '$5')})`} AS total,
           (SELECT count(*) FROM toolmux_workbench_file_pieces WHERE session_id = $1 AND generation = $4) AS pieces,
           (SELECT generation FROM toolmux_workbench_files WHERE session_id = $1 AND path = $2) AS old`,
        [
          sessionId,
          path,
          charged,
          generation,
          ...(reserved ? [] : [new Date(Date.now() - WORKBENCH_STALE_PIECES_MS)]),
        ],
      );
      const total = Number(rows[0]?.total);
      if (total > quotaBytes) {
        await query('ROLLBACK');
        switched = { total: undefined };
      } else {
        const found = Number(rows[0]?.pieces);
        if (found !== pieces.count) throw piecesMissingError(path, pieces.count, found);
        // a row of before the workbench_file_pieces migration gives its content up here
        await query(
          `INSERT INTO toolmux_workbench_files (session_id, path, content, size, updated_at, generation, pieces)
           VALUES ($1, $2, '', $3, $4, $5, $6)
           ON CONFLICT (session_id, path) DO UPDATE SET content = '', size = excluded.size,
             updated_at = excluded.updated_at, generation = excluded.generation, pieces = excluded.pieces`,
          [sessionId, path, size, file.updatedAt, generation, pieces.count],
        );
        const old = rows[0]?.old as string | null;
        if (old !== null) {
          await query('DELETE FROM toolmux_workbench_file_pieces WHERE session_id = $1 AND generation = $2', [
            sessionId,
            old,
          ]);
        }
        if (reserved) {
          await query('DELETE FROM toolmux_workbench_file_writes WHERE session_id = $1 AND generation = $2', [
            sessionId,
            generation,
          ]);
        }
        await query('COMMIT');
        switched = { total };
      }
      client.release();
    } catch (error) {
      // the connection is discarded, which ends the transaction: no ROLLBACK, which a connection that
      // went silent would not answer either
      client.release(true);
      const failure =
        ToolMuxError.isInstance(error) && error.code === 'SESSION_NOT_FOUND'
          ? error
          : this.failure(operation, error);
      if (reserved && failure.code !== 'SESSION_NOT_FOUND')
        await this.#endWrite(sessionId, generation).catch(() => {});
      throw failure;
    }
    if (switched.total === undefined && reserved) await this.#endWrite(sessionId, generation);
    return switched.total;
  }

  /** Deletes the pieces of a write that made no file, and its reservation (one statement). */
  async #endWrite(sessionId: string, generation: string): Promise<void> {
    await this.query(
      'delete the pieces of a workbench file not written',
      `WITH pieces AS (
         DELETE FROM toolmux_workbench_file_pieces WHERE session_id = $1 AND generation = $2
       )
       DELETE FROM toolmux_workbench_file_writes WHERE session_id = $1 AND generation = $2`,
      [sessionId, generation],
    );
  }

  /** Reads the row, then the pieces of its generation a few per statement (see {@link FilePiecesRead}). */
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
    for (let attempt = 0; attempt < WORKBENCH_READ_ATTEMPTS; attempt++) {
      const [row] = await this.query(
        operation,
        'SELECT size, updated_at, generation, pieces, CASE WHEN generation IS NULL THEN content END AS content ' +
          'FROM toolmux_workbench_files WHERE session_id = $1 AND path = $2',
        [sessionId, path],
      );
      if (!row) return undefined;
      const file = { size: Number(row.size), updatedAt: new Date(row.updated_at) };
      const reader = begin();
      // a row written before the workbench_file_pieces migration keeps its content
      if (row.generation === null) {
        reader.add(row.content as string);
        return { ...file, value: reader.end(true) };
      }
      const pieces = Number(row.pieces);
      let piece = 0;
      let enough = false;
      while (piece < pieces && !enough) {
        const end = Math.min(pieces, piece + PIECES_PER_READ);
        const got = await this.query(
          operation,
          'SELECT content FROM toolmux_workbench_file_pieces WHERE session_id = $1 AND generation = $2 ' +
            'AND piece >= $3 AND piece < $4 ORDER BY piece',
          [sessionId, row.generation, piece, end],
        );
        if (got.length !== end - piece) break;
        for (const { content: text } of got) {
          piece++;
          enough = reader.add(text);
          if (enough) break;
        }
      }
      if (enough || piece === pieces) return { ...file, value: reader.end(piece === pieces) };
    }
    throw storeError('postgres', operation, fileKeptChangingError(path));
  }

  async listWorkbenchFiles(sessionId: string): Promise<Array<Omit<WorkbenchFileRecord, 'content'>>> {
    const rows = await this.query(
      'list workbench files',
      'SELECT path, size, updated_at FROM toolmux_workbench_files WHERE session_id = $1 ORDER BY path',
      [sessionId],
    );
    return rows.map((row) => ({
      sessionId,
      path: row.path,
      size: Number(row.size),
      updatedAt: new Date(row.updated_at),
    }));
  }

  async deleteWorkbenchFile(sessionId: string, path: string): Promise<boolean> {
    const rows = await this.query(
      'delete a workbench file',
      `WITH gone AS (
         DELETE FROM toolmux_workbench_files WHERE session_id = $1 AND path = $2 RETURNING generation
       ), pieces AS (
         DELETE FROM toolmux_workbench_file_pieces WHERE session_id = $1 AND generation IN (SELECT generation FROM gone)
       )
       SELECT 1 AS gone FROM gone`,
      [sessionId, path],
    );
    return rows.length > 0;
  }

  async getSessionTokenHash(id: string): Promise<string | undefined> {
    const rows = await this.query(
      'read a session token',
      'SELECT token_hash FROM toolmux_sessions WHERE id = $1',
      [id],
      'toolmux_session_token_hash',
    );
    return rows[0]?.token_hash;
  }

  async getSessionConfigVersion(id: string): Promise<number | undefined> {
    const rows = await this.query(
      'read a session version',
      'SELECT config_version FROM toolmux_sessions WHERE id = $1',
      [id],
      'toolmux_session_config_version',
    );
    return rows[0] === undefined ? undefined : Number(rows[0].config_version);
  }

  async getSessionToken(id: string): Promise<StoredSessionToken | undefined> {
    const rows = await this.query(
      'read a session token',
      'SELECT token_version, token_hash FROM toolmux_sessions WHERE id = $1',
      [id],
      'toolmux_session_token',
    );
    const row = rows[0];
    return row === undefined
      ? undefined
      : { tokenVersion: Number(row.token_version), tokenHash: row.token_hash };
  }

  async deleteSession(id: string): Promise<boolean> {
    const rows = await this.query(
      'delete a session',
      'DELETE FROM toolmux_sessions WHERE id = $1 RETURNING id',
      [id],
    );
    return rows.length > 0;
  }

  async deleteLogsBefore(beforeId: string, limit: number): Promise<number> {
    return this.rowsChanged(
      'delete old execution log entries',
      `DELETE FROM toolmux_execution_logs WHERE id = ${oldestBatch('toolmux_execution_logs', 'id < $1', 'id', '$2')} RETURNING id`,
      [beforeId, limit],
    );
  }

  /** How many rows a statement that returns the ones it changed (`RETURNING id`) changed. */
  private async rowsChanged(operation: string, text: string, values: unknown[]): Promise<number> {
    return (await this.query(operation, text, values)).length;
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const rows = await this.query(
      'read a session',
      `SELECT ${SESSION_COLUMNS} FROM toolmux_sessions WHERE id = $1`,
      [id],
    );
    return rows[0] === undefined ? undefined : toSession(rows[0]);
  }

  async updateSession(
    id: string,
    { config, metadata, expectedVersion }: SessionUpdate,
  ): Promise<SessionRecord> {
    assertExpectedVersion(expectedVersion);
    const updated = await this.query(
      'update a session',
      'UPDATE toolmux_sessions SET config = $1, metadata = $2, config_version = config_version + 1, updated_at = $3 ' +
        `WHERE id = $4 AND config_version = $5 RETURNING ${SESSION_COLUMNS}`,
      [JSON.stringify(config), JSON.stringify(metadata), new Date(), id, expectedVersion],
    );
    if (updated[0]) return toSession(updated[0]);
    const current = await this.query(
      'update a session',
      'SELECT config_version FROM toolmux_sessions WHERE id = $1',
      [id],
    );
    if (!current[0]) throw sessionNotFoundError(id);
    throw configVersionConflictError(id, expectedVersion, current[0].config_version);
  }

  async listSessions({ userId, limit, cursor }: ListSessionsQuery): Promise<Page<SessionRecord>> {
    assertPageQuery({ limit, cursor }, 'ses');
    const rows = await this.list('list sessions', 'toolmux_sessions', SESSION_COLUMNS, {
      filters: { user_id: userId },
      limit,
      cursor,
    });
    return toPage(rows.map(toSession), limit);
  }

  /**
   * On the path of every tool call: one named statement for any batch size, parsed once per pooled
   * connection, atomic for the batch. The batch travels as one JSON parameter (an array of rows, each
   * an array of the columns in `LOG_COLUMNS` order) that PostgreSQL takes apart with
   * `jsonb_array_elements`: `JSON.stringify` costs the event loop about half of what `pg` spends
   * turning fifteen columns into array literals (`bench/log-durability.bench.ts`). `jsonb`, not
   * `json`: each `->>` of a `json` element parses the element's text again (fifteen times per row),
   * where `jsonb` parses the batch once; that halves PostgreSQL's CPU per batch
   * (`bench/log-insert.bench.ts`). A string that JSON
   * text cannot carry into a PostgreSQL `text` (a NUL, a lone surrogate) is stored with U+FFFD in its
   * place, as its UTF-8 encoding would have been.
   */
  async insertLogs(records: readonly ExecutionLogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const rows = records.map((record) => [
      record.id,
      logText(record.sessionId),
      logText(record.userId),
      logText(record.toolSlug),
      logText(record.toolkit),
      logText(record.connectedAccountId),
      logText(record.callId),
      record.status,
      logText(record.errorCode),
      logText(record.errorMessage),
      record.durationMs,
      logText(record.input),
      logText(record.output),
      record.createdAt.toISOString(),
      logText(record.parentId ?? null),
    ]);
    // answered calls wait for this commit: a connection the server ended (a failover, an
    // administrator) is no reason to lose their entries while a new connection can take them (query())
    await this.query(
      'insert execution logs',
      `INSERT INTO toolmux_execution_logs (${LOG_COLUMNS}) SELECT ` +
        'e->>0, e->>1, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, ' +
        '(e->>10)::double precision, e->>11, e->>12, (e->>13)::timestamptz, e->>14 ' +
        'FROM jsonb_array_elements($1::jsonb) AS e',
      [JSON.stringify(rows)],
      'toolmux_insert_execution_logs_json',
      this.logPool,
    );
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
    if (sessionId !== undefined && userId === undefined && toolSlug === undefined) {
      // a session's log (`session.logs()`, `GET /sessions/:id/logs`) is read often, by many clients at once
      const texts = await this.#sessionLogTexts(sessionId, parentId, cursor, limit + 1);
      const entries =
        unpackLogs(texts) ??
        (
          await this.list('list execution logs', 'toolmux_execution_logs', LOG_READ_COLUMNS, {
            filters: logFilters({ session_id: sessionId, parent_id: parentId }),
            limit,
            cursor,
          })
        ).map(toLog);
      return toPage(entries, limit);
    }
    const rows = await this.list('list execution logs', 'toolmux_execution_logs', LOG_READ_COLUMNS, {
      filters: logFilters({
        session_id: sessionId,
        user_id: userId,
        tool_slug: toolSlug,
        parent_id: parentId,
      }),
      limit,
      cursor,
    });
    return toPage(rows.map(toLog), limit);
  }

  /**
   * The packed entries of a page of a session's log (`rows`: its limit + 1), read LOG_READ_ROWS at
   * a time: each read's entries come as one text, which `pg` decodes in the turn its last byte
   * arrives (a page of 1000 entries of 24 K characters was one text of 24 MB or more, decoded and
   * split in one turn). A page of up to 50 entries is one read, as it always was; a larger one goes
   * on after the last entry read, as the next page would (an entry written meanwhile is read once or
   * not at all, never twice), and the event loop runs while each read is on its way.
   */
  async #sessionLogTexts(
    sessionId: string,
    parentId: string | undefined,
    cursor: string | undefined,
    rows: number,
  ): Promise<string[]> {
    const texts = await this.sessionLogPages.read({
      sessionId,
      parentId,
      cursor,
      rows: Math.min(rows, LOG_READ_ROWS),
    });
    if (texts.length === rows || texts.length < LOG_READ_ROWS) return texts;
    for (;;) {
      const last = texts[texts.length - 1]!;
      const idEnd = last.indexOf(PACKED_SEPARATOR);
      // not an entry (unpackLogs refuses the page, which is then read unpacked)
      if (idEnd <= 0) return texts;
      const asked = Math.min(rows - texts.length, LOG_READ_ROWS);
      const more = await this.sessionLogPages.read({
        sessionId,
        parentId,
        cursor: last.slice(0, idEnd),
        rows: asked,
      });
      for (const text of more) texts.push(text);
      if (more.length < asked || texts.length === rows) return texts;
    }
  }

  /**
   * Pages of sessions' logs asked for together are read by one statement, a page alone by the
   * one-page statement of its shape, both named (parsed and planned once per pooled connection) and
   * each page an index scan of (session_id, id), checked by store/log-query-plan.test.ts (a parent's
   * calls: of (parent_id, id), store/log-parent-index.test.ts). Entries
   * are read packed (LOG_PACKED_COLUMN), a page's as one text (see SessionLogPageReader).
   */
  private readonly sessionLogPages = new SessionLogPageReader(
    (name, text, values) => this.query('list execution logs', text, values, name),
    LOG_PACKED_COLUMN,
  );

  async getLog(id: string): Promise<ExecutionLogRecord | undefined> {
    const rows = await this.query(
      'read an execution log entry',
      `SELECT ${LOG_READ_COLUMNS} FROM toolmux_execution_logs WHERE id = $1`,
      [id],
    );
    return rows[0] === undefined ? undefined : toLog(rows[0]);
  }

  async hasWorkbenchCell(sessionId: string): Promise<boolean> {
    const rows = await this.query(
      'read whether a session ran a workbench cell',
      `SELECT 1 FROM toolmux_execution_logs WHERE session_id = $1 AND ${WORKBENCH_CELL_CONDITION} LIMIT 1`,
      [sessionId],
      'toolmux_session_has_workbench_cell',
    );
    return rows.length > 0;
  }

  async moveLogChildren(sessionId: string, from: string, to: string): Promise<number> {
    const rows = await this.query(
      'relink execution log entries',
      // the parent's calls, by the parent index (see logFilters)
      `UPDATE toolmux_execution_logs SET parent_id = $1 WHERE parent_id = $3 AND ${unindexed('session_id')} = $2 RETURNING id`,
      [to, sessionId, from],
    );
    return rows.length;
  }

  async insertAuthConfig(record: AuthConfigRecord): Promise<boolean> {
    const inserted = await this.query(
      'insert an auth config',
      `INSERT INTO toolmux_auth_configs (${AUTH_CONFIG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ` +
        // only the one-managed-config-per-toolkit index may skip a row; a duplicate id still fails
        `ON CONFLICT (toolkit) WHERE created_by = 'toolmux' DO NOTHING RETURNING id`,
      [
        record.id,
        record.toolkit,
        record.type,
        record.createdBy,
        JSON.stringify(record.settings),
        record.secret?.ciphertext ?? null,
        record.secret?.keyId ?? null,
        record.createdAt,
        record.updatedAt,
      ],
    );
    return inserted.length > 0;
  }

  async getAuthConfig(id: string): Promise<AuthConfigRecord | undefined> {
    const rows = await this.query(
      'read an auth config',
      `SELECT ${AUTH_CONFIG_COLUMNS} FROM toolmux_auth_configs WHERE id = $1`,
      [id],
    );
    return rows[0] === undefined ? undefined : toAuthConfig(rows[0]);
  }

  async updateAuthConfig(
    id: string,
    changes: AuthConfigChanges,
    expectedUpdatedAt: Date,
  ): Promise<AuthConfigRecord | undefined> {
    const params: unknown[] = [id, expectedUpdatedAt, changes.updatedAt];
    const assignments = ['updated_at = $3'];
    if (changes.settings !== undefined) {
      params.push(JSON.stringify(changes.settings));
      assignments.push(`settings = $${params.length}`);
    }
    if (changes.secret !== undefined) {
      params.push(changes.secret?.ciphertext ?? null, changes.secret?.keyId ?? null);
      assignments.push(`secret = $${params.length - 1}`, `key_id = $${params.length}`);
    }
    const rows = await this.query(
      'update an auth config',
      `UPDATE toolmux_auth_configs SET ${assignments.join(', ')} WHERE id = $1 AND updated_at = $2 ` +
        `RETURNING ${AUTH_CONFIG_COLUMNS}`,
      params,
    );
    return rows[0] === undefined ? undefined : toAuthConfig(rows[0]);
  }

  async listAuthConfigs({
    toolkit,
    createdBy,
    limit,
    cursor,
  }: ListAuthConfigsQuery): Promise<Page<AuthConfigRecord>> {
    assertPageQuery({ limit, cursor }, 'ac');
    const rows = await this.list('list auth configs', 'toolmux_auth_configs', AUTH_CONFIG_COLUMNS, {
      filters: { toolkit, created_by: createdBy },
      limit,
      cursor,
    });
    return toPage(rows.map(toAuthConfig), limit);
  }

  /**
   * The config's row is locked first, then its accounts and requests are deleted by a statement of
   * their own (a new snapshot under READ COMMITTED): an insert through the config holds a share lock
   * of its row until it commits (see {@link PostgresStore.insertConnectedAccount}), so the deletion
   * either waits for it and deletes what it made, or goes first and the insert finds no config. One
   * statement alone deleted the accounts it saw when it began: accounts made through the config at
   * that moment outlived it. The accounts' DELETE returns them (under READ COMMITTED, as an OAuth
   * callback that wrote its tokens just before left them): those holding credentials are answered, so
   * that their tokens are revoked.
   */
  async deleteAuthConfig(
    id: string,
    options: { keepHeldAccounts?: boolean } = {},
  ): Promise<false | ConnectedAccountRecord[] | { held: ConnectedAccountRecord[] }> {
    return this.transaction('delete an auth config', async (query) => {
      const locked = await query('SELECT 1 FROM toolmux_auth_configs WHERE id = $1 FOR UPDATE', [id]);
      if (locked.length === 0) return false;
      if (options.keepHeldAccounts) {
        // every account of the config locked as it is now (one being given credentials is waited for,
        // and read as it became): none gets credentials before this transaction ends, and no account
        // is inserted meanwhile (inserts hold a share lock of the config's row)
        const accounts = await query(
          `SELECT ${ACCOUNT_COLUMNS} FROM toolmux_connected_accounts WHERE auth_config_id = $1 FOR UPDATE`,
          [id],
        );
        const held = accounts.map(toAccount).filter((account) => account.secret !== null);
        if (held.length > 0) return { held };
      }
      // the accounts that went holding credentials are answered: their tokens are revoked
      const accounts = await query(
        'WITH requests AS (DELETE FROM toolmux_connection_requests WHERE auth_config_id = $1), ' +
          'config AS (DELETE FROM toolmux_auth_configs WHERE id = $1) ' +
          `DELETE FROM toolmux_connected_accounts WHERE auth_config_id = $1 RETURNING ${ACCOUNT_COLUMNS}`,
        [id],
      );
      return accounts.map(toAccount).filter((account) => account.secret !== null);
    });
  }

  /**
   * Inserted only while its auth config ($4) is there, holding a share lock of the config's row until
   * the insert commits, so that a deletion of the config at that moment deletes the account too (see
   * {@link PostgresStore.deleteAuthConfig}).
   */
  async insertConnectedAccount(record: ConnectedAccountRecord): Promise<void> {
    const { alias } = record;
    const inserted = alias
      ? await this.transaction('insert a connected account', async (query) => {
          // the config first, as every writer through it (see deleteAuthConfig); then the alias is
          // taken from an account no call can use, in the insert's transaction: a refused insert
          // (the config gone, the alias held by an ACTIVE account) leaves it with its holder
          const config = await query('SELECT 1 FROM toolmux_auth_configs WHERE id = $1 FOR SHARE', [
            record.authConfigId,
          ]);
          if (config.length === 0) return false;
          await releaseAlias(query, record.userId, record.toolkit, alias, record.id);
          await query(
            `INSERT INTO toolmux_connected_accounts (${ACCOUNT_COLUMNS}) ` +
              'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)',
            accountValues(record),
          );
          return true;
        })
      : (
          await this.query(
            'insert a connected account',
            `INSERT INTO toolmux_connected_accounts (${ACCOUNT_COLUMNS}) ` +
              'SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 ' +
              'FROM toolmux_auth_configs WHERE id = $4 FOR SHARE RETURNING id',
            accountValues(record),
          )
        ).length > 0;
    if (!inserted) throw authConfigGoneError(record.authConfigId);
  }

  async getConnectedAccount(id: string): Promise<ConnectedAccountRecord | undefined> {
    const rows = await this.query(
      'read a connected account',
      `SELECT ${ACCOUNT_COLUMNS} FROM toolmux_connected_accounts WHERE id = $1`,
      [id],
    );
    return rows[0] === undefined ? undefined : toAccount(rows[0]);
  }

  async getConnectedAccountStatus(id: string): Promise<ConnectedAccountStatusRecord | undefined> {
    const rows = await this.query(
      'read a connected account status',
      'SELECT id, status, status_reason, version, toolkit FROM toolmux_connected_accounts WHERE id = $1',
      [id],
      'toolmux_connected_account_status',
    );
    const row = rows[0];
    return row === undefined
      ? undefined
      : {
          id: row.id,
          status: row.status,
          statusReason: row.status_reason,
          version: row.version,
          toolkit: row.toolkit,
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
    const rows = await this.list('list connected accounts', 'toolmux_connected_accounts', ACCOUNT_COLUMNS, {
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
    const rows = await this.query(
      'list connected accounts',
      `SELECT ${ACCOUNT_COLUMNS} FROM toolmux_connected_accounts ` +
        'WHERE user_id = $1 AND auth_config_id = $2 AND status = ANY($3::text[]) ' +
        'ORDER BY connected_at DESC NULLS LAST, id DESC LIMIT $4',
      [userId, authConfigId, [...statuses], limit],
      'toolmux_recent_connected_accounts',
    );
    return rows.map(toAccount);
  }

  async updateConnectedAccount(
    id: string,
    changes: ConnectedAccountChanges,
    expectedVersion?: number,
  ): Promise<ConnectedAccountRecord | undefined> {
    const { sql, params } = accountUpdate(id, changes, expectedVersion);
    const rows = await this.query(
      'update a connected account',
      `${sql} RETURNING ${ACCOUNT_COLUMNS}`,
      params,
    );
    return rows[0] === undefined ? undefined : toAccount(rows[0]);
  }

  async acquireRefreshLease(
    id: string,
    expectedVersion: number,
    leaseUntil: Date,
    now: Date,
  ): Promise<ConnectedAccountRecord | undefined> {
    // The database's clock, not this process's, says whether a lease has run out and when this one
    // does: instances whose clocks disagree (one a minute ahead) all read leases by the same clock, so
    // none takes over a live one and spends its refresh token a second time.
    const rows = await this.query(
      'lease a token refresh',
      'UPDATE toolmux_connected_accounts ' +
        "SET refresh_lease_until = statement_timestamp() + $1::double precision * interval '1 millisecond', " +
        'version = version + 1, updated_at = $2 ' +
        'WHERE id = $3 AND version = $4 AND (refresh_lease_until IS NULL OR refresh_lease_until < statement_timestamp()) ' +
        `RETURNING ${ACCOUNT_COLUMNS}`,
      [leaseUntil.getTime() - now.getTime(), new Date(), id, expectedVersion],
    );
    return rows[0] === undefined ? undefined : toAccount(rows[0]);
  }

  async deleteConnectedAccount(id: string, expectedVersion?: number): Promise<boolean> {
    const rows = await this.query(
      'delete a connected account',
      'WITH deleted AS (DELETE FROM toolmux_connected_accounts ' +
        'WHERE id = $1 AND ($2::integer IS NULL OR version = $2) RETURNING id), ' +
        'requests AS (DELETE FROM toolmux_connection_requests ' +
        'WHERE connected_account_id IN (SELECT id FROM deleted)) ' +
        'SELECT id FROM deleted',
      [id, expectedVersion ?? null],
    );
    return rows.length > 0;
  }

  async expireAbandonedAttempts(createdBefore: Date, now: Date, limit: number): Promise<number> {
    return this.rowsChanged(
      'expire abandoned connection attempts',
      "UPDATE toolmux_connected_accounts SET status = 'EXPIRED', status_reason = $1, version = version + 1, " +
        `updated_at = $2 WHERE id = ${oldestBatch('toolmux_connected_accounts', `${ATTEMPT_CONDITION} AND created_at < $3`, 'created_at', '$4')} ` +
        'RETURNING id',
      [ATTEMPT_EXPIRED_REASON, now, createdBefore, limit],
    );
  }

  async deleteConnectionRequestsBefore(before: Date, limit: number): Promise<number> {
    return this.rowsChanged(
      'delete old connection requests',
      `DELETE FROM toolmux_connection_requests WHERE id = ${oldestBatch('toolmux_connection_requests', 'expires_at < $1', 'expires_at', '$2')} RETURNING id`,
      [before, limit],
    );
  }

  async deleteNeverConnectedAccountsBefore(before: Date, limit: number): Promise<number> {
    const batch = oldestBatch(
      'toolmux_connected_accounts',
      `${NEVER_CONNECTED_CONDITION} AND updated_at < $1`,
      'updated_at',
      '$2',
    );
    return this.rowsChanged(
      'delete connected accounts never connected',
      `WITH deleted AS (DELETE FROM toolmux_connected_accounts WHERE id = ${batch} RETURNING id), ` +
        'requests AS (DELETE FROM toolmux_connection_requests ' +
        'WHERE connected_account_id = ANY(ARRAY(SELECT id FROM deleted))) ' +
        'SELECT id FROM deleted',
      [before, limit],
    );
  }

  /**
   * Accounts that never held credentials beyond the newest `keep` of each user and auth config that
   * has one changed since `changedSince`: the groups from migration 15's index (by `updated_at`), then
   * each group's `keep`-th newest from migration 16's (read without a lock), and the group's older
   * ones, oldest first, locked SKIP LOCKED up to `limit`: the LIMIT counts only rows this statement
   * locked, so instances pruning at once each take a full batch of different rows, and none holds the
   * newest ones. The lock checks each row again, so an account a callback connected meanwhile is left alone;
   * an account made never-connected meanwhile only makes the boundary keep one more.
   */
  async deleteNeverConnectedAccountsBeyond(keep: number, changedSince: Date, limit: number): Promise<number> {
    // each step a LATERAL probe of the group's index range, so that no plan joins the groups by
    // reading every account never connected
    const doomed =
      'SELECT older.id FROM (SELECT DISTINCT user_id, auth_config_id ' +
      `FROM toolmux_connected_accounts WHERE ${NEVER_CONNECTED_CONDITION} AND updated_at >= $1) AS changed ` +
      'CROSS JOIN LATERAL (SELECT updated_at, id FROM toolmux_connected_accounts ' +
      'WHERE user_id = changed.user_id AND auth_config_id = changed.auth_config_id ' +
      `AND ${NEVER_CONNECTED_CONDITION} ORDER BY updated_at DESC, id DESC OFFSET $2::integer - 1 LIMIT 1) AS boundary ` +
      'CROSS JOIN LATERAL (SELECT id FROM toolmux_connected_accounts ' +
      'WHERE user_id = changed.user_id AND auth_config_id = changed.auth_config_id ' +
      `AND ${NEVER_CONNECTED_CONDITION} AND (updated_at, id) < (boundary.updated_at, boundary.id) ` +
      'ORDER BY updated_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) AS older LIMIT $3';
    return this.rowsChanged(
      'delete connected accounts never connected beyond the newest',
      `WITH deleted AS (DELETE FROM toolmux_connected_accounts WHERE id = ANY(ARRAY(${doomed})) RETURNING id), ` +
        'requests AS (DELETE FROM toolmux_connection_requests ' +
        'WHERE connected_account_id = ANY(ARRAY(SELECT id FROM deleted))) ' +
        'SELECT id FROM deleted',
      [changedSince, keep, limit],
    );
  }

  /**
   * One transaction: the config's row first (FOR SHARE, as every insert through it), then a
   * transaction-scoped advisory lock of the user's attempts through the config, so that starts at once
   * (on any instance) count one after the other until commit, each count (a statement after the lock,
   * a new snapshot under READ COMMITTED) seeing the attempts the ones before made. The attempts beyond
   * the bound are read newest first from migration 16's index and made EXPIRED (checked again as
   * INITIATED: one a callback connected meanwhile is left alone), then their requests expire.
   */
  async insertConnectionAttempt(
    account: ConnectedAccountRecord,
    request: ConnectionRequestRecord,
    maxPending: number,
  ): Promise<number> {
    const now = request.createdAt;
    const ended = await this.transaction('start a connection attempt', async (query) => {
      const config = await query('SELECT 1 FROM toolmux_auth_configs WHERE id = $1 FOR SHARE', [
        account.authConfigId,
      ]);
      if (config.length === 0) return undefined;
      await query("SELECT pg_advisory_xact_lock(hashtext('toolmux_connection_attempts'), hashtext($1))", [
        JSON.stringify([this.schema ?? '', account.userId, account.authConfigId]),
      ]);
      await query(
        `INSERT INTO toolmux_connected_accounts (${ACCOUNT_COLUMNS}) ` +
          'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)',
        accountValues(account),
      );
      await query(
        `INSERT INTO toolmux_connection_requests (${REQUEST_COLUMNS}) ` +
          'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)',
        requestValues(request),
      );
      const beyond =
        `SELECT id FROM toolmux_connected_accounts WHERE user_id = $3 AND auth_config_id = $4 AND ${ATTEMPT_CONDITION} ` +
        'AND id <> $5 AND EXISTS (SELECT 1 FROM toolmux_connection_requests AS request ' +
        'WHERE request.connected_account_id = toolmux_connected_accounts.id ' +
        "AND request.status = 'PENDING' AND request.used_at IS NULL AND request.expires_at > $2) " +
        `ORDER BY created_at DESC, id DESC OFFSET $6 LIMIT ${MAX_ATTEMPTS_ENDED_PER_START}`;
      const expired = await query(
        "UPDATE toolmux_connected_accounts SET status = 'EXPIRED', status_reason = $1, version = version + 1, " +
          `updated_at = $2 WHERE id = ANY(ARRAY(${beyond})) AND ${ATTEMPT_CONDITION} RETURNING id`,
        [ATTEMPT_REPLACED_REASON, now, account.userId, account.authConfigId, account.id, maxPending - 1],
      );
      if (expired.length === 0) return 0;
      // its request expires now: its waiter, a late callback and the connect page say so at once
      await query(
        'UPDATE toolmux_connection_requests SET expires_at = $1, replaced_at = $1 WHERE connected_account_id = ANY($2) ' +
          "AND status = 'PENDING' AND used_at IS NULL AND expires_at > $1",
        [now, expired.map((row) => row.id as string)],
      );
      return expired.length;
    });
    if (ended === undefined) throw authConfigGoneError(account.authConfigId);
    return ended;
  }

  /**
   * Inserts and counts in one transaction under the advisory lock `insertConnectionAttempt` takes for
   * the user and auth config (a config is either OAuth or a form, so the two never share one), so
   * that inserts at once count one after the other: without it, each would count the committed
   * requests only, and both keep one too many. The open requests not expired yet are a range of
   * migration 17's index.
   */
  async insertFieldsRequest(request: ConnectionRequestRecord, maxPending: number): Promise<number> {
    const now = request.createdAt;
    const ended = await this.transaction('start a connection form request', async (query) => {
      const config = await query('SELECT 1 FROM toolmux_auth_configs WHERE id = $1 FOR SHARE', [
        request.authConfigId,
      ]);
      if (config.length === 0) return undefined;
      await query("SELECT pg_advisory_xact_lock(hashtext('toolmux_connection_attempts'), hashtext($1))", [
        JSON.stringify([this.schema ?? '', request.userId, request.authConfigId]),
      ]);
      await query(
        `INSERT INTO toolmux_connection_requests (${REQUEST_COLUMNS}) ` +
          'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)',
        requestValues(request),
      );
      const beyond =
        `SELECT id FROM toolmux_connection_requests WHERE user_id = $2 AND auth_config_id = $3 AND ${OPEN_FORM_REQUEST_CONDITION} ` +
        `AND expires_at > $1 AND id <> $4 ORDER BY created_at DESC, id DESC OFFSET $5 LIMIT ${MAX_ATTEMPTS_ENDED_PER_START}`;
      // it expires now: its waiter and its connect page say so at once, and a completion is refused
      const replaced = await query(
        'UPDATE toolmux_connection_requests SET expires_at = $1, replaced_at = $1 ' +
          `WHERE id = ANY(ARRAY(${beyond})) AND ${OPEN_FORM_REQUEST_CONDITION} AND expires_at > $1 RETURNING id`,
        [now, request.userId, request.authConfigId, request.id, maxPending - 1],
      );
      return replaced.length;
    });
    if (ended === undefined) throw authConfigGoneError(request.authConfigId);
    return ended;
  }

  /** Inserted only while its auth config ($6) is there, as {@link PostgresStore.insertConnectedAccount}. */
  async insertConnectionRequest(record: ConnectionRequestRecord): Promise<void> {
    const rows = await this.query(
      'insert a connection request',
      `INSERT INTO toolmux_connection_requests (${REQUEST_COLUMNS}) ` +
        'SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 ' +
        'FROM toolmux_auth_configs WHERE id = $6 FOR SHARE RETURNING id',
      requestValues(record),
    );
    if (rows.length === 0) throw authConfigGoneError(record.authConfigId);
  }

  async getConnectionRequest(id: string): Promise<ConnectionRequestRecord | undefined> {
    const rows = await this.query(
      'read a connection request',
      `SELECT ${REQUEST_READ_COLUMNS} FROM toolmux_connection_requests WHERE id = $1`,
      [id],
      'toolmux_connection_request',
    );
    return rows[0] === undefined ? undefined : toRequest(rows[0]);
  }

  async latestConnectionRequest(
    userId: string,
    toolkit: string,
  ): Promise<ConnectionRequestRecord | undefined> {
    const rows = await this.query(
      'read a connection request',
      `SELECT ${REQUEST_READ_COLUMNS} FROM toolmux_connection_requests WHERE user_id = $1 AND toolkit = $2 ` +
        'ORDER BY created_at DESC, id DESC LIMIT 1',
      [userId, toolkit],
      'toolmux_latest_connection_request',
    );
    return rows[0] === undefined ? undefined : toRequest(rows[0]);
  }

  /**
   * Notifications of the triggers on accounts and connection requests (migration 8), through one
   * LISTEN connection of this store; see {@link PostgresConnectionListener}.
   */
  watchConnections(userId: string, onChange: () => void): ConnectionWatch {
    return this.listener.watch(userId, onChange);
  }

  async getConnectionRequestByStateHash(stateHash: string): Promise<ConnectionRequestRecord | undefined> {
    const rows = await this.query(
      'read a connection request',
      `SELECT ${REQUEST_READ_COLUMNS} FROM toolmux_connection_requests WHERE state_hash = $1`,
      [stateHash],
    );
    return rows[0] === undefined ? undefined : toRequest(rows[0]);
  }

  async markConnectionRequestUsed(id: string, usedAt: Date): Promise<boolean> {
    const rows = await this.query(
      'mark a connection request used',
      // not once it expired: a newer attempt may have ended it since the callback read it (its
      // transaction holds the row until it commits, and this condition is checked again then)
      'UPDATE toolmux_connection_requests SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1 RETURNING id',
      [usedAt, id],
    );
    return rows.length > 0;
  }

  async finishConnectionRequest(id: string, status: 'COMPLETED' | 'FAILED'): Promise<boolean> {
    const rows = await this.query(
      'finish a connection request',
      "UPDATE toolmux_connection_requests SET status = $1 WHERE id = $2 AND status = 'PENDING' RETURNING id",
      [status, id],
    );
    return rows.length > 0;
  }

  /**
   * The request is claimed, the alias let go of by an account no call can use, and the account
   * inserted, in one transaction; with `maxAccounts`, after the user's accounts were counted under
   * {@link PostgresStore.accountsInLimit}.
   */
  async completeConnectionRequest(id: string, account: ConnectedAccountRecord, now: Date): Promise<boolean> {
    const outcome = await this.transaction('complete a connection request', async (query) => {
      // the config first, as every writer through it (see deleteAuthConfig): gone, no account is made
      const config = await query('SELECT 1 FROM toolmux_auth_configs WHERE id = $1 FOR SHARE', [
        account.authConfigId,
      ]);
      if (config.length === 0) return 'closed';
      const [request] = await query(
        'SELECT max_accounts FROM toolmux_connection_requests ' +
          "WHERE id = $1 AND kind = 'fields' AND status = 'PENDING' AND used_at IS NULL AND expires_at > $2",
        [id, now],
      );
      if (request === undefined) return 'closed';
      const max = request.max_accounts as number | null;
      if (
        max !== null &&
        (await this.accountsInLimit(query, account.userId, account.toolkit, account.id)) >= max
      ) {
        return 'full';
      }
      const claimed = await query(
        "UPDATE toolmux_connection_requests SET used_at = $1, status = 'COMPLETED', connected_account_id = $2 " +
          "WHERE id = $3 AND kind = 'fields' AND status = 'PENDING' AND used_at IS NULL AND expires_at > $1 " +
          'RETURNING id',
        [now, account.id, id],
      );
      if (claimed.length === 0) return 'closed';
      if (account.alias)
        await releaseAlias(query, account.userId, account.toolkit, account.alias, account.id);
      const rows = await query(
        `INSERT INTO toolmux_connected_accounts (${ACCOUNT_COLUMNS}) ` +
          'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id',
        accountValues(account),
      );
      return rows.length > 0 ? 'completed' : 'closed';
    });
    if (outcome === 'full') throw accountLimitError();
    return outcome === 'completed';
  }

  async activateConnectedAccount(
    id: string,
    changes: ConnectedAccountChanges,
    maxAccounts: number | null,
  ): Promise<ConnectedAccountRecord | undefined> {
    const outcome = await this.transaction('activate a connected account', async (query) => {
      const [account] = await query('SELECT user_id, toolkit FROM toolmux_connected_accounts WHERE id = $1', [
        id,
      ]);
      if (account === undefined) return undefined;
      if (
        maxAccounts !== null &&
        (await this.accountsInLimit(query, account.user_id, account.toolkit, id)) >= maxAccounts
      )
        return 'full';
      if (changes.alias) await releaseAlias(query, account.user_id, account.toolkit, changes.alias, id);
      const { sql, params } = accountUpdate(id, changes);
      const [row] = await query(`${sql} RETURNING ${ACCOUNT_COLUMNS}`, params);
      return row;
    });
    if (outcome === 'full') throw accountLimitError();
    return outcome === undefined ? undefined : toAccount(outcome);
  }

  /**
   * Within a transaction: takes the transaction-scoped advisory lock of one user's accounts of one
   * toolkit (in this schema), then counts their ACTIVE and INACTIVE accounts but `except`. Writers that
   * count under the lock go one after the other until commit, and each count (a statement after the
   * lock, so a new snapshot under READ COMMITTED) sees the accounts the ones before made.
   */
  private async accountsInLimit(
    query: TransactionQuery,
    userId: string,
    toolkit: string,
    except: string,
  ): Promise<number> {
    await query("SELECT pg_advisory_xact_lock(hashtext('toolmux_account_limit'), hashtext($1))", [
      JSON.stringify([this.schema ?? '', userId, toolkit]),
    ]);
    const [row] = await query(
      'SELECT count(*)::integer AS n FROM toolmux_connected_accounts ' +
        "WHERE user_id = $1 AND toolkit = $2 AND status IN ('ACTIVE', 'INACTIVE') AND id <> $3",
      [userId, toolkit, except],
    );
    return row!.n as number;
  }

  /**
   * Runs `work` in one transaction on a pooled connection of its own: committed when it resolves;
   * when it throws, the connection is discarded, which ends (rolls back) the transaction.
   */
  private async transaction<T>(operation: string, work: (query: TransactionQuery) => Promise<T>): Promise<T> {
    const client = await this.connect(operation);
    const query: TransactionQuery = async (text, values = []) =>
      (await client.query({ text, values, query_timeout: this.timeouts.queryTimeoutMs } as QueryConfig)).rows;
    try {
      await query('BEGIN');
      const result = await work(query);
      await query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      // no ROLLBACK, which a connection that went silent would not answer either
      client.release(true);
      throw this.failure(operation, error);
    }
  }

  async listSealedSecrets({
    kind,
    notKeyId,
    afterId,
    limit,
  }: SealedSecretsQuery): Promise<Array<{ id: string; secret: SealedSecret }>> {
    const rows = await this.query(
      'list encrypted records',
      `SELECT id, secret, key_id FROM ${SEALED_SECRET_TABLES[kind]} ` +
        'WHERE secret IS NOT NULL AND key_id <> $1 AND id > $2 ORDER BY id LIMIT $3',
      [notKeyId, afterId ?? '', limit],
    );
    return rows.map((row) => ({ id: row.id, secret: sealed(row)! }));
  }

  async replaceSealedSecret(
    kind: SealedSecretKind,
    id: string,
    expected: SealedSecret,
    next: SealedSecret,
  ): Promise<boolean> {
    const rows = await this.query(
      're-encrypt a record',
      `UPDATE ${SEALED_SECRET_TABLES[kind]} SET secret = $1, key_id = $2 ` +
        'WHERE id = $3 AND secret = $4 AND key_id = $5 RETURNING id',
      [next.ciphertext, next.keyId, id, expected.ciphertext, expected.keyId],
    );
    return rows.length > 0;
  }

  private list(
    operation: string,
    table: string,
    columns: string,
    query: PageQuery,
    /** A name for a query of fixed shape run often: it is then prepared once per connection. */
    name?: string,
  ): Promise<QueryResultRow[]> {
    const { sql, params } = pageClause('postgres', query);
    return this.query(operation, `SELECT ${columns} FROM ${table} ${sql}`, params, name);
  }

  /** Runs one parameterized query, wrapping a failure as `STORE_ERROR` that names `operation`. */
  private async query(
    operation: string,
    text: string,
    values: unknown[],
    name?: string,
    pool: Pool = this.pool,
  ): Promise<QueryResultRow[]> {
    // the pools may serve other stores still: a closed one does not use them
    if (this.ending) throw storeClosedError('postgres', operation);
    // past query_timeout pg-pool closes the connection (pg destroys a client ended mid-statement)
    const query = { name, text, values, query_timeout: this.timeouts.queryTimeoutMs };
    for (let attempt = 1; ; attempt++) {
      try {
        return (await pool.query(query as QueryConfig)).rows;
      } catch (error) {
        const failure = this.failure(operation, error);
        // a connection the server ended under the statement (a failover, `pg_terminate_backend`, a
        // pooler's restart) is no answer to it: it did not commit (a read: it changed nothing), and
        // failure() took the idle connections, ended by the same event, out of the pool; a session
        // check or an entry's commit met during a failover failed the call (STORE_ERROR) before
        const again =
          endedByServer(error) || (READ_ONLY_STATEMENT.test(text) && connectionEnded(error) && !this.ending);
        if (attempt >= STATEMENT_ATTEMPTS || !again || this.ending) throw failure;
      }
    }
  }

  /**
   * After a statement or a new connection got no answer, the path to the database may be dead (a
   * partition, a firewall that forgot the connections): the idle connections of both pools, which
   * would each hold their next statement for a whole query_timeout if so, are closed, and new ones
   * are opened when needed. What that costs when the database was only slow is a reconnect. The same
   * after the server ended a connection: what ended it (a failover, `pg_terminate_backend`, a
   * restart) most likely ended the idle ones too, which the pool would hand out until their sockets'
   * close events came.
   */
  private closeIdleConnections(): void {
    for (const pool of [this.pool, this.logPool]) {
      // pg-pool's idle list and its removal (private; nothing to do where a version has none)
      const { _idle: idle, _remove: remove } = pool as unknown as {
        _idle?: Array<{ client?: Client }>;
        _remove?: (client: Client) => void;
      };
      if (!Array.isArray(idle)) continue;
      for (const { client } of [...idle]) {
        if (!client) continue;
        // out of the pool now: its socket's close is an event of a later turn, and a statement sent
        // before it (the log writer's retry of a batch that failed with the same outage) would draw
        // this dead connection and fail again
        if (typeof remove === 'function') remove.call(pool, client);
        client.connection?.stream?.destroy();
      }
    }
  }

  /** A pooled connection of its own for `operation` (refused after `close()`: the pools may serve other stores). */
  private async connect(operation: string) {
    if (this.ending) throw storeClosedError('postgres', operation);
    return this.pool.connect().catch((error: unknown) => {
      throw this.failure(operation, error);
    });
  }

  /**
   * Migrations refused a privilege (PostgreSQL 15 and later give a new role no CREATE on `public`;
   * tables another role created, which only their owner may alter or index): STORE_ERROR whose
   * message, and `details.fix` for the CLI, say what to grant.
   */
  private privilegeFailure(operation: string, error: Error): ToolMuxError {
    // PostgreSQL's "must be owner of table toolmux_execution_logs": a schema or database privilege
    // does not let a role alter another's table
    const owned = /^must be owner of .*?(\S+)$/.exec(error.message)?.[1];
    // the schema the refusal names (a URL's search_path, or the `schema` option), else the option's
    const schema = /\bfor schema (\S+)/.exec(error.message)?.[1] ?? this.schema ?? 'public';
    const fix =
      owned !== undefined
        ? `Connect as the role that owns toolmux's tables (the one that created them), or make this role their owner ` +
          `(ALTER TABLE ${this.schema === undefined ? '' : `${this.schema}.`}${owned} OWNER TO <role>, and so for each toolmux_ table): ` +
          'only the owner of a table may alter or index it, which toolmux does when a store is opened'
        : `Connect as a role that owns the database (CREATE DATABASE toolmux OWNER <role>) or holds CREATE on its schema ` +
          `(GRANT CREATE ON SCHEMA ${schema} TO <role>` +
          `${this.schema === undefined ? '' : `; GRANT CREATE ON DATABASE for a schema that does not exist yet`}): ` +
          `toolmux creates and alters its tables when a store is opened`;
    return new ToolMuxError({
      code: 'STORE_ERROR',
      message: `The postgres store failed to ${operation}: ${error.message} (PostgreSQL error ${INSUFFICIENT_PRIVILEGE}). ${fix}.`,
      cause: error,
      details: { operation, fix },
    });
  }

  /**
   * A failure of `operation`: TOOLMUX_CLOSED after `close()`; a wait past its bound as STORE_ERROR
   * that names the wait and the setting that bounds it; else {@link storeError}.
   */
  private failure(
    operation: string,
    error: unknown,
    statement: 'query' | 'migration' = 'query',
  ): ToolMuxError {
    if (this.ending) return storeClosedError('postgres', operation);
    const wait =
      statement === 'migration' && statementTimedOut(error)
        ? 'query'
        : error instanceof Error
          ? TIMEOUT_MESSAGES.get(error.message)
          : undefined;
    if (wait === undefined) {
      if (
        statement === 'migration' &&
        (error as { code?: unknown } | null)?.code === INSUFFICIENT_PRIVILEGE
      ) {
        return this.privilegeFailure(operation, error as Error);
      }
      // a connection the server ended (a failover, an administrator, a restart): the idle ones were
      // most likely ended with it, so the next statements, a retry of this one included, get new ones
      if (connectionEnded(error)) this.closeIdleConnections();
      return storeError('postgres', operation, error);
    }
    const { parameter, option } =
      wait !== 'query'
        ? TIMEOUT_PARAMETERS[0]
        : statement === 'migration'
          ? TIMEOUT_PARAMETERS[2]
          : TIMEOUT_PARAMETERS[1];
    const timeoutMs = this.timeouts[option];
    if (wait !== 'pool') this.closeIdleConnections();
    const what =
      wait === 'connect'
        ? `a new connection to PostgreSQL was not set up within ${timeoutMs} ms`
        : wait === 'pool'
          ? `no pooled connection became free within ${timeoutMs} ms (all were busy)`
          : `PostgreSQL did not answer within ${timeoutMs} ms (the connection was closed, not reused)`;
    return new ToolMuxError({
      code: 'STORE_ERROR',
      message:
        `The postgres store failed to ${operation}: ${what}. Check that the database is reachable and ` +
        `answering; if it only needs longer, raise ${parameter} in the store URL (${option} of PostgresStore.create).`,
      cause: error,
      details: { operation, timeout: parameter, timeoutMs },
    });
  }
}
