import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { ToolResult } from '../execution/result.js';
import { createTestPostgresUrl, postgresSkipReason, testPostgresUrl } from '../test/postgres.js';
import { ToolMux } from '../toolmux.js';

const skipPostgres = await postgresSkipReason();

/** Run after each test, last added first. */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A tool that answers after `ms` milliseconds, so that calls started together answer spread out. */
const waits = defineToolkit({
  slug: 'waits',
  name: 'Waits',
  description: 'Waits a while.',
  tools: [
    defineTool({
      slug: 'WAITS_WAIT',
      description: 'Waits ms milliseconds.',
      inputSchema: z.object({ ms: z.number().int().min(0).max(1_000) }),
      execute: async ({ ms }) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return { waited: ms };
      },
    }),
  ],
});

/** Runs `text` on the test server, outside the schema under test. */
async function onServer<T>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: testPostgresUrl() });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

describe.skipIf(skipPostgres !== undefined)(`PostgreSQL connections that end ${skipPostgres ?? ''}`, () => {
  it("lose no answered call's log entry when every connection of the store is terminated while entries commit (a failover, an administrator, a pooler restart): the retry goes to a new connection, not to another pooled one ended by the same event", async () => {
    const database = await createTestPostgresUrl();
    cleanups.push(database.cleanup);
    // the store's connections, and only they, carry this name: the test ends exactly those
    const applicationName = `toolmux_loss_${randomBytes(6).toString('hex')}`;
    const url = new URL(database.url);
    url.searchParams.set('application_name', applicationName);
    const errors: string[] = [];
    const mux = new ToolMux({
      toolkits: [waits],
      store: url.toString(),
      secretKey: randomBytes(32).toString('base64'),
      logger: { debug() {}, warn() {}, error: (message: unknown) => errors.push(String(message)) },
    });
    cleanups.push(() => mux.close());
    const session = await mux.create('user_1', { toolkits: ['waits'] });
    const results: ToolResult[] = [];
    // the event is a race with the commits under way: each round ends the connections once, while
    // calls answer (and their entries commit) every millisecond or so
    for (let round = 0; round < 8; round++) {
      const calls = Array.from({ length: 120 }, (_, index) =>
        session.execute('WAITS_WAIT', { ms: index }).then((result) => results.push(result)),
      );
      await new Promise((resolve) => setTimeout(resolve, 40));
      await onServer('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        applicationName,
      ]);
      await Promise.all(calls);
    }
    expect(results).toHaveLength(8 * 120);
    // a call whose session check met the outage answers STORE_ERROR: its tool did not run, nothing is logged
    const unlogged = results.filter((result) => result.logId === '');
    expect(unlogged.map((result) => [result.successful, result.code])).toEqual(
      unlogged.map(() => [false, 'STORE_ERROR']),
    );
    const answered = results.map((result) => result.logId).filter((id) => id !== '');
    expect(answered.length).toBeGreaterThan(results.length / 2);
    const stored = new Set(
      (
        await onServer<{ id: string }>(
          `SELECT id FROM "${database.schema}".toolmux_execution_logs WHERE id = ANY($1)`,
          [answered],
        )
      ).map((row) => row.id),
    );
    // before, a few answered calls per round had no entry: "could not write 1 execution log entry"
    expect(answered.filter((id) => !stored.has(id))).toEqual([]);
    expect(errors.filter((message) => message.includes('could not write'))).toEqual([]);
  }, 60_000);

  it('send a statement the server ended in place of answering it again on a new connection: use(), create() and update() caught by a failover succeed (they were STORE_ERROR)', async () => {
    const database = await createTestPostgresUrl();
    cleanups.push(database.cleanup);
    const applicationName = `toolmux_ended_${randomBytes(6).toString('hex')}`;
    const url = new URL(database.url);
    url.searchParams.set('application_name', applicationName);
    const secretKey = randomBytes(32).toString('base64');
    const quiet = { debug() {}, warn() {}, error() {} };
    const mux = new ToolMux({ toolkits: [waits], store: url.toString(), secretKey, logger: quiet });
    // another instance, whose use() reads the session from the store (no cache of it yet)
    const other = new ToolMux({ toolkits: [waits], store: url.toString(), secretKey, logger: quiet });
    cleanups.push(
      () => mux.close(),
      () => other.close(),
    );
    const session = await mux.create('user_1', { toolkits: ['waits'] });
    await other.create('user_0', { toolkits: ['waits'] });
    // the statements wait on a lock while the connections under them are ended: each is ended
    // mid-statement, deterministically (a server ending connections in a failover does the same)
    const locker = new Client({ connectionString: testPostgresUrl() });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${database.schema}".toolmux_sessions IN ACCESS EXCLUSIVE MODE`);
    const outcomes = Promise.allSettled([
      other.use(session.sessionId).then((used) => used.sessionId),
      mux.create('user_2', { toolkits: ['waits'] }).then((created) => created.userId),
      session.update({ metadata: { step: 'two' } }),
    ]);
    const waiting = async () =>
      (
        await onServer<{ count: string }>(
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [applicationName],
        )
      )[0]!.count;
    for (let tries = 0; (await waiting()) !== '3'; tries++) {
      if (tries > 200) throw new Error(`the three statements never waited on the lock (${await waiting()})`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await onServer('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);
    await locker.query('ROLLBACK');
    const settled = await outcomes;
    expect(
      settled.map((outcome) => (outcome.status === 'fulfilled' ? 'ok' : String(outcome.reason))),
    ).toEqual(['ok', 'ok', 'ok']);
    expect(settled.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value)).toEqual([
      session.sessionId,
      'user_2',
      2,
    ]);
    expect((await other.use(session.sessionId)).metadata).toEqual({ step: 'two' });
  }, 60_000);
});
