/**
 * @toolmux/openai-agents benchmark (run from the repository root: `node bench/openai-agents.bench.ts`).
 *
 * (a) Per-call overhead: `invoke` of a tool wrapped by OpenAIAgentsProvider (toolmux session:
 *     null stripping, validation against the original schema, account lookup, timeout, execution log
 *     on ':memory:') against a hand-written `tool({ parameters: zodSchema, execute })` that calls the
 *     same handler (zod validation by the SDK). Both return the text the model gets.
 * (a′) Per call inside the SDK's own agent loop, the unit a user pays for: one `run(new Agent({ model:
 *     ScriptedModel, tools }), input)` whose model answers a function call first and a final message
 *     second: two model turns and one tool call, with the hand-written tool and with the toolmux one (the
 *     same handler and arguments), next to the bare `invoke` figures of (a).
 * (b) Wrap time of the GitHub corpus (~1,200 tools from @octokit/openapi): `provider.wrapTools(specs,
 *     execute)` against a hand-written `tool()` per spec over the same JSON schemas, in both strict modes.
 *
 * Each figure is the median of several rounds after a warmup, all in the same process.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setImmediate } from 'node:timers/promises';
import { Agent, type FunctionTool, RunContext, run, setTraceProcessors, tool } from '@openai/agents-core';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents-core/testing';
import {
  defineTool,
  defineToolkit,
  type ExecuteFn,
  type Provider,
  SessionPreset,
  strictSchemaOf,
  ToolMux,
  type ToolSpec,
} from '@toolmux/core';
import { toolkitFromOpenApi } from '@toolmux/core/test';
import { OpenAIAgentsProvider } from '@toolmux/openai-agents';
import { z } from 'zod';
import { measureInterleaved } from './harness.ts';

const ROUNDS = 11;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Median over rounds of the mean time of one call, in nanoseconds, for each contender. The contenders
 * take turns within every round, so drift (GC, a growing log table) hits them alike.
 */
async function nsPerCall<K extends string>(
  calls: number,
  contenders: Record<K, () => Promise<unknown> | unknown>,
): Promise<Record<K, number>> {
  const entries = Object.entries(contenders) as Array<[K, () => Promise<unknown> | unknown]>;
  for (const [, call] of entries) for (let index = 0; index < calls; index++) await call(); // warmup
  const rounds = new Map<K, number[]>(entries.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, call] of entries) {
      const started = process.hrtime.bigint();
      for (let index = 0; index < calls; index++) await call();
      rounds.get(name)!.push(Number(process.hrtime.bigint() - started) / calls);
    }
  }
  return Object.fromEntries(entries.map(([name]) => [name, median(rounds.get(name)!)])) as Record<K, number>;
}

/** Median over rounds of one run of each contender, in milliseconds; they take turns within every round. */
function msPerRun<K extends string>(contenders: Record<K, () => unknown>, warmup = 3): Record<K, number> {
  const entries = Object.entries(contenders) as Array<[K, () => unknown]>;
  for (const [, work] of entries) for (let index = 0; index < warmup; index++) work();
  const rounds = new Map<K, number[]>(entries.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, work] of entries) {
      const started = performance.now();
      work();
      rounds.get(name)!.push(performance.now() - started);
    }
  }
  return Object.fromEntries(entries.map(([name]) => [name, median(rounds.get(name)!)])) as Record<K, number>;
}

const formatNs = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;
const ratio = (value: number, baseline: number) => `${(value / baseline).toFixed(2)}×`;

await perCallInAgentLoop(await perCallOverhead());
await wrapTime();

/** The bare per-call figures of (a), in ns, for the comparison with the agent loop. */
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
  const handler = async (input: { title: string }) => ({ id: `task_${++created}`, title: input.title });

  const createTask = defineTool({
    slug: 'TASKS_CREATE_TASK',
    description: 'Create a new task.',
    inputSchema,
    execute: (input) => handler(input),
  });
  const mux = new ToolMux({
    provider: new OpenAIAgentsProvider(),
    toolkits: [defineToolkit({ slug: 'tasks', name: 'Tasks', description: 'Tasks.', tools: [createTask] })],
    store: ':memory:',
  });
  const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
  const [wrapped] = await session.tools();
  const handWritten = tool({
    name: 'TASKS_CREATE_TASK',
    description: 'Create a new task.',
    parameters: inputSchema,
    execute: async (input) => JSON.stringify(await handler(input)),
  });
  const noop = tool({
    name: 'NOOP',
    description: 'Does nothing.',
    parameters: { type: 'object', properties: {}, required: [], additionalProperties: true },
    strict: false,
    execute: async () => '',
  });

  const runContext = new RunContext();
  const args = { title: 'Buy milk', priority: 'high', labels: ['home'] };
  const input = JSON.stringify(args);
  const details = {
    toolCall: {
      type: 'function_call' as const,
      callId: 'call_1',
      name: 'TASKS_CREATE_TASK',
      arguments: input,
    },
  };
  const sanity = [
    await wrapped!.invoke(runContext, input, details),
    await handWritten.invoke(runContext, input, details),
  ];
  if (
    !String(sanity[0]).includes('"title":"Buy milk"') ||
    !String(sanity[1]).includes('"title":"Buy milk"')
  ) {
    throw new Error(`the two tools disagree: ${JSON.stringify(sanity)}`);
  }

  const calls = 10_000;
  const { toolmux, baseline, sessionExecute, sdkInvoke, validate, zodParse, bareHandler } = await nsPerCall(
    calls,
    {
      baseline: () => handWritten.invoke(runContext, input, details),
      toolmux: () => wrapped!.invoke(runContext, input, details),
      sessionExecute: () => session.execute('TASKS_CREATE_TASK', args, { callId: 'call_1' }),
      sdkInvoke: () => noop.invoke(runContext, input, details),
      validate: () => createTask.validate(args),
      zodParse: () => inputSchema.parse(args),
      bareHandler: () => handler(args),
    },
  );
  await session.logs({ limit: 1 }); // flushes the log writer
  await mux.close();

  console.log(`\n(a) Per call, ${calls} sequential calls × ${ROUNDS} rounds, median\n`);
  console.log('| path | per call | vs hand-written |');
  console.log('|---|---|---|');
  console.log(`| hand-written tool({ parameters: zod }) → invoke | ${formatNs(baseline)} | 1.00× |`);
  console.log(`| OpenAIAgentsProvider tool → invoke | ${formatNs(toolmux)} | ${ratio(toolmux, baseline)} |`);
  console.log('\nBreakdown:\n');
  console.log(`- SDK invoke of a no-op JSON-schema tool (same input): ${formatNs(sdkInvoke)}`);
  console.log(
    `- session.execute() alone (strip nulls, validate, account, timeout, log): ${formatNs(sessionExecute)}`,
  );
  console.log(`    of which validation (ajv, original schema): ${formatNs(validate)}`);
  console.log(`- zod parse of the same arguments (hand-written path): ${formatNs(zodParse)}`);
  console.log(`- the handler alone: ${formatNs(bareHandler)}`);
  console.log(
    `- overhead per call: toolmux ${formatNs(toolmux - bareHandler)}, hand-written ${formatNs(baseline - bareHandler)}; difference ${formatNs(toolmux - baseline)}`,
  );
  return { baseline, toolmux };
}

async function perCallInAgentLoop(bare: BareFigures): Promise<void> {
  const inputSchema = z.object({
    title: z.string().min(1).describe('What needs to be done'),
    priority: z.enum(['low', 'normal', 'high']).optional().describe('How urgent the task is'),
    labels: z.array(z.string()).optional().describe('Labels to attach'),
  });
  const handler = async (input: { title: string }) => ({ id: 'task_1', title: input.title });
  const createTask = defineTool({
    slug: 'TASKS_CREATE_TASK',
    description: 'Create a new task.',
    inputSchema,
    execute: (input) => handler(input),
  });
  const sessionWith = async (strict: boolean) => {
    const mux = new ToolMux({
      provider: new OpenAIAgentsProvider({ strict }),
      toolkits: [defineToolkit({ slug: 'tasks', name: 'Tasks', description: 'Tasks.', tools: [createTask] })],
      store: ':memory:',
    });
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    return { mux, session, tools: await session.tools() };
  };
  const plain = await sessionWith(false); // the provider's default
  const strict = await sessionWith(true);
  // the SDK's tool() over zod: strict by default, the SDK parses the arguments with zod
  const zodTools = [
    tool({
      name: 'TASKS_CREATE_TASK',
      description: 'Create a new task.',
      parameters: inputSchema,
      execute: async (input) => JSON.stringify(await handler(input)),
    }),
  ];
  // like for like with the provider's default: tool() over the very JSON schema it hands out
  // (strict: false), the arguments parsed with zod in execute
  const jsonSchemaTools = [
    tool<any>({
      name: 'TASKS_CREATE_TASK',
      description: 'Create a new task.',
      parameters: plain.tools[0]!.parameters,
      strict: false,
      execute: async (input) => JSON.stringify(await handler(inputSchema.parse(input))),
    }),
  ];
  const args = { title: 'Buy milk', priority: 'high', labels: ['home'] };
  // agents-core alone exports every trace to the console; keep the traces and spans, drop the export
  setTraceProcessors([]);
  // a new scripted model (and agent) per run: it plays its two answers from the start
  const agentRun = (tools: FunctionTool[]) =>
    run(
      new Agent({
        name: 'assistant',
        instructions: 'You manage the tasks of the user.',
        model: new ScriptedModel([
          [functionCall('TASKS_CREATE_TASK', args, { callId: 'call_1' })],
          [assistantMessage('Done: the task is created.')],
        ]),
        tools,
      }),
      'Add "Buy milk" to my tasks, high priority, label it home.',
    );
  const contenders = {
    'hand-written tool({ parameters: zod }) (strict, SDK default)': zodTools,
    'OpenAIAgentsProvider({ strict: true }) tool': strict.tools,
    'hand-written tool({ parameters: same JSON schema, strict: false }), zod parse in execute':
      jsonSchemaTools,
    'OpenAIAgentsProvider() tool (strict: false, provider default)': plain.tools,
  };

  // every run must make the one tool call, get the task back, and reach the final message
  for (const [name, tools] of Object.entries(contenders)) {
    const result = await agentRun(tools);
    const outputs = result.newItems.filter((item) => item.type === 'tool_call_output_item');
    if (
      result.finalOutput !== 'Done: the task is created.' ||
      outputs.length !== 1 ||
      !JSON.stringify(outputs[0]!.output).includes('Buy milk')
    ) {
      throw new Error(`the run with ${name} went wrong: ${JSON.stringify(result.newItems)}`);
    }
  }

  // Runs of ~1 ms on a loaded machine: the contenders take turns run by run (harness.ts). After every
  // run the event loop turns once (`settle`), as it does while a real model is called over the network;
  // that is when toolmux writes the call's execution log entry, so the write counts in the run.
  const rounds = 15;
  const runs = 40;
  const measured = await measureInterleaved(
    Object.fromEntries(
      Object.entries(contenders).map(([name, tools]) => [name, () => agentRun(tools)]),
    ) as Record<keyof typeof contenders, () => Promise<unknown>>,
    { rounds, runsPerRound: runs, warmupRuns: 60, settle: () => setImmediate() },
  );
  await Promise.all(
    [plain, strict].map(async ({ mux, session }) => {
      if ((await session.logs({ limit: 1 })).items[0]?.status !== 'success') {
        throw new Error('toolmux logged no successful call');
      }
      await mux.close();
    }),
  );
  type Name = keyof typeof contenders;
  const [zodName, strictName, jsonName, plainName] = Object.keys(contenders) as Name[];

  console.log(
    `\n(a′) Per call inside the agent loop: one run(new Agent({ model: ScriptedModel, tools }), input) — ` +
      `function call, then final message: 2 model turns + 1 tool call; ${rounds} rounds × ${runs} runs of each, ` +
      'taking turns run by run; median, ratios paired by round\n',
  );
  console.log('| tools | per run | vs zod tool() | vs JSON-schema tool() |');
  console.log('|---|---|---|---|');
  for (const name of Object.keys(contenders) as Name[]) {
    console.log(
      `| ${name} | ${formatNs(measured.nsPerRun[name])} | ${measured.ratio(name, zodName!).toFixed(2)}× | ${measured.ratio(name, jsonName!).toFixed(2)}× |`,
    );
  }
  console.log('\ntoolmux against the hand-written tool, per tool call, both measurements:\n');
  console.log('| measurement | hand-written | toolmux | ratio | toolmux − hand-written per call |');
  console.log('|---|---|---|---|---|');
  console.log(
    `| (a) bare invoke (zod tool vs provider default) | ${formatNs(bare.baseline)} | ${formatNs(bare.toolmux)} | ${ratio(bare.toolmux, bare.baseline)} | ${formatNs(bare.toolmux - bare.baseline)} |`,
  );
  const compare = (label: string, baseline: Name, value: Name) =>
    console.log(
      `| ${label} | ${formatNs(measured.nsPerRun[baseline])} | ${formatNs(measured.nsPerRun[value])} | ${measured.ratio(value, baseline).toFixed(2)}× | ${formatNs(measured.difference(value, baseline))} |`,
    );
  compare('(a′) agent run, strict: zod tool vs provider({ strict: true })', zodName!, strictName!);
  compare('(a′) agent run, non-strict: JSON-schema tool vs provider default', jsonName!, plainName!);
  compare('(a′) agent run, zod tool vs provider default (mixed strictness)', zodName!, plainName!);
  console.log(
    "\nPer-run columns: each contender's median round. Ratios and differences: the median over rounds of " +
      'the ratio or difference within the round (steadier on a loaded machine), so they need not match the ' +
      'per-run columns exactly.',
  );
}

async function wrapTime(): Promise<void> {
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(JSON.parse(readFileSync(file, 'utf8')) as object, {
    slug: 'github',
  });

  // The specs a session hands its provider (shaped once per tool by core).
  let specs: readonly ToolSpec[] = [];
  const recorder: Provider<null> = {
    name: 'recorder',
    wrapTools: (given) => {
      specs = given;
      return null;
    },
  };
  const mux = new ToolMux({ provider: recorder, toolkits: [toolkit], store: ':memory:' });
  const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
  const shapeStarted = performance.now();
  await session.tools();
  const shapeMs = performance.now() - shapeStarted;
  await mux.close();

  const execute: ExecuteFn = async () => ({ successful: true, data: null, error: null, logId: 'log_0' });
  const handExecute = async () => 'null';
  const quiet = { warn: () => {} };

  const strictColdStarted = performance.now();
  const strictCounts = { strict: 0, fallback: 0 };
  for (const spec of specs) strictSchemaOf(spec).strict ? strictCounts.strict++ : strictCounts.fallback++;
  const strictColdMs = performance.now() - strictColdStarted;

  // Hand-written: the framework's tool() over the same JSON schemas the provider hands out (the strict
  // ones ready beforehand, as a hand-written catalog would have them).
  const strictSchemas = specs.map((spec) => strictSchemaOf(spec));
  const handWrap = (strict: boolean): FunctionTool[] =>
    specs.map((spec, index) => {
      const strictSchema = strict ? strictSchemas[index] : undefined;
      return strictSchema?.strict
        ? tool<any>({
            name: spec.slug,
            description: spec.description,
            parameters: strictSchema.schema,
            strict: true,
            execute: handExecute,
          })
        : tool<any>({
            name: spec.slug,
            description: spec.description,
            parameters: spec.inputSchema,
            strict: false,
            execute: handExecute,
          });
    });

  console.log(`\n(b) Wrap time, GitHub corpus: ${specs.length} tools, ${ROUNDS} rounds, median\n`);
  console.log('| strict | hand-written tool() | provider.wrapTools | ratio |');
  console.log('|---|---|---|---|');
  for (const strict of [false, true]) {
    const provider = new OpenAIAgentsProvider({ strict, logger: quiet });
    const { hand, toolmux } = msPerRun({
      hand: () => handWrap(strict),
      toolmux: () => provider.wrapTools(specs, execute),
    });
    console.log(`| ${strict} | ${hand.toFixed(1)} ms | ${toolmux.toFixed(1)} ms | ${ratio(toolmux, hand)} |`);
  }
  console.log(
    `\nOnce per tool set, before any wrap (cached per tool, not part of the figures above): core shaping of the specs ${shapeMs.toFixed(0)} ms; strict rewrite (strictSchemaOf) ${strictColdMs.toFixed(0)} ms — ${strictCounts.strict} strict, ${strictCounts.fallback} fall back`,
  );
}
