/**
 * toolmux with the official Anthropic SDK: the session's tools as `Anthropic.Tool[]`, and
 * `session.handleToolCalls()` answering the model's `tool_use` blocks with `tool_result` blocks
 * (search → multi-execute). Runs offline against a scripted local server that answers in Anthropic's
 * wire format; with ANTHROPIC_API_KEY set it asks a real Claude model instead (ANTHROPIC_MODEL,
 * default claude-sonnet-4-5).
 */
import Anthropic from '@anthropic-ai/sdk';
import { AnthropicProvider } from '@toolmux/anthropic';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { type ScriptedRequest, startScriptedModelServer } from '@toolmux/core/test';
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
 * Stands in for Claude: searches for a tool, runs the one it found (the slug read from the search
 * result the SDK sent back) through TOOLMUX_MULTI_EXECUTE_TOOL, then answers with what it returned.
 */
function scriptedTurn(request: ScriptedRequest) {
  const messages = request.body.messages as Anthropic.MessageParam[];
  const last = messages.at(-1)!;
  const message = (content: unknown[], stop: 'tool_use' | 'end_turn') => ({
    id: 'msg_scripted',
    type: 'message',
    role: 'assistant',
    model: 'scripted',
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: 0, output_tokens: 0 },
  });
  const call = (name: string, input: unknown) =>
    message([{ type: 'tool_use', id: `toolu_${name}`, name, input }], 'tool_use');
  if (typeof last.content === 'string') {
    return call('TOOLMUX_SEARCH_TOOLS', { queries: [{ use_case: 'check the status of an order' }] });
  }
  const block = last.content[0] as Anthropic.ToolResultBlockParam;
  const result = JSON.parse(block.content as string);
  if ('toolkit_connections' in result) {
    const slug = result.results[0].tools[0].tool_slug;
    return call('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: slug, arguments: { orderId: 'A-1001' } }],
    });
  }
  return message(
    [{ type: 'text', text: `Order A-1001: ${JSON.stringify(result.results[0].data)}` }],
    'end_turn',
  );
}

const apiKey = process.env.ANTHROPIC_API_KEY;
const scripted = apiKey ? undefined : await startScriptedModelServer(Array(3).fill(scriptedTurn));
const anthropic = new Anthropic(scripted ? { apiKey: 'offline', baseURL: scripted.url } : { apiKey });
const model = apiKey ? (process.env.ANTHROPIC_MODEL ?? 'claude-sonnet-4-5') : 'scripted';
console.log(apiKey ? `model: Anthropic ${model}` : 'model: scripted local server (offline)');

const mux = new ToolMux({ provider: new AnthropicProvider(), toolkits: [acme], store: ':memory:' });
const session = await mux.create('user_123', { toolkits: ['acme'] });
const tools = await session.tools();
console.log('tools handed to the model:', tools.map((tool) => tool.name).join(', '));

const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Where is my order A-1001?' }];
for (let step = 0; step < 6; step++) {
  const message = await anthropic.messages.create({
    model,
    max_tokens: 1024,
    system:
      'Find the tools you need with TOOLMUX_SEARCH_TOOLS, then run them with TOOLMUX_MULTI_EXECUTE_TOOL.',
    messages,
    tools,
  });
  messages.push({ role: 'assistant', content: message.content });
  if (message.stop_reason !== 'tool_use') {
    const text = message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
    console.log(`answer after ${step + 1} steps: ${text}`);
    break;
  }
  for (const block of message.content) {
    if (block.type === 'tool_use') console.log(`→ ${block.name} ${JSON.stringify(block.input)}`);
  }
  const results = await session.handleToolCalls(message); // one user message of tool_result blocks
  for (const block of results.content) {
    console.log(
      `← ${block.tool_use_id}${block.is_error ? ' (error)' : ''} ${String(block.content).slice(0, 80)}`,
    );
  }
  messages.push(results);
}

for (const log of (await session.logs()).items.reverse()) {
  console.log(`log ${log.toolSlug} ${log.status} (call ${log.callId})`);
}
await mux.close();
await scripted?.close();
