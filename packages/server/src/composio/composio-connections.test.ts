import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composioClientOf } from '../test-composio.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * Composio's `manageConnections: { callbackUrl, waitForConnections }` on toolmux's object form of
 * `manageConnections`: the manage-connections meta-tool's links return to the app, and the
 * wait-for-connections meta-tool reports the connection the user finished.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

describe('manageConnections of @composio/core', () => {
  it('sends the meta-tool’s links back to callbackUrl and waits for the connection', async () => {
    const composio = composioClientOf(server);
    const session = await composio.create('user_waiting', {
      toolkits: ['mail'],
      manageConnections: { callbackUrl: 'http://localhost:3000/back', waitForConnections: true },
    });
    expect(session.config).toMatchObject({
      manage_connections: {
        enabled: true,
        callback_url: 'http://localhost:3000/back',
        enable_wait_for_connections: true,
      },
    });
    const meta = async (slug: string, args: Record<string, unknown>) => {
      const response = await fetch(
        `${server.url}/api/v3.1/tool_router/session/${session.sessionId}/execute_meta`,
        {
          method: 'POST',
          headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
          body: JSON.stringify({ slug, arguments: args }),
        },
      );
      expect(response.status).toBe(200);
      return (await response.json()) as { data: Record<string, unknown>; error: string | null };
    };

    const manage = await meta('COMPOSIO_MANAGE_CONNECTIONS', { toolkits: ['mail'] });
    expect(manage.error).toBeNull();
    const link = /http:\/\/127\.0\.0\.1:\d+\/connect\/cr_[A-Za-z0-9_-]+/.exec(
      JSON.stringify(manage.data),
    )?.[0];
    expect(link).toBeDefined();
    const before = await meta('COMPOSIO_WAIT_FOR_CONNECTIONS', { toolkits: ['mail'], timeout_seconds: 0 });
    expect(JSON.stringify(before.data)).toContain('PENDING');

    const waiting = meta('COMPOSIO_WAIT_FOR_CONNECTIONS', { toolkits: ['mail'], timeout_seconds: 30 });
    const html = await (await fetch(link!)).text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    const sent = await fetch(new URL(action!, link), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ apiKey: 'sk_waited' }).toString(),
      redirect: 'manual',
    });
    expect(sent.status).toBe(303);
    expect(sent.headers.get('location')).toMatch(/^http:\/\/localhost:3000\/back\?/);
    const after = await waiting;
    expect(after.error).toBeNull();
    expect(JSON.stringify(after.data)).toContain('CONNECTED');
  });
});
