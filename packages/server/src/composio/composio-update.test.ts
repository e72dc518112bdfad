import { SessionPreset } from '@composio/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composioClientOf } from '../test-composio.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * `session.update()` of `@composio/core` is a PATCH: the client sends only the fields the caller
 * gave (its "PATCH-safe" transforms apply no defaults), and the fields it leaves out keep their
 * stored values. `manageConnections`, `sandbox` and `multiAccount` are objects whose fields merge
 * one by one; `null` puts an option back to its default.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

const composio = () => composioClientOf(server);

async function toolNames(session: { tools(): Promise<unknown> }): Promise<string[]> {
  return ((await session.tools()) as Array<{ function: { name: string } }>).map((tool) => tool.function.name);
}

describe('update() of @composio/core changes only the fields it sends', () => {
  it('turns multi-account off with enable: false or null, and changes one of its fields alone', async () => {
    const session = await composio().create('user_update_accounts', {
      toolkits: ['mail'],
      multiAccount: { enable: true, maxAccountsPerToolkit: 3 },
    });
    expect(session.config.multi_account).toEqual({
      enable: true,
      max_accounts_per_toolkit: 3,
      require_explicit_selection: true,
    });
    // one field: the others stay
    expect(
      (await session.update({ multiAccount: { requireExplicitSelection: false } })).multi_account,
    ).toEqual({
      enable: true,
      max_accounts_per_toolkit: 3,
      require_explicit_selection: false,
    });
    expect((await session.update({ multiAccount: { enable: false } })).multi_account).toMatchObject({
      enable: false,
    });
    await session.update({ multiAccount: { enable: true, maxAccountsPerToolkit: 4 } });
    expect((await session.update({ multiAccount: null })).multi_account).toMatchObject({ enable: false });
    // what the server stored, not only what the client was told
    expect((await composio().use(session.sessionId)).config.multi_account).toMatchObject({ enable: false });
  });

  it('keeps a turned-off sandbox off when only its offload threshold changes', async () => {
    const session = await composio().create('user_update_sandbox', {
      toolkits: ['tasks'],
      sandbox: { enable: false },
    });
    expect(await toolNames(session)).not.toContain('COMPOSIO_REMOTE_WORKBENCH');
    const config = await session.update({ sandbox: { autoOffloadThreshold: 5000 } });
    expect(config.workbench).toEqual({ enable: false, auto_offload_threshold: 5000 });
    expect(await toolNames(session)).not.toContain('COMPOSIO_REMOTE_WORKBENCH');
    // null: back to the default (on)
    expect((await session.update({ sandbox: null })).workbench).toMatchObject({ enable: true });
    expect(await toolNames(session)).toContain('COMPOSIO_REMOTE_WORKBENCH');
  });

  it('keeps the workbench settings of a session made with toolmux’s own API', async () => {
    const made = await server.embedded.create('user_update_sandbox', {
      toolkits: ['tasks'],
      workbench: { timeoutMs: 5000, memoryMb: 32 },
    });
    const session = await composio().use(made.sessionId);
    await session.update({ sandbox: { autoOffloadThreshold: 5000 } });
    expect((await server.embedded.use(made.sessionId)).config.workbench).toMatchObject({
      enable: true,
      timeoutMs: 5000,
      memoryMb: 32,
      autoOffloadThreshold: 5000,
    });
  });

  it('keeps manage-connections off, and its callback and waiting, when another of its fields changes', async () => {
    const session = await composio().create('user_update_manage', {
      toolkits: ['mail'],
      manageConnections: false,
    });
    const config = await session.update({ manageConnections: { callbackUrl: 'http://localhost:3000/back' } });
    expect(config.manage_connections).toEqual({ enabled: false, callback_url: 'http://localhost:3000/back' });
    expect(await toolNames(session)).not.toContain('COMPOSIO_MANAGE_CONNECTIONS');

    const on = await session.update({ manageConnections: { enable: true } });
    expect(on.manage_connections).toEqual({ enabled: true, callback_url: 'http://localhost:3000/back' });
    const waiting = await session.update({ manageConnections: { waitForConnections: true } });
    expect(waiting.manage_connections).toEqual({
      enabled: true,
      callback_url: 'http://localhost:3000/back',
      enable_wait_for_connections: true,
    });
    const other = await session.update({ manageConnections: { callbackUrl: 'http://localhost:3000/other' } });
    expect(other.manage_connections).toEqual({
      enabled: true,
      callback_url: 'http://localhost:3000/other',
      enable_wait_for_connections: true,
    });
    expect(await toolNames(session)).toEqual(
      expect.arrayContaining(['COMPOSIO_MANAGE_CONNECTIONS', 'COMPOSIO_WAIT_FOR_CONNECTIONS']),
    );
    // off: waiting goes with it (it waits for the links manage-connections hands out)
    const off = await session.update({ manageConnections: { enable: false } });
    expect(off.manage_connections).toEqual({ enabled: false, callback_url: 'http://localhost:3000/other' });
  });

  it('puts manage-connections back to its default with null: on, no callback, not waiting', async () => {
    const off = await composio().create('user_update_manage_null', {
      toolkits: ['mail'],
      manageConnections: { enable: false },
    });
    expect(await toolNames(off)).not.toContain('COMPOSIO_MANAGE_CONNECTIONS');
    expect((await off.update({ manageConnections: null })).manage_connections).toEqual({ enabled: true });
    expect(await toolNames(off)).toContain('COMPOSIO_MANAGE_CONNECTIONS');
    // what the server stored, not only what the client was told
    expect((await composio().use(off.sessionId)).config.manage_connections).toEqual({ enabled: true });

    const waiting = await composio().create('user_update_manage_null', {
      toolkits: ['mail'],
      manageConnections: {
        enable: true,
        callbackUrl: 'http://localhost:3000/back',
        waitForConnections: true,
      },
    });
    expect(await toolNames(waiting)).toContain('COMPOSIO_WAIT_FOR_CONNECTIONS');
    expect((await waiting.update({ manageConnections: null })).manage_connections).toEqual({ enabled: true });
    const names = await toolNames(waiting);
    expect(names).toContain('COMPOSIO_MANAGE_CONNECTIONS');
    expect(names).not.toContain('COMPOSIO_WAIT_FOR_CONNECTIONS');

    // a direct-tools session: the default there is without the meta-tool
    const direct = await composio().create('user_update_manage_null', {
      toolkits: ['mail'],
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      manageConnections: true,
    });
    expect(await toolNames(direct)).toContain('COMPOSIO_MANAGE_CONNECTIONS');
    await direct.update({ manageConnections: null });
    expect(await toolNames(direct)).not.toContain('COMPOSIO_MANAGE_CONNECTIONS');
  });
});

describe('a PATCH takes back the config GET answered (read-modify-write)', () => {
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  };

  for (const prefix of ['/api/v3.1', '/api/v3']) {
    it(`${prefix}: the config sent back unchanged changes nothing, changed applies, user_id changed is refused`, async () => {
      const made = await composio().create('user_read_modify_write', {
        toolkits: ['mail', 'tasks'],
        manageConnections: { callbackUrl: 'http://localhost:3000/back' },
        multiAccount: { enable: true, maxAccountsPerToolkit: 3 },
      });
      const path = `${prefix}/tool_router/session/${made.sessionId}`;
      const read = await call('GET', path);
      expect(read.status).toBe(200);
      const { config, tool_router_tools: tools } = read.json;
      expect(config.user_id).toBe('user_read_modify_write');

      const same = await call('PATCH', path, config);
      expect(same.status).toBe(200);
      expect(same.json.config).toEqual(config);
      expect(same.json.tool_router_tools).toEqual(tools);

      // one field changed, the rest sent back as read
      const changed = await call('PATCH', path, {
        ...config,
        toolkits: prefix === '/api/v3' ? ['mail'] : { enabled: ['mail'] },
      });
      expect(changed.status).toBe(200);
      expect(changed.json.config).toEqual({
        ...config,
        toolkits: prefix === '/api/v3' ? ['mail'] : { enabled: ['mail'] },
      });

      const other = await call('PATCH', path, { ...config, user_id: 'someone_else' });
      expect(other.status).toBe(400);
      expect(other.json.error.code).toBe('CONFIG_INVALID');
      expect(other.json.error.message).toContain('user_id cannot change');
      expect(other.json.error.message).toContain('"someone_else"');
      expect(other.json.error.message).toContain(`GET ${path}`);
      expect((await call('GET', path)).json.config.user_id).toBe('user_read_modify_write');
    });
  }

  it('a meta-tool on by default, sent back as read, stays a default: direct tools then go without it', async () => {
    const sentBack = await composio().create('user_read_modify_write', { toolkits: ['mail'] });
    const path = `/api/v3.1/tool_router/session/${sentBack.sessionId}`;
    const { config } = (await call('GET', path)).json;
    expect(config.workbench.enable).toBe(true);
    expect(config.manage_connections.enabled).toBe(true);
    expect((await call('PATCH', path, config)).status).toBe(200);
    const direct = { search: { enable: false }, execute: { enable_multi_execute: false } };
    const after = await call('PATCH', path, { ...config, ...direct });
    expect(after.status).toBe(200);
    // as a session that never sent its config back
    const untouched = await composio().create('user_read_modify_write', { toolkits: ['mail'] });
    const control = await call('PATCH', `/api/v3.1/tool_router/session/${untouched.sessionId}`, direct);
    expect(after.json.tool_router_tools).toEqual(control.json.tool_router_tools);
    expect(after.json.tool_router_tools).not.toContain('COMPOSIO_REMOTE_WORKBENCH');
  });
});

/**
 * The PATCH of Composio's API reference (its client's `SessionPatchParams`), sent over plain HTTP:
 * `connected_accounts: null` takes the pinned accounts away, and `experimental` is `null` or options
 * refused by name, as on create.
 */
describe('PATCH /api/v3.1/tool_router/session/:id as Composio documents it', () => {
  async function patch(sessionId: string, body: unknown) {
    const response = await fetch(`${server.url}/api/v3.1/tool_router/session/${sessionId}`, {
      method: 'PATCH',
      headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  }

  it('connected_accounts: null unpins the accounts; experimental: null changes nothing', async () => {
    const authConfig = await server.embedded.authConfigs.create('mail', { type: 'api_key' });
    const account = await server.embedded.connectedAccounts.create('user_patch_null', authConfig.id, {
      apiKey: 'sk_pinned',
    });
    const session = await composio().create('user_patch_null', {
      toolkits: ['mail'],
      connectedAccounts: { mail: account.id },
    });
    expect(session.config.connected_accounts).toEqual({ mail: [account.id] });
    const unpinned = await patch(session.sessionId, { connected_accounts: null, experimental: null });
    expect(unpinned.status).toBe(200);
    expect(unpinned.json.config.connected_accounts).toEqual({});
    expect(unpinned.json.config_version).toBe(2);
    expect((await composio().use(session.sessionId)).config.connected_accounts).toEqual({});
    // nothing but experimental: null is no change
    const same = await patch(session.sessionId, { experimental: null });
    expect(same.status).toBe(200);
    expect(same.json.config_version).toBe(2);
  });

  it.each([
    ['link_url_overwrite', { link_url_overwrite: 'https://connect.example.com' }],
    ['permissions', { permissions: { default: 'allow_all' } }],
  ])('refuses experimental.%s by name, changing nothing', async (field, experimental) => {
    const session = await composio().create('user_patch_experimental', { toolkits: ['tasks'] });
    const refused = await patch(session.sessionId, { tags: ['readOnlyHint'], experimental });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(refused.json.error.message).toMatch(
      new RegExp(`^experimental\\.${field} is not supported by toolmux's Composio-compatible API: `),
    );
    expect((await composio().use(session.sessionId)).config.tags).toEqual({});
  });
});
