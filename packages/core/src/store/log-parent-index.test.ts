import { describe, expect, it } from 'vitest';
import {
  logRecord,
  type PlanNode,
  planNodes,
  sentLogStatements,
  withSqliteLogFile,
} from '../test/log-records.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import type { ExecutionLogRecord, Store } from './types.js';

/**
 * The parent index of the execution log (migration 9) holds only the entries that have a parent, so
 * an ordinary call's entry does not write a page of it on the call path; a child listing
 * (`parentId`) still searches it, without a sort. Checked on the index contents and on the plans of
 * the statements the stores actually run (no timing).
 */

const SESSION = `ses_${'4'.repeat(38)}`;
const OTHER_SESSION = `ses_${'5'.repeat(38)}`;
const PARENTS = 20;
const CHILDREN_PER_PARENT = 10;
const TOP_LEVEL = 2_000;

function entry(sessionId: string, parentId: string | null): ExecutionLogRecord {
  return logRecord({ sessionId, parentId });
}

/** Top-level entries in two sessions, and children of some of them; returns a parent with children. */
async function fill(store: Store): Promise<string> {
  const top = Array.from({ length: TOP_LEVEL }, (_, index) =>
    entry(index % 2 === 0 ? SESSION : OTHER_SESSION, null),
  );
  await store.insertLogs(top);
  const parents = top.filter((record) => record.sessionId === SESSION).slice(0, PARENTS);
  await store.insertLogs(
    parents.flatMap((parent) => Array.from({ length: CHILDREN_PER_PARENT }, () => entry(SESSION, parent.id))),
  );
  return parents[7]!.id;
}

async function listChildren(store: Store, parentId: string): Promise<void> {
  const page = await store.listLogs({ sessionId: SESSION, parentId, limit: 5, cursor: undefined });
  expect(page.items).toHaveLength(5);
  expect(page.items.every((item) => item.parentId === parentId)).toBe(true);
  const next = await store.listLogs({ sessionId: SESSION, parentId, limit: 5, cursor: page.nextCursor });
  expect(next.items).toHaveLength(5);
  expect(next.nextCursor).toBeUndefined();
}

describe('execution log parent index on SQLite', () => {
  it('holds only entries with a parent, and serves child listings', async () => {
    await withSqliteLogFile(async ({ store, database, sent, plan }) => {
      const parentId = await fill(store);
      database.exec('ANALYZE');
      const indexed = database
        .prepare(
          'SELECT count(*) AS n FROM toolmux_execution_logs INDEXED BY toolmux_execution_logs_session_parent_id ' +
            'WHERE parent_id IS NOT NULL',
        )
        .get() as { n: number };
      expect(indexed.n).toBe(PARENTS * CHILDREN_PER_PARENT);
      const definition = database
        .prepare("SELECT sql FROM sqlite_schema WHERE name = 'toolmux_execution_logs_session_parent_id'")
        .get() as { sql: string };
      expect(definition.sql).toMatch(/\(session_id, parent_id, id\)\s+WHERE parent_id IS NOT NULL$/);

      sent.length = 0;
      await listChildren(store, parentId);
      expect(sent).toHaveLength(2);
      for (const text of sent) {
        expect(text).toMatch(/ORDER BY id DESC LIMIT 6$/);
        const params = text.includes('id < ?') ? [SESSION, parentId, 'log_zzz'] : [SESSION, parentId];
        expect(plan(text, ...params), text).toEqual([
          expect.stringMatching(
            /^SEARCH toolmux_execution_logs USING INDEX toolmux_execution_logs_session_parent_id \(session_id=\? AND parent_id=\?( AND id<\?)?\)$/,
          ),
        ]);
      }
    });
  });
});

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `execution log parent index on PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    it('holds only entries with a parent, and serves child listings (custom and generic plans)', async () => {
      await withTestDatabase(async (database) => {
        await database.store.migrate();
        const [definition] = await database.query<{ indexdef: string }>(
          "SELECT indexdef FROM pg_indexes WHERE indexname = 'toolmux_execution_logs_session_parent_id' " +
            'AND schemaname = current_schema()',
        );
        expect(definition!.indexdef).toMatch(
          /\(session_id, parent_id, id\) WHERE \(parent_id IS NOT NULL\)$/,
        );
        const parentId = await fill(database.store);
        await database.query('ANALYZE toolmux_execution_logs');

        // the statements the store sends, as it sends them
        const sent = sentLogStatements(database.store);
        await listChildren(database.store, parentId);
        expect(sent.length).toBeGreaterThan(0);

        await database.withClient(async (client) => {
          for (const { text, values } of sent) {
            for (const mode of ['force_custom_plan', 'force_generic_plan']) {
              await client.query(`SET plan_cache_mode = ${mode}`);
              const { rows } = await client.query({ text: `EXPLAIN (FORMAT JSON) ${text}`, values });
              const plan = planNodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
              const context = `${mode}: ${text}`;
              const types = plan.map((node) => node['Node Type']);
              // (a parent's few children may be read by a bitmap scan and sorted: the planner's choice)
              expect(types, context).not.toContain('Seq Scan');
              const scans = plan.filter((node) => node['Index Name'] !== undefined);
              expect(
                scans.map((node) => node['Index Name']),
                context,
              ).toContain('toolmux_execution_logs_session_parent_id');
            }
          }
        });
      });
    });
  },
);
