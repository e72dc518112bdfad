import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composioClientOf } from '../test-composio.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * The errors of the Composio-compatible API are read by its clients (`@composio/core`, the Rust crate,
 * plain HTTP): they name its routes and the snake_case fields the client sent, not toolmux's REST
 * routes (`/api/v1/…`) or the SDK's camelCase config fields.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

const composio = () => composioClientOf(server);

/** The message a promise rejects with. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(Error);
  return (error as Error).message;
}

/** No toolmux REST route of a session, no camelCase config field. */
function expectComposioWords(message: string): void {
  expect(message).not.toMatch(/\/api\/v1\/sessions/);
  expect(message).not.toMatch(
    /\b(authConfigs|connectedAccounts|manageConnections|multiAccount|maxAccountsPerToolkit|callbackUrl|autoOffloadThreshold|userId)\b/,
  );
}

describe("errors on Composio's routes are in a Composio client's words", () => {
  it.each([
    {
      what: 'an unknown auth config',
      config: { auth_configs: { mail: 'ac_missing000000000000' } },
      says: 'auth_configs.mail names auth config "ac_missing000000000000"',
    },
    {
      what: 'an unknown connected account',
      config: { connected_accounts: { mail: 'ca_missing000000000000' } },
      says: 'connected_accounts.mail names connected account "ca_missing000000000000"',
    },
    {
      what: 'a number out of bounds',
      config: { multi_account: { enable: true, max_accounts_per_toolkit: 100 } },
      says: 'multi_account.max_accounts_per_toolkit: must be from 2 to 10',
    },
    {
      what: 'a callback URL that is not allowed',
      config: { manage_connections: { enable: true, callback_url: 'https://elsewhere.example.com/back' } },
      says: 'manage_connections.callback_url "https://elsewhere.example.com/back" is not allowed',
    },
  ])('$what in a create: the snake_case field', async ({ config, says }) => {
    const response = await fetch(`${server.url}/api/v3.1/tool_router/session`, {
      method: 'POST',
      headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'user_words', ...config }),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    const { message } = (await response.json()) as { message: string };
    expect(message).toContain(says);
    expectComposioWords(message);
  });

  it('an unknown session names the create route of the version the client called', async () => {
    const message = await refusal(composio().use('ses_missing000000000000'));
    expect(message).toContain('Create one with POST /api/v3.1/tool_router/session;');
    expectComposioWords(message);
    const response = await fetch(`${server.url}/api/v3/tool_router/session/ses_missing000000000000`, {
      headers: { 'x-api-key': server.apiKey },
    });
    expect(response.status).toBe(404);
    const v3 = ((await response.json()) as { message: string }).message;
    expect(v3).toContain('Create one with POST /api/v3/tool_router/session;');
    expectComposioWords(v3);
  });

  it('a session route named in a message is the Composio one (proxy_execute)', async () => {
    const session = await composio().create('user_words', { toolkits: ['mail'] });
    const message = await refusal(session.proxyExecute({ toolkit: 'mail', endpoint: '/x', method: 'GET' }));
    expect(message).toContain('POST /api/v3.1/tool_router/session/:sessionId/proxy_execute');
    expectComposioWords(message);
  });

  it('a change of update() is refused in the same words', async () => {
    const session = await composio().create('user_words', { toolkits: ['mail'] });
    const message = await refusal(
      session.update({ connectedAccounts: { mail: ['ca_missing000000000000'] } }),
    );
    expect(message).toContain('connected_accounts.mail');
    expectComposioWords(message);
  });
});
