// A stdio MCP server for tests of answer sizes: a tool answers with as many bytes of text as asked,
// another with its process id (to tell whether a call reconnected); `noisy` sends a log message of
// as many bytes before it answers, `unnamed` answers with its id between the result and "jsonrpc"
// (not at the answer's start or end).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'big', version: '1.0.0' }, { capabilities: { logging: {} } });
server.registerTool(
  'text',
  { description: 'Answer with `bytes` bytes of text.', inputSchema: { bytes: z.number().int().min(0) } },
  async ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }),
);
server.registerTool('pid', { description: 'Answer with the process id.' }, async () => ({
  content: [{ type: 'text', text: String(process.pid) }],
}));
server.registerTool(
  'noisy',
  { description: 'Log `bytes` bytes, then answer.', inputSchema: { bytes: z.number().int().min(0) } },
  async ({ bytes }, extra) => {
    await extra.sendNotification({
      method: 'notifications/message',
      params: { level: 'info', data: 'x'.repeat(bytes) },
    });
    return { content: [{ type: 'text', text: 'done' }] };
  },
);
server.registerTool(
  'unnamed',
  {
    description: 'Answer with `bytes` bytes, the id inside.',
    inputSchema: { bytes: z.number().int().min(0) },
  },
  async ({ bytes }, extra) => {
    const answer = {
      result: { content: [{ type: 'text', text: 'x'.repeat(bytes) }] },
      id: extra.requestId,
      jsonrpc: '2.0',
    };
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    // answered above: the SDK must not answer again
    return await new Promise(() => {});
  },
);
await server.connect(new StdioServerTransport());
