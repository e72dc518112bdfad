/**
 * Remote mode: the application talks to a toolmux server through `new ToolMux({ baseUrl, apiKey })`,
 * with the same API as embedded. The server (here started in this process, standing in for
 * `toolmux serve` on another machine) owns the catalog, the store and the credentials; the
 * application's own custom tool runs in the application. Runs offline with a scripted model.
 *
 * The in-process server listens on a port the system picks (REMOTE_EXAMPLE_PORT=<port> for one of
 * your own), so that two runs at once, or another program on a port, do not collide.
 *
 * Against a real server, from the repository root: serve it with this example's toolkit,
 *   pnpm toolmux serve --toolkits ./examples/remote-mode/src/acme.ts
 * then, in another shell (the key is in the server's ./.toolmux/api.key),
 *   TOOLMUX_URL=http://127.0.0.1:8787 TOOLMUX_API_KEY=$(cat .toolmux/api.key) pnpm --filter @example/remote-mode start
 */
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { defineTool, ToolMux } from '@toolmux/core';
import { createServer } from '@toolmux/server';
import { VercelProvider } from '@toolmux/vercel';
import { generateText, type LanguageModel, stepCountIs } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';
import { acme } from './acme.ts';

// ---- the server side: a catalog with one toolkit, acme (./acme.ts) ----

async function startServer(): Promise<{ baseUrl: string; apiKey: string; stop: () => Promise<void> }> {
  if (process.env.TOOLMUX_URL && process.env.TOOLMUX_API_KEY) {
    return { baseUrl: process.env.TOOLMUX_URL, apiKey: process.env.TOOLMUX_API_KEY, stop: async () => {} };
  }
  const apiKey = randomBytes(24).toString('base64url');
  const chosen = process.env.REMOTE_EXAMPLE_PORT ? Number(process.env.REMOTE_EXAMPLE_PORT) : undefined;
  // the engine's baseUrl names the port before the server listens: a free one, asked of the system
  for (let attempt = 1; ; attempt++) {
    const port = chosen ?? (await freePort());
    const engine = new ToolMux({ toolkits: [acme], store: ':memory:', baseUrl: `http://127.0.0.1:${port}` });
    try {
      const running = await createServer({ toolmux: engine, apiKey }).serve({ port });
      return {
        baseUrl: running.url,
        apiKey,
        stop: async () => {
          await running.close();
          await engine.close();
        },
      };
    } catch (error) {
      await engine.close();
      // another program took the free port meanwhile: ask for another (a chosen one stays an error)
      const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (chosen !== undefined || !taken || attempt === 5) throw error;
    }
  }
}

/** A port no program listens on now, from the system. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

// ---- the application side ----

/** The application's own tool: its code stays here; the server only learns its description. */
const lookupCustomer = defineTool({
  slug: 'CRM_FIND_LAST_ORDER',
  toolkit: 'crm',
  description: "Find a customer's most recent order id by the customer's email address.",
  inputSchema: z.object({ email: z.string().describe('The customer email') }),
  annotations: { readOnlyHint: true },
  execute: async ({ email }) => {
    console.log(`  [app] CRM_FIND_LAST_ORDER ${email}`);
    return { email, lastOrderId: 'A-1001' };
  },
});

/** Stands in for a model: search, run the CRM tool, then the order tool with what it found, answer. */
function scriptedModel(): LanguageModel {
  const usage = {
    inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: undefined, text: undefined, reasoning: undefined },
  };
  const call = (toolName: string, input: unknown) => ({
    content: [
      { type: 'tool-call' as const, toolCallId: `call_${toolName}`, toolName, input: JSON.stringify(input) },
    ],
    finishReason: { unified: 'tool-calls' as const, raw: undefined },
    usage,
    warnings: [],
  });
  let step = 0;
  return new MockLanguageModelV4({
    doGenerate: async ({ prompt }) => {
      step += 1;
      const last = prompt.at(-1);
      const result = last?.role === 'tool' ? last.content[0] : undefined;
      const text = result?.type === 'tool-result' && result.output.type === 'text' ? result.output.value : '';
      if (step === 1) {
        return call('TOOLMUX_SEARCH_TOOLS', {
          queries: [
            { use_case: "find a customer's last order by email" },
            { use_case: 'get the status of an order' },
          ],
        });
      }
      if (step === 2) {
        return call('TOOLMUX_MULTI_EXECUTE_TOOL', {
          tools: [{ tool_slug: 'CRM_FIND_LAST_ORDER', arguments: { email: 'ada@example.com' } }],
        });
      }
      if (step === 3) {
        const found = JSON.parse(text) as { results: Array<{ data: { lastOrderId: string } }> };
        return call('TOOLMUX_MULTI_EXECUTE_TOOL', {
          tools: [
            { tool_slug: 'ACME_GET_ORDER', arguments: { orderId: found.results[0]!.data.lastOrderId } },
          ],
        });
      }
      return {
        content: [{ type: 'text', text: `Your last order: ${text}` }],
        finishReason: { unified: 'stop', raw: undefined },
        usage,
        warnings: [],
      };
    },
  });
}

const server = await startServer();
const mux = new ToolMux({ baseUrl: server.baseUrl, apiKey: server.apiKey, provider: new VercelProvider() });
console.log(`remote ToolMux on ${mux.baseUrl} (mode: ${mux.mode})`);

const session = await mux.create('user_123', {
  toolkits: ['acme', 'crm'],
  experimental: { customTools: [lookupCustomer] },
});
const tools = await session.tools();
console.log('tools handed to the model:', Object.keys(tools).join(', '));

const { text, steps } = await generateText({
  model: scriptedModel(),
  tools,
  stopWhen: stepCountIs(6),
  prompt: 'Where is the last order of ada@example.com?',
});
console.log(`answer after ${steps.length} steps: ${text}`);

for (const log of (await session.logs()).items.reverse()) {
  console.log(`log ${log.toolSlug} ${log.status} (toolkit ${log.toolkit})`);
}
await mux.close();
await server.stop();
