/**
 * Issue 15, item 2: the longest turn of the event loop while `session.execute` validates a megabyte
 * of arguments, valid or not, for a zod tool and for the same schema as a JSON Schema tool (Ajv),
 * as an array of objects and as a record of them. Each row runs the built core of this tree and,
 * with BENCH_BASELINE=<a worktree of the baseline, built>, the same calls through the baseline's
 * core in the same process, interleaved call by call, so the two see the same load: the ratio is
 * baseline / this tree.
 *
 * A turn is measured by a 1 ms interval timer of the bench itself (the wall time between two of its
 * ticks; started before the call, so a block in the call's first turn is seen), and in CPU time of
 * the thread (`process.threadCpuUsage`, a loaded machine inflates it less; it moves in steps of the
 * scheduler's tick). Median over BENCH_CALLS calls (default 7) of each call's longest turn.
 * Run: `BENCH_BASELINE=/work/main node --experimental-strip-types --no-warnings bench/argument-validation.bench.ts`
 * (after `pnpm build` in both trees).
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';

const MB = 1024 * 1024;
const CALLS = Number(process.env.BENCH_CALLS ?? 7);
const quiet = { debug() {}, warn() {}, error() {} };

type Core = typeof import('@toolmux/core');

interface Tree {
  name: string;
  session: Awaited<ReturnType<InstanceType<Core['ToolMux']>['create']>>;
  close(): Promise<void>;
}

/** A ToolMux of the core built in `root`, with the bench's tools defined by that core's zod. */
async function treeAt(name: string, root: string): Promise<Tree> {
  const core = (await import(pathToFileURL(`${root}/packages/core/dist/index.js`).href)) as Core;
  const { z } = (await import(
    pathToFileURL(`${root}/packages/core/node_modules/zod/index.js`).href
  )) as typeof import('zod');
  const item = z.object({ a: z.string(), b: z.number() });
  const itemJson = {
    type: 'object',
    properties: { a: { type: 'string' }, b: { type: 'number' } },
    required: ['a', 'b'],
  };
  const counting = async (input: Record<string, unknown>) => ({ keys: Object.keys(input).length });
  const tools = [
    core.defineTool({
      slug: 'BENCH_ZOD_ARRAY',
      description: 'x',
      inputSchema: z.object({ items: z.array(item) }),
      execute: counting,
    }),
    core.defineTool({
      slug: 'BENCH_ZOD_RECORD',
      description: 'x',
      inputSchema: z.object({ byId: z.record(z.string(), item) }),
      execute: counting,
    }),
    core.defineTool({
      slug: 'BENCH_JSON_ARRAY',
      description: 'x',
      inputSchema: {
        type: 'object',
        properties: { items: { type: 'array', items: itemJson } },
        required: ['items'],
      },
      execute: counting,
    }),
    core.defineTool({
      slug: 'BENCH_JSON_RECORD',
      description: 'x',
      inputSchema: {
        type: 'object',
        properties: { byId: { type: 'object', additionalProperties: itemJson } },
        required: ['byId'],
      },
      execute: counting,
    }),
  ];
  const mux = new core.ToolMux({
    toolkits: [core.defineToolkit({ slug: 'bench', description: 'Bench', tools })],
    store: ':memory:',
    logger: quiet,
  });
  const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
  return { name, session, close: () => mux.close() };
}

/** About a megabyte of items: `{ a: 'abcdef', b: 12345 }`, or `{ a: 1, b: 'x' }` (two issues each). */
function items(valid: boolean): unknown[] {
  const one = valid ? { a: 'abcdef', b: 12345 } : { a: 1, b: 'x' };
  return Array.from({ length: Math.floor(MB / JSON.stringify(one).length) }, () => ({ ...one }));
}

const cpu = () => {
  const usage = process.threadCpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** One call's longest turn: wall ms between the ticks of a 1 ms timer, and CPU ms of the thread. */
async function longestTurn(
  call: () => Promise<unknown>,
): Promise<{ wall: number; cpu: number; ok: boolean }> {
  let wallBefore = performance.now();
  let cpuBefore = cpu();
  let wall = 0;
  let cpuMax = 0;
  const timer = setInterval(() => {
    const wallNow = performance.now();
    const cpuNow = cpu();
    wall = Math.max(wall, wallNow - wallBefore);
    cpuMax = Math.max(cpuMax, cpuNow - cpuBefore);
    wallBefore = wallNow;
    cpuBefore = cpuNow;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 3));
  wall = 0;
  cpuMax = 0;
  const result = (await call()) as { successful: boolean };
  await new Promise((resolve) => setTimeout(resolve, 3));
  clearInterval(timer);
  return { wall, cpu: cpuMax, ok: result.successful };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const trees = [await treeAt('this tree', new URL('..', import.meta.url).pathname.replace(/\/$/, ''))];
if (process.env.BENCH_BASELINE) trees.unshift(await treeAt('baseline', process.env.BENCH_BASELINE));

console.log(
  `\n## longest event-loop turn while session.execute validates 1 MB of arguments — ${CALLS} calls each, load average ${loadavg()[0]!.toFixed(2)}`,
);
console.log(
  `${'tool, arguments'.padEnd(34)} ${trees.map((tree) => `${tree.name}: wall | cpu ms`.padStart(26)).join(' ')}${trees.length > 1 ? '   ratio wall | cpu' : ''}`,
);
for (const kind of ['ZOD', 'JSON'] as const) {
  for (const shape of ['ARRAY', 'RECORD'] as const) {
    for (const valid of [true, false]) {
      const list = items(valid);
      const args =
        shape === 'ARRAY'
          ? { items: list }
          : { byId: Object.fromEntries(list.map((entry, index) => [`id${index}`, entry])) };
      const slug = `BENCH_${kind}_${shape}`;
      const runs = trees.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
      // a warm-up call each (compiling Ajv's code, zod's JIT), then the calls interleaved
      for (const tree of trees) await tree.session.execute(slug, args);
      for (let call = 0; call < CALLS; call++) {
        for (const [index, tree] of trees.entries()) {
          const turn = await longestTurn(() => tree.session.execute(slug, args));
          if (turn.ok !== valid)
            throw new Error(`${tree.name} ${slug}: expected ${valid ? 'success' : 'failure'}`);
          runs[index]!.wall.push(turn.wall);
          runs[index]!.cpu.push(turn.cpu);
        }
      }
      const cells = runs.map((run) =>
        `${median(run.wall).toFixed(1)} | ${median(run.cpu).toFixed(1)}`.padStart(26),
      );
      const ratio =
        trees.length > 1
          ? `   ${(median(runs[0]!.wall) / median(runs[1]!.wall)).toFixed(1)}× | ${(median(runs[0]!.cpu) / median(runs[1]!.cpu)).toFixed(1)}×`
          : '';
      const label = `${kind === 'ZOD' ? 'zod' : 'JSON Schema'} ${shape.toLowerCase()}, ${valid ? 'valid' : 'invalid'}`;
      console.log(`${label.padEnd(34)} ${cells.join(' ')}${ratio}`);
    }
  }
}
for (const tree of trees) await tree.close();
