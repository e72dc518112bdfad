import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Server } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { defineToolkit, ToolMux } from '@toolmux/core';
import {
  createTestPostgresStore,
  createTestPostgresUrl,
  postgresSkipReason,
  testPostgresUrl,
} from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { freePort } from '../test-oauth.js';
import {
  API_KEY,
  expectOneLine,
  failingServe,
  forStarts,
  SECRET_KEY,
  SHADOW,
  serveTestHooks,
  tempDirectory,
} from '../test-serve.js';

/**
 * `toolmux serve` in a child process, refusing a bad configuration: each is one line and a non-zero
 * exit. (Serving: `serve.test.ts`.)
 */
const skipPostgres = await postgresSkipReason();
serveTestHooks();

// Each case starts the CLI one or more times, one after the other: on a loaded machine a start takes
// seconds, so a case gets a start's time for each start it makes (three unless it says more). The
// cases are independent (a directory, port and database each) and run two at a time (the server
// package's maxConcurrency): a start is a child process, and one leaves a core mostly idle.
describe.concurrent('toolmux serve refuses to start, in one line, on', forStarts(3), () => {
  it('a store it does not know (and creates nothing on disk)', async () => {
    const cwd = tempDirectory();
    const result = await failingServe(['serve', '--store', 'mysql://user:hunter2@db/x'], { cwd });
    expect(result.code).toBe(2);
    const line = expectOneLine(result);
    expect(line).toContain('Invalid store "mysql://user:***@db/x" (--store). Use ');
    expect(line).toContain('STORE_CONFIG_INVALID');
    expect(line).not.toContain('hunter2');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('an unreachable PostgreSQL server', async () => {
    const closedPort = await freePort();
    const result = await failingServe(
      ['serve', '--store', `postgres://postgres:pw@127.0.0.1:${closedPort}/toolmux`],
      { env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY } },
    );
    expect(result.code).toBe(1);
    const line = expectOneLine(result);
    expect(line).toContain(
      `The store postgres://postgres:***@127.0.0.1:${closedPort}/toolmux failed to connect`,
    );
    expect(line).toContain('ECONNREFUSED');
    expect(line).toContain('--store / TOOLMUX_STORE');
    expect(line).not.toContain(':pw@');
  });

  it('a store URL in any form, never showing its password, and one pg cannot read as STORE_CONFIG_INVALID', async () => {
    const closedPort = await freePort();
    const env = { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY };
    for (const [store, shown] of [
      // pg takes a password parameter
      [
        `postgres://app@127.0.0.1:${closedPort}/toolmux?password=hunter2pw`,
        `postgres://app@127.0.0.1:${closedPort}/toolmux?password=***`,
      ],
      // pg splits the userinfo at the last @
      [
        `postgres://app:hun@ter2pw@127.0.0.1:${closedPort}/toolmux`,
        `postgres://app:***@127.0.0.1:${closedPort}/toolmux`,
      ],
    ]) {
      const result = await failingServe(['serve', '--store', store!], { env });
      expect(result.code).toBe(1);
      const line = expectOneLine(result);
      expect(line).toContain(`The store ${shown} failed to connect`);
      expect(line).toContain('(STORE_ERROR)');
      expect(line).not.toMatch(/hunter2pw|ter2pw/);
    }
    // an unencoded / in the password: no URL pg can read
    const cwd = tempDirectory();
    const unreadable = await failingServe(
      ['serve', '--store', `postgres://app:hun/ter2pw@127.0.0.1:${closedPort}/toolmux`],
      { cwd, env },
    );
    expect(unreadable.code).toBe(2);
    const line = expectOneLine(unreadable);
    expect(line).toContain(`Invalid store "postgres://***@127.0.0.1:${closedPort}/toolmux" (--store): `);
    expect(line).toContain('percent-encode the user name and password');
    expect(line).toContain('(STORE_CONFIG_INVALID)');
    expect(line).not.toContain('unexpected error');
    expect(line).not.toMatch(/hun\/|ter2pw/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('an SQLite database that holds credentials, without its secret.key: SECRET_KEY_MISSING naming the file, and no new key file', async () => {
    const cwd = tempDirectory();
    // a database whose key file was left behind (restored from a backup of the database alone)
    const mux = new ToolMux({
      toolkits: [
        defineToolkit({
          slug: 'keyed',
          name: 'Keyed',
          description: 'An API that takes a key.',
          tools: [],
          auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] },
        }),
      ],
      store: `sqlite:${join(cwd, 'data', 'toolmux.db')}`,
      logger: { debug() {}, warn() {}, error() {} },
    });
    const config = await mux.authConfigs.create('keyed', { type: 'api_key' });
    await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-of-user-1' });
    await mux.close();
    rmSync(join(cwd, 'data', 'secret.key'));
    const result = await failingServe(['serve', '--store', 'sqlite:./data/toolmux.db'], {
      cwd,
      env: { TOOLMUX_API_KEY: API_KEY },
    });
    expect(result.code).toBe(1);
    const line = expectOneLine(result);
    expect(line).toContain(`but its key file ${join(cwd, 'data', 'secret.key')} does not exist`);
    expect(line).toContain('set TOOLMUX_SECRET_KEY');
    expect(line).toContain('(SECRET_KEY_MISSING)');
    expect(readdirSync(join(cwd, 'data'))).not.toContain('secret.key');
  });

  it('a directory where a key file goes, naming the file and the fix (KEY_FILE_UNAVAILABLE)', async () => {
    const cwd = tempDirectory();
    mkdirSync(join(cwd, 'data', 'api.key'), { recursive: true });
    const apiKey = await failingServe(['serve', '--store', 'sqlite:./data/toolmux.db'], { cwd });
    expect(apiKey.code).toBe(1);
    expect(expectOneLine(apiKey)).toBe(
      `toolmux: The key file ${join(cwd, 'data', 'api.key')} cannot be read: a directory is in its place. Move that directory away, or set TOOLMUX_API_KEY so that no key file is needed. (KEY_FILE_UNAVAILABLE)`,
    );
    // the secret key file, which core reads
    mkdirSync(join(cwd, 'data', 'secret.key'));
    const secretKey = await failingServe(['serve', '--store', 'sqlite:./data/toolmux.db'], {
      cwd,
      env: { TOOLMUX_API_KEY: API_KEY },
    });
    expect(secretKey.code).toBe(1);
    const line = expectOneLine(secretKey);
    expect(line).toContain(
      `The key file ${join(cwd, 'data', 'secret.key')} cannot be read: a directory is in its place.`,
    );
    expect(line).toContain('set TOOLMUX_SECRET_KEY');
    expect(line).toContain('(KEY_FILE_UNAVAILABLE)');
    expect(readdirSync(join(cwd, 'data')).sort()).toEqual(['api.key', 'secret.key']);
  });

  it.skipIf(!existsSync('/proc/self') || !existsSync('/sys/kernel'))(
    'a data directory no process may write (under /proc or /sys), naming the key file and the fix, at once',
    forStarts(4),
    async () => {
      const missing = `toolmux-${randomBytes(4).toString('hex')}`;
      for (const [directory, why] of [
        ['/proc', 'this process cannot create files in /proc (ENOENT)'],
        // Node's own recursive mkdir never returns for this one
        [`/proc/${missing}`, `the directory /proc/${missing} cannot be created (ENOENT)`],
        [`/sys/${missing}`, `the directory /sys/${missing} cannot be created (`],
      ] as const) {
        const result = await failingServe(['serve', '--store', `sqlite:${directory}/toolmux.db`]);
        expect(result.code).toBe(1);
        const line = expectOneLine(result);
        expect(line).toContain(`The key file ${directory}/api.key cannot be created: ${why}`);
        expect(line).toContain('Keep the SQLite database in a directory this user may create files in');
        expect(line).toContain('or set TOOLMUX_API_KEY');
        expect(line).toContain('(KEY_FILE_UNAVAILABLE)');
        // never the temporary file it writes first
        expect(line).not.toContain('.api.key.');
      }
      // the secret key file, with an API key given
      const secret = await failingServe(['serve', '--store', 'sqlite:/proc/toolmux.db'], {
        env: { TOOLMUX_API_KEY: API_KEY },
      });
      expect(expectOneLine(secret)).toContain(
        'The key file /proc/secret.key cannot be created: this process cannot create files in /proc (ENOENT).',
      );
    },
  );

  it('a base URL that is no URL, naming the flag, before any file is written', async () => {
    const cwd = tempDirectory();
    const result = await failingServe(['serve', '--base-url', 'not a url'], { cwd });
    expect(result.code).toBe(2);
    expect(expectOneLine(result)).toBe(
      'toolmux: --base-url "not a url" is not a URL; it must be an absolute http(s) URL (e.g. "https://tools.example.com"). (CONFIG_INVALID)',
    );
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('a database migrated by a newer toolmux, naming its version and the fix (STORE_SCHEMA_TOO_NEW)', async () => {
    const cwd = tempDirectory();
    const path = join(cwd, 'data', 'toolmux.db');
    const mux = new ToolMux({ store: `sqlite:${path}`, secretKey: SECRET_KEY });
    await mux.create('user_1');
    await mux.close();
    const database = new DatabaseSync(path);
    const [{ latest }] = database.prepare('SELECT max(version) AS latest FROM toolmux_migrations').all() as [
      { latest: number },
    ];
    database
      .prepare(
        "INSERT INTO toolmux_migrations (version, name, applied_at) VALUES (?, 'from_a_newer_release', 0)",
      )
      .run(latest + 1);
    database.close();
    const result = await failingServe(['serve', '--store', `sqlite:${path}`], {
      cwd,
      env: { TOOLMUX_SECRET_KEY: SECRET_KEY },
    });
    expect(result.code).toBe(1);
    const line = expectOneLine(result);
    expect(line).toContain(`at migration ${latest + 1} (from_a_newer_release)`);
    expect(line).toContain(`knows migrations up to ${latest} only`);
    expect(line).toContain('Upgrade toolmux');
    expect(line).toContain('(STORE_SCHEMA_TOO_NEW)');
  });

  it('a database that accepts the connection but never answers, after startupTimeoutMs', async () => {
    const silent: Server = createNetServer(() => {}); // takes connections, says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const cwd = tempDirectory();
    writeFileSync(join(cwd, 'toolmux.config.json'), JSON.stringify({ startupTimeoutMs: 1500 }));
    try {
      const result = await failingServe(['serve', '--store', `postgres://app:pw@127.0.0.1:${port}/toolmux`], {
        cwd,
        env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY },
      });
      expect(result.code).toBe(1);
      const line = expectOneLine(result);
      expect(line).toContain(
        `The store postgres://app:***@127.0.0.1:${port}/toolmux did not answer within 1500 ms`,
      );
      expect(line).toContain('raise startupTimeoutMs');
    } finally {
      silent.close();
    }
  });

  it.skipIf(skipPostgres !== undefined)('PostgreSQL without TOOLMUX_SECRET_KEY', async () => {
    const database = await createTestPostgresUrl();
    try {
      const result = await failingServe(['serve', '--store', database.url], {
        env: { TOOLMUX_API_KEY: API_KEY },
      });
      expect(result.code).toBe(2);
      expect(expectOneLine(result)).toContain('set TOOLMUX_SECRET_KEY');
    } finally {
      await database.cleanup();
    }
  });

  it.skipIf(skipPostgres !== undefined)(
    'a PostgreSQL role that may not create tables: what to grant, not a check of the network',
    async () => {
      // PostgreSQL 15 and later give a new role no CREATE on `public`: here a schema it may only use
      const database = await createTestPostgresStore();
      const role = `toolmux_test_role_${randomBytes(6).toString('hex')}`;
      const password = randomBytes(12).toString('hex');
      try {
        await database.query(`CREATE SCHEMA "${database.schema}"`);
        await database.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
        await database.query(`GRANT USAGE ON SCHEMA "${database.schema}" TO ${role}`);
        const url = new URL(testPostgresUrl());
        url.username = role;
        url.password = password;
        url.searchParams.set('options', `-c search_path=${database.schema}`);
        const result = await failingServe(['serve', '--store', url.toString()], {
          env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY },
        });
        expect(result.code).toBe(1);
        const line = expectOneLine(result);
        expect(line).toContain(`failed to run migrations: permission denied for schema ${database.schema}.`);
        expect(line).toContain(`(GRANT CREATE ON SCHEMA ${database.schema} TO <role>)`);
        expect(line).toContain('owns the database');
        expect(line).not.toContain('reachable');
        expect(line).not.toContain(password);
      } finally {
        await database.cleanup();
        await createTestPostgresStore().then(async (admin) => {
          await admin.query(`DROP ROLE IF EXISTS ${role}`);
          await admin.cleanup();
        });
      }
    },
  );

  it('PostgreSQL without TOOLMUX_API_KEY', async () => {
    const result = await failingServe(['serve', '--store', 'postgres://postgres@127.0.0.1:1/x'], {
      env: { TOOLMUX_SECRET_KEY: SECRET_KEY },
    });
    expect(result.code).toBe(2);
    expect(expectOneLine(result)).toContain('Set TOOLMUX_API_KEY');
  });

  it("pg's notice about sslmode=require: one line of the log (serve) or of stderr (other commands), not a paragraph", async () => {
    // pg prints it (process.emitWarning) when it reads such a URL: several lines, then Node's
    // --trace-warnings hint, all on stderr, before the one line of the failure
    const store = 'postgres://postgres@127.0.0.1:1/x?sslmode=require';
    const served = await failingServe(['serve', '--port', '0', '--store', store], {
      env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY },
    });
    expect(served.code).toBe(1);
    expect(expectOneLine(served)).toContain('ECONNREFUSED');
    const warnings = served.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(
      /^warning: SECURITY WARNING: The SSL modes 'prefer', 'require'.* definitions\.$/,
    );

    const listed = await failingServe(['sessions', 'list', '--store', store], {
      env: { TOOLMUX_SECRET_KEY: SECRET_KEY },
    });
    expect(listed.code).toBe(1);
    const lines = listed.stderr.trimEnd().split('\n');
    expect(lines, listed.stderr).toHaveLength(2);
    expect(lines[0]).toMatch(/^toolmux: warning: SECURITY WARNING: .* definitions\.$/);
    expect(lines[1]).toContain('ECONNREFUSED');
  });

  it('a malformed secret key, naming where it came from, before anything is created', async () => {
    const cwd = tempDirectory();
    const fromEnv = await failingServe(['serve'], { cwd, env: { TOOLMUX_SECRET_KEY: 'c2hvcnQ=' } });
    expect(fromEnv.code).toBe(2);
    const line = expectOneLine(fromEnv);
    expect(line).toContain('The secret key from TOOLMUX_SECRET_KEY is not 32 bytes (got 5)');
    expect(line).toContain('SECRET_KEY_INVALID');
    expect(line).not.toContain('secretKey option');
    expect(readdirSync(cwd)).toEqual([]); // no database, no api.key, no secret.key

    writeFileSync(join(cwd, 'toolmux.config.json'), '{ "secretKey": "c2hvcnQ=" }\n');
    const fromFile = await failingServe(['serve'], { cwd });
    expect(expectOneLine(fromFile)).toContain(
      `The secret key from secretKey of ${join(cwd, 'toolmux.config.json')} is not 32 bytes`,
    );
    expect(readdirSync(cwd)).toEqual(['toolmux.config.json']);
  });

  it(
    'a malformed previous secret key, or a config file entry createServer() or new ToolMux() checks, before anything is created, naming the file',
    forStarts(7),
    async () => {
      const cwd = tempDirectory();
      // on the old code both were found after api.key, secret.key and the database were created
      const previous = await failingServe(['serve'], {
        cwd,
        env: { TOOLMUX_PREVIOUS_SECRET_KEYS: `${SECRET_KEY},c2hvcnQ=` },
      });
      expect(previous.code).toBe(2);
      const line = expectOneLine(previous);
      expect(line).toContain(
        'The secret key from TOOLMUX_PREVIOUS_SECRET_KEYS (entry 2) is not 32 bytes (got 5)',
      );
      expect(line).not.toContain(SECRET_KEY);
      expect(readdirSync(cwd)).toEqual([]);

      const entries = [
        [
          { metrics: { allowFrom: ['10.0.0.0/33'] } },
          'metrics.allowFrom[0]: "10.0.0.0/33" is not an IP address or CIDR range',
        ],
        [
          { connections: { unlimited: ['proxy.internal'] } },
          'connections.unlimited[0]: "proxy.internal" is not an IP address or CIDR range',
        ],
        // on the old code found once the store was open (key files and database created), as
        // INVALID_REQUEST, and without the file's name
        [
          { mcp: { allowedOrigins: ['app.example.com'] } },
          'mcp.allowedOrigins[0]: "app.example.com" is not an origin',
        ],
        // found in time, but without the file's name
        [
          { allowedCallbackUrls: ['app.example.com'] },
          'allowedCallbackUrls[0] "app.example.com" is not a URL',
        ],
        [{ defaultCallbackUrl: 'app.example.com' }, 'defaultCallbackUrl "app.example.com" is not a URL'],
      ] as const;
      for (const [config, named] of entries) {
        writeFileSync(join(cwd, 'toolmux.config.json'), JSON.stringify(config));
        const refused = await failingServe(['serve'], { cwd });
        expect(refused.code).toBe(2);
        const line = expectOneLine(refused);
        expect(line).toContain(`${join(cwd, 'toolmux.config.json')}: ${named}`);
        expect(line).toMatch(/\(CONFIG_INVALID\)$/);
        expect(readdirSync(cwd)).toEqual(['toolmux.config.json']);
      }
    },
  );

  it('a project API key under 16 characters, naming where it came from, before anything is created', async () => {
    const cwd = tempDirectory();
    const fromEnv = await failingServe(['serve'], { cwd, env: { TOOLMUX_API_KEY: 'short-key-12' } });
    expect(fromEnv.code).toBe(2);
    const line = expectOneLine(fromEnv);
    expect(line).toBe(
      'toolmux: The project API key from TOOLMUX_API_KEY is 12 characters; it needs at least 16. Set a longer one (e.g. `openssl rand -base64 32`). (usage: toolmux serve --help)',
    );
    expect(readdirSync(cwd)).toEqual([]);

    writeFileSync(join(cwd, 'toolmux.config.json'), '{ "apiKey": "short-key-12" }\n');
    const fromFile = await failingServe(['serve'], { cwd });
    const fileLine = expectOneLine(fromFile);
    expect(fileLine).toContain(
      `The project API key from apiKey of ${join(cwd, 'toolmux.config.json')} is 12 characters`,
    );
    expect(fileLine).not.toContain('short-key-12');
    expect(readdirSync(cwd)).toEqual(['toolmux.config.json']);
  });

  // a bad value of a setting, from its environment variable (a usage error: exit 2, `message`) and
  // from the config file (exit 1, naming the file and the key), refused before anything is created
  it.each([
    {
      setting: 'a cache lifetime that is not a whole number of milliseconds',
      variable: 'TOOLMUX_SESSION_CACHE_TTL_MS',
      text: '2s',
      message:
        'TOOLMUX_SESSION_CACHE_TTL_MS must be a whole number of milliseconds, 0 or more (0 turns the cache off), got "2s"',
      key: 'accountCacheTtlMs',
      value: -1,
    },
    {
      setting: 'a proxy answer limit that is not a whole number of bytes, 1 or more',
      variable: 'TOOLMUX_PROXY_MAX_RESPONSE_BYTES',
      text: '32MB',
      message:
        'TOOLMUX_PROXY_MAX_RESPONSE_BYTES must be a whole number of bytes, 1 or more (the most of an API\'s answer one proxy call downloads; default 33554432, 32 MiB), got "32MB"',
      key: 'proxyMaxResponseBytes',
      value: 0,
    },
    {
      setting: 'an OAuth request timeout that is not a whole number of milliseconds from 1 to 300000',
      variable: 'TOOLMUX_OAUTH_REQUEST_TIMEOUT_MS',
      text: '30s',
      message:
        'TOOLMUX_OAUTH_REQUEST_TIMEOUT_MS must be a whole number of milliseconds from 1 to 300000 (how long one request to an OAuth provider\'s token or revocation endpoint may take; default 30000), got "30s"',
      key: 'oauthRequestTimeoutMs',
      value: 300_001,
    },
    {
      setting: 'a log retention that is not a whole number of days from 1 to 36500',
      variable: 'TOOLMUX_LOG_RETENTION_DAYS',
      text: '30d',
      message:
        'TOOLMUX_LOG_RETENTION_DAYS must be a whole number of days from 1 to 36500 (how long execution log entries are kept; default: every entry is kept), got "30d"',
      key: 'logRetentionDays',
      value: 0,
    },
  ])('$setting', async ({ variable, text, message, key, value }) => {
    const cwd = tempDirectory();
    const fromEnv = await failingServe(['serve'], {
      cwd,
      env: { TOOLMUX_API_KEY: API_KEY, [variable]: text },
    });
    expect(fromEnv.code).toBe(2);
    expect(expectOneLine(fromEnv)).toContain(message);
    writeFileSync(join(cwd, 'toolmux.config.json'), `${JSON.stringify({ [key]: value })}\n`);
    const fromFile = await failingServe(['serve'], { cwd, env: { TOOLMUX_API_KEY: API_KEY } });
    expect(fromFile.code).toBe(2);
    expect(expectOneLine(fromFile)).toContain(`toolmux.config.json: ${key}:`);
    expect(readdirSync(cwd)).toEqual(['toolmux.config.json']);
  });

  // a URL setting that is no http(s) URL (a typo, or a javascript: link users would be sent to):
  // one line naming it, before anything is created (it was a TypeError of new URL(), or accepted)
  it.each([
    [
      'TOOLMUX_BASE_URL',
      { TOOLMUX_BASE_URL: 'http://exa mple.com' },
      {},
      'TOOLMUX_BASE_URL "http://exa mple.com" is not a URL',
    ],
    [
      'defaultCallbackUrl in the config file',
      {},
      { defaultCallbackUrl: 'javascript:alert(1)' },
      'defaultCallbackUrl "javascript:alert(1)" is a "javascript:" URL',
    ],
    [
      'an allowedCallbackUrls entry in the config file',
      {},
      { allowedCallbackUrls: ['https://app.example.com', 'app.example.com'] },
      'allowedCallbackUrls[1] "app.example.com" is not a URL',
    ],
  ])('a URL setting that is no http(s) URL: %s', async (_setting, env, config, message) => {
    const cwd = tempDirectory();
    writeFileSync(join(cwd, 'toolmux.config.json'), `${JSON.stringify(config)}\n`);
    const result = await failingServe(['serve', '--port', '0'], {
      cwd,
      env: { TOOLMUX_API_KEY: API_KEY, ...env },
    });
    expect(result.code).toBe(2);
    const line = expectOneLine(result);
    expect(line).toContain(message);
    expect(line).toContain('it must be an absolute http(s) URL');
    expect(line).toContain('(CONFIG_INVALID)');
    expect(readdirSync(cwd)).toEqual(['toolmux.config.json']);
  });

  it('a port in use', async () => {
    const holder: Server = createNetServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      const result = await failingServe(['serve', '--port', String(port), '--store', ':memory:'], {
        env: { TOOLMUX_API_KEY: API_KEY },
      });
      expect(result.code).toBe(1);
      const line = expectOneLine(result);
      expect(line).toContain(`Port ${port} on 127.0.0.1 is already in use (EADDRINUSE)`);
      expect(line).toContain('--port / PORT');
    } finally {
      holder.close();
    }
  });

  it(
    'a host that is no address or host name (a port, scheme or space in it), naming it, before anything is created',
    forStarts(6),
    async () => {
      const cwd = tempDirectory();
      for (const host of ['0.0.0.0:8787', 'http://0.0.0.0', 'my host', '999.1.1.1']) {
        const fromFlag = await failingServe(['serve', '--host', host, '--port', '18998'], { cwd });
        expect(fromFlag.code, host).toBe(2);
        // on the old code: "toolmux: unexpected error: Invalid URL", after creating api.key
        expect(expectOneLine(fromFlag)).toContain(
          `--host must be an IP address or a host name, got "${host}"`,
        );
        expect(readdirSync(cwd)).toEqual([]);
      }
      const fromEnv = await failingServe(['serve'], { cwd, env: { TOOLMUX_HOST: '0.0.0.0:8787' } });
      expect(fromEnv.code).toBe(2);
      const line = expectOneLine(fromEnv);
      expect(line).toContain('TOOLMUX_HOST must be an IP address or a host name, got "0.0.0.0:8787"');
      expect(line).toContain('--port / PORT');
      writeFileSync(join(cwd, 'toolmux.config.json'), JSON.stringify({ host: 'http://0.0.0.0' }));
      const fromFile = await failingServe(['serve'], { cwd });
      expect(fromFile.code).toBe(2);
      expect(expectOneLine(fromFile)).toContain(
        'toolmux.config.json: host must be an IP address or a host name, got "http://0.0.0.0"',
      );
      expect(readdirSync(cwd)).toEqual(['toolmux.config.json']);
    },
  );

  it('a managedAuth entry for a toolkit the catalog lacks, or one without OAuth, naming it', async () => {
    const cwd = tempDirectory();
    writeFileSync(
      join(cwd, 'toolmux.config.json'),
      JSON.stringify({ managedAuth: { gihtub: { clientId: 'Iv1.abc', clientSecret: 'shh-secret' } } }),
    );
    // on the old code it started, and the OAuth app was never used: connecting GitHub failed later
    const typo = await failingServe(['serve', '--port', '0'], { cwd, env: { TOOLMUX_API_KEY: API_KEY } });
    expect(typo.code).toBe(2);
    const line = expectOneLine(typo);
    expect(line).toContain(
      'toolmux.config.json: managedAuth.gihtub: there is no toolkit "gihtub" in the catalog',
    );
    expect(line).toContain('Did you mean "github"?');
    expect(line).not.toContain('shh-secret');
    expect(readdirSync(cwd)).toEqual(['toolmux.config.json']);

    writeFileSync(
      join(cwd, 'toolmux.config.json'),
      JSON.stringify({ managedAuth: { exa: { clientId: 'x' } } }),
    );
    const notOAuth = await failingServe(['serve', '--port', '0'], { cwd, env: { TOOLMUX_API_KEY: API_KEY } });
    expect(expectOneLine(notOAuth)).toContain(
      'toolmux.config.json: managedAuth.exa: toolkit "exa" does not connect with OAuth (it uses api_key)',
    );
  });

  it('a --toolkits module that is missing, or imports what is missing', async () => {
    const cwd = tempDirectory();
    const missing = await failingServe(['serve', '--toolkits', './nope.mjs'], { cwd });
    expect(missing.code).toBe(2);
    expect(expectOneLine(missing)).toContain(
      `--toolkits ./nope.mjs: no such file (${join(cwd, 'nope.mjs')})`,
    );

    writeFileSync(join(cwd, 'broken.mjs'), "import 'toolmux-no-such-package';\nexport default [];\n");
    const broken = await failingServe(['serve', '--toolkits', './broken.mjs'], { cwd });
    expect(broken.code).toBe(2);
    const line = expectOneLine(broken);
    expect(line).toContain('--toolkits ./broken.mjs: it imports something that cannot be found');
    expect(line).toContain('toolmux-no-such-package');
  });

  it('a --toolkits module with a toolkit of its own under a slug the catalog has', async () => {
    // on the old code the module's hackernews was dropped in silence and the built-in one served
    const result = await failingServe(['serve', '--toolkits', SHADOW, '--store', ':memory:'], {
      env: { TOOLMUX_API_KEY: API_KEY },
    });
    expect(result.code).toBe(2);
    expect(expectOneLine(result)).toContain(
      `--toolkits ${SHADOW}: its toolkit "hackernews" has the slug of one the catalog has already`,
    );
    const list = await failingServe(['toolkits', 'list', '--toolkits', SHADOW]);
    expect(list.code).toBe(2);
    expect(expectOneLine(list)).toContain(
      'its toolkit "hackernews" has the slug of one the catalog has already',
    );
  });

  it('a --config file that is missing, has an unknown key, or a wrong value', forStarts(4), async () => {
    const cwd = tempDirectory();
    const missing = await failingServe(['serve', '--config', 'prod.config.mjs'], { cwd });
    expect(missing.code).toBe(2);
    expect(expectOneLine(missing)).toContain('--config prod.config.mjs: no such file');

    writeFileSync(join(cwd, 'toolmux.config.json'), JSON.stringify({ stroe: ':memory:' }));
    const typo = await failingServe(['serve'], { cwd });
    expect(typo.code).toBe(2);
    expect(expectOneLine(typo)).toContain('toolmux.config.json: unknown key "stroe". Did you mean "store"?');

    writeFileSync(join(cwd, 'toolmux.config.json'), JSON.stringify({ log: { levle: 'info' } }));
    const nested = await failingServe(['serve'], { cwd });
    expect(expectOneLine(nested)).toContain('unknown key "log.levle". Did you mean "log.level"?');

    writeFileSync(join(cwd, 'toolmux.config.json'), JSON.stringify({ port: 'eighty' }));
    const wrong = await failingServe(['serve'], { cwd });
    expect(expectOneLine(wrong)).toContain(
      'toolmux.config.json: port: is a string: send a number (got "eighty").',
    );
  });

  it('a mistyped command, flag or value, with the right one', forStarts(4), async () => {
    const command = await failingServe(['serv']);
    expect(command.code).toBe(2);
    expect(expectOneLine(command)).toContain('Unknown command "serv". Did you mean "toolmux serve"?');
    const list = await failingServe(['toolkits', 'lsit']);
    expect(expectOneLine(list)).toContain('Did you mean "toolmux toolkits list"?');
    const flag = await failingServe(['serve', '--prot', '80']);
    expect(flag.code).toBe(2);
    expect(expectOneLine(flag)).toContain('Unknown option "--prot". Did you mean "--port"?');
    const format = await failingServe(['serve', '--log-format', 'jsno']);
    expect(expectOneLine(format)).toContain(
      '--log-format must be one of json, pretty, got "jsno". Did you mean "json"?',
    );
  });
});
