import { ToolMux } from '@toolmux/core';
import {
  createSampleToolkits,
  createTestPostgresUrl,
  postgresSkipReason,
  startPostgresProxy,
} from '@toolmux/core/test';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { TEST_API_KEY } from './test-helpers.js';

const skipPostgres = await postgresSkipReason();
const quiet = { debug() {}, warn() {}, error() {} };

/** Run after each test, last added first. */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** `fetch` of the server, and how long it took; `'hung'` past 4 s (the old code waited for minutes). */
async function timedFetch(
  server: { fetch(request: Request): Response | Promise<Response> },
  path: string,
  init: RequestInit = {},
): Promise<{ ms: number; response: Response | 'hung' }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const response = await Promise.race([
    server.fetch(
      new Request(`http://localhost:8787${path}`, {
        ...init,
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      }),
    ),
    new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), 4_000);
    }),
  ]);
  clearTimeout(timer);
  return { ms: performance.now() - started, response };
}

describe.skipIf(skipPostgres !== undefined)(
  `REST on a PostgreSQL that drops packets ${skipPostgres ?? ''}`,
  () => {
    it('answers 500 STORE_ERROR within query_timeout, logs the cause, and serves again at once', async () => {
      const database = await createTestPostgresUrl();
      cleanups.push(database.cleanup);
      const proxy = await startPostgresProxy();
      const mux = new ToolMux({
        toolkits: createSampleToolkits().toolkits,
        store: `${proxy.url(database.schema)}&connect_timeout=0.4&query_timeout=500`,
        secretKey: Buffer.alloc(32, 9).toString('base64'),
        logger: quiet,
      });
      cleanups.push(() => mux.close());
      cleanups.push(() => proxy.close()); // first: the connections end at once
      const lines: Array<{ level: string; message: string; data?: Record<string, unknown> }> = [];
      const at = (level: string) => (message: string, data?: Record<string, unknown>) => {
        lines.push({ level, message, data });
      };
      const server = createServer({
        toolmux: mux,
        apiKey: TEST_API_KEY,
        logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
      });
      const created = await timedFetch(server, '/api/v1/sessions', {
        method: 'POST',
        body: JSON.stringify({ user_id: 'user_rest' }),
      });
      expect(created.response).not.toBe('hung');
      const { session_id: id } = (await (created.response as Response).json()) as { session_id: string };
      expect((await timedFetch(server, `/api/v1/sessions/${id}/logs`)).response).toMatchObject({
        status: 200,
      });

      proxy.blackHole(true);
      lines.length = 0;
      const failed = await timedFetch(server, '/api/v1/sessions');
      // the next request needs a new connection, which goes nowhere either (connect_timeout)
      const next = await timedFetch(server, `/api/v1/sessions/${id}/logs`);
      // each within its bound (the old code waited for the kernel's TCP timeouts: minutes)
      expect([failed.response, next.response]).not.toContain('hung');
      expect(failed.ms).toBeLessThan(500 + 400 + 1_000);
      expect(next.ms).toBeLessThan(500 + 400 + 1_000);
      expect(next.response).toMatchObject({ status: 500 });
      const response = failed.response as Response;
      expect(response.status).toBe(500);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('STORE_ERROR');
      // the log has the 5xx with what timed out and its cause
      const logged = lines.find((line) => line.level === 'error');
      expect(logged?.message).toContain('GET /api/v1/sessions 500');
      expect(logged?.message).toMatch(/within (500|400) ms/);
      expect(logged?.data).toMatchObject({ status: 500, error: { code: 'STORE_ERROR', cause: {} } });
      const ready = await timedFetch(server, '/readyz');
      expect(ready.response).toMatchObject({ status: 503 });

      proxy.blackHole(false);
      const again = await timedFetch(server, `/api/v1/sessions/${id}/logs`);
      expect(again.response).toMatchObject({ status: 200 });
      expect(again.ms).toBeLessThan(500);
      expect((await timedFetch(server, '/readyz')).response).toMatchObject({ status: 200 });
    }, 30_000);
  },
);
