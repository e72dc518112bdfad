// A tiny stdio MCP server for tests: shows what environment it was started with, fails on demand,
// and can exit to prove that the toolkit reconnects.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'probe', version: '1.0.0' });

server.registerTool(
  'envKeys',
  {
    description: 'List the names of the environment variables this server process sees.',
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async () => ({
    content: [{ type: 'text', text: JSON.stringify(Object.keys(process.env).sort()) }],
    structuredContent: { keys: Object.keys(process.env).sort(), pid: process.pid },
  }),
);

server.registerTool(
  'envValues',
  {
    description:
      'Show the environment this server was started with, as a server that quotes its configuration does.',
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  async () => {
    const values = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'PATH'));
    return { content: [{ type: 'text', text: JSON.stringify(values) }], structuredContent: { values } };
  },
);

server.registerTool(
  'failWith',
  {
    description: 'Answer with an error result carrying the given message.',
    inputSchema: { message: z.string().describe('The error message') },
  },
  async ({ message }) => ({ isError: true, content: [{ type: 'text', text: message }] }),
);

server.registerTool(
  'exitProcess',
  { description: 'Exit the server process (to test reconnection).', annotations: { destructiveHint: true } },
  async () => {
    setTimeout(() => process.exit(0), 10);
    return { content: [{ type: 'text', text: 'bye' }] };
  },
);

await server.connect(new StdioServerTransport());
