/**
 * @toolmux/mastra benchmark. Build first (`pnpm build`), then from the repository root:
 * `node bench/mastra.bench.ts`.
 *
 * (a) Per call inside Mastra's own agent loop, the unit a user pays for: one `agent.generate()` with a
 *     mock model (`MockLanguageModelV4` from 'ai/test') that answers a tool call first and text second
 *     (`maxSteps: 2`): two model steps and one tool call, with a hand-written `createTool({ inputSchema:
 *     zod, execute })` and with the toolmux tool (DIRECT_TOOLS, ':memory:' store), the same handler and
 *     arguments. Next to it, the bare `execute` of both tools.
 * (b) Wrap time for the GitHub REST API as 1,000 tools: `MastraProvider.wrapTools()` against a
 *     hand-written wrap with `createTool()` over the same JSON schemas, in both strict modes; and the
 *     same with every schema read once, as the first `agent.generate()` does.
 *
 * Every figure is the median of several rounds, the contenders measured in the same rounds, taking turns.
 */
import { createRequire } from 'node:module';
import { setImmediate } from 'node:timers/promises';
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
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
import { MastraProvider, type MastraToolSet } from '@toolmux/mastra';
import { MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';
import { measureInterleaved } from './harness.ts';

const silent = { debug() {}, warn() {}, error() {} };
type AgentModel = ConstructorParameters<typeof Agent>[0]['model'];
type AgentTools = NonNullable<ConstructorParameters<typeof Agent>[0]['tools']>;

const inputSchema = z.object({
  title: z.string().min(1).describe('What needs to be done'),
  priority: z.enum(['low', 'normal', 'high']).optional().describe('How urgent the task is'),
  labels: z.array(z.string()).optional().describe('Labels to attach'),
});
const description = 'Create a new task with a title and an optional priority.';
const handler = async (input: { title: string }) => ({ id: 'task_1', title: input.title });
const args = { title: 'Buy milk', priority: 'high' as const, labels: ['home'] };

// ---------------------------------------------------------------------------------------------
// (a) per call inside Mastra's agent loop

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
  const native = {
    TASKS_CREATE_TASK: createTool({ id: 'TASKS_CREATE_TASK', description, inputSchema, execute: handler }),
  };
  const usage = {
    inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 5, text: 5, reasoning: undefined },
  };
  const script = [
    {
      content: [
        {
          type: 'tool-call' as const,
          toolCallId: 'call_1',
          toolName: 'TASKS_CREATE_TASK',
          input: JSON.stringify(args),
        },
      ],
      finishReason: { unified: 'tool-calls' as const, raw: undefined },
      usage,
      warnings: [],
    },
    {
      content: [{ type: 'text' as const, text: 'Done: the task is created.' }],
      finishReason: { unified: 'stop' as const, raw: undefined },
      usage,
      warnings: [],
    },
  ];
  // a new agent and mock per run: the mock plays its script from the start
  const agentTurn = (tools: AgentTools) =>
    new Agent({
      id: 'bench',
      name: 'Bench',
      instructions: 'Use the tools.',
      model: new MockLanguageModelV4({ doGenerate: script }) as unknown as AgentModel,
      tools,
    }).generate('Add "Buy milk" to my tasks, high priority, label it home.', { maxSteps: 2 });

  const mux = new ToolMux({ provider: new MastraProvider(), toolkits, store: ':memory:', logger: silent });
  const session = await mux.create('user_1', {
    toolkits: ['tasks'],
    sessionPreset: SessionPreset.DIRECT_TOOLS,
  });
  const tools = await session.tools();

  for (const [name, set] of [
    ['native', native],
    ['toolmux', tools],
  ] as const) {
    const result = await agentTurn(set as AgentTools);
    const output = result.toolResults[0]?.payload.result as { title?: string; data?: { title?: string } };
    if (result.text !== 'Done: the task is created.' || (output?.data ?? output)?.title !== 'Buy milk') {
      throw new Error(`the ${name} loop went wrong: ${JSON.stringify(result.toolResults)}`);
    }
  }

  const loop = await measureInterleaved(
    { native: () => agentTurn(native as AgentTools), toolmux: () => agentTurn(tools as AgentTools) },
    { rounds: 15, runsPerRound: 40, warmupRuns: 60, settle: () => setImmediate() },
  );
  const context = { agent: { toolCallId: 'call_1', messages: [] } } as never;
  const bare = await measureInterleaved(
    {
      native: () => native.TASKS_CREATE_TASK.execute!(args, context) as Promise<unknown>,
      toolmux: () => tools.TASKS_CREATE_TASK!.execute!(args, context) as Promise<unknown>,
    },
    { rounds: 15, runsPerRound: 2_000, warmupRuns: 2_000, settle: () => setImmediate() },
  );
  await mux.close();

  const us = (ns: number) => `${(ns / 1e3).toFixed(1)} µs`;
  console.log(
    '\n(a) Per call: hand-written createTool({ inputSchema: zod }) vs the toolmux tool, same handler\n',
  );
  console.log('| measurement | hand-written | toolmux | ratio | difference per call |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(
    `| one agent.generate() (2 model steps + 1 tool call) | ${us(loop.nsPerRun.native)} | ${us(loop.nsPerRun.toolmux)} | ${loop.ratio('toolmux', 'native').toFixed(2)}× | ${us(loop.difference('toolmux', 'native'))} |`,
  );
  console.log(
    `| bare execute (toolmux: validation + execution log) | ${us(bare.nsPerRun.native)} | ${us(bare.nsPerRun.toolmux)} | ${bare.ratio('toolmux', 'native').toFixed(2)}× | ${us(bare.difference('toolmux', 'native'))} |`,
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

/** What a user would write without toolmux: `createTool()` per tool over its JSON schema. */
function handWrapped(
  specs: readonly ToolSpec[],
  schemas: ReadonlyMap<ToolSpec, JSONSchema>,
  execute: ExecuteFn,
) {
  const tools: Record<string, unknown> = {};
  for (const spec of specs) {
    tools[spec.slug] = createTool({
      id: spec.slug,
      description: spec.description,
      inputSchema: schemas.get(spec)! as never,
      execute: (input, context) =>
        execute(spec.slug, input, { callId: context?.agent?.toolCallId, signal: context?.abortSignal }),
    });
  }
  return tools;
}

/** Reads every tool's JSON schema, as Mastra does when it hands the tools to the model. */
function readAll(tools: Record<string, unknown>): void {
  for (const tool of Object.values(tools) as MastraToolSet[string][]) {
    if (!tool.inputSchema!['~standard'].jsonSchema.input({ target: 'draft-07' }))
      throw new Error('no schema');
  }
}

async function wrapTime(): Promise<void> {
  const document = createRequire(import.meta.url)('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(document, { slug: 'github', limit: 1_000 });
  const specs = await specsOf(toolkit);
  const execute: ExecuteFn = async () => ({ successful: true, data: null, error: null, logId: 'log_0' });
  const plain = new Map(specs.map((spec) => [spec, spec.inputSchema]));
  const strictSchemas = new Map(specs.map((spec) => [spec, strictSchemaOf(spec).schema]));
  const provider = new MastraProvider();
  const strictProvider = new MastraProvider({ strict: true, logger: silent });
  const wraps = 5;
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
  const ms = (ns: number) => (ns / wraps / 1e6).toFixed(2);
  console.log(`\n(b) Wrap time: ${specs.length} GitHub tools, median per wrap\n`);
  console.log('| wrap | hand-written createTool() | MastraProvider | ratio |');
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
}

await perCall();
await wrapTime();
