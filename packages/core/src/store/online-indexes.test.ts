import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedLogInsert } from '../test/log-records.js';
import {
  buildPostgresSchemaAt,
  createTestPostgresStore,
  type OpenLogReader,
  openLogReader,
  postgresSkipReason,
  type TestPostgresStore,
} from '../test/postgres.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { ONLINE_INDEX_FROM_BYTES, PostgresStore } from './postgres.js';

/**
 * Migrations 20 and 21 only make (and drop) indexes of the execution log. On a large log they are
 * built CONCURRENTLY, outside the migration transaction, so the instances of the previous release,
 * which serve while the new one migrates (a rolling deploy), go on writing and reading the log. In
 * one transaction, migration 20's CREATE INDEX held every log write until the migration committed
 * (and with it every call, which waits for its log commit), and migration 21's DROP INDEX every read.
 */

const skip = await postgresSkipReason();
const ALL_VERSIONS = MIGRATIONS.map((migration) => migration.version);
/** Log entries that make the table larger than ONLINE_INDEX_FROM_BYTES (about 250 bytes each). */
const ROWS = 60_000;
const NEW_INDEXES = ['toolmux_execution_logs_tool_slug_id', 'toolmux_execution_logs_parent_id'];

/** The schema at `version`, built by hand as that release did, with a log of {@link ROWS} entries. */
async function buildAt(database: TestPostgresStore, version: number): Promise<void> {
  await buildPostgresSchemaAt(database.schema, version, ROWS);
  const [{ bytes }] = (await database.query<{ bytes: string }>(
    "SELECT pg_table_size('toolmux_execution_logs') AS bytes",
  )) as [{ bytes: string }];
  expect(Number(bytes)).toBeGreaterThan(ONLINE_INDEX_FROM_BYTES);
}

/** The migrating backend once one of its statements waits for the reader (its snapshot, or its lock). */
async function migrationWaiting(
  database: TestPostgresStore,
  reader: OpenLogReader,
): Promise<{ pid: number; query: string }> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const rows = await database.query<{ pid: number; query: string }>(
      'SELECT pid, query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
      [reader.pid],
    );
    if (rows[0] !== undefined) return rows[0];
    await new Promise((done) => setTimeout(done, 20));
  }
  throw new Error('the migration never waited for the open reader');
}

/** Whether each of `names` is an index of the schema, and valid. */
async function indexValidity(
  database: TestPostgresStore,
  names: string[],
): Promise<Record<string, boolean | null>> {
  const rows = await database.query<{ name: string; valid: boolean }>(
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2)`,
    [database.schema, names],
  );
  return Object.fromEntries(
    names.map((name) => [name, rows.find((row) => row.name === name)?.valid ?? null]),
  );
}

/** What {@link whileBuildWaits} hands its test. */
interface BuildWaiting {
  database: TestPostgresStore;
  reader: OpenLogReader;
  /** `migrate()`'s outcome: undefined, or what it threw. */
  migrated: Promise<unknown>;
  /** The migrating backend, waiting for the reader. */
  waiting: { pid: number; query: string };
}

/**
 * A database at `version` with a large log, a reader of another instance holding its snapshot, and
 * `migrate()` started and waiting for that reader: `test` runs then; the database is dropped after.
 */
async function whileBuildWaits(
  version: number,
  test: (held: BuildWaiting) => Promise<void>,
  migrate: (database: TestPostgresStore) => Promise<unknown> = (database) => database.store.migrate(),
): Promise<void> {
  const database = await createTestPostgresStore();
  let reader: OpenLogReader | undefined;
  let migrated: Promise<unknown> | undefined;
  try {
    await buildAt(database, version);
    reader = await openLogReader(database.schema);
    migrated = migrate(database).then(
      () => undefined,
      (error: unknown) => error,
    );
    const waiting = await migrationWaiting(database, reader);
    await test({ database, reader, migrated, waiting });
  } finally {
    await reader?.end().catch(() => {});
    // (a test that failed: the build ends before its schema is dropped, which would deadlock with it)
    await migrated;
    await database.cleanup();
  }
}

/** A connection URL of the test server with `parameters` and an application name no other test uses. */
function urlWith(database: TestPostgresStore, parameters: Record<string, string> = {}): string {
  const url = new URL(database.connectionString);
  url.searchParams.set('application_name', `toolmux_test_${randomBytes(6).toString('hex')}`);
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
  return url.toString();
}

/** The statement backend `pid` runs, or `undefined` once it ran none (idle) or is gone. */
async function runningStatement(database: TestPostgresStore, pid: number): Promise<string | undefined> {
  const rows = await database.query<{ query: string }>(
    "SELECT query FROM pg_stat_activity WHERE pid = $1 AND state <> 'idle'",
    [pid],
  );
  return rows[0]?.query;
}

/** The reader ends, and the next start builds the indexes: both valid. */
async function nextStartBuilds(database: TestPostgresStore, reader: OpenLogReader): Promise<void> {
  await reader.commit();
  await (await database.openAnotherStore()).migrate();
  expect(await indexValidity(database, NEW_INDEXES)).toEqual({
    toolmux_execution_logs_tool_slug_id: true,
    toolmux_execution_logs_parent_id: true,
  });
}

/** Built package's store, for a child process to migrate with and be killed in. */
const builtStore = resolve(import.meta.dirname, '../../dist/store/postgres.js');

describe.skipIf(skip !== undefined)(`PostgreSQL: index migrations of a large log ${skip ?? ''}`, () => {
  it('let another instance insert and read log entries while they are built, and end with valid indexes', {
    timeout: 60_000,
  }, async () => {
    await whileBuildWaits(19, async ({ database, reader, migrated, waiting }) => {
      // the previous release writes and reads the log meanwhile (a call's log commit, a page)
      await database.withClient(async (client) => {
        await client.query("SET lock_timeout = '2s'");
        await client.query(
          generatedLogInsert('postgres', { rows: 1, sessions: 1 }).replace("'log_'", "'log_z'"),
        );
        const page = await client.query(
          'SELECT id FROM toolmux_execution_logs WHERE session_id = $1 ORDER BY id DESC LIMIT 50',
          [`ses_${'0'.repeat(38)}`],
        );
        expect(page.rows.length).toBeGreaterThan(0);
      });
      // (in one transaction, the write waited for the migration, which waited for the reader)
      expect(waiting.query).toMatch(/CONCURRENTLY/);
      await reader.commit();
      expect(await migrated).toBeUndefined();
      const versions = await database.query<{ version: number }>(
        'SELECT version FROM toolmux_migrations ORDER BY version',
      );
      expect(versions.map((row) => row.version)).toEqual(ALL_VERSIONS);
      expect(
        await indexValidity(database, [...NEW_INDEXES, 'toolmux_execution_logs_session_parent_id']),
      ).toEqual({
        toolmux_execution_logs_tool_slug_id: true,
        toolmux_execution_logs_parent_id: true,
        toolmux_execution_logs_session_parent_id: null,
      });
      expect(
        await database.query(
          "SELECT 1 FROM pg_statistic_ext WHERE stxname = 'toolmux_execution_logs_session_dependencies' AND stxnamespace = to_regnamespace($1)",
          [database.schema],
        ),
      ).toHaveLength(1);
      const page = await database.store.listLogs({ sessionId: `ses_${'0'.repeat(38)}`, limit: 5 });
      expect(page.items).toHaveLength(5);
    });
  });

  it('let an instance of the previous release start meanwhile: it takes the migration lock at once, finds them recorded, and no one deadlocks', {
    timeout: 60_000,
  }, async () => {
    await whileBuildWaits(19, async ({ database, reader, migrated }) => {
      // the previous release's start: its migration lock, waited for inside a transaction (a
      // snapshot, which the concurrent build waits for: held by the build's instance, the two deadlocked)
      await database.withClient(async (client) => {
        await client.query("SET lock_timeout = '2s'");
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
          `toolmux_migrations:${database.schema}`,
        ]);
        const { rows } = await client.query<{ version: number }>(
          'SELECT max(version) AS version FROM toolmux_migrations',
        );
        expect(rows[0]!.version).toBe(ALL_VERSIONS.at(-1));
        await client.query('COMMIT');
      });
      await reader.commit();
      expect(await migrated).toBeUndefined();
      expect(await indexValidity(database, NEW_INDEXES)).toEqual({
        toolmux_execution_logs_tool_slug_id: true,
        toolmux_execution_logs_parent_id: true,
      });
    });
  });

  it('build again an index whose concurrent build was cut off (left invalid), on the next start', {
    timeout: 60_000,
  }, async () => {
    await whileBuildWaits(20, async ({ database, reader, migrated, waiting }) => {
      // an operator cancels it (or the process dies) while the build waits
      await database.query('SELECT pg_cancel_backend($1)', [waiting.pid]);
      expect(await migrated).toMatchObject({ code: 'STORE_ERROR' });
      await reader.commit();
      expect(await indexValidity(database, ['toolmux_execution_logs_parent_id'])).toEqual({
        toolmux_execution_logs_parent_id: false,
      });
      // the next start
      await (await database.openAnotherStore()).migrate();
      expect(
        await indexValidity(database, [
          'toolmux_execution_logs_parent_id',
          'toolmux_execution_logs_session_parent_id',
        ]),
      ).toEqual({
        toolmux_execution_logs_parent_id: true,
        toolmux_execution_logs_session_parent_id: null,
      });
      const versions = await database.query<{ version: number }>(
        'SELECT version FROM toolmux_migrations ORDER BY version',
      );
      expect(versions.map((row) => row.version)).toEqual(ALL_VERSIONS);
    });
  });

  it('end the build on the server when migration_timeout cuts it off, so that no build runs on holding its lock for no one', {
    timeout: 60_000,
  }, async () => {
    let store: PostgresStore | undefined;
    await whileBuildWaits(
      19,
      async ({ database, reader, migrated, waiting }) => {
        expect(await migrated).toMatchObject({
          code: 'STORE_ERROR',
          details: { operation: 'run migrations', timeout: 'migration_timeout', timeoutMs: 3_000 },
        });
        // the server's statement ended with the client's wait (it ran on, holding the table and the
        // index-build lock, until the reader ended: the next start waited for it, then timed out)
        await expect.poll(() => runningStatement(database, waiting.pid), { timeout: 5_000 }).toBeUndefined();
        await nextStartBuilds(database, reader);
      },
      async (database) => {
        store = await PostgresStore.create({
          connectionString: urlWith(database, { migration_timeout: '3000' }),
          schema: database.schema,
        });
        return store.migrate();
      },
    ).finally(() => store?.close());
  });

  it('end the build on the server when the migrating process dies, within seconds', {
    timeout: 60_000,
  }, async () => {
    let child: ReturnType<typeof spawn> | undefined;
    await whileBuildWaits(
      19,
      async ({ database, reader, waiting }) => {
        child!.kill('SIGKILL');
        // the server noticed the connection gone while the build waited (it waited for the reader
        // to end, the index-build lock held, and then built the index for a process long gone)
        await expect.poll(() => runningStatement(database, waiting.pid), { timeout: 5_000 }).toBeUndefined();
        expect(await indexValidity(database, ['toolmux_execution_logs_tool_slug_id'])).toEqual({
          toolmux_execution_logs_tool_slug_id: false,
        });
        await nextStartBuilds(database, reader);
      },
      async (database) => {
        const source = `
          const { PostgresStore } = await import(${JSON.stringify(builtStore)});
          const store = await PostgresStore.create({ connectionString: ${JSON.stringify(urlWith(database))}, schema: ${JSON.stringify(database.schema)} });
          await store.migrate();`;
        child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: 'inherit' });
        return new Promise((done) => child!.on('exit', done));
      },
    );
  });

  it('let a store whose schema search_path names build its indexes while one of another such schema builds', {
    timeout: 60_000,
  }, async () => {
    const other = await createTestPostgresStore();
    let store: PostgresStore | undefined;
    try {
      // the other schema, migrated, but for an index (its build cut off, say)
      await other.store.migrate();
      await other.query('DROP INDEX toolmux_execution_logs_tool_slug_id');
      await whileBuildWaits(
        19,
        async ({ database, reader, migrated }) => {
          store = await PostgresStore.create({
            connectionString: urlWith(other, {
              options: `-c search_path=${other.schema}`,
              migration_timeout: '20000',
            }),
          });
          const otherMigrated = store.migrate().then(
            () => undefined,
            (error: unknown) => error,
          );
          // its build starts, and waits for the reader as well (it waited for the first build's lock)
          await expect
            .poll(
              async () =>
                (
                  await database.query<{ query: string }>(
                    'SELECT query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
                    [reader.pid],
                  )
                ).filter((row) => /CONCURRENTLY/.test(row.query)).length,
              { timeout: 10_000 },
            )
            .toBe(2);
          await reader.commit();
          expect(await migrated).toBeUndefined();
          expect(await otherMigrated).toBeUndefined();
          expect(await indexValidity(other, ['toolmux_execution_logs_tool_slug_id'])).toEqual({
            toolmux_execution_logs_tool_slug_id: true,
          });
        },
        async (database) => {
          const first = await PostgresStore.create({
            connectionString: urlWith(database, { options: `-c search_path=${database.schema}` }),
          });
          return first.migrate().finally(() => first.close());
        },
      );
    } finally {
      await store?.close();
      await other.cleanup();
    }
  });

  it('let a store whose schema search_path names wait for a build of the previous release, which locks one key for every such schema', {
    timeout: 60_000,
  }, async () => {
    const database = await createTestPostgresStore();
    try {
      await database.store.migrate();
      await database.query('DROP INDEX toolmux_execution_logs_tool_slug_id');
      await database.withClient(async (previous) => {
        // the previous release builds it: its index-build lock, the key of every search_path store
        await previous.query('SELECT pg_advisory_lock(hashtext($1))', ['toolmux_migration_indexes:']);
        const store = await PostgresStore.create({
          connectionString: urlWith(database, {
            options: `-c search_path=${database.schema}`,
            migration_timeout: '1000',
          }),
        });
        try {
          // not a second build beside it (nor an ALTER TABLE queued behind it): the lock is waited for
          await expect(store.migrate()).rejects.toMatchObject({
            code: 'STORE_ERROR',
            message: expect.stringContaining(
              'another toolmux instance has been migrating or building indexes',
            ),
          });
          expect(await indexValidity(database, ['toolmux_execution_logs_tool_slug_id'])).toEqual({
            toolmux_execution_logs_tool_slug_id: null,
          });
        } finally {
          await store.close();
        }
        await previous.query('SELECT pg_advisory_unlock(hashtext($1))', ['toolmux_migration_indexes:']);
      });
      await (await database.openAnotherStore()).migrate();
      expect(await indexValidity(database, ['toolmux_execution_logs_tool_slug_id'])).toEqual({
        toolmux_execution_logs_tool_slug_id: true,
      });
    } finally {
      await database.cleanup();
    }
  });

  it('keep the previous release of a store whose schema search_path names from building beside one that builds', {
    timeout: 60_000,
  }, async () => {
    await whileBuildWaits(
      19,
      async ({ database, reader, migrated }) => {
        // the previous release's start meanwhile asks for its index-build lock, and does not get it
        const [{ locked }] = (await database.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
          ['toolmux_migration_indexes:'],
        )) as [{ locked: boolean }];
        expect(locked).toBe(false);
        await reader.commit();
        expect(await migrated).toBeUndefined();
      },
      async (database) => {
        const store = await PostgresStore.create({
          connectionString: urlWith(database, { options: `-c search_path=${database.schema}` }),
        });
        return store.migrate().finally(() => store.close());
      },
    );
  });

  it('apply a migration that alters the table after another instance’s build of it, not against it: the log stays writable', {
    timeout: 60_000,
  }, async () => {
    const next = MIGRATIONS.length + 1;
    const altering: Migration = {
      version: next,
      name: 'test_log_note',
      sql: { sqlite: '', postgres: 'ALTER TABLE toolmux_execution_logs ADD COLUMN test_note text' },
    };
    await whileBuildWaits(19, async ({ database, reader, migrated }) => {
      (MIGRATIONS as Migration[]).push(altering);
      try {
        const second = await PostgresStore.create({
          connectionString: urlWith(database),
          schema: database.schema,
        });
        const secondMigrated = second.migrate().then(
          () => undefined,
          (error: unknown) => error,
        );
        try {
          // the second instance waits for the build before its ALTER TABLE: an ALTER TABLE waiting
          // for the build's table lock would queue every write of the log behind it
          await new Promise((done) => setTimeout(done, 1_000));
          const written = await database
            .withClient(async (client) => {
              await client.query("SET lock_timeout = '2s'");
              await client.query(
                generatedLogInsert('postgres', { rows: 1, sessions: 1 }).replace("'log_'", "'log_z'"),
              );
            })
            .catch((error: unknown) => error);
          await reader.commit();
          expect(written).toBeUndefined();
          expect(await migrated).toBeUndefined();
          expect(await secondMigrated).toBeUndefined();
        } finally {
          await second.close();
        }
        expect(
          await database.query(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'test_note'",
            [database.schema],
          ),
        ).toHaveLength(1);
        expect(await indexValidity(database, NEW_INDEXES)).toEqual({
          toolmux_execution_logs_tool_slug_id: true,
          toolmux_execution_logs_parent_id: true,
        });
      } finally {
        (MIGRATIONS as Migration[]).splice(MIGRATIONS.indexOf(altering), 1);
      }
    });
  });
});
