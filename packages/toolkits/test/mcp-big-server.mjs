// A stdio MCP server for tests of answer sizes: a tool answers with as many bytes of text as asked,
// another with its process id (to tell whether a call reconnected).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'big', version: '1.0.0' });
server.registerTool(
  'text',
  { description: 'Answer with `bytes` bytes of text.', inputSchema: { bytes: z.number().int().min(0) } },
  async ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }),
);
server.registerTool('pid', { description: 'Answer with the process id.' }, async () => ({
  content: [{ type: 'text', text: String(process.pid) }],
}));
await server.connect(new StdioServerTransport());
