import { afterEach, describe, expect, it } from 'vitest';
import type { ToolMuxError } from '../errors.js';
import { databaseBackends, type OpenedDatabase, quiet, rejection } from '../test/auth-fixtures.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { MIGRATIONS } from './migrations.js';
import { openStore } from './open-store.js';

/**
 * A database migrated by a newer toolmux: toolmux_migrations holds versions this code does not know.
 * A toolmux that opens it refuses (STORE_SCHEMA_TOO_NEW), writing nothing; one that was already
 * running when the newer release migrated (a rolling deploy) goes on working, as long as the newer
 * migrations only add (columns with defaults or nullable, tables, indexes), as toolmux's do.
 */

const secretKey = Buffer.alloc(32, 5).toString('base64');
const LATEST_MIGRATION_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
const NEXT = LATEST_MIGRATION_VERSION + 1;
const AFTER_NEXT = LATEST_MIGRATION_VERSION + 2;

/** What a newer toolmux might add: a column on each table, a table, an index, and its versions. */
function newerMigrations(dialect: 'sqlite' | 'postgres'): string[] {
  const text = dialect === 'sqlite' ? 'TEXT' : 'text';
  const at = dialect === 'sqlite' ? String(Date.now()) : 'now()';
  return [
    ...[
      'toolmux_sessions',
      'toolmux_execution_logs',
      'toolmux_auth_configs',
      'toolmux_connected_accounts',
      'toolmux_connection_requests',
      'toolmux_workbench_files',
    ].map((table) => `ALTER TABLE ${table} ADD COLUMN added_later ${text}`),
    `ALTER TABLE toolmux_sessions ADD COLUMN flags ${text} NOT NULL DEFAULT 'none'`,
    `CREATE TABLE toolmux_added_later (id ${text} PRIMARY KEY NOT NULL, session_id ${text} NOT NULL)`,
    'CREATE INDEX toolmux_execution_logs_added_later ON toolmux_execution_logs (tool_slug, id)',
    `INSERT INTO toolmux_migrations (version, name, applied_at) VALUES (${NEXT}, 'added_later', ${at}), (${AFTER_NEXT}, 'tool_slug_index', ${at})`,
  ];
}

const backends = await databaseBackends();

describe.each(backends)('a database migrated by a newer toolmux on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'schema', () => {
    let database: OpenedDatabase;
    const opened: ToolMux[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((mux) => mux.close()));
      await database?.cleanup();
    });

    function muxFor() {
      const sample = createSampleToolkits();
      const mux = new ToolMux({ toolkits: sample.toolkits, store: database.spec, secretKey, logger: quiet });
      opened.push(mux);
      return { mux, calls: sample.calls };
    }

    async function versions(): Promise<number[]> {
      const rows = await database.rows('SELECT version FROM toolmux_migrations ORDER BY version');
      return rows.map((row) => Number(row.version));
    }

    function expectTooNew(error: ToolMuxError): void {
      expect(error.code).toBe('STORE_SCHEMA_TOO_NEW');
      expect(error.message).toContain(`at migration ${AFTER_NEXT} (tool_slug_index)`);
      expect(error.message).toContain(`knows migrations up to ${LATEST_MIGRATION_VERSION} only`);
      expect(error.message).toContain(`${NEXT} added_later, ${AFTER_NEXT} tool_slug_index`);
      expect(error.message).toContain('Upgrade toolmux');
      expect(error.message).toContain('restore the backup');
      expect(error.details).toEqual({
        databaseVersion: AFTER_NEXT,
        supportedVersion: LATEST_MIGRATION_VERSION,
        unknownMigrations: [`${NEXT} added_later`, `${AFTER_NEXT} tool_slug_index`],
      });
    }

    it('is refused on open with STORE_SCHEMA_TOO_NEW naming both versions and the fix, writing nothing', async () => {
      database = await open();
      const dialect = database.spec.startsWith('sqlite:') ? 'sqlite' : 'postgres';
      const { mux: before } = muxFor();
      const session = await before.create('user_1', { toolkits: ['tasks'] });
      await before.close();
      for (const sql of newerMigrations(dialect)) await database.exec(sql);
      const sessionsBefore = await database.rows('SELECT id FROM toolmux_sessions');

      // a ToolMux of this release (a restarted instance, a rolled-back deploy): its first use fails,
      // and so does every later one (it does not open the store half-way)
      const { mux } = muxFor();
      expectTooNew(await rejection(mux.create('user_2', { toolkits: ['tasks'] }), 'STORE_SCHEMA_TOO_NEW'));
      expectTooNew(await rejection(mux.use(session.sessionId), 'STORE_SCHEMA_TOO_NEW'));
      // openStore(), as the server's start does
      expectTooNew(await rejection(openStore(database.spec), 'STORE_SCHEMA_TOO_NEW'));

      expect(await versions()).toEqual([
        ...Array.from({ length: LATEST_MIGRATION_VERSION }, (_, index) => index + 1),
        NEXT,
        AFTER_NEXT,
      ]);
      expect(await database.rows('SELECT id FROM toolmux_sessions')).toEqual(sessionsBefore);
    });

    it('keeps an instance that was already running working: calls, logs, sessions, accounts, requests', async () => {
      database = await open();
      const dialect = database.spec.startsWith('sqlite:') ? 'sqlite' : 'postgres';
      const { mux: running, calls } = muxFor();
      const config = await running.authConfigs.create('mail', { type: 'api_key' });
      const account = await running.connectedAccounts.create('user_1', config.id, { apiKey: 'key-1' });
      const session = await running.create('user_1', {
        toolkits: ['tasks', 'mail'],
        authConfigs: { mail: config.id },
        workbench: {},
      });
      await session.execute('TASKS_CREATE_TASK', { title: 'before' });

      // a newer release starts on the same database and migrates it, while this one keeps running
      for (const sql of newerMigrations(dialect)) await database.exec(sql);

      const created = await session.execute('TASKS_CREATE_TASK', { title: 'after' });
      expect(created.successful, JSON.stringify(created.error)).toBe(true);
      const sent = await session.execute('MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 's', body: 'b' });
      expect(sent.successful, JSON.stringify(sent.error)).toBe(true);
      expect(calls.at(-1)!.context.credentials).toEqual({ apiKey: 'key-1' });
      const page = await session.logs({ limit: 2 });
      expect(page.items.map((entry) => entry.toolSlug)).toEqual(['MAIL_SEND_EMAIL', 'TASKS_CREATE_TASK']);
      expect((await session.logs({ limit: 2, cursor: page.nextCursor })).items).toHaveLength(1);
      const resumed = await running.use(session.sessionId);
      expect(await resumed.update({ toolkits: ['tasks', 'mail'], tags: ['readOnlyHint'] })).toBe(2);
      await resumed.rotateMcpToken();
      const another = await running.create('user_2', { toolkits: ['mail'] });
      const request = await another.authorize('mail');
      const second = await running.connectionRequests.complete(request.id, { apiKey: 'key-2' });
      expect(second.status).toBe('ACTIVE');
      await running.connectedAccounts.update(account.id, { alias: 'work' });
      const cell = await session.execute('TOOLMUX_WORKBENCH', {
        code: `await toolmux.files.write('a.txt', 'x'); return (await toolmux.files.list()).length`,
      });
      expect((cell.data as { result?: unknown }).result).toBe(1);
      await another.delete();

      // while a ToolMux of this release started now would not open it
      const { mux: restarted } = muxFor();
      expectTooNew(await rejection(restarted.use(session.sessionId), 'STORE_SCHEMA_TOO_NEW'));
    });
  });
});
