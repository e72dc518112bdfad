import { randomBytes } from 'node:crypto';
import { ToolMux } from '@toolmux/core';
import { createTestPostgresStore, postgresSkipReason } from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { TEST_API_KEY } from './test-helpers.js';

/**
 * `/readyz` needs no key, and pinged the store once per request: a flood of concurrent probes took
 * every connection of the pool (ten by default), which the API's requests then waited for. The
 * probes that arrive while a ping runs share it now.
 */
const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(`/readyz on PostgreSQL ${skipPostgres ?? ''}`, () => {
  it('answers concurrent probes with one query at a time, and each probe after it ended with a new one', async () => {
    const database = await createTestPostgresStore(); // only to run SQL on the server
    const applicationName = `toolmux_readyz_${randomBytes(4).toString('hex')}`;
    const url = new URL(database.connectionString);
    url.searchParams.set('options', `-c search_path=${database.schema}`);
    url.searchParams.set('application_name', applicationName);
    await database.withClient((client) => client.query(`CREATE SCHEMA "${database.schema}"`));
    const mux = new ToolMux({
      store: url.toString(),
      toolkits: [],
      secretKey: randomBytes(32).toString('base64'),
    });
    const connections = async () =>
      (
        await database.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
          [applicationName],
        )
      )[0]!.n;
    try {
      const { app } = createServer({ toolmux: mux, apiKey: TEST_API_KEY });
      expect((await app.request('/readyz')).status).toBe(200); // opens and migrates the store
      const before = await connections();
      const answers = await Promise.all(Array.from({ length: 40 }, () => app.request('/readyz')));
      expect(answers.map((answer) => answer.status)).toEqual(Array(40).fill(200));
      // on the old code each probe took a connection of its own: 10, the pool's size
      expect(await connections()).toBeLessThanOrEqual(Math.max(before, 1));
      // nothing is cached: the next probe asks the store again, and sees what went wrong at once
      await database.query('DROP TABLE toolmux_migrations CASCADE');
      const gone = await app.request('/readyz');
      expect(gone.status).toBe(503);
    } finally {
      await mux.close();
      await database.cleanup();
    }
  });
});
