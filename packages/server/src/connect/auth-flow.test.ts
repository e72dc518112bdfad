import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorSchema } from '../rest/schemas.js';
import { createServer, type RunningServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import { freePort, startTestOAuthServer, type TestOAuthServer } from '../test-oauth.js';
import { ConnectLinks } from './connect-link.js';

const APP_CALLBACK = 'http://localhost:3000/connected';

let oauth: TestOAuthServer;
let mux: ToolMux;
let running: RunningServer;
let baseUrl: string;
const sample = createSampleToolkits();

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  oauth = await startTestOAuthServer({ redirectUris: [`${baseUrl}/auth/callback`] });
  mux = new ToolMux({
    toolkits: [...sample.toolkits, oauth.toolkit],
    store: ':memory:',
    secretKey: randomBytes(32).toString('base64'),
    baseUrl,
    logger: recordingLogger(),
  });
  running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY }).serve({ port });
});

afterAll(async () => {
  await running.close();
  await mux.close();
  await oauth.close();
});

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

async function octoConfig(): Promise<string> {
  const created = await api('POST', '/auth-configs', {
    toolkit: 'octo',
    type: 'oauth2',
    client_id: oauth.clientId,
    client_secret: oauth.clientSecret,
  });
  expect(created.status).toBe(201);
  return created.json.id;
}

/** The link inside the hosted page's "Continue" button. */
function continueLink(html: string): string {
  const href = /<a class="button" href="([^"]+)"/.exec(html)?.[1];
  if (!href) throw new Error(`no continue link in ${html}`);
  return href.replaceAll('&#38;', '&');
}

describe('auth configs', () => {
  it('creates, gets, lists and deletes, never returning the client secret', async () => {
    const id = await octoConfig();
    const got = await api('GET', `/auth-configs/${id}`);
    expect(got.json).toMatchObject({
      id,
      toolkit: 'octo',
      type: 'oauth2',
      created_by: 'user',
      client_id: oauth.clientId,
      has_client_secret: true,
    });
    expect(JSON.stringify(got.json)).not.toContain(oauth.clientSecret);
    const listed = await api('GET', '/auth-configs?toolkit=octo');
    expect(listed.json.items.map((config: { id: string }) => config.id)).toContain(id);
    expect(JSON.stringify(listed.json)).not.toContain(oauth.clientSecret);
    expect(await api('DELETE', `/auth-configs/${id}`)).toEqual({ status: 200, json: { id, deleted: true } });
    const gone = await api('GET', `/auth-configs/${id}`);
    expect(gone.status).toBe(404);
    expect(ErrorSchema.parse(gone.json).error.code).toBe('AUTH_CONFIG_NOT_FOUND');
  });

  it('refuses a scheme the toolkit does not have', async () => {
    const refused = await api('POST', '/auth-configs', { toolkit: 'octo', type: 'api_key' });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('AUTH_CONFIG_INVALID');
  });
});

describe('connected accounts', () => {
  it('stores an API key account, lists, gets and deletes it, without the key', async () => {
    const config = (await api('POST', '/auth-configs', { toolkit: 'mail', type: 'api_key' })).json;
    const created = await api('POST', '/connected-accounts', {
      user_id: 'user_keys',
      auth_config_id: config.id,
      credentials: { apiKey: 'sk_secret_value_123' },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ user_id: 'user_keys', toolkit: 'mail', status: 'ACTIVE' });
    expect(JSON.stringify(created.json)).not.toContain('sk_secret_value_123');
    const id = created.json.id as string;

    const listed = await api('GET', '/connected-accounts?user_ids=user_keys,nobody&statuses=ACTIVE');
    expect(listed.json.items.map((account: { id: string }) => account.id)).toEqual([id]);
    expect((await api('GET', '/connected-accounts?statuses=BOGUS')).status).toBe(400);

    const executed = await api('POST', '/tools/execute', {
      tool_slug: 'MAIL_SEND_EMAIL',
      user_id: 'user_keys',
      arguments: { to: 'a@b.c', subject: 's', body: 'b' },
      connected_account_id: id,
    });
    expect(executed.json).toMatchObject({ successful: true, data: { sent: true } });
    expect(sample.calls.at(-1)!.context.credentials).toEqual({ apiKey: 'sk_secret_value_123' });

    const refresh = await api('POST', `/connected-accounts/${id}/refresh`);
    expect(refresh.status).toBe(400);
    expect((await api('DELETE', `/connected-accounts/${id}`)).json).toEqual({ id, deleted: true });
    expect((await api('GET', `/connected-accounts/${id}`)).json.error.code).toBe(
      'CONNECTED_ACCOUNT_NOT_FOUND',
    );
  });

  it('names wrong credentials', async () => {
    const config = (await api('POST', '/auth-configs', { toolkit: 'mail', type: 'api_key' })).json;
    const refused = await api('POST', '/connected-accounts', {
      user_id: 'u',
      auth_config_id: config.id,
      credentials: { token: 'x' },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('CONNECTED_ACCOUNT_INVALID');
  });
});

describe('OAuth through the hosted connect page', () => {
  it('authorizes a session toolkit: page → provider → callback → app, and the tool runs over MCP', async () => {
    const authConfigId = await octoConfig();
    const session = await mux.create('user_oauth', {
      toolkits: ['octo'],
      authConfigs: { octo: authConfigId },
    });

    const started = await api('POST', `/sessions/${session.sessionId}/authorize`, {
      toolkit: 'octo',
      callback_url: APP_CALLBACK,
    });
    expect(started.status).toBe(201);
    expect(started.json.redirect_url).toMatch(new RegExp(`^${baseUrl}/connect/cr_[0-9a-z]+\\?t=`));
    const accountId = started.json.connected_account_id as string;
    const waiting = (await mux.connectedAccounts.get(accountId)).status;
    expect(waiting).toBe('INITIATED');

    const page = await fetch(started.json.redirect_url);
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<h1>Connect Octo</h1>');
    expect(html).toContain('<strong>user_oauth</strong>');
    const authorizationUrl = continueLink(html);
    expect(authorizationUrl.startsWith(`${oauth.issuer}/auth?`)).toBe(true);

    const callback = await oauth.signIn(authorizationUrl);
    expect(callback.startsWith(`${baseUrl}/auth/callback?`)).toBe(true);
    const landed = await fetch(callback, { redirect: 'manual' });
    expect(landed.status).toBe(302);
    const back = new URL(landed.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(APP_CALLBACK);
    expect(back.searchParams.get('status')).toBe('success');
    expect(back.searchParams.get('connected_account_id')).toBe(accountId);

    const account = await api('GET', `/connected-accounts/${accountId}`);
    expect(account.json).toMatchObject({ status: 'ACTIVE', user_id: 'user_oauth', toolkit: 'octo' });
    const after = await (await fetch(started.json.redirect_url)).text();
    expect(after).toContain('Octo is connected');

    const client = new Client({ name: 'oauth-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(session.mcp.url), {
        requestInit: { headers: session.mcp.headers },
      }),
    );
    const whoami = (await client.callTool({
      name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
      arguments: { tools: [{ tool_slug: 'OCTO_WHOAMI', arguments: {} }] },
    })) as CallToolResult;
    const [first] = whoami.content;
    expect(JSON.parse(first?.type === 'text' ? first.text : '{}')).toMatchObject({
      results: [{ tool_slug: 'OCTO_WHOAMI', successful: true, data: { sub: 'user-1' } }],
    });
    await client.close();
  });

  it('links an account through connected-accounts/link', async () => {
    const authConfigId = await octoConfig();
    const started = await api('POST', '/connected-accounts/link', {
      user_id: 'user_link',
      auth_config_id: authConfigId,
    });
    expect(started.status).toBe(201);
    const html = await (await fetch(started.json.redirect_url)).text();
    const landed = await fetch(await oauth.signIn(continueLink(html)), { redirect: 'manual' });
    const back = new URL(landed.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(`${baseUrl}/connect/done`);
    const done = await fetch(back);
    expect(await done.text()).toContain('<h1>Connected</h1>');
    expect((await mux.connectedAccounts.get(started.json.connected_account_id)).status).toBe('ACTIVE');
  });
});

describe('credentials form on the hosted connect page', () => {
  it('asks for the fields, refuses wrong ones, and redirects to the app with the account', async () => {
    const config = (await api('POST', '/auth-configs', { toolkit: 'mail', type: 'api_key' })).json;
    const session = await mux.create('user_form', { toolkits: ['mail'], authConfigs: { mail: config.id } });
    const started = await api('POST', `/sessions/${session.sessionId}/authorize`, {
      toolkit: 'mail',
      callback_url: APP_CALLBACK,
    });
    expect(started.status).toBe(201);
    expect(started.json.connected_account_id).toBeNull();

    const page = await fetch(started.json.redirect_url);
    const html = await page.text();
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self' http://localhost:3000");
    expect(html).toContain('<label for="field-0">API key</label>');
    expect(html).toContain('<input id="field-0" name="apiKey" type="password"');
    const action = /<form method="post" action="([^"]+)"/.exec(html)![1]!.replaceAll('&#38;', '&');

    const wrong = await fetch(new URL(action, baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ apiKey: '' }).toString(),
    });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('role="alert"');

    const submitted = await fetch(new URL(action, baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ apiKey: 'sk_from_form' }).toString(),
      redirect: 'manual',
    });
    expect(submitted.status).toBe(303);
    const back = new URL(submitted.headers.get('location')!);
    expect(back.searchParams.get('status')).toBe('success');
    const accountId = back.searchParams.get('connected_account_id')!;
    expect(await mux.connectedAccounts.get(accountId)).toMatchObject({
      status: 'ACTIVE',
      userId: 'user_form',
    });

    const sent = await session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' });
    expect(sent.successful).toBe(true);
    expect(sample.calls.at(-1)!.context.credentials).toEqual({ apiKey: 'sk_from_form' });
  });

  it('refuses links that were altered, made for another id, or expired', async () => {
    expect((await fetch(`${baseUrl}/connect/cr_x`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/connect/cr_x?t=AAAA`)).status).toBe(404);
    const links = new ConnectLinks(TEST_API_KEY);
    const payload = {
      kind: 'fields' as const,
      id: 'cr_1',
      userId: 'u',
      toolkit: 'mail',
      authConfigId: 'ac_1',
      type: 'api_key',
      callbackUrl: APP_CALLBACK,
      expiresAt: Date.now() - 1,
    };
    expect((await fetch(`${baseUrl}/connect/cr_2?t=${links.seal(payload)}`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/connect/cr_1?t=${links.seal(payload)}`)).status).toBe(410);
    const other = new ConnectLinks('another-api-key-0123456789');
    const foreign = other.seal({ ...payload, expiresAt: Date.now() + 60_000 });
    expect((await fetch(`${baseUrl}/connect/cr_1?t=${foreign}`)).status).toBe(404);
  });

  it('escapes what it shows', async () => {
    const links = new ConnectLinks(TEST_API_KEY);
    const token = links.seal({
      kind: 'fields',
      id: 'cr_3',
      userId: '<script>alert(1)</script>',
      toolkit: 'mail',
      authConfigId: 'ac_1',
      type: 'api_key',
      callbackUrl: APP_CALLBACK,
      expiresAt: Date.now() + 60_000,
    });
    const html = await (await fetch(`${baseUrl}/connect/cr_3?t=${token}`)).text();
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;');
  });
});
