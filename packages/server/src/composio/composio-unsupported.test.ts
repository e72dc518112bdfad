import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composioClientOf } from '../test-composio.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * What `@composio/core` asks of Composio's API beyond the Tool Router sessions (tools outside a
 * session, the session's file mounts, connected account lists, …) is answered with a 404 in
 * Composio's error envelope that says which part of the API toolmux serves, not with toolmux's own
 * REST API's 404.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

const composio = () => composioClientOf(server);

/** The error a call rejects with, and the error its cause chain ends in (the HTTP client's). */
async function refusal(
  call: Promise<unknown>,
): Promise<{ message: string; status?: number; error?: unknown }> {
  const error = await call.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(Error);
  let cause = error as Error & { status?: number; error?: unknown; cause?: unknown };
  while (cause.status === undefined && cause.cause instanceof Error) cause = cause.cause as typeof cause;
  return { message: cause.message, status: cause.status, error: cause.error };
}

describe('Composio APIs outside the Tool Router sessions', () => {
  it('refuses them with a 404 that names what the server answers', async () => {
    const client = composio();
    const session = await client.create('user_unsupported', { toolkits: ['tasks'] });
    for (const call of [
      // the session's file mounts
      () => session.experimental.files.list(),
      // a tool outside a session (Composio's tools API)
      () => client.tools.getRawComposioToolBySlug('TASKS_CREATE_TASK'),
      // the list of connected accounts (only GET /api/v3.1/connected_accounts/:id is served)
      () => client.connectedAccounts.list({ userIds: ['user_unsupported'] }),
    ]) {
      const refused = await refusal(call());
      expect(refused.status).toBe(404);
      expect(refused.message).toContain("toolmux's Composio-compatible API");
      expect(refused.message).toContain('Tool Router');
      expect(refused.message).not.toContain('The REST API is under /api/v1');
      // Composio's envelope: the fields at the top and under `error`
      expect(refused.error).toMatchObject({
        code: 'ROUTE_NOT_FOUND',
        status: 404,
        error: { code: 'ROUTE_NOT_FOUND', status: 404 },
      });
    }
  });

  it('keeps 405 for a method a served path does not take, in the same envelope', async () => {
    const session = await composio().create('user_unsupported', { toolkits: ['tasks'] });
    const response = await fetch(`${server.url}/api/v3.1/tool_router/session/${session.sessionId}`, {
      method: 'PUT',
      headers: { 'x-api-key': server.apiKey },
    });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('PATCH');
    expect(await response.json()).toMatchObject({
      code: 'METHOD_NOT_ALLOWED',
      error: { code: 'METHOD_NOT_ALLOWED', status: 405, message: expect.stringContaining('PATCH') },
    });
  });
});
