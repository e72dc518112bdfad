import { describe, expect, it } from 'vitest';
import { META_TOOL_NAMES, metaToolSlugs } from '../meta-tools/meta-tools.js';
import {
  generatedLogInsert,
  type PlanNode,
  planNodes,
  sentLogStatements,
  withSqliteLogFile,
} from '../test/log-records.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import { WORKBENCH_CELL_CONDITION } from './migrations.js';
import type { Store } from './types.js';

/**
 * `hasWorkbenchCell`: whether a session has run a workbench cell, asked once per new workbench
 * context. It must answer for both namings of the meta-tool and cost one probe of the partial index
 * of cells, not a walk of the session's log (checked on the query plans, no timing).
 */

const SESSIONS = 100;
const ROWS = 20_000;
const sessionNumber = (index: number) => `ses_${String(index).padStart(38, '0')}`;
/** Sessions 0..99 each own 200 ordinary entries; session 7 ran a toolmux cell, 8 a Composio one. */
const TOOLMUX_CELL = sessionNumber(7);
const COMPOSIO_CELL = sessionNumber(8);
const NO_CELL = sessionNumber(42);

const columns = 'id, session_id, user_id, tool_slug, toolkit, status, duration_ms, input, output, created_at';
/** Sessions' entries, none of them a cell (every third a multi-execute). */
const generated = {
  rows: ROWS,
  sessions: SESSIONS,
  toolSlug: "CASE WHEN g % 3 = 0 THEN 'TOOLMUX_MULTI_EXECUTE_TOOL' ELSE 'ECHO_ECHO' END",
};
const cells = (createdAt: string) =>
  `INSERT INTO toolmux_execution_logs (${columns}) VALUES ` +
  `('log_zz1', '${TOOLMUX_CELL}', 'user_1', 'TOOLMUX_WORKBENCH', 'toolmux', 'success', 1, '{}', '{}', ${createdAt}), ` +
  `('log_zz2', '${COMPOSIO_CELL}', 'user_1', 'COMPOSIO_REMOTE_WORKBENCH', 'composio', 'success', 1, '{}', '{}', ${createdAt})`;

async function expectAnswers(store: Store): Promise<void> {
  expect(await store.hasWorkbenchCell!(TOOLMUX_CELL)).toBe(true);
  expect(await store.hasWorkbenchCell!(COMPOSIO_CELL)).toBe(true);
  // 200 other entries, none of them a cell (a multi-execute is not one)
  expect(await store.hasWorkbenchCell!(NO_CELL)).toBe(false);
  expect(await store.hasWorkbenchCell!('ses_unknown')).toBe(false);
}

describe('the partial index of workbench cells', () => {
  it('names the workbench meta-tool of every naming style', () => {
    const named = [...WORKBENCH_CELL_CONDITION.matchAll(/'([A-Z_]+)'/g)].map((match) => match[1]);
    expect(named.sort()).toEqual(META_TOOL_NAMES.map((names) => metaToolSlugs(names).WORKBENCH).sort());
  });
});

describe('hasWorkbenchCell on SQLite', () => {
  it('answers for both namings with one search of the index of cells', async () => {
    await withSqliteLogFile(async ({ store, database, sent, plan }) => {
      database.exec(generatedLogInsert('sqlite', generated));
      database.exec(cells('0'));
      database.exec('ANALYZE');
      await expectAnswers(store);
      expect(new Set(sent).size).toBe(1);
      expect(plan(sent[0]!, NO_CELL)).toEqual([
        expect.stringMatching(
          /^SEARCH toolmux_execution_logs USING (COVERING )?INDEX toolmux_execution_logs_workbench_cells \(session_id=\?\)$/,
        ),
      ]);
    });
  });
});

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(`hasWorkbenchCell on PostgreSQL ${skipPostgres ?? ''}`, () => {
  it('answers for both namings with one probe of the index of cells, with custom and generic plans', async () => {
    await withTestDatabase(async (database) => {
      await database.store.migrate();
      await database.query(generatedLogInsert('postgres', generated));
      await database.query(cells('now()'));
      await database.query('ANALYZE toolmux_execution_logs');

      const sent = sentLogStatements(database.store);
      await expectAnswers(database.store);
      expect(new Set(sent.map((config) => config.text)).size).toBe(1);

      await database.withClient(async (client) => {
        for (const mode of ['force_custom_plan', 'force_generic_plan']) {
          await client.query(`SET plan_cache_mode = ${mode}`);
          await client.query(`PREPARE cell_${mode} AS ${sent[0]!.text}`);
          for (const session of [NO_CELL, TOOLMUX_CELL]) {
            const { rows } = await client.query(
              `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE cell_${mode}(${client.escapeLiteral(session)})`,
            );
            const plan = planNodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
            const context = `${mode} ${session}`;
            const types = plan.map((node) => node['Node Type']);
            expect(types, context).not.toContain('Seq Scan');
            expect(types, context).not.toContain('Bitmap Heap Scan');
            const scan = plan.find((node) => /Index/.test(node['Node Type']));
            expect(scan?.['Index Name'], context).toBe('toolmux_execution_logs_workbench_cells');
            expect(scan?.['Actual Rows'], context).toBe(session === NO_CELL ? 0 : 1);
          }
        }
      });
    });
  });
});
