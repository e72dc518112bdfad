import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MetaToolSlug } from '@toolmux/core';
import { createSampleToolkits, createTestPostgresUrl, postgresSkipReason } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing/index.js';

/**
 * TOOLMUX_WAIT_FOR_CONNECTIONS across server instances: two `toolmux` servers share one PostgreSQL
 * schema (and secret key, as replicas do); the user completes the hosted connect form on one, and a
 * wait held by the other (REST, remote mode, MCP) returns CONNECTED.
 */
const WAIT = MetaToolSlug.WAIT_FOR_CONNECTIONS;
const skipPostgres = await postgresSkipReason();

type WaitJson = {
  toolkits: Record<string, { status: string; connected_account_id?: string; message: string }>;
  timed_out: boolean;
  next_steps: string;
};

describe.skipIf(skipPostgres !== undefined)(
  `waits across two servers on one PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    let database: { url: string; cleanup(): Promise<void> };
    let first: TestServer;
    let second: TestServer;
    const previousKey = process.env.TOOLMUX_SECRET_KEY;

    beforeAll(async () => {
      process.env.TOOLMUX_SECRET_KEY = randomBytes(32).toString('base64');
      database = await createTestPostgresUrl();
      const { toolkits } = createSampleToolkits();
      first = await startTestServer({ toolkits, store: database.url });
      second = await startTestServer({ toolkits, store: database.url });
    });

    afterAll(async () => {
      await Promise.all([first?.close(), second?.close()]);
      await database?.cleanup();
      if (previousKey === undefined) delete process.env.TOOLMUX_SECRET_KEY;
      else process.env.TOOLMUX_SECRET_KEY = previousKey;
    });

    async function api(server: TestServer, method: string, path: string, body?: unknown) {
      const response = await fetch(`${server.url}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${server.apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, json: await response.json() };
    }

    /** A session whose user has a PENDING hosted form link for `mail`, made through `server`. */
    async function pendingSession(server: TestServer, userId: string) {
      const created = await api(server, 'POST', '/sessions', {
        user_id: userId,
        config: { toolkits: ['mail'], manageConnections: { waitForConnections: true } },
      });
      expect(created.status).toBe(201);
      const sessionId = created.json.session_id as string;
      const managed = await api(server, 'POST', `/sessions/${sessionId}/execute`, {
        tool_slug: MetaToolSlug.MANAGE_CONNECTIONS,
        arguments: { toolkits: ['mail'] },
      });
      const entry = managed.json.data.results[0];
      expect(entry.redirect_url).toBe(`${server.url}/connect/${entry.connection_request_id}`);
      return { sessionId, mcp: created.json.mcp, requestId: entry.connection_request_id as string };
    }

    /** The user fills in the hosted form, on `server`. */
    async function submitForm(server: TestServer, requestId: string): Promise<string> {
      const response = await fetch(`${server.url}/connect/${requestId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ apiKey: 'sk_from_form' }).toString(),
        redirect: 'manual',
      });
      expect(response.status).toBe(303);
      return new URL(response.headers.get('location')!).searchParams.get('connected_account_id')!;
    }

    /** Resolves `promise` and whether it had settled after 300 ms (it must not have: it is waiting). */
    async function stillWaiting(promise: Promise<unknown>): Promise<boolean> {
      let settled = false;
      void promise.finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      return !settled;
    }

    it('REST: a wait on one server returns CONNECTED when the form is completed on the other', async () => {
      const { sessionId, requestId } = await pendingSession(first, 'user_rest');
      const wait = api(second, 'POST', `/sessions/${sessionId}/wait-for-connections`, {
        toolkits: ['mail'],
        timeout_seconds: 60,
      });
      expect(await stillWaiting(wait)).toBe(true);
      const accountId = await submitForm(first, requestId);
      const { status, json } = await wait;
      expect(status).toBe(200);
      expect(json as WaitJson).toMatchObject({
        timed_out: false,
        toolkits: { mail: { status: 'CONNECTED', connected_account_id: accountId } },
      });
    });

    it('REST: the timeout path, and a bad timeout refused with 400', async () => {
      const { sessionId, requestId } = await pendingSession(first, 'user_rest_timeout');
      const timedOut = await api(second, 'POST', `/sessions/${sessionId}/wait-for-connections`, {
        toolkits: ['mail'],
        timeout_seconds: 0.3,
      });
      expect(timedOut.json).toMatchObject({
        timed_out: true,
        toolkits: { mail: { status: 'PENDING', connection_request_id: requestId } },
      });
      const bad = await api(second, 'POST', `/sessions/${sessionId}/wait-for-connections`, {
        toolkits: ['mail'],
        timeout_seconds: 121,
      });
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe('INVALID_REQUEST');
      expect(bad.json.error.message).toContain('body.timeout_seconds');
      const unknown = await api(second, 'POST', `/sessions/${sessionId}/wait-for-connections`, {
        toolkits: ['gitlab'],
      });
      expect(unknown.status).toBe(404);
      expect(unknown.json.error.code).toBe('TOOLKIT_NOT_FOUND');
      const document = await api(second, 'GET', '/openapi.json');
      expect(document.json.paths['/api/v1/sessions/{sessionId}/wait-for-connections'].post.operationId).toBe(
        'waitForConnections',
      );
    });

    it('remote mode: session.waitForConnections and the meta-tool on one server see the other', async () => {
      const { sessionId, requestId } = await pendingSession(first, 'user_remote');
      const remote = second.remote();
      const session = await remote.use(sessionId);
      expect((await session.waitForConnections(['mail'], { timeoutMs: 200 })).timedOut).toBe(true);
      await expect(session.waitForConnections(['mail'], { timeoutMs: 121_000 })).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
      });
      const wait = session.waitForConnections(['mail'], { timeoutMs: 60_000 });
      expect(await stillWaiting(wait)).toBe(true);
      const accountId = await submitForm(first, requestId);
      expect(await wait).toEqual({
        timedOut: false,
        toolkits: {
          mail: expect.objectContaining({
            status: 'CONNECTED',
            account: { id: accountId, status: 'ACTIVE' },
            connectionRequestId: requestId,
          }),
        },
      });
      const viaTool = await session.execute(WAIT, { toolkits: ['mail'], timeout_seconds: 5 });
      expect((viaTool.data as WaitJson).toolkits.mail!.status).toBe('CONNECTED');
    });

    it('MCP: the official client waits on one server while the user connects on the other', async () => {
      const { mcp, requestId } = await pendingSession(first, 'user_mcp');
      const client = new Client({ name: 'connection-wait', version: '1.0.0' });
      const url = new URL(mcp.url);
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${second.url}${url.pathname}`), {
          requestInit: { headers: mcp.headers },
        }),
      );
      try {
        const { tools } = await client.listTools();
        const listed = tools.find((tool) => tool.name === WAIT);
        expect(listed?.description).toContain('TOOLMUX_MANAGE_CONNECTIONS');
        expect(listed?.inputSchema.properties).toHaveProperty('timeout_seconds');
        const refused = (await client.callTool({
          name: WAIT,
          arguments: { toolkits: ['mail'], timeout_seconds: 1000 },
        })) as CallToolResult;
        expect(refused.isError).toBe(true);
        const wait = client.callTool({ name: WAIT, arguments: { toolkits: ['mail'], timeout_seconds: 50 } });
        expect(await stillWaiting(wait)).toBe(true);
        const accountId = await submitForm(first, requestId);
        const result = (await wait) as CallToolResult;
        expect(result.isError).toBeFalsy();
        const text = (result.content[0] as { text: string }).text;
        expect(JSON.parse(text)).toMatchObject({
          timed_out: false,
          toolkits: { mail: { status: 'CONNECTED', connected_account_id: accountId } },
        });
      } finally {
        await client.close();
      }
    });
  },
);
