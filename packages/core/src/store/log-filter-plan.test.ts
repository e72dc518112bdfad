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
 * `(tool_slug, id)`): a rarely called or unknown tool's page read the whole table. Checked on the
 * query plans of the statements the stores actually run (no timing).
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
/** 10 entries of the 20,000, spread over sessions 7, 27, 47, … and users 7 and 17… */
const TOOL_SLUG = "CASE WHEN g % 2000 = 7 THEN 'RARE_TOOL' ELSE 'ECHO_ECHO' END";

/** Each filter shape, and the indexes a plan may walk for it (the narrowest that serve it). */
const SHAPES: Array<{ name: string; query: Omit<ListLogsQuery, 'limit'>; walks: string[] }> = [
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
    walks: ['tool_slug_id'],
  },
  {
    name: 'a user and a tool never called',
    query: { userId: USER, toolSlug: 'NEVER_CALLED' },
    walks: ['tool_slug_id'],
  },
  {
    name: 'a user and a common tool',
    query: { userId: USER, toolSlug: 'ECHO_ECHO' },
    walks: ['tool_slug_id', 'user_id_id', 'pkey'],
  },
  {
    name: 'a session, its user and a rare tool',
    query: { sessionId: SESSION, userId: USER, toolSlug: 'RARE_TOOL' },
    walks: ['session_id_id', 'tool_slug_id'],
  },
  {
    name: "a session's calls of a parent",
    query: { sessionId: SESSION, userId: USER, parentId: PARENT },
    walks: ['session_parent_id'],
  },
  {
    name: "a session's calls of a parent, of one tool",
    query: { sessionId: SESSION, parentId: PARENT, toolSlug: 'ECHO_ECHO' },
    walks: ['session_parent_id'],
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
        for (const { name, query, walks } of SHAPES) {
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
            MOST_READ,
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
