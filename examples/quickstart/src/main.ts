/**
 * toolmux quickstart: a toolkit, a session for one user on the embedded SQLite store
 * (./.toolmux/toolmux.db), and the agent loop a model would drive: search for a tool, run it,
 * read the execution log. Runs offline: the "model" here is a script of tool calls.
 */
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
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
      annotations: { readOnlyHint: true },
      execute: async ({ orderId }) => orders.get(orderId) ?? { status: 'unknown' },
    }),
    defineTool({
      slug: 'ACME_CANCEL_ORDER',
      description: 'Cancel an order that has not shipped yet.',
      inputSchema: z.object({ orderId: z.string().describe('The order id') }),
      annotations: { destructiveHint: true },
      execute: async ({ orderId }) => ({ cancelled: orders.get(orderId)?.status !== 'shipped' }),
    }),
  ],
});

const mux = new ToolMux({ toolkits: [acme] });
const session = await mux.create('user_123', { toolkits: ['acme'], tags: { disable: ['destructiveHint'] } });
console.log(`session ${session.sessionId} for ${session.userId}`);
console.log('tools handed to the agent:', (await session.tools()).map((tool) => tool.name).join(', '));

// 1. the model searches for a tool ...
const search = await session.execute('TOOLMUX_SEARCH_TOOLS', {
  queries: [{ use_case: 'where is my order' }],
});
const found = (search.data as { results: Array<{ tools: Array<{ tool_slug: string }> }> }).results[0]!
  .tools[0]!.tool_slug;
console.log('search found:', found);

// 2. ... and runs it through the session
const run = await session.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
  tools: [{ tool_slug: found, arguments: { orderId: 'A-1001' } }],
});
console.log('result:', JSON.stringify(run.data));

// 3. a later turn (or another process) resumes the session by id; every call is in the log
const again = await mux.use(session.sessionId);
for (const log of (await again.logs()).items)
  console.log(`log ${log.toolSlug} ${log.status} ${log.durationMs.toFixed(2)} ms`);
await mux.close();
