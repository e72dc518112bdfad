import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composioClientOf } from '../test-composio.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * Sessions made through the Composio-compatible API carry Composio's meta-tool names, in the client's
 * tool list and on the session's MCP URL, which Composio's official usage reaches with the MCP client
 * and the `x-api-key` header the SDK puts in `session.mcp.headers`.
 */

const COMPOSIO_META_TOOLS = [
  'COMPOSIO_SEARCH_TOOLS',
  'COMPOSIO_GET_TOOL_SCHEMAS',
  'COMPOSIO_MANAGE_CONNECTIONS',
  'COMPOSIO_MULTI_EXECUTE_TOOL',
  'COMPOSIO_REMOTE_WORKBENCH',
];

let server: TestServer;
let sample: ReturnType<typeof createSampleToolkits>;
const clients: Client[] = [];

beforeAll(async () => {
  sample = createSampleToolkits();
  server = await startTestServer({ toolkits: sample.toolkits });
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server.close();
});

const composio = () => composioClientOf(server);

function textOf(result: CallToolResult): string {
  const [first] = result.content;
  return first?.type === 'text' ? first.text : '';
}

describe("Composio's meta-tool names over the Composio-compatible API", () => {
  it('lists and runs COMPOSIO_* meta-tools through the SDK', async () => {
    const session = await composio().create('user_names', { toolkits: ['tasks'] });
    const tools = (await session.tools()) as Array<{ function: { name: string } }>;
    expect(tools.map((tool) => tool.function.name)).toEqual(COMPOSIO_META_TOOLS);
    const search = await session.execute('COMPOSIO_SEARCH_TOOLS', {
      queries: [{ use_case: 'create a task' }],
    });
    expect(search.error).toBeNull();
    expect(search.data).toMatchObject({
      results: [
        expect.objectContaining({ primary_tool_slugs: expect.arrayContaining(['TASKS_CREATE_TASK']) }),
      ],
    });
    const multi = await session.execute('COMPOSIO_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Named by Composio' } }],
    });
    expect(multi.error).toBeNull();
    expect(multi.data).toMatchObject({ success_count: 1 });
    expect(sample.calls.at(-1)).toMatchObject({
      slug: 'TASKS_CREATE_TASK',
      input: { title: 'Named by Composio' },
    });
    // a TOOLMUX_ name is not a tool of this session
    const other = await session.execute('TOOLMUX_SEARCH_TOOLS', { queries: [{ use_case: 'x' }] });
    expect(other.error).toMatch(/TOOLMUX_SEARCH_TOOLS/);
  });

  it("serves the session's MCP URL with the SDK's x-api-key header to the official MCP client", async () => {
    const session = await composio().create('user_mcp', { toolkits: ['tasks'], mcp: true });
    expect(session.mcp.url).toBe(`${server.url}/mcp/${session.sessionId}`);
    const client = new Client({ name: 'composio-app', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(session.mcp.url), {
        requestInit: { headers: session.mcp.headers ?? {} },
      }),
    );
    clients.push(client);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(COMPOSIO_META_TOOLS);
    const result = (await client.callTool({
      name: 'COMPOSIO_MULTI_EXECUTE_TOOL',
      arguments: { tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Over MCP' } }] },
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('TASKS_CREATE_TASK');
    expect(sample.calls.at(-1)).toMatchObject({ slug: 'TASKS_CREATE_TASK', input: { title: 'Over MCP' } });

    // without the key (or with another one) the endpoint refuses
    const stranger = new Client({ name: 'stranger', version: '1.0.0' });
    await expect(
      stranger.connect(
        new StreamableHTTPClientTransport(new URL(session.mcp.url), {
          requestInit: { headers: { 'x-api-key': 'not-the-project-key-0123' } },
        }),
      ),
    ).rejects.toThrow(/not this server's project API key/);
  });
});
