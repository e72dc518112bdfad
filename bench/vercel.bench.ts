/**
 * @toolmux/vercel benchmark. Build first (`pnpm build`), then from the repository root:
 * `node bench/vercel.bench.ts`.
 *
 * (a) Per-call overhead: a toolmux-wrapped tool's `execute` (session validation, execution log write
 *     on a `:memory:` SQLite store, ToolResult) against a hand-written `tool({ inputSchema: zodSchema,
 *     execute })` calling the same handler, with a breakdown of where the difference goes.
 * (a′) Per call inside the AI SDK's own loop, the unit a user pays for: one `generateText` with a mock
 *     model (`MockLanguageModelV4` from 'ai/test') that answers a tool call first and text second
 *     (`stopWhen: stepCountIs(2)`): two model steps and one tool call, with the hand-written tool and
 *     with the toolmux-wrapped one (the same handler and arguments), next to the bare figures of (a).
 * (b) Wrap time for the GitHub REST API as ~1,000 tools: `VercelProvider.wrapTools()` against a
 *     hand-written wrap with `tool()` + `jsonSchema()` over the same JSON schemas, in both strict modes.
 *
 * Every figure is the median of several rounds, after a warm-up, with all variants measured in the
 * same rounds (interleaved) so that machine noise hits them alike.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import {
  defineTool,
  defineToolkit,
  type ExecuteFn,
  type Provider,
  SessionPreset,
  type Store,
  strictSchemaOf,
  type Toolkit,
  ToolMux,
  type ToolSpec,
} from '@toolmux/core';
import { toolkitFromOpenApi } from '@toolmux/core/test';
import { VercelProvider } from '@toolmux/vercel';
import { asSchema, generateText, jsonSchema, stepCountIs, type ToolSet, tool } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';
import { measureInterleaved } from './harness.ts';

const ROUNDS = 11;
const CALLS_PER_ROUND = 20_000;
const LOOP_ROUNDS = 21;
const LOOPS_PER_ROUND = 100;
const WRAPS_PER_ROUND = 20;
const GITHUB_TOOLS = 1_000;

const silent = { debug() {}, warn() {}, error() {} };

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

type Run = () => Promise<void> | void;

/**
 * Runs every variant once per round, in turn, and returns each variant's median time per unit. A
 * variant is a setup (not timed, run before every timed run) that returns the run to time.
 */
async function measure(
  variants: Record<string, () => Promise<Run> | Run>,
  unitsPerRun: number,
  warmupRuns: number,
): Promise<Record<string, number>> {
  for (const setUp of Object.values(variants)) {
    for (let index = 0; index < warmupRuns; index++) await (await setUp())();
  }
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(variants).map((name) => [name, []]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, setUp] of Object.entries(variants)) {
      const run = await setUp();
      const start = performance.now();
      await run();
      samples[name]!.push((performance.now() - start) / unitsPerRun);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, times]) => [name, median(times)]));
}

/**
 * A store that keeps sessions in a Map and drops execution log entries: the same session path
 * without the log write, to tell the write's share of the overhead.
 */
function storeWithoutLogs(): Store {
  const sessions = new Map<string, unknown>();
  const implemented: Record<string, unknown> = {
    dialect: 'sqlite',
    insertSession: async (record: { id: string }) => void sessions.set(record.id, record),
    getSession: async (id: string) => sessions.get(id),
    listLogs: async () => ({ items: [], nextCursor: undefined }),
  };
  return new Proxy(implemented, {
    // every other method does nothing; `then` stays undefined so that the store is not a thenable
    get: (target, key) => (key in target || key === 'then' ? target[key as string] : async () => undefined),
  }) as unknown as Store;
}

// ---------------------------------------------------------------------------------------------
// (a) per-call overhead

/** The bare per-call figures of (a), in ns, for the comparison with the agent loop. */
interface BareFigures {
  native: number;
  toolmux: number;
}

async function perCallOverhead(): Promise<BareFigures> {
  const inputSchema = z.object({
    title: z.string().min(1).describe('What needs to be done'),
    priority: z.enum(['low', 'normal', 'high']).optional().describe('How urgent the task is'),
    labels: z.array(z.string()).optional().describe('Labels to attach'),
  });
  const handler = async (input: { title: string }) => ({ id: 'task_1', title: input.title });
  const createTask = defineTool({
    slug: 'TASKS_CREATE_TASK',
    description: 'Create a new task with a title and an optional priority.',
    inputSchema,
    execute: (input) => handler(input),
  });
  const toolkits = [
    defineToolkit({ slug: 'tasks', name: 'Tasks', description: 'To-do list.', tools: [createTask] }),
  ];
  const sessionOn = async (store: string | Store) => {
    const secretKey = randomBytes(32).toString('base64');
    const mux = new ToolMux({ provider: new VercelProvider(), toolkits, store, secretKey, logger: silent });
    const session = await mux.create('user_1', {
      toolkits: ['tasks'],
      sessionPreset: SessionPreset.DIRECT_TOOLS,
    });
    return { mux, session, tool: (await session.tools()).TASKS_CREATE_TASK! };
  };
  const native = tool({ description: 'Create a new task.', inputSchema, execute: (input) => handler(input) });
  // the provider alone, over an ExecuteFn that answers at once: what wrapping adds to a call
  const answer = { successful: true, data: { id: 'task_1', title: 'Buy milk' }, error: null, logId: 'log_1' };
  const stub: ExecuteFn = async () => answer;
  const spec = (await specsOf(toolkits[0]!))[0]!;
  const overStub = new VercelProvider().wrapTools([spec], stub).TASKS_CREATE_TASK!;
  const nativeSchema = asSchema(native.inputSchema);

  const args = { title: 'Buy milk', priority: 'high', labels: ['home'] };
  const options = { toolCallId: 'call_1', messages: [], context: {} };
  const loop = (call: () => Promise<unknown>) => async () => {
    for (let index = 0; index < CALLS_PER_ROUND; index++) await call();
  };
  /**
   * Each timed run gets a new ToolMux with its own store, so every run writes into an empty log
   * table. The execution log is written off the call's path, in batches; the run ends when the
   * session's `logs()` has flushed it, so the writes count in the run that made them.
   */
  const onFreshSession =
    (
      store: () => string | Store,
      call: (session: Awaited<ReturnType<typeof sessionOn>>) => Promise<unknown>,
    ) =>
    async () => {
      const previous = current;
      current = await sessionOn(store());
      await previous?.mux.close();
      const fresh = current;
      return async () => {
        for (let index = 0; index < CALLS_PER_ROUND; index++) await call(fresh);
        await fresh.session.logs({ limit: 1 });
      };
    };
  let current: Awaited<ReturnType<typeof sessionOn>> | undefined;
  const nanoseconds = await measure(
    {
      native: () => loop(() => native.execute!(args as never, options)),
      'ExecuteFn stub': () => loop(() => stub('TASKS_CREATE_TASK', args, { callId: 'call_1' })),
      'VercelProvider tool over the stub': () =>
        loop(() => overStub.execute!(args, options) as Promise<unknown>),
      'native + zod validation': () =>
        loop(async () => {
          const parsed = await nativeSchema.validate!(args);
          if (!parsed.success) throw parsed.error;
          return native.execute!(parsed.value, options);
        }),
      'session.execute, no log write': onFreshSession(storeWithoutLogs, ({ session }) =>
        session.execute('TASKS_CREATE_TASK', args, { callId: 'call_1' }),
      ),
      'session.execute': onFreshSession(
        () => ':memory:',
        ({ session }) => session.execute('TASKS_CREATE_TASK', args, { callId: 'call_1' }),
      ),
      'toolmux tool, no log write': onFreshSession(storeWithoutLogs, ({ tool }) =>
        tool.execute!(args, options),
      ),
      'toolmux tool': onFreshSession(
        () => ':memory:',
        ({ tool }) => tool.execute!(args, options),
      ),
    },
    CALLS_PER_ROUND / 1e6,
    1,
  );
  const check = await sessionOn(':memory:');
  const result = await check.tool.execute!(args, options);
  if (!(result as { successful: boolean }).successful)
    throw new Error(`toolmux call failed: ${JSON.stringify(result)}`);
  await Promise.all([check.mux.close(), current?.mux.close()]);

  const ns = (name: string) => nanoseconds[name]!;
  console.log(
    `\n(a) Per-call overhead: ${ROUNDS} rounds × ${CALLS_PER_ROUND.toLocaleString()} sequential calls, median\n`,
  );
  console.log('| path | ns/call | vs native | vs native + zod validation |');
  console.log('|---|---:|---:|---:|');
  for (const name of Object.keys(nanoseconds)) {
    console.log(
      `| ${name} | ${ns(name).toFixed(0)} | ${(ns(name) / ns('native')).toFixed(2)}× | ${(ns(name) / ns('native + zod validation')).toFixed(2)}× |`,
    );
  }
  console.log('\nWhere the toolmux tool spends its time beyond the native tool (ns/call):\n');
  console.log(
    `- zod validation (what the AI SDK loop does before a native execute): ${(ns('native + zod validation') - ns('native')).toFixed(0)}`,
  );
  console.log(
    `- session path without the store write (null stripping, validation, timeout + abort wiring, log entry with redacted payloads, ToolResult): ${(ns('session.execute, no log write') - ns('native')).toFixed(0)}`,
  );
  console.log(
    `- execution log write to the store (batched, off the call's path, :memory: SQLite): ${(ns('session.execute') - ns('session.execute, no log write')).toFixed(0)}`,
  );
  console.log(
    `- VercelProvider wrapper (option mapping, measured over an ExecuteFn stub): ${(ns('VercelProvider tool over the stub') - ns('ExecuteFn stub')).toFixed(0)}`,
  );
  return { native: ns('native'), toolmux: ns('toolmux tool') };
}

// ---------------------------------------------------------------------------------------------
// (a′) per call inside the AI SDK loop

async function perCallInAgentLoop(bare: BareFigures): Promise<void> {
  const inputSchema = z.object({
    title: z.string().min(1).describe('What needs to be done'),
    priority: z.enum(['low', 'normal', 'high']).optional().describe('How urgent the task is'),
    labels: z.array(z.string()).optional().describe('Labels to attach'),
  });
  const description = 'Create a new task with a title and an optional priority.';
  const handler = async (input: { title: string }) => ({ id: 'task_1', title: input.title });
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
  const nativeTools: ToolSet = {
    TASKS_CREATE_TASK: tool({ description, inputSchema, execute: (input) => handler(input) }),
  };
  const args = { title: 'Buy milk', priority: 'high', labels: ['home'] };
  const usage = {
    inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 5, text: 5, reasoning: undefined },
  };
  // the model's two answers: a call of the tool, then the final text
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
  // a new mock per run: it plays its script from the start and records only that run's two calls
  const agentTurn = (tools: ToolSet) =>
    generateText({
      model: new MockLanguageModelV4({ doGenerate: script }),
      tools,
      stopWhen: stepCountIs(2),
      prompt: 'Add "Buy milk" to my tasks, high priority, label it home.',
    });
  const sessionOn = async (store: string | Store = ':memory:') => {
    const mux = new ToolMux({
      provider: new VercelProvider(),
      toolkits,
      store,
      secretKey: randomBytes(32).toString('base64'),
      logger: silent,
    });
    const session = await mux.create('user_1', {
      toolkits: ['tasks'],
      sessionPreset: SessionPreset.DIRECT_TOOLS,
    });
    return { mux, session, tools: await session.tools() };
  };

  const check = await sessionOn();
  // A zod inputSchema is converted to JSON Schema again on every generateText step (the AI SDK does not
  // keep the conversion); a hand-written tool can avoid that with jsonSchema() over a JSON schema made
  // once (here the very one toolmux hands out) and zod as its validator: a second, tighter baseline.
  const convertedOnce = structuredClone(
    await asSchema(check.tools.TASKS_CREATE_TASK!.inputSchema).jsonSchema,
  );
  const jsonSchemaTools: ToolSet = {
    TASKS_CREATE_TASK: tool({
      description,
      inputSchema: jsonSchema<z.infer<typeof inputSchema>>(convertedOnce, {
        validate: (value) => {
          const parsed = inputSchema.safeParse(value);
          return parsed.success
            ? { success: true, value: parsed.data }
            : { success: false, error: parsed.error };
        },
      }),
      execute: (input) => handler(input),
    }),
  };

  // every loop must make the one tool call, succeed, and reach the final text
  for (const [name, tools] of [
    ['native', nativeTools],
    ['native, JSON schema', jsonSchemaTools],
    ['toolmux', check.tools],
  ] as const) {
    const result = await agentTurn(tools);
    const output = result.steps[0]?.toolResults[0]?.output as { title?: string; data?: { title?: string } };
    if (
      result.steps.length !== 2 ||
      result.text !== 'Done: the task is created.' ||
      (output?.data ?? output)?.title !== 'Buy milk'
    ) {
      throw new Error(
        `the ${name} loop went wrong: ${JSON.stringify(result.steps.map((step) => step.content))}`,
      );
    }
  }

  // Runs of ~1 ms on a loaded machine: the contenders take turns run by run (harness.ts). After every
  // run the event loop turns once (`settle`), as it does while a real model is called over the network;
  // that is when toolmux writes the call's execution log entry, so the write counts in the run.
  const session = await sessionOn();
  const withoutLogs = await sessionOn(storeWithoutLogs());
  const contenders = {
    native: {
      label: 'native `tool({ inputSchema: zod, execute: handler })`',
      run: () => agentTurn(nativeTools),
    },
    json: {
      label:
        'native, JSON schema `tool({ inputSchema: jsonSchema(json, { validate: zod }), execute: handler })`',
      run: () => agentTurn(jsonSchemaTools),
    },
    toolmux: {
      label: "toolmux tool (DIRECT_TOOLS, ':memory:' store, same handler)",
      run: () => agentTurn(session.tools),
    },
    noLog: {
      label: 'toolmux tool, store that drops log entries (without the execution log write)',
      run: () => agentTurn(withoutLogs.tools),
    },
  };
  type Name = keyof typeof contenders;
  const result = await measureInterleaved(
    Object.fromEntries(Object.entries(contenders).map(([name, { run }]) => [name, run])) as Record<
      Name,
      () => Promise<unknown>
    >,
    { rounds: LOOP_ROUNDS, runsPerRound: LOOPS_PER_ROUND, warmupRuns: 200, settle: () => setImmediate() },
  );
  if ((await session.session.logs({ limit: 1 })).items[0]?.status !== 'success') {
    throw new Error('toolmux logged no successful call');
  }
  await Promise.all([check.mux.close(), session.mux.close(), withoutLogs.mux.close()]);

  const us = (ns: number) => `${(ns / 1e3).toFixed(2)} µs`;
  console.log(
    `\n(a′) Per call inside the AI SDK loop: one generateText (mock model: tool call, then text; ` +
      `stepCountIs(2)) = 2 model steps + 1 tool call; ${LOOP_ROUNDS} rounds × ${LOOPS_PER_ROUND} runs of each, ` +
      'taking turns run by run; median, ratios paired by round\n',
  );
  console.log('| tool in `tools` | ns per generateText | vs native | vs native, JSON schema |');
  console.log('|---|---:|---:|---:|');
  for (const [name, { label }] of Object.entries(contenders) as Array<[Name, { label: string }]>) {
    console.log(
      `| ${label} | ${result.nsPerRun[name].toFixed(0)} | ${result.ratio(name, 'native').toFixed(2)}× | ${result.ratio(name, 'json').toFixed(2)}× |`,
    );
  }
  console.log('\ntoolmux against the hand-written tool, per tool call, both measurements:\n');
  console.log('| measurement | hand-written | toolmux | ratio | toolmux − hand-written per call |');
  console.log('|---|---:|---:|---:|---:|');
  const compare = (label: string, baseline: number, value: number, ratio: number, difference: number) =>
    console.log(`| ${label} | ${us(baseline)} | ${us(value)} | ${ratio.toFixed(2)}× | ${us(difference)} |`);
  compare(
    '(a) bare `execute` (native: no validation)',
    bare.native,
    bare.toolmux,
    bare.toolmux / bare.native,
    bare.toolmux - bare.native,
  );
  for (const [baseline, label] of [
    ['native', '(a′) one generateText, native zod tool'],
    ['json', '(a′) one generateText, native JSON-schema tool'],
  ] as const) {
    compare(
      label,
      result.nsPerRun[baseline],
      result.nsPerRun.toolmux,
      result.ratio('toolmux', baseline),
      result.difference('toolmux', baseline),
    );
  }
  console.log(
    "\nPer-run columns: each contender's median round. Ratios and differences: the median over rounds of " +
      'the ratio or difference within the round (steadier on a loaded machine), so they need not match the ' +
      'per-run columns exactly.',
  );
  console.log(
    `\nThe execution log write (one row per call, as in a real loop): ${us(result.difference('toolmux', 'noLog'))} per call.`,
  );
}

// ---------------------------------------------------------------------------------------------
// (b) wrap time

/** The provider-facing specs of a session's tools, exactly as a provider receives them. */
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

function handWrapped(
  specs: readonly ToolSpec[],
  schemas: ReadonlyMap<ToolSpec, ToolSpec['inputSchema']>,
  execute: ExecuteFn,
) {
  const toolSet: Record<string, unknown> = {};
  for (const spec of specs) {
    toolSet[spec.slug] = tool({
      description: spec.description,
      inputSchema: jsonSchema(schemas.get(spec)! as never),
      execute: (args, options) =>
        execute(spec.slug, args, { callId: options.toolCallId, signal: options.abortSignal }),
    });
  }
  return toolSet;
}

/** Reads every tool's JSON schema, as the AI SDK's `prepareTools` does on each step. */
function readAll(toolSet: Record<string, unknown>): void {
  for (const wrapped of Object.values(toolSet)) {
    if (!(wrapped as { inputSchema: { jsonSchema: unknown } }).inputSchema.jsonSchema)
      throw new Error('no schema');
  }
}

async function wrapTime(): Promise<void> {
  const require = createRequire(import.meta.url);
  const document = require('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(document, { slug: 'github', limit: GITHUB_TOOLS });
  const specs = await specsOf(toolkit);
  const execute: ExecuteFn = async () => ({ successful: true, data: null, error: null, logId: 'log_0' });

  const plain = new Map(specs.map((spec) => [spec, spec.inputSchema]));
  const strictSchemas = new Map(specs.map((spec) => [spec, strictSchemaOf(spec).schema]));
  const fallbacks = specs.filter((spec) => !strictSchemaOf(spec).strict).length;
  const provider = new VercelProvider();
  const strictProvider = new VercelProvider({ strict: true, logger: silent });

  // the strict rewrite runs once per tool (core caches it per spec): time it on fresh spec objects
  const coldStrict = median(
    Array.from({ length: ROUNDS }, () => {
      const fresh = specs.map((spec) => ({ ...spec }));
      const start = performance.now();
      for (const spec of fresh) strictSchemaOf(spec);
      return performance.now() - start;
    }),
  );

  const milliseconds = await measure(
    {
      'hand-written, non-strict': () => () => {
        for (let index = 0; index < WRAPS_PER_ROUND; index++) handWrapped(specs, plain, execute);
      },
      'VercelProvider()': () => () => {
        for (let index = 0; index < WRAPS_PER_ROUND; index++) provider.wrapTools(specs, execute);
      },
      'hand-written, strict schemas': () => () => {
        for (let index = 0; index < WRAPS_PER_ROUND; index++) handWrapped(specs, strictSchemas, execute);
      },
      'VercelProvider({ strict: true })': () => () => {
        for (let index = 0; index < WRAPS_PER_ROUND; index++) strictProvider.wrapTools(specs, execute);
      },
      // what the first generateText step adds: the AI SDK reads every schema, and the provider copies it then
      'hand-written, non-strict, every schema read once': () => () => {
        for (let index = 0; index < WRAPS_PER_ROUND; index++) readAll(handWrapped(specs, plain, execute));
      },
      'VercelProvider(), every schema read once': () => () => {
        for (let index = 0; index < WRAPS_PER_ROUND; index++) readAll(provider.wrapTools(specs, execute));
      },
    },
    WRAPS_PER_ROUND,
    3,
  );
  const ms = (name: string) => milliseconds[name]!;
  const schemaBytes = specs.reduce((sum, spec) => sum + JSON.stringify(spec.inputSchema).length, 0);
  console.log(
    `\n(b) Wrap time: ${specs.length} GitHub tools (${(schemaBytes / 1e6).toFixed(1)} MB of input schemas, ` +
      `${fallbacks} fall back to non-strict), ${ROUNDS} rounds × ${WRAPS_PER_ROUND} wraps, median per wrap\n`,
  );
  console.log('| wrap | ms per wrap | µs per tool | vs hand-written |');
  console.log('|---|---:|---:|---:|');
  const row = (name: string, baseline: string) =>
    console.log(
      `| ${name} | ${ms(name).toFixed(2)} | ${((ms(name) * 1000) / specs.length).toFixed(2)} | ${(ms(name) / ms(baseline)).toFixed(2)}× |`,
    );
  row('hand-written, non-strict', 'hand-written, non-strict');
  row('VercelProvider()', 'hand-written, non-strict');
  row('hand-written, strict schemas', 'hand-written, strict schemas');
  row('VercelProvider({ strict: true })', 'hand-written, strict schemas');
  row('hand-written, non-strict, every schema read once', 'hand-written, non-strict, every schema read once');
  row('VercelProvider(), every schema read once', 'hand-written, non-strict, every schema read once');
  console.log(
    `\nOnce per tool and process, before the first strict wrap: the strict rewrite (core's strictSchemaOf) ` +
      `takes ${coldStrict.toFixed(1)} ms for all ${specs.length} tools.`,
  );
}

await perCallInAgentLoop(await perCallOverhead());
await wrapTime();
