import { describe, expect, it } from 'vitest';
import { CONNECTION_REQUEST_TTL_MS } from '../auth/connection-requests.js';
import { account, authConfig, connectionRequest } from '../test/auth-store-records.js';
import { withSqliteLogFile } from '../test/log-records.js';
import { expectIndexedPlans, recordingPgStatements } from '../test/pg-plans.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import type { Store } from './types.js';

/**
 * The count bounds of connection state read one user's rows of one auth config from migration 16's
 * indexes: a start's count of the pending attempts (on the request path, in the start's transaction)
 * and the pruner's bound of accounts never connected. Neither scans a table nor grows with the other
 * users' rows or the user's connected accounts: 20,000 of those here, beside 15 pending attempts and
 * 15 accounts never connected of the user. Checked on the query plans of the statements the stores
 * run (no timing).
 */

const ROWS = 20_000;
const USER = 'user_bound';

/** The statements of the two bounds, as the stores write them. */
const BOUND_STATEMENTS = /AND id <> [?$]|AS boundary|OFFSET 10\b/;

/** SQL that fills the tables: `ROWS` connected accounts (some of the user), attempts and accounts never connected of others. */
function fill(dialect: Store['dialect']): string[] {
  const ago = (ms: number) =>
    dialect === 'sqlite'
      ? `(CAST(unixepoch('subsec') * 1000 AS INTEGER) - ${ms})`
      : `now() - interval '${ms} milliseconds'`;
  const series = `WITH RECURSIVE series(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < ${ROWS}) `;
  const accounts = (prefix: string, user: string, status: string, held: boolean) =>
    `${series}INSERT INTO toolmux_connected_accounts (id, user_id, toolkit, auth_config_id, status, secret, key_id, version, connected_at, created_at, updated_at) ` +
    `SELECT '${prefix}' || g, ${user}, 'github', 'ac_1', '${status}', ${held ? "'v1.c2VhbGVk', 'key'" : 'NULL, NULL'}, 1, ` +
    `${held ? ago(60_000) : 'NULL'}, ${ago(60_000)}, ${ago(60_000)} FROM series`;
  return [
    // the user's own connected accounts of the config, and other users' of every kind
    accounts('ca_mine_', `'${USER}'`, 'ACTIVE', true),
    accounts('ca_live_', "'user_' || (g % 1000)", 'ACTIVE', true),
    accounts('ca_attempt_', "'user_' || (g % 1000)", 'INITIATED', false),
    accounts('ca_failed_', "'user_' || (g % 1000)", 'FAILED', false),
    // the other users' attempts' requests, pending
    `${series}INSERT INTO toolmux_connection_requests (id, kind, connected_account_id, user_id, toolkit, auth_config_id, callback_url, status, expires_at, created_at) ` +
      `SELECT 'cr_attempt_' || g, 'fields', 'ca_attempt_' || g, 'user_' || (g % 1000), 'github', 'ac_1', 'https://app.example.com', 'PENDING', ${ago(-10 * 60_000)}, ${ago(0)} FROM series`,
  ];
}

/** 15 pending attempts of the user, then one more start, then the pruner's bound: as the ToolMux runs them. */
async function runBounds(store: Store): Promise<number[]> {
  await store.insertAuthConfig(authConfig({ id: 'ac_1', secret: null }));
  const base = Date.now() - 60_000;
  const start = (at: number) => {
    const attempt = account({
      userId: USER,
      authConfigId: 'ac_1',
      status: 'INITIATED',
      secret: null,
      connectedAt: null,
      createdAt: new Date(at),
      updatedAt: new Date(at),
    });
    const request = connectionRequest({
      connectedAccountId: attempt.id,
      userId: USER,
      authConfigId: 'ac_1',
      createdAt: new Date(at),
      expiresAt: new Date(at + CONNECTION_REQUEST_TTL_MS),
    });
    return store.insertConnectionAttempt!(attempt, request, 10);
  };
  for (let index = 0; index < 15; index++) await start(base + index);
  // 15 accounts never connected of the user too (the 5 ended above, and 10 more)
  for (let index = 0; index < 10; index++) {
    await store.insertConnectedAccount(
      account({ userId: USER, authConfigId: 'ac_1', status: 'FAILED', secret: null, connectedAt: null }),
    );
  }
  return [await start(base + 100), await store.deleteNeverConnectedAccountsBeyond!(10, new Date(base), 100)];
}

const INDEXES = [
  'toolmux_connected_accounts_user_attempts',
  'toolmux_connected_accounts_user_never_connected',
];

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `connection count bound query plans on PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    it("each bound reads the user's rows of the config from its own index, with custom and generic plans: no table scan", {
      timeout: 60_000,
    }, async () => {
      await withTestDatabase(async (database) => {
        await database.store.migrate();
        for (const statement of fill('postgres')) await database.query(statement);
        await database.query('ANALYZE toolmux_connected_accounts');
        await database.query('ANALYZE toolmux_connection_requests');
        const { value, sent } = await recordingPgStatements(BOUND_STATEMENTS, () =>
          runBounds(database.store),
        );
        expect(value).toEqual([1, 6]);
        // the last start's count, and the pruner's bound
        const statements = [sent.at(-2)!, sent.at(-1)!];
        await database.withClient(async (client) => {
          for (const [index, statement] of statements.entries())
            await expectIndexedPlans(client, statement, INDEXES[index]!);
        });
      });
    });
  },
);

describe('connection count bound query plans on SQLite', () => {
  it("each bound searches the user's rows of the config in its own index, without a table scan", async () => {
    await withSqliteLogFile(async ({ store, database, sent, plan }) => {
      for (const statement of fill('sqlite')) database.exec(statement);
      database.exec('ANALYZE');
      expect(await runBounds(store)).toEqual([1, 6]);
      const statements = [
        sent.find((text) => /AND id <> \?/.test(text))!,
        sent.find((text) => /OFFSET 10\b/.test(text))!,
      ];
      for (const [index, text] of statements.entries()) {
        const details = plan(
          text,
          ...text
            .split('?')
            .slice(1)
            .map(() => 'x'),
        );
        expect(
          details.filter((detail) => /^SCAN toolmux_connected_accounts\b/.test(detail)),
          `${text}\n${details.join('\n')}`,
        ).toEqual([]);
        expect(details.join('\n'), text).toMatch(new RegExp(`USING (COVERING )?INDEX ${INDEXES[index]} \\(`));
      }
    }, BOUND_STATEMENTS);
  });
});
