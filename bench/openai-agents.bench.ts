/**
 * @toolmux/openai-agents benchmark (run from the repository root: `node bench/openai-agents.bench.ts`).
 *
 * (a) Per-call overhead: `invoke` of a tool wrapped by OpenAIAgentsProvider (toolmux session:
 *     null stripping, validation against the original schema, account lookup, timeout, execution log
 *     on ':memory:') against a hand-written `tool({ parameters: zodSchema, execute })` that calls the
 *     same handler (zod validation by the SDK). Both return the text the model gets.
 * (b) Wrap time of the GitHub corpus (~1,200 tools from @octokit/openapi): `provider.wrapTools(specs,
 *     execute)` against a hand-written `tool()` per spec over the same JSON schemas, in both strict modes.
 *
 * Each figure is the median of several rounds after a warmup, all in the same process.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type FunctionTool, RunContext, tool } from '@openai/agents-core';
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

await perCallOverhead();
await wrapTime();

async function perCallOverhead(): Promise<void> {
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
