import { defineTool, defineToolkit } from '@toolmux/core';
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

/** A toolkit connected through `auth`, which toolmux makes no auth config of its own for. */
const unconfigured = (slug: string, auth: Parameters<typeof defineToolkit>[0]['auth']) =>
  defineToolkit({
    slug,
    name: slug,
    description: 'Needs an auth config of the developer.',
    baseUrl: `https://${slug}.example.com`,
    auth,
    tools: [
      defineTool({
        slug: `${slug.toUpperCase()}_PING`,
        description: 'Ping.',
        inputSchema: { type: 'object', properties: {} },
        execute: () => 'pong',
      }),
    ],
  });
const oauth = {
  type: 'oauth2',
  authorizationUrl: 'https://oauth.example.com/authorize',
  tokenUrl: 'https://oauth.example.com/token',
} as const;

beforeAll(async () => {
  server = await startTestServer({
    toolkits: [
      ...createSampleToolkits().toolkits,
      unconfigured('calendar', oauth),
      unconfigured('hybrid', [
        { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] },
        oauth,
      ]),
    ],
  });
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

/** No toolmux REST route of a session, no SDK method or camelCase field. */
function expectComposioWords(message: string): void {
  expect(message).not.toMatch(/\/api\/v1\/sessions/);
  expect(message).not.toMatch(/\bsession\.\w+\(|\b(redirectUrl|nextCursor|configVersion|expectedVersion)\b/);
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

  for (const prefix of ['/api/v3.1', '/api/v3']) {
    const call = async (path: string, body: unknown) => {
      const response = await fetch(`${server.url}${prefix}/tool_router/session${path}`, {
        method: 'POST',
        headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).toBeLessThan(300);
      return (await response.json()) as Record<string, any>;
    };

    it(`${prefix}: a failed result of execute and the guidance of search name the routes of ${prefix}`, async () => {
      // no manage-connections meta-tool: the way to connect is the application's, named in its words
      const { session_id } = await call('', {
        user_id: 'user_words_results',
        toolkits: ['mail'],
        manage_connections: false,
      });
      const executed = await call(`/${session_id}/execute`, {
        tool_slug: 'MAIL_SEND_EMAIL',
        arguments: { to: 'a@example.com', subject: 's', body: 'b' },
      });
      expect(executed.successful).toBe(false);
      expect(executed.error).toContain(`POST ${prefix}/tool_router/session/:sessionId/link`);
      expectComposioWords(executed.error);
      const meta = await call(`/${session_id}/execute_meta`, {
        slug: 'COMPOSIO_MULTI_EXECUTE_TOOL',
        arguments: {
          tools: [
            { tool_slug: 'MAIL_SEND_EMAIL', arguments: { to: 'a@example.com', subject: 's', body: 'b' } },
          ],
        },
      });
      expectComposioWords(JSON.stringify(meta.data));

      // a direct-tools session: its agent has no meta-tools, so search says what the application does
      const direct = await call('', {
        user_id: 'user_words_results',
        toolkits: ['mail'],
        search: { enable: false },
        execute: { enable_multi_execute: false },
        manage_connections: false,
        workbench: { enable: false },
      });
      const found = await call(`/${direct.session_id}/search`, { queries: [{ use_case: 'send an email' }] });
      const guidance = (found.next_steps_guidance as string[]).join(' ');
      expect(guidance).toContain(`POST ${prefix}/tool_router/session/:sessionId/link`);
      expect(guidance).toContain(`POST ${prefix}/tool_router/session/:sessionId/execute`);
      expectComposioWords(guidance);
    });
  }

  it.each([
    { toolkit: 'calendar', what: 'an OAuth toolkit without an OAuth app' },
    { toolkit: 'hybrid', what: 'a credentials toolkit without an auth config' },
  ])('link of $what names the auth_configs field to fill', async ({ toolkit }) => {
    const session = await composio().create('user_words', { toolkits: [toolkit] });
    const response = await fetch(`${server.url}/api/v3.1/tool_router/session/${session.sessionId}/link`, {
      method: 'POST',
      headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ toolkit }),
    });
    expect(response.status).toBe(404);
    const { code, message } = (await response.json()) as { code: string; message: string };
    expect(code).toBe('AUTH_CONFIG_NOT_FOUND');
    expect(message).toContain(`pass its id as the session's auth_configs.${toolkit}`);
    expectComposioWords(message);
  });

  it("link through the session's auth config after it was deleted: which field to give another one", async () => {
    const created = await fetch(`${server.url}/api/v1/auth-configs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ toolkit: 'hybrid', type: 'api_key' }),
    });
    const { id } = (await created.json()) as { id: string };
    const session = await composio().create('user_words', {
      toolkits: ['hybrid'],
      authConfigs: { hybrid: id },
    });
    const deleted = await fetch(`${server.url}/api/v1/auth-configs/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    expect(deleted.status).toBe(200);
    const response = await fetch(`${server.url}/api/v3.1/tool_router/session/${session.sessionId}/link`, {
      method: 'POST',
      headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ toolkit: 'hybrid' }),
    });
    expect(response.status).toBe(404);
    const { code, message } = (await response.json()) as { code: string; message: string };
    expect(code).toBe('AUTH_CONFIG_NOT_FOUND');
    expect(message).toContain(`through auth config "${id}" (its auth_configs.hybrid), which does not exist`);
    expect(message).toContain(
      'PATCH /api/v3.1/tool_router/session/:sessionId with { "auth_configs": { "hybrid": "…" } }',
    );
    expectComposioWords(message);
  });

  it('a toolkit the session lacks is named as the client sent it, under its field, by link and proxy_execute', async () => {
    const session = await composio().create('user_words', { toolkits: ['mail'] });
    const post = async (route: string, body: unknown) => {
      const response = await fetch(
        `${server.url}/api/v3.1/tool_router/session/${session.sessionId}/${route}`,
        {
          method: 'POST',
          headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        },
      );
      expect(response.status).toBeGreaterThanOrEqual(400);
      return ((await response.json()) as { message: string }).message;
    };
    // lower-cased for the session (`tasks`, a toolkit of the catalog it does not have, `mailx`, none)
    expect(await post('link', { toolkit: 'TASKS' })).toMatch(
      /^toolkit "TASKS" is not a toolkit of this session/,
    );
    expect(await post('proxy_execute', { toolkit_slug: 'MailX', endpoint: '/x', method: 'GET' })).toMatch(
      /^toolkit_slug "MailX" is not a toolkit of this session\. Did you mean "mail"\?/,
    );
    // what reads core's message without the request's names: the value as core read it
    const direct = await server.embedded.use(session.sessionId);
    await expect(direct.authorize('tasks')).rejects.toThrow(/^"tasks" is not a toolkit of this session/);
  });
});
