/**
 * The cost of looking for NaN and ±Infinity in a cell's `toolmux.execute` arguments (JSON writes
 * them as null; the engine writes the arguments once with a replacer that marks the first one, and
 * reads the text back to find its path only when there was one, see the prelude in sandbox.ts): a
 * cell of ten calls, each with 200 records, with and without a null in each record (an empty string
 * instead), and the same with one record per call, interleaved run by run; the ratios are paired by
 * round. Against the code before (a plain write, and a second write with a replacer when the JSON had
 * a null, which also ran the code's toJSON methods and getters again) it measured 1.03–1.08× without
 * a null and 0.68–0.71× with one.
 * Run: `node --experimental-strip-types bench/workbench-null-arguments.bench.ts` (after `pnpm build`).
 */
import { loadavg } from 'node:os';
import { defineTool, defineToolkit, MetaToolSlug, ToolMux } from '@toolmux/core';
import { z } from 'zod';
import { formatNs, measureInterleaved } from './harness.ts';

const quiet = { debug() {}, warn() {}, error() {} };
const toolkit = defineToolkit({
  slug: 'bench',
  description: 'Benchmark toolkit',
  tools: [
    defineTool({
      slug: 'BENCH_COUNT',
      description: 'Count rows',
      inputSchema: z.object({ rows: z.array(z.unknown()) }),
      execute: async ({ rows }) => ({ count: rows.length }),
    }),
  ],
});
const mux = new ToolMux({ toolkits: [toolkit], store: ':memory:', logger: quiet });
const session = await mux.create('user_1', { workbench: {} });
const cell = (empty: string, count = 200) => `
  const rows = [];
  for (let i = 0; i < ${count}; i++) rows.push({ id: 'r_' + i, name: 'Record ' + i, size: i * 3, parent: ${empty} });
  let s = 0;
  for (let n = 0; n < 10; n++) s += (await toolmux.execute('BENCH_COUNT', { rows })).data.count;
  return s;`;
const run = async (code: string) => {
  const result = await session.execute(MetaToolSlug.WORKBENCH, { code });
  if (!result.successful) throw new Error(result.error ?? 'cell failed');
};
const withNull = cell('null');
const withoutNull = cell("''");
const smallWithNull = cell('null', 1);
const smallWithoutNull = cell("''", 1);
const result = await measureInterleaved(
  {
    withoutNull: () => run(withoutNull),
    withNull: () => run(withNull),
    smallWithoutNull: () => run(smallWithoutNull),
    smallWithNull: () => run(smallWithNull),
  },
  { rounds: 15, runsPerRound: 20, warmupRuns: 20 },
);
console.log(
  `\n## ten calls of 200 records from a cell (median of 15 rounds; load average ${loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')})`,
);
console.log(`records without a null  ${formatNs(result.nsPerRun.withoutNull)}/cell`);
console.log(`records with a null     ${formatNs(result.nsPerRun.withNull)}/cell`);
console.log(`with / without: ${result.ratio('withNull', 'withoutNull').toFixed(3)}×`);
console.log(`one record without a null  ${formatNs(result.nsPerRun.smallWithoutNull)}/cell`);
console.log(`one record with a null     ${formatNs(result.nsPerRun.smallWithNull)}/cell`);
console.log(`with / without: ${result.ratio('smallWithNull', 'smallWithoutNull').toFixed(3)}×`);
await mux.close();
