import { describe, expect, it } from 'vitest';
import {
  generatedLogInsert,
  type PlanNode,
  planNodes,
  sentLogStatements,
  withSqliteLogFile,
} from '../test/log-records.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import type { ExecutionLogRecord, ListLogsQuery, Page } from './types.js';

/**
 * Every filter the project's log offers (`GET /logs`, `mux.logs.list()`: session, user, tool and
 * parent, alone and together) reads one index, newest first, without a sort or a walk of the
 * table: what a page costs must not grow with the table. Above all a tool's entries (migration 20's
 * `(tool_slug, id)`): a rarely called or unknown tool's page read the whole table; and a parent's
 * calls without their session (migration 21's `(parent_id, id)`): a page of them, beside a user or a
 * tool or alone, read the user's or the tool's entries or the whole table, all of it for a parent no
 * entry names. Checked on the query plans of the statements the stores actually run (no timing).
 */

const ROWS = 20_000;
const SESSIONS = 100;
const USERS = 10;
const LIMIT = 50;
/** Entry g belongs to session g % 100, whose user is user_(g % 10): a session's entries are one user's. */
const sessionNumber = (index: number) => `ses_${String(index).padStart(38, '0')}`;
const idOf = (g: number) => `log_${g.toString(16).padStart(38, '0')}`;
const SESSION = sessionNumber(42);
const USER = 'user_2';
/** The first entry of SESSION: the later ones of the session are the calls it made. */
const PARENT = idOf(42);
/** An entry id after every entry's: no entry is it, and none names it as its parent. */
const UNKNOWN_PARENT = idOf(ROWS + 1);
/** 10 entries of the 20,000, spread over sessions 7, 27, 47, … and users 7 and 17… */
const TOOL_SLUG = "CASE WHEN g % 2000 = 7 THEN 'RARE_TOOL' ELSE 'ECHO_ECHO' END";

/** The calls of PARENT: SESSION's later entries. */
const PARENT_CALLS = ROWS / SESSIONS - 1;

/**
 * Each filter shape, the indexes a plan may walk for it (the narrowest that serve it; `user_tool_id`
 * is SQLite's only, see log-user-tool-plan.test.ts), and the most
 * entries the walk may read on PostgreSQL (by default {@link MOST_READ}).
 */
const SHAPES: Array<{ name: string; query: Omit<ListLogsQuery, 'limit'>; walks: string[]; most?: number }> = [
  { name: 'a rare tool', query: { toolSlug: 'RARE_TOOL' }, walks: ['tool_slug_id'] },
  { name: 'a tool never called', query: { toolSlug: 'NEVER_CALLED' }, walks: ['tool_slug_id'] },
  { name: 'a common tool', query: { toolSlug: 'ECHO_ECHO' }, walks: ['tool_slug_id', 'pkey'] },
  { name: 'a session and its user', query: { sessionId: SESSION, userId: USER }, walks: ['session_id_id'] },
  {
    name: 'a session and another user',
    query: { sessionId: SESSION, userId: 'user_3' },
    walks: ['session_id_id'],
  },
  {
    name: 'a session and a rare tool',
    query: { sessionId: SESSION, toolSlug: 'RARE_TOOL' },
    walks: ['session_id_id', 'tool_slug_id'],
  },
  {
    name: 'a session and a common tool',
    query: { sessionId: SESSION, toolSlug: 'ECHO_ECHO' },
    walks: ['session_id_id'],
  },
  {
    name: 'a user and a rare tool',
    query: { userId: 'user_7', toolSlug: 'RARE_TOOL' },
    walks: ['tool_slug_id', 'user_tool_id'],
  },
  {
    name: 'a user and a tool never called',
    query: { userId: USER, toolSlug: 'NEVER_CALLED' },
    walks: ['tool_slug_id', 'user_tool_id'],
  },
  {
    name: 'a user and a common tool',
    query: { userId: USER, toolSlug: 'ECHO_ECHO' },
    walks: ['tool_slug_id', 'user_id_id', 'pkey', 'user_tool_id'],
  },
  {
    name: 'a session, its user and a rare tool',
    query: { sessionId: SESSION, userId: USER, toolSlug: 'RARE_TOOL' },
    walks: ['session_id_id', 'tool_slug_id'],
  },
  {
    name: "a session's calls of a parent",
    query: { sessionId: SESSION, userId: USER, parentId: PARENT },
    walks: ['parent_id'],
    most: PARENT_CALLS,
  },
  {
    name: "a session's calls of a parent, of one tool",
    query: { sessionId: SESSION, parentId: PARENT, toolSlug: 'ECHO_ECHO' },
    walks: ['parent_id'],
    most: PARENT_CALLS,
  },
  // a parent without its session (`GET /logs?parent_id=…`): the whole table, or a user's or a tool's
  // entries, were walked for the parent's before migration 21
  { name: 'the calls of a parent', query: { parentId: PARENT }, walks: ['parent_id'], most: PARENT_CALLS },
  {
    name: 'the calls of a parent no entry names',
    query: { parentId: UNKNOWN_PARENT },
    walks: ['parent_id'],
    most: 0,
  },
  {
    name: 'the calls of a parent, of its user',
    query: { parentId: PARENT, userId: USER },
    walks: ['parent_id'],
    most: PARENT_CALLS,
  },
  {
    name: 'the calls of a parent, of another user',
    query: { parentId: PARENT, userId: 'user_3' },
    walks: ['parent_id'],
    most: PARENT_CALLS,
  },
  {
    name: 'the calls of a parent no entry names, of a user',
    query: { parentId: UNKNOWN_PARENT, userId: USER },
    walks: ['parent_id'],
    most: 0,
  },
  {
    name: 'the calls of a parent, of a common tool',
    query: { parentId: PARENT, toolSlug: 'ECHO_ECHO' },
    walks: ['parent_id'],
    most: PARENT_CALLS,
  },
  {
    name: 'the calls of a parent, of a tool it never called',
    query: { parentId: PARENT, toolSlug: 'RARE_TOOL' },
    walks: ['parent_id'],
    most: PARENT_CALLS,
  },
  {
    name: 'the calls of a parent no entry names, of a common tool',
    query: { parentId: UNKNOWN_PARENT, toolSlug: 'ECHO_ECHO' },
    walks: ['parent_id'],
    most: 0,
  },
  {
    name: 'the calls of a parent, of its user and a tool',
    query: { parentId: PARENT, userId: USER, toolSlug: 'ECHO_ECHO' },
    walks: ['parent_id'],
    most: PARENT_CALLS,
  },
  {
    name: "another session's calls of a parent",
    query: { sessionId: sessionNumber(7), parentId: PARENT },
    walks: ['parent_id'],
    most: PARENT_CALLS,
  },
  {
    name: "a session's calls of a parent no entry names",
    query: { sessionId: SESSION, parentId: UNKNOWN_PARENT },
    walks: ['parent_id'],
    most: 0,
  },
];

/**
 * The most entries any shape's walk may read: a twentieth of the table (a user's common tool, read
 * newest first from all entries, passes ~500 to find 51), never the table.
 */
const MOST_READ = ROWS / 20;

const matches = (query: Omit<ListLogsQuery, 'limit'>) => (entry: ExecutionLogRecord) =>
  (query.sessionId === undefined || entry.sessionId === query.sessionId) &&
  (query.userId === undefined || entry.userId === query.userId) &&
  (query.toolSlug === undefined || entry.toolSlug === query.toolSlug) &&
  (query.parentId === undefined || entry.parentId === query.parentId);

function expectPage(page: Page<ExecutionLogRecord>, query: Omit<ListLogsQuery, 'limit'>): void {
  expect(page.items.every(matches(query))).toBe(true);
  const ids = page.items.map((entry) => entry.id);
  expect(ids).toEqual(ids.toSorted().reverse());
}

const fill = (dialect: 'sqlite' | 'postgres') => [
  generatedLogInsert(dialect, { rows: ROWS, sessions: SESSIONS, users: USERS, toolSlug: TOOL_SLUG }),
  `UPDATE toolmux_execution_logs SET parent_id = '${PARENT}' WHERE session_id = '${SESSION}' AND id > '${PARENT}'`,
];

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `log filter query plans on PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    it('walk one index per filter shape, newest first: no scan of the table, no sort, a bounded part of it read', async () => {
      await withTestDatabase(async (database) => {
        await database.store.migrate();
        for (const statement of fill('postgres')) await database.query(statement);
        await database.query('ANALYZE toolmux_execution_logs');
        const sent = sentLogStatements(database.store);
        for (const { name, query, walks, most = MOST_READ } of SHAPES) {
          const page = await database.store.listLogs({ ...query, limit: LIMIT });
          expectPage(page, query);
          const { text, values } = sent.at(-1)!;
          const rows = await database.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
          const plan = planNodes((rows[0]!['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
          const context = `${name}: ${JSON.stringify(plan)}`;
          const types = plan.map((node) => node['Node Type']);
          expect(types, context).not.toContain('Seq Scan');
          expect(types, context).not.toContain('Sort');
          expect(types, context).not.toContain('Bitmap Heap Scan');
          const scans = plan.filter((node) => node['Node Type'] === 'Index Scan');
          expect(scans, context).toHaveLength(1);
          const scan = scans[0]! as PlanNode & { 'Rows Removed by Filter'?: number };
          expect(
            walks.map((walk) => `toolmux_execution_logs_${walk}`),
            context,
          ).toContain(scan['Index Name']);
          expect(scan['Scan Direction'], context).toBe('Backward');
          expect(scan['Actual Rows']! + (scan['Rows Removed by Filter'] ?? 0), context).toBeLessThanOrEqual(
            most,
          );
        }
      });
    });
  },
);

describe('log filter query plans on SQLite', () => {
  it('walk one index per filter shape, newest first: no scan of the table, no sort', async () => {
    await withSqliteLogFile(async ({ store, database, sent, plan }) => {
      for (const statement of fill('sqlite')) database.exec(statement);
      // with statistics too: the store names the index, whatever SQLite would guess
      for (const analyzed of [false, true]) {
        if (analyzed) database.exec('ANALYZE');
        for (const { name, query, walks } of SHAPES) {
          sent.length = 0;
          const page = await store.listLogs({ ...query, limit: LIMIT });
          expectPage(page, query);
          expect(sent.length, name).toBeGreaterThan(0);
          for (const text of sent) {
            // what is bound does not change SQLite's plan, how many values does
            const details = plan(text, ...(text.match(/\?/g) ?? []).map(() => SESSION));
            const context = `${name}${analyzed ? ' (analyzed)' : ''}: ${text}\n${details.join('\n')}`;
            // (a SCAN of a subquery reads the window the subquery's SEARCH found)
            expect(
              details.some((detail) => /^SCAN toolmux_execution_logs\b/.test(detail)),
              context,
            ).toBe(false);
            expect(
              details.some((detail) => /TEMP B-TREE/.test(detail)),
              context,
            ).toBe(false);
            const walked = details
              .map((detail) => /USING (?:COVERING )?INDEX toolmux_execution_logs_(\w+)/.exec(detail)?.[1])
              .filter((index) => index !== undefined);
            expect(walked.length, context).toBeGreaterThan(0);
            for (const index of walked) expect(walks, context).toContain(index);
          }
        }
      }
    });
  });
});
