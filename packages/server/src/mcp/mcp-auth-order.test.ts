import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { defineTool, type Store, ToolMux } from '@toolmux/core';
import { newId, openToolMuxStore } from '@toolmux/core/internal';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServer, type RunningServer, type ToolMuxServer } from '../server.js';
import { SessionCache } from '../session-cache.js';
import { recordingLogger, TEST_API_KEY, testStoreBackends } from '../test-helpers.js';

/**
 * Whoever calls `/mcp/:sessionId` without the session's token learns nothing and costs little: the
 * token is checked before the session is resumed, built or cached, a wrong one is answered alike
 * whether the session exists or not, and it costs the same store reads either way (one, or none for
 * a token that cannot be one).
 */

const directory = mkdtempSync(join(tmpdir(), 'toolmux-auth-order-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A session token of the right form that no session has. */
function forgedToken(): string {
  return `Bearer tmx_st_${randomBytes(32).toString('base64url')}`;
}

/** Counts the session reads of the store the ToolMux runs on. */
function countReads(store: Store): { reads(): Record<string, number>; reset(): void } {
  const counts: Record<string, number> = {};
  for (const name of ['getSession', 'getSessionTokenHash', 'getSessionToken'] as const) {
    const read = store[name]?.bind(store) as ((id: string) => Promise<unknown>) | undefined;
    if (!read) continue;
    (store as unknown as Record<string, unknown>)[name] = (id: string) => {
      counts[name] = (counts[name] ?? 0) + 1;
      return read(id);
    };
  }
  return {
    reads: () => ({ ...counts }),
    reset: () => {
      for (const name of Object.keys(counts)) delete counts[name];
    },
  };
}

describe.each(await testStoreBackends(directory))(
  'the MCP endpoint checks the token first ($name)',
  (backend) => {
    let mux: ToolMux;
    let server: ToolMuxServer;
    let running: RunningServer;
    let counter: ReturnType<typeof countReads>;
    let cleanup: () => Promise<void> = async () => {};
    const clients: Client[] = [];

    beforeAll(async () => {
      if (backend.skip) return;
      const store = await backend.store();
      cleanup = store.cleanup;
      mux = new ToolMux({
        toolkits: createSampleToolkits().toolkits,
        store: store.spec,
        secretKey: randomBytes(32).toString('base64'),
        baseUrl: 'http://localhost:8787',
        logger: recordingLogger(),
      });
      server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger: recordingLogger() });
      running = await server.serve({ port: 0 });
      counter = countReads(await openToolMuxStore(mux));
    });

    afterAll(async () => {
      if (backend.skip) return;
      await Promise.all(clients.map((client) => client.close()));
      await running.close();
      await mux.close();
      await cleanup();
    });

    async function post(sessionId: string, headers: Record<string, string>) {
      const response = await fetch(`${running.url}/mcp/${sessionId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      return {
        status: response.status,
        wwwAuthenticate: response.headers.get('www-authenticate'),
        body: (await response.json()) as { error?: { message: string; data?: { code: string } } },
      };
    }

    async function connect(sessionId: string, headers: Record<string, string>): Promise<Client> {
      const client = new Client({ name: 'toolmux-auth-order-test', version: '1.0.0' });
      clients.push(client);
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${running.url}/mcp/${sessionId}`), {
          requestInit: { headers },
        }),
      );
      return client;
    }

    it.skipIf(backend.skip)(
      'answers a wrong token alike whether the session exists, never existed or cannot exist',
      async () => {
        const existing = await mux.create('user_auth_order', { toolkits: ['tasks'] });
        const other = await mux.create('user_auth_order', { toolkits: ['notes'] });
        const wrongTokens = [
          other.mcp.headers.Authorization, // another session's token
          forgedToken(),
          'Bearer not-a-session-token',
        ];
        const ids = [existing.sessionId, newId('ses'), 'ses_doesnotexist', 'ses_%E2%82%AC', 'ses_%00x'];
        const expected = await post(existing.sessionId, { authorization: wrongTokens[0]! });
        expect(expected.status).toBe(401);
        for (const authorization of wrongTokens) {
          for (const id of ids) {
            expect({ id, authorization, answer: await post(id, { authorization }) }).toEqual({
              id,
              authorization,
              answer: expected,
            });
          }
        }
        // the official client sees the same refusal either way
        for (const id of [existing.sessionId, newId('ses')]) {
          await expect(connect(id, other.mcp.headers)).rejects.toMatchObject({ code: 401 });
        }
        // and the session's own token still works
        const client = await connect(existing.sessionId, existing.mcp.headers);
        expect((await client.listTools()).tools.length).toBeGreaterThan(0);
      },
    );

    it.skipIf(backend.skip)(
      'a wrong token costs the same store reads whether the session exists (cached or not) or not',
      async () => {
        const cachedSession = await mux.create('user_auth_order', { toolkits: ['tasks'] });
        const uncachedSession = await mux.create('user_auth_order', { toolkits: ['tasks'] });
        expect((await post(cachedSession.sessionId, cachedSession.mcp.headers)).status).toBe(200); // cached now
        const readsOf = async (sessionId: string, authorization: string) => {
          counter.reset();
          expect((await post(sessionId, { authorization })).status).toBe(401);
          return counter.reads();
        };
        const forged = forgedToken();
        const unknown = await readsOf(newId('ses'), forged);
        // one primary-key read: what the token is checked against
        expect(Object.values(unknown).reduce((sum, count) => sum + count, 0)).toBe(1);
        expect(await readsOf(cachedSession.sessionId, forged)).toEqual(unknown);
        expect(await readsOf(uncachedSession.sessionId, forged)).toEqual(unknown);
        // a token that cannot be a session token is refused without a read
        expect(await readsOf(cachedSession.sessionId, 'Bearer not-a-session-token')).toEqual({});
        expect(await readsOf(newId('ses'), 'Bearer not-a-session-token')).toEqual({});
        // the session's own token: a cache hit reads the token, as the wrong ones did, and no more
        counter.reset();
        expect((await post(cachedSession.sessionId, cachedSession.mcp.headers)).status).toBe(200);
        expect(counter.reads()).toEqual(unknown);
      },
    );

    it.skipIf(backend.skip)(
      'tells a wrong token nothing about a session the server cannot resume',
      async () => {
        // custom tools are code: this server was not given it, so it cannot resume the session at all
        const secretTool = defineTool({
          slug: 'PAYROLL_SECRET_EXPORT',
          description: 'A custom tool of this process only.',
          inputSchema: z.object({}),
          execute: () => ({ ok: true }),
        });
        const session = await mux.create('user_auth_order', {
          toolkits: ['tasks'],
          experimental: { customTools: [secretTool] },
        });
        const refused = await post(session.sessionId, { authorization: forgedToken() });
        expect(refused.status).toBe(401);
        expect(JSON.stringify(refused.body)).not.toContain('PAYROLL');
        expect(refused).toEqual(await post(newId('ses'), { authorization: forgedToken() }));
        // the session's own token gets what the server can say about it
        const own = await post(session.sessionId, session.mcp.headers);
        expect(own.status).toBe(400);
        expect(own.body.error?.data?.code).toBe('SESSION_CUSTOM_TOOLS_MISSING');
      },
    );

    it.skipIf(backend.skip)(
      'a deleted session: 404 for its own token and the API key, 401 for any other token',
      async () => {
        const session = await mux.create('user_auth_order', { toolkits: ['tasks'] });
        const other = await mux.create('user_auth_order', { toolkits: ['tasks'] });
        expect((await post(session.sessionId, session.mcp.headers)).status).toBe(200);
        await mux.sessions.delete(session.sessionId);
        const own = await post(session.sessionId, session.mcp.headers);
        expect(own.status).toBe(404);
        expect(own.body.error?.data?.code).toBe('SESSION_NOT_FOUND');
        await expect(connect(session.sessionId, session.mcp.headers)).rejects.toMatchObject({ code: 404 });
        expect((await post(session.sessionId, { 'x-api-key': TEST_API_KEY })).status).toBe(404);
        expect((await post(session.sessionId, other.mcp.headers)).status).toBe(401);
        expect((await post(session.sessionId, { authorization: forgedToken() })).status).toBe(401);
      },
    );

    it.skipIf(backend.skip)(
      'over a store without getSessionToken, checks the token against getSession',
      async () => {
        const store = (await openToolMuxStore(mux)) as Store & Record<string, unknown>;
        const own = store.getSessionToken;
        store.getSessionToken = undefined;
        try {
          const session = await mux.create('user_auth_order', { toolkits: ['tasks'] });
          const first = session.mcp.headers;
          const rotated = await session.rotateMcpToken();
          counter.reset();
          expect((await post(session.sessionId, { authorization: forgedToken() })).status).toBe(401);
          expect(counter.reads()).toEqual({ getSession: 1 });
          expect((await post(newId('ses'), { authorization: forgedToken() })).status).toBe(401);
          expect((await post(session.sessionId, first)).status).toBe(401); // rotated away
          expect((await post(session.sessionId, rotated.headers)).status).toBe(200);
        } finally {
          store.getSessionToken = own;
        }
      },
    );

    it.skipIf(backend.skip)('wrong tokens take no place in the session cache', async () => {
      const cache = new SessionCache({ toolmux: mux, ttlMs: 60_000, maxEntries: 2 });
      const real = await mux.create('user_auth_order', { toolkits: ['tasks'] });
      const others = await Promise.all(
        [1, 2, 3].map(() => mux.create('user_auth_order', { toolkits: ['tasks'] })),
      );
      expect(
        await cache.authorize(real.sessionId, real.mcp.headers.Authorization.slice('Bearer '.length)),
      ).toBeDefined();
      for (const other of others) {
        expect(await cache.authorize(other.sessionId, forgedToken().slice('Bearer '.length))).toBeUndefined();
      }
      // a burst of unknown ids at once
      await Promise.all(
        Array.from({ length: 5 }, () =>
          cache.authorize(newId('ses'), forgedToken().slice('Bearer '.length)).catch(() => undefined),
        ),
      );
      counter.reset();
      expect(
        await cache.authorize(real.sessionId, real.mcp.headers.Authorization.slice('Bearer '.length)),
      ).toBeDefined();
      // still cached: only the token is read, the session is not resumed again
      expect(counter.reads()).not.toHaveProperty('getSession');
    });
  },
);
