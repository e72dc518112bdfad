import { Composio } from '@composio/core';
import { defineTool, defineToolkit } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
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
    description: 'A tool whose result the server cannot send.',
    tools: [
      defineTool({
        slug: 'ODD_BIG_NUMBER',
        description: 'Count something, as a BigInt.',
        inputSchema: z.object({}),
        execute: () => {
          runs += 1;
          // a result JSON cannot hold: the server answers 500 after the tool ran
          return { count: 1n } as unknown as Record<string, unknown>;
        },
      }),
    ],
  });
  server = await startTestServer({ toolkits: [odd] });
});
afterAll(() => server.close());

describe('retries of @composio/core after a server error', () => {
  it('runs the tool once when the server fails after running it', async () => {
    const composio = new Composio({
      apiKey: server.apiKey,
      baseURL: server.url,
      allowTracking: false,
      disableVersionCheck: true,
    });
    const session = await composio.create('user_retries', { toolkits: ['odd'] });
    runs = 0;
    await expect(session.execute('ODD_BIG_NUMBER', {})).rejects.toMatchObject({ status: 500 });
    expect(runs).toBe(1);
  });

  it('says so on the routes that run tools, and leaves reads retryable', async () => {
    const headers = { 'x-api-key': server.apiKey, 'content-type': 'application/json' };
    const refused = await fetch(`${server.url}/api/v3.1/tool_router/session/ses_missing/execute`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ tool_slug: 'ODD_BIG_NUMBER', arguments: {} }),
    });
    expect(refused.status).toBe(404);
    expect(refused.headers.get('x-should-retry')).toBe('false');
    const read = await fetch(`${server.url}/api/v3.1/tool_router/session/ses_missing`, { headers });
    expect(read.status).toBe(404);
    expect(read.headers.get('x-should-retry')).toBeNull();
  });
});
