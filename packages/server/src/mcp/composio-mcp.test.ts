import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { PlainTool, Session } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../server.js';
import { createTestServer, TEST_API_KEY } from '../test-helpers.js';

const { mux, server, sample } = createTestServer();
let running: RunningServer;
let session: Session<PlainTool[]>;
const clients: Client[] = [];

beforeAll(async () => {
  running = await server.serve({ port: 0 });
  session = await mux.create('user_composio_mcp', {
    toolkits: ['tasks', 'notes'],
    metaToolNames: 'composio',
  });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await running.close();
  await mux.close();
});

/** The official MCP client, connected the way Composio's MCP URLs are used: the URL and an x-api-key header. */
async function connect(sessionId: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'composio-style-client', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${running.url}/mcp/${sessionId}`), {
      requestInit: { headers },
    }),
  );
  clients.push(client);
  return client;
}

function json(result: CallToolResult): any {
  const [first] = result.content;
  return JSON.parse(first?.type === 'text' ? first.text : 'null');
}

describe("a session's MCP endpoint with the project API key in x-api-key", () => {
  it("lists and runs Composio's meta-tools with Composio-shaped inputs", async () => {
    const client = await connect(session.sessionId, { 'x-api-key': TEST_API_KEY });
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual([
      'COMPOSIO_SEARCH_TOOLS',
      'COMPOSIO_GET_TOOL_SCHEMAS',
      'COMPOSIO_MANAGE_CONNECTIONS',
      'COMPOSIO_MULTI_EXECUTE_TOOL',
      'COMPOSIO_REMOTE_WORKBENCH',
    ]);
    const multi = tools.find((tool) => tool.name === 'COMPOSIO_MULTI_EXECUTE_TOOL')!;
    expect(Object.keys(multi.inputSchema.properties ?? {})).toContain('sync_response_to_workbench');
    expect(JSON.stringify(tools)).not.toContain('TOOLMUX_');

    const search = (await client.callTool({
      name: 'COMPOSIO_SEARCH_TOOLS',
      arguments: { queries: [{ use_case: 'create a to-do item' }], session: { generate_id: true } },
    })) as CallToolResult;
    expect(search.isError).toBeFalsy();
    expect(json(search).results[0].primary_tool_slugs[0]).toBe('TASKS_CREATE_TASK');

    sample.calls.length = 0;
    const ran = (await client.callTool({
      name: 'COMPOSIO_MULTI_EXECUTE_TOOL',
      arguments: {
        tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'over mcp' } }],
        thought: 'create it',
        sync_response_to_workbench: false,
      },
    })) as CallToolResult;
    expect(json(ran)).toMatchObject({
      results: [{ index: 1, tool_slug: 'TASKS_CREATE_TASK', response: { successful: true } }],
      success_count: 1,
    });
    expect(sample.calls.map((call) => call.input)).toEqual([{ title: 'over mcp' }]);

    // a cell that failed is isError under Composio's names too, its answer still the text
    const failed = (await client.callTool({
      name: 'COMPOSIO_REMOTE_WORKBENCH',
      arguments: { code_to_execute: "console.log('first'); null.x" },
    })) as CallToolResult;
    expect(failed.isError).toBe(true);
    expect(json(failed)).toMatchObject({
      stdout: 'first',
      error: expect.stringContaining('WORKBENCH_CODE_ERROR'),
    });
    const ok = (await client.callTool({
      name: 'COMPOSIO_REMOTE_WORKBENCH',
      arguments: { code_to_execute: 'return 2' },
    })) as CallToolResult;
    expect(ok.isError).toBeFalsy();
    expect(json(ok)).toMatchObject({ results: 2, stdout: '' });
  });

  it('still accepts the session token, and refuses a wrong key, another use of the key, or an unknown session', async () => {
    const byToken = await connect(session.sessionId, session.mcp.headers);
    expect((await byToken.listTools()).tools[0]!.name).toBe('COMPOSIO_SEARCH_TOOLS');

    await expect(connect(session.sessionId, { 'x-api-key': `${TEST_API_KEY}x` })).rejects.toMatchObject({
      code: 401,
    });
    // a wrong key is refused even beside a valid token: the request says it authenticates with the key
    await expect(
      connect(session.sessionId, { ...session.mcp.headers, 'x-api-key': 'not-the-key' }),
    ).rejects.toMatchObject({ code: 401 });
    await expect(connect('ses_doesnotexist', { 'x-api-key': TEST_API_KEY })).rejects.toMatchObject({
      code: 404,
    });

    const raw = await fetch(`${running.url}/mcp/${session.sessionId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-api-key': 'wrong-key-of-some-length',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(raw.status).toBe(401);
    const body = await raw.json();
    expect(body.error.data).toEqual({ code: 'UNAUTHORIZED' });
    expect(body.error.message).toContain('x-api-key');
    expect(JSON.stringify(body)).not.toContain(TEST_API_KEY);
  });

  it('keeps the Origin check, and a deleted session is gone for the key too', async () => {
    const fromPage = await fetch(`${running.url}/mcp/${session.sessionId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-api-key': TEST_API_KEY,
        origin: 'http://evil.example',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(fromPage.status).toBe(403);

    const doomed = await mux.create('user_composio_mcp', { toolkits: ['tasks'], metaToolNames: 'composio' });
    const client = await connect(doomed.sessionId, { 'x-api-key': TEST_API_KEY });
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await doomed.delete();
    await expect(connect(doomed.sessionId, { 'x-api-key': TEST_API_KEY })).rejects.toMatchObject({
      code: 404,
    });
  });
});
