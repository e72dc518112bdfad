import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits, createTestPostgresUrl, postgresSkipReason } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `toolmux keys rotate`, run as operators run it (the built CLI in a child process) against the
 * stores a server uses: every secret ends under the new key, the counts are printed, no key is, and
 * a run that could not rotate everything exits 1 saying to run it again before dropping the old key.
 */

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const skipPostgres = await postgresSkipReason();

function toolmux(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TOOLMUX_') && name !== 'PORT') clean[name] = value;
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { ...clean, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const directories: string[] = [];
function tempDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'toolmux-keys-cli-'));
  directories.push(directory);
  return directory;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "pnpm build" in packages/server first.`);
});
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

const key = () => randomBytes(32).toString('base64');

/** A ToolMux on `store` under `secretKey` (and `previous`), with the sample toolkits. */
function muxOn(store: string, secretKey: string, previous: string[] = []) {
  const sample = createSampleToolkits();
  const mux = new ToolMux({ toolkits: sample.toolkits, store, secretKey, previousSecretKeys: previous });
  return { mux, sample };
}

/** Stores an API key account of `userId` (and its auth config) under `secretKey`; returns the config's id. */
async function storeAccount(
  store: string,
  secretKey: string,
  userId: string,
  apiKey: string,
): Promise<string> {
  const { mux } = muxOn(store, secretKey);
  try {
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    await mux.connectedAccounts.create(userId, config.id, { apiKey });
    return config.id;
  } finally {
    await mux.close();
  }
}

function rotation(name: string, storeOf: () => Promise<{ store: string; cleanup(): Promise<void> }>) {
  it(`rotates every secret of ${name} under the new key, printing counts and no key; exit 1 until none is left behind`, async () => {
    const { store, cleanup } = await storeOf();
    const cwd = tempDirectory();
    const [oldKey, newKey, lostKey] = [key(), key(), key()];
    try {
      const oldConfig = await storeAccount(store, oldKey, 'user_old', 'sk_old_1234');
      // one record under a key the operator does not pass: it cannot be rotated
      const lostConfig = await storeAccount(store, lostKey, 'user_lost', 'sk_lost_5678');

      const partial = await toolmux(['keys', 'rotate', '--store', store], cwd, {
        TOOLMUX_SECRET_KEY: newKey,
        TOOLMUX_PREVIOUS_SECRET_KEYS: oldKey,
      });
      expect(partial.code).toBe(1);
      expect(partial.stdout).toMatch(/: 1 rotated, 0 skipped, 1 failed\.\n$/);
      expect(partial.stderr).toContain('(SECRET_KEY_MISSING)');
      expect(partial.stderr).toContain('Run "toolmux keys rotate" again');
      expect(partial.stderr).toContain('before you drop the old key from TOOLMUX_PREVIOUS_SECRET_KEYS');
      for (const secret of [oldKey, newKey, lostKey, 'sk_old_1234', 'sk_lost_5678']) {
        expect(partial.stdout + partial.stderr).not.toContain(secret);
      }

      // with the missing key too: the rest is rotated, and the old keys can go
      const done = await toolmux(['keys', 'rotate', '--store', store], cwd, {
        TOOLMUX_SECRET_KEY: newKey,
        TOOLMUX_PREVIOUS_SECRET_KEYS: `${oldKey}, ${lostKey}`,
      });
      expect(done.stderr).toBe('');
      expect(done.code).toBe(0);
      expect(done.stdout).toMatch(/: 1 rotated, 0 skipped, 0 failed\.\n/);
      expect(done.stdout).toContain('you can now drop the old key');

      // the new key alone reads every credential: nothing is left under another key
      const { mux, sample } = muxOn(store, newKey);
      try {
        expect(await mux.vault.rotate()).toEqual({ reencrypted: 0, skipped: 0 });
        for (const [userId, apiKey, configId] of [
          ['user_old', 'sk_old_1234', oldConfig],
          ['user_lost', 'sk_lost_5678', lostConfig],
        ] as const) {
          const session = await mux.create(userId, { toolkits: ['mail'], authConfigs: { mail: configId } });
          const result = await session.execute('MAIL_SEND_EMAIL', {
            to: 'a@example.com',
            subject: 's',
            body: 'b',
          });
          expect(result.error ?? null).toBeNull();
          expect(sample.calls.at(-1)?.context.credentials?.apiKey).toBe(apiKey);
        }
      } finally {
        await mux.close();
      }
    } finally {
      await cleanup();
    }
  }, 60_000);
}

describe('toolmux keys rotate', () => {
  rotation('SQLite', async () => {
    const directory = tempDirectory();
    return { store: `sqlite:${join(directory, 'toolmux.db')}`, cleanup: async () => undefined };
  });

  describe.skipIf(skipPostgres !== undefined)(`PostgreSQL ${skipPostgres ?? ''}`, () => {
    rotation('PostgreSQL', async () => {
      const database = await createTestPostgresUrl();
      return { store: database.url, cleanup: database.cleanup };
    });
  });

  it('refuses without a secret key, and a SQLite file that is not there (creating nothing)', async () => {
    const cwd = tempDirectory();
    const store = `sqlite:${join(cwd, 'toolmux.db')}`;
    await storeAccount(store, key(), 'user_1', 'sk_1');
    const noKey = await toolmux(['keys', 'rotate', '--store', store], cwd, {});
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('Set the new key as TOOLMUX_SECRET_KEY');
    const missing = await toolmux(['keys', 'rotate', '--store', `sqlite:${join(cwd, 'nope.db')}`], cwd, {
      TOOLMUX_SECRET_KEY: key(),
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      `No database at ${join(cwd, 'nope.db')} (--store: sqlite:${join(cwd, 'nope.db')}), so nothing to rotate; nothing was created.`,
    );
    expect(existsSync(join(cwd, 'nope.db'))).toBe(false);
    const inMemory = await toolmux(['keys', 'rotate', '--store', 'sqlite::memory:'], cwd, {
      TOOLMUX_SECRET_KEY: key(),
    });
    expect(inMemory.code).toBe(2);
    expect(inMemory.stderr).toContain(
      "(--store) is in memory: it lives inside the server's process, and its secrets are under a key that goes with it. Name the store of the server whose key you rotate with --store",
    );
    // no toolmux tables: nothing created, nothing rotated
    const empty = join(cwd, 'empty.db');
    new DatabaseSync(empty).close();
    const blank = await toolmux(['keys', 'rotate', '--store', `sqlite:${empty}`], cwd, {
      TOOLMUX_SECRET_KEY: key(),
    });
    expect(blank.code).toBe(1);
    expect(blank.stderr).toContain('has no toolmux tables');
    expect(blank.stderr).toContain('(STORE_NOT_MIGRATED)');
    expect(onSqlite(empty, "SELECT name FROM sqlite_master WHERE name LIKE 'toolmux%'")).toEqual([]);
    const help = await toolmux(['keys', 'rotate', '--help'], cwd, {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: toolmux keys rotate');
  }, 60_000); // five CLI processes, one after the other

  it("does not migrate a server's database of an earlier release: STORE_NOT_MIGRATED, nothing rotated", async () => {
    const cwd = tempDirectory();
    const file = join(cwd, 'toolmux.db');
    const oldKey = key();
    await storeAccount(`sqlite:${file}`, oldKey, 'user_1', 'sk_1');
    // the schema of the release before: its newest migration not applied yet
    const [latest] = onSqlite(file, 'SELECT max(version) AS version FROM toolmux_migrations') as [
      { version: number },
    ];
    onSqlite(file, `DELETE FROM toolmux_migrations WHERE version = ${latest!.version}`);
    const result = await toolmux(['keys', 'rotate', '--store', `sqlite:${file}`], cwd, {
      TOOLMUX_SECRET_KEY: key(),
      TOOLMUX_PREVIOUS_SECRET_KEYS: oldKey,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`is at migration ${latest!.version - 1}`);
    expect(result.stderr).toContain('`toolmux keys rotate` does not migrate');
    expect(result.stderr).toContain('(STORE_NOT_MIGRATED)');
    expect(result.stdout).not.toContain('rotated');
    expect(onSqlite(file, 'SELECT max(version) AS version FROM toolmux_migrations')).toEqual([
      { version: latest!.version - 1 },
    ]);
  });
});

/** Runs `sql` on the SQLite file at `path` and returns its rows. */
function onSqlite(path: string, sql: string): unknown[] {
  const database = new DatabaseSync(path);
  try {
    return database
      .prepare(sql)
      .all()
      .map((row) => ({ ...row }));
  } finally {
    database.close();
  }
}
