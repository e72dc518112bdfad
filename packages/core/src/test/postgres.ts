import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { Client, QueryResultRow } from 'pg';
import { errorMessage } from '../errors.js';
import { MIGRATIONS, MIGRATIONS_TABLE_SQL } from '../store/migrations.js';
import { PostgresStore } from '../store/postgres.js';
import { shownStoreSpec } from '../store/store-spec-text.js';
import { generatedLogInsert } from './log-records.js';

/** The server PostgreSQL tests use: `TOOLMUX_TEST_POSTGRES_URL`, else a local trust-auth server. */
export function testPostgresUrl(): string {
  return process.env.TOOLMUX_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

/** A fresh schema on the test server, with a store on it. */
export interface TestPostgresStore {
  /** A store on {@link TestPostgresStore.schema}, not yet migrated: call `migrate()` or pass it to `openStore()`. */
  store: PostgresStore;
  connectionString: string;
  /** The uniquely named schema; `migrate()` creates it. */
  schema: string;
  /** Opens one more store on the same schema (closed by `cleanup()`), e.g. to play a second server process. */
  openAnotherStore(): Promise<PostgresStore>;
  /** Runs SQL on the schema past the store, to check what it wrote. */
  query<T extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  /** Runs `work` with one client on the schema (for statements that need one session: SET, PREPARE). */
  withClient<T>(work: (client: Client) => Promise<T>): Promise<T>;
  /**
   * Closes every store opened here and empties the schema for another test ({@link emptyTestSchema}):
   * `true` when it was, then {@link TestPostgresStore.openAnotherStore} opens the next test's store;
   * `false` when it cannot be (call `cleanup()`).
   */
  emptyForReuse(): Promise<boolean>;
  /** Closes every store opened here and drops the schema. */
  cleanup(): Promise<void>;
}

/** Connects one client to the test server, with `search_path` set to `schema` when given. */
async function withClient<T>(schema: string | undefined, work: (client: Client) => Promise<T>): Promise<T> {
  const { Client } = await import('pg');
  const client = new Client({
    connectionString: testPostgresUrl(),
    connectionTimeoutMillis: 5_000,
    options: schema === undefined ? undefined : `-c search_path=${schema}`,
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Why the test server cannot be used, or `undefined` when it answers. */
async function unreachableReason(): Promise<string | undefined> {
  try {
    await withClient(undefined, (client) => client.query('SELECT 1'));
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

/** True when the test PostgreSQL server ({@link testPostgresUrl}) accepts a connection within 5 s. */
export async function postgresAvailable(): Promise<boolean> {
  return (await unreachableReason()) === undefined;
}

/**
 * Decides whether PostgreSQL tests run: `undefined` when the server answers, else the reason to skip
 * them. Under CI (`CI` set and not `false`/`0`) an unreachable server throws instead, so the test file
 * fails rather than skipping what CI must check.
 *
 * @example
 * ```ts
 * const skipPostgres = await postgresSkipReason();
 * describe.skipIf(skipPostgres !== undefined)(`postgres ${skipPostgres ?? ''}`, () => { … });
 * ```
 */
export async function postgresSkipReason(): Promise<string | undefined> {
  const cause = await unreachableReason();
  if (cause === undefined) return undefined;
  const where = shownStoreSpec(testPostgresUrl());
  const reason = `PostgreSQL at ${where} is unreachable (${cause}); start it or set TOOLMUX_TEST_POSTGRES_URL`;
  const ci = process.env.CI;
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') {
    throw new Error(`${reason}. CI must run the PostgreSQL tests, so this fails instead of skipping.`);
  }
  return reason;
}

/**
 * A store on a new, uniquely named schema of the test server. Call `cleanup()` when done; prefer
 * {@link withTestDatabase}, which does so.
 */
export async function createTestPostgresStore(): Promise<TestPostgresStore> {
  const connectionString = testPostgresUrl();
  const schema = `toolmux_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  const stores = [await PostgresStore.create({ connectionString, schema, poolSize: 4 })];
  return {
    store: stores[0]!,
    connectionString,
    schema,
    async openAnotherStore() {
      // a connection setting of its own (the application name): stores of one process that connect
      // alike share their pools, and this one plays another process
      const url = new URL(connectionString);
      url.searchParams.set('application_name', `toolmux_test_store_${stores.length + 1}`);
      const store = await PostgresStore.create({ connectionString: url.toString(), schema, poolSize: 4 });
      stores.push(store);
      return store;
    },
    async query<T extends QueryResultRow>(text: string, values: unknown[] = []) {
      return withClient(schema, async (client) => (await client.query<T>(text, values)).rows);
    },
    withClient: (work) => withClient(schema, work),
    async emptyForReuse() {
      await Promise.all(stores.splice(0).map((store) => store.close()));
      return emptyTestSchema(schema);
    },
    async cleanup() {
      await Promise.all(stores.splice(0).map((store) => store.close()));
      await withClient(undefined, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    },
  };
}

/** Runs `work` with a {@link createTestPostgresStore} store and cleans up afterwards, also when it throws. */
export async function withTestDatabase<T>(work: (database: TestPostgresStore) => Promise<T>): Promise<T> {
  const database = await createTestPostgresStore();
  try {
    return await work(database);
  } finally {
    await database.cleanup();
  }
}

/**
 * A connection URL whose connections use a new, uniquely named schema (via `options=-c search_path`),
 * for tests that hand a plain URL to `new ToolMux({ store })` or to another process.
 */
export async function createTestPostgresUrl(): Promise<{
  url: string;
  schema: string;
  cleanup(): Promise<void>;
}> {
  const schema = `toolmux_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  await withClient(undefined, (client) => client.query(`CREATE SCHEMA "${schema}"`));
  const url = new URL(testPostgresUrl());
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    schema,
    cleanup: () =>
      withClient(undefined, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).then(
        () => undefined,
      ),
  };
}

/** The tables of a schema with every migration applied, but `toolmux_migrations`, once one was seen. */
let migratedTables: string[] | undefined;

/**
 * Empties a test schema that every migration was applied to, for the next test to use instead of a
 * new one: migrating a schema costs PostgreSQL ~0.3 s of CPU and dropping it ~0.1 s (and each such
 * change of the catalog makes the next connection of every process rebuild its catalog cache),
 * deleting a test's few rows some milliseconds. `true` when the schema is empty now, its applied
 * migrations exactly {@link MIGRATIONS}; `false` when it was not migrated so (never, or a test added
 * a migration): drop that one. (No test changes a migrated schema's tables by hand.)
 */
export async function emptyTestSchema(schema: string): Promise<boolean> {
  return withClient(schema, async (client) => {
    let applied: string | null;
    try {
      ({ applied } = (
        await client.query<{ applied: string | null }>(
          "SELECT string_agg(version::text, ',' ORDER BY version) AS applied FROM toolmux_migrations",
        )
      ).rows[0]!);
    } catch {
      return false; // not migrated: no toolmux_migrations
    }
    if (applied !== MIGRATIONS.map(({ version }) => version).join(',')) return false;
    migratedTables ??= (
      await client.query<{ name: string }>(
        `SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND tablename <> 'toolmux_migrations'
           ORDER BY tablename`,
        [schema],
      )
    ).rows.map(({ name }) => name);
    await client.query(`BEGIN; ${migratedTables.map((name) => `DELETE FROM "${name}";`).join(' ')} COMMIT;`);
    return true;
  });
}

/**
 * For benchmarks: the CPU time (µs) of every `postgres` process on this machine so far, from /proc
 * (clock ticks of 10 ms). The database shares the cores with what is measured, so work moved into it
 * is not work saved. Other users of the same server count too (compare turns of one run); 0 where
 * /proc is not there.
 */
export function postgresProcessesCpu(): number {
  let ticks = 0;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
        const close = stat.lastIndexOf(')');
        if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
        const fields = stat.slice(close + 2).split(' ');
        ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    return 0;
  }
  return ticks * 10_000;
}

/** A loopback TCP proxy in front of the test server (see {@link startPostgresProxy}). */
export interface PostgresProxy {
  /** {@link testPostgresUrl} with the proxy's host and port, and `search_path` set to `schema` when given. */
  url(schema?: string): string;
  /**
   * Black-hole mode: connections are still accepted and kept, open ones too, but no byte is forwarded
   * either way, as when a host or a network drops packets (no refusal, no reset). `false` forwards
   * again, on connections made from then on; the black-holed ones stay silent, as a connection
   * whose packets were lost does.
   */
  blackHole(on: boolean): void;
  /** Connections that clients of the proxy still hold open (black-holed or not). */
  openConnections(): number;
  close(): Promise<void>;
}

/**
 * Starts a TCP proxy on 127.0.0.1 (a free port) in front of the test server, to play a database
 * whose network drops packets: see {@link PostgresProxy.blackHole}.
 */
export async function startPostgresProxy(): Promise<PostgresProxy> {
  const { createServer, connect } = await import('node:net');
  const target = new URL(testPostgresUrl());
  const targetPort = Number(target.port || 5432);
  const targetHost = target.hostname || '127.0.0.1';
  let blackHoled = false;
  const sockets = new Set<import('node:net').Socket>();
  /** Silences the connections open now, for good. */
  const silencers = new Set<() => void>();
  // half-open: a client's FIN is not answered by the proxy's own (a black hole answers nothing)
  const server = createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    // accepted, then silence: what arrives is read and dropped
    client.on('data', () => {});
    if (blackHoled) return;
    let silent = false;
    const silence = () => {
      silent = true;
    };
    silencers.add(silence);
    const upstream = connect({ port: targetPort, host: targetHost, allowHalfOpen: true });
    upstream.on('error', () => {});
    upstream.on('data', (chunk) => {
      if (!silent) client.write(chunk);
    });
    client.on('data', (chunk) => {
      if (!silent) upstream.write(chunk);
    });
    // an end is passed on only while the connection forwards (a black hole delivers no FIN either)
    client.on('end', () => {
      if (!silent) upstream.end();
    });
    upstream.on('end', () => {
      if (!silent) client.end();
    });
    upstream.on('close', () => {
      silencers.delete(silence);
      if (!silent) client.destroy();
    });
    client.on('close', () => {
      silencers.delete(silence);
      upstream.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url(schema) {
      const url = new URL(testPostgresUrl());
      url.hostname = '127.0.0.1';
      url.port = String(port);
      if (schema !== undefined) url.searchParams.set('options', `-c search_path=${schema}`);
      return url.toString();
    },
    blackHole(on) {
      blackHoled = on;
      // a connection black-holed once stays silent, as one whose packets were lost
      if (on) for (const silence of silencers) silence();
    },
    // a client that closed its end is gone, though the proxy (half-open, silent) keeps its own
    openConnections: () => [...sockets].filter((socket) => !socket.destroyed && !socket.readableEnded).length,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Makes `schema` (created here when missing, in the test database) as migrations 1 to `version` left it, by hand
 * as that release did, with `logRows` execution log entries (100 sessions; see `generatedLogInsert`):
 * a database for an upgrade to migrate.
 */
export async function buildPostgresSchemaAt(schema: string, version: number, logRows = 0): Promise<void> {
  await withClient(undefined, (client) => client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`));
  await withClient(schema, async (client) => {
    await client.query(MIGRATIONS_TABLE_SQL.postgres);
    for (const migration of MIGRATIONS.slice(0, version)) {
      await client.query(migration.sql.postgres);
      await client.query(
        'INSERT INTO toolmux_migrations (version, name, applied_at) VALUES ($1, $2, now())',
        [migration.version, migration.name],
      );
    }
    if (logRows > 0) await client.query(generatedLogInsert('postgres', { rows: logRows, sessions: 100 }));
  });
}

/** What {@link openLogReader} opened. */
export interface OpenLogReader {
  /** Its backend's process id. */
  pid: number;
  /** Ends its transaction. */
  commit(): Promise<void>;
  /** Closes its connection (ending the transaction, if still open). */
  end(): Promise<void>;
}

/**
 * A transaction of another instance on `schema` that read the execution log and is still open:
 * REPEATABLE READ, so it keeps its snapshot, which a concurrent index build waits for (and it holds
 * the log table, as an in-place `DROP INDEX` waits for too).
 */
export async function openLogReader(schema: string): Promise<OpenLogReader> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: testPostgresUrl(), options: `-c search_path=${schema}` });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await client.query('SELECT count(*) FROM toolmux_execution_logs');
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return {
      pid: rows[0]!.pid,
      commit: async () => {
        await client.query('COMMIT');
      },
      end: () => client.end(),
    };
  } catch (error) {
    await client.end();
    throw error;
  }
}
