/**
 * @toolmux/llamaindex benchmark. Build first (`pnpm build`), then from the repository root:
 * `node bench/llamaindex.bench.ts`.
 *
 * (a) Per call inside LlamaIndex's own agent loop, the unit a user pays for: one `agent({ llm, tools })
 *     .run()` with LlamaIndex's `MockLLM` made to answer a tool call first and text second: two model
 *     steps and one tool call, with a hand-written `tool({ parameters: zod, execute })` and with the
 *     toolmux tool (DIRECT_TOOLS, ':memory:' store), the same handler and arguments. Next to it, the
 *     bare `call` of both tools.
 * (b) Wrap time for the GitHub REST API as 1,000 tools: `LlamaIndexProvider.wrapTools()` against a
 *     hand-written wrap with `FunctionTool.from()` over the same JSON schemas, in both strict modes; and
 *     the same with every schema read once, as the LLM class does when it sends the tools.
 *
 * Every figure is the median of several rounds, the contenders measured in the same rounds, taking turns.
 */
import { createRequire } from 'node:module';
import { setImmediate } from 'node:timers/promises';
import type { ChatResponseChunk, LLMChatParamsStreaming } from '@llamaindex/core/llms';
import { MockLLM } from '@llamaindex/core/llms/mock';
import { FunctionTool, tool } from '@llamaindex/core/tools';
import { agent } from '@llamaindex/workflow';
import {
  defineTool,
  defineToolkit,
  type ExecuteFn,
  type JSONSchema,
  type Provider,
  SessionPreset,
  strictSchemaOf,
  type Toolkit,
  ToolMux,
  type ToolSpec,
} from '@toolmux/core';
import { toolkitFromOpenApi } from '@toolmux/core/test';
import { LlamaIndexProvider } from '@toolmux/llamaindex';
import { z } from 'zod';
import { measureInterleaved } from './harness.ts';

const silent = { debug() {}, warn() {}, error() {} };

const inputSchema = z.object({
  title: z.string().min(1).describe('What needs to be done'),
  priority: z.enum(['low', 'normal', 'high']).optional().describe('How urgent the task is'),
  labels: z.array(z.string()).optional().describe('Labels to attach'),
});
const description = 'Create a new task with a title and an optional priority.';
const handler = async (input: { title: string }) => ({ id: 'task_1', title: input.title });
const args = { title: 'Buy milk', priority: 'high' as const, labels: ['home'] };

/** LlamaIndex's MockLLM answering a call of TASKS_CREATE_TASK first, then the final text. */
class TwoStepLLM extends MockLLM {
  #step = 0;
  constructor() {
    super({ timeBetweenToken: 0 });
  }
  override async chat(params: LLMChatParamsStreaming): Promise<AsyncIterable<ChatResponseChunk>>;
  override async chat(params: never): Promise<never>;
  override async chat(): Promise<AsyncIterable<ChatResponseChunk>> {
    const first = this.#step++ === 0;
    return (async function* () {
      if (first) {
        const toolCall = [{ name: 'TASKS_CREATE_TASK', id: 'call_1', input: JSON.stringify(args) }];
        yield { delta: '', raw: {}, options: { toolCall } };
      } else {
        yield { delta: 'Done: the task is created.', raw: {} };
      }
    })();
  }
}

// ---------------------------------------------------------------------------------------------
// (a) per call inside LlamaIndex's agent loop

async function perCall(): Promise<void> {
  const toolkits = [
    defineToolkit({
      slug: 'tasks',
      name: 'Tasks',
      description: 'To-do list.',
      tools: [
        defineTool({
          slug: 'TASKS_CREATE_TASK',
          description,
          inputSchema,
          execute: (input) => handler(input),
        }),
      ],
    }),
  ];
  const native = tool({ name: 'TASKS_CREATE_TASK', description, parameters: inputSchema, execute: handler });
  const agentTurn = (tools: FunctionTool<never, never>[]) =>
    agent({ llm: new TwoStepLLM(), tools, verbose: false }).run('Add "Buy milk" to my tasks, high priority.');

  const mux = new ToolMux({
    provider: new LlamaIndexProvider(),
    toolkits,
    store: ':memory:',
    logger: silent,
  });
  const session = await mux.create('user_1', {
    toolkits: ['tasks'],
    sessionPreset: SessionPreset.DIRECT_TOOLS,
  });
  const tools = await session.tools();

  for (const [name, set] of [
    ['native', [native]],
    ['toolmux', tools],
  ] as const) {
    const result = await agentTurn(set as never);
    if (result.data.result !== 'Done: the task is created.') throw new Error(`the ${name} loop went wrong`);
  }
  if ((await session.logs({ limit: 1 })).items[0]?.status !== 'success')
    throw new Error('no successful call');

  const loop = await measureInterleaved(
    { native: () => agentTurn([native] as never), toolmux: () => agentTurn(tools as never) },
    { rounds: 15, runsPerRound: 40, warmupRuns: 60, settle: () => setImmediate() },
  );
  const bare = await measureInterleaved(
    { native: async () => native.call(args), toolmux: async () => tools[0]!.call(args) },
    { rounds: 15, runsPerRound: 2_000, warmupRuns: 2_000, settle: () => setImmediate() },
  );
  await mux.close();

  const us = (ns: number) => `${(ns / 1e3).toFixed(1)} µs`;
  console.log('\n(a) Per call: hand-written tool({ parameters: zod }) vs the toolmux tool, same handler\n');
  console.log('| measurement | hand-written | toolmux | ratio | difference per call |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(
    `| one agent().run() (2 model steps + 1 tool call) | ${us(loop.nsPerRun.native)} | ${us(loop.nsPerRun.toolmux)} | ${loop.ratio('toolmux', 'native').toFixed(2)}× | ${us(loop.difference('toolmux', 'native'))} |`,
  );
  console.log(
    `| bare call (toolmux: validation + execution log) | ${us(bare.nsPerRun.native)} | ${us(bare.nsPerRun.toolmux)} | ${bare.ratio('toolmux', 'native').toFixed(2)}× | ${us(bare.difference('toolmux', 'native'))} |`,
  );
}

// ---------------------------------------------------------------------------------------------
// (b) wrap time

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

/** What a user would write without toolmux: `FunctionTool.from()` per tool over its JSON schema. */
function handWrapped(
  specs: readonly ToolSpec[],
  schemas: ReadonlyMap<ToolSpec, JSONSchema>,
  execute: ExecuteFn,
) {
  return specs.map((spec) =>
    FunctionTool.from(async (input: unknown) => JSON.stringify(await execute(spec.slug, input)), {
      name: spec.slug,
      description: spec.description,
      parameters: schemas.get(spec)!,
    } as never),
  );
}

/** Reads every tool's parameters, as the LLM class does when it sends the tools. */
function readAll(tools: Array<{ metadata: { parameters?: unknown } }>): void {
  for (const each of tools) if (!each.metadata.parameters) throw new Error('no schema');
}

async function wrapTime(): Promise<void> {
  const document = createRequire(import.meta.url)('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(document, { slug: 'github', limit: 1_000 });
  const specs = await specsOf(toolkit);
  const execute: ExecuteFn = async () => ({ successful: true, data: null, error: null, logId: 'log_0' });
  const plain = new Map(specs.map((spec) => [spec, spec.inputSchema]));
  const strictSchemas = new Map(specs.map((spec) => [spec, strictSchemaOf(spec).schema]));
  const provider = new LlamaIndexProvider();
  const strictProvider = new LlamaIndexProvider({ strict: true, logger: silent });
  const wraps = 20;
  const times = (run: () => unknown) => async () => {
    for (let index = 0; index < wraps; index++) run();
  };
  const result = await measureInterleaved(
    {
      hand: times(() => handWrapped(specs, plain, execute)),
      toolmux: times(() => provider.wrapTools(specs, execute)),
      handStrict: times(() => handWrapped(specs, strictSchemas, execute)),
      toolmuxStrict: times(() => strictProvider.wrapTools(specs, execute)),
      handRead: times(() => readAll(handWrapped(specs, plain, execute))),
      toolmuxRead: times(() => readAll(provider.wrapTools(specs, execute))),
    },
    { rounds: 11, runsPerRound: 3, warmupRuns: 2 },
  );
  // the first wrap of a tool copies its schema (once per schema object): time it on fresh schema objects
  const cold: number[] = [];
  for (let round = 0; round < 5; round++) {
    const fresh = specs.map((spec) => ({ ...spec, inputSchema: structuredClone(spec.inputSchema) }));
    const started = process.hrtime.bigint();
    provider.wrapTools(fresh, execute);
    cold.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  const ms = (ns: number) => (ns / wraps / 1e6).toFixed(2);
  console.log(`\n(b) Wrap time: ${specs.length} GitHub tools, median per wrap\n`);
  console.log('| wrap | hand-written FunctionTool.from() | LlamaIndexProvider | ratio |');
  console.log('|---|---:|---:|---:|');
  for (const [label, hand, ours] of [
    ['non-strict', 'hand', 'toolmux'],
    ['strict schemas', 'handStrict', 'toolmuxStrict'],
    ['non-strict, every schema read once', 'handRead', 'toolmuxRead'],
  ] as const) {
    console.log(
      `| ${label} | ${ms(result.nsPerRun[hand])} ms | ${ms(result.nsPerRun[ours])} ms | ${result.ratio(ours, hand).toFixed(2)}× |`,
    );
  }
  console.log(
    `\nOnce per tool and process, the first wrap copies each schema: ${cold.sort((a, b) => a - b)[2]!.toFixed(1)} ms for all ${specs.length} tools (median of 5).`,
  );
}

await perCall();
await wrapTime();
