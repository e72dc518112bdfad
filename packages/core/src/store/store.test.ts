import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { rejection } from '../test/auth-fixtures.js';
import { account, authConfig, connectionRequest } from '../test/auth-store-records.js';
import {
  createTestPostgresStore,
  postgresSkipReason,
  type TestPostgresStore,
  withTestDatabase,
} from '../test/postgres.js';
import { newId } from '../util/ids.js';
import { MIGRATIONS, MIGRATIONS_TABLE_SQL } from './migrations.js';
import { DEFAULT_STORE_SPEC, openStore, parseStoreSpec } from './open-store.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { ConnectionRequestRecord, ExecutionLogRecord, SessionRecord, Store } from './types.js';
import { WORKBENCH_FILE_RECORD_BYTES } from './workbench-pieces.js';

const temporaryRoot = mkdtempSync(join(tmpdir(), 'toolmux-store-test-'));
afterAll(() => rmSync(temporaryRoot, { recursive: true, force: true }));

/** A directory of its own for one test. */
function temporaryDirectory(): string {
  return mkdtempSync(join(temporaryRoot, 'case-'));
}

/** A fresh, unmigrated database behind a store. */
interface OpenedBackend {
  store: Store;
  /** Another store on the same database, where the database outlives a store. */
  openAnotherStore?: () => Promise<Store>;
  /** The versions in `toolmux_migrations`, read past the store, where the database can be reached. */
  appliedMigrations?: () => Promise<number[]>;
  /** Closes the stores and empties the database for another test, where it can be (else `cleanup()`). */
  emptyForReuse?: () => Promise<boolean>;
  cleanup(): Promise<void>;
}

interface Backend {
  name: string;
  /** Why the backend cannot run here (local runs without PostgreSQL only). */
  skipReason: string | undefined;
  /** The database outlives a store, so {@link OpenedBackend.openAnotherStore} exists. */
  durable: boolean;
  open(): Promise<OpenedBackend>;
  /** A database a test emptied ({@link OpenedBackend.emptyForReuse}), migrated, when there is one. */
  openEmptied?(): Promise<OpenedBackend | undefined>;
}

const skipPostgres = await postgresSkipReason();

const backends: Backend[] = [
  {
    name: 'sqlite file',
    skipReason: undefined,
    durable: true,
    async open() {
      // nested directories that do not exist yet: the store creates them
      const path = join(temporaryDirectory(), 'nested', 'dir', 'toolmux.db');
      const stores: Store[] = [new SqliteStore({ path })];
      return {
        store: stores[0]!,
        async openAnotherStore() {
          const store = new SqliteStore({ path });
          stores.push(store);
          return store;
        },
        async appliedMigrations() {
          const database = new DatabaseSync(path, { readOnly: true });
          try {
            return database
              .prepare('SELECT version FROM toolmux_migrations ORDER BY version')
              .all()
              .map((row) => row.version as number);
          } finally {
            database.close();
          }
        },
        async cleanup() {
          await Promise.all(stores.map((store) => store.close()));
        },
      };
    },
  },
  {
    name: 'sqlite :memory:',
    skipReason: undefined,
    durable: false,
    async open() {
      const store = new SqliteStore({ path: ':memory:' });
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: 'postgres',
    skipReason: skipPostgres,
    durable: true,
    async open() {
      const database = await createTestPostgresStore();
      return postgresBackend(database, database.store);
    },
    // a new schema for each test is ~0.4 s of PostgreSQL's CPU (migrating it, dropping it): the
    // contract tests take the one a test before emptied, migrated; a new one still where a test opens it
    async openEmptied() {
      const database = emptiedPostgres.pop();
      return database && postgresBackend(database, await database.openAnotherStore());
    },
  },
];

/** PostgreSQL schemas that a test emptied, migrated, for the next test. */
const emptiedPostgres: TestPostgresStore[] = [];
afterAll(async () => {
  await Promise.all(emptiedPostgres.splice(0).map((database) => database.cleanup()));
});

function postgresBackend(database: TestPostgresStore, store: Store): OpenedBackend {
  return {
    store,
    openAnotherStore: () => database.openAnotherStore(),
    async appliedMigrations() {
      const rows = await database.query<{ version: number }>(
        'SELECT version FROM toolmux_migrations ORDER BY version',
      );
      return rows.map((row) => row.version);
    },
    async emptyForReuse() {
      if (!(await database.emptyForReuse())) return false;
      emptiedPostgres.push(database);
      return true;
    },
    cleanup: () => database.cleanup(),
  };
}

const ALL_MIGRATION_VERSIONS = MIGRATIONS.map((migration) => migration.version);

function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: newId('ses'),
    userId: 'user_1',
    config: {
      toolkits: { enable: ['acme', 'github'] },
      tags: [],
      nested: { depth: 2, flag: true, none: null },
    },
    configVersion: 1,
    tokenHash: 'a'.repeat(64),
    tokenVersion: 0,
    metadata: { team: 'growth' },
    createdAt: new Date('2024-02-29T12:34:56.789Z'),
    updatedAt: new Date('2024-02-29T12:34:56.789Z'),
    ...overrides,
  };
}

function log(overrides: Partial<ExecutionLogRecord> = {}): ExecutionLogRecord {
  return {
    id: newId('log'),
    sessionId: 'ses_none',
    userId: 'user_1',
    toolSlug: 'ACME_GET_ORDER',
    toolkit: 'acme',
    connectedAccountId: null,
    callId: null,
    status: 'success',
    errorCode: null,
    errorMessage: null,
    durationMs: 12.625,
    input: '{"orderId":"o_1"}',
    output: '{"status":"shipped"}',
    createdAt: new Date('2025-01-02T03:04:05.006Z'),
    parentId: null,
    ...overrides,
  };
}

/** The auth configs the fixtures below name: a store keeps an account or request only through its config. */
async function insertFixtureConfigs(store: Store): Promise<void> {
  for (const id of ['ac_none', 'ac_1', 'ac_2', 'ac_x', 'ac_y']) {
    await store.insertAuthConfig(authConfig({ id, secret: null }));
  }
}

/** A request for an API key / token / password: no account, state, secret or redirect URI yet. */
function fieldsRequest(overrides: Partial<ConnectionRequestRecord> = {}): ConnectionRequestRecord {
  return connectionRequest({
    kind: 'fields',
    connectedAccountId: null,
    stateHash: null,
    secret: null,
    redirectUri: null,
    toolkit: 'mail',
    ...overrides,
  });
}

/** The error `promise` rejects with, checked to be a ToolMuxError with `code`. */
/** Every item of a paginated list, following `nextCursor` until it is undefined, and the page sizes seen. */
async function collectPages<T extends { id: string }>(
  listPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | undefined }>,
): Promise<{ ids: string[]; pageSizes: number[] }> {
  const ids: string[] = [];
  const pageSizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await listPage(cursor);
    ids.push(...page.items.map((item) => item.id));
    pageSizes.push(page.items.length);
    cursor = page.nextCursor;
  } while (cursor !== undefined && pageSizes.length < 100);
  return { ids, pageSizes };
}

function shuffled<T>(items: T[]): T[] {
  // a fixed permutation: insertion order must not be what orders the results
  return items
    .map((item, index) => ({ item, key: (index * 7919) % 31 }))
    .sort((a, b) => a.key - b.key)
    .map(({ item }) => item);
}

describe.each(backends)('Store: $name', ({ name, skipReason, durable, open, openEmptied }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'contract', () => {
    let backend: OpenedBackend;
    let store: Store;

    beforeEach(async () => {
      backend = (await openEmptied?.()) ?? (await open());
      store = backend.store;
      await store.migrate();
    });
    afterEach(async () => {
      if (!(await backend.emptyForReuse?.().catch(() => false))) await backend.cleanup();
    });

    it('records every migration once; migrating again changes nothing', async () => {
      const record = session();
      await store.insertSession(record);
      await store.migrate();
      await store.migrate();
      expect(await store.getSession(record.id)).toEqual(record);
      if (backend.appliedMigrations)
        expect(await backend.appliedMigrations()).toEqual(ALL_MIGRATION_VERSIONS);
    });

    // only a database that outlives its store can be shared or reopened
    if (durable) {
      it('applies migrations once when several stores migrate one database at once', async () => {
        const fresh = await open();
        try {
          const others = await Promise.all([1, 2, 3].map(() => fresh.openAnotherStore!()));
          await Promise.all([fresh.store, ...others].map((each) => each.migrate()));
          expect(await fresh.appliedMigrations!()).toEqual(ALL_MIGRATION_VERSIONS);
          const record = session();
          await fresh.store.insertSession(record);
          expect(await others[2]!.getSession(record.id)).toEqual(record);
        } finally {
          await fresh.cleanup();
        }
      });

      it('keeps data for a store reopened on the same database', async () => {
        const record = session();
        const entry = log({ sessionId: record.id });
        await store.insertSession(record);
        await store.insertLogs([entry]);
        await store.close();
        const reopened = await backend.openAnotherStore!();
        await reopened.migrate();
        expect(await reopened.getSession(record.id)).toEqual(record);
        expect((await reopened.listLogs({ sessionId: record.id, limit: 10 })).items).toEqual([entry]);
      });
    }

    it('round-trips a session: config JSON, metadata and exact dates', async () => {
      const record = session({
        createdAt: new Date('1999-12-31T23:59:59.999Z'),
        updatedAt: new Date('2031-07-04T00:00:00.001Z'),
        metadata: { a: '1', empty: '' },
      });
      await store.insertSession(record);
      const read = await store.getSession(record.id);
      expect(read).toEqual(record);
      expect(read!.createdAt).toBeInstanceOf(Date);
      expect(read!.createdAt.getTime()).toBe(946684799999);
      expect(read!.updatedAt.getTime()).toBe(Date.UTC(2031, 6, 4, 0, 0, 0, 1));
    });

    it('keeps the key order of JSON it stores: config (custom tool schemas), metadata, auth config settings', async () => {
      // keys that a store which sorts them (jsonb: by length, then bytes) would return in another order
      const schema = {
        type: 'object',
        properties: { zeta: { type: 'string' }, b: { type: 'number' }, alpha: { type: 'boolean' } },
        required: ['zeta', 'b'],
        additionalProperties: false,
      };
      const keysDeep = (value: unknown): unknown =>
        Array.isArray(value)
          ? value.map(keysDeep)
          : value !== null && typeof value === 'object'
            ? Object.entries(value).map(([key, inner]) => [key, keysDeep(inner)])
            : value;
      const record = session({
        config: {
          tools: { custom: [{ slug: 'MY_TOOL', inputSchema: schema }] },
          toolkits: { enable: ['z', 'a'] },
        },
        metadata: { zz: '1', a: '2', middle: '3' },
      });
      await store.insertSession(record);
      const read = await store.getSession(record.id);
      expect(keysDeep(read!.config)).toEqual(keysDeep(record.config));
      expect(keysDeep(read!.metadata)).toEqual(keysDeep(record.metadata));

      const update = { config: { zeta: 1, a: { yy: 1, b: 2 } }, metadata: { zz: 'x', a: 'y' } };
      await store.updateSession(record.id, { ...update, expectedVersion: 1 });
      const updated = await store.getSession(record.id);
      expect(keysDeep(updated!.config)).toEqual(keysDeep(update.config));
      expect(keysDeep(updated!.metadata)).toEqual(keysDeep(update.metadata));

      const config = authConfig({ settings: { zeta: 'z', scopes: ['b', 'a'], a: { yy: 1, b: 2 } } });
      expect(await store.insertAuthConfig(config)).toBe(true);
      expect(keysDeep((await store.getAuthConfig(config.id))!.settings)).toEqual(keysDeep(config.settings));
    });

    it('returns undefined for an unknown session id', async () => {
      await store.insertSession(session());
      expect(await store.getSession(newId('ses'))).toBeUndefined();
    });

    it('round-trips unicode and 4 KB payloads', async () => {
      const text = 'Grüße 👋🏽 你好 שלום e\u0301 \u{1F9D1}\u200D\u{1F4BB} "quotes" \\ back\nslash\ttab';
      const large = '€✓'.repeat(1024) + 'x'.repeat(2048); // 4096 characters, 8192 bytes of UTF-8
      const record = session({
        userId: 'ユーザー_1',
        config: { text, large, list: [text, { deeper: text }] },
        metadata: { 'clé 🔑': text, large },
      });
      await store.insertSession(record);
      expect(await store.getSession(record.id)).toEqual(record);

      const entry = log({
        userId: record.userId,
        input: large,
        output: JSON.stringify({ text }),
        errorMessage: text,
      });
      await store.insertLogs([entry]);
      const [read] = (await store.listLogs({ userId: record.userId, limit: 1 })).items;
      expect(read).toEqual(entry);
      expect(read!.input).toHaveLength(4096);
    });

    it('round-trips log texts that begin with U+FEFF (a byte order mark), short and long alike', async () => {
      // a long text is read as bytes and decoded (SQLite): the decoder took a leading U+FEFF for a
      // byte order mark and dropped it
      const texts = [
        '\ufeff',
        '\ufeffshort',
        `\ufeff${'x'.repeat(5000)}`,
        '\ufeff'.repeat(8192),
        `\ufeff${'€'.repeat(2000)}`,
      ];
      const entries = texts.map((text, index) =>
        log({
          id: `log_bom${String(index).padStart(35, '0')}`,
          userId: 'bom_user',
          input: text,
          output: text,
          errorMessage: text,
          status: 'error',
          errorCode: 'TOOL_EXECUTION_FAILED',
        }),
      );
      await store.insertLogs(entries);
      const { items } = await store.listLogs({ userId: 'bom_user', limit: 10 });
      expect(items).toHaveLength(texts.length);
      for (const entry of entries) {
        const read = items.find((item) => item.id === entry.id)!;
        for (const field of ['input', 'output', 'errorMessage'] as const) {
          expect(read[field]?.length, `${entry.id} ${field}`).toBe(entry[field]?.length);
          expect(read[field] === entry[field], `${entry.id} ${field}`).toBe(true);
        }
      }
    });

    it('stores a batch of entries field for field, and a NUL or lone surrogate costs only that character', async () => {
      const awkward = 'e->>0 \\"q\\" {"a":[1,"\\u0000"]} \\\\ ✓ 👋🏽 \u2028\u2029 \t\r\n end';
      const entries = [
        log({ sessionId: null, input: awkward, output: JSON.stringify({ awkward }), durationMs: 0.1 + 0.2 }),
        log({
          connectedAccountId: 'ca_1',
          callId: 'call_1',
          status: 'error',
          errorCode: 'TOOL_EXECUTION_FAILED',
          errorMessage: awkward,
          durationMs: 1e-7,
          createdAt: new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
          parentId: 'log_parent',
        }),
        log({ durationMs: 123456789.123, createdAt: new Date(Date.UTC(2038, 0, 19, 3, 14, 8, 1)) }),
        // text no PostgreSQL column can hold: the entry is stored all the same
        log({ errorMessage: 'nul\0and lone \ud800 surrogate', status: 'error', errorCode: 'X' }),
      ];
      await store.insertLogs(entries);
      const read = new Map(
        (await store.listLogs({ userId: 'user_1', limit: 10 })).items.map((entry) => [entry.id, entry]),
      );
      expect(read.size).toBe(entries.length);
      for (const entry of entries.slice(0, 3)) expect(read.get(entry.id)).toEqual(entry);
      const last = entries[3]!;
      const stored = read.get(last.id)!;
      expect({ ...stored, errorMessage: '' }).toEqual({ ...last, errorMessage: '' });
      // a lone surrogate becomes U+FFFD on both stores (as UTF-8 encoding makes it); PostgreSQL
      // cannot hold a NUL in text, SQLite can
      expect(stored.errorMessage).toMatch(/^nul(\0|\ufffd)and lone \ufffd surrogate$/);
    });

    it('reports a database failure as STORE_ERROR without row values, with the cause attached', async () => {
      const record = session({ tokenHash: 'secret-token-hash-value' });
      await store.insertSession(record);
      const error = await rejection(store.insertSession(record), 'STORE_ERROR');
      expect(error.message).toContain('insert a session');
      expect(error.message).not.toContain('secret-token-hash-value');
      expect(error.message).not.toContain(record.id);
      expect(error.cause).toBeInstanceOf(Error);
    });

    describe('updateSession', () => {
      it('replaces config and metadata, bumps the version and updatedAt', async () => {
        const record = session();
        await store.insertSession(record);
        const before = Date.now();
        const updated = await store.updateSession(record.id, {
          config: { toolkits: { enable: ['slack'] } },
          metadata: { team: 'support', tier: 'gold' },
          expectedVersion: 1,
        });
        expect(updated).toEqual({
          ...record,
          config: { toolkits: { enable: ['slack'] } },
          metadata: { team: 'support', tier: 'gold' },
          configVersion: 2,
          updatedAt: updated.updatedAt,
        });
        expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(before);
        expect(updated.updatedAt.getTime()).toBeLessThanOrEqual(Date.now());
        expect(await store.getSession(record.id)).toEqual(updated);

        const again = await store.updateSession(record.id, { config: {}, metadata: {}, expectedVersion: 2 });
        expect(again.configVersion).toBe(3);
        expect(again.config).toEqual({});
      });

      it('rejects a stale version with SESSION_VERSION_CONFLICT and leaves the session alone', async () => {
        const record = session();
        await store.insertSession(record);
        const updated = await store.updateSession(record.id, {
          config: { v: 2 },
          metadata: {},
          expectedVersion: 1,
        });
        const error = await rejection(
          store.updateSession(record.id, { config: { v: 'lost' }, metadata: {}, expectedVersion: 1 }),
          'SESSION_VERSION_CONFLICT',
        );
        expect(error.message).toContain(`Read the session again with use("${record.id}")`);
        expect(error.details).toEqual({ sessionId: record.id, expectedVersion: 1, currentVersion: 2 });
        expect(await store.getSession(record.id)).toEqual(updated);
      });

      it('lets exactly one of two concurrent updates of one version win', async () => {
        const record = session();
        await store.insertSession(record);
        const results = await Promise.allSettled(
          ['first', 'second'].map((value) =>
            store.updateSession(record.id, { config: { value }, metadata: {}, expectedVersion: 1 }),
          ),
        );
        const winners = results.filter((result) => result.status === 'fulfilled');
        const losers = results.filter((result) => result.status === 'rejected');
        expect(winners).toHaveLength(1);
        expect((losers[0]!.reason as ToolMuxError).code).toBe('SESSION_VERSION_CONFLICT');
        expect((await store.getSession(record.id))!.configVersion).toBe(2);
      });

      it('throws SESSION_NOT_FOUND for an unknown id', async () => {
        const id = newId('ses');
        const error = await rejection(
          store.updateSession(id, { config: {}, metadata: {}, expectedVersion: 1 }),
          'SESSION_NOT_FOUND',
        );
        expect(error.message).toContain(id);
      });

      it('rejects an expectedVersion that is not a positive integer', async () => {
        const record = session();
        await store.insertSession(record);
        for (const expectedVersion of [0, -1, 1.5, Number.NaN]) {
          await rejection(
            store.updateSession(record.id, { config: {}, metadata: {}, expectedVersion }),
            'INVALID_REQUEST',
          );
        }
      });
    });

    describe('rotateSessionToken', () => {
      it('replaces version and hash, leaves the rest alone, and getSessionTokenHash reads it', async () => {
        const record = session();
        await store.insertSession(record);
        expect(await store.getSessionTokenHash(record.id)).toBe(record.tokenHash);
        const rotated = await store.rotateSessionToken(record.id, {
          expectedTokenVersion: 0,
          tokenVersion: 1,
          tokenHash: 'b'.repeat(64),
        });
        expect(rotated).toEqual({ ...record, tokenVersion: 1, tokenHash: 'b'.repeat(64) });
        expect(await store.getSession(record.id)).toEqual(rotated);
        expect(await store.getSessionTokenHash(record.id)).toBe('b'.repeat(64));
        expect(await store.getSessionTokenHash(newId('ses'))).toBeUndefined();
      });

      it('getSessionToken reads the version and hash of the token, undefined for an unknown id', async () => {
        const record = session();
        await store.insertSession(record);
        expect(await store.getSessionToken!(record.id)).toEqual({
          tokenVersion: 0,
          tokenHash: record.tokenHash,
        });
        await store.rotateSessionToken(record.id, {
          expectedTokenVersion: 0,
          tokenVersion: 1,
          tokenHash: 'f'.repeat(64),
        });
        expect(await store.getSessionToken!(record.id)).toEqual({
          tokenVersion: 1,
          tokenHash: 'f'.repeat(64),
        });
        expect(await store.getSessionToken!(newId('ses'))).toBeUndefined();
        await store.deleteSession(record.id);
        expect(await store.getSessionToken!(record.id)).toBeUndefined();
      });

      it('getSessionConfigVersion reads the config version, undefined for an unknown or deleted id', async () => {
        const record = session();
        await store.insertSession(record);
        expect(await store.getSessionConfigVersion!(record.id)).toBe(1);
        await store.updateSession(record.id, { config: { changed: true }, metadata: {}, expectedVersion: 1 });
        expect(await store.getSessionConfigVersion!(record.id)).toBe(2);
        expect(await store.getSessionConfigVersion!(newId('ses'))).toBeUndefined();
        await store.deleteSession(record.id);
        expect(await store.getSessionConfigVersion!(record.id)).toBeUndefined();
      });

      it('lets exactly one of two rotations from one version win; the other gets undefined', async () => {
        const record = session();
        await store.insertSession(record);
        const results = await Promise.all(
          ['c', 'd'].map((hash) =>
            store.rotateSessionToken(record.id, {
              expectedTokenVersion: 0,
              tokenVersion: 1,
              tokenHash: hash.repeat(64),
            }),
          ),
        );
        expect(results.filter((result) => result === undefined)).toHaveLength(1);
        const winner = results.find((result) => result !== undefined)!;
        expect(await store.getSessionTokenHash(record.id)).toBe(winner.tokenHash);
      });

      it('throws SESSION_NOT_FOUND for an unknown id', async () => {
        await rejection(
          store.rotateSessionToken(newId('ses'), {
            expectedTokenVersion: 0,
            tokenVersion: 1,
            tokenHash: 'e',
          }),
          'SESSION_NOT_FOUND',
        );
      });
    });

    describe('deleteSession', () => {
      it('deletes the session alone: reads answer undefined, its log stays, other sessions stay', async () => {
        const gone = session();
        const kept = session();
        await store.insertSession(gone);
        await store.insertSession(kept);
        const entry = log({ sessionId: gone.id });
        await store.insertLogs([entry]);
        expect(await store.deleteSession(gone.id)).toBe(true);
        expect(await store.getSession(gone.id)).toBeUndefined();
        expect(await store.getSessionTokenHash(gone.id)).toBeUndefined();
        expect(await store.getSession(kept.id)).toEqual(kept);
        expect((await store.listLogs({ sessionId: gone.id, limit: 10 })).items).toEqual([entry]);
        expect(await store.deleteSession(gone.id)).toBe(false);
        expect(await store.deleteSession(newId('ses'))).toBe(false);
      });
    });

    describe('listSessions', () => {
      // ids are created in order (oldest first) and inserted in a shuffled order
      let alice: string[];
      let bob: string[];

      beforeEach(async () => {
        const records = Array.from({ length: 12 }, (_, index) =>
          session({ userId: index % 3 === 2 ? 'bob' : 'alice', metadata: { index: String(index) } }),
        );
        for (const record of shuffled(records)) await store.insertSession(record);
        alice = records.filter((record) => record.userId === 'alice').map((record) => record.id);
        bob = records.filter((record) => record.userId === 'bob').map((record) => record.id);
      });

      it('lists newest first', async () => {
        const page = await store.listSessions({ limit: 1000 });
        expect(page.items.map((item) => item.id)).toEqual([...alice, ...bob].sort().reverse());
        expect(page.items[0]!.metadata).toEqual({ index: '11' });
        expect(page.nextCursor).toBeUndefined();
      });

      it('filters by user', async () => {
        const page = await store.listSessions({ userId: 'bob', limit: 1000 });
        expect(page.items.map((item) => item.id)).toEqual([...bob].reverse());
        expect(page.items.every((item) => item.userId === 'bob')).toBe(true);
        expect((await store.listSessions({ userId: 'nobody', limit: 10 })).items).toEqual([]);
      });

      it('pages with cursors until exhausted, without duplicates or gaps', async () => {
        const everyone = await collectPages((cursor) => store.listSessions({ limit: 5, cursor }));
        expect(everyone).toEqual({ ids: [...alice, ...bob].sort().reverse(), pageSizes: [5, 5, 2] });

        const ofAlice = await collectPages((cursor) =>
          store.listSessions({ userId: 'alice', limit: 3, cursor }),
        );
        expect(ofAlice).toEqual({ ids: [...alice].reverse(), pageSizes: [3, 3, 2] });

        // a limit that divides the rows evenly ends without an empty page
        const ofBob = await collectPages((cursor) => store.listSessions({ userId: 'bob', limit: 2, cursor }));
        expect(ofBob).toEqual({ ids: [...bob].reverse(), pageSizes: [2, 2] });

        const single = await collectPages((cursor) => store.listSessions({ limit: 1, cursor }));
        expect(single.ids).toEqual(everyone.ids);
      });
    });

    describe('logs', () => {
      let entries: ExecutionLogRecord[];

      beforeEach(async () => {
        entries = Array.from({ length: 10 }, (_, index) =>
          log({
            sessionId: index < 6 ? 'ses_a' : index < 9 ? 'ses_b' : null,
            userId: index % 2 === 0 ? 'user_even' : 'user_odd',
            toolSlug: index % 3 === 0 ? 'ACME_CREATE_ORDER' : 'ACME_GET_ORDER',
            status: index % 4 === 0 ? 'error' : 'success',
            errorCode: index % 4 === 0 ? 'TOOL_EXECUTION_FAILED' : null,
            errorMessage: index % 4 === 0 ? `failure ${index}` : null,
            connectedAccountId: index % 2 === 0 ? 'ca_1' : null,
            callId: `call_${index}`,
            durationMs: index * 1.5,
            createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, index)),
          }),
        );
        for (const entry of shuffled(entries)) await store.insertLogs([entry]);
      });

      const newestFirst = (predicate: (entry: ExecutionLogRecord) => boolean) =>
        entries.filter(predicate).reverse();

      it('lists all fields, newest first', async () => {
        const page = await store.listLogs({ limit: 1000 });
        expect(page.items).toEqual(newestFirst(() => true));
        expect(page.nextCursor).toBeUndefined();
      });

      it('filters by session, user and tool, alone and together', async () => {
        expect((await store.listLogs({ sessionId: 'ses_b', limit: 100 })).items).toEqual(
          newestFirst((entry) => entry.sessionId === 'ses_b'),
        );
        expect((await store.listLogs({ userId: 'user_odd', limit: 100 })).items).toEqual(
          newestFirst((entry) => entry.userId === 'user_odd'),
        );
        expect((await store.listLogs({ toolSlug: 'ACME_CREATE_ORDER', limit: 100 })).items).toEqual(
          newestFirst((entry) => entry.toolSlug === 'ACME_CREATE_ORDER'),
        );
        const combined = await store.listLogs({
          sessionId: 'ses_a',
          userId: 'user_even',
          toolSlug: 'ACME_CREATE_ORDER',
          limit: 100,
        });
        expect(combined.items.map((item) => item.callId)).toEqual(['call_0']);
      });

      it('pages with cursors until exhausted', async () => {
        const all = await collectPages((cursor) => store.listLogs({ limit: 4, cursor }));
        expect(all).toEqual({ ids: newestFirst(() => true).map((entry) => entry.id), pageSizes: [4, 4, 2] });

        const ofSession = await collectPages((cursor) =>
          store.listLogs({ sessionId: 'ses_a', limit: 3, cursor }),
        );
        expect(ofSession).toEqual({
          ids: newestFirst((entry) => entry.sessionId === 'ses_a').map((entry) => entry.id),
          pageSizes: [3, 3],
        });
      });

      it('reads pages asked for at once (sessions, cursors, parents, limits) as each alone, and one refused page fails alone', async () => {
        const parent = entries[1]!;
        const children = [0, 1, 2].map((index) =>
          log({
            sessionId: 'ses_a',
            parentId: parent.id,
            callId: `child_${index}`,
            createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, 1, index)),
          }),
        );
        await store.insertLogs(children);
        const first = await store.listLogs({ sessionId: 'ses_a', limit: 2 });
        const queries = [
          { sessionId: 'ses_a', limit: 2 },
          { sessionId: 'ses_b', limit: 100 },
          { sessionId: 'ses_a', limit: 2, cursor: first.nextCursor },
          { sessionId: 'ses_b', limit: 1, cursor: entries[8]!.id },
          { sessionId: 'ses_a', parentId: parent.id, limit: 2 },
          { sessionId: 'ses_a', parentId: parent.id, limit: 2, cursor: children[1]!.id },
          { sessionId: 'ses_a', parentId: entries[0]!.id, limit: 5 },
          { sessionId: 'ses_unknown', limit: 5 },
          { sessionId: 'ses_a', limit: 1000 },
        ];
        const alone = [];
        for (const query of queries) alone.push(await store.listLogs(query));
        expect(alone.map((page) => page.items.length)).toEqual([2, 3, 2, 1, 2, 1, 0, 0, 9]);
        expect(alone[0]!.items.map((item) => item.id)).toEqual([children[2]!.id, children[1]!.id]);
        expect(alone[5]!.items).toEqual([children[0]!]);

        // twice each, all at once
        expect(await Promise.all([...queries, ...queries].map((query) => store.listLogs(query)))).toEqual([
          ...alone,
          ...alone,
        ]);

        // a session id PostgreSQL cannot hold (NUL) among them: the others are read all the same
        const refused = { sessionId: 'ses_\u0000', limit: 5 };
        const settled = await Promise.allSettled([...queries, refused].map((query) => store.listLogs(query)));
        expect(settled.slice(0, -1)).toEqual(alone.map((value) => ({ status: 'fulfilled', value })));
        const last = settled.at(-1)!;
        if (last.status === 'rejected') expect((last.reason as ToolMuxError).code).toBe('STORE_ERROR');
        else expect(last.value.items).toEqual([]);
      });
    });

    describe('auth configs', () => {
      it('round-trip settings, the sealed secret and dates; an unknown id is undefined', async () => {
        const record = authConfig();
        const fields = authConfig({ type: 'api_key', secret: null, settings: {} });
        expect(await store.insertAuthConfig(record)).toBe(true);
        expect(await store.insertAuthConfig(fields)).toBe(true);
        expect(await store.getAuthConfig(record.id)).toEqual(record);
        expect(await store.getAuthConfig(fields.id)).toEqual(fields);
        expect(await store.getAuthConfig(newId('ac'))).toBeUndefined();
        await rejection(store.insertAuthConfig(record), 'STORE_ERROR');
      });

      it('list by toolkit and creator, newest first, in pages', async () => {
        const records = [
          authConfig({ toolkit: 'github' }),
          authConfig({ toolkit: 'slack' }),
          authConfig({ toolkit: 'github', createdBy: 'toolmux' }),
          authConfig({ toolkit: 'github' }),
        ];
        for (const record of shuffled(records)) await store.insertAuthConfig(record);
        const ids = (filter: Parameters<Store['listAuthConfigs']>[0]) =>
          store.listAuthConfigs(filter).then((page) => page.items.map((item) => item.id));
        expect(await ids({ toolkit: 'github', limit: 10 })).toEqual(
          [records[3]!, records[2]!, records[0]!].map((record) => record.id),
        );
        expect(await ids({ toolkit: 'github', createdBy: 'toolmux', limit: 10 })).toEqual([records[2]!.id]);
        const paged = await collectPages((cursor) => store.listAuthConfigs({ limit: 3, cursor }));
        expect(paged).toEqual({ ids: records.map((record) => record.id).reverse(), pageSizes: [3, 1] });
      });

      it('keep one toolmux-created config per toolkit, also when two are inserted at once', async () => {
        const results = await Promise.all(
          [1, 2, 3].map(() => store.insertAuthConfig(authConfig({ createdBy: 'toolmux' }))),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.insertAuthConfig(authConfig({ createdBy: 'toolmux', toolkit: 'slack' }))).toBe(
          true,
        );
        expect(await store.insertAuthConfig(authConfig({ createdBy: 'user' }))).toBe(true);
        expect((await store.listAuthConfigs({ createdBy: 'toolmux', limit: 10 })).items).toHaveLength(2);
      });

      it('update the columns given only while updatedAt is the one expected', async () => {
        const record = authConfig();
        await store.insertAuthConfig(record);
        const later = new Date(record.updatedAt.getTime() + 1);
        const secret = { keyId: '8899aabbccddeeff', ciphertext: 'v1.bmV3' };
        // only the settings: the sealed secret stays
        const renamed = await store.updateAuthConfig!(
          record.id,
          { settings: { ...record.settings, name: 'renamed' }, updatedAt: later },
          record.updatedAt,
        );
        expect(renamed).toEqual({
          ...record,
          settings: { ...record.settings, name: 'renamed' },
          updatedAt: later,
        });
        // a writer that read the old updatedAt changes nothing
        expect(
          await store.updateAuthConfig!(
            record.id,
            { secret, updatedAt: new Date(later.getTime() + 1) },
            record.updatedAt,
          ),
        ).toBeUndefined();
        expect(await store.getAuthConfig(record.id)).toEqual(renamed);
        const rotated = await store.updateAuthConfig!(
          record.id,
          { secret, updatedAt: new Date(later.getTime() + 1) },
          later,
        );
        expect(rotated).toEqual({ ...renamed, secret, updatedAt: new Date(later.getTime() + 1) });
        expect(await store.getAuthConfig(record.id)).toEqual(rotated);
        // a secret removed, and an unknown id
        const publicClient = await store.updateAuthConfig!(
          record.id,
          { secret: null, updatedAt: new Date(later.getTime() + 2) },
          rotated!.updatedAt,
        );
        expect(publicClient?.secret).toBeNull();
        expect(
          await store.updateAuthConfig!(newId('ac'), { updatedAt: later }, record.updatedAt),
        ).toBeUndefined();
      });

      it('let one of two updates from the same read win', async () => {
        const record = authConfig();
        await store.insertAuthConfig(record);
        const results = await Promise.all(
          ['a', 'b', 'c'].map((name, index) =>
            store.updateAuthConfig!(
              record.id,
              { settings: { name }, updatedAt: new Date(record.updatedAt.getTime() + 1 + index) },
              record.updatedAt,
            ),
          ),
        );
        const winners = results.filter((result) => result !== undefined);
        expect(winners).toHaveLength(1);
        expect(await store.getAuthConfig(record.id)).toEqual(winners[0]);
      });

      it('delete with their accounts and connection requests', async () => {
        const config = authConfig();
        const kept = authConfig();
        await store.insertAuthConfig(config);
        await store.insertAuthConfig(kept);
        const gone = account({ authConfigId: config.id });
        const stays = account({ authConfigId: kept.id });
        // an attempt not connected yet holds no tokens
        const attempt = account({ authConfigId: config.id, status: 'INITIATED', secret: null });
        await store.insertConnectedAccount(gone);
        await store.insertConnectedAccount(stays);
        await store.insertConnectedAccount(attempt);
        const request = connectionRequest({ authConfigId: config.id, connectedAccountId: gone.id });
        await store.insertConnectionRequest(request);
        const pendingFields = fieldsRequest({ authConfigId: config.id });
        await store.insertConnectionRequest(pendingFields);
        // the accounts that went holding credentials, as they were (their tokens are revoked then)
        expect(await store.deleteAuthConfig(config.id)).toEqual([gone]);
        expect(await store.getConnectedAccount(attempt.id)).toBeUndefined();
        expect(await store.getConnectionRequest(pendingFields.id)).toBeUndefined();
        expect(await store.deleteAuthConfig(config.id)).toBe(false);
        expect(await store.getAuthConfig(config.id)).toBeUndefined();
        expect(await store.getConnectedAccount(gone.id)).toBeUndefined();
        expect(await store.getConnectionRequestByStateHash(request.stateHash!)).toBeUndefined();
        expect(await store.getConnectedAccount(stays.id)).toEqual(stays);
      });

      it('with keepHeldAccounts, delete nothing while an account holds credentials, answering those', async () => {
        const config = authConfig();
        await store.insertAuthConfig(config);
        const held = account({ authConfigId: config.id });
        const attempt = account({ authConfigId: config.id, status: 'INITIATED', secret: null });
        await store.insertConnectedAccount(held);
        await store.insertConnectedAccount(attempt);
        const request = fieldsRequest({ authConfigId: config.id });
        await store.insertConnectionRequest(request);
        expect(await store.deleteAuthConfig(config.id, { keepHeldAccounts: true })).toEqual({ held: [held] });
        expect(await store.getAuthConfig(config.id)).toEqual(config);
        expect(await store.getConnectedAccount(attempt.id)).toEqual(attempt);
        expect(await store.getConnectionRequest(request.id)).toEqual(request);
        // once it is gone, the config goes with what holds no credentials
        expect(await store.deleteConnectedAccount(held.id)).toBe(true);
        expect(await store.deleteAuthConfig(config.id, { keepHeldAccounts: true })).toEqual([]);
        expect(await store.getAuthConfig(config.id)).toBeUndefined();
        expect(await store.getConnectedAccount(attempt.id)).toBeUndefined();
        expect(await store.deleteAuthConfig(config.id, { keepHeldAccounts: true })).toBe(false);
      });

      it('with keepHeldAccounts, an account given credentials at the same moment is held, or gone before it got them', async () => {
        for (let round = 0; round < 20; round++) {
          const config = authConfig();
          await store.insertAuthConfig(config);
          const attempt = account({ authConfigId: config.id, status: 'INITIATED', secret: null });
          await store.insertConnectedAccount(attempt);
          const [deleted, connected] = await Promise.all([
            store.deleteAuthConfig(config.id, { keepHeldAccounts: true }),
            store.updateConnectedAccount(attempt.id, {
              status: 'ACTIVE',
              secret: { keyId: '0011223344556677', ciphertext: 'v1.dG9rZW4' },
            }),
          ]);
          if (Array.isArray(deleted)) {
            // deleted first: the credentials found no account to go to (the callback revokes them)
            expect(connected).toBeUndefined();
            expect(await store.getConnectedAccount(attempt.id)).toBeUndefined();
          } else {
            expect(deleted).toEqual({ held: [connected] });
            expect(await store.getConnectedAccount(attempt.id)).toEqual(connected);
            expect(await store.getAuthConfig(config.id)).toEqual(config);
          }
        }
      });
    });

    describe('workbench files', () => {
      it('keep a session within its quota, each path counted, also when written at once', async () => {
        const { id: sessionId } = session();
        await store.insertSession(session({ id: sessionId }));
        const file = (path: string, size: number) => ({
          sessionId,
          path,
          content: 'x'.repeat(size),
          size,
          updatedAt: new Date(),
        });
        // 16 writes of 300 KB (and a 3-byte path) at once under a 1 MB quota: three fit
        const totals = await Promise.all(
          Array.from({ length: 16 }, (_, i) =>
            store.putWorkbenchFile!(file(`f${String(i).padStart(2, '0')}`, 300_000), 1_000_000),
          ),
        );
        expect(totals.filter((total) => total !== undefined)).toHaveLength(3);
        const listed = await store.listWorkbenchFiles!(sessionId);
        expect(listed).toHaveLength(3);
        expect(listed.every((listedFile) => listedFile.size === 300_000)).toBe(true);
        for (const listedFile of listed) await store.deleteWorkbenchFile!(sessionId, listedFile.path);
        // a path's bytes count (UTF-8), and each file its record: files of nothing under long paths
        // do not fill the store for free
        const record = WORKBENCH_FILE_RECORD_BYTES;
        expect(await store.putWorkbenchFile!(file('é'.repeat(300), 0), 2_000)).toBe(600 + record);
        expect(await store.putWorkbenchFile!(file('q'.repeat(100), 0), 2_000)).toBeUndefined();
        // a file written again counts once, its new size
        expect(await store.putWorkbenchFile!(file('é'.repeat(300), 376), 2_000)).toBe(2_000);
        expect(await store.putWorkbenchFile!(file('é'.repeat(300), 377), 2_000)).toBeUndefined();
        expect((await store.getWorkbenchFile!(sessionId, 'é'.repeat(300)))?.size).toBe(376);
        await store.deleteWorkbenchFile!(sessionId, 'é'.repeat(300));
        // files of nothing under one-character paths, written at once: as many as their records fit
        // (they counted a byte each, and 20 fit under a quota of 10 records)
        const tiny = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.putWorkbenchFile!(file(String.fromCharCode(97 + i), 0), 10 * (record + 1)),
          ),
        );
        expect(tiny.filter((total) => total !== undefined)).toHaveLength(10);
        expect(await store.listWorkbenchFiles!(sessionId)).toHaveLength(10);
      });

      it('of a session that is not there (deleted before or while a cell wrote) are SESSION_NOT_FOUND, nothing stored', async () => {
        const { id: sessionId } = session();
        // one piece, and a file of several pieces (written before the last piece's transaction)
        for (const size of [10, 3 * 1024 * 1024]) {
          const refused = await store.putWorkbenchFile!(
            { sessionId, path: `gone-${size}`, content: 'x'.repeat(size), size, updatedAt: new Date() },
            64 * 1024 * 1024,
          ).then(
            () => undefined,
            (error: unknown) => error,
          );
          // on the code before: STORE_ERROR, the foreign key's failure (a 5xx)
          expect((refused as { code?: string }).code, String(refused)).toBe('SESSION_NOT_FOUND');
          expect((refused as Error).message).toContain(sessionId);
          expect(await store.listWorkbenchFiles!(sessionId)).toEqual([]);
        }
      });
    });

    describe('connected accounts', () => {
      beforeEach(() => insertFixtureConfigs(store));

      it('round-trip every field, nulls included; status reads only the status columns', async () => {
        const full = account({
          statusReason: 'invalid_grant: revoked',
          refreshLeaseUntil: new Date('2030-01-01T00:00:00.001Z'),
          version: 7,
        });
        const empty = account({ status: 'INITIATED', secret: null, expiresAt: null, connectedAt: null });
        await store.insertConnectedAccount(full);
        await store.insertConnectedAccount(empty);
        expect(await store.getConnectedAccount(full.id)).toEqual(full);
        expect(await store.getConnectedAccount(empty.id)).toEqual(empty);
        expect(await store.getConnectedAccountStatus(full.id)).toEqual({
          id: full.id,
          status: 'ACTIVE',
          statusReason: 'invalid_grant: revoked',
          version: 7,
          toolkit: 'github',
        });
        expect(await store.getConnectedAccountStatus(newId('ca'))).toBeUndefined();
      });

      it('keep an alias unique per user and toolkit (ALIAS_TAKEN), list by alias, and rename', async () => {
        const work = account({ alias: 'work' });
        await store.insertConnectedAccount(work);
        // the same alias for another user, another toolkit, or no alias at all: fine
        await store.insertConnectedAccount(account({ alias: 'work', userId: 'user_2' }));
        await store.insertConnectedAccount(account({ alias: 'work', toolkit: 'gmail' }));
        await store.insertConnectedAccount(account());
        await store.insertConnectedAccount(account());
        expect(await store.getConnectedAccount(work.id)).toEqual(work);
        await rejection(store.insertConnectedAccount(account({ alias: 'work' })), 'ALIAS_TAKEN');
        const personal = account({ alias: 'personal' });
        await store.insertConnectedAccount(personal);
        await rejection(store.updateConnectedAccount(personal.id, { alias: 'work' }), 'ALIAS_TAKEN');
        const found = await store.listConnectedAccounts({
          userIds: ['user_1'],
          toolkits: ['github'],
          aliases: ['work'],
          limit: 10,
        });
        expect(found.items.map((item) => item.id)).toEqual([work.id]);
        expect(await store.updateConnectedAccount(work.id, { alias: null })).toMatchObject({ alias: null });
        expect(await store.updateConnectedAccount(personal.id, { alias: 'work' })).toMatchObject({
          alias: 'work',
        });
        // a fields request keeps the alias its account will get
        const request = fieldsRequest({ alias: 'home', toolkit: 'github' });
        await store.insertConnectionRequest(request);
        expect(await store.getConnectionRequest(request.id)).toEqual(request);
      });

      it('take an alias from an account no call can use in the insert, and only when the insert is made', async () => {
        const expired = account({ alias: 'work', status: 'EXPIRED' });
        const active = account({ alias: 'home' });
        await store.insertConnectedAccount(expired);
        await store.insertConnectedAccount(active);
        // refused (the config gone, the id taken, the alias held by an ACTIVE account): nothing changes
        await rejection(
          store.insertConnectedAccount(account({ alias: 'work', authConfigId: 'ac_gone' })),
          'AUTH_CONFIG_NOT_FOUND',
        );
        await rejection(
          store.insertConnectedAccount(account({ id: active.id, alias: 'work' })),
          'STORE_ERROR',
        );
        await rejection(store.insertConnectedAccount(account({ alias: 'home' })), 'ALIAS_TAKEN');
        expect(await store.getConnectedAccount(expired.id)).toEqual(expired);
        expect(await store.getConnectedAccount(active.id)).toEqual(active);
        // made: the expired account lets go of it in the same step
        const next = account({ alias: 'work' });
        await store.insertConnectedAccount(next);
        expect(await store.getConnectedAccount(next.id)).toEqual(next);
        expect(await store.getConnectedAccount(expired.id)).toMatchObject({ alias: null, version: 2 });
      });

      it('list by any of several users, toolkits, statuses and auth configs, in pages', async () => {
        const records = [
          account({ userId: 'alice', toolkit: 'github', status: 'ACTIVE', authConfigId: 'ac_1' }),
          account({ userId: 'bob', toolkit: 'slack', status: 'EXPIRED', authConfigId: 'ac_2' }),
          account({ userId: 'carol', toolkit: 'github', status: 'FAILED', authConfigId: 'ac_1' }),
          account({ userId: 'alice', toolkit: 'slack', status: 'INITIATED', authConfigId: 'ac_2' }),
        ];
        for (const record of shuffled(records)) await store.insertConnectedAccount(record);
        const ids = (query: Omit<Parameters<Store['listConnectedAccounts']>[0], 'limit'>) =>
          store
            .listConnectedAccounts({ ...query, limit: 100 })
            .then((page) => page.items.map((item) => records.findIndex((record) => record.id === item.id)));
        expect(await ids({})).toEqual([3, 2, 1, 0]);
        expect(await ids({ userIds: ['alice', 'bob'] })).toEqual([3, 1, 0]);
        expect(await ids({ userIds: ['alice'], toolkits: ['slack'] })).toEqual([3]);
        expect(await ids({ statuses: ['ACTIVE', 'EXPIRED'] })).toEqual([1, 0]);
        expect(await ids({ authConfigIds: ['ac_1'], userIds: [] })).toEqual([2, 0]);
        expect(await ids({ userIds: ['nobody'] })).toEqual([]);
        const paged = await collectPages((cursor) => store.listConnectedAccounts({ limit: 3, cursor }));
        expect(paged.pageSizes).toEqual([3, 1]);
      });

      it("list one user's accounts on one config, most recently connected first", async () => {
        const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 0, minute));
        const records = [
          account({ authConfigId: 'ac_x', connectedAt: at(5) }),
          account({ authConfigId: 'ac_x', connectedAt: at(9) }), // created later, connected latest
          account({ authConfigId: 'ac_x', connectedAt: at(1), status: 'EXPIRED' }),
          account({ authConfigId: 'ac_x', connectedAt: null, status: 'INITIATED' }),
          account({ authConfigId: 'ac_x', connectedAt: at(30), userId: 'someone_else' }),
          account({ authConfigId: 'ac_y', connectedAt: at(30) }),
        ];
        for (const record of shuffled(records)) await store.insertConnectedAccount(record);
        const recent = await store.listRecentConnectedAccounts({
          userId: 'user_1',
          authConfigId: 'ac_x',
          statuses: ['ACTIVE', 'EXPIRED', 'INITIATED'],
          limit: 10,
        });
        expect(recent.map((item) => item.id)).toEqual([1, 0, 2, 3].map((index) => records[index]!.id));
        const active = await store.listRecentConnectedAccounts({
          userId: 'user_1',
          authConfigId: 'ac_x',
          statuses: ['ACTIVE'],
          limit: 1,
        });
        expect(active.map((item) => item.id)).toEqual([records[1]!.id]);
      });

      it('update: changes, a new version, and nothing when the expected version moved', async () => {
        const record = account({ version: 3 });
        await store.insertConnectedAccount(record);
        const secret = { keyId: 'ffeeddccbbaa9988', ciphertext: 'v1.bmV3' };
        const updated = await store.updateConnectedAccount(
          record.id,
          { status: 'EXPIRED', statusReason: 'invalid_grant: gone', secret, expiresAt: null },
          3,
        );
        expect(updated).toMatchObject({
          status: 'EXPIRED',
          statusReason: 'invalid_grant: gone',
          secret,
          expiresAt: null,
          version: 4,
        });
        expect(updated!.connectedAt).toEqual(record.connectedAt);
        expect(updated!.updatedAt.getTime()).toBeGreaterThan(record.updatedAt.getTime());
        expect(await store.updateConnectedAccount(record.id, { status: 'ACTIVE' }, 3)).toBeUndefined();
        expect(await store.getConnectedAccount(record.id)).toEqual(updated);
        const cleared = await store.updateConnectedAccount(record.id, {
          secret: null,
          refreshLeaseUntil: null,
        });
        expect(cleared).toMatchObject({ secret: null, version: 5 });
        expect(await store.updateConnectedAccount(newId('ca'), { status: 'ACTIVE' })).toBeUndefined();
      });

      it('give the refresh lease to one of two at once, and again only after it runs out', async () => {
        const record = account({ version: 1 });
        await store.insertConnectedAccount(record);
        const now = new Date();
        // a lease of a minute, so that "held" does not depend on how fast a loaded machine gets to the
        // next call; PostgreSQL's store reads it by the database's clock, not the `now` given
        const until = new Date(now.getTime() + 60_000);
        const [first, second] = await Promise.all([
          store.acquireRefreshLease(record.id, 1, until, now),
          store.acquireRefreshLease(record.id, 1, until, now),
        ]);
        const winners = [first, second].filter(Boolean);
        expect(winners).toHaveLength(1);
        expect(winners[0]).toMatchObject({ version: 2 });
        // as long as asked for, from the store's now (the same clock here, give or take a second)
        expect(Math.abs(winners[0]!.refreshLeaseUntil!.getTime() - until.getTime())).toBeLessThan(1_000);
        // the lease is held: the right version is not enough
        expect(await store.acquireRefreshLease(record.id, 2, until, new Date())).toBeUndefined();
        // a lease that runs out in 100 ms can be taken over once it has run out
        const short = await store.updateConnectedAccount(
          record.id,
          { refreshLeaseUntil: new Date(Date.now() + 100) },
          2,
        );
        expect(short).toMatchObject({ version: 3 });
        await new Promise((done) => setTimeout(done, 300));
        const later = new Date();
        expect(
          await store.acquireRefreshLease(record.id, 3, new Date(later.getTime() + 30_000), later),
        ).toMatchObject({ version: 4 });
      });

      it.skipIf(name !== 'postgres')(
        "read the refresh lease by the database's clock: a caller whose clock runs a minute ahead takes no live lease",
        async () => {
          const record = account({ version: 1 });
          await store.insertConnectedAccount(record);
          const now = new Date();
          const leased = await store.acquireRefreshLease(record.id, 1, new Date(now.getTime() + 45_000), now);
          expect(leased).toMatchObject({ version: 2 });
          // an instance whose clock is 60 s ahead: by its clock the 45 s lease ran out
          const ahead = new Date(Date.now() + 60_000);
          expect(
            await store.acquireRefreshLease(record.id, 2, new Date(ahead.getTime() + 45_000), ahead),
          ).toBeUndefined();
          // and the lease it takes once it is free lasts 45 s from the database's now, not from its own
          await store.updateConnectedAccount(record.id, { refreshLeaseUntil: null }, 2);
          const taken = await store.acquireRefreshLease(
            record.id,
            3,
            new Date(ahead.getTime() + 45_000),
            ahead,
          );
          expect(Math.abs(taken!.refreshLeaseUntil!.getTime() - (Date.now() + 45_000))).toBeLessThan(5_000);
        },
      );

      it('are stored only through an auth config that exists, as are connection requests', async () => {
        const orphan = account({ authConfigId: 'ac_gone' });
        await rejection(store.insertConnectedAccount(orphan), 'AUTH_CONFIG_NOT_FOUND');
        await rejection(
          store.insertConnectionRequest(fieldsRequest({ authConfigId: 'ac_gone' })),
          'AUTH_CONFIG_NOT_FOUND',
        );
        expect(await store.getConnectedAccount(orphan.id)).toBeUndefined();
        // nor by completing a request: the request stays open
        const request = fieldsRequest({ expiresAt: new Date(Date.now() + 60_000) });
        await store.insertConnectionRequest(request);
        expect(await store.completeConnectionRequest(request.id, orphan, new Date())).toBe(false);
        expect(await store.getConnectedAccount(orphan.id)).toBeUndefined();
        expect(await store.getConnectionRequest(request.id)).toMatchObject({
          status: 'PENDING',
          usedAt: null,
        });
      });

      it('delete with their connection requests', async () => {
        const record = account();
        await store.insertConnectedAccount(record);
        const request = connectionRequest({ connectedAccountId: record.id });
        await store.insertConnectionRequest(request);
        expect(await store.deleteConnectedAccount(record.id)).toBe(true);
        expect(await store.deleteConnectedAccount(record.id)).toBe(false);
        expect(await store.getConnectionRequestByStateHash(request.stateHash!)).toBeUndefined();
      });

      it('delete only as read with an expected version', async () => {
        const record = account();
        await store.insertConnectedAccount(record);
        const request = connectionRequest({ connectedAccountId: record.id });
        await store.insertConnectionRequest(request);
        await store.updateConnectedAccount(record.id, { alias: 'moved' }, 1);
        // changed since version 1 was read: nothing is deleted, its requests neither
        expect(await store.deleteConnectedAccount(record.id, 1)).toBe(false);
        expect(await store.getConnectedAccount(record.id)).toMatchObject({ version: 2 });
        expect(await store.getConnectionRequestByStateHash(request.stateHash!)).toBeDefined();
        expect(await store.deleteConnectedAccount(record.id, 2)).toBe(true);
        expect(await store.getConnectionRequestByStateHash(request.stateHash!)).toBeUndefined();
        expect(await store.deleteConnectedAccount(record.id, 2)).toBe(false);
      });
    });

    describe('connection requests', () => {
      beforeEach(() => insertFixtureConfigs(store));

      it('are found by state hash only, and used once even by two callbacks at once', async () => {
        const request = connectionRequest();
        await store.insertConnectionRequest(request);
        expect(await store.getConnectionRequestByStateHash(request.stateHash!)).toEqual(request);
        expect(await store.getConnectionRequestByStateHash(`${request.stateHash}x`)).toBeUndefined();
        const usedAt = new Date('2025-03-01T10:01:00.000Z');
        const results = await Promise.all([
          store.markConnectionRequestUsed(request.id, usedAt),
          store.markConnectionRequestUsed(request.id, usedAt),
        ]);
        expect(results.sort()).toEqual([false, true]);
        expect(await store.getConnectionRequestByStateHash(request.stateHash!)).toEqual({
          ...request,
          usedAt,
        });
        await rejection(
          store.insertConnectionRequest({ ...connectionRequest(), stateHash: request.stateHash }),
          'STORE_ERROR',
        );
      });

      it('are read by id, of both kinds, nulls included; an unknown id is undefined', async () => {
        const oauth = connectionRequest();
        const fields = fieldsRequest();
        const other = fieldsRequest();
        for (const record of [oauth, fields, other]) await store.insertConnectionRequest(record);
        expect(await store.getConnectionRequest(oauth.id)).toEqual(oauth);
        expect(await store.getConnectionRequest(fields.id)).toEqual(fields);
        expect(await store.getConnectionRequest(newId('cr'))).toBeUndefined();
        // many fields requests have no state hash: the unique index leaves NULLs alone
        expect((await store.getConnectionRequest(other.id))!.stateHash).toBeNull();
        // an OAuth request needs its state, verifier and account
        await rejection(store.insertConnectionRequest(connectionRequest({ stateHash: null })), 'STORE_ERROR');
        await rejection(store.insertConnectionRequest(connectionRequest({ secret: null })), 'STORE_ERROR');
      });

      it('record how a used OAuth request ended, once', async () => {
        const request = connectionRequest();
        await store.insertConnectionRequest(request);
        expect(await store.markConnectionRequestUsed(request.id, new Date('2025-03-01T10:01:00.000Z'))).toBe(
          true,
        );
        expect(await store.finishConnectionRequest(request.id, 'FAILED')).toBe(true);
        expect(await store.finishConnectionRequest(request.id, 'COMPLETED')).toBe(false);
        expect(await store.finishConnectionRequest(newId('cr'), 'COMPLETED')).toBe(false);
        expect((await store.getConnectionRequest(request.id))!.status).toBe('FAILED');
      });

      it('connect at most maxAccounts ACTIVE or INACTIVE accounts per user and toolkit, even when completed at once', async () => {
        // two stores on one database where there can be two (two processes), else one
        const other = durable ? await backend.openAnotherStore!() : store;
        if (other !== store) await other.migrate();
        const now = new Date('2025-03-01T10:05:00.000Z');
        const max = 3;
        // Ada already has one INACTIVE account (it counts) and an EXPIRED one and Bob's (they do not)
        await store.insertConnectedAccount(account({ userId: 'ada', toolkit: 'mail', status: 'INACTIVE' }));
        await store.insertConnectedAccount(account({ userId: 'ada', toolkit: 'mail', status: 'EXPIRED' }));
        await store.insertConnectedAccount(account({ userId: 'bob', toolkit: 'mail' }));
        const fields = Array.from({ length: 12 }, () => fieldsRequest({ userId: 'ada', maxAccounts: max }));
        const initiated = Array.from({ length: 12 }, () =>
          account({ userId: 'ada', toolkit: 'mail', status: 'INITIATED', secret: null, connectedAt: null }),
        );
        for (const request of fields) await store.insertConnectionRequest(request);
        for (const record of initiated) await store.insertConnectedAccount(record);
        expect((await store.getConnectionRequest(fields[0]!.id))!.maxAccounts).toBe(max);
        const activation = { status: 'ACTIVE', connectedAt: now } as const;
        const attempts = await Promise.allSettled(
          fields.flatMap((request, index) => {
            const [mine, theirs] = index % 2 === 0 ? [store, other] : [other, store];
            return [
              mine.completeConnectionRequest(request.id, account({ userId: 'ada', toolkit: 'mail' }), now),
              theirs.activateConnectedAccount!(initiated[index]!.id, activation, max),
            ];
          }),
        );
        const made = attempts.filter((attempt) => attempt.status === 'fulfilled');
        const refused = attempts.flatMap((attempt) =>
          attempt.status === 'rejected' ? [attempt.reason] : [],
        );
        expect(made).toHaveLength(max - 1);
        expect(refused).toHaveLength(24 - (max - 1));
        for (const error of refused) {
          expect(ToolMuxError.isInstance(error) && error.code, String(error)).toBe('ACCOUNT_LIMIT_REACHED');
        }
        const counted = await store.listConnectedAccounts({
          userIds: ['ada'],
          toolkits: ['mail'],
          statuses: ['ACTIVE', 'INACTIVE'],
          limit: 100,
        });
        expect(counted.items).toHaveLength(max);
        // a refused request is left open, and a refused account as it was
        const open = await store.listConnectedAccounts({
          userIds: ['ada'],
          statuses: ['INITIATED'],
          limit: 100,
        });
        expect(open.items.length).toBeGreaterThanOrEqual(12 - (max - 1));
        // no limit without maxAccounts; another user or toolkit has room of its own
        expect(
          await store.completeConnectionRequest(fieldsRequest({ userId: 'ada' }).id, account(), now),
        ).toBe(false);
        const unlimited = fieldsRequest({ userId: 'ada' });
        await store.insertConnectionRequest(unlimited);
        expect(
          await store.completeConnectionRequest(
            unlimited.id,
            account({ userId: 'ada', toolkit: 'mail' }),
            now,
          ),
        ).toBe(true);
        const bobs = fieldsRequest({ userId: 'bob', maxAccounts: 2 });
        await store.insertConnectionRequest(bobs);
        expect(
          await store.completeConnectionRequest(bobs.id, account({ userId: 'bob', toolkit: 'mail' }), now),
        ).toBe(true);
        expect(await store.activateConnectedAccount!(newId('ca'), activation, max)).toBeUndefined();
      });

      it('activate an account that has the alias itself (an attempt renamed to it) with one write', async () => {
        // renamed while INITIATED, and connected under the same alias its request kept
        const attempt = account({
          userId: 'ada',
          toolkit: 'mail',
          status: 'INITIATED',
          secret: null,
          connectedAt: null,
          alias: 'work',
        });
        await store.insertConnectedAccount(attempt);
        const now = new Date('2025-03-01T10:05:00.000Z');
        const activated = await store.activateConnectedAccount!(
          attempt.id,
          { status: 'ACTIVE', connectedAt: now, alias: 'work' },
          null,
        );
        expect(activated).toMatchObject({ status: 'ACTIVE', alias: 'work', version: attempt.version + 1 });
        expect((await store.getConnectedAccount(attempt.id))!.version).toBe(attempt.version + 1);
      });

      it('complete a fields request with its account once, even when two complete it at once', async () => {
        const request = fieldsRequest({ expiresAt: new Date('2025-03-01T10:10:00.000Z') });
        await store.insertConnectionRequest(request);
        const now = new Date('2025-03-01T10:05:00.000Z');
        const accounts = [account({ toolkit: 'mail' }), account({ toolkit: 'mail' })];
        const results = await Promise.all(
          accounts.map((candidate) => store.completeConnectionRequest(request.id, candidate, now)),
        );
        expect([...results].sort()).toEqual([false, true]);
        const winner = accounts[results.indexOf(true)]!;
        const loser = accounts[results.indexOf(false)]!;
        expect(await store.getConnectedAccount(winner.id)).toEqual(winner);
        expect(await store.getConnectedAccount(loser.id)).toBeUndefined();
        expect(await store.getConnectionRequest(request.id)).toEqual({
          ...request,
          status: 'COMPLETED',
          connectedAccountId: winner.id,
          usedAt: now,
        });
        // deleting the account deletes the request it completed
        await store.deleteConnectedAccount(winner.id);
        expect(await store.getConnectionRequest(request.id)).toBeUndefined();
      });

      it('do not complete an expired fields request, an OAuth request, or an unknown one', async () => {
        const expired = fieldsRequest({ expiresAt: new Date('2025-03-01T10:10:00.000Z') });
        const oauth = connectionRequest({ expiresAt: new Date('2025-03-01T10:10:00.000Z') });
        await store.insertConnectionRequest(expired);
        await store.insertConnectionRequest(oauth);
        const candidate = account({ toolkit: 'mail' });
        expect(
          await store.completeConnectionRequest(expired.id, candidate, new Date('2025-03-01T10:10:00.000Z')),
        ).toBe(false);
        const early = new Date('2025-03-01T10:01:00.000Z');
        expect(await store.completeConnectionRequest(oauth.id, candidate, early)).toBe(false);
        expect(await store.completeConnectionRequest(newId('cr'), candidate, early)).toBe(false);
        expect(await store.getConnectedAccount(candidate.id)).toBeUndefined();
        expect(await store.getConnectionRequest(expired.id)).toEqual(expired);
        expect(await store.getConnectionRequest(oauth.id)).toEqual(oauth);
      });
    });

    describe('encrypted records (key rotation)', () => {
      beforeEach(() => insertFixtureConfigs(store));

      it('list records not under a key, in id order after a cursor, and replace them only if unchanged', async () => {
        const oldKey = { keyId: 'aaaaaaaaaaaaaaaa', ciphertext: 'v1.b2xk' };
        const newKey = { keyId: 'bbbbbbbbbbbbbbbb', ciphertext: 'v1.bmV3' };
        const accounts = [
          account({ secret: oldKey }),
          account({ secret: newKey }),
          account({ secret: null }),
          account({ secret: oldKey }),
        ];
        for (const record of accounts) await store.insertConnectedAccount(record);
        await store.insertAuthConfig(authConfig({ secret: oldKey }));
        const listed = await store.listSealedSecrets({
          kind: 'connected_account',
          notKeyId: newKey.keyId,
          limit: 10,
        });
        expect(listed).toEqual(
          [accounts[0], accounts[3]].map((record) => ({ id: record!.id, secret: oldKey })),
        );
        expect(
          await store.listSealedSecrets({
            kind: 'connected_account',
            notKeyId: newKey.keyId,
            afterId: accounts[0]!.id,
            limit: 1,
          }),
        ).toEqual([{ id: accounts[3]!.id, secret: oldKey }]);
        expect(
          await store.listSealedSecrets({ kind: 'auth_config', notKeyId: newKey.keyId, limit: 10 }),
        ).toHaveLength(1);
        expect(await store.replaceSealedSecret('connected_account', accounts[0]!.id, oldKey, newKey)).toBe(
          true,
        );
        expect(await store.replaceSealedSecret('connected_account', accounts[0]!.id, oldKey, newKey)).toBe(
          false,
        );
        expect((await store.getConnectedAccount(accounts[0]!.id))!.secret).toEqual(newKey);
      });

      it('list and replace the sealed secrets of OAuth connection requests, not of fields requests', async () => {
        const oldKey = { keyId: 'aaaaaaaaaaaaaaaa', ciphertext: 'v1.b2xk' };
        const newKey = { keyId: 'bbbbbbbbbbbbbbbb', ciphertext: 'v1.bmV3' };
        const oauth = connectionRequest({ secret: oldKey });
        await store.insertConnectionRequest(oauth);
        await store.insertConnectionRequest(fieldsRequest());
        expect(
          await store.listSealedSecrets({ kind: 'connection_request', notKeyId: newKey.keyId, limit: 10 }),
        ).toEqual([{ id: oauth.id, secret: oldKey }]);
        expect(await store.replaceSealedSecret('connection_request', oauth.id, oldKey, newKey)).toBe(true);
        expect((await store.getConnectionRequest(oauth.id))!.secret).toEqual(newKey);
      });
    });

    describe('query validation', () => {
      it('accepts limits 1 and 1000 and rejects anything else with INVALID_REQUEST', async () => {
        expect((await store.listSessions({ limit: 1 })).items).toEqual([]);
        expect((await store.listLogs({ limit: 1000 })).items).toEqual([]);
        for (const limit of [0, -5, 1001, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
          const error = await rejection(store.listSessions({ limit }), 'INVALID_REQUEST');
          expect(error.message).toContain('limit');
          await rejection(store.listLogs({ limit }), 'INVALID_REQUEST');
        }
      });

      it('rejects a malformed cursor with INVALID_REQUEST naming it', async () => {
        for (const cursor of ['not-a-cursor', '', `${newId('ses')}x`, "ses_' OR 1=1 --"]) {
          const error = await rejection(store.listSessions({ limit: 10, cursor }), 'INVALID_REQUEST');
          expect(error.message).toContain(JSON.stringify(cursor));
        }
        // a cursor of the other list
        await rejection(store.listSessions({ limit: 10, cursor: newId('log') }), 'INVALID_REQUEST');
        await rejection(store.listLogs({ limit: 10, cursor: newId('ses') }), 'INVALID_REQUEST');
      });
    });
  });
});

/** A database at migration 2 with OAuth connection requests made then; `migrate()` then moves it to the latest. */
interface VersionTwoDatabase {
  store: Store;
  exec(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

const versionTwoBackends: Array<{
  name: string;
  skipReason: string | undefined;
  open(): Promise<VersionTwoDatabase>;
}> = [
  {
    name: 'sqlite',
    skipReason: undefined,
    async open() {
      const path = join(temporaryDirectory(), 'toolmux.db');
      const store = new SqliteStore({ path });
      return {
        store,
        async exec(sql) {
          const database = new DatabaseSync(path);
          try {
            database.exec(sql);
          } finally {
            database.close();
          }
        },
        cleanup: () => store.close(),
      };
    },
  },
  {
    name: 'postgres',
    skipReason: skipPostgres,
    async open() {
      const database = await createTestPostgresStore();
      await database.query(`CREATE SCHEMA "${database.schema}"`);
      return {
        store: database.store,
        async exec(sql) {
          await database.query(sql);
        },
        cleanup: () => database.cleanup(),
      };
    },
  },
];

describe.each(versionTwoBackends)('migration 3 on $name', ({ skipReason, open }) => {
  it.skipIf(skipReason !== undefined)(
    'keeps the OAuth connection requests of version 2: pending stays PENDING, a used one ends as its account did',
    async () => {
      const database = await open();
      try {
        const dialect = database.store.dialect;
        await database.exec(MIGRATIONS_TABLE_SQL[dialect]);
        for (const migration of MIGRATIONS.slice(0, 2)) {
          await database.exec(migration.sql[dialect]);
          await database.exec(
            `INSERT INTO toolmux_migrations (version, name, applied_at) VALUES (${migration.version}, '${migration.name}', ${dialect === 'sqlite' ? '0' : 'now()'})`,
          );
        }
        const at = (iso: string) => (dialect === 'sqlite' ? String(Date.parse(iso)) : `'${iso}'`);
        const accountRow = (id: string, status: string) =>
          `INSERT INTO toolmux_connected_accounts (id, user_id, toolkit, auth_config_id, status, version, created_at, updated_at) VALUES ('${id}', 'user_1', 'github', 'ac_1', '${status}', 1, ${at('2025-03-01T10:00:00.000Z')}, ${at('2025-03-01T10:00:00.000Z')})`;
        const requestRow = (id: string, accountId: string, usedAt: string | null) =>
          'INSERT INTO toolmux_connection_requests (id, connected_account_id, user_id, toolkit, auth_config_id, state_hash, secret, key_id, callback_url, redirect_uri, expires_at, used_at, created_at) ' +
          `VALUES ('${id}', '${accountId}', 'user_1', 'github', 'ac_1', '${id}-state', 'v1.c2VjcmV0', '0011223344556677', 'https://app.example.com/cb', 'https://tools.example.com/auth/callback', ${at('2025-03-01T10:10:00.000Z')}, ${usedAt === null ? 'NULL' : at(usedAt)}, ${at('2025-03-01T10:00:00.000Z')})`;
        await database.exec(accountRow('ca_active', 'ACTIVE'));
        await database.exec(accountRow('ca_failed', 'FAILED'));
        await database.exec(accountRow('ca_waiting', 'INITIATED'));
        await database.exec(requestRow('cr_completed', 'ca_active', '2025-03-01T10:01:00.000Z'));
        await database.exec(requestRow('cr_failed', 'ca_failed', '2025-03-01T10:01:00.000Z'));
        await database.exec(requestRow('cr_pending', 'ca_waiting', null));

        await database.store.migrate();
        const completed = await database.store.getConnectionRequest('cr_completed');
        expect(completed).toEqual({
          id: 'cr_completed',
          kind: 'oauth2',
          connectedAccountId: 'ca_active',
          userId: 'user_1',
          toolkit: 'github',
          authConfigId: 'ac_1',
          stateHash: 'cr_completed-state',
          secret: { keyId: '0011223344556677', ciphertext: 'v1.c2VjcmV0' },
          callbackUrl: 'https://app.example.com/cb',
          redirectUri: 'https://tools.example.com/auth/callback',
          status: 'COMPLETED',
          expiresAt: new Date('2025-03-01T10:10:00.000Z'),
          usedAt: new Date('2025-03-01T10:01:00.000Z'),
          createdAt: new Date('2025-03-01T10:00:00.000Z'),
          alias: null,
          maxAccounts: null,
          replacedAt: null,
          reconnectOf: null,
        });
        expect((await database.store.getConnectionRequest('cr_failed'))!.status).toBe('FAILED');
        expect((await database.store.getConnectionRequestByStateHash('cr_pending-state'))!.status).toBe(
          'PENDING',
        );
        // and the new kind fits in the migrated table
        await insertFixtureConfigs(database.store);
        const fields = fieldsRequest();
        await database.store.insertConnectionRequest(fields);
        expect(await database.store.getConnectionRequest(fields.id)).toEqual(fields);
      } finally {
        await database.cleanup();
      }
    },
  );
});

describe.each(versionTwoBackends)('migration 11 on $name', ({ skipReason, open }) => {
  it.skipIf(skipReason !== undefined)(
    'leaves the connection requests of version 10 without a limit, and they complete as before',
    async () => {
      const database = await open();
      try {
        const dialect = database.store.dialect;
        await database.exec(MIGRATIONS_TABLE_SQL[dialect]);
        for (const migration of MIGRATIONS.slice(0, 10)) {
          await database.exec(migration.sql[dialect]);
          await database.exec(
            `INSERT INTO toolmux_migrations (version, name, applied_at) VALUES (${migration.version}, '${migration.name}', ${dialect === 'sqlite' ? '0' : 'now()'})`,
          );
        }
        const at = (iso: string) => (dialect === 'sqlite' ? String(Date.parse(iso)) : `'${iso}'`);
        await database.exec(
          'INSERT INTO toolmux_connection_requests (id, kind, user_id, toolkit, auth_config_id, callback_url, status, expires_at, created_at, alias) ' +
            `VALUES ('cr_before', 'fields', 'user_1', 'mail', 'ac_1', 'https://app.example.com/cb', 'PENDING', ${at('2025-03-01T10:10:00.000Z')}, ${at('2025-03-01T10:00:00.000Z')}, 'work')`,
        );
        await database.store.migrate();
        const before = await database.store.getConnectionRequest('cr_before');
        expect(before).toMatchObject({ kind: 'fields', status: 'PENDING', alias: 'work', maxAccounts: null });
        // no limit: it completes even beside accounts of the same user and toolkit
        await insertFixtureConfigs(database.store);
        await database.store.insertConnectedAccount(account({ toolkit: 'mail' }));
        const now = new Date('2025-03-01T10:05:00.000Z');
        const made = account({ toolkit: 'mail', alias: 'work' });
        expect(await database.store.completeConnectionRequest('cr_before', made, now)).toBe(true);
        expect(await database.store.getConnectedAccount(made.id)).toEqual(made);
      } finally {
        await database.cleanup();
      }
    },
  );
});

describe('MIGRATIONS', () => {
  it('are numbered 1, 2, 3, … with unique names and SQL for both dialects', () => {
    expect(ALL_MIGRATION_VERSIONS).toEqual(MIGRATIONS.map((_, index) => index + 1));
    expect(new Set(MIGRATIONS.map((migration) => migration.name)).size).toBe(MIGRATIONS.length);
    for (const migration of MIGRATIONS) {
      expect(migration.sql.sqlite.trim()).not.toBe('');
      expect(migration.sql.postgres.trim()).not.toBe('');
    }
  });
});

describe('parseStoreSpec', () => {
  it.each([
    [undefined, { dialect: 'sqlite', path: './.toolmux/toolmux.db' }],
    ['sqlite:./data/app.db', { dialect: 'sqlite', path: './data/app.db' }],
    ['sqlite:/var/lib/toolmux/store', { dialect: 'sqlite', path: '/var/lib/toolmux/store' }],
    ['sqlite::memory:', { dialect: 'sqlite', path: ':memory:' }],
    [':memory:', { dialect: 'sqlite', path: ':memory:' }],
    ['./local.db', { dialect: 'sqlite', path: './local.db' }],
    ['/tmp/x/state.sqlite', { dialect: 'sqlite', path: '/tmp/x/state.sqlite' }],
    ['postgres://u:p@db:5432/app', { dialect: 'postgres', connectionString: 'postgres://u:p@db:5432/app' }],
    [
      'postgresql://db/app?sslmode=require',
      { dialect: 'postgres', connectionString: 'postgresql://db/app?sslmode=require' },
    ],
  ])('%s', (spec, expected) => {
    expect(parseStoreSpec(spec)).toEqual(expected);
  });

  it.each(['mysql://root@localhost/app', 'sqlite:', 'sqlite://./file.db', './notes.txt', 'memory', ''])(
    'rejects %j with STORE_CONFIG_INVALID naming it and listing the accepted forms',
    (spec) => {
      let thrown: unknown;
      try {
        parseStoreSpec(spec);
      } catch (error) {
        thrown = error;
      }
      expect(ToolMuxError.isInstance(thrown)).toBe(true);
      const error = thrown as ToolMuxError;
      expect(error.code).toBe('STORE_CONFIG_INVALID');
      expect(error.message).toContain(JSON.stringify(spec));
      for (const form of [
        'sqlite:./path/to/file.db',
        'sqlite::memory:',
        ':memory:',
        '.db or .sqlite',
        'postgres://',
      ]) {
        expect(error.message).toContain(form);
      }
    },
  );

  it.each([
    ['sqlite:~/data/app.db', join(homedir(), 'data', 'app.db')],
    ['sqlite:~', homedir()],
    ['~/state.sqlite', join(homedir(), 'state.sqlite')],
    // a "~" that is not the start of the path is a name as any other
    ['sqlite:./~/app.db', './~/app.db'],
    ['sqlite:/srv/~/app.db', '/srv/~/app.db'],
  ])('%s: a leading "~/" is the home directory, as a shell reads it', (spec, path) => {
    // on the code before, sqlite:~/data/app.db was a directory "~" under the working directory
    expect(parseStoreSpec(spec)).toEqual({ dialect: 'sqlite', path });
  });

  it.each([
    ['sqlite:~bob/app.db', '~bob'],
    ['~backup.db', '~backup.db'],
  ])("refuses %s, which a shell reads as a user's home, naming the fix", (spec, named) => {
    expect(() => parseStoreSpec(spec, 'TOOLMUX_STORE')).toThrow(
      `Invalid store ${JSON.stringify(spec)} (TOOLMUX_STORE): "${named}" is not expanded (only "~/", this user's home directory, is): write the absolute path, or "./${spec.replace(/^sqlite:/, '')}" for a file or directory whose name starts with "~".`,
    );
    const refused = (() => {
      try {
        parseStoreSpec(spec);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toMatchObject({ code: 'STORE_CONFIG_INVALID' });
  });

  it('hides the password of a rejected URL', () => {
    expect(() => parseStoreSpec('mysql://admin:hunter2@db/app')).toThrow(/"mysql:\/\/admin:\*\*\*@db\/app"/);
    expect(() => parseStoreSpec('mysql://admin:hunter2@db/app')).not.toThrow(/hunter2/);
  });
});

describe('openStore', () => {
  it('opens and migrates a SQLite file, creating its directory', async () => {
    const path = join(temporaryDirectory(), 'deep', 'store.db');
    const store = await openStore(`sqlite:${path}`);
    try {
      expect(store).toBeInstanceOf(SqliteStore);
      expect(existsSync(path)).toBe(true);
      expect((await store.listSessions({ limit: 1 })).items).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('opens the default ./.toolmux/toolmux.db in the working directory', async () => {
    const directory = temporaryDirectory();
    const previous = process.cwd();
    process.chdir(directory);
    try {
      const store = await openStore();
      await store.close();
      expect(DEFAULT_STORE_SPEC).toBe('sqlite:./.toolmux/toolmux.db');
      expect(existsSync(join(directory, '.toolmux', 'toolmux.db'))).toBe(true);
    } finally {
      process.chdir(previous);
    }
  });

  it.each(['sqlite::memory:', ':memory:'])('opens %s in memory, migrated', async (spec) => {
    const store = await openStore(spec);
    try {
      expect(store.dialect).toBe('sqlite');
      await store.insertSession(session());
      expect((await store.listSessions({ limit: 10 })).items).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('migrates and returns a Store it is given', async () => {
    const given = new SqliteStore({ path: ':memory:' });
    try {
      const store = await openStore(given);
      expect(store).toBe(given);
      expect((await store.listLogs({ limit: 1 })).items).toEqual([]);
    } finally {
      await given.close();
    }
  });

  it('rejects a bad spec with STORE_CONFIG_INVALID', async () => {
    await rejection(openStore('redis://localhost:6379'), 'STORE_CONFIG_INVALID');
    await rejection(openStore({ url: 'x' } as unknown as Store), 'STORE_CONFIG_INVALID');
  });

  it('reports an unreachable PostgreSQL as STORE_ERROR', async () => {
    // port 1 on localhost refuses connections at once
    const error = await rejection(openStore('postgres://nobody:pw@127.0.0.1:1/none'), 'STORE_ERROR');
    expect(error.message).toContain('migrations');
    expect(error.message).not.toContain('pw');
  });

  it.skipIf(skipPostgres !== undefined)('opens PostgreSQL from a postgres:// URL', async () => {
    await withTestDatabase(async (database) => {
      await database.store.migrate();
      const record = session();
      await database.store.insertSession(record);
      const url = new URL(database.connectionString);
      url.searchParams.set('options', `-c search_path=${database.schema}`);
      const store = await openStore(url.toString());
      try {
        expect(store).toBeInstanceOf(PostgresStore);
        expect(await store.getSession(record.id)).toEqual(record);
      } finally {
        await store.close();
      }
    });
  });
});
