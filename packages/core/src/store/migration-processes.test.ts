import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { rejection } from '../test/auth-fixtures.js';
import { generatedLogInsert } from '../test/log-records.js';
import { createTestPostgresStore, postgresSkipReason, testPostgresUrl } from '../test/postgres.js';
import { deriveSessionToken, parseSecretKey } from '../util/secret-key.js';
import { MIGRATIONS, MIGRATIONS_TABLE_SQL } from './migrations.js';
import { SqliteStore } from './sqlite.js';

/**
 * Migrations across processes: ToolMux processes that open one database at once while another
 * process migrates it, and a process killed with SIGKILL in the middle of migrating. The processes
 * run the built package (`pnpm build` first).
 */

const dist = resolve(import.meta.dirname, '../../dist');
const ALL_VERSIONS = MIGRATIONS.map((migration) => migration.version);
const root = mkdtempSync(join(tmpdir(), 'toolmux-migration-processes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A child process and what it printed so far. */
interface Child {
  process: ChildProcess;
  output(): string;
  /** Resolves once it printed `text`; rejects if it exits first. */
  printed(text: string): Promise<void>;
  exited: Promise<number | null>;
}

function startChild(script: string, env: Record<string, string>): Child {
  if (!existsSync(join(dist, 'index.js')))
    throw new Error(`${dist} is missing: run "pnpm build" in packages/core.`);
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiting = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of waiting) check();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    process: child,
    output: () => output,
    exited,
    printed: (text) =>
      new Promise<void>((done, failed) => {
        const check = () => {
          if (output.includes(text)) {
            waiting.delete(check);
            done();
          }
        };
        waiting.add(check);
        check();
        void exited.then(() => {
          if (!output.includes(text))
            failed(new Error(`the child exited without printing "${text}":\n${output}`));
        });
      }),
  };
}

/** A ToolMux process: opens the store, creates a session and lists the sessions. */
const TOOLMUX_PROCESS = `
  import { ToolMux } from ${JSON.stringify(join(dist, 'index.js'))};
  const mux = new ToolMux({ store: process.env.STORE, secretKey: process.env.KEY,
    logger: { debug() {}, warn() {}, error() {} } });
  console.log('opening');
  try {
    const session = await mux.create(process.env.USER_ID);
    console.log('opened', session.sessionId);
  } catch (error) {
    console.log('failed', error.code, error.message);
    process.exitCode = 1;
  } finally {
    await mux.close();
  }
`;

/** A process that runs the migrations of one store and says when it starts and ends. */
const MIGRATING_PROCESS = `
  import { SqliteStore } from ${JSON.stringify(join(dist, 'store/sqlite.js'))};
  import { PostgresStore } from ${JSON.stringify(join(dist, 'store/postgres.js'))};
  const store = process.env.SQLITE_PATH
    ? new SqliteStore({ path: process.env.SQLITE_PATH })
    : await PostgresStore.create({ connectionString: process.env.PG_URL, schema: process.env.PG_SCHEMA, poolSize: 1 });
  console.log('migrating');
  try {
    await store.migrate();
    console.log('migrated');
  } catch (error) {
    console.log('failed', error.code, error.message);
    process.exitCode = 1;
  }
  await store.close();
`;

/** A SQLite file at migration `version`, built by hand as that release did, with `logs` entries. */
function sqliteAt(version: number, logs: number): string {
  const path = join(mkdtempSync(join(root, 'case-')), 'toolmux.db');
  const database = new DatabaseSync(path);
  try {
    database.exec('PRAGMA journal_mode = WAL');
    database.exec(MIGRATIONS_TABLE_SQL.sqlite);
    for (const migration of MIGRATIONS.slice(0, version)) {
      database.exec(migration.sql.sqlite);
      database
        .prepare('INSERT INTO toolmux_migrations (version, name, applied_at) VALUES (?, ?, 0)')
        .run(migration.version, migration.name);
    }
    // sessions in id order, so that the inserts append to the indexes (a large log fills in seconds)
    database.exec(
      generatedLogInsert('sqlite', { rows: logs, sessions: 1 }).replace(
        "'ses_' || printf('%038d', g % 1)",
        "'ses_' || printf('%038d', g / 1000)",
      ),
    );
    database.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    database.close();
  }
  return path;
}

function sqliteRows(path: string, sql: string): Array<Record<string, unknown>> {
  const database = new DatabaseSync(path, { readOnly: true });
  try {
    return database.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    database.close();
  }
}

const appliedVersions = (path: string) =>
  sqliteRows(path, 'SELECT version FROM toolmux_migrations ORDER BY version').map((row) => row.version);

describe('SQLite: processes opening one file while another process migrates it', () => {
  it('wait for its write lock past the 5 s busy timeout, then each applies nothing twice and opens', {
    timeout: 60_000,
  }, async () => {
    const path = sqliteAt(4, 10);
    // another process in the middle of its migrations (or a long write): it holds the write lock
    const holder = new DatabaseSync(path);
    holder.exec('BEGIN IMMEDIATE');
    const key = randomBytes(32).toString('base64');
    const children = [1, 2, 3].map((n) =>
      startChild(TOOLMUX_PROCESS, { STORE: `sqlite:${path}`, KEY: key, USER_ID: `user_${n}` }),
    );
    try {
      await Promise.all(children.map((child) => child.printed('opening')));
      // past SQLite's 5 s busy timeout: the processes still wait instead of failing to start
      await new Promise((done) => setTimeout(done, 6_500));
      for (const child of children) {
        expect(child.process.exitCode, child.output()).toBeNull();
        expect(child.output()).not.toContain('failed');
      }
      holder.exec('COMMIT');
      const codes = await Promise.all(children.map((child) => child.exited));
      expect(codes, children.map((child) => child.output()).join('\n')).toEqual([0, 0, 0]);
      for (const child of children) expect(child.output()).toContain('opened ses_');
      expect(appliedVersions(path)).toEqual(ALL_VERSIONS);
      expect(sqliteRows(path, 'SELECT user_id FROM toolmux_sessions ORDER BY user_id')).toEqual([
        { user_id: 'user_1' },
        { user_id: 'user_2' },
        { user_id: 'user_3' },
      ]);
      expect(sqliteRows(path, 'SELECT count(*) AS n FROM toolmux_execution_logs')).toEqual([{ n: 10 }]);
    } finally {
      if (holder.isTransaction) holder.exec('ROLLBACK');
      holder.close();
      for (const child of children) child.process.kill('SIGKILL');
    }
  });

  it('waits without holding the event loop, and gives up after migrationTimeoutMs with STORE_ERROR', async () => {
    const path = sqliteAt(4, 10);
    const holder = new DatabaseSync(path);
    holder.exec('BEGIN IMMEDIATE');
    const store = new SqliteStore({ path, migrationTimeoutMs: 1_000 });
    try {
      let longestGap = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 10);
      const error = await rejection(store.migrate(), 'STORE_ERROR');
      clearInterval(timer);
      expect(error.message).toContain("another connection held the database's write lock for 1000 ms");
      expect(error.message).toContain('migrationTimeoutMs');
      // each attempt blocks for at most 100 ms (plus a loaded machine's scheduling)
      expect(longestGap).toBeLessThan(400);
      expect(appliedVersions(path)).toEqual([1, 2, 3, 4]);
      holder.exec('ROLLBACK');
      await store.migrate();
      expect(appliedVersions(path)).toEqual(ALL_VERSIONS);
    } finally {
      if (holder.isTransaction) holder.exec('ROLLBACK');
      holder.close();
      await store.close();
    }
  });

  it('rejects a migrationTimeoutMs that is no number of milliseconds', () => {
    for (const migrationTimeoutMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new SqliteStore({ path: ':memory:', migrationTimeoutMs })).toThrow(/migrationTimeoutMs/);
    }
  });
});

/**
 * Processes started together on a file that does not exist yet (a first `toolmux serve` of several,
 * or an application's workers): each switched the new file to WAL before it set its busy timeout,
 * so one finding another's lock failed at once, "database is locked" (24 of 72 processes in a probe),
 * and the secret key file, created empty and written after, was refused with EEXIST by one that came
 * second (5 of 72). Every one now opens, and all use the one key.
 */
describe('SQLite: processes that open a file that does not exist yet, at once', () => {
  /** Waits for the start time, opens the store (no secret key: the key file beside it), makes a session. */
  const STARTING_TOGETHER = `
    import { ToolMux } from ${JSON.stringify(join(dist, 'index.js'))};
    const mux = new ToolMux({ store: process.env.STORE, logger: { debug() {}, warn() {}, error() {} } });
    await new Promise((done) => setTimeout(done, Math.max(0, Number(process.env.AT) - Date.now())));
    try {
      const session = await mux.create('user_1');
      console.log('opened', session.sessionId, session.mcp.headers.Authorization.slice('Bearer '.length));
    } catch (error) {
      console.log('failed', error.code, error.message);
      process.exitCode = 1;
    } finally {
      await mux.close();
    }
  `;

  it('all open it and use the one secret key', { timeout: 90_000 }, async () => {
    for (let round = 0; round < 3; round++) {
      const directory = mkdtempSync(join(root, 'fresh-'));
      const path = join(directory, 'toolmux.db');
      // the processes take their time to start on a loaded machine: the start is set well after
      const at = String(Date.now() + 4_000);
      const children = Array.from({ length: 6 }, () =>
        startChild(STARTING_TOGETHER, { STORE: `sqlite:${path}`, AT: at, TOOLMUX_SECRET_KEY: '' }),
      );
      const codes = await Promise.all(children.map((child) => child.exited));
      const outputs = children.map((child) => child.output());
      expect(
        codes,
        outputs.map((output, n) => `process ${n} (exit ${codes[n]}): ${output}`).join('\n'),
      ).toEqual([0, 0, 0, 0, 0, 0]);
      const key = parseSecretKey(readFileSync(join(directory, 'secret.key'), 'utf8'), 'secret.key');
      for (const output of outputs) {
        const [, sessionId, token] = /opened (\S+) (\S+)/.exec(output) ?? [];
        expect(token, output).toBe(deriveSessionToken(key, sessionId!));
      }
      expect(sqliteRows(path, 'SELECT count(*) AS n FROM toolmux_sessions')).toEqual([{ n: 6 }]);
      expect(appliedVersions(path)).toEqual(ALL_VERSIONS);
    }
  });

  it('one opening a new file while another process holds its lock waits for it instead of failing', {
    timeout: 30_000,
  }, async () => {
    const path = join(mkdtempSync(join(root, 'held-')), 'toolmux.db');
    // a new file, not yet in WAL mode, whose lock another process holds for 500 ms
    const holder = startChild(
      `
      import { DatabaseSync } from 'node:sqlite';
      const database = new DatabaseSync(${JSON.stringify(path)});
      database.exec('CREATE TABLE first_writer (n INTEGER)');
      database.exec('BEGIN EXCLUSIVE');
      console.log('holding');
      setTimeout(() => { database.exec('COMMIT'); database.close(); }, 500);
    `,
      {},
    );
    await holder.printed('holding');
    const store = new SqliteStore({ path });
    try {
      await store.migrate();
      expect(appliedVersions(path)).toEqual(ALL_VERSIONS);
      expect(await holder.exited).toBe(0);
    } finally {
      await store.close();
      holder.process.kill('SIGKILL');
    }
  });
});

describe('SQLite: a process killed with SIGKILL in the middle of migrating', () => {
  it('leaves the file at its old version, intact, and the next open applies every migration once', {
    timeout: 120_000,
  }, async () => {
    // migration 7 indexes the log: 300,000 entries make it take about a second
    const ROWS = 300_000;
    const path = sqliteAt(6, ROWS);
    const walBefore = existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0;
    const child = startChild(MIGRATING_PROCESS, { SQLITE_PATH: path });
    try {
      await child.printed('migrating');
      // the migration transaction is writing (its pages spill into the WAL): kill it there
      const deadline = Date.now() + 30_000;
      while (!(existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > walBefore + 1_000_000)) {
        expect(Date.now() < deadline, 'the migration never started writing').toBe(true);
        expect(child.output()).not.toContain('migrated');
        await new Promise((done) => setTimeout(done, 5));
      }
      child.process.kill('SIGKILL');
      expect(await child.exited).toBeNull();
      expect(child.output()).not.toContain('migrated');
    } finally {
      child.process.kill('SIGKILL');
    }

    // what the killed process did was never committed
    expect(appliedVersions(path)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(
      sqliteRows(
        path,
        "SELECT count(*) AS n FROM pragma_table_info('toolmux_execution_logs') WHERE name = 'parent_id'",
      ),
    ).toEqual([{ n: 0 }]);

    const store = new SqliteStore({ path });
    try {
      await store.migrate();
      expect(appliedVersions(path)).toEqual(ALL_VERSIONS);
      expect(sqliteRows(path, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      expect(sqliteRows(path, 'SELECT count(*) AS n FROM toolmux_execution_logs')).toEqual([{ n: ROWS }]);
      expect(
        sqliteRows(
          path,
          "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'toolmux_execution_logs_%' ORDER BY name",
        ),
      ).toEqual([
        { name: 'toolmux_execution_logs_parent_id' },
        { name: 'toolmux_execution_logs_session_id_id' },
        { name: 'toolmux_execution_logs_tool_slug_id' },
        { name: 'toolmux_execution_logs_user_id_id' },
        { name: 'toolmux_execution_logs_user_tool_id' },
        { name: 'toolmux_execution_logs_workbench_cells' },
      ]);
      const page = await store.listLogs({ sessionId: `ses_${'0'.repeat(35)}299`, limit: 2 });
      expect(page.items.map((entry) => entry.id)).toEqual([
        `log_${(299_999).toString(16).padStart(38, '0')}`,
        `log_${(299_998).toString(16).padStart(38, '0')}`,
      ]);
      expect(
        (
          await store.listLogs({
            sessionId: `ses_${'0'.repeat(35)}299`,
            limit: 1_000,
            cursor: page.nextCursor,
          })
        ).items,
      ).toHaveLength(998);
    } finally {
      await store.close();
    }
  });
});

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `PostgreSQL: a process killed with SIGKILL in the middle of migrating ${skipPostgres ?? ''}`,
  () => {
    it('is rolled back by the database, and the next open (started while it was cut off) applies every migration once', {
      timeout: 60_000,
    }, async () => {
      const database = await createTestPostgresStore();
      const { Client } = await import('pg');
      const holder = new Client({
        connectionString: testPostgresUrl(),
        options: `-c search_path=${database.schema}`,
      });
      let child: Child | undefined;
      try {
        await database.query(`CREATE SCHEMA "${database.schema}"`);
        await database.query(MIGRATIONS_TABLE_SQL.postgres);
        for (const migration of MIGRATIONS.slice(0, 2)) {
          await database.query(migration.sql.postgres);
          await database.query(
            'INSERT INTO toolmux_migrations (version, name, applied_at) VALUES ($1, $2, now())',
            [migration.version, migration.name],
          );
        }
        await database.query(generatedLogInsert('postgres', { rows: 1_000, sessions: 10 }));
        // another session holds the log table, so the migration stops at migration 7 (which alters
        // it), after migrations 3 to 6 ran in its transaction
        await holder.connect();
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE toolmux_execution_logs IN ROW EXCLUSIVE MODE');

        const applicationName = `toolmux_killed_${randomBytes(4).toString('hex')}`;
        const url = new URL(testPostgresUrl());
        url.searchParams.set('application_name', applicationName);
        child = startChild(MIGRATING_PROCESS, { PG_URL: url.toString(), PG_SCHEMA: database.schema });
        await child.printed('migrating');
        let waiting: { pid: number; query: string } | undefined;
        for (const deadline = Date.now() + 30_000; waiting === undefined; ) {
          expect(Date.now() < deadline, `the migration never reached migration 7:\n${child.output()}`).toBe(
            true,
          );
          const rows = await database.query<{ pid: number; query: string }>(
            "SELECT pid, query FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [applicationName],
          );
          waiting = rows[0];
          if (waiting === undefined) await new Promise((done) => setTimeout(done, 20));
        }
        expect(waiting.query).toContain('ADD COLUMN parent_id');
        // mid-chain: its transaction holds what migrations 3 to 6 changed
        const locked = await database.query<{ relname: string }>(
          `SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
           WHERE l.pid = $1 AND l.granted AND l.mode = 'AccessExclusiveLock' ORDER BY c.relname`,
          [waiting.pid],
        );
        expect(locked.map((row) => row.relname)).toEqual(
          expect.arrayContaining([
            'toolmux_connected_accounts',
            'toolmux_connection_requests',
            'toolmux_sessions',
          ]),
        );

        child.process.kill('SIGKILL');
        expect(await child.exited).toBeNull();

        // the next instance starts while the killed one's transaction is still open, and waits
        const next = await database.openAnotherStore();
        const migrating = next.migrate();
        await new Promise((done) => setTimeout(done, 300));
        await holder.query('COMMIT');
        await migrating;

        const versions = await database.query<{ version: number }>(
          'SELECT version FROM toolmux_migrations ORDER BY version',
        );
        expect(versions.map((row) => row.version)).toEqual(ALL_VERSIONS);
        const [{ n }] = (await database.query<{ n: string }>(
          'SELECT count(*) AS n FROM toolmux_execution_logs',
        )) as [{ n: string }];
        expect(Number(n)).toBe(1_000);
        const page = await next.listLogs({ limit: 2 });
        expect(page.items).toHaveLength(2);
        expect((await next.listLogs({ limit: 1_000, cursor: page.nextCursor })).items).toHaveLength(998);
        // the killed process's connection is gone
        expect(
          await database.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
            applicationName,
          ]),
        ).toEqual([]);
      } finally {
        child?.process.kill('SIGKILL');
        await holder.end().catch(() => {});
        await database.cleanup();
      }
    });
  },
);
