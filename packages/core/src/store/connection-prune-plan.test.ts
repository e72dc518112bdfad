import { describe, expect, it } from 'vitest';
import { type PlanNode, planNodes, sentLogStatements, withSqliteLogFile } from '../test/log-records.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import type { Store } from './types.js';

/**
 * The batches of stale connection state (connection-state-pruning.ts) read the oldest rows of an
 * index of their own (migration 15): no scan of the accounts or requests tables and no sort, so that
 * a batch costs the same beside 20,000 live accounts and requests as beside none. Checked on the
 * query plans of the statements the stores run (no timing).
 */

const ROWS = 20_000;
const STALE = 300;
const BATCH = 100;
const DAY_MS = 86_400_000;

/** The statements of the three steps, as the stores write them. */
const PRUNE_STATEMENTS =
  /status = 'INITIATED' AND created_at <|expires_at < [?$]|connected_at IS NULL AND updated_at </;

/** SQL that fills the tables: `ROWS` live accounts and requests, `STALE` of each kind to prune. */
function fill(dialect: Store['dialect']): string[] {
  const ago = (ms: number) =>
    dialect === 'sqlite'
      ? `(CAST(unixepoch('subsec') * 1000 AS INTEGER) - ${ms})`
      : `now() - interval '${ms} milliseconds'`;
  const series = (count: number) =>
    `WITH RECURSIVE series(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < ${count}) `;
  const accounts = (count: number, prefix: string, status: string, held: boolean, ageMs: number) =>
    `${series(count)}INSERT INTO toolmux_connected_accounts (id, user_id, toolkit, auth_config_id, status, secret, key_id, version, connected_at, created_at, updated_at) ` +
    `SELECT '${prefix}' || g, 'user_' || (g % 100), 'github', 'ac_1', '${status}', ${held ? "'v1.c2VhbGVk', 'key'" : 'NULL, NULL'}, 1, ` +
    `${held ? ago(ageMs) : 'NULL'}, ${ago(ageMs)}, ${ago(ageMs)} FROM series`;
  const requests = (count: number, prefix: string, expiresInMs: number) =>
    `${series(count)}INSERT INTO toolmux_connection_requests (id, kind, user_id, toolkit, auth_config_id, callback_url, status, expires_at, created_at) ` +
    `SELECT '${prefix}' || g, 'fields', 'user_' || (g % 100), 'github', 'ac_1', 'https://app.example.com', 'PENDING', ${ago(-expiresInMs)}, ${ago(0)} FROM series`;
  return [
    accounts(ROWS, 'ca_live_', 'ACTIVE', true, 40 * DAY_MS),
    accounts(STALE, 'ca_attempt_', 'INITIATED', false, 60 * 60_000),
    accounts(STALE, 'ca_failed_', 'FAILED', false, 40 * DAY_MS),
    requests(ROWS, 'cr_live_', 10 * 60_000),
    requests(STALE, 'cr_old_', -2 * DAY_MS),
  ];
}

/** Runs one batch of each step on `store`, as the pruner would. */
async function pruneBatches(store: Store): Promise<number[]> {
  const now = new Date();
  return [
    await store.expireAbandonedAttempts!(new Date(now.getTime() - 15 * 60_000), now, BATCH),
    await store.deleteConnectionRequestsBefore!(new Date(now.getTime() - DAY_MS), BATCH),
    await store.deleteNeverConnectedAccountsBefore!(new Date(now.getTime() - 30 * DAY_MS), BATCH),
  ];
}

const INDEXES = [
  'toolmux_connected_accounts_attempts',
  'toolmux_connection_requests_expires_at',
  'toolmux_connected_accounts_never_connected',
];

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `stale connection state query plans on PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    it('each step reads the oldest rows of its own index, with custom and generic plans: no table scan, no sort', async () => {
      await withTestDatabase(async (database) => {
        await database.store.migrate();
        for (const statement of fill('postgres')) await database.query(statement);
        await database.query('ANALYZE toolmux_connected_accounts');
        await database.query('ANALYZE toolmux_connection_requests');
        const sent = sentLogStatements(database.store, PRUNE_STATEMENTS);
        expect(await pruneBatches(database.store)).toEqual([BATCH, BATCH, BATCH]);
        expect(sent).toHaveLength(3);
        await database.withClient(async (client) => {
          for (const [index, { text, values }] of sent.entries()) {
            const literals = values.map((value) =>
              value instanceof Date
                ? `${client.escapeLiteral(value.toISOString())}::timestamptz`
                : typeof value === 'number'
                  ? String(value)
                  : client.escapeLiteral(String(value)),
            );
            for (const mode of ['force_custom_plan', 'force_generic_plan']) {
              // EXPLAIN ANALYZE runs the statement: in a transaction rolled back
              await client.query('BEGIN');
              await client.query(`SET LOCAL plan_cache_mode = ${mode}`);
              await client.query(`PREPARE step_${index}_${mode} AS ${text}`);
              const { rows } = await client.query(
                `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE step_${index}_${mode}(${literals.join(', ')})`,
              );
              await client.query('ROLLBACK');
              const plan = planNodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
              const context = `${mode}: ${text}`;
              const types = plan.map((node) => node['Node Type']);
              expect(types, context).not.toContain('Seq Scan');
              expect(types, context).not.toContain('Sort');
              expect(
                plan.filter((node) => node['Index Name'] === INDEXES[index]),
                context,
              ).toHaveLength(1);
              // no step of the plan reads more than the batch (the rows changed are found by primary
              // key, the requests of deleted accounts by account)
              for (const node of plan) {
                expect(node['Actual Rows'] ?? 0, `${node['Node Type']} in ${context}`).toBeLessThanOrEqual(
                  BATCH,
                );
              }
            }
          }
        });
      });
    });
  },
);

describe('stale connection state query plans on SQLite', () => {
  it('each step searches its own index without a sort or a table scan, its LIMIT written in', async () => {
    await withSqliteLogFile(async ({ store, database, sent, plan }) => {
      for (const statement of fill('sqlite')) database.exec(statement);
      database.exec('ANALYZE');
      expect(await pruneBatches(store)).toEqual([BATCH, BATCH, BATCH]);
      expect(sent).toHaveLength(3);
      for (const [index, text] of sent.entries()) {
        expect(text).toMatch(new RegExp(`LIMIT ${BATCH}\\)?$`));
        const details = plan(
          text,
          ...text
            .split('?')
            .slice(1)
            .map(() => 0),
        );
        expect(
          details.filter((detail) => /^SCAN toolmux_|TEMP B-TREE/.test(detail)),
          text,
        ).toEqual([]);
        expect(details.join('\n'), text).toContain(`USING INDEX ${INDEXES[index]} (`);
      }
    }, PRUNE_STATEMENTS);
  });
});
