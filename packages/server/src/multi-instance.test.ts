import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ToolMux } from '@toolmux/core';
import {
  createSampleToolkits,
  createTestPostgresUrl,
  postgresSkipReason,
  untilTestTimeout,
} from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, recordingLogger, spawnServe } from './test-helpers.js';
import { continueThroughPage, freePort, startTestOAuthServer, type TestOAuthServer } from './test-oauth.js';

/**
 * Two server processes on one PostgreSQL schema behave as one: what one stores, the other serves.
 * They share the API key and the secret key (as replicas behind a load balancer do) and one public
 * base URL; the test plays the load balancer by sending each request to the instance it picks.
 */
const FIXTURE = fileURLToPath(new URL('./cli/fixture-octo.mjs', import.meta.url));
const API_KEY = `tmx_ak_${randomBytes(24).toString('base64url')}`;
const SECRET_KEY = randomBytes(32).toString('base64');
const APP_CALLBACK = 'http://localhost:3000/connected';

const skipPostgres = await postgresSkipReason();

interface Instance {
  url: string;
  child: ChildProcess;
}

function startInstance(store: string, publicUrl: string, issuer: string): Promise<Instance> {
  return spawnServe(['--store', store, '--base-url', publicUrl, '--toolkits', FIXTURE], {
    TOOLMUX_API_KEY: API_KEY,
    TOOLMUX_SECRET_KEY: SECRET_KEY,
    TOOLMUX_TEST_OAUTH_ISSUER: issuer,
  });
}

async function stop(instance: Instance | undefined): Promise<void> {
  if (!instance || instance.child.exitCode !== null) return;
  instance.child.kill('SIGTERM');
  await new Promise((resolve) => instance.child.once('exit', resolve));
}

/** The same request, sent to the instance the "load balancer" picked. */
function on(instance: Instance, url: string): string {
  const parsed = new URL(url);
  return `${instance.url}${parsed.pathname}${parsed.search}`;
}

describe.skipIf(skipPostgres !== undefined)(`two instances on one PostgreSQL ${skipPostgres ?? ''}`, () => {
  let database: { url: string; cleanup(): Promise<void> };
  let oauth: TestOAuthServer;
  let publicUrl: string;
  let first: Instance | undefined;
  let second: Instance | undefined;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "pnpm build" in packages/server first.`);
    database = await createTestPostgresUrl();
    publicUrl = `http://127.0.0.1:${await freePort()}`;
    oauth = await startTestOAuthServer({ redirectUris: [`${publicUrl}/auth/callback`] });
    [first, second] = await Promise.all([
      startInstance(database.url, publicUrl, oauth.issuer),
      startInstance(database.url, publicUrl, oauth.issuer),
    ]);
  });

  afterAll(async () => {
    await Promise.all([stop(first), stop(second)]);
    await oauth?.close();
    await database?.cleanup();
  });

  async function api(instance: Instance, method: string, path: string, body?: unknown) {
    const response = await fetch(`${instance.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${API_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: await response.json() };
  }

  it('serves over MCP, on one instance, a session created through the other', async () => {
    const created = await api(first!, 'POST', '/sessions', {
      user_id: 'user_shared',
      config: { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' },
    });
    expect(created.status).toBe(201);
    const session = created.json;
    expect(session.mcp.url).toBe(`${publicUrl}/mcp/${session.session_id}`);

    const client = new Client({ name: 'multi-instance', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(on(second!, session.mcp.url)), {
        requestInit: { headers: session.mcp.headers },
      }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain('TASKS_CREATE_TASK');
    const result = (await client.callTool({
      name: 'TASKS_CREATE_TASK',
      arguments: { title: 'from the second instance' },
    })) as CallToolResult;
    expect(result.structuredContent).toMatchObject({ title: 'from the second instance' });
    await client.close();

    // The first instance sees the call in the shared execution log.
    await expect
      .poll(
        async () => (await api(first!, 'GET', `/sessions/${session.session_id}/logs`)).json.items[0],
        untilTestTimeout(),
      )
      .toMatchObject({ tool_slug: 'TASKS_CREATE_TASK', status: 'success' });
    // And the other session's token is refused by both.
    const other = (await api(second!, 'POST', '/sessions', { user_id: 'user_other' })).json;
    for (const instance of [first!, second!]) {
      const refused = await fetch(on(instance, session.mcp.url), {
        method: 'POST',
        headers: { ...other.mcp.headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(refused.status).toBe(401);
    }
  });

  it('rotates a session’s MCP token on one instance: the new token works on both at once, the old one stops at once on both', async () => {
    const session = (
      await api(first!, 'POST', '/sessions', {
        user_id: 'user_rotate',
        config: { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' },
      })
    ).json;
    const list = (instance: Instance, headers: Record<string, string>) =>
      fetch(on(instance, session.mcp.url), {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      }).then((response) => response.status);
    // Both instances have the session cached (the TTL is 2 s) with its first token.
    for (const instance of [first!, second!]) expect(await list(instance, session.mcp.headers)).toBe(200);

    const rotated = await api(second!, 'POST', `/sessions/${session.session_id}/mcp-token/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.json.url).toBe(session.mcp.url);
    expect(rotated.json.headers.Authorization).not.toBe(session.mcp.headers.Authorization);
    // The rotating instance forgets its cached entry: the old token is refused there at once.
    expect(await list(second!, session.mcp.headers)).toBe(401);
    expect(await list(second!, rotated.json.headers)).toBe(200);
    // The other one has the old token cached (TTL 2 s), yet checks it against the store's token
    // hash on every request: the old token is refused there at once, the new one works at once.
    expect(await list(first!, session.mcp.headers)).toBe(401);
    expect(await list(first!, rotated.json.headers)).toBe(200);
    expect(await list(first!, session.mcp.headers)).toBe(401);
    // A token that matches neither is refused and leaves the session usable.
    expect(await list(first!, { authorization: 'Bearer tmx_st_wrong' })).toBe(401);
    expect(await list(first!, rotated.json.headers)).toBe(200);
    expect((await api(first!, 'GET', `/sessions/${session.session_id}`)).json.mcp).toEqual(rotated.json);
    expect((await api(first!, 'POST', '/sessions/ses_nope/mcp-token/rotate')).status).toBe(404);
  });

  it('deletes a session on one instance: its token is refused at once by the other, which had it cached; its log stays readable', async () => {
    const session = (
      await api(first!, 'POST', '/sessions', {
        user_id: 'user_delete',
        config: { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' },
      })
    ).json;
    const call = (instance: Instance) =>
      fetch(on(instance, session.mcp.url), {
        method: 'POST',
        headers: { ...session.mcp.headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'TASKS_CREATE_TASK', arguments: { title: 'before the delete' } },
        }),
      });
    // Both instances serve (and cache, for the 2 s TTL) the session.
    for (const instance of [first!, second!]) expect((await call(instance)).status).toBe(200);
    expect(
      (await api(second!, 'GET', `/sessions/${session.session_id}/tools`)).json.items.length,
    ).toBeGreaterThan(0);

    const deleted = await api(first!, 'DELETE', `/sessions/${session.session_id}`);
    expect(deleted).toEqual({ status: 200, json: { id: session.session_id, deleted: true } });

    // The very next request to the other instance is refused, over MCP and REST alike.
    const refused = await call(second!);
    expect(refused.status).toBe(404);
    expect((await refused.json()).error.data.code).toBe('SESSION_NOT_FOUND');
    expect((await call(first!)).status).toBe(404);
    for (const instance of [first!, second!]) {
      expect((await api(instance, 'GET', `/sessions/${session.session_id}/tools`)).status).toBe(404);
      expect((await api(instance, 'GET', `/sessions/${session.session_id}`)).json.error.code).toBe(
        'SESSION_NOT_FOUND',
      );
      // The project still reads the session's log.
      await expect
        .poll(
          async () => (await api(instance, 'GET', `/logs?session_id=${session.session_id}`)).json.items,
          untilTestTimeout(),
        )
        .toEqual([
          expect.objectContaining({ tool_slug: 'TASKS_CREATE_TASK', status: 'success' }),
          expect.objectContaining({ tool_slug: 'TASKS_CREATE_TASK', status: 'success' }),
        ]);
    }
    expect((await api(second!, 'DELETE', `/sessions/${session.session_id}`)).json.error.code).toBe(
      'SESSION_NOT_FOUND',
    );
  });

  it('completes an OAuth connection started on one instance when the callback lands on the other', async () => {
    const config = await api(first!, 'POST', '/auth-configs', {
      toolkit: 'octo',
      type: 'oauth2',
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
    });
    const session = await api(first!, 'POST', '/sessions', {
      user_id: 'user_oauth_shared',
      config: { toolkits: ['octo'], authConfigs: { octo: config.json.id } },
    });
    const started = await api(first!, 'POST', `/sessions/${session.json.session_id}/authorize`, {
      toolkit: 'octo',
      callback_url: APP_CALLBACK,
    });
    expect(started.status).toBe(201);
    // The hosted page works on either instance (it reads the request from the shared store).
    // "Continue" on the second instance, the callback on the first: the binding cookie is checked by
    // the secret key they share, nothing of one process's memory
    const { authorizationUrl, jar } = await continueThroughPage(on(second!, started.json.redirect_url));
    const callback = await oauth.signIn(authorizationUrl);
    const landed = await fetch(on(first!, callback), { headers: { cookie: jar.header }, redirect: 'manual' });
    expect(landed.status).toBe(302);
    expect(new URL(landed.headers.get('location')!).searchParams.get('status')).toBe('success');
    const account = await api(first!, 'GET', `/connected-accounts/${started.json.connected_account_id}`);
    expect(account.json.status).toBe('ACTIVE');
  });

  it("resolves an application's waitForConnection when the callback lands on a server instance", async () => {
    // The application: its own ToolMux on the same database, pointing users at the servers.
    const app = new ToolMux({
      toolkits: [...createSampleToolkits().toolkits, oauth.toolkit],
      store: database.url,
      secretKey: SECRET_KEY,
      baseUrl: publicUrl,
      logger: recordingLogger(),
    });
    try {
      const config = await app.authConfigs.create('octo', {
        type: 'oauth2',
        clientId: oauth.clientId,
        clientSecret: oauth.clientSecret,
      });
      const session = await app.create('user_wait', { toolkits: ['octo'], authConfigs: { octo: config.id } });
      const request = await session.authorize('octo', { callbackUrl: APP_CALLBACK });
      const waiting = request.waitForConnection(15_000);
      const callback = await oauth.signIn(request.redirectUrl);
      const started = Date.now();
      const landed = await fetch(on(first!, callback), { redirect: 'manual' });
      expect(landed.status).toBe(302);
      await expect(waiting).resolves.toEqual({
        id: request.connectedAccountId,
        status: 'ACTIVE',
        toolkit: 'octo',
      });
      // Polling the store (at most every second) is what carries the news across processes.
      expect(Date.now() - started).toBeLessThan(3_000);

      // The account connected through the first server runs the session's tool on the second.
      const client = new Client({ name: 'multi-instance-oauth', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(on(second!, session.mcp.url)), {
          requestInit: { headers: session.mcp.headers },
        }),
      );
      const result = (await client.callTool({
        name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
        arguments: { tools: [{ tool_slug: 'OCTO_WHOAMI', arguments: {} }] },
      })) as CallToolResult;
      const [content] = result.content;
      expect(JSON.parse(content?.type === 'text' ? content.text : '{}')).toMatchObject({
        results: [{ successful: true, data: { sub: 'user-1' } }],
      });
      await client.close();
    } finally {
      await app.close();
    }
  });
});
