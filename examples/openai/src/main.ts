/**
 * toolmux with the official OpenAI SDK: the session's tools as the `tools` of Chat Completions, and
 * `session.handleToolCalls()` running the model's tool calls (search → multi-execute). Runs offline
 * against a scripted local server that answers in OpenAI's wire format; with OPENAI_API_KEY set it asks
 * a real OpenAI model instead (OPENAI_MODEL, default gpt-5-mini).
 */
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { type ScriptedRequest, startScriptedModelServer } from '@toolmux/core/test';
import { OpenAIProvider } from '@toolmux/openai';
import OpenAI from 'openai';
import { z } from 'zod';

const orders = new Map([['A-1001', { status: 'shipped', carrier: 'DHL', eta: '2026-03-14' }]]);
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
  ],
});

/**
 * Stands in for OpenAI: searches for a tool, runs the one it found (the slug read from the search
 * result the SDK sent back) through TOOLMUX_MULTI_EXECUTE_TOOL, then answers with what it returned.
 */
function scriptedTurn(request: ScriptedRequest) {
  const messages = request.body.messages as Array<{ role: string; content: string }>;
  const last = messages.at(-1)!;
  const completion = (message: Record<string, unknown>) => ({
    id: 'chatcmpl_scripted',
    object: 'chat.completion',
    created: 0,
    model: 'scripted',
    choices: [
      { index: 0, finish_reason: message.tool_calls ? 'tool_calls' : 'stop', logprobs: null, message },
    ],
  });
  const call = (name: string, args: unknown) =>
    completion({
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: `call_${name}`, type: 'function', function: { name, arguments: JSON.stringify(args) } },
      ],
    });
  if (last.role === 'user')
    return call('TOOLMUX_SEARCH_TOOLS', { queries: [{ use_case: 'check the status of an order' }] });
  const result = JSON.parse(last.content);
  if ('results' in result && 'toolkit_connections' in result) {
    const slug = result.results[0].tools[0].tool_slug;
    return call('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: slug, arguments: { orderId: 'A-1001' } }],
    });
  }
  return completion({
    role: 'assistant',
    content: `Order A-1001: ${JSON.stringify(result.results[0].data)}`,
  });
}

const apiKey = process.env.OPENAI_API_KEY;
const scripted = apiKey ? undefined : await startScriptedModelServer(Array(3).fill(scriptedTurn));
const openai = new OpenAI(scripted ? { apiKey: 'offline', baseURL: `${scripted.url}/v1` } : { apiKey });
const model = apiKey ? (process.env.OPENAI_MODEL ?? 'gpt-5-mini') : 'scripted';
console.log(apiKey ? `model: OpenAI ${model}` : 'model: scripted local server (offline)');

const mux = new ToolMux({
  provider: new OpenAIProvider({ api: 'chat' }),
  toolkits: [acme],
  store: ':memory:',
});
const session = await mux.create('user_123', { toolkits: ['acme'] });
const tools = await session.tools();
console.log('tools handed to the model:', tools.map((tool) => tool.function.name).join(', '));

const messages: OpenAI.ChatCompletionMessageParam[] = [
  {
    role: 'system',
    content:
      'Find the tools you need with TOOLMUX_SEARCH_TOOLS, then run them with TOOLMUX_MULTI_EXECUTE_TOOL.',
  },
  { role: 'user', content: 'Where is my order A-1001?' },
];
for (let step = 0; step < 6; step++) {
  const response = await openai.chat.completions.create({ model, messages, tools });
  const message = response.choices[0]!.message;
  messages.push(message);
  if (!message.tool_calls?.length) {
    console.log(`answer after ${step + 1} steps: ${message.content}`);
    break;
  }
  for (const call of message.tool_calls) {
    if (call.type === 'function') console.log(`→ ${call.function.name} ${call.function.arguments}`);
  }
  const results = await session.handleToolCalls(response); // one `tool` message per call
  for (const result of results)
    console.log(`← ${result.tool_call_id} ${String(result.content).slice(0, 80)}`);
  messages.push(...results);
}

for (const log of (await session.logs()).items.reverse()) {
  console.log(`log ${log.toolSlug} ${log.status} (call ${log.callId})`);
}
await mux.close();
await scripted?.close();
