import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MetaToolSlug, ToolMux, ToolMuxError } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorSchema } from '../rest/schemas.js';
import { createServer, type RunningServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import {
  CookieJar,
  continueThroughPage,
  freePort,
  startTestOAuthServer,
  type TestOAuthServer,
} from '../test-oauth.js';

const APP_CALLBACK = 'http://localhost:3000/connected';

let oauth: TestOAuthServer;
let mux: ToolMux;
let running: RunningServer;
let baseUrl: string;
let directory: string;
const logger = recordingLogger();
/** Client secrets the tests rotated to, which the log must not show either. */
const seenSecrets: string[] = [];
const sample = createSampleToolkits();

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  directory = mkdtempSync(join(tmpdir(), 'toolmux-auth-flow-'));
  oauth = await startTestOAuthServer({ redirectUris: [`${baseUrl}/auth/callback`] });
  mux = new ToolMux({
    toolkits: [...sample.toolkits, oauth.toolkit],
    // a file, so that a test can move a request's expiry into the past
    store: `sqlite:${join(directory, 'toolmux.db')}`,
    secretKey: randomBytes(32).toString('base64'),
    baseUrl,
    logger,
  });
  running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger }).serve({ port });
});

afterAll(async () => {
  await running.close();
  await mux.close();
  await oauth.close();
  rmSync(directory, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown, apiKey: string | null = TEST_API_KEY) {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: {
      ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
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

async function mailConfig(): Promise<string> {
  return (await api('POST', '/auth-configs', { toolkit: 'mail', type: 'api_key' })).json.id;
}

/** The cookies of the user's browser, which goes through the hosted pages (see continueThroughPage). */
const browser = new CookieJar();

/** The provider's URL "Continue" of the hosted page leads to, in the user's browser. */
async function continueLink(pageUrl: string): Promise<string> {
  return (await continueThroughPage(pageUrl, browser)).authorizationUrl;
}

/** Opens a hosted connect page, continues to the provider, signs in, and lands on the callback. */
async function connectThroughPage(redirectUrl: string, options: { deny?: boolean } = {}) {
  const authorizationUrl = await continueLink(redirectUrl);
  const landed = await fetch(await oauth.signIn(authorizationUrl, options), {
    headers: { cookie: browser.header },
    redirect: 'manual',
  });
  expect(landed.status).toBe(302);
  return { authorizationUrl, back: new URL(landed.headers.get('location')!) };
}

/** Posts the credentials form of a hosted page. */
function submitForm(requestId: string, fields: Record<string, string>) {
  return fetch(`${baseUrl}/connect/${requestId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

/** Moves a request's expiry into the past, past toolmux. */
function expire(requestId: string): void {
  const database = new DatabaseSync(join(directory, 'toolmux.db'));
  try {
    database
      .prepare('UPDATE toolmux_connection_requests SET expires_at = ? WHERE id = ?')
      .run(Date.now() - 1, requestId);
  } finally {
    database.close();
  }
}

async function rejection(promise: Promise<unknown>): Promise<ToolMuxError> {
  const error = await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  expect(ToolMuxError.isInstance(error), `expected a ToolMuxError, got ${String(error)}`).toBe(true);
  return error as ToolMuxError;
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

  it('PATCH rotates the client secret: the account connected through it refreshes again, never reconnected', async () => {
    const id = await octoConfig();
    const link = await api('POST', '/connected-accounts/link', {
      user_id: 'user_patch',
      auth_config_id: id,
      callback_url: APP_CALLBACK,
    });
    await connectThroughPage(link.json.redirect_url);
    const accountId = link.json.connected_account_id as string;
    const rotated = await oauth.rotateClientSecret();
    seenSecrets.push(rotated);
    try {
      const refused = await api('POST', `/connected-accounts/${accountId}/refresh`);
      expect(refused.status).toBe(400);
      expect(refused.json.error.code).toBe('AUTH_CONFIG_INVALID');
      expect(refused.json.error.message).toContain(
        `PATCH /api/v1/auth-configs/${id} with { "client_id": …, "client_secret": … }`,
      );

      const before = (await api('GET', `/auth-configs/${id}`)).json;
      const patched = await api('PATCH', `/auth-configs/${id}`, {
        client_secret: rotated,
        name: 'Octo (rotated)',
      });
      expect(patched.status).toBe(200);
      expect(patched.json).toEqual({
        ...before,
        name: 'Octo (rotated)',
        has_client_secret: true,
        updated_at: expect.any(String),
      });
      expect(Date.parse(patched.json.updated_at)).toBeGreaterThan(Date.parse(before.updated_at));
      expect(JSON.stringify(patched.json)).not.toContain(rotated);

      const refreshed = await api('POST', `/connected-accounts/${accountId}/refresh`);
      expect(refreshed).toMatchObject({ status: 200, json: { id: accountId, status: 'ACTIVE' } });
    } finally {
      await oauth.rotateClientSecret(oauth.clientSecret);
    }
  });

  it('PATCH refuses what the config cannot take, an unknown field and an unknown id', async () => {
    const mail = await mailConfig();
    const wrongType = await api('PATCH', `/auth-configs/${mail}`, { client_secret: 'never-stored' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error).toMatchObject({
      code: 'AUTH_CONFIG_INVALID',
      // the REST field, not the SDK's clientSecret
      message: `"client_secret" cannot be updated on api_key auth config ${mail}: give one or more of name.`,
      details: { field: 'client_secret' },
    });
    const empty = await api('PATCH', `/auth-configs/${await octoConfig()}`, {});
    expect(empty.status).toBe(400);
    expect(empty.json.error.code).toBe('AUTH_CONFIG_INVALID');
    const unknownField = await api('PATCH', `/auth-configs/${mail}`, { type: 'bearer' });
    expect(unknownField.status).toBe(400);
    expect(unknownField.json.error.message).toContain('type');
    const unknown = await api('PATCH', '/auth-configs/ac_unknown', { name: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('AUTH_CONFIG_NOT_FOUND');
  });

  it('refuses a scheme the toolkit does not have', async () => {
    const refused = await api('POST', '/auth-configs', { toolkit: 'octo', type: 'api_key' });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('AUTH_CONFIG_INVALID');
  });
});

describe('connected accounts', () => {
  it('stores an API key account, lists, gets and deletes it, without the key', async () => {
    const configId = await mailConfig();
    const created = await api('POST', '/connected-accounts', {
      user_id: 'user_keys',
      auth_config_id: configId,
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
    const refused = await api('POST', '/connected-accounts', {
      user_id: 'u',
      auth_config_id: await mailConfig(),
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
    const requestId = started.json.id as string;
    expect(started.json).toMatchObject({
      kind: 'oauth2',
      user_id: 'user_oauth',
      toolkit: 'octo',
      auth_config_id: authConfigId,
      status: 'PENDING',
      callback_url: APP_CALLBACK,
      redirect_url: `${baseUrl}/connect/${requestId}`,
    });
    const accountId = started.json.connected_account_id as string;
    expect((await mux.connectedAccounts.get(accountId)).status).toBe('INITIATED');

    const page = await fetch(started.json.redirect_url);
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<h1>Connect Octo</h1>');
    expect(html).toContain('<strong>user_oauth</strong>');
    expect(html).not.toContain(oauth.issuer);
    const authorizationUrl = await continueLink(started.json.redirect_url);
    expect(authorizationUrl.startsWith(`${oauth.issuer}/auth?`)).toBe(true);
    // the authorization URL carries the state: the REST API never shows it
    const state = new URL(authorizationUrl).searchParams.get('state')!;
    const polled = await api('GET', `/connection-requests/${requestId}`);
    expect(polled.json).toEqual(started.json);
    for (const shown of [started.json, polled.json]) {
      expect(JSON.stringify(shown)).not.toContain(state);
      expect(JSON.stringify(shown)).not.toContain(oauth.issuer);
    }

    const callback = await oauth.signIn(authorizationUrl);
    expect(callback.startsWith(`${baseUrl}/auth/callback?`)).toBe(true);
    const landed = await fetch(callback, { headers: { cookie: browser.header }, redirect: 'manual' });
    expect(landed.status).toBe(302);
    const back = new URL(landed.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(APP_CALLBACK);
    expect(back.searchParams.get('status')).toBe('success');
    expect(back.searchParams.get('connected_account_id')).toBe(accountId);

    expect((await api('GET', `/connection-requests/${requestId}`)).json).toMatchObject({
      status: 'COMPLETED',
      connected_account_id: accountId,
    });
    const account = await api('GET', `/connected-accounts/${accountId}`);
    expect(account.json).toMatchObject({ status: 'ACTIVE', user_id: 'user_oauth', toolkit: 'octo' });
    const after = await fetch(started.json.redirect_url);
    expect(after.status).toBe(200);
    const afterHtml = await after.text();
    expect(afterHtml).toContain('Octo is connected');
    expect(afterHtml).not.toContain(state);

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
    expect(started.json.redirect_url).toBe(`${baseUrl}/connect/${started.json.id}`);
    expect(started.json.callback_url).toBe(`${baseUrl}/connect/done`);
    const { back } = await connectThroughPage(started.json.redirect_url);
    expect(`${back.origin}${back.pathname}`).toBe(`${baseUrl}/connect/done`);
    const done = await fetch(back);
    expect(await done.text()).toContain('<h1>Connected</h1>');
    expect((await mux.connectedAccounts.get(started.json.connected_account_id)).status).toBe('ACTIVE');
  });

  it("tells a callback_url that is no absolute http(s) URL what it must be, in the REST API's field name", async () => {
    const authConfigId = await octoConfig();
    const session = await api('POST', '/sessions', {
      user_id: 'user_bad_callback',
      config: { toolkits: ['octo'] },
    });
    for (const [path, body] of [
      [
        '/connected-accounts/link',
        { user_id: 'user_bad_callback', auth_config_id: authConfigId, callback_url: 'not a url' },
      ],
      [`/sessions/${session.json.session_id}/authorize`, { toolkit: 'octo', callback_url: '/relative' }],
    ] as const) {
      const refused = await api('POST', path, body);
      expect(refused.status, path).toBe(400);
      expect(refused.json.error.code, path).toBe('CALLBACK_URL_NOT_ALLOWED');
      expect(refused.json.error.message, path).toContain(
        `callback_url ${JSON.stringify(body.callback_url)} is not an absolute http(s) URL`,
      );
      // it has no origin to add to the allowlist
      expect(refused.json.error.message, path).not.toContain('allowedCallbackUrls');
    }
  });

  it('a client secret the provider refuses: the done page and status_reason name the application, not the user', async () => {
    const wrongSecret = 'a-secret-the-provider-refuses';
    const created = await api('POST', '/auth-configs', {
      toolkit: 'octo',
      type: 'oauth2',
      client_id: oauth.clientId,
      client_secret: wrongSecret,
    });
    const started = await api('POST', '/connected-accounts/link', {
      user_id: 'user_refused_client',
      auth_config_id: created.json.id,
    });
    const { back } = await connectThroughPage(started.json.redirect_url);
    expect(back.searchParams.get('error')).toBe('auth_config_invalid');
    const done = await (await fetch(back)).text();
    expect(done).toContain("the service refused the application's own credentials");
    expect(done).toContain('This is not your fault');
    const account = await api('GET', `/connected-accounts/${started.json.connected_account_id}`);
    expect(account.json.status).toBe('FAILED');
    expect(account.json.status_reason).toContain(
      `PATCH /api/v1/auth-configs/${created.json.id} with { "client_id": …, "client_secret": … } (REST API)`,
    );
    expect(JSON.stringify([done, account.json, back.toString()])).not.toContain(wrongSecret);
  });

  it('a client_id changed over REST while users connect: a page opened after it ends the request, a sign-in made before it fails at the callback; both as auth_config_changed', async () => {
    const authConfigId = await octoConfig();
    const other = oauth.otherClient;
    const link = async (userId: string) =>
      (await api('POST', '/connected-accounts/link', { user_id: userId, auth_config_id: authConfigId })).json;
    // one user has left for the provider before the change, the other opens the link after it
    const signedIn = await link('user_client_before');
    const callbackUrl = await oauth.signIn(await continueLink(signedIn.redirect_url));
    const opensLater = await link('user_client_after');
    const patched = await api('PATCH', `/auth-configs/${authConfigId}`, {
      client_id: other.clientId,
      client_secret: other.clientSecret,
    });
    expect(patched.status).toBe(200);
    seenSecrets.push(other.clientSecret);

    const page = await fetch(opensLater.redirect_url);
    expect(page.status).toBe(410);
    const text = await page.text();
    expect(text).toContain(
      'This Octo connection failed. The application changed its sign-in settings since this link was made.',
    );
    expect(text).not.toContain(oauth.authorizationUrl);
    expect((await api('GET', `/connection-requests/${opensLater.id}`)).json.status).toBe('FAILED');
    const laterAccount = (await api('GET', `/connected-accounts/${opensLater.connected_account_id}`)).json;
    expect(laterAccount.status).toBe('FAILED');
    expect(laterAccount.status_reason).toMatch(
      /^auth_config_changed: Connection request cr_\w+ was started with the OAuth client "toolmux-test-client" of auth config ac_\w+, whose clientId is now "toolmux-test-other-client"/,
    );

    const exchanges = oauth.tokenRequests.authorization_code;
    const landed = await fetch(callbackUrl, { headers: { cookie: browser.header }, redirect: 'manual' });
    const back = new URL(landed.headers.get('location')!);
    expect(back.searchParams.get('status')).toBe('failed');
    expect(back.searchParams.get('error')).toBe('auth_config_changed');
    expect(oauth.tokenRequests.authorization_code).toBe(exchanges);
    const done = await (await fetch(back)).text();
    expect(done).toContain('Go back to the application and try again.');
    const earlierAccount = (await api('GET', `/connected-accounts/${signedIn.connected_account_id}`)).json;
    expect(earlierAccount.status).toBe('FAILED');
    expect(earlierAccount.status_reason).toContain(
      'start a new connection, which signs in with the new client',
    );

    // a new link connects with the new client
    const again = await link('user_client_after');
    const { authorizationUrl, back: backAgain } = await connectThroughPage(again.redirect_url);
    expect(new URL(authorizationUrl).searchParams.get('client_id')).toBe(other.clientId);
    expect(backAgain.searchParams.get('status')).toBe('success');
    expect((await api('GET', `/connected-accounts/${again.connected_account_id}`)).json.status).toBe(
      'ACTIVE',
    );
  });

  it('gives the hosted link to session.authorize() and TOOLMUX_MANAGE_CONNECTIONS of the served ToolMux', async () => {
    const authConfigId = await octoConfig();
    const session = await mux.create('user_embedded', {
      toolkits: ['octo'],
      authConfigs: { octo: authConfigId },
    });
    const request = await session.authorize('octo', { callbackUrl: APP_CALLBACK });
    expect(request.kind).toBe('oauth2');
    expect(request.redirectUrl).toBe(`${baseUrl}/connect/${request.id}`);
    const waiting = request.waitForConnection(10_000);
    const { back } = await connectThroughPage(request.redirectUrl);
    expect(back.searchParams.get('status')).toBe('success');
    expect(await waiting).toEqual({ id: request.connectedAccountId, status: 'ACTIVE', toolkit: 'octo' });

    const managed = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, {
      toolkits: ['octo'],
      reinitiate: true,
    });
    const [entry] = (managed.data as { results: Array<Record<string, string>> }).results;
    expect(entry!.redirect_url).toBe(`${baseUrl}/connect/${entry!.connection_request_id}`);
  });

  it('a callback opened again after it connected (refresh, back button, a second tab) leads back to the app in the same browser only', async () => {
    const authConfigId = await octoConfig();
    const request = await mux.connectedAccounts.link('user_callback_again', authConfigId, {
      callbackUrl: APP_CALLBACK,
    });
    const accountId = request.connectedAccountId!;
    // two tabs of one browser: both opened the link and pressed "Continue", both signed in
    const firstTab = await continueLink(request.redirectUrl);
    const secondTab = await continueLink(request.redirectUrl);
    const firstCallback = await oauth.signIn(firstTab);
    const secondCallback = await oauth.signIn(secondTab);
    const open = (url: string, cookie = browser.header) =>
      fetch(url, { headers: { cookie }, redirect: 'manual' });
    const first = await open(firstCallback);
    expect(first.status).toBe(302);
    const codesTraded = oauth.tokenRequests.authorization_code;
    const connected = await mux.connectedAccounts.get(accountId);
    expect(connected.status).toBe('ACTIVE');
    const requestRow = await api('GET', `/connection-requests/${request.id}`);
    expect(requestRow.json.status).toBe('COMPLETED');

    // the second tab, then the first one refreshed: back to the app as the first answer, nothing traded
    for (const again of [secondCallback, firstCallback]) {
      for (const accept of ['text/html', 'application/json']) {
        const answer = await fetch(again, {
          headers: { cookie: browser.header, accept },
          redirect: 'manual',
        });
        expect(answer.status).toBe(302);
        expect(answer.headers.get('location')).toBe(first.headers.get('location'));
        const back = new URL(answer.headers.get('location')!);
        expect(back.searchParams.get('status')).toBe('success');
        expect(back.searchParams.get('connected_account_id')).toBe(accountId);
      }
    }
    expect(oauth.tokenRequests.authorization_code).toBe(codesTraded);
    expect(await mux.connectedAccounts.get(accountId)).toEqual(connected);
    expect((await api('GET', `/connection-requests/${request.id}`)).json).toEqual(requestRow.json);

    // another browser (without the page's cookie), holding the callback URL: refused as before
    const elsewhere = await open(firstCallback, '');
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.text()).toContain('already used');
  });

  it('shows a failed connection as no longer usable, and an expired or used one as such', async () => {
    const authConfigId = await octoConfig();
    const denied = await mux.connectedAccounts.link('user_denied', authConfigId, {
      callbackUrl: APP_CALLBACK,
    });
    const waiting = rejection(denied.waitForConnection(10_000));
    const { back } = await connectThroughPage(denied.redirectUrl, { deny: true });
    expect(back.searchParams.get('status')).toBe('failed');
    expect((await waiting).code).toBe('CONNECTION_FAILED');
    expect((await mux.connectionRequests.get(denied.id)).status).toBe('FAILED');
    const failedPage = await fetch(denied.redirectUrl);
    expect(failedPage.status).toBe(410);
    expect(await failedPage.text()).toContain('Link no longer usable');

    const late = await mux.connectedAccounts.link('user_late', authConfigId, { callbackUrl: APP_CALLBACK });
    expire(late.id);
    expect((await mux.connectionRequests.get(late.id)).status).toBe('EXPIRED');
    const expiredPage = await fetch(late.redirectUrl);
    expect(expiredPage.status).toBe(410);
    expect(await expiredPage.text()).toContain('Link expired');
    expect(await (await fetch(`${baseUrl}/connect/${late.id}`, { method: 'POST', body: '' })).status).toBe(
      410,
    );
  });
});

describe('connection fixation: the callback belongs to the browser that went through the page', () => {
  it("a victim who opens the provider URL behind the attacker's Continue is refused; the request stays usable", async () => {
    const configId = await octoConfig();
    const link = await api('POST', '/connected-accounts/link', {
      user_id: 'user_attacker',
      auth_config_id: configId,
      callback_url: APP_CALLBACK,
    });
    const requestId = link.json.id as string;
    const accountId = link.json.connected_account_id as string;
    // the attacker opens their own connect page and takes the provider's URL "Continue" leads to
    const attacker = new CookieJar();
    const { authorizationUrl } = await continueThroughPage(link.json.redirect_url, attacker);
    // the victim opens it in their own browser and signs in at the provider as themselves
    const victimCallback = await oauth.signIn(authorizationUrl, { login: 'victim' });
    for (const accept of ['application/json', 'text/html']) {
      const refused = await fetch(victimCallback, { headers: { accept }, redirect: 'manual' });
      expect(refused.status).toBe(403);
      const body = await refused.text();
      expect(body).toContain('CONNECTION_BROWSER_MISMATCH');
      expect(body).toContain('did not open its connect page');
      if (accept === 'application/json') {
        expect(ErrorSchema.parse(JSON.parse(body)).error.code).toBe('CONNECTION_BROWSER_MISMATCH');
      }
    }
    // a cookie that is not the binding of this request (another request's, or made up) is no better
    const forged = `toolmux_connect_${requestId}=${'A'.repeat(43)}`;
    const withForged = await fetch(victimCallback, { headers: { cookie: forged }, redirect: 'manual' });
    expect(withForged.status).toBe(403);
    // nothing was connected, and the request was not used up
    expect((await mux.connectedAccounts.get(accountId)).status).toBe('INITIATED');
    expect((await mux.connectionRequests.get(requestId)).status).toBe('PENDING');

    // the rightful user (the browser that went through the page) still finishes, as themselves
    const again = await continueThroughPage(link.json.redirect_url, attacker);
    const landed = await fetch(await oauth.signIn(again.authorizationUrl, { login: 'rightful' }), {
      headers: { cookie: attacker.header },
      redirect: 'manual',
    });
    expect(landed.status).toBe(302);
    expect(new URL(landed.headers.get('location')!).searchParams.get('status')).toBe('success');
    expect((await mux.connectedAccounts.get(accountId)).status).toBe('ACTIVE');
    const session = await mux.create('user_attacker', {
      toolkits: ['octo'],
      authConfigs: { octo: configId },
    });
    expect((await session.execute('OCTO_WHOAMI', {})).data).toEqual({ sub: 'rightful' });
  });

  it('"Continue" sent without the page\'s own cookie (a form of another site) is refused, the request unchanged', async () => {
    const link = await api('POST', '/connected-accounts/link', {
      user_id: 'user_continue',
      auth_config_id: await octoConfig(),
    });
    const page = await fetch(link.json.redirect_url);
    expect(page.status).toBe(200);
    const pageCookie = page.headers.getSetCookie();
    expect(pageCookie).toHaveLength(1);
    expect(pageCookie[0]).toMatch(
      new RegExp(
        `^toolmux_page_${link.json.id}=[A-Za-z0-9_-]{43}; Path=/connect/; Max-Age=(\\d+); HttpOnly; SameSite=Strict$`,
      ),
    );
    // the page holds no URL of the provider (nor its OAuth state)
    expect(await page.text()).not.toContain(oauth.issuer);
    const crossSite = await fetch(`${link.json.redirect_url}/continue`, {
      method: 'POST',
      redirect: 'manual',
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get('location')).toBeNull();
    expect(crossSite.headers.getSetCookie()).toEqual([]);
    const html = await crossSite.text();
    expect(html).toContain('CONNECTION_BROWSER_MISMATCH');
    expect(html).not.toContain(oauth.issuer);
    expect((await mux.connectionRequests.get(link.json.id)).status).toBe('PENDING');

    // with it: the binding cookie, for the connect page and the callback, for the request's life
    const jar = new CookieJar();
    jar.take(page);
    const continued = await fetch(`${link.json.redirect_url}/continue`, {
      method: 'POST',
      headers: { cookie: jar.header },
      redirect: 'manual',
    });
    expect(continued.status).toBe(303);
    expect(continued.headers.get('location')!.startsWith(`${oauth.issuer}/auth?`)).toBe(true);
    const [binding] = continued.headers.getSetCookie();
    const maxAge = Number(/Max-Age=(\d+)/.exec(binding!)![1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(600);
    expect(binding).toMatch(
      new RegExp(
        `^toolmux_connect_${link.json.id}=[A-Za-z0-9_-]{43}; Path=/; Max-Age=\\d+; HttpOnly; SameSite=Lax$`,
      ),
    );
  });
});

describe('credentials form on the hosted connect page', () => {
  it('asks for the fields, refuses wrong ones, and redirects to the app with the account, once', async () => {
    const configId = await mailConfig();
    const session = await mux.create('user_form', { toolkits: ['mail'], authConfigs: { mail: configId } });
    const started = await api('POST', `/sessions/${session.sessionId}/authorize`, {
      toolkit: 'mail',
      callback_url: APP_CALLBACK,
    });
    expect(started.status).toBe(201);
    const requestId = started.json.id as string;
    expect(started.json).toMatchObject({
      kind: 'fields',
      connected_account_id: null,
      status: 'PENDING',
      auth_config_id: configId,
      redirect_url: `${baseUrl}/connect/${requestId}`,
    });

    const page = await fetch(started.json.redirect_url);
    const html = await page.text();
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self' http://localhost:3000");
    expect(html).toContain('<strong>user_form</strong>');
    expect(html).toContain('<label for="field-0">API key</label>');
    expect(html).toContain('<input id="field-0" name="apiKey" type="password"');
    // relative to the page, so that a baseUrl with a path keeps it
    const action = /<form method="post" action="([^"]+)"/.exec(html)![1]!;
    expect(new URL(action, started.json.redirect_url).toString()).toBe(`${baseUrl}/connect/${requestId}`);

    const wrong = await submitForm(requestId, { apiKey: '' });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('role="alert"');
    expect((await api('GET', `/connection-requests/${requestId}`)).json.status).toBe('PENDING');

    const submitted = await submitForm(requestId, { apiKey: 'sk_from_form' });
    expect(submitted.status).toBe(303);
    const back = new URL(submitted.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(APP_CALLBACK);
    expect(back.searchParams.get('status')).toBe('success');
    const accountId = back.searchParams.get('connected_account_id')!;
    expect(await mux.connectedAccounts.get(accountId)).toMatchObject({
      status: 'ACTIVE',
      userId: 'user_form',
    });
    const completed = await api('GET', `/connection-requests/${requestId}`);
    expect(completed.json).toMatchObject({ status: 'COMPLETED', connected_account_id: accountId });
    expect(JSON.stringify(completed.json)).not.toContain('sk_from_form');

    // used once: a second submission (a double click, the form sent again) is not used, and the
    // page says the account is connected, with the way back to the app (it said the link failed)
    const again = await submitForm(requestId, { apiKey: 'sk_second' });
    expect(again.status).toBe(200);
    const againPage = await again.text();
    expect(againPage).toContain('Mail is connected');
    expect(againPage).toContain('what was sent again was not used');
    expect(againPage).toContain(`connected_account_id=${accountId}`);
    expect(againPage).not.toContain('sk_');
    const connectedPage = await (await fetch(started.json.redirect_url)).text();
    expect(connectedPage).toContain('Mail is connected');
    expect(connectedPage).not.toContain('sk_from_form');

    const sent = await session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' });
    expect(sent.successful).toBe(true);
    expect(sample.calls.at(-1)!.context.credentials).toEqual({ apiKey: 'sk_from_form' });
  });

  it('reconnects an expired account in place: REST, the hosted form, remote mode, and the pinned session works again', async () => {
    const configId = await mailConfig();
    const created = await api('POST', '/connected-accounts', {
      user_id: 'user_again',
      auth_config_id: configId,
      credentials: { apiKey: 'sk_old' },
      alias: 'work',
    });
    const accountId = created.json.id as string;
    const session = await mux.create('user_again', {
      toolkits: ['mail'],
      connectedAccounts: { mail: accountId },
    });
    // the provider refused the key: the account is EXPIRED
    await mux.connectedAccounts.disable(accountId);
    const database = new DatabaseSync(join(directory, 'toolmux.db'));
    try {
      database
        .prepare(
          "UPDATE toolmux_connected_accounts SET status = 'EXPIRED', status_reason = 'refused' WHERE id = ?",
        )
        .run(accountId);
    } finally {
      database.close();
    }
    expect(await session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' })).toMatchObject({
      successful: false,
      code: 'CONNECTION_EXPIRED',
    });

    const refusedUnknown = await api('POST', '/connected-accounts/ca_unknown/reconnect');
    expect(refusedUnknown.status).toBe(404);
    expect(refusedUnknown.json.error.code).toBe('CONNECTED_ACCOUNT_NOT_FOUND');
    const started = await api('POST', `/connected-accounts/${accountId}/reconnect`, {
      callback_url: APP_CALLBACK,
    });
    expect(started.status).toBe(201);
    const requestId = started.json.id as string;
    expect(started.json).toMatchObject({
      kind: 'fields',
      connected_account_id: accountId,
      reconnect_of: accountId,
      status: 'PENDING',
      redirect_url: `${baseUrl}/connect/${requestId}`,
    });
    // a new connection of the same user and config says it reconnects nothing
    const linked = await api('POST', '/connected-accounts/link', {
      user_id: 'user_again',
      auth_config_id: configId,
      callback_url: APP_CALLBACK,
    });
    expect(linked.json).toMatchObject({ kind: 'fields', reconnect_of: null });
    const submitted = await submitForm(requestId, { apiKey: 'sk_new' });
    expect(submitted.status).toBe(303);
    const back = new URL(submitted.headers.get('location')!);
    expect(back.searchParams.get('status')).toBe('success');
    expect(back.searchParams.get('connected_account_id')).toBe(accountId);
    expect(await mux.connectedAccounts.get(accountId)).toMatchObject({
      status: 'ACTIVE',
      alias: 'work',
      statusReason: null,
    });
    expect(await session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' })).toMatchObject({
      successful: true,
    });
    expect(sample.calls.at(-1)!.context.credentials).toEqual({ apiKey: 'sk_new' });
    expect((await api('GET', `/connection-requests/${requestId}`)).json).toMatchObject({
      status: 'COMPLETED',
      reconnect_of: accountId,
    });

    // remote mode: the same, through the SDK over REST, completed as the connect page does
    const remote = new ToolMux({ baseUrl, apiKey: TEST_API_KEY, logger });
    try {
      const request = await remote.connectedAccounts.reconnect(accountId, { callbackUrl: APP_CALLBACK });
      expect(request).toMatchObject({
        kind: 'fields',
        connectedAccountId: accountId,
        reconnectOf: accountId,
      });
      expect(await remote.connectionRequests.get(request.id)).toMatchObject({ reconnectOf: accountId });
      expect((await remote.connectionRequests.get(linked.json.id)).reconnectOf).toBeNull();
      expect((await submitForm(request.id, { apiKey: 'sk_remote' })).status).toBe(303);
      expect(await request.waitForConnection(10_000)).toEqual({
        id: accountId,
        status: 'ACTIVE',
        toolkit: 'mail',
      });
      await remote.connectedAccounts.disable(accountId);
      await expect(remote.connectedAccounts.reconnect(accountId)).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('enable'),
      });
    } finally {
      await remote.close();
    }
    expect((await mux.connectedAccounts.list({ userIds: ['user_again'] })).items).toHaveLength(1);
  });

  it("a form larger than the body limit gets the form again with what to do, not the API's JSON", async () => {
    const configId = await mailConfig();
    const session = await mux.create('user_form_large', {
      toolkits: ['mail'],
      authConfigs: { mail: configId },
    });
    const started = await api('POST', `/sessions/${session.sessionId}/authorize`, {
      toolkit: 'mail',
      callback_url: APP_CALLBACK,
    });
    const requestId = started.json.id as string;
    const large = await submitForm(requestId, { apiKey: 'k'.repeat(2 * 1024 * 1024) });
    expect(large.status).toBe(413);
    expect(large.headers.get('content-type')).toMatch(/^text\/html/);
    expect(large.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await large.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain('too long');
    expect(html).toContain('<form method="post"');
    expect((await api('GET', `/connection-requests/${requestId}`)).json.status).toBe('PENDING');
  });

  it('answers a form field named "__proto__" as any unknown field, as the SDK does', async () => {
    const configId = await mailConfig();
    const session = await mux.create('user_form_proto', {
      toolkits: ['mail'],
      authConfigs: { mail: configId },
    });
    const outcomes = new Map<string, unknown>();
    for (const name of ['extra', '__proto__']) {
      const started = await api('POST', `/sessions/${session.sessionId}/authorize`, {
        toolkit: 'mail',
        callback_url: APP_CALLBACK,
        alias: `form_${name}`,
      });
      expect(started.status, JSON.stringify(started.json)).toBe(201);
      const form = await fetch(`${baseUrl}/connect/${started.json.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams([
          ['apiKey', 'sk_proto'],
          [name, 'x'],
        ]).toString(),
        redirect: 'manual',
      });
      const request = await api('GET', `/connection-requests/${started.json.id}`);
      const sdk = await rejection(
        mux.connectionRequests.complete(started.json.id, JSON.parse(`{"apiKey":"sk_proto","${name}":"x"}`)),
      ).then((error) => error.code);
      outcomes.set(name, { form: form.status, status: request.json.status, sdk });
    }
    expect(outcomes.get('__proto__')).toEqual(outcomes.get('extra'));
    expect(outcomes.get('extra')).toEqual({ form: 400, status: 'PENDING', sdk: 'CONNECTED_ACCOUNT_INVALID' });
  });

  it('connects a credential toolkit through the hosted form with no auth config made by the developer', async () => {
    const session = await mux.create('user_no_setup', { toolkits: ['mail'] });
    const managed = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['mail'] });
    const [entry] = (managed.data as { results: Array<Record<string, unknown>> }).results;
    expect(entry).toMatchObject({ toolkit: 'mail', connected: false });
    const requestId = entry!.connection_request_id as string;
    expect(entry!.redirect_url).toBe(`${baseUrl}/connect/${requestId}`);
    expect(entry!.message).toContain('enter an API key for Mail');

    const request = (await api('GET', `/connection-requests/${requestId}`)).json;
    const config = (await api('GET', `/auth-configs/${request.auth_config_id}`)).json;
    expect(config).toMatchObject({ toolkit: 'mail', type: 'api_key', created_by: 'toolmux' });
    // REST authorize of another session reuses the same config: one per toolkit
    const other = await mux.create('user_no_setup_2', { toolkits: ['mail'] });
    const started = await api('POST', `/sessions/${other.sessionId}/authorize`, { toolkit: 'mail' });
    expect(started.json.auth_config_id).toBe(config.id);

    const submitted = await submitForm(requestId, { apiKey: 'sk_no_setup' });
    expect(submitted.status).toBe(303);
    const sent = await session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' });
    expect(sent.successful).toBe(true);
    expect(sample.calls.at(-1)!.context.credentials).toEqual({ apiKey: 'sk_no_setup' });
    expect((await session.toolkits()).items[0]!.connection).toMatchObject({
      isActive: true,
      authConfig: { id: config.id, type: 'api_key', managed: true },
    });
  });

  it("resolves the embedded request's waitForConnection when the form is sent", async () => {
    const request = await mux.connectedAccounts.link('user_wait_form', await mailConfig(), {
      callbackUrl: APP_CALLBACK,
    });
    expect(request).toMatchObject({ kind: 'fields', connectedAccountId: null, toolkit: 'mail' });
    expect(request.redirectUrl).toBe(`${baseUrl}/connect/${request.id}`);
    const waiting = request.waitForConnection(10_000);
    const submitted = await submitForm(request.id, { apiKey: 'sk_waited_for' });
    const accountId = new URL(submitted.headers.get('location')!).searchParams.get('connected_account_id');
    expect(await waiting).toEqual({ id: accountId, status: 'ACTIVE', toolkit: 'mail' });
  });

  it('refuses unknown and expired links', async () => {
    for (const path of ['/connect/cr_x', `/connect/cr_${'0'.repeat(38)}`, '/connect/not-an-id']) {
      const response = await fetch(`${baseUrl}${path}`);
      expect(response.status).toBe(404);
      expect(await response.text()).toContain('Link not valid');
    }
    expect((await submitForm(`cr_${'0'.repeat(38)}`, { apiKey: 'x' })).status).toBe(404);
    const request = await mux.connectedAccounts.link('user_expired_form', await mailConfig(), {
      callbackUrl: APP_CALLBACK,
    });
    expire(request.id);
    expect((await fetch(request.redirectUrl)).status).toBe(410);
    const late = await submitForm(request.id, { apiKey: 'sk_too_late' });
    expect(late.status).toBe(410);
    expect(await late.text()).toContain('Link expired');
    expect((await api('GET', `/connection-requests/${request.id}`)).json.status).toBe('EXPIRED');
    expect((await mux.connectedAccounts.list({ userIds: ['user_expired_form'] })).items).toEqual([]);
  });

  it('escapes what it shows', async () => {
    const request = await mux.connectedAccounts.link('<script>alert(1)</script>', await mailConfig(), {
      callbackUrl: APP_CALLBACK,
    });
    const html = await (await fetch(request.redirectUrl)).text();
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;');
  });
});

/** The callback's answer to `search`, as JSON or as a page (`accept`). */
async function callback(search: string, accept: string) {
  const response = await fetch(`${baseUrl}/auth/callback?${search}`, {
    headers: { accept, cookie: browser.header },
    redirect: 'manual',
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Pieces of a query value: text, raw bytes, NUL, ill-formed UTF-8, markup, separators. */
const piece = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }).map(encodeURIComponent),
  fc.constantFrom('%00', '%ED%A0%80', '%FF', '%C0%80', '%', '%zz', '<script>', '"\'>', '&', '=', '+'),
);
const value = fc.array(piece, { maxLength: 5 }).map((pieces) => pieces.join(''));
const query = fc
  .array(fc.tuple(fc.constantFrom('state', 'code', 'error', 'error_description', 'iss', 'other'), value), {
    maxLength: 6,
  })
  // kept as given, bytes a URL path cannot hold percent-encoded
  .map((pairs) => pairs.map(([name, text]) => `${name}=${encodeURI(text).replaceAll('%25', '%')}`).join('&'));

/**
 * The OAuth callback over real HTTP, which the server fuzz does not reach: any query answers 400 with
 * a stable code (an escaped page with the security headers, or JSON), and a callback whose state is a
 * real request's is used once, whatever else it carries.
 */
describe('GET /auth/callback, fuzzed', () => {
  it('answers any query that names no request 400 with a stable code, escaped, with the security headers', async () => {
    await fc.assert(
      fc.asyncProperty(query, fc.boolean(), async (search, json) => {
        const answer = await callback(search, json ? 'application/json' : 'text/html');
        expect(answer.status).toBe(400);
        expect(answer.headers.get('cache-control')).toBe('no-store');
        if (json) {
          expect(JSON.parse(answer.body).error.code).toMatch(/^CONNECTION_REQUEST_(INVALID|EXPIRED)$/);
          return;
        }
        expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'");
        expect(answer.headers.get('x-frame-options')).toBe('DENY');
        expect(answer.body).not.toContain('<script>');
        expect(answer.body).toMatch(/<code>CONNECTION_REQUEST_(INVALID|EXPIRED)<\/code>/);
      }),
      { numRuns: 200 },
    );
  });

  it('a callback whose auth config or account was deleted meanwhile is 400, naming why, and connects nothing', async () => {
    for (const deleted of ['config', 'account'] as const) {
      const configId = await octoConfig();
      const request = await mux.connectedAccounts.link(`user_deleted_${deleted}`, configId);
      const landing = new URL(await oauth.signIn(await continueLink(request.redirectUrl))).searchParams;
      if (deleted === 'config') await mux.authConfigs.delete(configId);
      else await mux.connectedAccounts.delete(request.connectedAccountId!);
      const landed = await callback(String(landing), 'application/json');
      expect(landed.status).toBe(400);
      expect(JSON.parse(landed.body).error).toMatchObject({
        code: 'CONNECTION_REQUEST_INVALID',
        message: expect.stringContaining('its account or auth config was deleted since it started'),
      });
      expect((await mux.connectedAccounts.list({ userIds: [`user_deleted_${deleted}`] })).items).toEqual([]);
    }
  });

  it.each([
    ['the state twice', (landing: URLSearchParams) => `${landing}&state=${landing.get('state')}`],
    ['the code twice', (landing: URLSearchParams) => `${landing}&code=another`],
    ['an error besides the code', (landing: URLSearchParams) => `${landing}&error=access_denied`],
  ])('a real callback with %s fails its connection, and only once', async (_, altered) => {
    const request = await mux.connectedAccounts.link(
      `user_${randomBytes(4).toString('hex')}`,
      await octoConfig(),
    );
    const landing = new URL(await oauth.signIn(await continueLink(request.redirectUrl))).searchParams;
    const landed = await callback(altered(landing), 'text/html');
    expect(landed.status).toBe(302);
    expect(new URL(landed.headers.get('location')!).searchParams.get('status')).toBe('failed');
    expect(await mux.connectedAccounts.get(request.connectedAccountId!)).toMatchObject({
      status: 'FAILED',
      expiresAt: null,
    });
    // the untouched callback comes too late: the request was used
    const again = await callback(String(landing), 'application/json');
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body).error.code).toBe('CONNECTION_REQUEST_INVALID');
  });
});

describe('connection requests over REST', () => {
  it('reads one with the API key only; an unknown id is 404 CONNECTION_REQUEST_NOT_FOUND naming it', async () => {
    const request = await mux.connectedAccounts.link('user_rest', await mailConfig());
    expect((await api('GET', `/connection-requests/${request.id}`, undefined, null)).status).toBe(401);
    const missing = await api('GET', '/connection-requests/cr_missing');
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('CONNECTION_REQUEST_NOT_FOUND');
    expect(missing.json.error.message).toContain('cr_missing');
  });

  it('completes a credentials request once; an OAuth request cannot be completed with fields', async () => {
    const request = await mux.connectedAccounts.link('user_complete', await mailConfig());
    const wrong = await api('POST', `/connection-requests/${request.id}/complete`, {
      credentials: { password: 'x' },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.code).toBe('CONNECTED_ACCOUNT_INVALID');
    const completed = await api('POST', `/connection-requests/${request.id}/complete`, {
      credentials: { apiKey: 'sk_over_rest_123' },
    });
    expect(completed.status).toBe(200);
    expect(completed.json).toMatchObject({ user_id: 'user_complete', toolkit: 'mail', status: 'ACTIVE' });
    expect(JSON.stringify(completed.json)).not.toContain('sk_over_rest_123');
    const twice = await api('POST', `/connection-requests/${request.id}/complete`, {
      credentials: { apiKey: 'sk_over_rest_456' },
    });
    expect(twice.status).toBe(400);
    expect(twice.json.error.code).toBe('CONNECTION_REQUEST_INVALID');
    expect(twice.json.error.message).toContain(completed.json.id);
    expect(JSON.stringify(twice.json)).not.toContain('sk_over_rest_456');

    const oauthRequest = await mux.connectedAccounts.link('user_complete', await octoConfig());
    const refused = await api('POST', `/connection-requests/${oauthRequest.id}/complete`, {
      credentials: { apiKey: 'x' },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('INVALID_REQUEST');
  });
});

describe('remote mode', () => {
  let remote: ToolMux;
  beforeAll(() => {
    remote = new ToolMux({ baseUrl, apiKey: TEST_API_KEY, logger });
  });
  afterAll(() => remote.close());

  it('waits for an OAuth connection by polling the request on the server', async () => {
    const authConfigId = await octoConfig();
    const session = await remote.create('user_remote', {
      toolkits: ['octo'],
      authConfigs: { octo: authConfigId },
    });
    const request = await session.authorize('octo', { callbackUrl: APP_CALLBACK });
    expect(request.redirectUrl).toBe(`${baseUrl}/connect/${request.id}`);
    const waiting = request.waitForConnection(10_000);
    await connectThroughPage(request.redirectUrl);
    expect(await waiting).toEqual({ id: request.connectedAccountId, status: 'ACTIVE', toolkit: 'octo' });
    expect(await remote.connectionRequests.get(request.id)).toMatchObject({
      id: request.id,
      kind: 'oauth2',
      userId: 'user_remote',
      status: 'COMPLETED',
      connectedAccountId: request.connectedAccountId,
      callbackUrl: APP_CALLBACK,
    });
  });

  it('a failed OAuth connection rejects the wait with the reason, as embedded', async () => {
    const authConfigId = await octoConfig();
    const denied = await remote.connectedAccounts.link('user_remote_denied', authConfigId, {
      callbackUrl: APP_CALLBACK,
    });
    const waiting = rejection(denied.waitForConnection(10_000));
    await connectThroughPage(denied.redirectUrl, { deny: true });
    const failed = await waiting;
    expect(failed.code).toBe('CONNECTION_FAILED');
    // the account's status reason, which the server has
    const { statusReason } = await mux.connectedAccounts.get(denied.connectedAccountId!);
    expect(statusReason).toMatch(/access_denied/);
    expect(failed.message).toContain(`(${statusReason})`);
  });

  it('authConfigs.update() gives the config a rotated secret over REST, and the account refreshes with it', async () => {
    const authConfigId = await octoConfig();
    const session = await remote.create('user_remote_rotate', {
      toolkits: ['octo'],
      authConfigs: { octo: authConfigId },
    });
    const request = await session.authorize('octo', { callbackUrl: APP_CALLBACK });
    await connectThroughPage(request.redirectUrl);
    const accountId = (await request.waitForConnection(10_000)).id;
    const rotated = await oauth.rotateClientSecret();
    seenSecrets.push(rotated);
    try {
      const refused = await rejection(remote.connectedAccounts.refresh(accountId));
      expect(refused.code).toBe('AUTH_CONFIG_INVALID');
      const updated = await remote.authConfigs.update(authConfigId, { clientSecret: rotated });
      expect(updated).toMatchObject({ id: authConfigId, hasClientSecret: true, clientId: oauth.clientId });
      expect(updated.updatedAt).toBeInstanceOf(Date);
      expect(JSON.stringify(updated)).not.toContain(rotated);
      expect(await remote.connectedAccounts.refresh(accountId)).toMatchObject({
        id: accountId,
        status: 'ACTIVE',
      });
      expect((await session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
      const refusedType = await rejection(remote.authConfigs.update(await mailConfig(), { clientId: 'x' }));
      expect(refusedType.code).toBe('AUTH_CONFIG_INVALID');
    } finally {
      await oauth.rotateClientSecret(oauth.clientSecret);
    }
  });

  it('authConfigs.create() answers what embedded answers: an empty secret is refused, not dropped', async () => {
    const cases: Array<[string, string, unknown]> = [
      // the remote client left out an empty secret and made a public (PKCE-only) client of it
      ['an empty client secret', 'octo', { type: 'oauth2', clientId: 'c', clientSecret: '' }],
      ['an empty client id', 'octo', { type: 'oauth2', clientId: '' }],
      ['a type no config has', 'octo', { type: 'magic' }],
      // a TypeError of the remote client
      ['no options', 'octo', null],
      ['no type, unknown toolkit', 'nope', {}],
    ];
    for (const [what, toolkit, options] of cases) {
      const embedded = await rejection(mux.authConfigs.create(toolkit, options as never));
      const remoteError = await rejection(remote.authConfigs.create(toolkit, options as never));
      expect({ code: remoteError.code, message: remoteError.message }, what).toEqual({
        code: embedded.code,
        message: embedded.message,
      });
    }
    // an empty name is kept as embedded keeps it
    const named = { type: 'oauth2', clientId: 'c', name: '' } as const;
    const strip = ({ id: _id, createdAt: _c, updatedAt: _u, ...rest }: Record<string, unknown>) => rest;
    expect(strip({ ...(await remote.authConfigs.create('octo', named)) })).toEqual(
      strip({ ...(await mux.authConfigs.create('octo', named)) }),
    );
  });

  it('authConfigs.update() refuses what embedded refuses, and applies none of it', async () => {
    const authConfigId = await octoConfig();
    const before = await remote.authConfigs.get(authConfigId);
    const cases: Array<[string, Record<string, unknown>]> = [
      // a field no auth config has was left out of the request: the secret beside it was applied
      ['a field no config has', { type: 'bearer', clientSecret: 'applied-though-refused' }],
      ['a field named by outside text', { [`x\u0000${'y'.repeat(10_000)}`]: 1, name: 'n' }],
      ['a client secret no token request can carry', { clientSecret: 'never-applied\ud800' }],
      ['more scopes than a config holds', { scopes: Array.from({ length: 1001 }, (_, i) => `s${i}`) }],
    ];
    for (const [what, changes] of cases) {
      const embedded = await rejection(mux.authConfigs.update(authConfigId, changes as never));
      const remoteError = await rejection(remote.authConfigs.update(authConfigId, changes as never));
      expect({ code: remoteError.code, message: remoteError.message }, what).toEqual({
        code: embedded.code,
        message: embedded.message,
      });
      expect(embedded.code, what).toBe('AUTH_CONFIG_INVALID');
      expect(embedded.message.length, what).toBeLessThan(400);
    }
    expect(await remote.authConfigs.get(authConfigId)).toEqual(before);
  });

  it('waits for a credentials form, completes one itself, and names an unknown request', async () => {
    const configId = await mailConfig();
    const request = await remote.connectedAccounts.link('user_remote_form', configId, {
      callbackUrl: APP_CALLBACK,
    });
    expect(request).toMatchObject({ kind: 'fields', connectedAccountId: null });
    const waiting = request.waitForConnection(10_000);
    const submitted = await submitForm(request.id, { apiKey: 'sk_remote_form' });
    const accountId = new URL(submitted.headers.get('location')!).searchParams.get('connected_account_id');
    expect(await waiting).toEqual({ id: accountId, status: 'ACTIVE', toolkit: 'mail' });

    const own = await remote.connectedAccounts.link('user_remote_form', configId);
    const account = await remote.connectionRequests.complete(own.id, { apiKey: 'sk_own_form' });
    expect(account).toMatchObject({ userId: 'user_remote_form', status: 'ACTIVE', toolkit: 'mail' });
    expect((await remote.connectionRequests.get(own.id)).status).toBe('COMPLETED');
    expect((await rejection(remote.connectionRequests.get('cr_unknown'))).code).toBe(
      'CONNECTION_REQUEST_NOT_FOUND',
    );

    const late = await remote.connectedAccounts.link('user_remote_form', configId);
    expire(late.id);
    expect((await rejection(late.waitForConnection(5_000))).code).toBe('CONNECTION_REQUEST_EXPIRED');
  });
});

describe('secrets', () => {
  it('never reach the log', () => {
    const logged = [...logger.errors, ...logger.warnings].join('\n');
    expect(seenSecrets).toHaveLength(3);
    for (const secret of [
      ...seenSecrets,
      oauth.clientSecret,
      'sk_from_form',
      'sk_over_rest',
      'sk_remote_form',
      'sk_own_form',
    ]) {
      expect(logged).not.toContain(secret);
    }
  });
});

describe('connect links replaced by newer ones (at most 10 open per user and auth config)', () => {
  it('a replaced form link shows the "replaced by a newer link" page, and its form, submitted, is refused and stores nothing', async () => {
    const configId = await mailConfig();
    const requests = [];
    for (let index = 0; index < 11; index++) {
      requests.push(
        await mux.connectedAccounts.link('user_replaced', configId, { callbackUrl: APP_CALLBACK }),
      );
    }
    const [replaced, oldestOpen] = [requests[0]!, requests[1]!];
    expect(await mux.connectionRequests.get(replaced.id)).toMatchObject({
      status: 'EXPIRED',
      replacedByNewerRequests: true,
    });
    const shown = await fetch(replaced.redirectUrl);
    expect(shown.status).toBe(410);
    const html = await shown.text();
    expect(html).toContain('Link replaced by a newer link');
    expect(html).not.toContain('<form');

    const submitted = await submitForm(replaced.id, { apiKey: 'sk_to_a_replaced_link' });
    expect(submitted.status).toBe(410);
    expect(await submitted.text()).toContain('Link replaced by a newer link');
    expect((await api('GET', `/connection-requests/${replaced.id}`)).json).toMatchObject({
      status: 'EXPIRED',
      replaced_by_newer_requests: true,
    });
    expect((await api('GET', `/connection-requests/${oldestOpen.id}`)).json).toMatchObject({
      status: 'PENDING',
      replaced_by_newer_requests: false,
    });
    // a remote ToolMux reads it from there
    const remote = new ToolMux({ baseUrl, apiKey: TEST_API_KEY, logger });
    try {
      expect(await remote.connectionRequests.get(replaced.id)).toMatchObject({
        status: 'EXPIRED',
        replacedByNewerRequests: true,
      });
    } finally {
      await remote.close();
    }
    expect((await mux.connectedAccounts.list({ userIds: ['user_replaced'] })).items).toEqual([]);
    // through the API, the same refusal: the expired code, saying why
    const refused = await rejection(
      mux.connectionRequests.complete(replaced.id, { apiKey: 'sk_to_a_replaced_link' }),
    );
    expect(refused.code).toBe('CONNECTION_REQUEST_EXPIRED');
    expect(refused.message).toContain('replaced it');

    // the oldest one still open takes the form
    const taken = await submitForm(oldestOpen.id, { apiKey: 'sk_open' });
    expect(taken.status).toBe(303);
    expect((await mux.connectedAccounts.list({ userIds: ['user_replaced'] })).items).toHaveLength(1);
  });

  it('a replaced OAuth link shows the "replaced by a newer link" page too; one expired by time, the generic one', async () => {
    const authConfigId = await octoConfig();
    const requests = [];
    for (let index = 0; index < 11; index++) {
      requests.push(
        await mux.connectedAccounts.link('user_replaced_oauth', authConfigId, { callbackUrl: APP_CALLBACK }),
      );
    }
    const shown = await fetch(requests[0]!.redirectUrl);
    expect(shown.status).toBe(410);
    expect(await shown.text()).toContain('Link replaced by a newer link');
    expire(requests[1]!.id);
    const timedOut = await fetch(requests[1]!.redirectUrl);
    expect(timedOut.status).toBe(410);
    expect(await timedOut.text()).toContain('Link expired');
  });
});
