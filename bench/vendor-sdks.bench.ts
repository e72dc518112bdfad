/**
 * @toolmux/openai, @toolmux/anthropic and @toolmux/google benchmark. Build first (`pnpm build`), then
 * from the repository root: `node bench/vendor-sdks.bench.ts`.
 *
 * (a) Per tool call: `session.handleToolCalls(response)` (session validation, execution log write on a
 *     `:memory:` SQLite store, the reply in the SDK's format) against what a hand-written tool does
 *     with the same response: parse the arguments, validate them with zod, run the same handler,
 *     build the same reply.
 * (a′) Per agent turn, the unit a user pays for: the vendor's real SDK client sends one request to a
 *     loopback server that answers with that tool call, then the call is handled, by hand or by toolmux.
 * (b) Wrap time for the GitHub REST API as 1,000 tools: each provider's `wrapTools()` against a
 *     hand-written map of the same JSON schemas into the SDK's tool type (for Google, the SDK's own
 *     `parametersJsonSchema`, which takes JSON Schema as is), plus the one-off cost of shaping the
 *     schemas (strict rewrite, Gemini subset), which core caches per tool.
 *
 * Medians of interleaved rounds (harness.ts `measureInterleaved`): ratios are paired by round.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import Anthropic from '@anthropic-ai/sdk';
import {
  type FunctionDeclaration,
  type GenerateContentResponse,
  GoogleGenAI,
  type Part,
} from '@google/genai';
import { AnthropicProvider } from '@toolmux/anthropic';
import {
  anthropicStrictSchemaOf,
  defineTool,
  defineToolkit,
  type ExecuteFn,
  geminiSchemaOf,
  type Provider,
  SessionPreset,
  strictSchemaOf,
  type Toolkit,
  ToolMux,
  type ToolSpec,
} from '@toolmux/core';
import { toolkitFromOpenApi } from '@toolmux/core/test';
import { GoogleProvider } from '@toolmux/google';
import { OpenAIProvider } from '@toolmux/openai';
import OpenAI from 'openai';
import { z } from 'zod';
import { measureInterleaved } from './harness.ts';

const silent = { debug() {}, warn() {}, error() {} };
const inputSchema = z.object({
  title: z.string().min(1).describe('What needs to be done'),
  priority: z.enum(['low', 'normal', 'high']).optional().describe('How urgent the task is'),
  labels: z.array(z.string()).optional().describe('Labels to attach'),
});
const handler = async (input: { title: string }) => ({ id: 'task_1', title: input.title });
const tasks = defineToolkit({
  slug: 'tasks',
  name: 'Tasks',
  description: 'To-do list.',
  tools: [
    defineTool({
      slug: 'TASKS_CREATE_TASK',
      description: 'Create a new task with a title and an optional priority.',
      inputSchema,
      execute: (input) => handler(input),
    }),
  ],
});
const args = { title: 'Buy milk', priority: 'high', labels: ['home'] };

/** What a hand-written tool does with a call: parse, validate, run, and the text for the model. */
async function handRun(name: string, raw: unknown): Promise<{ text: string; ok: boolean; data: unknown }> {
  if (name !== 'TASKS_CREATE_TASK') return { text: `Unknown tool ${name}`, ok: false, data: null };
  const parsed = inputSchema.safeParse(typeof raw === 'string' ? JSON.parse(raw) : raw);
  if (!parsed.success) return { text: parsed.error.message, ok: false, data: null };
  const data = await handler(parsed.data);
  return { text: JSON.stringify(data), ok: true, data };
}

/** One vendor: its wire response with one tool call, a hand-written handling, and a real client turn. */
interface Vendor {
  name: string;
  provider: Provider<unknown, any, unknown>;
  wire: unknown;
  parse: (wire: unknown) => unknown;
  hand: (response: any) => Promise<unknown>;
  turn: (url: string) => () => Promise<any>;
}

const vendors: Vendor[] = [
  {
    name: 'OpenAI Chat Completions',
    provider: new OpenAIProvider(),
    wire: {
      id: 'chatcmpl_1',
      object: 'chat.completion',
      created: 0,
      model: 'm',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          logprobs: null,
          message: {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'TASKS_CREATE_TASK', arguments: JSON.stringify(args) },
              },
            ],
          },
        },
      ],
    },
    parse: (wire) => structuredClone(wire),
    hand: async (response: OpenAI.ChatCompletion) =>
      Promise.all(
        (response.choices[0]!.message.tool_calls ?? []).map(async (call) => {
          const fn = call.type === 'function' ? call.function : { name: '', arguments: '{}' };
          return {
            role: 'tool',
            tool_call_id: call.id,
            content: (await handRun(fn.name, fn.arguments)).text,
          };
        }),
      ),
    turn: (url) => {
      const client = new OpenAI({ apiKey: 'k', baseURL: `${url}/v1`, maxRetries: 0 });
      return () =>
        client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    },
  },
  {
    name: 'OpenAI Responses',
    provider: new OpenAIProvider({ api: 'responses' }),
    wire: {
      id: 'resp_1',
      object: 'response',
      created_at: 0,
      status: 'completed',
      model: 'm',
      output: [
        {
          type: 'function_call',
          id: 'fc_1',
          call_id: 'call_1',
          name: 'TASKS_CREATE_TASK',
          arguments: JSON.stringify(args),
          status: 'completed',
        },
      ],
    },
    parse: (wire) => structuredClone(wire),
    hand: async (response: OpenAI.Responses.Response) =>
      Promise.all(
        response.output
          .filter((item) => item.type === 'function_call')
          .map(async (call) => ({
            type: 'function_call_output',
            call_id: call.call_id,
            output: (await handRun(call.name, call.arguments)).text,
          })),
      ),
    turn: (url) => {
      const client = new OpenAI({ apiKey: 'k', baseURL: `${url}/v1`, maxRetries: 0 });
      return () => client.responses.create({ model: 'm', input: 'hi' });
    },
  },
  {
    name: 'Anthropic Messages',
    provider: new AnthropicProvider(),
    wire: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'm',
      content: [{ type: 'tool_use', id: 'toolu_1', name: 'TASKS_CREATE_TASK', input: args }],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1 },
    },
    parse: (wire) => structuredClone(wire),
    hand: async (message: Anthropic.Message) => ({
      role: 'user',
      content: await Promise.all(
        message.content
          .filter((block) => block.type === 'tool_use')
          .map(async (use) => {
            const result = await handRun(use.name, use.input);
            return {
              type: 'tool_result',
              tool_use_id: use.id,
              content: result.text,
              ...(result.ok ? {} : { is_error: true }),
            };
          }),
      ),
    }),
    turn: (url) => {
      const client = new Anthropic({ apiKey: 'k', baseURL: url, maxRetries: 0 });
      return () =>
        client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    },
  },
  {
    name: 'Google Gen AI',
    provider: new GoogleProvider({ logger: silent }),
    wire: {
      candidates: [
        {
          index: 0,
          finishReason: 'STOP',
          content: {
            role: 'model',
            parts: [{ functionCall: { id: 'fc_1', name: 'TASKS_CREATE_TASK', args } }],
          },
        },
      ],
    },
    parse: (wire) => structuredClone(wire),
    hand: async (response: GenerateContentResponse): Promise<Part[]> =>
      Promise.all(
        (response.candidates?.[0]?.content?.parts ?? [])
          .filter((part) => part.functionCall)
          .map(async ({ functionCall }) => {
            const result = await handRun(functionCall!.name!, functionCall!.args);
            return {
              functionResponse: {
                id: functionCall!.id,
                name: functionCall!.name,
                response: result.ok ? { output: result.data } : { error: result.text },
              },
            };
          }),
      ),
    turn: (url) => {
      const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: url } });
      return () => ai.models.generateContent({ model: 'm', contents: 'hi' });
    },
  },
];

/** A loopback server that answers every request with `body`. */
async function loopback(body: unknown) {
  const text = JSON.stringify(body);
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const us = (ns: number) => `${(ns / 1e3).toFixed(2)} µs`;

async function perCall(): Promise<void> {
  console.log(
    '\n(a) Per tool call, one call per response; (a′) per agent turn: the real SDK client requests a loopback server,' +
      ' then the call is handled. 15 rounds, medians, ratios paired by round\n',
  );
  console.log(
    '| SDK | hand-written call | toolmux call | ratio | hand-written turn | toolmux turn | ratio |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const vendor of vendors) {
    const mux = new ToolMux({
      provider: vendor.provider,
      toolkits: [tasks],
      store: ':memory:',
      logger: silent,
    });
    const session = await mux.create('user_1', {
      toolkits: ['tasks'],
      sessionPreset: SessionPreset.DIRECT_TOOLS,
    });
    await session.tools();
    const server = await loopback(vendor.wire);
    const request = vendor.turn(server.url);
    const response = await request();
    // both must answer the call with the task
    for (const reply of [await vendor.hand(response), await session.handleToolCalls(response)]) {
      if (!JSON.stringify(reply).includes('task_1'))
        throw new Error(`${vendor.name}: ${JSON.stringify(reply)}`);
    }
    const settle = () => setImmediate();
    const calls = await measureInterleaved(
      { hand: () => vendor.hand(response), toolmux: () => session.handleToolCalls(response) },
      { rounds: 15, runsPerRound: 2_000, warmupRuns: 2_000, settle },
    );
    const turns = await measureInterleaved(
      {
        hand: async () => vendor.hand(await request()),
        toolmux: async () => session.handleToolCalls(await request()),
      },
      { rounds: 15, runsPerRound: 100, warmupRuns: 200, settle },
    );
    const logs = await session.logs({ limit: 1 });
    if (logs.items[0]?.status !== 'success') throw new Error(`${vendor.name}: no successful call logged`);
    console.log(
      `| ${vendor.name} | ${us(calls.nsPerRun.hand)} | ${us(calls.nsPerRun.toolmux)} | ${calls.ratio('toolmux', 'hand').toFixed(2)}× | ` +
        `${us(turns.nsPerRun.hand)} | ${us(turns.nsPerRun.toolmux)} | ${turns.ratio('toolmux', 'hand').toFixed(2)}× |`,
    );
    await mux.close();
    await server.close();
  }
}

async function specsOf(toolkit: Toolkit): Promise<readonly ToolSpec[]> {
  const capture: Provider<readonly ToolSpec[]> = { name: 'capture', wrapTools: (specs) => specs };
  const mux = new ToolMux({ provider: capture, toolkits: [toolkit], store: ':memory:', logger: silent });
  const session = await mux.create('user_1', {
    toolkits: [toolkit.slug],
    sessionPreset: SessionPreset.DIRECT_TOOLS,
  });
  const specs = await session.tools();
  await mux.close();
  return specs;
}

async function wrapTime(): Promise<void> {
  const document = createRequire(import.meta.url)('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(document, { slug: 'github', limit: 1_000 });
  const specs = await specsOf(toolkit);
  const execute: ExecuteFn = async () => ({ successful: true, data: null, error: null, logId: 'log_0' });
  const hand = {
    chat: () =>
      specs.map((spec) => ({
        type: 'function',
        function: { name: spec.slug, description: spec.description, parameters: spec.inputSchema },
      })),
    responses: () =>
      specs.map((spec) => ({
        type: 'function',
        name: spec.slug,
        description: spec.description,
        parameters: spec.inputSchema,
        strict: false,
      })),
    anthropic: () =>
      specs.map((spec) => ({
        name: spec.slug,
        description: spec.description,
        input_schema: spec.inputSchema,
      })),
    google: () => [
      {
        functionDeclarations: specs.map(
          (spec): FunctionDeclaration => ({
            name: spec.slug,
            description: spec.description,
            parametersJsonSchema: spec.inputSchema,
          }),
        ),
      },
    ],
  };
  // the hand-written strict wraps get the same strict schemas, made beforehand
  const strictSchemas = new Map(specs.map((spec) => [spec, strictSchemaOf(spec)]));
  const anthropicStrict = new Map(specs.map((spec) => [spec, anthropicStrictSchemaOf(spec)]));
  const handStrict = {
    chat: () =>
      specs.map((spec) => {
        const shaped = strictSchemas.get(spec)!;
        return {
          type: 'function',
          function: {
            name: spec.slug,
            description: spec.description,
            parameters: shaped.schema,
            strict: shaped.strict,
          },
        };
      }),
    anthropic: () =>
      specs.map((spec) => {
        const shaped = anthropicStrict.get(spec)!;
        return shaped.strict
          ? { name: spec.slug, description: spec.description, input_schema: shaped.schema, strict: true }
          : { name: spec.slug, description: spec.description, input_schema: spec.inputSchema };
      }),
  };
  const providers = {
    chat: new OpenAIProvider(),
    chatStrict: new OpenAIProvider({ strict: true, logger: silent }),
    responses: new OpenAIProvider({ api: 'responses' }),
    anthropic: new AnthropicProvider(),
    anthropicStrict: new AnthropicProvider({ strict: true, logger: silent }),
    google: new GoogleProvider({ logger: silent }),
  };
  // the shaping that core caches per tool, once per process: timed on fresh spec objects
  const once = (shape: (spec: ToolSpec) => unknown) => {
    const fresh = specs.map((spec) => ({ ...spec }));
    const start = performance.now();
    for (const spec of fresh) shape(spec);
    return performance.now() - start;
  };
  const cold = {
    strict: once(strictSchemaOf),
    anthropicStrict: once(anthropicStrictSchemaOf),
    gemini: once(geminiSchemaOf),
  };
  const wrap = (provider: Provider<unknown, any, unknown>) => () => provider.wrapTools(specs, execute);
  const result = await measureInterleaved(
    {
      handChat: hand.chat,
      chat: wrap(providers.chat),
      handChatStrict: handStrict.chat,
      chatStrict: wrap(providers.chatStrict),
      handResponses: hand.responses,
      responses: wrap(providers.responses),
      handAnthropic: hand.anthropic,
      anthropic: wrap(providers.anthropic),
      handAnthropicStrict: handStrict.anthropic,
      anthropicStrict: wrap(providers.anthropicStrict),
      handGoogle: hand.google,
      google: wrap(providers.google),
    },
    { rounds: 21, runsPerRound: 200, warmupRuns: 100 },
  );
  console.log(
    `\n(b) Wrap time: ${specs.length} GitHub tools, 21 rounds, medians per wrap, ratios paired by round\n`,
  );
  console.log('| wrap | per wrap | vs hand-written |');
  console.log('|---|---:|---:|');
  const row = (label: string, name: keyof typeof result.nsPerRun, baseline: keyof typeof result.nsPerRun) =>
    console.log(`| ${label} | ${us(result.nsPerRun[name])} | ${result.ratio(name, baseline).toFixed(2)}× |`);
  row('hand-written Chat Completions tools', 'handChat', 'handChat');
  row('OpenAIProvider()', 'chat', 'handChat');
  row('hand-written Chat Completions tools, strict schemas', 'handChatStrict', 'handChatStrict');
  row('OpenAIProvider({ strict: true }) (strict schemas cached)', 'chatStrict', 'handChatStrict');
  row('hand-written Responses tools', 'handResponses', 'handResponses');
  row("OpenAIProvider({ api: 'responses' })", 'responses', 'handResponses');
  row('hand-written Anthropic.Tool[]', 'handAnthropic', 'handAnthropic');
  row('AnthropicProvider()', 'anthropic', 'handAnthropic');
  row('hand-written Anthropic.Tool[], strict schemas', 'handAnthropicStrict', 'handAnthropicStrict');
  row(
    'AnthropicProvider({ strict: true }) (strict schemas cached)',
    'anthropicStrict',
    'handAnthropicStrict',
  );
  row('hand-written functionDeclarations (parametersJsonSchema)', 'handGoogle', 'handGoogle');
  row('GoogleProvider() (Gemini schemas cached)', 'google', 'handGoogle');
  console.log(
    `\nOnce per tool and process (core caches it per spec), for all ${specs.length} tools: OpenAI strict rewrite ` +
      `${cold.strict.toFixed(1)} ms, Anthropic strict (the same rewrite, then bounds into descriptions) ${cold.anthropicStrict.toFixed(1)} ms, ` +
      `Gemini subset ${cold.gemini.toFixed(1)} ms.`,
  );
}

await perCall();
await wrapTime();
