import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import type { PlainTool, Session } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../server.js';
import { createTestServer, TEST_API_KEY } from '../test-helpers.js';

const { mux, server, sample } = createTestServer();
let running: RunningServer;
let meta: Session<PlainTool[]>;
let direct: Session<PlainTool[]>;
const clients: Client[] = [];

beforeAll(async () => {
  running = await server.serve({ port: 0 });
  meta = await mux.create('user_mcp', {
    toolkits: ['tasks', 'notes'],
    preload: { tools: ['TASKS_LIST_TASKS'] },
  });
  direct = await mux.create('user_mcp', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await running.close();
  await mux.close();
});

function endpoint(sessionId: string): URL {
  return new URL(`${running.url}/mcp/${sessionId}`);
}

async function connect(sessionId: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'toolmux-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(endpoint(sessionId), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

function text(result: CallToolResult): string {
  const [first] = result.content;
  return first?.type === 'text' ? first.text : '';
}

describe('MCP over Streamable HTTP with the official client', () => {
  it('initializes: the session URL is where baseUrl says', async () => {
    expect(meta.mcp.url).toBe(`http://localhost:8787/mcp/${meta.sessionId}`);
    const client = await connect(meta.sessionId, meta.mcp.headers);
    expect(client.getServerVersion()).toMatchObject({ name: 'toolmux' });
    expect(client.getServerCapabilities()).toMatchObject({ tools: {} });
    await expect(client.ping()).resolves.toEqual({});
  });

  it('lists exactly what session.tools() shows', async () => {
    for (const session of [meta, direct]) {
      const client = await connect(session.sessionId, session.mcp.headers);
      const { tools } = await client.listTools();
      const expected = await session.tools();
      expect(tools.map((tool) => tool.name)).toEqual(expected.map((tool) => tool.name));
      expect(tools.map((tool) => tool.description)).toEqual(expected.map((tool) => tool.description));
      expect(tools.map((tool) => tool.inputSchema)).toEqual(expected.map((tool) => tool.inputSchema));
    }
  });

  it('passes annotations and object output schemas through', async () => {
    const client = await connect(direct.sessionId, direct.mcp.headers);
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get('TASKS_LIST_TASKS')!.annotations).toEqual({ readOnlyHint: true, idempotentHint: true });
    expect(byName.get('TASKS_DELETE_TASK')!.annotations).toEqual({ destructiveHint: true });
    expect(byName.get('TASKS_CREATE_TASK')!.outputSchema).toMatchObject({
      type: 'object',
      properties: { id: { type: 'string' }, title: { type: 'string' } },
    });
    expect(byName.get('TASKS_SYNC_CALENDAR')!.annotations).toBeUndefined();
  });

  it('calls a tool through session.execute, with structured content when it declares an output schema', async () => {
    const client = await connect(direct.sessionId, direct.mcp.headers);
    const result = (await client.callTool({
      name: 'TASKS_CREATE_TASK',
      arguments: { title: 'Water the plants', priority: 'high' },
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ id: expect.any(String), title: 'Water the plants' });
    expect(JSON.parse(text(result))).toEqual(result.structuredContent);
    expect(sample.calls.at(-1)).toMatchObject({
      slug: 'TASKS_CREATE_TASK',
      input: { title: 'Water the plants', priority: 'high' },
      context: { userId: 'user_mcp', sessionId: direct.sessionId },
    });
    const logs = await direct.logs({ limit: 1 });
    expect(logs.items[0]).toMatchObject({ toolSlug: 'TASKS_CREATE_TASK', status: 'success' });
  });

  it('searches, then executes what it found (TOOLMUX_SEARCH_TOOLS + TOOLMUX_MULTI_EXECUTE_TOOL)', async () => {
    const client = await connect(meta.sessionId, meta.mcp.headers);
    const search = (await client.callTool({
      name: 'TOOLMUX_SEARCH_TOOLS',
      arguments: { queries: [{ use_case: 'write a note' }] },
    })) as CallToolResult;
    expect(search.isError).toBeFalsy();
    const found = JSON.parse(text(search)) as { results: Array<{ tools: Array<{ tool_slug: string }> }> };
    const slug = found.results[0]!.tools[0]!.tool_slug;
    expect(slug).toBe('NOTES_CREATE_NOTE');
    const executed = (await client.callTool({
      name: 'TOOLMUX_MULTI_EXECUTE_TOOL',
      arguments: {
        tools: [{ tool_slug: slug, arguments: { text: 'Call mom', tags: [{ name: 'family' }] } }],
      },
    })) as CallToolResult;
    expect(executed.isError).toBeFalsy();
    expect(JSON.parse(text(executed))).toMatchObject({
      results: [{ tool_slug: 'NOTES_CREATE_NOTE', successful: true, data: { id: 'note_2' } }],
      successful_count: 1,
    });
  });

  it('turns a failing tool into isError with the readable message', async () => {
    const client = await connect(direct.sessionId, direct.mcp.headers);
    const failed = (await client.callTool({
      name: 'TASKS_SYNC_CALENDAR',
      arguments: { calendarId: 'work' },
    })) as CallToolResult;
    expect(failed.isError).toBe(true);
    expect(text(failed)).toContain('calendar work is unreachable');
    const invalid = (await client.callTool({ name: 'TASKS_CREATE_TASK', arguments: {} })) as CallToolResult;
    expect(invalid.isError).toBe(true);
    expect(text(invalid)).toContain('TOOL_ARGUMENTS_INVALID');
    const unknown = (await client.callTool({ name: 'NOTES_CREATE_NOTE', arguments: {} })) as CallToolResult;
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toContain('TOOL_NOT_IN_SESSION');
  });

  it('aborts the running tool when the client goes away (the request signal reaches session.execute)', async () => {
    const controller = new AbortController();
    const request = fetch(endpoint(direct.sessionId), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...direct.mcp.headers },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 't1' } },
      }),
      signal: controller.signal,
    });
    await expect
      .poll(() => sample.calls.some((entry) => entry.slug === 'TASKS_WAIT_FOR_APPROVAL'))
      .toBe(true);
    controller.abort();
    await expect(request).rejects.toThrow();
    await expect
      .poll(async () =>
        (await direct.logs({ limit: 5 })).items.find((log) => log.toolSlug === 'TASKS_WAIT_FOR_APPROVAL'),
      )
      .toMatchObject({ status: 'error', errorCode: 'TOOL_ABORTED' });
  });
});

describe('MCP authentication', () => {
  async function post(sessionId: string, headers: Record<string, string>) {
    const response = await fetch(endpoint(sessionId), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    return { status: response.status, headers: response.headers, body: await response.json() };
  }

  it('refuses a missing token with 401 and WWW-Authenticate', async () => {
    const result = await post(meta.sessionId, {});
    expect(result.status).toBe(401);
    expect(result.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    expect(result.body.error.data).toEqual({ code: 'UNAUTHORIZED' });
    await expect(connect(meta.sessionId, {})).rejects.toMatchObject({ code: 401 });
  });

  it('refuses a wrong token', async () => {
    const result = await post(meta.sessionId, { authorization: `${meta.mcp.headers.Authorization}x` });
    expect(result.status).toBe(401);
    expect(result.headers.get('www-authenticate')).toContain('error="invalid_token"');
    await expect(connect(meta.sessionId, { Authorization: 'Bearer tmx_st_forged' })).rejects.toMatchObject({
      code: 401,
    });
  });

  it("refuses another session's token", async () => {
    const result = await post(meta.sessionId, direct.mcp.headers);
    expect(result.status).toBe(401);
    await expect(connect(meta.sessionId, direct.mcp.headers)).rejects.toMatchObject({ code: 401 });
  });

  it('refuses the project API key', async () => {
    expect((await post(meta.sessionId, { authorization: `Bearer ${TEST_API_KEY}` })).status).toBe(401);
  });

  it('answers 404 for an unknown session', async () => {
    const result = await post('ses_doesnotexist', meta.mcp.headers);
    expect(result.status).toBe(404);
    expect(result.body.error.data).toEqual({ code: 'SESSION_NOT_FOUND' });
    await expect(connect('ses_doesnotexist', meta.mcp.headers)).rejects.toMatchObject({ code: 404 });
  });
});

describe('MCP protocol edges', () => {
  async function rpc(body: string, headers: Record<string, string> = {}) {
    const response = await fetch(endpoint(meta.sessionId), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...meta.mcp.headers,
        ...headers,
      },
      body,
    });
    const raw = await response.text();
    return { status: response.status, headers: response.headers, body: raw ? JSON.parse(raw) : undefined };
  }

  it('GET and DELETE are 405 (no SSE stream, no session to end)', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(endpoint(meta.sessionId), { method, headers: meta.mcp.headers });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
  });

  it('answers initialize with the protocol version the client asked for, if supported', async () => {
    const init = (protocolVersion: string) =>
      rpc(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 'init',
          method: 'initialize',
          params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
        }),
      );
    expect((await init('2025-03-26')).body.result.protocolVersion).toBe('2025-03-26');
    expect((await init('1999-01-01')).body.result.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
    expect((await init('2025-03-26')).headers.get('mcp-session-id')).toBeNull();
  });

  it('accepts notifications with 202 and no body', async () => {
    const result = await rpc(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    expect(result.status).toBe(202);
    expect(result.body).toBeUndefined();
  });

  it('answers a batch with a batch', async () => {
    const result = await rpc(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'resources/list' },
      ]),
    );
    expect(result.status).toBe(200);
    expect(result.body).toEqual([
      { jsonrpc: '2.0', id: 1, result: {} },
      { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'Method not found: resources/list.' } },
    ]);
  });

  it('rejects broken JSON, invalid messages, bad params and unknown protocol versions', async () => {
    const parse = await rpc('{"jsonrpc":');
    expect(parse.status).toBe(400);
    expect(parse.body.error.code).toBe(-32700);
    const invalid = await rpc(JSON.stringify({ id: 3, method: 'ping' }));
    expect(invalid.body).toMatchObject({ id: 3, error: { code: -32600 } });
    const params = await rpc(
      JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 5 } }),
    );
    expect(params.body).toMatchObject({ id: 4, error: { code: -32602 } });
    const version = await rpc(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' }), {
      'mcp-protocol-version': '1999-01-01',
    });
    expect(version.status).toBe(400);
    const media = await rpc(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'ping' }), {
      'content-type': 'text/plain',
    });
    expect(media.status).toBe(415);
  });

  it('refuses a body over the limit with 413', async () => {
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'TASKS_LIST_TASKS', arguments: { blob: 'x'.repeat(1100 * 1024) } },
    });
    expect((await rpc(big)).status).toBe(413);
  });
});

describe('session cache', () => {
  it('sees an update from another instance after the TTL, and its own REST update at once', async () => {
    const { mux: otherMux, server: cached } = createTestServer({ sessionCacheTtlMs: 300 });
    const live = await cached.serve({ port: 0 });
    try {
      const session = await otherMux.create('user_cache', {
        toolkits: ['tasks'],
        sessionPreset: 'DIRECT_TOOLS',
      });
      const client = new Client({ name: 'cache-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${live.url}/mcp/${session.sessionId}`), {
          requestInit: { headers: session.mcp.headers },
        }),
      );
      const names = async () => (await client.listTools()).tools.map((tool) => tool.name);
      expect(await names()).toContain('TASKS_CREATE_TASK');

      // Another instance (here: the engine directly) changes the config: visible after the TTL.
      await (await otherMux.use(session.sessionId)).update({ toolkits: ['notes'] });
      expect(await names()).toContain('TASKS_CREATE_TASK');
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect(await names()).toEqual(['NOTES_SEARCH_NOTES', 'NOTES_CREATE_NOTE']);

      // This instance's own REST update invalidates the entry at once.
      const patched = await cached.fetch(
        new Request(`http://localhost/api/v1/sessions/${session.sessionId}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ config: { toolkits: ['tasks'], tools: { tasks: ['TASKS_LIST_TASKS'] } } }),
        }),
      );
      expect(patched.status).toBe(200);
      expect(await names()).toEqual(['TASKS_LIST_TASKS']);
      await client.close();
    } finally {
      await live.close();
      await otherMux.close();
    }
  });
});
