import type { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import {
  generatedLogInsert,
  logRecord,
  type PlanNode,
  planNodes,
  sentLogStatements,
  withSqliteLogFile,
} from '../test/log-records.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { sqliteLimit } from './pagination.js';
import { MAX_LIST_STATEMENTS, SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/**
 * Reading a session's log must stay an index range scan of (session_id, id) — no sort, no scan of
 * the table, no more rows read than the page holds — so that its cost does not grow with the table.
 * Checked on the query plans of the statements the stores actually run (no timing).
 */

/** A session's id (`index` of 100). */
const sessionNumber = (index: number) => `ses_${String(index).padStart(38, '0')}`;

const quiet = { debug() {}, warn() {}, error() {} };
const SESSIONS = 100;
const ROWS_PER_SESSION = 200;
const ROWS = SESSIONS * ROWS_PER_SESSION;
const LIMIT = 50;

/** The session whose log is read (ids interleave with the 99 others' ids, as with concurrent sessions). */
const SESSION = sessionNumber(42);

/** Reads a first page and the page after it, returning the cursor of the first. */
async function readTwoPages(store: Store): Promise<string> {
  const first = await store.listLogs({ sessionId: SESSION, limit: LIMIT, cursor: undefined });
  expect(first.items).toHaveLength(LIMIT);
  expect(first.items.every((item) => item.sessionId === SESSION)).toBe(true);
  const second = await store.listLogs({ sessionId: SESSION, limit: LIMIT, cursor: first.nextCursor });
  expect(second.items).toHaveLength(LIMIT);
  expect(second.items[0]!.id < first.nextCursor!).toBe(true);
  return first.nextCursor!;
}

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `session log query plan on PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    it('is a backward scan of (session_id, id) that reads only the page, alone or in a batch, with custom and generic plans', async () => {
      await withTestDatabase(async (database) => {
        await database.store.migrate();
        await database.query(generatedLogInsert('postgres', { rows: ROWS, sessions: SESSIONS }));
        await database.query('ANALYZE toolmux_execution_logs');

        // the statements the store sends, as it sends them
        const sent = sentLogStatements(database.store);
        const cursor = await readTwoPages(database.store);
        expect(sent).toHaveLength(2);
        // pages asked for at once: one statement per shape (first pages, pages after a cursor)
        const others = [7, 42, 99].map(sessionNumber);
        const pages = await Promise.all([
          ...others.map((sessionId) =>
            database.store.listLogs({ sessionId, limit: LIMIT, cursor: undefined }),
          ),
          ...others.map((sessionId) => database.store.listLogs({ sessionId, limit: LIMIT, cursor })),
        ]);
        expect(pages.map((page) => page.items.length)).toEqual([LIMIT, LIMIT, LIMIT, LIMIT, LIMIT, LIMIT]);
        expect(sent).toHaveLength(4);
        expect(sent.slice(2).map((config) => config.values[0])).toEqual([others, others]);

        await database.withClient(async (client) => {
          for (const [index, { text, values }] of sent.entries()) {
            const literal = (value: unknown): string =>
              typeof value === 'number' ? String(value) : client.escapeLiteral(String(value));
            const literals = values.map((value) =>
              Array.isArray(value)
                ? client.escapeLiteral(
                    `{${value.map((item) => (typeof item === 'number' ? item : `"${item}"`)).join(',')}}`,
                  )
                : literal(value),
            );
            for (const mode of ['force_custom_plan', 'force_generic_plan']) {
              await client.query(`SET plan_cache_mode = ${mode}`);
              await client.query(`PREPARE page_${index}_${mode} AS ${text}`);
              const { rows } = await client.query(
                `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE page_${index}_${mode}(${literals.join(', ')})`,
              );
              const plan = planNodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
              const context = `${mode}: ${text}`;
              const types = plan.map((node) => node['Node Type']);
              expect(types, context).not.toContain('Seq Scan');
              expect(types, context).not.toContain('Sort');
              expect(types, context).not.toContain('Bitmap Heap Scan');
              const scan = plan.find((node) => node['Node Type'] === 'Index Scan');
              expect(scan?.['Index Name'], context).toBe('toolmux_execution_logs_session_id_id');
              expect(scan?.['Scan Direction'], context).toBe('Backward');
              // limit + 1 rows per page (the extra one tells whether a next page exists), not the
              // session's 200: once for a single page, once per page of a batch
              expect(scan?.['Actual Rows'], context).toBe(LIMIT + 1);
              expect(scan?.['Actual Loops'], context).toBe(index < 2 ? 1 : 3);
            }
          }
        });
      });
    });
  },
);

describe('session log query plan on SQLite', () => {
  it('searches (session_id, id) without a sort or a table scan', async () => {
    await withSqliteLogFile(async ({ store, database, sent, plan }) => {
      database.exec(generatedLogInsert('sqlite', { rows: ROWS, sessions: SESSIONS }));
      database.exec('ANALYZE');
      const cursor = await readTwoPages(store);
      expect(sent).toHaveLength(2);
      for (const text of sent) {
        // the LIMIT is in the text: a bound one would make SQLite prepare the statement on every run
        expect(text).toMatch(new RegExp(`ORDER BY id DESC LIMIT ${LIMIT + 1}$`));
        const params = text.includes('id < ?') ? [SESSION, cursor] : [SESSION];
        expect(plan(text, ...params), text).toEqual([
          expect.stringMatching(
            /^SEARCH toolmux_execution_logs USING INDEX toolmux_execution_logs_session_id_id \(session_id=\?( AND id<\?)?\)$/,
          ),
        ]);
      }
    });
  });
});

describe('SQLite statements of list queries', () => {
  it('are kept for the limits used last only: a client that tries every limit does not make the store keep a statement for each, and every page is right', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    await store.insertLogs(
      Array.from({ length: 5 }, (_, index) =>
        logRecord({ id: `log_${String(index).padStart(26, '0')}`, sessionId: SESSION }),
      ),
    );
    for (let limit = 1; limit <= MAX_LIST_STATEMENTS + 44; limit++) {
      const page = await store.listLogs({ sessionId: SESSION, limit });
      expect(page.items).toHaveLength(Math.min(limit, 5));
      expect(page.nextCursor === undefined).toBe(limit >= 5);
    }
    expect(store.keptStatements).toBeLessThanOrEqual(MAX_LIST_STATEMENTS);
    // the statement used last is still kept: asked again, it is not prepared anew
    const kept = store.keptStatements;
    await store.listLogs({ sessionId: SESSION, limit: MAX_LIST_STATEMENTS + 44 });
    expect(store.keptStatements).toBe(kept);
    await store.close();
  });
});

describe('SQLite statements on a request’s path', () => {
  it('bind no LIMIT: a bound LIMIT would make SQLite prepare the statement again on every run', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const database = (store as unknown as { database: DatabaseSync }).database;
    const prepared: string[] = [];
    const prepare = database.prepare.bind(database);
    database.prepare = ((text: string, ...rest: unknown[]) => {
      prepared.push(text);
      return (prepare as (text: string, ...rest: unknown[]) => ReturnType<DatabaseSync['prepare']>)(
        text,
        ...rest,
      );
    }) as DatabaseSync['prepare'];
    const sample = createSampleToolkits();
    const mux = new ToolMux({ toolkits: sample.toolkits, store, secretKey: 'a'.repeat(64), logger: quiet });
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-1' });
    const session = await mux.create('user_1', {
      toolkits: ['mail', 'tasks'],
      authConfigs: { mail: config.id },
    });
    // a call that picks the user's account, and one without
    const mail = await session.execute('MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 's', body: 'b' });
    expect(mail.successful, JSON.stringify(mail.error)).toBe(true);
    expect((await session.execute('TASKS_CREATE_TASK', { title: 't' })).successful).toBe(true);
    await session.logs({ limit: 10 });
    await mux.sessions.list({ limit: 5 });
    await mux.connectedAccounts.list({ userIds: ['user_1'], limit: 5 });
    expect(prepared.length).toBeGreaterThan(10);
    expect(prepared.filter((text) => /LIMIT \?/.test(text))).toEqual([]);
    await mux.close();
  });
});

describe('sqliteLimit', () => {
  it('writes a whole number of rows, and refuses anything else (it goes into the SQL text)', () => {
    expect(sqliteLimit(51)).toBe('51');
    expect(sqliteLimit(0)).toBe('0');
    for (const bad of [1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, '1; DROP TABLE x' as never]) {
      expect(() => sqliteLimit(bad)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    }
  });
});
