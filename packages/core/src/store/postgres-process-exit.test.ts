import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPostgresUrl, postgresSkipReason } from '../test/postgres.js';
import { runScript } from '../test/run-script.js';

/**
 * A script (or a serverless handler, a test file) that used a PostgreSQL store and ends without
 * `mux.close()` exits as soon as its work is done: idle pooled connections and the idle listening
 * connection of connection waits do not keep its event loop alive. Before, the process stayed up
 * until the pools' 10 s idle timeout (and the listener's) ended the connections. Runs the built
 * package in a real child process and measures from its last statement to its exit.
 */
const dist = resolve(import.meta.dirname, '../../dist/index.js');
const skipPostgres = await postgresSkipReason();

/** pg's pools and the listener end idle connections after 10 s: an exit well before that is prompt. */
const PROMPT_EXIT_MS = 5_000;

describe.skipIf(skipPostgres !== undefined)(`a script on PostgreSQL ${skipPostgres ?? ''}`, () => {
  let database: Awaited<ReturnType<typeof createTestPostgresUrl>>;
  beforeAll(async () => {
    database = await createTestPostgresUrl();
  });
  afterAll(async () => {
    await database?.cleanup();
  });

  const script = (body: string) => `
    const { z } = await import('zod');
    const { ToolMux, defineTool, defineToolkit } = await import(${JSON.stringify(dist)});
    const echo = defineTool({ slug: 'ECHO_SAY', description: 'Say it back', inputSchema: z.object({ text: z.string() }), execute: async ({ text }) => ({ text }) });
    const keyed = defineToolkit({ slug: 'keyed', name: 'Keyed', description: 'Needs a key',
      tools: [defineTool({ slug: 'KEYED_GET', description: 'Get it', inputSchema: z.object({}), execute: async () => ({}) })],
      auth: [{ type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] }] });
    const mux = new ToolMux({
      store: ${JSON.stringify(database.url)},
      toolkits: [defineToolkit({ slug: 'echo', name: 'Echo', description: 'Echo', tools: [echo] }), keyed],
      secretKey: '${'a'.repeat(64)}',
      baseUrl: 'http://127.0.0.1:8787',
      logger: { debug() {}, warn() {}, error: (message) => console.error(message) },
    });
    ${body}
    const end = Date.now();
    process.on('exit', () => console.log(JSON.stringify({ ...out, exitMs: Date.now() - end })));
  `;

  it('exits at once after its last call without close(), the call’s log entry stored', async () => {
    const { code, stdout, timedOut } = await runScript(
      script(`
        const session = await mux.create('user_1', { toolkits: ['echo'] });
        const result = await session.execute('ECHO_SAY', { text: 'hi' });
        const out = { successful: result.successful, logId: result.logId };
      `),
      [],
      {},
      20_000,
    );
    expect(timedOut).toBe(false);
    expect(code).toBe(0);
    const out = JSON.parse(stdout.trim()) as { successful: boolean; logId: string; exitMs: number };
    expect(out.successful).toBe(true);
    // on the old code: about 10,000 ms (pg-pool's idle timeout)
    expect(out.exitMs).toBeLessThan(PROMPT_EXIT_MS);
    const { Client } = await import('pg');
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const stored = await client.query('SELECT status FROM toolmux_execution_logs WHERE id = $1', [
        out.logId,
      ]);
      expect(stored.rows).toEqual([{ status: 'success' }]);
    } finally {
      await client.end();
    }
  }, 30_000);

  it('exits at once after a connection wait ended, its listening connection idle', async () => {
    const { code, stdout, timedOut } = await runScript(
      script(`
        const session = await mux.create('user_1', { toolkits: ['keyed'] });
        const request = await session.authorize('keyed');
        const out = { wait: await request.waitForConnection(300).then(() => 'connected', (error) => error.code) };
      `),
      [],
      {},
      20_000,
    );
    expect(timedOut).toBe(false);
    expect(code).toBe(0);
    const out = JSON.parse(stdout.trim()) as { wait: string; exitMs: number };
    expect(out.wait).toBe('CONNECTION_TIMEOUT');
    // on the old code: about 10,000 ms (the listener's idle close)
    expect(out.exitMs).toBeLessThan(PROMPT_EXIT_MS);
  }, 30_000);
});
