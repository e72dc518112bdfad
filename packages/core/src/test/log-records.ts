import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { PostgresStore } from '../store/postgres.js';
import { SqliteStore } from '../store/sqlite.js';
import type { ExecutionLogRecord, SessionRecord } from '../store/types.js';
import { newId } from '../util/ids.js';

/** A session record for store tests: an empty config of `user_1`, new id, now, with `changes`. */
export function sessionRecord(changes: Partial<SessionRecord> = {}): SessionRecord {
  const now = new Date();
  return {
    id: newId('ses'),
    userId: 'user_1',
    config: {},
    configVersion: 1,
    tokenHash: 'a'.repeat(64),
    tokenVersion: 0,
    metadata: {},
    createdAt: now,
    updatedAt: now,
    ...changes,
  };
}

/** An execution log entry for store tests: a successful `ECHO_ECHO` call of `user_1`, with `changes`. */
export function logRecord(changes: Partial<ExecutionLogRecord> = {}): ExecutionLogRecord {
  return {
    id: newId('log'),
    sessionId: `ses_${'1'.repeat(38)}`,
    userId: 'user_1',
    toolSlug: 'ECHO_ECHO',
    toolkit: 'echo',
    connectedAccountId: null,
    callId: null,
    status: 'success',
    errorCode: null,
    errorMessage: null,
    durationMs: 1,
    input: '{}',
    output: '{}',
    createdAt: new Date(),
    parentId: null,
    ...changes,
  };
}

/** A node of a PostgreSQL `EXPLAIN (FORMAT JSON)` plan. */
export interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

/** The plan's nodes, depth first. */
export function planNodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(planNodes)];
}

/** A statement a PostgreSQL store sent, as it sent it. */
export interface SentStatement {
  text: string;
  values: unknown[];
  name?: string;
}

/**
 * From now on, records every statement `store` sends whose text matches `pattern` (by default those
 * that read the log, `FROM toolmux_execution_logs`), as it sends it: the PostgreSQL counterpart of
 * {@link SqliteLogFile.sent}.
 */
export function sentLogStatements(
  store: PostgresStore,
  pattern = /FROM toolmux_execution_logs/,
): SentStatement[] {
  const sent: SentStatement[] = [];
  const pool = (store as unknown as { pool: { query: (config: any) => Promise<unknown> } }).pool;
  const query = pool.query.bind(pool);
  pool.query = (config) => {
    if (typeof config === 'object' && pattern.test(config.text)) sent.push(config);
    return query(config);
  };
  return sent;
}

/** What {@link generatedLogInsert} writes in each generated entry, as SQL over its number `g` (1, 2, …). */
export interface GeneratedLog {
  /** How many entries. */
  rows: number;
  /** Entry g belongs to session `ses_` + (g % sessions), 38 digits. */
  sessions: number;
  /** Entry g belongs to `user_` + (g % users). @default 10 */
  users?: number;
  /** SQL of the tool slug. @default 'ECHO_ECHO' */
  toolSlug?: string;
}

/**
 * One statement that fills the execution log with `rows` entries for query-plan and paging tests:
 * entry g has id `log_` + g in hex (38 digits, so ids ascend with g), created at g ms (SQLite) or
 * now (PostgreSQL).
 */
export function generatedLogInsert(
  dialect: 'sqlite' | 'postgres',
  { rows, sessions, users = 10, toolSlug = "'ECHO_ECHO'" }: GeneratedLog,
): string {
  const insert =
    'INSERT INTO toolmux_execution_logs (id, session_id, user_id, tool_slug, toolkit, status, duration_ms, input, output, created_at) ';
  const rest = `'user_' || (g % ${users}), ${toolSlug}, 'echo', 'success', 1, '{}', '{}'`;
  return dialect === 'sqlite'
    ? `WITH RECURSIVE series(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < ${rows}) ${insert}` +
        `SELECT 'log_' || printf('%038x', g), 'ses_' || printf('%038d', g % ${sessions}), ${rest}, g FROM series`
    : `${insert}SELECT 'log_' || lpad(to_hex(g), 38, '0'), 'ses_' || lpad((g % ${sessions})::text, 38, '0'), ${rest}, now() ` +
        `FROM generate_series(1, ${rows}) g`;
}

/** What {@link withSqliteLogFile} hands its test. */
export interface SqliteLogFile {
  store: SqliteStore;
  /** A second connection to the same file: to fill the log in one statement, and read plans. */
  database: DatabaseSync;
  /** The SQL of every statement the store prepared that matches the pattern (by default: reads the log). */
  sent: string[];
  /** The `EXPLAIN QUERY PLAN` details of `text` with `params`. */
  plan(text: string, ...params: Array<string | number>): string[];
}

/**
 * Runs `test` with an SQLite store in a fresh temporary file, migrated, and what it needs to check
 * query plans; closes both connections and deletes the file after.
 */
export async function withSqliteLogFile(
  test: (file: SqliteLogFile) => Promise<void>,
  /** Which statements `sent` records. */
  pattern = /FROM toolmux_execution_logs/,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-log-'));
  const path = join(dir, 'logs.db');
  const store = new SqliteStore({ path });
  await store.migrate();
  const database = new DatabaseSync(path);
  const sent: string[] = [];
  const prepared = store as unknown as { statement: (text: string) => unknown };
  const statement = prepared.statement.bind(store);
  prepared.statement = (text) => {
    if (pattern.test(text)) sent.push(text);
    return statement(text);
  };
  const plan = (text: string, ...params: Array<string | number>) =>
    database
      .prepare(`EXPLAIN QUERY PLAN ${text}`)
      .all(...params)
      .map((row) => String(row.detail));
  try {
    await test({ store, database, sent, plan });
  } finally {
    database.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
