import { describe, expect, it } from 'vitest';
import {
  logRecord,
  type PlanNode,
  planNodes,
  sentLogStatements,
  withSqliteLogFile,
} from '../test/log-records.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import type { ExecutionLogRecord, ListLogsQuery, Store } from './types.js';

/**
 * The parent index of the execution log (migration 9, led by the parent since migration 21) holds
 * only the entries that have a parent, so an ordinary call's entry does not write a page of it on the
 * call path; a child listing (`parentId`, with its session or without, beside a user or a tool) and
 * the relinking of a parent's calls (`moveLogChildren`) search it, without a sort. Checked on the
 * index contents and on the plans of the statements the stores actually run (no timing).
 */

const SESSION = `ses_${'4'.repeat(38)}`;
const OTHER_SESSION = `ses_${'5'.repeat(38)}`;
const PARENTS = 20;
const CHILDREN_PER_PARENT = 10;
const TOP_LEVEL = 2_000;
/** A log id no entry has, nor names as its parent. */
const UNKNOWN_PARENT = `log_${'z'.repeat(38)}`;

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

/** The filters a parent's calls are listed with: its session, or none, beside a user or a tool or both. */
const CHILD_FILTERS: Array<Omit<ListLogsQuery, 'parentId' | 'limit' | 'cursor'>> = [
  { sessionId: SESSION },
  {},
  { userId: 'user_1' },
  { toolSlug: 'ECHO_ECHO' },
  { userId: 'user_1', toolSlug: 'ECHO_ECHO' },
  { sessionId: SESSION, userId: 'user_1', toolSlug: 'ECHO_ECHO' },
];

/** Lists the parent's calls two pages at a time with each of {@link CHILD_FILTERS}, and a parent no entry names. */
async function listChildren(store: Store, parentId: string): Promise<void> {
  for (const filters of CHILD_FILTERS) {
    const context = JSON.stringify(filters);
    const page = await store.listLogs({ ...filters, parentId, limit: 5, cursor: undefined });
    expect(page.items, context).toHaveLength(5);
    expect(page.items.every((item) => item.parentId === parentId)).toBe(true);
    const next = await store.listLogs({ ...filters, parentId, limit: 5, cursor: page.nextCursor });
    expect(next.items, context).toHaveLength(5);
    expect(next.nextCursor, context).toBeUndefined();
    const none = await store.listLogs({ ...filters, parentId: UNKNOWN_PARENT, limit: 5, cursor: undefined });
    expect(none.items, context).toEqual([]);
  }
}

/** Moves the parent's calls to another id and back (a client's upload stored under a new id). */
async function moveChildren(store: Store, parentId: string): Promise<void> {
  expect(await store.moveLogChildren!(SESSION, parentId, UNKNOWN_PARENT)).toBe(CHILDREN_PER_PARENT);
  expect(await store.moveLogChildren!(OTHER_SESSION, UNKNOWN_PARENT, parentId)).toBe(0);
  expect(await store.moveLogChildren!(SESSION, UNKNOWN_PARENT, parentId)).toBe(CHILDREN_PER_PARENT);
}

describe('execution log parent index on SQLite', () => {
  it('holds only entries with a parent, and serves child listings and relinks', async () => {
    await withSqliteLogFile(async ({ store, database, sent, plan }) => {
      const parentId = await fill(store);
      database.exec('ANALYZE');
      const indexed = database
        .prepare(
          'SELECT count(*) AS n FROM toolmux_execution_logs INDEXED BY toolmux_execution_logs_parent_id ' +
            'WHERE parent_id IS NOT NULL',
        )
        .get() as { n: number };
      expect(indexed.n).toBe(PARENTS * CHILDREN_PER_PARENT);
      const definitions = database
        .prepare("SELECT name, sql FROM sqlite_schema WHERE name LIKE 'toolmux_execution_logs_%parent%'")
        .all() as Array<{ name: string; sql: string }>;
      expect(definitions).toEqual([
        {
          name: 'toolmux_execution_logs_parent_id',
          sql: expect.stringMatching(/\(parent_id, id\)\s+WHERE parent_id IS NOT NULL$/),
        },
      ]);

      sent.length = 0;
      await listChildren(store, parentId);
      await moveChildren(store, parentId);
      // each listing two pages and a parent no entry names, each relink once
      const statements = [...new Set(sent)].filter((text) => !text.startsWith('INSERT'));
      expect(statements.some((text) => text.startsWith('UPDATE'))).toBe(true);
      for (const text of statements) {
        const details = plan(text, ...(text.match(/\?/g) ?? []).map(() => parentId));
        const context = `${text}\n${details.join('\n')}`;
        expect(
          details.some((detail) => /^(SCAN|SEARCH) toolmux_execution_logs\b/.test(detail)),
          context,
        ).toBe(true);
        // the parent's calls, and (a tool beside the parent) each of a window of them by its key
        for (const detail of details.filter((line) => /^(SCAN|SEARCH) toolmux_execution_logs\b/.test(line))) {
          expect(detail, context).toMatch(
            /^SEARCH toolmux_execution_logs USING (?:(?:COVERING )?INDEX toolmux_execution_logs_parent_id \(parent_id=\?(?: AND id<\?)?\)|INDEX sqlite_autoindex_toolmux_execution_logs_1 \(id=\?\))$/,
          );
        }
        expect(
          details.some((detail) => /INDEX toolmux_execution_logs_parent_id\b/.test(detail)),
          context,
        ).toBe(true);
        expect(
          details.some((detail) => /TEMP B-TREE/.test(detail)),
          context,
        ).toBe(false);
      }
    }, /toolmux_execution_logs\b/);
  });
});

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `execution log parent index on PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    it('holds only entries with a parent, and serves child listings and relinks (custom and generic plans)', async () => {
      await withTestDatabase(async (database) => {
        await database.store.migrate();
        const definitions = await database.query<{ indexname: string; indexdef: string }>(
          "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'toolmux_execution_logs_%parent%' " +
            'AND schemaname = current_schema()',
        );
        expect(definitions).toEqual([
          {
            indexname: 'toolmux_execution_logs_parent_id',
            indexdef: expect.stringMatching(/\(parent_id, id\) WHERE \(parent_id IS NOT NULL\)$/),
          },
        ]);
        const parentId = await fill(database.store);
        await database.query('ANALYZE toolmux_execution_logs');

        // the statements the store sends, as it sends them
        const sent = sentLogStatements(database.store, /(FROM|UPDATE) toolmux_execution_logs\b/);
        await listChildren(database.store, parentId);
        await moveChildren(database.store, parentId);
        expect(sent.some(({ text }) => text.startsWith('UPDATE'))).toBe(true);
        // pages of a session's calls of a parent asked for at once: one statement
        const batched = sent.length;
        const pages = await Promise.all(
          [parentId, UNKNOWN_PARENT].map((parent) =>
            database.store.listLogs({ sessionId: SESSION, parentId: parent, limit: 5, cursor: undefined }),
          ),
        );
        expect(pages.map((page) => page.items.length)).toEqual([5, 0]);
        expect(sent.slice(batched).map(({ text }) => /unnest/.test(text))).toEqual([true]);

        await database.withClient(async (client) => {
          for (const { text, values } of sent) {
            for (const mode of ['force_custom_plan', 'force_generic_plan']) {
              await client.query(`SET plan_cache_mode = ${mode}`);
              const { rows } = await client.query({ text: `EXPLAIN (FORMAT JSON) ${text}`, values });
              const plan = planNodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
              const context = `${mode}: ${text} ${JSON.stringify(plan)}`;
              const types = plan.map((node) => node['Node Type']);
              expect(types, context).not.toContain('Seq Scan');
              expect(types, context).not.toContain('Sort');
              expect(types, context).not.toContain('Bitmap Heap Scan');
              const scans = plan.filter((node) => node['Index Name'] !== undefined);
              expect(
                scans.map((node) => node['Index Name']),
                context,
              ).toEqual(['toolmux_execution_logs_parent_id']);
            }
          }
        });
      });
    });
  },
);
