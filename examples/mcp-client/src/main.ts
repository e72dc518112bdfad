/**
 * A toolmux session over MCP: an embedded toolmux server on a temporary SQLite store, a session for
 * one user, and the official MCP client connected to `session.mcp.url` with `session.mcp.headers`
 * (the session's own token). Any MCP client (Claude Desktop, Cursor, an agent framework's MCP
 * adapter) connects the same way. Runs offline.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { createServer } from '@toolmux/server';
import { z } from 'zod';

const orders = new Map([['A-1001', { status: 'shipped', carrier: 'DHL' }]]);

const acme = defineToolkit({
  slug: 'acme',
  name: 'Acme Shop',
  description: 'Orders of the Acme online shop.',
  tools: [
    defineTool({
      slug: 'ACME_GET_ORDER',
      description: 'Get the status and carrier of an order by its id.',
      inputSchema: z.object({ orderId: z.string().describe('The order id, like A-1001') }),
      outputSchema: z.object({ status: z.string(), carrier: z.string().optional() }),
      annotations: { readOnlyHint: true },
      execute: async ({ orderId }) => orders.get(orderId) ?? { status: 'unknown' },
    }),
  ],
});

/** A free port, so that `baseUrl` (and with it `session.mcp.url`) is known before the server starts. */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const directory = mkdtempSync(join(tmpdir(), 'toolmux-mcp-example-'));
const port = await freePort();
const mux = new ToolMux({
  toolkits: [acme],
  store: `sqlite:${join(directory, 'toolmux.db')}`,
  secretKey: randomBytes(32).toString('base64'),
  baseUrl: `http://127.0.0.1:${port}`,
});
const server = createServer({ toolmux: mux, apiKey: randomBytes(24).toString('base64url') });
const running = await server.serve({ port });
console.log(`toolmux server on ${running.url}`);

// The application creates a session for its user and hands the MCP URL and headers to the agent.
const session = await mux.create('user_123', { toolkits: ['acme'], preload: { tools: ['ACME_GET_ORDER'] } });
console.log(`session ${session.sessionId}: MCP endpoint ${session.mcp.url}`);

const client = new Client({ name: 'mcp-client-example', version: '1.0.0' });
await client.connect(
  new StreamableHTTPClientTransport(new URL(session.mcp.url), {
    requestInit: { headers: session.mcp.headers },
  }),
);

const { tools } = await client.listTools();
console.log('tools over MCP:', tools.map((tool) => tool.name).join(', '));

// A preloaded tool is called directly ...
const order = (await client.callTool({
  name: 'ACME_GET_ORDER',
  arguments: { orderId: 'A-1001' },
})) as CallToolResult;
console.log('ACME_GET_ORDER →', JSON.stringify(order.structuredContent));

// ... any other tool of the session is found and run through the meta-tools.
const search = (await client.callTool({
  name: 'TOOLMUX_SEARCH_TOOLS',
  arguments: { queries: [{ use_case: 'where is my order' }] },
})) as CallToolResult;
const [first] = search.content;
const found = JSON.parse(first?.type === 'text' ? first.text : '{}') as {
  results: Array<{ tools: Array<{ tool_slug: string }> }>;
};
console.log('TOOLMUX_SEARCH_TOOLS found:', found.results[0]?.tools.map((tool) => tool.tool_slug).join(', '));

// Every call went through the session and is in its execution log.
for (const log of (await session.logs()).items) console.log(`log: ${log.toolSlug} ${log.status}`);

await client.close();
await running.close();
await mux.close();
rmSync(directory, { recursive: true, force: true });
