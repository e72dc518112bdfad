import type { Pool } from 'pg';
import { describe, expect, it } from 'vitest';
import { logRecord } from '../test/log-records.js';
import { postgresSkipReason, testPostgresUrl, withTestDatabase } from '../test/postgres.js';
import { PostgresStore } from './postgres.js';

const skipPostgres = await postgresSkipReason();

/** What a pool's connections say of `synchronous_commit` (the pools are private to the store). */
async function synchronousCommit(store: PostgresStore, pool: 'pool' | 'logPool'): Promise<string> {
  const { rows } = await (store as unknown as Record<typeof pool, Pool>)[pool].query(
    'SHOW synchronous_commit',
  );
  return rows[0].synchronous_commit;
}

describe.skipIf(skipPostgres !== undefined)(`PostgreSQL log commits ${skipPostgres ?? ''}`, () => {
  it("by default, only the execution log's connections commit without waiting for the disk", async () => {
    await withTestDatabase(async (database) => {
      await database.store.migrate();
      // several connections of the log pool at once: each new one gets the setting before its first insert
      const sessions = Array.from({ length: 4 }, (_, index) => `ses_${String(index).padStart(38, '0')}`);
      await Promise.all(
        sessions.map((sessionId, index) =>
          database.store.insertLogs([
            logRecord({ id: `log_${String(index).padStart(38, '0')}`, sessionId, parentId: undefined }),
          ]),
        ),
      );
      const stored = await database.query('SELECT count(*)::int AS n FROM toolmux_execution_logs');
      expect(stored[0]!.n).toBe(4);
      expect(await synchronousCommit(database.store, 'logPool')).toBe('off');
      expect(await synchronousCommit(database.store, 'pool')).toBe('on');
    });
  });

  it("logCommit: 'disk' makes log commits wait for the disk too; a wrong value is refused", async () => {
    const store = await PostgresStore.create({ connectionString: testPostgresUrl(), logCommit: 'disk' });
    try {
      expect(await synchronousCommit(store, 'logPool')).toBe('on');
    } finally {
      await store.close();
    }
    await expect(
      PostgresStore.create({ connectionString: testPostgresUrl(), logCommit: 'fast' as 'disk' }),
    ).rejects.toMatchObject({ code: 'STORE_CONFIG_INVALID', message: expect.stringContaining('"fast"') });
  });
});
