/**
 * toolmux with Google's Gen AI SDK: the session's tools as Gemini function declarations, and
 * `session.handleToolCalls()` answering the model's function calls with `functionResponse` parts
 * (search → multi-execute). Runs offline against a scripted local server that answers in the Gemini
 * API's wire format; with GEMINI_API_KEY set it asks a real Gemini model instead (GEMINI_MODEL,
 * default gemini-2.5-flash).
 */
import { type Content, GoogleGenAI } from '@google/genai';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { type ScriptedRequest, startScriptedModelServer } from '@toolmux/core/test';
import { GoogleProvider } from '@toolmux/google';
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
 * Stands in for Gemini: searches for a tool, runs the one it found (the slug read from the search
 * result the SDK sent back) through TOOLMUX_MULTI_EXECUTE_TOOL, then answers with what it returned.
 * Gemini's schemas cannot declare free-form objects, so the tool's arguments go as a string of JSON.
 */
function scriptedTurn(request: ScriptedRequest) {
  const contents = request.body.contents as Content[];
  const part = contents.at(-1)!.parts![0]!;
  const respond = (parts: unknown[]) => ({
    candidates: [{ index: 0, finishReason: 'STOP', content: { role: 'model', parts } }],
  });
  const call = (name: string, args: unknown) => respond([{ functionCall: { id: `fc_${name}`, name, args } }]);
  if (!part.functionResponse) {
    return call('TOOLMUX_SEARCH_TOOLS', { queries: [{ use_case: 'check the status of an order' }] });
  }
  const output = part.functionResponse.response!.output as Record<string, any>;
  if ('toolkit_connections' in output) {
    const slug = output.results[0].tools[0].tool_slug;
    return call('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: slug, arguments: JSON.stringify({ orderId: 'A-1001' }) }],
    });
  }
  return respond([{ text: `Order A-1001: ${JSON.stringify(output.results[0].data)}` }]);
}

const apiKey = process.env.GEMINI_API_KEY;
const scripted = apiKey ? undefined : await startScriptedModelServer(Array(3).fill(scriptedTurn));
const ai = new GoogleGenAI(
  scripted ? { apiKey: 'offline', httpOptions: { baseUrl: scripted.url } } : { apiKey },
);
const model = apiKey ? (process.env.GEMINI_MODEL ?? 'gemini-2.5-flash') : 'scripted';
console.log(apiKey ? `model: Gemini ${model}` : 'model: scripted local server (offline)');

const mux = new ToolMux({ provider: new GoogleProvider(), toolkits: [acme], store: ':memory:' });
const session = await mux.create('user_123', { toolkits: ['acme'] });
const tools = await session.tools();
console.log('tools handed to the model:', tools[0].functionDeclarations.map((tool) => tool.name).join(', '));

const contents: Content[] = [{ role: 'user', parts: [{ text: 'Where is my order A-1001?' }] }];
for (let step = 0; step < 6; step++) {
  const response = await ai.models.generateContent({
    model,
    contents,
    config: {
      tools,
      systemInstruction:
        'Find the tools you need with TOOLMUX_SEARCH_TOOLS, then run them with TOOLMUX_MULTI_EXECUTE_TOOL.',
    },
  });
  if (!response.functionCalls?.length) {
    console.log(`answer after ${step + 1} steps: ${response.text}`);
    break;
  }
  for (const call of response.functionCalls) console.log(`→ ${call.name} ${JSON.stringify(call.args)}`);
  contents.push(response.candidates![0]!.content!);
  const parts = await session.handleToolCalls(response); // one functionResponse part per call
  for (const { functionResponse } of parts) {
    console.log(`← ${functionResponse!.name} ${JSON.stringify(functionResponse!.response).slice(0, 80)}`);
  }
  contents.push({ role: 'user', parts });
}

for (const log of (await session.logs()).items.reverse()) {
  console.log(`log ${log.toolSlug} ${log.status} (call ${log.callId})`);
}
await mux.close();
await scripted?.close();
