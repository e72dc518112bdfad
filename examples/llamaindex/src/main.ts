/**
 * toolmux with LlamaIndex.TS: a session's tools as LlamaIndex `FunctionTool`s for `agent({ tools })`,
 * driven through search → multi-execute. Runs offline with a scripted model (LlamaIndex's own MockLLM,
 * made to play a script); with OPENAI_API_KEY set it asks a real OpenAI model instead (OPENAI_MODEL,
 * default gpt-5-mini).
 */
import type { ChatMessage, ChatResponseChunk, LLMChatParamsStreaming, ToolCall } from '@llamaindex/core/llms';
import { MockLLM } from '@llamaindex/core/llms/mock';
import { openai } from '@llamaindex/openai';
import { agent, agentToolCallEvent, agentToolCallResultEvent } from '@llamaindex/workflow';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { answerUnknownToolCalls, LlamaIndexProvider } from '@toolmux/llamaindex';
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
 * Stands in for a model: searches for a tool, runs the one it found (the slug read from the search result
 * in its messages) through TOOLMUX_MULTI_EXECUTE_TOOL, then answers with what the tool returned. The
 * provider answers LlamaIndex with JSON in single quotes (see the package README), read back here.
 */
class ScriptedLLM extends MockLLM {
  constructor() {
    super({ timeBetweenToken: 0 });
  }

  override async chat(params: LLMChatParamsStreaming): Promise<AsyncIterable<ChatResponseChunk>>;
  override async chat(params: never): Promise<never>;
  override async chat({ messages }: LLMChatParamsStreaming): Promise<AsyncIterable<ChatResponseChunk>> {
    const answer = nextStep(messages);
    return (async function* () {
      yield typeof answer === 'string'
        ? { delta: answer, raw: {} }
        : { delta: '', raw: {}, options: { toolCall: [answer] } };
    })();
  }
}

function nextStep(messages: ChatMessage[]): ToolCall | string {
  const toolResult = (messages.at(-1)?.options as { toolResult?: { id: string; result: string } } | undefined)
    ?.toolResult;
  const call = (name: string, input: ToolCall['input']) => ({ name, input, id: `call_${name}` });
  if (!toolResult)
    return call('TOOLMUX_SEARCH_TOOLS', { queries: [{ use_case: 'check the status of an order' }] });
  const result = JSON.parse(toolResult.result.replaceAll("'", '"'));
  if (toolResult.id === 'call_TOOLMUX_SEARCH_TOOLS') {
    const slug = (result as { results: Array<{ tools: Array<{ tool_slug: string }> }> }).results[0]!.tools[0]!
      .tool_slug;
    return call('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: slug, arguments: { orderId: 'A-1001' } }],
    });
  }
  return `Order A-1001: ${JSON.stringify((result as { results: Array<{ data: unknown }> }).results[0]!.data)}`;
}

const apiKey = process.env.OPENAI_API_KEY;
const modelName = process.env.OPENAI_MODEL ?? 'gpt-5-mini';
// a tool name the agent has no tool of would leave LlamaIndex's agent hanging: the session answers it
const llm = answerUnknownToolCalls(apiKey ? openai({ apiKey, model: modelName }) : new ScriptedLLM());
console.log(apiKey ? `model: OpenAI ${modelName}` : 'model: scripted (offline)');

const mux = new ToolMux({ provider: new LlamaIndexProvider(), toolkits: [acme], store: ':memory:' });
const session = await mux.create('user_123', { toolkits: ['acme'] });
const tools = await session.tools();
console.log('tools handed to the model:', tools.map((tool) => tool.metadata.name).join(', '));

const assistant = agent({
  llm,
  tools,
  systemPrompt:
    'Find the tools you need with TOOLMUX_SEARCH_TOOLS, then run them with TOOLMUX_MULTI_EXECUTE_TOOL.',
});
let answer = '';
for await (const event of assistant.runStream('Where is my order A-1001?')) {
  if (agentToolCallEvent.include(event)) {
    console.log(`→ ${event.data.toolName} ${JSON.stringify(event.data.toolKwargs)}`);
  } else if (agentToolCallResultEvent.include(event)) {
    const output = event.data.toolOutput.result;
    console.log(`← ${event.data.toolName} ${output.startsWith('Error') ? `failed: ${output}` : 'ok'}`);
  } else if (typeof (event.data as { result?: unknown })?.result === 'string') {
    answer = (event.data as { result: string }).result;
  }
}
console.log(`answer: ${answer}`);

for (const log of (await session.logs()).items.reverse()) {
  console.log(`log ${log.toolSlug} ${log.status} (call ${log.callId})`);
}
await mux.close();
