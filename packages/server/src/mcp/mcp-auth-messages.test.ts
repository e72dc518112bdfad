import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from '../server.js';
import { createTestServer, mcpRequest, TEST_API_KEY } from '../test-helpers.js';

// What an operator reads when the MCP endpoint refuses a request: each refusal names what to send.
const { mux, server } = createTestServer();
afterAll(() => mux.close());

async function post(sessionId: string, headers: Record<string, string>) {
  const response = await server.fetch(
    mcpRequest(sessionId, headers, { jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  );
  const body = (await response.json()) as { error?: { message: string; data: { code: string } } };
  return { status: response.status, message: body.error?.message, code: body.error?.data.code, response };
}

/** A session made as docs/rest-and-mcp.md shows: its `mcp.headers` are what the endpoint takes. */
async function restSession(userId: string) {
  const response = await server.fetch(
    new Request('http://localhost/api/v1/sessions', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: userId, config: { toolkits: ['tasks'] } }),
    }),
  );
  return (await response.json()) as {
    session_id: string;
    mcp: { url: string; headers: Record<string, string> };
  };
}

const SESSION_TOKEN_FIX = 'mcp.headers of POST /api/v1/sessions or GET /api/v1/sessions/:sessionId';

describe('the MCP endpoint says how to authenticate when it refuses', () => {
  it('the project API key sent after Bearer, as /api/v1 takes it: where it goes here (x-api-key)', async () => {
    const session = await restSession('user_mcp_messages_key');
    const refused = await post(session.session_id, { authorization: `Bearer ${TEST_API_KEY}` });
    expect(refused.status).toBe(401);
    expect(refused.code).toBe('UNAUTHORIZED');
    expect(refused.message).toContain('The project API key is not taken after Bearer here');
    expect(refused.message).toContain('x-api-key');
    expect(refused.message).toContain(SESSION_TOKEN_FIX);
    expect(refused.message).not.toContain(TEST_API_KEY);
    // what the message says works: the key in x-api-key, or the session's own mcp.headers
    expect((await post(session.session_id, { 'x-api-key': TEST_API_KEY })).status).toBe(200);
    expect((await post(session.session_id, session.mcp.headers)).status).toBe(200);
    // the same for an id no session has: the key holder learns only where the key goes
    const unknown = await post('ses_doesnotexist', { authorization: `Bearer ${TEST_API_KEY}` });
    expect(unknown.status).toBe(401);
    expect(unknown.message).toBe(refused.message);
  });

  it('a token another instance made under another secret key: says every instance needs the same key', async () => {
    // two instances on one store, started with different TOOLMUX_SECRET_KEYs
    const directory = mkdtempSync(join(tmpdir(), 'toolmux-mcp-key-'));
    const store = `sqlite:${join(directory, 'toolmux.db')}`;
    const instance = (secretKey: string) =>
      new ToolMux({ toolkits: createSampleToolkits().toolkits, store, secretKey });
    const first = instance(randomBytes(32).toString('base64'));
    const second = instance(randomBytes(32).toString('base64'));
    try {
      const session = await first.create('user_mcp_messages_keys', { toolkits: ['tasks'] });
      const response = await createServer({ toolmux: second, apiKey: TEST_API_KEY }).fetch(
        mcpRequest(session.sessionId, session.mcp.headers, { jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      );
      expect(response.status).toBe(401);
      const { error } = (await response.json()) as { error: { message: string } };
      expect(error.message).toContain(
        'one made under a secret key this server does not have: every instance on one store needs the same secret key, TOOLMUX_SECRET_KEY or secretKey',
      );
    } finally {
      await Promise.all([first.close(), second.close()]);
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('a wrong, rotated or other session token: which token to send and where to read it', async () => {
    const session = await restSession('user_mcp_messages_token');
    const other = await restSession('user_mcp_messages_other');
    const rotated = await (await mux.use(session.session_id)).rotateMcpToken();
    for (const headers of [
      session.mcp.headers, // rotated away
      other.mcp.headers,
      { authorization: 'Bearer tmx_st_forged' },
    ]) {
      const refused = await post(session.session_id, headers);
      expect(refused.status).toBe(401);
      expect(refused.message).toContain("is not this session's current token");
      expect(refused.message).toContain(SESSION_TOKEN_FIX);
      expect(refused.message).toContain('x-api-key');
      expect(refused.message).not.toContain('Session.mcp.headers');
      // the message goes in WWW-Authenticate too: a header's text
      expect(refused.response.headers.get('www-authenticate')).toContain(
        "is not this session's current token",
      );
    }
    expect((await post(session.session_id, rotated.headers)).status).toBe(200);
    // another session's token says nothing about whether the path's session exists
    expect((await post('ses_doesnotexist', other.mcp.headers)).message).toBe(
      (await post(session.session_id, other.mcp.headers)).message,
    );
  });

  it('no credentials, or a wrong x-api-key: the session token and where it is, in the REST API words', async () => {
    const session = await restSession('user_mcp_messages_none');
    for (const headers of [{}, { 'x-api-key': 'not-the-project-api-key' }] as Record<string, string>[]) {
      const refused = await post(session.session_id, headers);
      expect(refused.status).toBe(401);
      expect(refused.message).toContain(SESSION_TOKEN_FIX);
      expect(refused.message).not.toContain('Session.mcp.headers');
    }
  });

  it('an unknown or deleted session (404): how to make one and where its MCP URL is', async () => {
    const session = await restSession('user_mcp_messages_gone');
    await (await mux.use(session.session_id)).delete();
    for (const [sessionId, headers] of [
      [session.session_id, session.mcp.headers],
      ['ses_doesnotexist', { 'x-api-key': TEST_API_KEY }],
    ] as const) {
      const refused = await post(sessionId, headers);
      expect(refused.status).toBe(404);
      expect(refused.code).toBe('SESSION_NOT_FOUND');
      expect(refused.message).toContain(`No session "${sessionId}"`);
      expect(refused.message).toContain('create one with POST /api/v1/sessions');
    }
  });

  it("the official MCP SDK client shows the fix in the error of a connect with the REST API's key", async () => {
    const session = await restSession('user_mcp_messages_sdk');
    const running = await server.serve({ port: 0 });
    try {
      const client = new Client({ name: 'toolmux-test', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(
        new URL(`http://127.0.0.1:${running.port}/mcp/${session.session_id}`),
        { requestInit: { headers: { Authorization: `Bearer ${TEST_API_KEY}` } } },
      );
      await expect(client.connect(transport)).rejects.toThrow(/x-api-key/);
      await client.close();
    } finally {
      await running.close();
    }
  });
});
