import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { MIGRATIONS_TABLE_SQL, pendingMigrations } from './migrations.js';
import { assertPageQuery, type PageQuery, pageClause, toPage } from './pagination.js';
import {
  assertExpectedVersion,
  configVersionConflictError,
  sessionNotFoundError,
  storeError,
} from './store-errors.js';
import type {
  ExecutionLogRecord,
  ExecutionStatus,
  ListLogsQuery,
  ListSessionsQuery,
  Page,
  SessionRecord,
  SessionUpdate,
  Store,
} from './types.js';

export interface SqliteStoreOptions {
  /**
   * A database file (its parent directories are created) or `':memory:'` for a database that lives
   * as long as the store.
   */
  path: string;
}

type Row = Record<string, unknown>;

const SESSION_COLUMNS = 'id, user_id, config, config_version, token_hash, metadata, created_at, updated_at';
const LOG_COLUMNS =
  'id, session_id, user_id, tool_slug, toolkit, connected_account_id, call_id, status, error_code, ' +
  'error_message, duration_ms, input, output, created_at';

/** The fixed statements, prepared on first use (the tables exist only after `migrate()`). */
function prepareStatements(database: DatabaseSync) {
  return {
    insertSession: database.prepare(
      `INSERT INTO toolmux_sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getSession: database.prepare(`SELECT ${SESSION_COLUMNS} FROM toolmux_sessions WHERE id = ?`),
    updateSession: database.prepare(
      'UPDATE toolmux_sessions SET config = ?, metadata = ?, config_version = config_version + 1, updated_at = ? ' +
        `WHERE id = ? AND config_version = ? RETURNING ${SESSION_COLUMNS}`,
    ),
    getSessionVersion: database.prepare('SELECT config_version FROM toolmux_sessions WHERE id = ?'),
    insertLog: database.prepare(
      `INSERT INTO toolmux_execution_logs (${LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
  };
}

function toSession(row: Row): SessionRecord {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    config: JSON.parse(row.config as string) as Record<string, unknown>,
    configVersion: row.config_version as number,
    tokenHash: row.token_hash as string,
    metadata: JSON.parse(row.metadata as string) as Record<string, string>,
    createdAt: new Date(row.created_at as number),
    updatedAt: new Date(row.updated_at as number),
  };
}

function toLog(row: Row): ExecutionLogRecord {
  return {
    id: row.id as string,
    sessionId: row.session_id as string | null,
    userId: row.user_id as string,
    toolSlug: row.tool_slug as string,
    toolkit: row.toolkit as string,
    connectedAccountId: row.connected_account_id as string | null,
    callId: row.call_id as string | null,
    status: row.status as ExecutionStatus,
    errorCode: row.error_code as string | null,
    errorMessage: row.error_message as string | null,
    durationMs: row.duration_ms as number,
    input: row.input as string,
    output: row.output as string,
    createdAt: new Date(row.created_at as number),
  };
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
export class SqliteStore implements Store {
  readonly dialect = 'sqlite';
  private readonly database: DatabaseSync;
  private statements: ReturnType<typeof prepareStatements> | undefined;
  /** List statements, prepared once per distinct filter combination. */
  private readonly listStatements = new Map<string, StatementSync>();
  private closed = false;

  constructor({ path }: SqliteStoreOptions) {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.database = new DatabaseSync(path);
      if (path !== ':memory:') {
        this.database.exec(
          'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;',
        );
      }
    } catch (error) {
      throw storeError('sqlite', `open the database file "${path}"`, error);
    }
  }

  async migrate(): Promise<void> {
    this.run('run migrations', () => {
      this.database.exec('BEGIN IMMEDIATE');
      try {
        this.database.exec(MIGRATIONS_TABLE_SQL.sqlite);
        const applied = this.database.prepare('SELECT version FROM toolmux_migrations').all();
        const record = this.database.prepare(
          'INSERT INTO toolmux_migrations (version, name, applied_at) VALUES (?, ?, ?)',
        );
        for (const migration of pendingMigrations(applied.map((row) => row.version as number))) {
          this.database.exec(migration.sql.sqlite);
          record.run(migration.version, migration.name, Date.now());
        }
        this.database.exec('COMMIT');
      } catch (error) {
        try {
          this.database.exec('ROLLBACK');
        } catch {
          // SQLite already rolled back (it does so itself after some errors); report the first error
        }
        throw error;
      }
    });
  }

  /** Closes the database; a second call does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.database.close();
  }

  async insertSession(record: SessionRecord): Promise<void> {
    this.run('insert a session', () => {
      this.prepared().insertSession.run(
        record.id,
        record.userId,
        JSON.stringify(record.config),
        record.configVersion,
        record.tokenHash,
        JSON.stringify(record.metadata),
        record.createdAt.getTime(),
        record.updatedAt.getTime(),
      );
    });
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
    const { updated, current } = this.run('update a session', () => {
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

  /** One transaction for the batch; each row is one run of a prepared statement. */
  async insertLogs(records: readonly ExecutionLogRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.run('insert execution logs', () => {
      const { insertLog } = this.prepared();
      this.database.exec('BEGIN');
      try {
        for (const record of records) {
          insertLog.run(
            record.id,
            record.sessionId,
            record.userId,
            record.toolSlug,
            record.toolkit,
            record.connectedAccountId,
            record.callId,
            record.status,
            record.errorCode,
            record.errorMessage,
            record.durationMs,
            record.input,
            record.output,
            record.createdAt.getTime(),
          );
        }
        this.database.exec('COMMIT');
      } catch (error) {
        this.database.exec('ROLLBACK');
        throw error;
      }
    });
  }

  async listLogs({
    sessionId,
    userId,
    toolSlug,
    limit,
    cursor,
  }: ListLogsQuery): Promise<Page<ExecutionLogRecord>> {
    assertPageQuery({ limit, cursor }, 'log');
    const rows = this.list('list execution logs', 'toolmux_execution_logs', LOG_COLUMNS, {
      filters: { session_id: sessionId, user_id: userId, tool_slug: toolSlug },
      limit,
      cursor,
    });
    return toPage(rows.map(toLog), limit);
  }

  private prepared(): ReturnType<typeof prepareStatements> {
    this.statements ??= prepareStatements(this.database);
    return this.statements;
  }

  private list(operation: string, table: string, columns: string, query: PageQuery): Row[] {
    return this.run(operation, () => {
      const { sql, params } = pageClause('sqlite', query);
      const text = `SELECT ${columns} FROM ${table} ${sql}`;
      let statement = this.listStatements.get(text);
      if (!statement) {
        statement = this.database.prepare(text);
        this.listStatements.set(text, statement);
      }
      return statement.all(...params);
    });
  }

  /** Runs database work, wrapping a failure as `STORE_ERROR` that names `operation`. */
  private run<T>(operation: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw storeError('sqlite', operation, error);
    }
  }
}
