import { Client } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { logRecord } from '../test/log-records.js';
import {
  createTestPostgresUrl,
  type PostgresProxy,
  postgresSkipReason,
  startPostgresProxy,
  testPostgresUrl,
} from '../test/postgres.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { PostgresStore } from './postgres.js';

const skipPostgres = await postgresSkipReason();
const quiet = { debug() {}, warn() {}, error() {} };

/** How long the test lets one operation take before it calls it hung (the old code waited for minutes). */
const HUNG_MS = 4_000;

/** Runs `work`, and how long it took to settle: its value or error, or `'hung'` past {@link HUNG_MS}. */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), HUNG_MS);
  });
  try {
    const value = await Promise.race([work(), hung]);
    if (value === 'hung') return { ms: performance.now() - started, error: 'hung' };
    return { ms: performance.now() - started, value: value as T };
  } catch (error) {
    return { ms: performance.now() - started, error };
  } finally {
    clearTimeout(timer);
  }
}

/** Run after each test, last added first. */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A migrated schema, and the proxy in front of the test server. */
async function setUp(): Promise<{ proxy: PostgresProxy; schema: string }> {
  const database = await createTestPostgresUrl();
  cleanups.push(database.cleanup);
  const migrating = await PostgresStore.create({ connectionString: database.url });
  await migrating.migrate();
  await migrating.close();
  const proxy = await startPostgresProxy();
  cleanups.push(() => proxy.close());
  return { proxy, schema: database.schema };
}

describe.skipIf(skipPostgres !== undefined)(`PostgreSQL that drops packets ${skipPostgres ?? ''}`, () => {
  it('fails calls, log reads and session reads within the configured bounds, and recovers at once', async () => {
    const { proxy, schema } = await setUp();
    const store = `${proxy.url(schema)}&connect_timeout=0.4&query_timeout=600`;
    const mux = new ToolMux({
      toolkits: createSampleToolkits().toolkits,
      store,
      secretKey: Buffer.alloc(32, 7).toString('base64'),
      logger: quiet,
      accountCacheTtlMs: 0,
    });
    cleanups.push(() => mux.close());
    // first (the old code's close waited for ever on silent connections): connections end at once
    cleanups.push(() => proxy.close());
    const session = await mux.create('user_blackhole', { toolkits: ['tasks'] });
    expect(await session.execute('TASKS_CREATE_TASK', { title: 'before' })).toMatchObject({
      successful: true,
    });

    proxy.blackHole(true);
    // an open pooled connection that goes silent: the statement gets no answer (query_timeout)
    // (the project's log: session.logs() reads the session's row first, since a deleted session has none)
    const read = await timed(() => mux.logs.list({ sessionId: session.sessionId }));
    // new connections go nowhere (connect_timeout), and neither do the pooled ones
    const use = await timed(() => mux.use(session.sessionId));
    const call = await timed(() => session.execute('TASKS_CREATE_TASK', { title: 'during' }));
    const logs = await timed(() => session.logs());
    // each within its bound (the old code waited for the kernel's TCP timeouts: minutes)
    expect([read, use, call, logs].map(({ error }) => error)).not.toContain('hung');
    expect(read.ms).toBeLessThan(600 + 1_000);
    for (const { ms } of [use, call, logs]) expect(ms).toBeLessThan(600 + 400 + 1_000);
    // as STORE_ERROR that names what timed out and the setting
    expect(read.error).toBeInstanceOf(ToolMuxError);
    expect(read.error).toMatchObject({
      code: 'STORE_ERROR',
      message: expect.stringContaining(
        'PostgreSQL did not answer within 600 ms (the connection was closed, not reused). Check that the database is reachable and answering; if it only needs longer, raise query_timeout in the store URL',
      ),
      details: { operation: 'list execution logs', timeout: 'query_timeout', timeoutMs: 600 },
    });
    expect(logs.error).toMatchObject({
      code: 'STORE_ERROR',
      message: expect.stringContaining('within 400 ms'),
      details: { timeout: 'connect_timeout', timeoutMs: 400 },
    });
    // the store's clean-up at open (connection-state-pruning.ts) ran beside the first calls, so the
    // pool may hold a second connection: `use` then fails on it at once (ended with the silent ones)
    // instead of waiting for a new one
    expect(use.error).toMatchObject({ code: 'STORE_ERROR', details: { operation: 'read a session' } });
    expect(call.value).toMatchObject({ successful: false, code: 'STORE_ERROR' });

    // the network comes back: the silent connections are not reused, new ones answer at once
    proxy.blackHole(false);
    const again = await timed(() => session.logs());
    expect(again.error).toBeUndefined();
    expect(again.ms).toBeLessThan(500);
    const after = await timed(() => session.execute('TASKS_CREATE_TASK', { title: 'after' }));
    expect(after.value).toMatchObject({ successful: true });
    expect(after.ms).toBeLessThan(500);
    const resumed = await timed(() => mux.use(session.sessionId));
    expect(resumed.error).toBeUndefined();
  }, 30_000);

  it('mux.close({ timeoutMs }) ends within its bounds when the database stops answering while a call runs, not after query_timeout', async () => {
    const { proxy, schema } = await setUp();
    // a query_timeout far past what close() may take: only close()'s own bounds can end it in time
    const mux = new ToolMux({
      toolkits: createSampleToolkits().toolkits,
      store: `${proxy.url(schema)}&connect_timeout=0.5&query_timeout=20000`,
      secretKey: Buffer.alloc(32, 7).toString('base64'),
      logger: quiet,
    });
    cleanups.push(() => proxy.close());
    const session = await mux.create('user_blackhole', { toolkits: ['tasks'] });
    expect(await session.execute('TASKS_CREATE_TASK', { title: 'before' })).toMatchObject({
      successful: true,
    });
    proxy.blackHole(true);
    const started = performance.now();
    const call = session
      .execute('TASKS_CREATE_TASK', { title: 'during' })
      .then(() => performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = performance.now();
    await mux.close({ timeoutMs: 200 });
    const closeMs = performance.now() - closing;
    // timeoutMs, then 2 s for the stopped call to answer, 2 s for its entry's commit, and
    // connect_timeout for the connections to be cut (the old code waited for query_timeout: 20 s)
    expect(closeMs).toBeLessThan(200 + 2_000 + 2_000 + 500 + 2_000);
    // the call answered too, its entry reported lost rather than waited for
    expect(await call).toBeLessThan(100 + 200 + 2_000 + 2_000 + 500 + 2_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(proxy.openConnections()).toBe(0);
  }, 40_000);

  it('closes within connect_timeout when the database stopped answering', async () => {
    const { proxy, schema } = await setUp();
    const store = await PostgresStore.create({
      connectionString: `${proxy.url(schema)}&connect_timeout=0.3`,
    });
    cleanups.push(() => proxy.close());
    // connections of both pools and the LISTEN connection open, then silent (a connection that a
    // loaded machine did not set up within the 300 ms is tried again: the set-up is not under test)
    const opened = async (work: () => Promise<unknown>) => {
      for (let attempt = 1; ; attempt++) {
        const { error } = await timed(work);
        if (error === undefined) return;
        if (attempt === 5) throw error;
      }
    };
    await opened(() => store.ping());
    await opened(() => store.insertLogs([logRecord({ sessionId: null, parentId: undefined })]));
    const watch = store.watchConnections('user_1', () => {});
    expect(await watch.ready).toBe(true);
    proxy.blackHole(true);
    const closing = await timed(() => store.close());
    expect(closing.error).toBeUndefined();
    expect(closing.ms).toBeLessThan(300 + 1_000);
    // and nothing is left open that would keep the process from exiting
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(proxy.openConnections()).toBe(0);
  });

  it("gives migrations migration_timeout, not query_timeout: they may wait for another instance's", async () => {
    const database = await createTestPostgresUrl();
    cleanups.push(database.cleanup);
    // another instance migrates: it holds the lock for longer than query_timeout
    const other = new Client({ connectionString: testPostgresUrl() });
    await other.connect();
    cleanups.push(() => other.end());
    // the lock of this schema's migrations (a store with a schema of its own locks only its own)
    const lock = [`toolmux_migrations:${database.schema}`];
    const url = (parameters: string) => `${testPostgresUrl()}?${parameters}`;
    await other.query('SELECT pg_advisory_lock(hashtext($1))', lock);
    const store = await PostgresStore.create({
      connectionString: url('query_timeout=200&migration_timeout=5000'),
      schema: database.schema,
    });
    cleanups.push(() => store.close());
    const migrating = store.migrate().then(
      () => undefined,
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 600));
    await other.query('SELECT pg_advisory_unlock(hashtext($1))', lock);
    expect(await migrating).toBeUndefined();
    await store.ping();

    // and migration_timeout bounds them
    await other.query('SELECT pg_advisory_lock(hashtext($1))', lock);
    const bounded = await PostgresStore.create({
      connectionString: url('migration_timeout=300'),
      schema: database.schema,
    });
    cleanups.push(() => bounded.close());
    const started = performance.now();
    await expect(bounded.migrate()).rejects.toMatchObject({
      code: 'STORE_ERROR',
      message: expect.stringContaining('raise migration_timeout in the store URL (migrationTimeoutMs'),
      details: { operation: 'run migrations', timeout: 'migration_timeout', timeoutMs: 300 },
    });
    expect(performance.now() - started).toBeLessThan(300 + 1_000);
    await other.query('SELECT pg_advisory_unlock(hashtext($1))', lock);
  });

  it('migrates with the longest migration_timeout it accepts, which no timer of this side may overflow', async () => {
    const database = await createTestPostgresUrl();
    cleanups.push(database.cleanup);
    // Node runs a timer of more than 2^31 - 1 ms after 1 ms: every statement would time out at once
    const store = await PostgresStore.create({
      connectionString: database.url,
      migrationTimeoutMs: 2_147_483_647,
    });
    cleanups.push(() => store.close());
    await expect(store.migrate()).resolves.toBeUndefined();
    expect((await store.appliedMigrations()).length).toBeGreaterThan(0);
  });
});

describe('PostgreSQL wait settings', () => {
  it.each([
    ['connect_timeout=abc', '"abc"'],
    ['connect_timeout=0', '"0"'],
    ['connect_timeout=', '""'],
    ['query_timeout=1.5', '"1.5"'],
    ['query_timeout=-5', '"-5"'],
    ['migration_timeout=10min', '"10min"'],
    ['keepalives_idle=never', '"never"'],
  ])('refuses %s in the store URL, naming the value', async (parameter, shown) => {
    const name = parameter.slice(0, parameter.indexOf('='));
    await expect(
      PostgresStore.create({ connectionString: `postgres://u:secret@db.invalid/x?${parameter}` }),
    ).rejects.toMatchObject({
      code: 'STORE_CONFIG_INVALID',
      message: expect.stringMatching(new RegExp(`${name} must be .*; got ${shown}\\.`)),
    });
  });

  it('refuses an option that is no positive whole number of milliseconds', async () => {
    for (const [option, value] of [
      ['queryTimeoutMs', 0],
      ['connectTimeoutMs', 1.5],
      ['migrationTimeoutMs', Number.NaN],
      ['keepAliveIdleMs', 2 ** 31],
    ] as const) {
      await expect(
        PostgresStore.create({ connectionString: 'postgres://db.invalid/x', [option]: value }),
      ).rejects.toMatchObject({
        code: 'STORE_CONFIG_INVALID',
        message: expect.stringContaining(`${option} must be a whole number of milliseconds`),
      });
    }
  });
});
