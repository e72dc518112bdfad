import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { defineToolkit, ToolMux, ToolMuxError } from '@toolmux/core';
import {
  AWKWARD_KEY_ARGUMENTS,
  argumentsAsShown,
  awkwardKeysTool,
  portableKeyViolations,
} from '@toolmux/core/test';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../config.js';
import { createServer, type RunningServer } from '../server.js';
import { createTestServer, recordingLogger, TEST_API_KEY } from '../test-helpers.js';
import type { McpOptions } from './mcp-endpoint.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/**
 * A server with `mcp`, and the official MCP client connected to a DIRECT_TOOLS session that has
 * `TASKS_FILTER` (see `awkwardKeysTool`): what `tools/list` shows of it, and what the tool got.
 */
async function filterClient(mcp?: McpOptions) {
  const received: unknown[] = [];
  const tasks = defineToolkit({
    slug: 'tasks',
    name: 'Tasks',
    description: 'Tasks',
    tools: [awkwardKeysTool(received)],
  });
  const mux = new ToolMux({ toolkits: [tasks], store: ':memory:', logger: recordingLogger() });
  const server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger: recordingLogger(), mcp });
  const running: RunningServer = await server.serve({ port: 0 });
  const session = await mux.create('user_keys', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
  const client = new Client({ name: 'toolmux-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${running.url}/mcp/${session.sessionId}`), {
      requestInit: { headers: session.mcp.headers },
    }),
  );
  cleanups.push(async () => {
    await client.close();
    await running.close();
    await mux.close();
  });
  const { tools } = await client.listTools();
  const listed = tools.find((tool) => tool.name === 'TASKS_FILTER')!;
  return { client, schema: listed.inputSchema, received };
}

describe('MCP endpoint property keys', () => {
  it('tools/list shows keys a major model API refuses renamed, and tools/call with them runs the tool with its own', async () => {
    const { client, schema, received } = await filterClient();
    // what Claude Desktop and Claude Code hand Anthropic's API, which refused `filter[id]` for every request
    expect(portableKeyViolations(schema)).toEqual([]);
    expect(Object.keys(schema.properties!)).toHaveLength(5);
    const result = (await client.callTool({
      name: 'TASKS_FILTER',
      arguments: argumentsAsShown(schema, AWKWARD_KEY_ARGUMENTS) as Record<string, unknown>,
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: 'text', text: '{"ok":true}' }]);
    expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
  });

  it('tools/call with the tool’s own keys still runs the tool', async () => {
    const { client, received } = await filterClient();
    const result = (await client.callTool({
      name: 'TASKS_FILTER',
      arguments: AWKWARD_KEY_ARGUMENTS,
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
  });

  it("mcp.propertyKeys: 'unchanged' lists the keys as the tool has them", async () => {
    const { client, schema, received } = await filterClient({ propertyKeys: 'unchanged' });
    expect(Object.keys(schema.properties!)).toEqual(Object.keys(AWKWARD_KEY_ARGUMENTS));
    await client.callTool({ name: 'TASKS_FILTER', arguments: AWKWARD_KEY_ARGUMENTS });
    expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
  });

  it('another mcp.propertyKeys is refused, naming it: by createServer() and in a config file', () => {
    const { mux } = createTestServer();
    cleanups.push(() => mux.close());
    let refused: unknown;
    try {
      createServer({ toolmux: mux, apiKey: TEST_API_KEY, mcp: { propertyKeys: 'keep' as never } });
    } catch (error) {
      refused = error;
    }
    expect(ToolMuxError.isInstance(refused) && refused.code).toBe('CONFIG_INVALID');
    expect((refused as Error).message).toBe(
      `mcp.propertyKeys must be 'portable' (rename keys a major model API refuses) or 'unchanged'; got "keep". Leave it out for 'portable'.`,
    );
    expect(() => validateConfig({ mcp: { propertyKeys: 'keep' } }, 'c.json')).toThrow(
      /^c\.json: mcp\.propertyKeys: unknown value "keep"; .*portable.*unchanged\.$/,
    );
    expect(validateConfig({ mcp: { propertyKeys: 'unchanged' } }, 'c.json')).toEqual({
      mcp: { propertyKeys: 'unchanged' },
    });
  });
});
