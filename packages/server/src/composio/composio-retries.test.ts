import { defineTool, defineToolkit } from '@toolmux/core';
import { EmbeddedSession } from '@toolmux/core/internal';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { composioClientOf } from '../test-composio.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * The HTTP client of `@composio/core` sends a request again after a 5xx, 409 or 429 unless the answer
 * says `x-should-retry: false`. A call that runs a tool (execute, execute_meta, proxy_execute) or
 * starts a connection (link) is not sent again: the tool may have run before the server failed.
 */

let server: TestServer;
let runs = 0;

beforeAll(async () => {
  const odd = defineToolkit({
    slug: 'odd',
    name: 'Odd',
    description: 'A tool the server fails after running (see below).',
    tools: [
      defineTool({
        slug: 'ODD_COUNT',
        description: 'Count something.',
        inputSchema: z.object({}),
        execute: () => {
          runs += 1;
          return { count: 1 };
        },
      }),
    ],
  });
  server = await startTestServer({ toolkits: [odd] });
});
afterAll(() => server.close());

describe('retries of @composio/core after a server error', () => {
  it('runs the tool once when the server fails after running it', async () => {
    const composio = composioClientOf(server);
    const session = await composio.create('user_retries', { toolkits: ['odd'] });
    runs = 0;
    // a server fault after the tool ran (the session's call answers, then the server fails)
    // (the route runs it with executeFor, its failures in a Composio client's words)
    const execute = EmbeddedSession.prototype.executeFor;
    const failing = vi.spyOn(EmbeddedSession.prototype, 'executeFor').mockImplementation(async function (
      this: EmbeddedSession,
      ...args: Parameters<EmbeddedSession['executeFor']>
    ) {
      await execute.apply(this, args);
      throw new Error('the server failed after the tool ran');
    });
    try {
      await expect(session.execute('ODD_COUNT', {})).rejects.toMatchObject({ status: 500 });
    } finally {
      failing.mockRestore();
    }
    expect(runs).toBe(1);
  });

  it('says so on the routes that run tools, and leaves reads retryable', async () => {
    const headers = { 'x-api-key': server.apiKey, 'content-type': 'application/json' };
    const refused = await fetch(`${server.url}/api/v3.1/tool_router/session/ses_missing/execute`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ tool_slug: 'ODD_COUNT', arguments: {} }),
    });
    expect(refused.status).toBe(404);
    expect(refused.headers.get('x-should-retry')).toBe('false');
    const read = await fetch(`${server.url}/api/v3.1/tool_router/session/ses_missing`, { headers });
    expect(read.status).toBe(404);
    expect(read.headers.get('x-should-retry')).toBeNull();
  });
});
