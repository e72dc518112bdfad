/**
 * Work on text from outside is bounded by what is read of it: a megabyte from a model, a client or a
 * third-party MCP server costs about its parsing, not seconds of the event loop (the class of issue
 * 15, item 2). Each case against the same call with ordinary text, in one run (ratios only):
 * 1. TOOLMUX_SEARCH_TOOLS with a use case of ~1 MB of distinct words (search reads the first 2,000
 *    characters of a query);
 * 2. an unknown tool slug of 32 KB, alone and 30 of them in one TOOLMUX_MULTI_EXECUTE_TOOL (the "did
 *    you mean" hint computes an edit distance only for names of about a candidate's length);
 * 3. the first search of a new session with a custom tool whose parameters' descriptions hold ~1 MB of
 *    distinct words (the index reads 8,192 characters of them), against one with ordinary ones;
 * 4. `create()` with a config of 40,000 `tools` keys, and of 40,000 tags enabled and disabled (a
 *    config's lists and maps hold at most 1,000 entries, counted first), against an ordinary config.
 * 5. a session with 4,000 custom tools (created, then its first search, which indexes them), against
 *    one with a single custom tool: the time to create it, and what a concurrent caller sees meanwhile
 *    (an ordinary call in a loop): the event-loop delay (`monitorEventLoopDelay`, max) and its slowest
 *    call. The work is done a slice at a time; before, it held the event loop for the whole of it.
 * Run: `node bench/outside-text.bench.ts` (after `pnpm build`); `BENCH_PARTS=5` runs item 5 only.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { defineTool, MetaToolSlug, ToolMux } from '@toolmux/core';
import { builtinToolkits } from '@toolmux/toolkits';
import { z } from 'zod';
import { formatNs, measure, printTable } from './harness.ts';

const quiet = { debug() {}, warn() {}, error() {} };
const mux = new ToolMux({ toolkits: builtinToolkits, store: ':memory:', logger: quiet });
const session = await mux.create('user_1', {});

/** About `chars` characters of words that are all different (each one a new word to stem). */
const distinctWords = (chars: number) => {
  const words: string[] = [];
  for (let n = 0, length = 0; length < chars; n++) {
    const word = `w${n.toString(36)}`;
    words.push(word);
    length += word.length + 1;
  }
  return words.join(' ');
};
const parts = (process.env.BENCH_PARTS ?? '1,2,3,4,5').split(',');

if (parts.some((part) => part !== '5')) {
  const megabyte = distinctWords(1_000_000);
  const search = (useCase: string) => () =>
    session.execute(MetaToolSlug.SEARCH_TOOLS, { queries: [{ use_case: useCase }] });
  const ordinaryQuery = await measure('use case "create a github issue"', search('create a github issue'), {
    iterations: 50,
  });
  printTable(
    'TOOLMUX_SEARCH_TOOLS',
    [
      ordinaryQuery,
      await measure(`use case of ${megabyte.length.toLocaleString('en')} characters`, search(megabyte), {
        iterations: 5,
        rounds: 5,
        warmup: 1,
      }),
    ],
    ordinaryQuery,
  );

  const longSlug = `GITHUB_CREATE_ISSUE${'X'.repeat(32 * 1024)}`;
  const short = await measure(
    'unknown slug "GITHUB_CREATE_ISUE"',
    () => session.execute('GITHUB_CREATE_ISUE', {}),
    {
      iterations: 200,
    },
  );
  printTable(
    'an unknown tool slug',
    [
      short,
      await measure('unknown slug of 32 KB', () => session.execute(longSlug, {}), {
        iterations: 20,
        warmup: 2,
      }),
      await measure(
        '30 unknown slugs of 32 KB in one multi-execute',
        () =>
          session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
            tools: Array.from({ length: 30 }, (_, n) => ({ tool_slug: `${longSlug}${n}`, arguments: {} })),
          }),
        { iterations: 3, rounds: 5, warmup: 1 },
      ),
    ],
    short,
  );

  const withCustomTool = (description: string) => async () => {
    const custom = defineTool({
      slug: 'NOTES_ADD',
      description: 'Add a note.',
      inputSchema: z.object(
        Object.fromEntries(
          Array.from({ length: 10 }, (_, n) => [`field_${n}`, z.string().describe(description)]),
        ),
      ),
      execute: async () => ({}),
    });
    const customSession = await mux.create('user_1', { experimental: { customTools: [custom] } });
    await customSession.execute(MetaToolSlug.SEARCH_TOOLS, { queries: [{ use_case: 'add a note' }] });
  };
  const ordinary = await measure(
    'parameters described in a sentence',
    withCustomTool('The text of the field.'),
    {
      iterations: 20,
      rounds: 5,
    },
  );
  printTable(
    'a new session with a custom tool, create and first search',
    [
      ordinary,
      await measure(
        `parameters described in ${(10 * 100_000).toLocaleString('en')} characters`,
        withCustomTool(distinctWords(100_000)),
        { iterations: 3, rounds: 5, warmup: 1 },
      ),
    ],
    ordinary,
  );
  const createWith = (config: Parameters<typeof mux.create>[1]) => async () => {
    // refused (CONFIG_INVALID or TOOLKIT_NOT_FOUND) or created: the time to answer is measured
    await mux.create('user_1', config).catch(() => undefined);
  };
  const ordinaryConfig = await measure(
    "config { toolkits: ['github'], tags: ['readOnlyHint'] }",
    createWith({ toolkits: ['github'], tags: ['readOnlyHint'] }),
    { iterations: 50 },
  );
  printTable(
    'create() with a config of many entries',
    [
      ordinaryConfig,
      await measure(
        'config of 40,000 tools keys',
        createWith({
          tools: Object.fromEntries(Array.from({ length: 40_000 }, (_, n) => [`toolkit_${n}`, ['X']])),
        }),
        { iterations: 3, rounds: 5, warmup: 1 },
      ),
      await measure(
        'config of 40,000 tags enabled and 40,000 disabled',
        createWith({
          tags: {
            enable: Array(40_000).fill('readOnlyHint'),
            disable: Array(40_000).fill('destructiveHint'),
          },
        }),
        { iterations: 1, rounds: 3, warmup: 0 },
      ),
    ],
    ordinaryConfig,
  );
}

if (parts.includes('5')) {
  /** `count` custom tools of a notes app, each with two described parameters. */
  const notesTools = (count: number) =>
    Array.from({ length: count }, (_, n) =>
      defineTool({
        slug: `NOTES_ACTION_${n}`,
        description: `Runs action ${n} on the notes of the user`,
        inputSchema: z.object({
          noteId: z.string().describe('The id of the note'),
          text: z.string().optional().describe('The new text'),
        }),
        execute: async () => ({}),
      }),
    );
  const ping = defineTool({
    slug: 'PING_NOW',
    description: 'Answers at once',
    inputSchema: z.object({}),
    execute: async () => ({ pong: true }),
  });
  // the concurrent caller: an ordinary call in a session of its own
  const other = await mux.create('user_2', { experimental: { customTools: [ping] } });
  const createWith = async (tools: ReturnType<typeof notesTools>) => {
    const created = await mux.create('user_1', { experimental: { customTools: tools } });
    await created.execute(MetaToolSlug.SEARCH_TOOLS, { queries: [{ use_case: 'edit a note' }] });
  };
  /** One creation while the concurrent caller runs: its time, the event-loop delay, the slowest call. */
  const underLoad = async (tools: ReturnType<typeof notesTools>) => {
    const delay = monitorEventLoopDelay({ resolution: 1 });
    let running = true;
    let slowest = 0;
    const caller = (async () => {
      while (running) {
        const started = performance.now();
        await other.execute('PING_NOW', {});
        slowest = Math.max(slowest, performance.now() - started);
      }
    })();
    delay.enable();
    // its first tick only starts the clock: a turn held before it would not count
    await new Promise((resolve) => setTimeout(resolve, 5));
    const started = process.hrtime.bigint();
    await createWith(tools);
    const ns = Number(process.hrtime.bigint() - started);
    // the histogram's timer takes its sample once the loop is free: a turn held to the end shows then
    await new Promise((resolve) => setTimeout(resolve, 5));
    delay.disable();
    running = false;
    await caller;
    return { ns, delayMs: delay.max / 1e6, slowestMs: slowest };
  };
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const contenders = { 'a single custom tool': notesTools(1), '4,000 custom tools': notesTools(4_000) };
  const runs = new Map<string, Array<Awaited<ReturnType<typeof underLoad>>>>(
    Object.keys(contenders).map((name) => [name, []]),
  );
  // warm up, then take turns so that load from other processes falls on both alike
  for (const tools of Object.values(contenders)) await underLoad(tools);
  for (let round = 0; round < 7; round++) {
    for (const [name, tools] of Object.entries(contenders)) runs.get(name)!.push(await underLoad(tools));
  }
  const single = await measure('a single custom tool', () => createWith(contenders['a single custom tool']), {
    iterations: 20,
    rounds: 7,
  });
  printTable(
    'a new session with custom tools: create and first search, alone',
    [
      single,
      await measure('4,000 custom tools', () => createWith(contenders['4,000 custom tools']), {
        iterations: 2,
        rounds: 7,
        warmup: 1,
      }),
    ],
    single,
  );
  const baseline = runs.get('a single custom tool')!;
  const ratio = (value: number, base: number) => (base > 0 ? ` (${(value / base).toFixed(2)}×)` : '');
  console.log('\n## a new session with custom tools: create and first search, beside a concurrent caller');
  for (const [name, samples] of runs) {
    const row = (of: (sample: (typeof samples)[number]) => number) => {
      const value = median(samples.map(of));
      return { value, versus: samples === baseline ? '' : ratio(value, median(baseline.map(of))) };
    };
    const time = row((sample) => sample.ns);
    const delay = row((sample) => sample.delayMs);
    const slowest = row((sample) => sample.slowestMs);
    console.log(
      `${name.padEnd(22)} time ${formatNs(time.value).padStart(10)}${time.versus}` +
        `   event-loop delay max ${delay.value.toFixed(1)} ms${delay.versus}` +
        `   slowest concurrent call ${slowest.value.toFixed(1)} ms${slowest.versus}`,
    );
  }
}

await mux.close();
