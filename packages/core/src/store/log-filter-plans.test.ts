import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { type PlanNode, planNodes } from '../test/log-records.js';
import { postgresSkipReason, testPostgresUrl, withTestDatabase } from '../test/postgres.js';
import { SqliteStore } from './sqlite.js';
import type { ListLogsQuery, Store } from './types.js';

/**
 * The project's log filtered by tool (`GET /logs?tool_slug=…`), alone or beside a session or a user:
 * each query reads an index range bounded by what it asks for, never the whole table newest first
 * (which a rarely called tool made a walk of every row: on SQLite a stall of every request). Checked
 * on the plans of the statements the stores run (no timing).
 */

const ROWS = 20_000;
/** Every 1,000th entry is a call of the rare tool; the rest are ECHO_ECHO. */
const RARE = 'RARE_TOOL';
const SESSIONS = 100;
const sessionNumber = (index: number) => `ses_${String(index).padStart(38, '0')}`;
const columns = 'id, session_id, user_id, tool_slug, toolkit, status, duration_ms, input, output, created_at';

const QUERIES: Array<{ name: string; query: Omit<ListLogsQuery, 'limit'>; index: string }> = [
  { name: 'a tool alone', query: { toolSlug: RARE }, index: 'toolmux_execution_logs_tool_slug_id' },
  {
    name: 'a tool beside a session',
    query: { toolSlug: 'ECHO_ECHO', sessionId: sessionNumber(42) },
    index: 'toolmux_execution_logs_session_id_id',
  },
  {
    name: 'a tool beside a user',
    query: { toolSlug: 'ECHO_ECHO', userId: 'user_3' },
    index: 'toolmux_execution_logs_user_id_id',
  },
];

/** The rare tool's entries come back newest first, page after page, and nothing else does. */
async function expectRareEntries(store: Store): Promise<void> {
  const first = await store.listLogs({ toolSlug: RARE, limit: 15 });
  expect(first.items).toHaveLength(15);
  const second = await store.listLogs({ toolSlug: RARE, limit: 15, cursor: first.nextCursor });
  expect(second.items).toHaveLength(5);
  expect(second.nextCursor).toBeUndefined();
  const ids = [...first.items, ...second.items].map((item) => item.id);
  expect(ids).toEqual([...ids].sort().reverse());
  expect([...first.items, ...second.items].every((item) => item.toolSlug === RARE)).toBe(true);
}

describe('the project log filtered by tool on SQLite', () => {
  it('reads the tool index alone, and the session or user index beside them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolmux-tool-plan-'));
    const path = join(dir, 'plan.db');
    const store = new SqliteStore({ path });
    await store.migrate();
    const database = new DatabaseSync(path);
    try {
      database.exec(
        `WITH RECURSIVE series(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < ${ROWS}) ` +
          `INSERT INTO toolmux_execution_logs (${columns}) ` +
          `SELECT 'log_' || printf('%038x', g), 'ses_' || printf('%038d', g % ${SESSIONS}), 'user_' || (g % 10), ` +
          `CASE WHEN g % 1000 = 0 THEN '${RARE}' ELSE 'ECHO_ECHO' END, 'echo', 'success', 1, '{}', '{}', 0 FROM series`,
      );
      await expectRareEntries(store);
      const sent: string[] = [];
      const prepared = store as unknown as { statement: (text: string) => unknown };
      const statement = prepared.statement.bind(store);
      prepared.statement = (text) => {
        if (/FROM toolmux_execution_logs/.test(text)) sent.push(text);
        return statement(text);
      };
      for (const { name, query, index } of QUERIES) {
        sent.length = 0;
        await store.listLogs({ ...query, limit: 50 });
        expect(sent, name).toHaveLength(1);
        const params = [query.sessionId ?? query.userId, query.toolSlug, 51].filter(
          (value) => value !== undefined,
        );
        const plan = database
          .prepare(`EXPLAIN QUERY PLAN ${sent[0]}`)
          .all(...(params as Array<string | number>))
          .map((row) => String(row.detail));
        expect(plan, name).toEqual([
          expect.stringMatching(new RegExp(`^SEARCH toolmux_execution_logs USING INDEX ${index} \\(`)),
        ]);
      }
    } finally {
      database.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `the project log filtered by tool on PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    it('reads an index range bounded by the filter (an unnamed statement: planned with its values)', async () => {
      await withTestDatabase(async (database) => {
        await database.store.migrate();
        await database.query(
          `INSERT INTO toolmux_execution_logs (${columns}) ` +
            `SELECT 'log_' || lpad(to_hex(g), 38, '0'), 'ses_' || lpad((g % ${SESSIONS})::text, 38, '0'), 'user_' || (g % 10), ` +
            `CASE WHEN g % 1000 = 0 THEN '${RARE}' ELSE 'ECHO_ECHO' END, 'echo', 'success', 1, '{}', '{}', now() ` +
            `FROM generate_series(1, ${ROWS}) g`,
        );
        await database.query('ANALYZE toolmux_execution_logs');
        await expectRareEntries(database.store);

        const sent: Array<{ text: string; values: unknown[]; name?: string }> = [];
        const pool = (database.store as unknown as { pool: { query: (config: any) => Promise<unknown> } })
          .pool;
        const query = pool.query.bind(pool);
        pool.query = (config) => {
          if (typeof config === 'object' && /FROM toolmux_execution_logs/.test(config.text))
            sent.push(config);
          return query(config);
        };
        const { Client } = await import('pg');
        const client = new Client({
          connectionString: testPostgresUrl(),
          options: `-c search_path=${database.schema}`,
        });
        await client.connect();
        try {
          // the rare tool alone: only its 20 entries are read
          sent.length = 0;
          await database.store.listLogs({ toolSlug: RARE, limit: 50 });
          expect(sent).toHaveLength(1);
          const { text, values, name } = sent[0]!;
          // unnamed, so PostgreSQL plans it with the tool's slug in hand (a generic plan, blind to
          // it, would walk the primary key)
          expect(name).toBeUndefined();
          for (const mode of ['force_custom_plan']) {
            await client.query(`SET plan_cache_mode = ${mode}`);
            await client.query(`PREPARE tool_${mode} AS ${text}`);
            const { rows } = await client.query(
              `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE tool_${mode}(${values.map((value) => (typeof value === 'number' ? String(value) : client.escapeLiteral(String(value)))).join(', ')})`,
            );
            const plan = planNodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
            const types = plan.map((node) => node['Node Type']);
            expect(types, mode).not.toContain('Seq Scan');
            const scan = plan.find((node) => /Index/.test(node['Node Type']));
            expect(scan?.['Index Name'], mode).toBe('toolmux_execution_logs_tool_slug_id');
            expect(scan?.['Actual Rows'], mode).toBe(ROWS / 1000);
          }
        } finally {
          await client.end();
        }
      });
    });
  },
);
