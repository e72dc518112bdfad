/**
 * toolmux with Mastra: a session's tools as Mastra tools for `new Agent({ tools })`, driven by
 * `agent.generate()` through search → multi-execute. Runs offline with a scripted model; with
 * OPENAI_API_KEY set it asks a real OpenAI model instead, through Mastra's model router
 * (OPENAI_MODEL, default gpt-5-mini).
 */
import { Agent } from '@mastra/core/agent';
import { defineTool, defineToolkit, ToolMux, type ToolResult } from '@toolmux/core';
import { MastraProvider } from '@toolmux/mastra';
import { MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';

const orders = new Map([
  ['A-1001', { status: 'shipped', carrier: 'DHL', eta: '2026-03-14' }],
  ['A-1002', { status: 'packing', carrier: null, eta: null }],
]);

const acme = defineToolkit({
  slug: 'acme',
  name: 'Acme Shop',
  description: 'Orders of the Acme online shop.',
  tools: [
    defineTool({
      slug: 'ACME_GET_ORDER',
      description: 'Get the status, carrier and expected delivery date of an order by its id.',
      inputSchema: z.object({ orderId: z.string().describe('The order id, like A-1001') }),
      annotations: { readOnlyHint: true },
      execute: async ({ orderId }) => orders.get(orderId) ?? { status: 'unknown' },
    }),
    defineTool({
      slug: 'ACME_CANCEL_ORDER',
      description: 'Cancel an order that has not shipped yet.',
      inputSchema: z.object({ orderId: z.string().describe('The order id') }),
      annotations: { destructiveHint: true },
      execute: async ({ orderId }) => ({ cancelled: orders.get(orderId)?.status === 'packing' }),
    }),
  ],
});

/**
 * Stands in for a model (Mastra takes AI SDK language models): searches for a tool, runs the one it found
 * (the slug read from the search result in its prompt) through TOOLMUX_MULTI_EXECUTE_TOOL, then answers
 * with what the tool returned.
 */
function scriptedModel() {
  const usage = {
    inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: undefined, text: undefined, reasoning: undefined },
  };
  const toolCall = (toolName: string, input: unknown) => ({
    content: [
      { type: 'tool-call' as const, toolCallId: `call_${toolName}`, toolName, input: JSON.stringify(input) },
    ],
    finishReason: { unified: 'tool-calls' as const, raw: undefined },
    usage,
    warnings: [],
  });
  return new MockLanguageModelV4({
    doGenerate: async ({ prompt }) => {
      const last = prompt.at(-1);
      const result = last?.role === 'tool' ? last.content[0] : undefined;
      const resultText =
        result?.type === 'tool-result' && result.output.type === 'text' ? result.output.value : '';
      if (result?.type !== 'tool-result') {
        return toolCall('TOOLMUX_SEARCH_TOOLS', { queries: [{ use_case: 'check the status of an order' }] });
      }
      if (result.toolName === 'TOOLMUX_SEARCH_TOOLS') {
        const found = JSON.parse(resultText) as { results: Array<{ tools: Array<{ tool_slug: string }> }> };
        const slug = found.results[0]!.tools[0]!.tool_slug;
        return toolCall('TOOLMUX_MULTI_EXECUTE_TOOL', {
          tools: [{ tool_slug: slug, arguments: { orderId: 'A-1001' } }],
        });
      }
      const order = (JSON.parse(resultText) as { results: Array<{ data: unknown }> }).results[0]!.data;
      return {
        content: [{ type: 'text', text: `Order A-1001: ${JSON.stringify(order)}` }],
        finishReason: { unified: 'stop', raw: undefined },
        usage,
        warnings: [],
      };
    },
  });
}

const apiKey = process.env.OPENAI_API_KEY;
const modelId = `openai/${process.env.OPENAI_MODEL ?? 'gpt-5-mini'}`;
// Mastra's types name the AI SDK provider release it bundles; the mock implements the same specification
const model = apiKey
  ? modelId
  : (scriptedModel() as unknown as ConstructorParameters<typeof Agent>[0]['model']);
console.log(apiKey ? `model: ${modelId}` : 'model: scripted (offline)');

const mux = new ToolMux({ provider: new MastraProvider(), toolkits: [acme], store: ':memory:' });
const session = await mux.create('user_123', { toolkits: ['acme'] });
const tools = await session.tools();
console.log('tools handed to the model:', Object.keys(tools).join(', '));

const agent = new Agent({
  id: 'shop-assistant',
  name: 'Shop assistant',
  instructions:
    'Find the tools you need with TOOLMUX_SEARCH_TOOLS, then run them with TOOLMUX_MULTI_EXECUTE_TOOL.',
  model,
  tools,
});
const { text, steps } = await agent.generate('Where is my order A-1001?', {
  maxSteps: 6,
  onStepFinish: ({ toolCalls, toolResults }) => {
    for (const call of toolCalls)
      console.log(`→ ${call.payload.toolName} ${JSON.stringify(call.payload.args)}`);
    for (const entry of toolResults) {
      const output = entry.payload.result as ToolResult;
      console.log(`← ${entry.payload.toolName} ${output.successful ? 'ok' : `failed: ${output.error}`}`);
    }
  },
});
console.log(`answer after ${steps.length} steps: ${text}`);

for (const log of (await session.logs()).items.reverse()) {
  console.log(`log ${log.toolSlug} ${log.status} (call ${log.callId})`);
}
await mux.close();
