import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { ToolMux } from '@toolmux/core';
import { LATEST_MIGRATION_VERSION } from '@toolmux/core/internal';
import { createTestPostgresStore, createTestPostgresUrl, postgresSkipReason } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The CLI's commands other than `serve` read the config file as `serve` does (`--config`, else
 * `toolmux.config.*` in the working directory; flags and environment variables win), and the
 * read-only ones create nothing: run as operators run them, in a child process in a temp directory.
 */
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const skipPostgres = await postgresSkipReason();
const FIXTURE = fileURLToPath(new URL('./fixture-toolkits.mjs', import.meta.url));

/** The environment without any toolmux variable of the machine running the tests. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TOOLMUX_') && name !== 'PORT') env[name] = value;
  }
  return { ...env, ...extra };
}

function toolmux(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(env) }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const directories: string[] = [];
function tempDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'toolmux-config-cli-'));
  directories.push(directory);
  return directory;
}

/** A SQLite database at `file` with one session per user (created the way a server would). */
async function databaseWithSessions(file: string, userIds: string[]): Promise<string[]> {
  const mux = new ToolMux({
    store: `sqlite:${file}`,
    secretKey: randomBytes(32).toString('base64'),
    toolkits: (await import(FIXTURE)).toolkits,
  });
  try {
    const ids: string[] = [];
    for (const userId of userIds) ids.push((await mux.create(userId, { toolkits: ['tasks'] })).sessionId);
    return ids;
  } finally {
    await mux.close();
  }
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "pnpm build" in packages/server first.`);
});

afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

// Each case runs the CLI several times, one after the other: on a loaded machine a run takes seconds.
describe('toolmux sessions list', { timeout: 60_000 }, () => {
  it("reads the config file's store, creating nothing: a missing database is an error that names it", async () => {
    const cwd = tempDirectory();
    writeFileSync(join(cwd, 'toolmux.config.json'), '{ "store": "sqlite:./data/toolmux.db" }\n');
    const result = await toolmux(['sessions', 'list'], cwd);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `toolmux: No database at ${join(cwd, 'data', 'toolmux.db')} (store of ${join(cwd, 'toolmux.config.json')}: sqlite:./data/toolmux.db), so no sessions to list; nothing was created. Name the store the server uses with --store, TOOLMUX_STORE or the config file (--config).\n`,
    );
    // neither the configured database nor the default one, nor a key file
    expect(readdirSync(cwd)).toEqual(['toolmux.config.json']);

    // without a config file, the default store: also not created
    const bare = tempDirectory();
    const missing = await toolmux(['sessions', 'list', '--json'], bare);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      `No database at ${join(bare, '.toolmux', 'toolmux.db')} (the default store`,
    );
    expect(readdirSync(bare)).toEqual([]);
  });

  it('says of a file that is not an SQLite database what to check about the file, not about a database server', async () => {
    const directory = tempDirectory();
    writeFileSync(join(directory, 'notes.db'), 'these are notes, not a database\n'.repeat(200));
    const result = await toolmux(['sessions', 'list', '--store', 'sqlite:notes.db'], directory);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('STORE_ERROR');
    expect(result.stderr).toContain('file is not a database');
    expect(result.stderr).toContain('Check that the file is an SQLite database');
    expect(result.stderr).not.toContain('credentials');
    // and of a PostgreSQL server that does not answer, what to check about the server
    const unreachable = await toolmux(
      ['sessions', 'list', '--store', 'postgres://toolmux@127.0.0.1:1/toolmux'],
      directory,
    );
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('reachable at this address with these credentials');
  });

  it('names where a store spec it cannot read was set, as serve does, and so does keys rotate', async () => {
    const directory = tempDirectory();
    for (const args of [
      ['sessions', 'list'],
      ['keys', 'rotate'],
    ]) {
      const result = await toolmux(args, directory, { TOOLMUX_STORE: 'mysql://db/x' });
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr, args.join(' ')).toContain('Invalid store "mysql://db/x" (TOOLMUX_STORE). Use ');
    }
  });

  it('lists the sessions of the configured database without a secret key, and creates no key file', async () => {
    const cwd = tempDirectory();
    mkdirSync(join(cwd, 'data'));
    const [first, second] = await databaseWithSessions(join(cwd, 'data', 'toolmux.db'), ['ann', 'bob']);
    writeFileSync(join(cwd, 'toolmux.config.json'), '{ "store": "sqlite:./data/toolmux.db" }\n');
    const before = readdirSync(join(cwd, 'data')).sort();
    expect(before).not.toContain('secret.key');

    const listed = await toolmux(['sessions', 'list', '--json'], cwd);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ sessionId: second, userId: 'bob', configVersion: 1 }),
      expect.objectContaining({ sessionId: first, userId: 'ann', configVersion: 1 }),
    ]);
    const table = await toolmux(['sessions', 'list', '--user', 'ann'], cwd);
    expect(table.stdout).toMatch(
      new RegExp(`^SESSION\\s+USER\\s+VERSION\\s+UPDATED\\n${first}\\s+ann\\s+1\\s`),
    );
    expect(readdirSync(join(cwd, 'data')).sort()).toEqual(before);
    expect(existsSync(join(cwd, '.toolmux'))).toBe(false);
  });

  it('shows a user id with bidi, zero-width or separator characters escaped in the table, as it is in --json', async () => {
    // the table printed them as they were: "ann\u202eexe.txt" showed as "anntxt.exe", and a U+2028
    // broke the row in two on some terminals
    const cwd = tempDirectory();
    const userIds = ['ann\u202eexe.txt', 'bo\u200bb', 'cy\u2028dee', 'plain "quoted" \\ user'];
    const sessions = await databaseWithSessions(join(cwd, 'toolmux.db'), userIds);
    const table = await toolmux(['sessions', 'list', '--store', 'sqlite:toolmux.db'], cwd);
    expect(table.code).toBe(0);
    expect(table.stdout).not.toMatch(/[\u200b\u2028\u202e]/);
    const rows = table.stdout.trimEnd().split('\n').slice(1);
    expect(rows).toHaveLength(4);
    const shown = new Map(rows.map((row) => [row.slice(0, row.indexOf(' ')), row]));
    expect(shown.get(sessions[0]!)).toContain('"ann\\u202eexe.txt"');
    expect(shown.get(sessions[1]!)).toContain('"bo\\u200bb"');
    expect(shown.get(sessions[2]!)).toContain('"cy\\u2028dee"');
    // a cell without such characters is shown as it is
    expect(shown.get(sessions[3]!)).toContain('plain "quoted" \\ user');
    // an escaped cell is a JSON string of the stored id
    const cell = /"(?:[^"\\]|\\.)*"/.exec(shown.get(sessions[0]!)!)![0];
    expect(JSON.parse(cell)).toBe(userIds[0]);
    const listed = await toolmux(['sessions', 'list', '--store', 'sqlite:toolmux.db', '--json'], cwd);
    expect(
      (JSON.parse(listed.stdout) as Array<{ userId: string }>).map((item) => item.userId).sort(),
    ).toEqual([...userIds].sort());
  });

  it('says on stderr when there are more sessions than it listed, and lists the next page with --cursor', async () => {
    // it cut the list at --limit without a word, and no page past the first 1,000 could be read
    const cwd = tempDirectory();
    const sessions = await databaseWithSessions(join(cwd, 'toolmux.db'), ['ann', 'bob', 'cy']);
    const seen: string[] = [];
    let args = ['sessions', 'list', '--store', 'sqlite:toolmux.db', '--limit', '2', '--json'];
    for (let page = 0; page < 3; page++) {
      const listed = await toolmux(args, cwd);
      expect(listed.code).toBe(0);
      seen.push(...(JSON.parse(listed.stdout) as Array<{ sessionId: string }>).map((item) => item.sessionId));
      const more = /--cursor (\S+) for the next 2\.\n$/.exec(listed.stderr);
      if (!more) {
        expect(listed.stderr).toBe('');
        break;
      }
      expect(listed.stderr).toMatch(/^toolmux: there are more sessions: run the same command with --cursor /);
      args = [...args, '--cursor', more[1]!];
    }
    expect(seen.sort()).toEqual([...sessions].sort());
  });

  it('refuses a --cursor or --user it cannot take as a usage error naming the flag, before the store is read', async () => {
    // on the old code exit 1, in the API's words ("Malformed cursor … pass the nextCursor", "userId …")
    const cwd = tempDirectory();
    const [session] = await databaseWithSessions(join(cwd, 'toolmux.db'), ['ann']);
    const list = (...args: string[]) =>
      toolmux(['sessions', 'list', '--store', 'sqlite:toolmux.db', ...args], cwd);
    for (const cursor of ['garbage', `ca_${session!.slice(4)}`, `${session}x`]) {
      const refused = await list('--cursor', cursor);
      expect(refused.code, cursor).toBe(2);
      expect(refused.stderr).toBe(
        `toolmux: --cursor must be the cursor a previous page printed on stderr ("there are more sessions: run the same command with --cursor ses_…"), got ${JSON.stringify(cursor)}; leave it out for the first page. (usage: toolmux sessions list --help)\n`,
      );
    }
    const badUser = await list('--user', 'a\u0001b');
    expect(badUser.code).toBe(2);
    expect(badUser.stderr).toMatch(
      /^toolmux: --user "a\\u0001b" holds the control character U\+0001 at index 1: .*\(usage: toolmux sessions list --help\)\n$/,
    );
    // a cursor of the list's own form is taken
    const listed = await list('--cursor', session!, '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });

  it('takes --store over TOOLMUX_STORE over the config file, and --config from elsewhere', async () => {
    const cwd = tempDirectory();
    const [fromFile] = await databaseWithSessions(join(cwd, 'file.db'), ['file_user']);
    const [fromEnv] = await databaseWithSessions(join(cwd, 'env.db'), ['env_user']);
    const [fromFlag] = await databaseWithSessions(join(cwd, 'flag.db'), ['flag_user']);
    const elsewhere = tempDirectory();
    writeFileSync(join(elsewhere, 'deploy.json'), `{ "store": "sqlite:${join(cwd, 'file.db')}" }\n`);
    const ids = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const result = await toolmux(
        ['sessions', 'list', '--json', '--config', join(elsewhere, 'deploy.json'), ...args],
        cwd,
        env,
      );
      expect(result.stderr).toBe('');
      return (JSON.parse(result.stdout) as Array<{ sessionId: string }>).map((session) => session.sessionId);
    };
    expect(await ids([])).toEqual([fromFile]);
    expect(await ids([], { TOOLMUX_STORE: 'sqlite:./env.db' })).toEqual([fromEnv]);
    expect(await ids(['--store', './flag.db'], { TOOLMUX_STORE: 'sqlite:./env.db' })).toEqual([fromFlag]);
  });
});

/** Runs SQL on a SQLite file, past toolmux. */
function onSqlite<T>(file: string, work: (database: DatabaseSync) => T): T {
  const database = new DatabaseSync(file);
  try {
    return work(database);
  } finally {
    database.close();
  }
}

const toolmuxTables = (file: string) =>
  onSqlite(file, (database) =>
    database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'toolmux%'").all(),
  );

// `sessions list` only reads: it never migrates the schema (a newer CLI would stop the server's
// older instances from starting), nor creates tables, nor writes.
describe('toolmux sessions list migrates nothing', { timeout: 60_000 }, () => {
  it('an SQLite file without toolmux tables: STORE_NOT_MIGRATED, the file left as it was', async () => {
    const cwd = tempDirectory();
    writeFileSync(join(cwd, 'empty.db'), '');
    onSqlite(join(cwd, 'notes.db'), (database) => database.exec('CREATE TABLE notes (text TEXT)'));
    for (const file of ['empty.db', 'notes.db']) {
      const before = readFileSync(join(cwd, file));
      const result = await toolmux(['sessions', 'list', '--store', `sqlite:./${file}`], cwd);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `toolmux: The store sqlite:./${file} (--store) has no toolmux tables: no toolmux server has run on this database yet, or it is not the server's database. Nothing was created: name the store the server uses with --store, TOOLMUX_STORE or the config file (--config); \`toolmux serve\` creates the tables when it starts on a new database. (STORE_NOT_MIGRATED)\n`,
      );
      expect(readFileSync(join(cwd, file)).equals(before)).toBe(true);
    }
    expect(toolmuxTables(join(cwd, 'notes.db'))).toEqual([]);
    expect(readdirSync(cwd).sort()).toEqual(['empty.db', 'notes.db']);
  });

  it('an SQLite database at an older migration: STORE_NOT_MIGRATED naming it, not migrated', async () => {
    const cwd = tempDirectory();
    const file = join(cwd, 'toolmux.db');
    await databaseWithSessions(file, ['ann']);
    const latest = onSqlite(file, (database) => {
      const row = database
        .prepare('SELECT version, name FROM toolmux_migrations ORDER BY version DESC LIMIT 1')
        .get() as { version: number; name: string };
      database.prepare('DELETE FROM toolmux_migrations WHERE version = ?').run(row.version);
      return row;
    });
    expect(latest.version).toBe(LATEST_MIGRATION_VERSION);
    const result = await toolmux(['sessions', 'list', '--store', 'sqlite:./toolmux.db'], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `toolmux: The store sqlite:./toolmux.db (--store) is at migration ${latest.version - 1} (`,
    );
    expect(result.stderr).toContain(`older than this toolmux, which reads migration ${latest.version}`);
    expect(result.stderr).toContain('it did not migrate the database');
    expect(result.stderr).toContain('(STORE_NOT_MIGRATED)');
    const versions = onSqlite(file, (database) =>
      database.prepare('SELECT max(version) AS version FROM toolmux_migrations').get(),
    );
    expect(versions).toEqual({ version: latest.version - 1 });
  });

  it('an SQLite database a newer toolmux migrated: read (with a note), or STORE_SCHEMA_TOO_NEW when reading fails', async () => {
    const cwd = tempDirectory();
    const file = join(cwd, 'toolmux.db');
    const [sessionId] = await databaseWithSessions(file, ['ann']);
    onSqlite(file, (database) =>
      database
        .prepare(
          "INSERT INTO toolmux_migrations (version, name, applied_at) VALUES (?, 'from_a_newer_release', 0)",
        )
        .run(LATEST_MIGRATION_VERSION + 1),
    );
    const listed = await toolmux(['sessions', 'list', '--json', '--store', 'sqlite:./toolmux.db'], cwd);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ sessionId, userId: 'ann' })]);
    expect(listed.stderr).toBe(
      `toolmux: note: sqlite:./toolmux.db was migrated by a newer toolmux (its schema is at migration ${LATEST_MIGRATION_VERSION + 1}; this one knows up to ${LATEST_MIGRATION_VERSION}): its sessions are read as this release reads them. Upgrade toolmux here to read them as the server does.\n`,
    );

    // a newer release whose tables this one cannot read
    onSqlite(file, (database) =>
      database.exec('ALTER TABLE toolmux_sessions RENAME COLUMN metadata TO metadata_v2'),
    );
    const unreadable = await toolmux(['sessions', 'list', '--store', 'sqlite:./toolmux.db'], cwd);
    expect(unreadable.code).toBe(1);
    const lines = unreadable.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2); // the note, then the failure
    expect(lines[1]).toContain(
      `The store sqlite:./toolmux.db was migrated by a newer toolmux (its schema is at migration ${LATEST_MIGRATION_VERSION + 1}; this toolmux knows migrations up to ${LATEST_MIGRATION_VERSION} only), and reading its sessions as this release reads them failed: `,
    );
    expect(lines[1]).toContain('metadata');
    expect(lines[1]).toContain('Upgrade toolmux here');
    expect(lines[1]).toMatch(/\(STORE_SCHEMA_TOO_NEW\)$/);
  });

  it('an in-memory store: no other process can read it', async () => {
    const result = await toolmux(['sessions', 'list', '--store', ':memory:'], tempDirectory());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is in memory: it lives inside the server');
  });

  describe.skipIf(skipPostgres !== undefined)(`on PostgreSQL ${skipPostgres ?? ''}`, () => {
    it('a database without toolmux tables: STORE_NOT_MIGRATED, and no table created', async () => {
      const database = await createTestPostgresUrl();
      const admin = await createTestPostgresStore();
      try {
        const result = await toolmux(['sessions', 'list', '--store', database.url], tempDirectory());
        expect(result.code).toBe(1);
        expect(result.stdout).toBe('');
        expect(result.stderr).toContain('has no toolmux tables');
        expect(result.stderr).toContain('(STORE_NOT_MIGRATED)');
        const tables = await admin.query(
          'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
          [database.schema],
        );
        expect(tables).toEqual([]);
      } finally {
        await database.cleanup();
        await admin.cleanup();
      }
    });

    it('a role that may only SELECT lists the sessions of a migrated database', async () => {
      const database = await createTestPostgresUrl();
      const admin = await createTestPostgresStore(); // only to run SQL as the superuser
      const role = `toolmux_ro_${randomBytes(4).toString('hex')}`;
      try {
        const mux = new ToolMux({
          store: database.url,
          secretKey: randomBytes(32).toString('base64'),
          toolkits: (await import(FIXTURE)).toolkits,
        });
        const { sessionId } = await mux.create('ann', { toolkits: ['tasks'] });
        await mux.close();
        await admin.query(`CREATE ROLE "${role}" LOGIN`);
        await admin.query(`GRANT USAGE ON SCHEMA "${database.schema}" TO "${role}"`);
        await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA "${database.schema}" TO "${role}"`);
        const url = new URL(database.url);
        url.username = role;
        const listed = await toolmux(
          ['sessions', 'list', '--json', '--store', url.toString()],
          tempDirectory(),
        );
        expect(listed.stderr).toBe('');
        expect(listed.code).toBe(0);
        expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ sessionId, userId: 'ann' })]);
      } finally {
        await database.cleanup();
        await admin.query(`DROP OWNED BY "${role}"`).catch(() => {});
        await admin.query(`DROP ROLE IF EXISTS "${role}"`);
        await admin.cleanup();
      }
    });
  });
});

describe('toolmux toolkits list / info', { timeout: 60_000 }, () => {
  it("show the config file's catalog, not the built-in one", async () => {
    const cwd = tempDirectory();
    writeFileSync(join(cwd, 'toolmux.config.json'), `{ "toolkits": [${JSON.stringify(FIXTURE)}] }\n`);
    const listed = await toolmux(['toolkits', 'list', '--json'], cwd);
    expect(listed.stderr).toBe('');
    const slugs = (JSON.parse(listed.stdout) as Array<{ slug: string }>).map((toolkit) => toolkit.slug);
    expect(slugs).toContain('tasks');
    expect(slugs).not.toContain('github');

    const info = await toolmux(['toolkits', 'info', 'tasks', '--json'], cwd);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ slug: 'tasks' });
    const missing = await toolmux(['toolkits', 'info', 'github'], cwd);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Unknown toolkit "github"');

    // --config from another directory; a bad config file fails these commands as it fails serve
    const other = tempDirectory();
    const viaFlag = await toolmux(
      ['toolkits', 'list', '--json', '--config', join(cwd, 'toolmux.config.json')],
      other,
    );
    expect((JSON.parse(viaFlag.stdout) as Array<{ slug: string }>).map((toolkit) => toolkit.slug)).toEqual(
      slugs,
    );
    writeFileSync(join(other, 'toolmux.config.json'), '{ "stroe": "sqlite:./x.db" }\n');
    const bad = await toolmux(['toolkits', 'list'], other);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('toolmux.config.json: unknown key "stroe". Did you mean "store"?');
  });

  it('--config of a directory or of a file type toolmux does not read: the path and what to name', async () => {
    const cwd = tempDirectory();
    const refused = async (args: string[], from = cwd) => {
      const result = await toolmux(['toolkits', 'list', ...args], from);
      expect(result.code).toBe(2);
      expect(result.stderr.trimEnd().split('\n'), result.stderr).toHaveLength(1);
      return result.stderr;
    };
    // on the old code: "failed to load: Error: Directory import '…' is not supported resolving ES modules"
    expect(await refused(['--config', cwd])).toBe(
      `toolmux: --config ${cwd}: ${cwd} is a directory: --config names the config file itself (e.g. --config ${join(cwd, 'toolmux.config.json')}). (CONFIG_INVALID)\n`,
    );
    writeFileSync(join(cwd, 'toolmux.config.mjs'), 'export default {};\n');
    expect(await refused(['--config', '.'])).toContain(
      ': --config names the config file itself: --config toolmux.config.mjs.',
    );
    // a toolkits module that is a directory, as --toolkits does it (the old code: "Directory import")
    expect(await refused(['--toolkits', cwd])).toBe(
      `toolmux: --toolkits ${cwd}: ${cwd} is a directory: name the module file in it (.ts, .mts, .cts, .js, .mjs or .cjs). (CONFIG_INVALID)\n`,
    );
    // on the old code: Node.js's "Unknown file extension", without the types toolmux reads
    for (const name of ['toolmux.yaml', 'toolmux.config.txt', 'toolmux']) {
      writeFileSync(join(cwd, name), 'port: 0\n');
      const message = await refused(['--config', name]);
      expect(message).toContain(`toolmux: --config ${name}: toolmux does not read`);
      expect(message).toContain(`(${join(cwd, name)}): a config file is JSON (.json) or a module`);
      expect(message).toContain('.ts, .mts, .cts, .js, .mjs or .cjs');
    }
  });

  it('reads a JSON config file saved with a byte order mark (Windows Notepad)', async () => {
    const cwd = tempDirectory();
    // on the old code: "not valid JSON: Unexpected token"
    writeFileSync(join(cwd, 'toolmux.config.json'), `\uFEFF{ "toolkits": [${JSON.stringify(FIXTURE)}] }\r\n`);
    const listed = await toolmux(['toolkits', 'list', '--json'], cwd);
    expect(listed.stderr).toBe('');
    const slugs = (JSON.parse(listed.stdout) as Array<{ slug: string }>).map((toolkit) => toolkit.slug);
    expect(slugs).toContain('tasks');
    expect(slugs).not.toContain('github');
  });
});
