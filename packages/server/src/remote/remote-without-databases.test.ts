import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Loaded with `--import` into the child: resolving `node:sqlite` or `pg` (by import or require)
 * throws, as on a runtime that has neither (Node 20, an edge runtime, a bundle without them).
 */
const BLOCK_DATABASES = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'node:sqlite' || specifier === 'pg' || specifier.startsWith('pg/')) {
      throw new Error(specifier + ' is not available on this runtime');
    }
    return next(specifier, context);
  },
});
`)}`;

/** The child: a remote-mode ToolMux against the server, then an embedded one that needs SQLite. */
const CHILD = `
import { ToolMux } from '@toolmux/core';
const out = {};
const remote = new ToolMux({ baseUrl: process.env.SERVER_URL, apiKey: process.env.SERVER_API_KEY });
out.mode = remote.mode;
out.toolkits = (await remote.toolkits.list()).items.map((toolkit) => toolkit.slug);
const session = await remote.create('user_no_sqlite', { toolkits: ['tasks'] });
out.created = session.sessionId.startsWith('ses_');
out.result = await session.execute('TASKS_CREATE_TASK', { title: 'Ship it' });
out.logs = (await session.logs()).items.map((entry) => entry.toolSlug);
await remote.close();
try {
  await new ToolMux({ toolkits: [], store: ':memory:' }).create('user_embedded');
  out.embedded = 'opened';
} catch (error) {
  out.embedded = { code: error.code, message: error.message };
}
try {
  await import('node:sqlite');
  out.sqlite = 'loaded';
} catch (error) {
  out.sqlite = error.message;
}
console.log(JSON.stringify(out));
`;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

describe('remote mode is a pure HTTP client: it runs without node:sqlite and pg', () => {
  it('creates a session, runs a tool and reads its log where neither module can load', async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--no-warnings', '--import', BLOCK_DATABASES, '--input-type=module', '-e', CHILD],
      { cwd: packageDir, env: { ...process.env, SERVER_URL: server.url, SERVER_API_KEY: server.apiKey } },
    );
    expect(stderr).toBe('');
    const out = JSON.parse(stdout);
    // the hook works: node:sqlite really is unavailable in the child
    expect(out.sqlite).toBe('node:sqlite is not available on this runtime');
    expect(out.mode).toBe('remote');
    expect(out.toolkits).toEqual(expect.arrayContaining(['tasks', 'notes']));
    expect(out.created).toBe(true);
    expect(out.result).toMatchObject({ successful: true, data: { title: 'Ship it' } });
    expect(out.logs).toEqual(['TASKS_CREATE_TASK']);
    // an embedded SQLite store there fails with one clear error, not a raw module error at import
    expect(out.embedded.code).toBe('STORE_CONFIG_INVALID');
    expect(out.embedded.message).toMatch(
      /^A SQLite store needs node:sqlite, built into Node\.js 22\.13 and later; this is Node\.js \d+\.\d+\.\d+ \(.*node:sqlite is not available on this runtime\)\. Upgrade Node\.js, use a PostgreSQL store, or remote mode\.$/,
    );
  });
});
