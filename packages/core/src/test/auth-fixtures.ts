import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { createTestPostgresUrl, emptyTestSchema, postgresSkipReason } from './postgres.js';

/**
 * Shared fixtures of the auth tests (not a test file itself): the store backends they run on and a
 * fresh database of one for each test.
 */

/** The ToolMuxError `promise` rejects with, after checking that it does and that its code is `code`. */
export async function rejection(promise: Promise<unknown>, code: string): Promise<ToolMuxError> {
  const error = await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  expect(ToolMuxError.isInstance(error), `expected a ToolMuxError, got ${String(error)}`).toBe(true);
  expect((error as ToolMuxError).code, (error as ToolMuxError).message).toBe(code);
  return error as ToolMuxError;
}

export const quiet = { debug() {}, warn() {}, error() {} };

/** A database the tests can open several stores on and read raw rows from. */
export interface OpenedDatabase {
  /** A store spec for `new ToolMux({ store })` (also usable by another process). */
  spec: string;
  /** Rows of a SQL query, read past toolmux. */
  rows(sql: string): Promise<Array<Record<string, unknown>>>;
  /** Runs SQL past toolmux (to move times into the past). */
  exec(sql: string): Promise<void>;
  /**
   * Empties the database for another test, where that is cheaper than a new one; `false` when it
   * cannot be (then it is cleaned up). Left out: a new database for each test.
   */
  emptyForReuse?(): Promise<boolean>;
  cleanup(): Promise<void>;
}

export interface DatabaseBackend {
  name: string;
  skipReason: string | undefined;
  open(): Promise<OpenedDatabase>;
}

/** SQLite file and PostgreSQL (skipped with the reason when the test server is not reachable). */
export async function databaseBackends(): Promise<DatabaseBackend[]> {
  const skipPostgres = await postgresSkipReason();
  return [
    {
      name: 'sqlite file',
      skipReason: undefined,
      async open() {
        const directory = mkdtempSync(join(tmpdir(), 'toolmux-auth-'));
        const path = join(directory, 'toolmux.db');
        const withDatabase = <T>(work: (database: DatabaseSync) => T): T => {
          const database = new DatabaseSync(path);
          try {
            database.exec('PRAGMA busy_timeout = 5000');
            return work(database);
          } finally {
            database.close();
          }
        };
        return {
          spec: `sqlite:${path}`,
          rows: async (sql) =>
            withDatabase((database) => database.prepare(sql).all() as Array<Record<string, unknown>>),
          exec: async (sql) => withDatabase((database) => database.exec(sql)),
          cleanup: async () => rmSync(directory, { recursive: true, force: true }),
        };
      },
    },
    {
      name: 'postgres',
      skipReason: skipPostgres,
      async open() {
        const { url, schema, cleanup } = await createTestPostgresUrl();
        const { Client } = await import('pg');
        const query = async (sql: string) => {
          const client = new Client({ connectionString: url });
          await client.connect();
          try {
            return (await client.query(sql)).rows as Array<Record<string, unknown>>;
          } finally {
            await client.end();
          }
        };
        return {
          spec: url,
          rows: query,
          exec: async (sql) => {
            await query(sql);
          },
          emptyForReuse: () => emptyTestSchema(schema),
          cleanup,
        };
      },
    },
  ];
}

/** What a test opens on its database and {@link databasePerTest} closes after it. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * A fresh database of `open` for each test of the enclosing describe block. `database` always
 * stands for the running test's one; push what the test opens on it (ToolMux instances) on
 * `opened`: after the test, those are closed, then `afterClose` runs, then the database is emptied
 * for the next test where it can be ({@link OpenedDatabase.emptyForReuse}: a PostgreSQL schema as
 * migrated, without rows, instead of migrating a new one for each test) or dropped.
 */
export function databasePerTest(
  open: () => Promise<OpenedDatabase>,
  options: { afterClose?: () => void | Promise<void> } = {},
): { database: OpenedDatabase; opened: Closable[] } {
  let current: OpenedDatabase | undefined;
  const opened: Closable[] = [];
  const now = (): OpenedDatabase => {
    if (!current) throw new Error('the test database is there only while a test runs');
    return current;
  };
  const database: OpenedDatabase = {
    get spec() {
      return now().spec;
    },
    rows: (sql) => now().rows(sql),
    exec: (sql) => now().exec(sql),
    cleanup: () => now().cleanup(),
  };
  /** Emptied databases for the next tests. */
  const spare: OpenedDatabase[] = [];
  beforeEach(async () => {
    current = spare.pop() ?? (await open());
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((each) => each.close()));
    await options.afterClose?.();
    const done = current;
    current = undefined;
    if (done && (await done.emptyForReuse?.().catch(() => false))) spare.push(done);
    else await done?.cleanup();
  });
  afterAll(async () => {
    await Promise.all(spare.splice(0).map((each) => each.cleanup()));
  });
  return { database, opened };
}

/** SQL for "this many milliseconds ago", per store spec. */
export function pastTime(spec: string, agoMs: number): string {
  const at = Date.now() - agoMs;
  return spec.startsWith('sqlite:') ? String(at) : `to_timestamp(${at / 1000})`;
}
