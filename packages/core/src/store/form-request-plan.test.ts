import { describe, expect, it } from 'vitest';
import { CONNECTION_REQUEST_TTL_MS } from '../auth/connection-requests.js';
import { authConfig, connectionRequest } from '../test/auth-store-records.js';
import { withSqliteLogFile } from '../test/log-records.js';
import { expectIndexedPlans, recordingPgStatements } from '../test/pg-plans.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import type { Store } from './types.js';

/**
 * The count bound of credential-form requests reads one user's open form requests of one auth config
 * from migration 17's index, in the insert's transaction (on the request path): not the other users'
 * open requests, nor the user's requests that ran out of time (kept a day until the pruner takes
 * them), nor those completed or replaced. 20,000 of each kind here, beside the user's 15 form
 * requests. Checked on the query plans of the statement the stores run (no timing).
 */

const ROWS = 20_000;
const USER = 'user_bound';
const INDEX = 'toolmux_connection_requests_user_open_forms';
/** The statement of the bound, as the stores write it. */
const BOUND_STATEMENT = /AND id <> [?$]\d* ORDER BY created_at DESC/;

/** SQL that fills the table: other users' open form requests, and the user's expired, completed and replaced ones. */
function fill(dialect: Store['dialect']): string[] {
  const ago = (ms: number) =>
    dialect === 'sqlite'
      ? `(CAST(unixepoch('subsec') * 1000 AS INTEGER) - ${ms})`
      : `now() - interval '${ms} milliseconds'`;
  const series = `WITH RECURSIVE series(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < ${ROWS}) `;
  const requests = (prefix: string, user: string, status: string, expiresAgo: number, replaced: boolean) =>
    `${series}INSERT INTO toolmux_connection_requests (id, kind, connected_account_id, user_id, toolkit, auth_config_id, callback_url, status, expires_at, created_at, replaced_at) ` +
    `SELECT '${prefix}' || g, 'fields', NULL, ${user}, 'gmail', 'ac_1', 'https://app.example.com', '${status}', ${ago(expiresAgo)}, ${ago(expiresAgo + CONNECTION_REQUEST_TTL_MS)}, ${replaced ? ago(expiresAgo) : 'NULL'} FROM series`;
  return [
    requests('cr_theirs_', "'user_' || (g % 1000)", 'PENDING', -5 * 60_000, false),
    requests('cr_timed_out_', `'${USER}'`, 'PENDING', 60 * 60_000, false),
    requests('cr_completed_', `'${USER}'`, 'COMPLETED', -5 * 60_000, false),
    requests('cr_replaced_', `'${USER}'`, 'PENDING', 60_000, true),
  ];
}

/** 15 form requests of the user, then one more: as the ToolMux inserts them. */
async function runBound(store: Store): Promise<number> {
  await store.insertAuthConfig(authConfig({ id: 'ac_1', toolkit: 'gmail', type: 'api_key', secret: null }));
  const base = Date.now() - 60_000;
  const insert = (at: number) =>
    store.insertFieldsRequest!(
      connectionRequest({
        kind: 'fields',
        connectedAccountId: null,
        userId: USER,
        authConfigId: 'ac_1',
        toolkit: 'gmail',
        stateHash: null,
        secret: null,
        redirectUri: null,
        createdAt: new Date(at),
        expiresAt: new Date(at + CONNECTION_REQUEST_TTL_MS),
      }),
      10,
    );
  for (let index = 0; index < 15; index++) await insert(base + index);
  return insert(base + 100);
}

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `form request bound query plan on PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    it("reads the user's open form requests of the config from migration 17's index, with custom and generic plans: no table scan", {
      timeout: 60_000,
    }, async () => {
      await withTestDatabase(async (database) => {
        await database.store.migrate();
        for (const statement of fill('postgres')) await database.query(statement);
        await database.query('ANALYZE toolmux_connection_requests');
        const { value, sent } = await recordingPgStatements(BOUND_STATEMENT, () => runBound(database.store));
        expect(value).toBe(1);
        await database.withClient((client) => expectIndexedPlans(client, sent.at(-1)!, INDEX));
      });
    });
  },
);

describe('form request bound query plan on SQLite', () => {
  it("searches the user's open form requests of the config in migration 17's index, without a table scan", async () => {
    await withSqliteLogFile(async ({ store, database, sent, plan }) => {
      for (const statement of fill('sqlite')) database.exec(statement);
      database.exec('ANALYZE');
      expect(await runBound(store)).toBe(1);
      const text = sent.find((each) => BOUND_STATEMENT.test(each))!;
      const details = plan(
        text,
        ...text
          .split('?')
          .slice(1)
          .map(() => 'x'),
      );
      expect(
        details.filter((detail) => /^SCAN toolmux_connection_requests\b/.test(detail)),
        `${text}\n${details.join('\n')}`,
      ).toEqual([]);
      expect(details.join('\n'), text).toMatch(new RegExp(`USING (COVERING )?INDEX ${INDEX} \\(`));
    }, BOUND_STATEMENT);
  });
});
