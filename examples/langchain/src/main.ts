/**
 * toolmux with a LangChain agent: a small toolkit, a session whose tools are LangChain structured
 * tools, and `createAgent` from langchain running the loop: the model searches for a tool with
 * TOOLMUX_SEARCH_TOOLS, runs it with TOOLMUX_MULTI_EXECUTE_TOOL, and answers.
 *
 * Offline by default: a scripted fake model (`fakeModel()` from @langchain/core/testing) plays the
 * model, reading the slug to run from the search result it got. With OPENAI_API_KEY set, a real
 * OpenAI model drives the same loop (OPENAI_MODEL picks it, default gpt-4.1-mini).
 */
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { LangChainProvider } from '@toolmux/langchain';
import { createAgent } from 'langchain';
import { z } from 'zod';

const orders = new Map([['A-1001', { status: 'shipped', carrier: 'DHL', eta: '2025-06-03' }]]);

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
      execute: async ({ orderId }) => ({ cancelled: orders.get(orderId)?.status !== 'shipped' }),
    }),
  ],
});

const mux = new ToolMux({ provider: new LangChainProvider(), toolkits: [acme], store: ':memory:' });
const session = await mux.create('user_123', { toolkits: ['acme'] });
const tools = await session.tools();
console.log('tools handed to the agent:', tools.map((tool) => tool.name).join(', '));

const agent = createAgent({ model: await chooseModel(), tools });
const result = await agent.invoke({ messages: [new HumanMessage('Where is my order A-1001?')] });
for (const message of result.messages) console.log(`${message.type}: ${describe(message)}`);

for (const log of (await session.logs()).items.reverse()) {
  console.log(`log: ${log.toolSlug} (${log.callId}) ${log.status} in ${log.durationMs.toFixed(1)} ms`);
}
await mux.close();

async function chooseModel(): Promise<BaseChatModel> {
  if (process.env.OPENAI_API_KEY) {
    const { ChatOpenAI } = await import('@langchain/openai');
    return new ChatOpenAI({ model: process.env.OPENAI_MODEL ?? 'gpt-4.1-mini' });
  }
  console.log('(offline: a scripted fake model plays the model; set OPENAI_API_KEY for a real one)');
  return fakeModel()
    .respond(
      toolCall('call_search', 'TOOLMUX_SEARCH_TOOLS', {
        queries: [{ use_case: 'find the delivery status of an order' }],
      }),
    )
    .respond((messages) => {
      const search = JSON.parse(lastToolResult(messages));
      const slug: string = search.results[0].tools[0].tool_slug;
      return toolCall('call_run', 'TOOLMUX_MULTI_EXECUTE_TOOL', {
        tools: [{ tool_slug: slug, arguments: { orderId: 'A-1001' } }],
      });
    })
    .respond((messages) => {
      const order = JSON.parse(lastToolResult(messages)).results[0].data;
      return new AIMessage(
        `Order A-1001 has ${order.status} with ${order.carrier}; expected on ${order.eta}.`,
      );
    });
}

function toolCall(id: string, name: string, args: Record<string, unknown>): AIMessage {
  return new AIMessage({ content: '', tool_calls: [{ id, name, args, type: 'tool_call' }] });
}

function lastToolResult(messages: BaseMessage[]): string {
  return messages.filter((message) => ToolMessage.isInstance(message)).at(-1)!.text;
}

function describe(message: BaseMessage): string {
  const calls = AIMessage.isInstance(message) ? (message.tool_calls ?? []) : [];
  if (calls.length > 0)
    return calls.map((call) => `calls ${call.name} ${JSON.stringify(call.args)}`).join('; ');
  const text = message.text;
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}
