/**
 * toolmux with the OpenAI Agents SDK: a small toolkit, a session whose tools are `FunctionTool[]`, and
 * a real `run()` of an Agent that searches for a tool and runs it through TOOLMUX_MULTI_EXECUTE_TOOL.
 *
 * Offline by default: a ScriptedModel plays the model (it reads the search result it was given and
 * calls the tool it found). With OPENAI_API_KEY set, a real OpenAI model drives the same agent.
 */
import { Agent, type AgentInputItem, type Model, run, setTracingDisabled } from '@openai/agents';
import { assistantMessage, functionCall, modelResponder, ScriptedModel } from '@openai/agents/testing';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { OpenAIAgentsProvider } from '@toolmux/openai-agents';
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
      inputSchema: z.object({ orderId: z.string().describe('The order id'), reason: z.string().optional() }),
      annotations: { destructiveHint: true },
      execute: async ({ orderId }) => ({ cancelled: orders.get(orderId)?.status !== 'shipped' }),
    }),
  ],
});

const online = Boolean(process.env.OPENAI_API_KEY);
if (!online) setTracingDisabled(true);

const mux = new ToolMux({
  provider: new OpenAIAgentsProvider({ strict: true }),
  toolkits: [acme],
  store: ':memory:',
});
const session = await mux.create('user_123', { toolkits: ['acme'] });
const tools = await session.tools();
console.log(
  'tools handed to the agent:',
  tools.map((tool) => `${tool.name}${tool.strict ? ' (strict)' : ''}`).join(', '),
);

/** The text the model was given as the output of one tool call. */
function toolOutput(input: string | AgentInputItem[], callId: string): string {
  const item = (Array.isArray(input) ? input : []).find(
    (entry) => entry.type === 'function_call_result' && entry.callId === callId,
  );
  if (item?.type !== 'function_call_result') throw new Error(`no output for ${callId}`);
  return typeof item.output === 'string' ? item.output : 'text' in item.output ? item.output.text : '';
}

/** Plays the model offline: search, run what the search found, answer. */
function scriptedModel(): Model {
  return new ScriptedModel([
    [
      functionCall(
        'TOOLMUX_SEARCH_TOOLS',
        { queries: [{ use_case: 'get the status of an order', known_fields: 'orderId: A-1001' }] },
        { callId: 'call_search' },
      ),
    ],
    modelResponder(({ request }) => {
      const search = JSON.parse(toolOutput(request.input, 'call_search'));
      const slug: string = search.results[0].tools[0].tool_slug;
      console.log('the model found:', slug);
      // strict mode: the arguments of TOOLMUX_MULTI_EXECUTE_TOOL are a JSON string
      const call = { tool_slug: slug, arguments: JSON.stringify({ orderId: 'A-1001' }) };
      return [functionCall('TOOLMUX_MULTI_EXECUTE_TOOL', { tools: [call] }, { callId: 'call_run' })];
    }),
    modelResponder(({ request }) => {
      const { results } = JSON.parse(toolOutput(request.input, 'call_run'));
      const order = results[0].data;
      return [assistantMessage(`Order A-1001 is ${order.status} with ${order.carrier}.`)];
    }),
  ]);
}

const agent = new Agent({
  name: 'Acme support',
  instructions:
    'Answer questions about Acme orders. Find tools with TOOLMUX_SEARCH_TOOLS, run them with TOOLMUX_MULTI_EXECUTE_TOOL.',
  tools,
  ...(online ? { model: process.env.OPENAI_MODEL ?? 'gpt-5.4-mini' } : { model: scriptedModel() }),
});
const result = await run(agent, 'Where is my order A-1001?', { signal: AbortSignal.timeout(120_000) });
console.log(`${online ? 'OpenAI' : 'scripted'} model answered:`, result.finalOutput);

for (const log of (await session.logs()).items.reverse()) {
  console.log(`log ${log.toolSlug} ${log.status} call ${log.callId} ${log.durationMs.toFixed(2)} ms`);
}
await mux.close();
