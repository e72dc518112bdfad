import type { ExecutionLogRecord } from '../store/types.js';
import { newId } from '../util/ids.js';

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
