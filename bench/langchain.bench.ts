/**
 * LangChain provider benchmark (run from the repo root: `node bench/langchain.bench.ts`).
 *
 * 1. Per-call overhead: `invoke(toolCall)` of a session tool (LangChain's own JSON-schema check,
 *    toolmux's validation, the execution log written to ':memory:' SQLite, the result as a ToolMessage)
 *    against a hand-written `tool(fn, { schema: zodSchema })` calling the same handler. A breakdown
 *    shows where the difference goes.
 * 1′. Per call inside LangChain's own agent loop, the unit a user pays for: `createAgent({ model:
 *    fakeModel(), tools })` built once per contender (not timed), then per timed run: two answers queued
 *    on the fake model (an AIMessage with one tool call, then a text AIMessage) and one
 *    `agent.invoke({ messages: [HumanMessage] })` — two model calls, one ToolNode step running the tool,
 *    with the hand-written tools and with the toolmux one (the same handler and arguments), next to the
 *    bare `invoke(toolCall)` figures of 1.
 * 2. Wrap time: the GitHub REST description as ~1,200 tools, `LangChainProvider.wrapTools` against a
 *    hand-written wrap with LangChain's `tool()` over the same JSON schemas.
 *
 * Every figure is the median of several rounds, after a warmup, measured in the same run.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import type { ToolCall } from '@langchain/core/messages/tool';
import { fakeModel } from '@langchain/core/testing';
import { DynamicStructuredTool, tool } from '@langchain/core/tools';
import {
  defineTool,
  defineToolkit,
  type ExecuteFn,
  type JSONSchema,
  type Provider,
  SessionPreset,
  ToolMux,
  type ToolSpec,
} from '@toolmux/core';
import { toolkitFromOpenApi } from '@toolmux/core/test';
import { LangChainProvider } from '@toolmux/langchain';
import { z } from 'zod';
import { measureInterleaved } from './harness.ts';

// `createAgent` comes from the `langchain` package, a dev dependency of @toolmux/langchain (not of the
// bench): loaded from there, as ESM, so that it shares this file's @langchain/core
const langchainPackage = createRequire(fileURLToPath(import.meta.resolve('@toolmux/langchain'))).resolve(
  'langchain/package.json',
);
const { createAgent } = (await import(
  pathToFileURL(join(dirname(langchainPackage), 'dist/index.js')).href
)) as typeof import('langchain');

const ROUNDS = 21;

// a full garbage collection before each timed batch, so that no candidate pays for another's garbage
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * ns per call of each candidate: `iterations` sequential calls per round, after a warmup round; the
 * rounds of all candidates are interleaved (in a rotating order), so that they share the same machine
 * state, each after a full garbage collection; the median round counts.
 */
async function nsPerCall(
  candidates: Record<string, (index: number) => Promise<unknown> | unknown>,
  iterations: number,
): Promise<Record<string, number>> {
  const entries = Object.entries(candidates);
  const rounds = new Map(entries.map(([label]) => [label, [] as number[]]));
  for (let round = -1; round < ROUNDS; round++) {
    for (let offset = 0; offset < entries.length; offset++) {
      const [label, run] = entries[(round + 1 + offset) % entries.length]!;
      collectGarbage();
      const started = performance.now();
      for (let index = 0; index < iterations; index++) await run(index);
      if (round >= 0) rounds.get(label)!.push(((performance.now() - started) * 1e6) / iterations);
    }
  }
  return Object.fromEntries([...rounds].map(([label, values]) => [label, median(values)]));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const format = (ns: number) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`);

/** The tool specs core hands a provider, captured as they are. */
class SpecCapture implements Provider<ToolSpec[]> {
  readonly name = 'capture';
  wrapTools(tools: readonly ToolSpec[]): ToolSpec[] {
    return [...tools];
  }
}

await perCallInAgentLoop(await perCallOverhead());
await wrapTime();

/** The bare per-call figures of 1, in ns, for the comparison with the agent loop. */
interface BareFigures {
  baseline: number;
  toolmux: number;
}

async function perCallOverhead(): Promise<BareFigures> {
  const inputSchema = z.object({
    title: z.string().min(1).describe('What needs to be done'),
    priority: z.enum(['low', 'normal', 'high']).optional().describe('How urgent the task is'),
    labels: z.array(z.string()).optional().describe('Labels to attach'),
  });
  let created = 0;
  const handler = (input: z.infer<typeof inputSchema>) => ({ id: `task_${++created}`, title: input.title });
  const createTask = defineTool({
    slug: 'BENCH_CREATE_TASK',
    description: 'Create a task.',
    inputSchema,
    execute: async (input) => handler(input),
  });
  const toolkit = defineToolkit({ slug: 'bench', name: 'Bench', description: 'Bench.', tools: [createTask] });
  const mux = new ToolMux({ provider: new LangChainProvider(), toolkits: [toolkit], store: ':memory:' });
  const session = await mux.create('user_1', {
    toolkits: ['bench'],
    sessionPreset: SessionPreset.DIRECT_TOOLS,
  });
  const [wrapped] = await session.tools();
  const handWritten = tool(async (input) => handler(input), {
    name: 'BENCH_CREATE_TASK',
    description: 'Create a task.',
    schema: inputSchema,
  });
  const jsonSchemaTool = tool(async (input) => handler(input as z.infer<typeof inputSchema>), {
    name: 'BENCH_CREATE_TASK',
    description: 'Create a task.',
    schema: wrapped!.schema as JSONSchema,
  });
  const handWrittenClass = new DynamicStructuredTool({
    name: 'BENCH_CREATE_TASK',
    description: 'Create a task.',
    schema: inputSchema,
    func: async (input) => handler(input),
  });
  const langchainOnly = new DynamicStructuredTool({
    name: 'BENCH_CREATE_TASK',
    description: 'Create a task.',
    schema: wrapped!.schema as JSONSchema,
    func: async (input) => handler(input as z.infer<typeof inputSchema>),
  });
  const args = { title: 'Write the report', priority: 'high' as const, labels: ['work'] };
  const call = (index: number): ToolCall => ({
    type: 'tool_call',
    id: `call_${index}`,
    name: 'BENCH_CREATE_TASK',
    args,
  });
  const iterations = 1_000;

  const measured = await nsPerCall(
    {
      toolmux: (index) => wrapped!.invoke(call(index)),
      baseline: (index) => handWritten.invoke(call(index)),
      handWrittenClass: (index) => handWrittenClass.invoke(call(index)),
      langchainJson: (index) => jsonSchemaTool.invoke(call(index)),
      langchainOnly: (index) => langchainOnly.invoke(call(index)),
      sessionExecute: (index) => session.execute('BENCH_CREATE_TASK', args, { callId: `call_${index}` }),
      handlerOnly: () => handler(args),
    },
    iterations,
  );
  const {
    toolmux,
    baseline,
    handWrittenClass: classBaseline,
    langchainJson,
    langchainOnly: langchainPart,
    sessionExecute,
    handlerOnly,
  } = measured as Record<string, number>;
  await mux.close();

  console.log(`\nPer call: invoke(toolCall) of one tool, ${iterations} calls × ${ROUNDS} rounds, median\n`);
  console.log('| path | per call | vs hand-written |');
  console.log('|---|---|---|');
  const row = (label: string, ns: number) =>
    console.log(`| ${label} | ${format(ns)} | ${(ns / baseline).toFixed(2)}× |`);
  row('hand-written `tool(fn, { schema: zod })` (baseline)', baseline);
  row('**toolmux `LangChainProvider` tool**', toolmux);
  console.log(
    `\nThe toolmux tool is a \`DynamicStructuredTool\`, without the AsyncLocalStorage and abort wrapper \`tool()\` adds. ` +
      `Against a hand-written \`new DynamicStructuredTool({ schema: zod, func })\` (${format(classBaseline)}): ${(toolmux / classBaseline).toFixed(2)}×.`,
  );
  console.log('\nBreakdown (measured in the same rounds):\n');
  console.log('| part | per call |');
  console.log('|---|---|');
  console.log(
    `| LangChain \`tool()\` with the same JSON schema (LangChain's JSON-schema check instead of zod) | ${format(langchainJson)} |`,
  );
  console.log(
    `| the toolmux path without the session: \`DynamicStructuredTool\` over the same JSON schema calling the handler | ${format(langchainPart)} |`,
  );
  console.log(
    `| \`session.execute\` alone (toolmux validation + handler + execution log on ':memory:' SQLite, which core writes in batches) | ${format(sessionExecute)} |`,
  );
  console.log(`| the handler alone | ${format(handlerOnly)} |`);
  console.log(
    `\nRatio ${(toolmux / baseline).toFixed(2)}× (target ≤ 1.2×); toolmux adds ${format(toolmux - baseline)} per call.`,
  );
  return { baseline, toolmux };
}

async function perCallInAgentLoop(bare: BareFigures): Promise<void> {
  const inputSchema = z.object({
    title: z.string().min(1).describe('What needs to be done'),
    priority: z.enum(['low', 'normal', 'high']).optional().describe('How urgent the task is'),
    labels: z.array(z.string()).optional().describe('Labels to attach'),
  });
  const handler = (input: z.infer<typeof inputSchema>) => ({ id: 'task_1', title: input.title });
  const createTask = defineTool({
    slug: 'BENCH_CREATE_TASK',
    description: 'Create a task.',
    inputSchema,
    execute: async (input) => handler(input),
  });
  const toolkit = defineToolkit({ slug: 'bench', name: 'Bench', description: 'Bench.', tools: [createTask] });
  const mux = new ToolMux({ provider: new LangChainProvider(), toolkits: [toolkit], store: ':memory:' });
  const session = await mux.create('user_1', {
    toolkits: ['bench'],
    sessionPreset: SessionPreset.DIRECT_TOOLS,
  });
  const toolmuxTools = await session.tools();
  const zodTools = [
    tool(async (input) => handler(input), {
      name: 'BENCH_CREATE_TASK',
      description: 'Create a task.',
      schema: inputSchema,
    }),
  ];
  // like for like in kind: toolmux's tool is a DynamicStructuredTool, without the wrapper tool() adds
  const classTools = [
    new DynamicStructuredTool({
      name: 'BENCH_CREATE_TASK',
      description: 'Create a task.',
      schema: inputSchema,
      func: async (input) => handler(input),
    }),
  ];
  const args = { title: 'Write the report', priority: 'high' as const, labels: ['work'] };
  // one agent (and fake model) per contender; each run queues the model's two answers, then invokes
  const agentOf = (tools: typeof toolmuxTools) => {
    const model = fakeModel();
    const agent = createAgent({ model, tools });
    return () => {
      model
        .respond(
          new AIMessage({
            content: '',
            tool_calls: [{ name: 'BENCH_CREATE_TASK', args, id: 'call_1', type: 'tool_call' }],
          }),
        )
        .respond(new AIMessage('Done: the task is created.'));
      return agent.invoke({ messages: [new HumanMessage('Add "Write the report" to my tasks.')] });
    };
  };
  const contenders = {
    'hand-written `tool(fn, { schema: zod })`': agentOf(zodTools),
    'hand-written `new DynamicStructuredTool({ schema: zod, func })`': agentOf(classTools),
    '**toolmux `LangChainProvider` tool**': agentOf(toolmuxTools),
  };

  // every run must call the tool once, get the task back, and end with the final answer
  for (const [name, agentRun] of Object.entries(contenders)) {
    const { messages } = await agentRun();
    const results = messages.filter((message) => ToolMessage.isInstance(message));
    if (
      messages.at(-1)?.text !== 'Done: the task is created.' ||
      results.length !== 1 ||
      !results[0]!.text.includes('Write the report')
    ) {
      throw new Error(`the agent with ${name} went wrong: ${JSON.stringify(messages)}`);
    }
  }

  // Runs of several ms on a loaded machine: the contenders take turns run by run (harness.ts). After
  // every run the event loop turns once (`settle`), as it does while a real model is called over the
  // network; that is when toolmux writes the call's execution log entry, so the write counts in the run.
  // (a generous warmup: LangGraph's code keeps getting faster for the first hundred runs or so)
  const rounds = 31;
  const runs = 8;
  const measured = await measureInterleaved(contenders, {
    rounds,
    runsPerRound: runs,
    warmupRuns: 60,
    settle: () => setImmediate(),
  });
  if ((await session.logs({ limit: 1 })).items[0]?.status !== 'success') {
    throw new Error('toolmux logged no successful call');
  }
  await mux.close();
  type Name = keyof typeof contenders;
  const [zodName, className, toolmuxName] = Object.keys(contenders) as Name[];

  console.log(
    `\nPer call inside the agent loop: one \`agent.invoke()\` of a \`createAgent({ model: fakeModel(), tools })\` ` +
      `built once per contender; the model answers one tool call, then text: 2 model calls + 1 tool call; ` +
      `${rounds} rounds × ${runs} runs of each, taking turns run by run; median, ratios paired by round\n`,
  );
  console.log('| tools | per invoke | vs `tool()` | vs `DynamicStructuredTool` |');
  console.log('|---|---|---|---|');
  for (const name of Object.keys(contenders) as Name[]) {
    console.log(
      `| ${name} | ${format(measured.nsPerRun[name])} | ${measured.ratio(name, zodName!).toFixed(2)}× | ${measured.ratio(name, className!).toFixed(2)}× |`,
    );
  }
  console.log('\ntoolmux against the hand-written tool, per tool call, both measurements:\n');
  console.log('| measurement | hand-written | toolmux | ratio | toolmux − hand-written per call |');
  console.log('|---|---|---|---|---|');
  console.log(
    `| bare \`invoke(toolCall)\`, \`tool(fn, { schema: zod })\` | ${format(bare.baseline)} | ${format(bare.toolmux)} | ${(bare.toolmux / bare.baseline).toFixed(2)}× | ${format(bare.toolmux - bare.baseline)} |`,
  );
  const compare = (label: string, baseline: Name) =>
    console.log(
      `| ${label} | ${format(measured.nsPerRun[baseline])} | ${format(measured.nsPerRun[toolmuxName!])} | ${measured.ratio(toolmuxName!, baseline).toFixed(2)}× | ${format(measured.difference(toolmuxName!, baseline))} |`,
    );
  compare('one `agent.invoke()`, `tool(fn, { schema: zod })`', zodName!);
  compare('one `agent.invoke()`, `new DynamicStructuredTool({ schema: zod })`', className!);
  console.log(
    "\nPer-run columns: each contender's median round. Ratios and differences: the median over rounds of " +
      'the ratio or difference within the round (steadier on a loaded machine), so they need not match the ' +
      'per-run columns exactly.',
  );
}

async function wrapTime(): Promise<void> {
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(JSON.parse(readFileSync(file, 'utf8')), { slug: 'github' });
  const mux = new ToolMux({ provider: new SpecCapture(), toolkits: [toolkit], store: ':memory:' });
  const session = await mux.create('user_1', {
    toolkits: ['github'],
    sessionPreset: SessionPreset.DIRECT_TOOLS,
  });
  const specs = await session.tools(); // shaped once by core, as a session does before any provider runs
  await mux.close();
  const execute: ExecuteFn = async () => ({ successful: true, data: null, error: null, logId: 'log_bench' });
  const quiet = { warn: () => {} };

  const handWritten = () =>
    specs.map((spec) =>
      tool(async (input) => execute(spec.slug, input), {
        name: spec.slug,
        description: spec.description,
        schema: spec.inputSchema,
      }),
    );
  const provider = new LangChainProvider({ logger: quiet });
  const strictProvider = new LangChainProvider({ strict: true, logger: quiet });
  // The provider copies each schema once per core schema object (core keeps one per tool), and core
  // keeps the strict rewrite per spec: specs with schema objects never seen before measure a first wrap.
  const unseen = () =>
    specs.map((spec) => ({ ...spec, inputSchema: JSON.parse(JSON.stringify(spec.inputSchema)) }));
  const pool = Array.from({ length: 2 * (ROUNDS + 1) }, unseen);

  // every later session: the copies are made and core's strict rewrites are cached
  const later = (await nsPerCall(
    {
      baseline: handWritten,
      toolmux: () => provider.wrapTools(specs, execute),
      strict: () => strictProvider.wrapTools(specs, execute),
    },
    10,
  )) as Record<string, number>;
  // the first wrap of each schema in the process, one wrap per round
  const first = (await nsPerCall(
    {
      baseline: handWritten,
      toolmux: () => provider.wrapTools(pool.pop()!, execute),
      strict: () => strictProvider.wrapTools(pool.pop()!, execute),
    },
    1,
  )) as Record<string, number>;

  console.log(
    `\nWrap time: the GitHub REST description as ${specs.length} tools, ${ROUNDS} rounds of 10 wraps, median\n`,
  );
  console.log('| wrap | whole set | per tool | vs hand-written |');
  console.log('|---|---|---|---|');
  const row = (label: string, ns: number, baseline: number) =>
    console.log(
      `| ${label} | ${format(ns)} | ${format(ns / specs.length)} | ${(ns / baseline).toFixed(2)}× |`,
    );
  row(
    'hand-written `tool(fn, { schema })` over the same JSON schemas (baseline)',
    later.baseline!,
    later.baseline!,
  );
  row('**`LangChainProvider().wrapTools`**', later.toolmux!, later.baseline!);
  row('**`LangChainProvider({ strict: true }).wrapTools`**', later.strict!, later.baseline!);
  console.log(
    '\nThe first wrap of each schema in the process (the copies made; with strict, core rewrites each schema):\n',
  );
  console.log('| wrap | whole set | per tool | vs hand-written |');
  console.log('|---|---|---|---|');
  row('hand-written `tool(fn, { schema })` (baseline, same rounds)', first.baseline!, first.baseline!);
  row('`LangChainProvider().wrapTools`, first wrap', first.toolmux!, first.baseline!);
  row('`LangChainProvider({ strict: true }).wrapTools`, first wrap', first.strict!, first.baseline!);
  console.log(
    `\nRatio ${(later.toolmux! / later.baseline!).toFixed(2)}× non-strict, ${(later.strict! / later.baseline!).toFixed(2)}× strict ` +
      `(target ≤ 2×); first wrap ${(first.toolmux! / first.baseline!).toFixed(2)}× / ${(first.strict! / first.baseline!).toFixed(2)}×.`,
  );
}
