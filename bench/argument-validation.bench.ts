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
 * A second table (see `equalityShapes`) gives JSON Schema equality (`uniqueItems` over objects, an
 * `enum` of objects or of many strings) a whole call's time, the process's CPU time in it (the
 * validation thread's included) and its answer: the baseline refused the larger ones valid or not.
 * A third table (see `recursionShapes`) gives small recursive schemas the same figures: where two
 * evaluations of one part of the value both recurse below it, each level of nesting doubles the
 * check (the baseline ran it on the main thread, one synchronous call); an ordinary tree stays on
 * the main thread, its cost linear in the value.
 * BENCH_ONLY=<a regular expression> runs the shapes whose names match.
 * Run: `BENCH_BASELINE=/work/main node --experimental-strip-types --no-warnings bench/argument-validation.bench.ts`
 * (after `pnpm build` in both trees).
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { longestTick } from '@toolmux/core/test';

const MB = 1024 * 1024;
const CALLS = Number(process.env.BENCH_CALLS ?? 7);
const quiet = { debug() {}, warn() {}, error() {} };

type Core = typeof import('@toolmux/core');

interface Tree {
  name: string;
  session: Awaited<ReturnType<InstanceType<Core['ToolMux']>['create']>>;
  close(): Promise<void>;
}

/** About a megabyte of items: `{ a: 'abcdef', b: 12345 }`, or `{ a: 1, b: 'x' }` (two issues each). */
function items(valid: boolean): Record<string, unknown>[] {
  const one = valid ? { a: 'abcdef', b: 12345 } : { a: 1, b: 'x' };
  const count = Math.floor(MB / JSON.stringify(one).length);
  return Array.from({ length: count - (count % 4) }, () => ({ ...one }));
}

/** How many items {@link items} makes (an array of exactly that length passes `.length()`). */
const ITEMS = items(true).length;

/** About a megabyte of distinct strings, or of numbers where strings are wanted. */
function strings(valid: boolean): unknown[] {
  return Array.from({ length: Math.floor(MB / 12) }, (_, index) => (valid ? `s${index}` : index));
}

/** `count` distinct objects `{ id, tags }` (about 22 bytes each); with `duplicate`, the second equal to the first. */
function smallObjects(count: number, duplicate: boolean): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, index) =>
    duplicate && index === 1 ? { tags: [0], id: 0 } : { id: index, tags: [index % 7] },
  );
}

/**
 * The shapes of the second table (`equality: true`): JSON Schema equality (`uniqueItems` over
 * objects, an `enum` of objects or of many strings), which Ajv checked by comparing every pair of
 * items or each member in turn; the baseline sent them to the validation thread, whose budget
 * refused the larger ones as not checked in time. What is measured is the whole call and the CPU
 * time of the process (the validation thread's included), and its answer.
 */
function equalityShapes() {
  const objectEnum = Array.from({ length: 2_000 }, (_, index) => ({ kind: 'k', n: index, tags: ['a', 'b'] }));
  const rows = (schema: Record<string, unknown>) => ({
    type: 'object',
    properties: { rows: { type: 'array', ...schema } },
    required: ['rows'],
  });
  return [
    {
      name: 'uniqueItems, 240 KB of objects',
      schema: rows({ uniqueItems: true }),
      args: (valid: boolean) => ({ rows: smallObjects(11_000, !valid) }),
      equality: true,
    },
    {
      name: 'uniqueItems, 1 MB of objects',
      schema: rows({ uniqueItems: true }),
      args: (valid: boolean) => ({ rows: smallObjects(46_000, !valid) }),
      equality: true,
    },
    {
      name: 'enum of 2,000 objects, 300 KB',
      schema: rows({ items: { enum: objectEnum } }),
      args: (valid: boolean) => ({
        rows: Array.from({ length: 8_500 }, (_, index) => ({
          tags: ['a', 'b'],
          n: valid || index < 8_499 ? 1_999 - (index % 10) : -1,
          kind: 'k',
        })),
      }),
      equality: true,
    },
    {
      name: 'enum of 5,000 strings, 4,000',
      schema: rows({ items: { enum: Array.from({ length: 5_000 }, (_, index) => `v${index}`) } }),
      args: (valid: boolean) => ({
        rows: Array.from({ length: 4_000 }, (_, index) => (valid ? `v${4_999 - (index % 10)}` : `w${index}`)),
      }),
      equality: true,
    },
  ];
}

/** `[[[…]]]`, `depth` arrays deep. */
function nestedArrays(depth: number): unknown[] {
  let value: unknown[] = [];
  for (let level = 0; level < depth; level++) value = [value];
  return value;
}

/** A tree of `{ name, children }` nodes, `fanOut` children each, `depth` levels. */
function treeOf(depth: number, fanOut: number): Record<string, unknown> {
  if (depth === 0) return { name: 'leaf' };
  return { name: `n${depth}`, children: Array.from({ length: fanOut }, () => treeOf(depth - 1, fanOut)) };
}

/**
 * The shapes of the third table (`recursion: true`): small recursive schemas, each with one value
 * (`args`, whatever `valid` says).
 */
function recursionShapes() {
  const ref = { $ref: '#/$defs/n' };
  const recursive = (n: Record<string, unknown>) => ({
    type: 'object',
    properties: { tree: ref },
    required: ['tree'],
    $defs: { n },
  });
  const doubling = recursive({
    anyOf: [
      { type: 'array', items: ref, maxItems: 0 },
      { type: 'array', items: ref },
    ],
  });
  const fourWays = recursive({
    anyOf: [
      { type: 'array', items: ref, maxItems: 0 },
      { type: 'array', items: ref, contains: { type: 'string' } },
      { type: 'array', items: ref, minItems: 2 },
      { type: 'array', items: ref },
    ],
  });
  const tree = recursive({
    type: 'object',
    properties: { name: { type: 'string' }, children: { type: 'array', items: ref } },
    required: ['name'],
  });
  // each definition an allOf of two references to the next (no recursion), the last a list of items
  const chain: Record<string, unknown> = {
    d10: {
      type: 'array',
      items: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } } },
    },
  };
  for (let level = 0; level < 10; level++) {
    const next = { $ref: `#/$defs/d${level + 1}` };
    chain[`d${level}`] = { allOf: [next, next] };
  }
  const repeated = { type: 'object', properties: { tree: { $ref: '#/$defs/d0' } }, $defs: chain };
  // a node that recurses into `c` through `then` or `else` (Ajv applies one of them)
  const branching = recursive({
    type: 'object',
    if: { properties: { op: { const: 'and' } } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then`
    then: { properties: { c: ref } },
    else: { properties: { c: ref, d: { type: 'string' } } },
  });
  const chained = (depth: number): Record<string, unknown> =>
    depth === 0 ? { op: 'leaf' } : { op: depth % 2 ? 'and' : 'or', c: chained(depth - 1) };
  return [
    {
      name: 'allOf of 2 $refs ×10, 1,000 bad items',
      schema: repeated,
      args: () => ({ tree: Array.from({ length: 1_000 }, () => ({ a: 1, b: 'x' })) }),
    },
    { name: 'if/then/else by a const, 60 levels', schema: branching, args: () => ({ tree: chained(60) }) },
    {
      name: 'anyOf sharing a tree, 5 levels of 3',
      // each variant checks the tree below once: as many evaluations as variants, at every level
      // (kept in the validation thread: invalid nodes multiply their errors by the variants)
      schema: {
        type: 'object',
        properties: {
          tree: {
            anyOf: ['a', 'b'].map((kind) => ({
              type: 'object',
              properties: { kind: { const: kind }, root: { $ref: '#/$defs/n' } },
            })),
          },
        },
        $defs: { n: (tree.$defs as Record<string, unknown>).n },
      },
      args: () => ({ tree: { kind: 'b', root: treeOf(5, 3) } }),
    },
    { name: 'anyOf ×2 per level, 18 levels', schema: doubling, args: () => ({ tree: nestedArrays(18) }) },
    { name: 'anyOf ×2 per level, 22 levels', schema: doubling, args: () => ({ tree: nestedArrays(22) }) },
    { name: 'anyOf ×4 per level, 12 levels', schema: fourWays, args: () => ({ tree: nestedArrays(12) }) },
    { name: 'tree, 60 levels of 1 child', schema: tree, args: () => ({ tree: treeOf(60, 1) }) },
    { name: 'tree, 5 levels of 3 children', schema: tree, args: () => ({ tree: treeOf(5, 3) }) },
  ].map((shape) => ({ ...shape, recursion: true }));
}

const byId = (list: unknown[]) => Object.fromEntries(list.map((entry, index) => [`id${index}`, entry]));

type Zod = typeof import('zod');

/**
 * The shapes of the bench: an input schema (zod's, zod/mini's or a JSON Schema) and its megabyte of
 * arguments, valid or not. The first four are cut by the sliced validations of both; the others were
 * once validated whole, in one call (zod's unions and refinements until they were split by whether
 * their parts' issues end the parse).
 */
function shapes(z: Zod) {
  const item = z.object({ a: z.string(), b: z.number() });
  const itemJson = {
    type: 'object',
    properties: { a: { type: 'string' }, b: { type: 'number' } },
    required: ['a', 'b'],
  };
  const arrayJson = (extra: Record<string, unknown> = {}) => ({
    type: 'object',
    properties: { items: { type: 'array', items: itemJson, ...extra } },
    required: ['items'],
  });
  const listed = (valid: boolean) => ({ items: items(valid) });
  return [
    { name: 'zod array', schema: z.object({ items: z.array(item) }), args: listed },
    {
      name: 'zod record',
      schema: z.object({ byId: z.record(z.string(), item) }),
      args: (valid: boolean) => ({ byId: byId(items(valid)) }),
    },
    { name: 'JSON Schema array', schema: arrayJson(), args: listed },
    {
      name: 'JSON Schema record',
      schema: {
        type: 'object',
        properties: { byId: { type: 'object', additionalProperties: itemJson } },
        required: ['byId'],
      },
      args: (valid: boolean) => ({ byId: byId(items(valid)) }),
    },
    { name: 'zod array .min()', schema: z.object({ items: z.array(item).min(1) }), args: listed },
    { name: 'zod array .max()', schema: z.object({ items: z.array(item).max(1e6) }), args: listed },
    { name: 'zod array .length()', schema: z.object({ items: z.array(item).length(ITEMS) }), args: listed },
    { name: 'zod array .nonempty()', schema: z.object({ items: z.array(item).nonempty() }), args: listed },
    {
      name: 'zod union of arrays',
      schema: z.object({ items: z.union([z.array(item), z.string()]) }),
      args: listed,
    },
    {
      name: 'zod discriminated union',
      schema: z.object({
        op: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('add'), items: z.array(item) }),
          z.object({ kind: z.literal('remove'), ids: z.array(z.string()) }),
        ]),
      }),
      args: (valid: boolean) => ({ op: { kind: 'add', items: items(valid) } }),
    },
    {
      name: 'zod discriminated union, no kind',
      // the option whose `kind` is optional
      schema: z.object({
        op: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('add').optional(), items: z.array(item) }),
          z.object({ kind: z.literal('remove'), ids: z.array(z.string()) }),
        ]),
      }),
      args: (valid: boolean) => ({ op: { items: items(valid) } }),
    },
    {
      name: 'zod discriminated union, fallback',
      // invalid: a `kind` naming no option, which `unionFallback` tries each option for
      schema: z.object({
        op: z.discriminatedUnion(
          'kind',
          [
            z.object({ kind: z.literal('add'), items: z.array(item) }),
            z.object({ kind: z.literal('remove'), ids: z.array(z.string()) }),
          ],
          { unionFallback: true },
        ),
      }),
      args: (valid: boolean) => ({ op: { kind: valid ? 'add' : 'put', items: items(valid) } }),
    },
    {
      name: 'zod transform',
      schema: z.object({ items: z.array(item).transform((list) => list.slice(0)) }),
      args: listed,
    },
    {
      name: 'zod object .refine()',
      schema: z.object({ items: z.array(item) }).refine((input) => input.items.length > 0),
      args: listed,
    },
    {
      name: 'zod array .superRefine()',
      schema: z.object({
        items: z.array(item).superRefine((list, context) => {
          if (list.length === 0) context.addIssue({ code: 'custom', message: 'no items' });
        }),
      }),
      args: listed,
    },
    {
      name: 'zod union of objects',
      schema: z.object({
        op: z.union([z.object({ items: z.array(item) }), z.object({ ids: z.array(z.string()) })]),
      }),
      args: (valid: boolean) => ({ op: listed(valid) }),
    },
    {
      name: 'zod record, enum keys',
      schema: z.object({ byKind: z.record(z.enum(['a', 'b', 'c', 'd']), z.array(item)) }),
      args: (valid: boolean) => {
        const list = items(valid);
        const quarter = list.length / 4;
        return {
          byKind: Object.fromEntries(
            ['a', 'b', 'c', 'd'].map((key, index) => [
              key,
              list.slice(index * quarter, (index + 1) * quarter),
            ]),
          ),
        };
      },
    },
    { name: 'JSON Schema minItems', schema: arrayJson({ minItems: 1 }), args: listed },
    { name: 'JSON Schema maxItems', schema: arrayJson({ maxItems: 1e6 }), args: listed },
    {
      name: 'JSON Schema uniqueItems',
      schema: {
        type: 'object',
        properties: { tags: { type: 'array', items: { type: 'string' }, uniqueItems: true } },
        required: ['tags'],
      },
      args: (valid: boolean) => ({ tags: strings(valid) }),
    },
    {
      name: 'JSON Schema propertyNames',
      schema: {
        type: 'object',
        properties: {
          byId: { type: 'object', propertyNames: { pattern: '^id' }, additionalProperties: itemJson },
        },
        required: ['byId'],
      },
      args: (valid: boolean) => ({ byId: byId(items(valid)) }),
    },
    {
      name: 'JSON Schema $ref',
      schema: {
        type: 'object',
        properties: { items: { $ref: '#/$defs/list' } },
        required: ['items'],
        $defs: { list: { type: 'array', items: itemJson } },
      },
      args: listed,
    },
    {
      name: 'JSON Schema allOf at the top',
      schema: { type: 'object', allOf: [arrayJson(), { required: ['items'] }] },
      args: listed,
    },
    {
      name: 'JSON Schema anyOf around it',
      schema: {
        type: 'object',
        properties: { items: { anyOf: [{ type: 'array', items: itemJson }, { type: 'string' }] } },
        required: ['items'],
      },
      args: listed,
    },
    {
      name: 'JSON Schema oneOf around it',
      schema: {
        type: 'object',
        properties: { items: { oneOf: [{ type: 'array', items: itemJson }, { type: 'string' }] } },
        required: ['items'],
      },
      args: listed,
    },
    ...equalityShapes(),
    ...recursionShapes(),
  ];
}

/** A ToolMux of the core built in `root`, with the bench's tools defined by that core's zod. */
async function treeAt(name: string, root: string): Promise<Tree> {
  const core = (await import(pathToFileURL(`${root}/packages/core/dist/index.js`).href)) as Core;
  const zod = `${root}/packages/core/node_modules/zod`;
  const z = (await import(pathToFileURL(`${zod}/index.js`).href)) as Zod;
  const counting = async (input: Record<string, unknown>) => ({ keys: Object.keys(input).length });
  const tools = shapes(z).map((shape, index) =>
    core.defineTool({
      slug: `BENCH_${index}`,
      description: shape.name,
      inputSchema: shape.schema as never,
      execute: counting,
    }),
  );
  const mux = new core.ToolMux({
    toolkits: [core.defineToolkit({ slug: 'bench', description: 'Bench', tools })],
    store: ':memory:',
    logger: quiet,
  });
  const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
  return { name, session, close: () => mux.close() };
}

/** One call's longest turn: wall ms between the ticks of a 1 ms timer, and CPU ms of the thread. */
async function longestTurn(
  call: () => Promise<unknown>,
): Promise<{ wall: number; cpu: number; ok: boolean }> {
  const { value, gapMs, cpuMs } = await longestTick(call);
  return { wall: gapMs, cpu: cpuMs, ok: (value as { successful: boolean }).successful };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const trees = [await treeAt('this tree', new URL('..', import.meta.url).pathname.replace(/\/$/, ''))];
if (process.env.BENCH_BASELINE) trees.unshift(await treeAt('baseline', process.env.BENCH_BASELINE));

console.log(
  `\n## longest event-loop turn while session.execute validates 1 MB of arguments — ${CALLS} calls each, load average ${loadavg()[0]!.toFixed(2)}`,
);
console.log(
  `${'tool, arguments'.padEnd(40)} ${trees.map((tree) => `${tree.name}: wall | cpu ms`.padStart(26)).join(' ')}${trees.length > 1 ? '   ratio wall | cpu' : ''}`,
);
const only = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY);
const z = (await import('zod')) as Zod;
for (const [index, shape] of shapes(z).entries()) {
  if ((only && !only.test(shape.name)) || 'equality' in shape || 'recursion' in shape) continue;
  for (const valid of [true, false]) {
    const args = shape.args(valid);
    const slug = `BENCH_${index}`;
    const runs = trees.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
    // a warm-up call each (compiling Ajv's code, zod's JIT), then the calls interleaved
    for (const tree of trees) await tree.session.execute(slug, args);
    for (let call = 0; call < CALLS; call++) {
      for (const [index, tree] of trees.entries()) {
        const turn = await longestTurn(() => tree.session.execute(slug, args));
        if (turn.ok !== valid)
          throw new Error(`${tree.name} ${shape.name}: expected ${valid ? 'success' : 'failure'}`);
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
    console.log(`${`${shape.name}, ${valid ? 'valid' : 'invalid'}`.padEnd(40)} ${cells.join(' ')}${ratio}`);
  }
}

/**
 * A call's wall time, the process's CPU time in it (every thread's), the longest event-loop turn in
 * CPU time of the main thread, and its answer in a word.
 */
async function wholeCall(
  call: () => Promise<unknown>,
): Promise<{ wall: number; cpu: number; turn: number; answer: string }> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const { value, cpuMs } = await longestTick(call);
  const wall = performance.now() - started;
  const { user, system } = process.cpuUsage(cpuBefore);
  const result = value as { successful: boolean; error?: string };
  const answer = result.successful
    ? 'valid'
    : result.error?.includes('in time')
      ? 'REFUSED (not checked in time)'
      : 'invalid';
  return { wall, cpu: (user + system) / 1000, turn: cpuMs, answer };
}

/**
 * A table of whole calls (see {@link wholeCall}) for the shapes marked `mark`, with each of
 * `validity`'s values; the ratio is the baseline's over this tree's, of `ratioOf` (cpu or turn).
 */
async function wholeCallTable(
  title: string,
  mark: 'equality' | 'recursion',
  validity: boolean[],
  warmUp: unknown,
  ratioOf: 'cpu' | 'turn',
): Promise<void> {
  console.log(
    `\n## ${title}: a whole call's wall time, the process's CPU time (every thread), the longest turn (CPU ms), and its answer — ${CALLS} calls each`,
  );
  console.log(
    `${'tool, arguments'.padEnd(40)} ${trees.map((tree) => `${tree.name}: wall | cpu | turn ms, answer`.padStart(52)).join(' ')}${trees.length > 1 ? `   ratio ${ratioOf}` : ''}`,
  );
  for (const [index, shape] of shapes(z).entries()) {
    if ((only && !only.test(shape.name)) || !(mark in shape)) continue;
    for (const valid of validity) {
      const args = shape.args(valid);
      const slug = `BENCH_${index}`;
      const runs = trees.map(() => ({
        wall: [] as number[],
        cpu: [] as number[],
        turn: [] as number[],
        answers: new Set<string>(),
      }));
      for (const tree of trees) await tree.session.execute(slug, warmUp);
      for (let call = 0; call < CALLS; call++) {
        for (const [index, tree] of trees.entries()) {
          const { wall, cpu, turn, answer } = await wholeCall(() => tree.session.execute(slug, args));
          runs[index]!.wall.push(wall);
          runs[index]!.cpu.push(cpu);
          runs[index]!.turn.push(turn);
          runs[index]!.answers.add(answer);
        }
      }
      const cells = runs.map((run) =>
        `${median(run.wall).toFixed(0)} | ${median(run.cpu).toFixed(0)} | ${median(run.turn).toFixed(1)}, ${[...run.answers].join('/')}`.padStart(
          52,
        ),
      );
      const ratio =
        trees.length > 1
          ? `   ${(median(runs[0]![ratioOf]) / Math.max(0.1, median(runs[1]![ratioOf]))).toFixed(1)}×`
          : '';
      const name = validity.length > 1 ? `${shape.name}, ${valid ? 'valid' : 'invalid'}` : shape.name;
      console.log(`${name.padEnd(40)} ${cells.join(' ')}${ratio}`);
    }
  }
}

await wholeCallTable(
  'JSON Schema equality (uniqueItems, enum)',
  'equality',
  [true, false],
  { rows: [] },
  'cpu',
);
await wholeCallTable('small recursive schemas', 'recursion', [true], { tree: [] }, 'turn');
for (const tree of trees) await tree.close();
