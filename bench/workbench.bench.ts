/**
 * Workbench benchmarks (TOOLMUX_WORKBENCH, QuickJS in WebAssembly):
 * 1. cold start (a session's first cell: a new Wasm instance and context) and a warm cell, against
 *    a plain `session.execute` of a tool as the baseline;
 * 2. ten tool calls from inside one cell against the same ten `session.execute` calls from the host;
 * 3. memory per idle context (RSS growth over 200 live contexts) and how many fit in 1 GB;
 * 4. the context saved on a bulk task: 500 records, find the 3 that match — characters the model
 *    reads with the workbench against direct calls.
 * Run: `node bench/workbench.bench.ts` (after `pnpm build`).
 */
import { defineTool, defineToolkit, MetaToolSlug, ToolMux } from '@toolmux/core';
import { z } from 'zod';
import { measure, printTable } from './harness.ts';

const quiet = { debug() {}, warn() {}, error() {} };
const records = Array.from({ length: 500 }, (_, index) => ({
  id: `r_${index}`,
  name: `Record ${index}`,
  status: [17, 250, 499].includes(index) ? 'flagged' : 'ok',
  notes: 'lorem ipsum dolor sit amet '.repeat(2),
}));
const toolkit = defineToolkit({
  slug: 'bench',
  description: 'Benchmark toolkit',
  tools: [
    defineTool({
      slug: 'BENCH_ECHO',
      description: 'Echo a number',
      inputSchema: z.object({ n: z.number() }),
      execute: async ({ n }) => ({ n }),
    }),
    defineTool({
      slug: 'BENCH_GET_RECORD',
      description: 'Get one record',
      inputSchema: z.object({ index: z.number().int() }),
      execute: async ({ index }) => records[index],
    }),
  ],
});

const mux = new ToolMux({ toolkits: [toolkit], store: ':memory:', logger: quiet });
const session = await mux.create('user_1', { workbench: {} });
const wb = (code: string) => session.execute(MetaToolSlug.WORKBENCH, { code });

// 1. cold and warm
const baseline = await measure(
  'session.execute of a tool (baseline)',
  () => session.execute('BENCH_ECHO', { n: 1 }),
  {
    iterations: 2_000,
  },
);
const coldSessions = await Promise.all(
  Array.from({ length: 7 * 21 }, () => mux.create('user_1', { workbench: {} })),
);
let next = 0;
const cold = await measure(
  'cold cell (new context, return 1)',
  () => coldSessions[next++]!.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' }),
  { iterations: 20, rounds: 7, warmup: 1 },
);
await wb('return 1');
const warm = await measure('warm cell (return 1)', () => wb('return 1'), { iterations: 1_000 });
printTable('workbench cell cost', [baseline, cold, warm], baseline);

// 2. ten tool calls: from a cell vs from the host
const tenHost = await measure(
  '10 × session.execute from the host',
  async () => {
    for (let n = 0; n < 10; n++) await session.execute('BENCH_ECHO', { n });
  },
  { iterations: 300 },
);
const tenCell = await measure(
  '10 × toolmux.execute in one cell',
  () =>
    wb(
      "let s = 0; for (let n = 0; n < 10; n++) s += (await toolmux.execute('BENCH_ECHO', { n })).data.n; return s",
    ),
  { iterations: 300 },
);
printTable('ten tool calls', [tenHost, tenCell], tenHost);
console.log(
  `ten calls in a cell / from the host: ${(tenCell.nsPerOp / tenHost.nsPerOp).toFixed(2)}× (goal ≤ 1.5×)`,
);

// 3. memory per idle context
const count = 200;
const sessions = await Promise.all(
  Array.from({ length: count }, () => mux.create('user_1', { workbench: {} })),
);
globalThis.gc?.();
const before = process.memoryUsage().rss;
for (const each of sessions)
  await each.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.x = 1; return 1' });
globalThis.gc?.();
const perContext = (process.memoryUsage().rss - before) / count;
console.log(
  `memory per idle context: ${(perContext / 2 ** 20).toFixed(2)} MB RSS (${count} contexts; goal ≤ 4 MB) → about ${Math.floor(2 ** 30 / perContext)} contexts per GB`,
);

// 4. context saved: the 3 flagged records among 500
const direct = await Promise.all(records.map((_, index) => session.execute('BENCH_GET_RECORD', { index })));
const directChars = direct.reduce((sum, result) => sum + JSON.stringify(result.data).length, 0);
const viaWorkbench = await wb(
  "const all = await Promise.all(Array.from({ length: 500 }, (_, index) => toolmux.execute('BENCH_GET_RECORD', { index }))); return all.map((r) => r.data).filter((r) => r.status === 'flagged').map((r) => r.id);",
);
const workbenchChars = JSON.stringify(viaWorkbench.data).length;
console.log(
  `bulk task (3 of 500 records): the model reads ${workbenchChars} characters with the workbench, ${directChars} with direct calls: ${(directChars / workbenchChars).toFixed(0)}× fewer (goal ≥ 10×)`,
);
await mux.close();
