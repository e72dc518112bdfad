import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * The v3 routes over raw HTTP, with the request bodies the Rust crate `composio-sdk` sends (its
 * `SessionConfig`, `ToolExecutionRequest`, `MetaToolExecutionRequest`, `LinkRequest` and toolkit
 * list query): its base URL is `<server>/api/v3`.
 */

let server: TestServer;
let sample: ReturnType<typeof createSampleToolkits>;

beforeAll(async () => {
  sample = createSampleToolkits();
  server = await startTestServer({ toolkits: sample.toolkits });
});
afterAll(() => server.close());

async function call(method: string, path: string, body?: unknown, key: string | null = server.apiKey) {
  const response = await fetch(`${server.url}/api/v3${path}`, {
    method,
    headers: {
      ...(key === null ? {} : { 'x-api-key': key }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

describe('the v3 Tool Router routes with the Rust crate’s requests', () => {
  it('create_session, tools, execute_tool, execute_meta_tool, list_toolkits, create_auth_link', async () => {
    const mailConfig = await server.embedded.authConfigs.create('mail', { type: 'api_key' });
    // SessionBuilder: toolkits (a list), auth_config, tools (a list), tags { enabled, disabled },
    // manage_connections (a bool), workbench, toolkit_versions
    const created = await call('POST', '/tool_router/session', {
      user_id: 'user_rust',
      toolkits: ['tasks', 'notes', 'mail'],
      auth_configs: { mail: mailConfig.id },
      tools: { notes: ['NOTES_SEARCH_NOTES'] },
      tags: { disabled: ['destructiveHint'] },
      manage_connections: true,
      workbench: { proxy_execution: false, auto_offload_threshold: 5000 },
      toolkit_versions: 'latest',
    });
    expect(created.status).toBe(201);
    const sessionId = created.json.session_id as string;
    expect(sessionId).toMatch(/^ses_/);
    expect(created.json.mcp).toEqual({ type: 'http', url: `${server.url}/mcp/${sessionId}` });
    expect(created.json.tool_router_tools).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/_SEARCH_TOOLS$/),
        expect.stringMatching(/_MULTI_EXECUTE_TOOL$/),
      ]),
    );
    // the config comes back in the form the crate's SessionConfig deserializes
    expect(created.json.config).toEqual({
      user_id: 'user_rust',
      toolkits: ['tasks', 'notes', 'mail'],
      tools: { notes: { enable: ['NOTES_SEARCH_NOTES'] } },
      tags: { disabled: ['destructiveHint'] },
      auth_configs: { mail: mailConfig.id },
      connected_accounts: {},
      manage_connections: { enabled: true },
      workbench: { auto_offload_threshold: 5000 },
    });
    const retrieved = await call('GET', `/tool_router/session/${sessionId}`);
    expect(retrieved.json).toMatchObject({ session_id: sessionId, config: created.json.config });

    // get_meta_tools: the session's tools as a plain list of the crate's ToolSchema
    const tools = await call('GET', `/tool_router/session/${sessionId}/tools`);
    expect(tools.status).toBe(200);
    const list = tools.json as unknown as Array<Record<string, unknown>>;
    expect(list.map((tool) => tool.slug)).toEqual(created.json.tool_router_tools);
    for (const tool of list) {
      expect(tool).toMatchObject({
        name: expect.any(String),
        description: expect.any(String),
        toolkit: expect.any(String),
        input_parameters: { type: 'object' },
        output_parameters: expect.any(Object),
        version: 'latest',
        is_deprecated: false,
      });
    }
    const paged = await call('GET', `/tool_router/session/${sessionId}/tools?limit=2`);
    expect(paged.status).toBe(400);
    expect(paged.json.message).toContain('/api/v3.1');
    // /api/v3.1 pages the same list, following next_cursor
    const first = await (
      await fetch(`${server.url}/api/v3.1/tool_router/session/${sessionId}/tools?limit=2`, {
        headers: { 'x-api-key': server.apiKey },
      })
    ).json();
    expect(first.items.map((tool: { slug: string }) => tool.slug)).toEqual(
      created.json.tool_router_tools.slice(0, 2),
    );
    const second = await (
      await fetch(
        `${server.url}/api/v3.1/tool_router/session/${sessionId}/tools?limit=2&cursor=${first.next_cursor}`,
        {
          headers: { 'x-api-key': server.apiKey },
        },
      )
    ).json();
    expect(second.items[0].slug).toBe(created.json.tool_router_tools[2]);

    // execute_tool: tool_slug, arguments and the resolved version
    const executed = await call('POST', `/tool_router/session/${sessionId}/execute`, {
      tool_slug: 'TASKS_CREATE_TASK',
      arguments: { title: 'From Rust' },
      version: 'latest',
    });
    expect(executed.status).toBe(200);
    expect(executed.json).toMatchObject({
      error: null,
      log_id: expect.stringMatching(/^log_/),
      data: { id: expect.any(String) },
    });
    expect(sample.calls.at(-1)).toMatchObject({ slug: 'TASKS_CREATE_TASK', input: { title: 'From Rust' } });
    const pinned = await call('POST', `/tool_router/session/${sessionId}/execute`, {
      tool_slug: 'TASKS_CREATE_TASK',
      arguments: { title: 'x' },
      version: '20250909_00',
    });
    expect(pinned.status).toBe(400);
    // the crate reads its ErrorResponse at the top of the body; @composio/core under `error`
    expect(pinned.json).toMatchObject({
      status: 400,
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('version'),
    });
    expect(pinned.json.error).toMatchObject({
      status: 400,
      code: 'CONFIG_INVALID',
      message: pinned.json.message,
    });
    // a failing tool is a readable result, not an error status
    const hidden = await call('POST', `/tool_router/session/${sessionId}/execute`, {
      tool_slug: 'NOTES_CREATE_NOTE',
      arguments: { text: 'x' },
    });
    expect(hidden.status).toBe(200);
    expect(hidden.json.error).toContain('NOTES_CREATE_NOTE');
    expect(sample.calls.some((entry) => entry.slug === 'NOTES_CREATE_NOTE')).toBe(false);

    // execute_meta_tool: slug and arguments, Composio's names and input fields
    const searched = await call('POST', `/tool_router/session/${sessionId}/execute_meta`, {
      slug: 'COMPOSIO_SEARCH_TOOLS',
      arguments: { queries: [{ use_case: 'search my notes' }] },
    });
    expect(searched.status).toBe(200);
    expect(JSON.stringify(searched.json.data)).toContain('NOTES_SEARCH_NOTES');
    const multi = await call('POST', `/tool_router/session/${sessionId}/execute_meta`, {
      slug: 'COMPOSIO_MULTI_EXECUTE_TOOL',
      arguments: { tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Twice' } }] },
    });
    expect(multi.json.error).toBeNull();
    expect(sample.calls.at(-1)).toMatchObject({ slug: 'TASKS_CREATE_TASK', input: { title: 'Twice' } });
    const bash = await call('POST', `/tool_router/session/${sessionId}/execute_meta`, {
      slug: 'COMPOSIO_REMOTE_BASH_TOOL',
      arguments: { command: 'ls' },
    });
    expect(bash.status).toBe(404);
    expect(bash.json.error.message).toContain('COMPOSIO_REMOTE_BASH_TOOL');

    // list_toolkits: limit, toolkits (comma-separated), is_connected, search
    const toolkits = await call(
      'GET',
      `/tool_router/session/${sessionId}/toolkits?limit=10&toolkits=mail,notes`,
    );
    expect(toolkits.status).toBe(200);
    expect(toolkits.json.items.map((item: { slug: string }) => item.slug).sort()).toEqual(['mail', 'notes']);
    expect(toolkits.json.items.find((item: { slug: string }) => item.slug === 'mail')).toMatchObject({
      name: 'Mail',
      enabled: true,
      is_no_auth: false,
      connected_account: null,
      meta: { description: expect.any(String) },
    });
    // pages: current_page follows the cursor
    const firstPage = await call('GET', `/tool_router/session/${sessionId}/toolkits?limit=1`);
    expect(firstPage.json).toMatchObject({ current_page: 1, total_pages: firstPage.json.total_items });
    const secondPage = await call(
      'GET',
      `/tool_router/session/${sessionId}/toolkits?limit=1&cursor=${firstPage.json.next_cursor}`,
    );
    expect(secondPage.json).toMatchObject({ current_page: 2, total_pages: firstPage.json.total_items });
    expect(secondPage.json.items[0].slug).not.toBe(firstPage.json.items[0].slug);
    const unconnected = await call('GET', `/tool_router/session/${sessionId}/toolkits?is_connected=false`);
    expect(unconnected.json.items.map((item: { slug: string }) => item.slug)).toEqual(['mail']);
    const byText = await call('GET', `/tool_router/session/${sessionId}/toolkits?search=to-do`);
    expect(byText.json.items.map((item: { slug: string }) => item.slug)).toEqual(['tasks']);

    // create_auth_link: toolkit and callback_url; the connect page, then the account
    const link = await call('POST', `/tool_router/session/${sessionId}/link`, {
      toolkit: 'mail',
      callback_url: 'http://localhost:3000/done',
    });
    expect(link.status).toBe(201);
    expect(link.json).toMatchObject({
      link_token: expect.stringMatching(/^cr_/),
      redirect_url: `${server.url}/connect/${link.json.link_token}`,
      connected_account_id: link.json.link_token,
    });
    const pending = await fetch(
      `${server.url}/api/v3.1/connected_accounts/${link.json.connected_account_id}`,
      {
        headers: { 'x-api-key': server.apiKey },
      },
    );
    expect(await pending.json()).toMatchObject({ status: 'INITIATED', toolkit: { slug: 'mail' } });
    const form = await fetch(link.json.redirect_url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ apiKey: 'sk_rust' }).toString(),
      redirect: 'manual',
    });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toMatch(/^http:\/\/localhost:3000\/done\?/);
    const active = await fetch(
      `${server.url}/api/v3.1/connected_accounts/${link.json.connected_account_id}`,
      {
        headers: { 'x-api-key': server.apiKey },
      },
    );
    const account = (await active.json()) as Record<string, any>;
    expect(account).toMatchObject({
      id: expect.stringMatching(/^ca_/),
      status: 'ACTIVE',
      status_reason: null,
      auth_config: { id: mailConfig.id, auth_scheme: 'API_KEY' },
    });
    expect(JSON.stringify(account)).not.toContain('sk_rust');
    const connected = await call(
      'GET',
      `/tool_router/session/${sessionId}/toolkits?toolkits=mail&is_connected=true`,
    );
    expect(connected.json.items[0].connected_account).toMatchObject({
      id: account.id,
      status: 'ACTIVE',
      user_id: 'user_rust',
    });

    // PATCH and DELETE
    const patched = await call('PATCH', `/tool_router/session/${sessionId}`, {
      toolkits: { disable: ['mail'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ config_version: 2, config: { toolkits: { disable: ['mail'] } } });
    const deleted = await call('DELETE', `/tool_router/session/${sessionId}`);
    expect(deleted.json).toEqual({ session_id: sessionId, deleted: true });
    const gone = await call('GET', `/tool_router/session/${sessionId}`);
    expect(gone.status).toBe(404);
    expect(gone.json.error).toMatchObject({
      code: 'SESSION_NOT_FOUND',
      status: 404,
      message: expect.stringContaining(sessionId),
    });
  });

  it('takes the Rust variants of connected_accounts and manage_connections', async () => {
    const config = await server.embedded.authConfigs.create('mail', { type: 'api_key' });
    const account = await server.embedded.connectedAccounts.create('user_variants', config.id, {
      apiKey: 'k',
    });
    const created = await call('POST', '/tool_router/session', {
      user_id: 'user_variants',
      toolkits: ['mail'],
      connected_accounts: { mail: account.id },
      manage_connections: { enabled: false },
    });
    expect(created.status).toBe(201);
    expect(created.json.config).toMatchObject({
      connected_accounts: { mail: account.id },
      manage_connections: { enabled: false },
    });
    expect(created.json.tool_router_tools.some((slug: string) => slug.endsWith('_MANAGE_CONNECTIONS'))).toBe(
      false,
    );
  });

  it('refuses what toolmux lacks, a bad body and a bad key in Composio’s error envelope', async () => {
    const cases: Array<[unknown, string]> = [
      [{ user_id: 'u', workbench: { proxy_execution: true } }, 'workbench.enable_proxy_execution'],
      [{ user_id: 'u', toolkit_versions: { tasks: '20250909_00' } }, 'toolkit_versions.tasks'],
      [{ user_id: 'u', search: { enable: false } }, 'search.enable'],
      [{ user_id: 'u', billing: { plan: 'premium' } }, 'billing'],
    ];
    for (const [body, field] of cases) {
      const refused = await call('POST', '/tool_router/session', body);
      expect(refused.status, field).toBe(400);
      expect(refused.json.error, field).toMatchObject({
        status: 400,
        message: expect.stringContaining(field),
      });
    }
    // core now has manageConnections.callbackUrl: Composio's callback_url passes through
    const withCallback = await call('POST', '/tool_router/session', {
      user_id: 'u',
      manage_connections: { enable: true, callback_url: 'http://localhost:3000/back' },
    });
    expect(withCallback.status).toBe(201);
    // bad input is a 4xx naming it, never a crash
    const badUser = await call('POST', '/tool_router/session', { user_id: 'a\u0000b' });
    expect(badUser.status).toBe(400);
    expect(badUser.json.message).toContain('user_id');
    const notObject = await call('POST', '/tool_router/session', ['user_id']);
    expect(notObject.status).toBe(400);
    const notJson = await fetch(`${server.url}/api/v3/tool_router/session`, {
      method: 'POST',
      headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
      body: '{"user_id":',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('INVALID_REQUEST');
    const badSession = await call('GET', `/tool_router/session/${encodeURIComponent('ses_\u0007')}/tools`);
    expect(badSession.status).toBe(400);
    const badCustom = await call('POST', '/tool_router/session', {
      user_id: 'u',
      experimental: {
        custom_tools: [{ slug: 'X', name: 'X', description: 'x\u0000', input_schema: { type: 'object' } }],
      },
    });
    expect(badCustom.status).toBe(400);
    const badCursor = await fetch(`${server.url}/api/v3.1/tool_router/session/ses_x/tools?cursor=abc`, {
      headers: { 'x-api-key': server.apiKey },
    });
    expect(badCursor.status).toBeGreaterThanOrEqual(400);
    expect(badCursor.status).toBeLessThan(500);

    const noKey = await call('POST', '/tool_router/session', { user_id: 'u' }, null);
    expect(noKey.status).toBe(401);
    expect(noKey.json.error).toMatchObject({
      code: 'UNAUTHORIZED',
      status: 401,
      message: expect.stringContaining('x-api-key'),
    });
    const wrongKey = await call('GET', '/tool_router/session/ses_x', undefined, 'wrong-key-0123456789abcdef');
    expect(wrongKey.status).toBe(401);
    const badId = await call('GET', '/tool_router/session/ses_missing/tools');
    expect(badId.status).toBe(404);
  });
});

describe('search with a toolkit filter', () => {
  it('keeps the tools of the toolkits named, and refuses a filter of over 1,000 toolkits or of a toolkit the catalog lacks', async () => {
    const created = await call('POST', '/tool_router/session', { user_id: 'user_filter' });
    const sessionId = created.json.session_id as string;
    const filtered = await call('POST', `/tool_router/session/${sessionId}/search`, {
      queries: [{ use_case: 'create a task' }],
      toolkits: Array.from({ length: 1_000 }, (_, n) => (n % 2 === 0 ? 'TASKS' : 'tasks')),
    });
    expect(filtered.status).toBe(200);
    const slugs = JSON.stringify(filtered.json);
    expect(slugs).toContain('TASKS_CREATE_TASK');
    expect(slugs).not.toContain('NOTES_');
    const unknown = await call('POST', `/tool_router/session/${sessionId}/search`, {
      queries: [{ use_case: 'create a task' }],
      toolkits: ['TASKS', 'other_1'],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toContain('toolkits names "other_1", a toolkit this catalog does not have');
    const tooMany = await call('POST', `/tool_router/session/${sessionId}/search`, {
      queries: [{ use_case: 'create a task' }],
      toolkits: Array.from({ length: 1_001 }, (_, n) => `toolkit_${n}`),
    });
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(tooMany.json)).toContain('toolkits');
  });
});
