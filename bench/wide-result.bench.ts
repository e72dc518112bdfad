/**
 * A tool result that is one object of a million keys: how long the event loop is held while a call
 * returns it, as a concurrent call sees it. Listing the keys of one object (`Object.keys`, `for…in`,
 * `JSON.stringify`) is a single native step that cannot be split (a million keys: 0.4–1 s on a loaded
 * machine); every stage that walked the result listed them again (the check, the multi-execute's own
 * result, the offload's JSON). A result holding an object of more than MAX_OBJECT_KEYS keys is now
 * refused after the first listing (TOOL_RESULT_INVALID), so no later stage lists it again.
 *
 * Each line: one call of the shape (SQLite file store), while a concurrent loop of small calls runs;
 * `perf_hooks.monitorEventLoopDelay` max and p99, and the slowest small call, as multiples of the
 * small-payload line of the same run (the noise floor: say the load average with the figures), and
 * how many turns took longer than 50 ms. The longest turn stays the one listing of the keys (no
 * JavaScript can list some keys of an object without listing all): what the refusal bounds is how
 * many such turns a call takes, and everything after the check.
 * Run: `node --experimental-strip-types --no-warnings bench/wide-result.bench.ts` (after `pnpm build`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { z } from 'zod';

const KEYS = 1_000_000;
const silent = { debug() {}, warn() {}, error() {} };
const LONG_TURN_MS = 50;

function wideObject(): Record<string, number> {
  const wide: Record<string, number> = {};
  for (let n = 0; n < KEYS; n++) wide[`k${n}`] = n;
  return wide;
}

/** The values the tool returns, made before the calls (the tool's own work is not measured). */
const values: Record<string, unknown> = {
  small: { title: 'hello' },
  wide: wideObject(),
  // the same entries as an array, what the refusal says to return: walked and written in slices
  entries: Array.from({ length: KEYS }, (_, n) => ({ key: `k${n}`, value: n })),
};

const toolkit = defineToolkit({
  slug: 'bench',
  description: 'Bench',
  tools: [
    defineTool({
      slug: 'BENCH_RETURN',
      description: 'Returns a prepared value',
      inputSchema: z.object({ shape: z.string() }),
      execute: async ({ shape }) => values[shape],
    }),
  ],
});

const dir = mkdtempSync(join(tmpdir(), 'toolmux-wide-result-'));
const mux = new ToolMux({ toolkits: [toolkit], store: join(dir, 'toolmux.db'), logger: silent });
const direct = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
const meta = await mux.create('user_1', { toolkits: ['bench'], workbench: { enable: false } });

interface Measured {
  /** Turns of the event loop longer than {@link LONG_TURN_MS} (a 1 ms timer's gaps). */
  longTurns: number;
  max: number;
  p99: number;
  slowestSmall: number;
  total: number;
  outcome: string;
}

async function measure(call: () => Promise<{ successful: boolean; code?: string }>): Promise<Measured> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let running = true;
  let slowestSmall = 0;
  // the concurrent call: small calls one after another, each timed
  const concurrent = (async () => {
    while (running) {
      // from its start (after a 1 ms timer, which a held loop delays too) to its answer
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1));
      await direct.execute('BENCH_RETURN', { shape: 'small' });
      slowestSmall = Math.max(slowestSmall, performance.now() - started);
    }
  })();
  histogram.enable();
  let longTurns = 0;
  let last = performance.now();
  const ticks = setInterval(() => {
    const now = performance.now();
    if (now - last > LONG_TURN_MS) longTurns++;
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = performance.now();
  const result = await call();
  const total = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 20));
  histogram.disable();
  clearInterval(ticks);
  running = false;
  await concurrent;
  return {
    longTurns,
    max: histogram.max / 1e6,
    p99: histogram.percentile(99) / 1e6,
    slowestSmall,
    total,
    outcome: result.successful ? 'successful' : (result.code ?? 'failed'),
  };
}

const cases: Record<string, () => Promise<{ successful: boolean; code?: string }>> = {
  'small (noise floor)': () => direct.execute('BENCH_RETURN', { shape: 'small' }),
  [`object of ${KEYS} keys`]: () => direct.execute('BENCH_RETURN', { shape: 'wide' }),
  [`object of ${KEYS} keys, in a multi-execute`]: () =>
    meta.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'BENCH_RETURN', arguments: { shape: 'wide' } }],
    }),
  // what a framework does next with the result: the model reads it as JSON text
  [`object of ${KEYS} keys, handed to a model as JSON`]: async () => {
    const result = await direct.execute('BENCH_RETURN', { shape: 'wide' });
    JSON.stringify(result);
    return result;
  },
  [`array of ${KEYS} entries`]: () => direct.execute('BENCH_RETURN', { shape: 'entries' }),
};

console.log(
  `\n## a result of one wide object: event-loop delay a concurrent call sees — load average ${loadavg()[0]!.toFixed(2)}`,
);
console.log(
  `${'result'.padEnd(46)} ${'outcome'.padEnd(20)} ${'total ms'.padStart(9)} ${'max delay ms'.padStart(13)} ${'p99 ms'.padStart(8)} ${'slowest small call ms'.padStart(22)} ${`turns > ${LONG_TURN_MS} ms`.padStart(14)}`,
);
// warm-up (and the collection of what making the values left), not shown
await measure(cases['small (noise floor)']!);
await new Promise((resolve) => setTimeout(resolve, 500));
let floor: Measured | undefined;
for (const [name, call] of Object.entries(cases)) {
  const measured = await measure(call);
  floor ??= measured;
  const times = (value: number, base: number) =>
    `${value.toFixed(1)} (${(value / Math.max(base, 1)).toFixed(0)}×)`;
  console.log(
    `${name.padEnd(46)} ${measured.outcome.padEnd(20)} ${measured.total.toFixed(0).padStart(9)} ${times(measured.max, floor.max).padStart(13)} ${times(measured.p99, floor.p99).padStart(8)} ${times(measured.slowestSmall, floor.slowestSmall).padStart(22)} ${String(measured.longTurns).padStart(14)}`,
  );
}

await mux.close();
rmSync(dir, { recursive: true, force: true });
