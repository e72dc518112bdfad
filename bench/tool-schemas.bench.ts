/**
 * What tool schemas cost on the call path and at definition, each against a baseline of the same run:
 * 1. a string argument checked against a schema `pattern` by RE2 (re2js, linear in the text) against
 *    JavaScript's backtracking `RegExp` on an ordinary pattern (an e-mail address), the price of the
 *    linear engine on every call; then a nested-quantifier pattern (`^(a+)+$`) against `a`s and a `!`,
 *    where RE2 stays linear and the backtracking engine doubles with each character (run up to 24);
 *    and a pattern RE2 cannot run (zod's e-mail pattern, with lookahead), run by `RegExp` on the
 *    pattern worker thread, against the same `RegExp` on the main thread: the price of a round trip
 *    per test, alone and for a call of 1,000 addresses and of 20,000 (whose tests take the base
 *    budget several times over: it grows with each test); `^(?=a)(a+)+$` on 60 `a`s and a `!`, given
 *    up after the budget;
 * 2. `defineTool` of a GitHub-sized input schema (228 subschemas once inlined) with and without the
 *    size check (`schemaSize`, which stops at 10,000 steps), and the check on 2 KB of doubling `$defs`
 *    (2^40 subschemas inlined, refused after 10,001);
 * 3. the first call of a tool whose schema another live tool compiled already (shared) against one of
 *    a schema not seen before (compiled): what a remote client's session that declares the same tools
 *    again saves.
 * 4. a large schema (more than `OFF_THREAD_SUBSCHEMAS` subschemas as written) compiled and checked in
 *    the validation thread, as a call does, against compiled and checked on the main thread (the
 *    synchronous `tool.validate`): the longest main-thread turn of a first call (a schema not seen
 *    before: the GitHub-sized one, and 2,000 wide properties), and the cost of a later call (the copy
 *    to the thread and back) against the check on the main thread; and an MCP output schema of 2,000
 *    properties at its first listing (`mcpOutputSchemaOf`, the endpoint's and the Claude Agent SDK
 *    provider's) and a 4 MB result checked against a small one a slice at a time, against both done
 *    on the main thread in one call (as they were);
 * 5. a check that overruns its budget in the validation thread (a recursive `anyOf` whose check
 *    doubles with each level of the value's nesting; `uniqueItems` over 20,000 objects was the
 *    example until it became one pass) and an ordinary call's check posted behind it: when each is answered,
 *    against the overrunning check's whole time (on the main thread), which the ordinary call waited
 *    for before the budget.
 * Run: `node --experimental-strip-types --no-warnings bench/tool-schemas.bench.ts` (after `pnpm build`).
 */
import { loadavg } from 'node:os';
import { defineTool } from '@toolmux/core';
// internals measured here (not part of the public API)
import { mcpOutputSchemaOf } from '../packages/core/dist/execution/mcp-result.js';
import { schemaSize } from '../packages/core/dist/schema/inline-refs.js';
import { patternWorkerStarting } from '../packages/core/dist/schema/pattern-worker.js';
import {
  compileJsonSchemaValidator,
  OFF_THREAD_SUBSCHEMAS,
  schemaRegExp,
  slicedValidatorOf,
} from '../packages/core/dist/schema/validate.js';
import { unionRows, unionRowsSchema } from '../packages/core/dist/test/wide-schemas.js';
import { formatNs, measure, printTable } from './harness.ts';

console.log(
  `load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
);

// 1. patterns
const email = '^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$';
const native = new RegExp(email, 'u');
const linear = schemaRegExp(email, 'u');
let n = 0;
const address = () => `someone.name${n++ % 10}@example.com`;
const nativeMatch = await measure('RegExp, e-mail pattern', () => native.test(address()), {
  iterations: 50_000,
});
const linearMatch = await measure('RE2 (schemaRegExp), e-mail pattern', () => linear.test(address()), {
  iterations: 50_000,
});
printTable('a pattern checked against a 26-character argument', [nativeMatch, linearMatch], nativeMatch);

console.log('\n^(a+)+$ against n a’s and a ! (one check each):');
const nested = '^(a+)+$';
const nestedNative = new RegExp(nested, 'u');
const nestedLinear = schemaRegExp(nested, 'u');
const once = (test: () => boolean) => {
  const started = process.hrtime.bigint();
  test();
  return Number(process.hrtime.bigint() - started);
};
for (const length of [16, 20, 24]) {
  const text = `${'a'.repeat(length)}!`;
  console.log(
    `  n = ${length}: RegExp ${formatNs(once(() => nestedNative.test(text)))}, RE2 ${formatNs(once(() => nestedLinear.test(text)))}`,
  );
}
const long = `${'a'.repeat(1_000_000)}!`;
console.log(`  n = 1,000,000: RE2 ${formatNs(once(() => nestedLinear.test(long)))} (RegExp: not run)`);

// zod's e-mail pattern: lookahead, which RE2 cannot run
const lookahead =
  "^(?!\\.)(?!.*\\.\\.)([A-Za-z0-9_'+\\-\\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$";
const lookaheadNative = new RegExp(lookahead, 'u');
const lookaheadWorker = schemaRegExp(lookahead, 'u');
await patternWorkerStarting();
const nativeLookahead = await measure(
  'RegExp, lookahead e-mail pattern',
  () => lookaheadNative.test(address()),
  {
    iterations: 20_000,
  },
);
const workerLookahead = await measure(
  'worker thread (schemaRegExp), lookahead e-mail pattern',
  () => lookaheadWorker.test(address()),
  { iterations: 20_000 },
);
printTable(
  'a pattern RE2 cannot run, checked against a 26-character argument',
  [nativeLookahead, workerLookahead],
  nativeLookahead,
);
const addresses = Array.from({ length: 1_000 }, (_, index) => `someone.name${index}@example.com`);
const listSchema = (pattern: string) => ({
  type: 'object',
  properties: { to: { type: 'array', items: { type: 'string', pattern } } },
});
const validateRe2 = compileJsonSchemaValidator(listSchema(email), 'ACME_SEND');
const validateWorker = compileJsonSchemaValidator(listSchema(lookahead), 'ACME_SEND');
const listRe2 = await measure('RE2 e-mail pattern', () => validateRe2({ to: addresses }), { iterations: 20 });
const listWorker = await measure(
  'lookahead e-mail pattern (worker thread)',
  () => validateWorker({ to: addresses }),
  {
    iterations: 20,
  },
);
printTable('validating a call of 1,000 addresses', [listRe2, listWorker], listRe2);
// the patterns' budget grows with the value (each test adds its share): 20,000 addresses take the
// base budget of a main-thread check (20 ms) several times over, and are checked all the same
const manyAddresses = Array.from({ length: 20_000 }, (_, index) => `someone.name${index}@example.com`);
const manyChecked = validateWorker({ to: manyAddresses });
if (!manyChecked.success) throw new Error(`20,000 addresses were refused: ${manyChecked.issues[0]?.message}`);
const manyRe2 = await measure('RE2 e-mail pattern', () => validateRe2({ to: manyAddresses }), {
  iterations: 5,
});
const manyWorker = await measure(
  'lookahead e-mail pattern (worker thread)',
  () => validateWorker({ to: manyAddresses }),
  { iterations: 5 },
);
printTable(
  'validating a call of 20,000 addresses (past the base budget of 20 ms)',
  [manyRe2, manyWorker],
  manyRe2,
);
const hostileValidate = compileJsonSchemaValidator(
  { type: 'object', properties: { word: { type: 'string', pattern: '^(?=a)(a+)+$' } } },
  'ACME_WORD',
);
for (let round = 0; round < 3; round++) {
  await patternWorkerStarting();
  console.log(
    `  ^(?=a)(a+)+$, n = 60, one validation: ${formatNs(once(() => hostileValidate({ word: `${'a'.repeat(60)}!` }).success))} (RegExp: 2^60 steps, not run)`,
  );
}

// 2. the size check at definition
const github = { type: 'object', properties: {} as Record<string, unknown> };
for (let index = 0; index < 75; index++) {
  github.properties[`field${index}`] = {
    type: 'object',
    properties: { name: { type: 'string' }, value: { anyOf: [{ type: 'string' }, { type: 'number' }] } },
  };
}
const limits = { subschemas: 10_000, depth: 128 };
console.log(`\nthe GitHub-sized schema: ${schemaSize(github, limits).inlined} subschemas once inlined`);
const $defs: Record<string, unknown> = { L0: { type: 'string' } };
for (let level = 1; level <= 40; level++) {
  $defs[`L${level}`] = { anyOf: [{ $ref: `#/$defs/L${level - 1}` }, { $ref: `#/$defs/L${level - 1}` }] };
}
const doubling = { type: 'object', properties: { x: { $ref: '#/$defs/L40' } }, $defs };
const execute = async () => null;
const define = await measure(
  'defineTool, GitHub-sized schema (size check included)',
  () => defineTool({ slug: 'ACME_TOOL', description: 'A tool', inputSchema: github, execute }),
  { iterations: 500 },
);
const check = await measure('schemaSize of it alone', () => schemaSize(github, limits), { iterations: 500 });
const refused = await measure(
  'schemaSize of 2 KB doubling $defs (2^40 inlined)',
  () => schemaSize(doubling, limits),
  { iterations: 50 },
);
printTable('the size check at definition', [define, check, refused], define);

// 3. compiled once per distinct schema
const keep: unknown[] = [];
const firstCall = (schema: object) => {
  const tool = defineTool({ slug: 'ACME_TOOL', description: 'A tool', inputSchema: schema, execute });
  keep.push(tool);
  tool.validate({ field1: { name: 'x' } });
};
firstCall(github);
let distinct = 0;
const shared = await measure('first call, a schema a live tool compiled', () => firstCall(github), {
  iterations: 100,
});
const compiled = await measure(
  'first call, a schema not seen before',
  () => firstCall({ ...github, description: `variant ${distinct++}` }),
  { iterations: 20, rounds: 5, warmup: 5 },
);
printTable('a tool’s first call', [compiled, shared], compiled);

// 4. large schemas in the validation thread
/** The longest turn of the event loop (ms, wall) while `run` runs, from a 1 ms timer's ticks. */
const longestTurnOf = async (run: () => unknown): Promise<{ longest: number; total: number }> => {
  let last = performance.now();
  let longest = 0;
  const ticks = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 3));
  last = performance.now();
  const started = performance.now();
  await run();
  const total = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 3));
  clearInterval(ticks);
  return { longest, total };
};
const wide = (salt: number) => ({
  type: 'object',
  properties: Object.fromEntries(
    Array.from({ length: 2_000 }, (_, index) => [
      `f${index}`,
      { type: 'string', minLength: 1, description: `v${salt}` },
    ]),
  ),
});
const slice = { due: () => false, pause: async () => {} };
console.log(
  `\n## a large schema's first call: longest main-thread turn (median of 5 schemas not seen before; more than ${OFF_THREAD_SUBSCHEMAS} subschemas go to the validation thread)`,
);
let variant = 0;
for (const [name, make] of [
  ['GitHub-sized (228 inlined)', () => ({ ...github, description: `first ${variant++}` })],
  ['2,000 wide properties', () => wide(variant++)],
] as const) {
  const runs = { thread: [] as number[], main: [] as number[], threadTotal: [] as number[] };
  for (let round = 0; round < 5; round++) {
    const inThread = defineTool({ slug: 'ACME_TOOL', description: 'A tool', inputSchema: make(), execute });
    const thread = await longestTurnOf(() => slicedValidatorOf(inThread.validate)!({}, slice as never));
    runs.thread.push(thread.longest);
    runs.threadTotal.push(thread.total);
    const onMain = defineTool({ slug: 'ACME_TOOL', description: 'A tool', inputSchema: make(), execute });
    runs.main.push((await longestTurnOf(() => onMain.validate({}))).longest);
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[2]!;
  console.log(
    `${name.padEnd(28)} validation thread: longest turn ${median(runs.thread).toFixed(1)} ms (first call ${median(runs.threadTotal).toFixed(0)} ms in all); compiled on the main thread: ${median(runs.main).toFixed(1)} ms → ${(median(runs.main) / median(runs.thread)).toFixed(1)}× shorter`,
  );
}
// an MCP surface's output schema (the endpoint's, the Claude Agent SDK provider's): its first listing,
// and the check of a result of about 4 MB (union rows, matching), against compiled and checked on the
// main thread (what they did before)
{
  const runs = { listing: [] as number[], main: [] as number[] };
  for (let round = 0; round < 5; round++) {
    runs.listing.push(
      (
        await longestTurnOf(() =>
          mcpOutputSchemaOf({ slug: 'ACME_TOOL', outputSchema: wide(variant++) } as never, () => {}),
        )
      ).longest,
    );
    runs.main.push(
      (await longestTurnOf(() => compileJsonSchemaValidator(wide(variant++), 'ACME_TOOL', 'output')({})))
        .longest,
    );
  }
  const result = unionRows(120_000, true);
  const output = (await mcpOutputSchemaOf(
    { slug: 'ACME_ROWS', outputSchema: unionRowsSchema } as never,
    () => {},
  ))!;
  const onMain = compileJsonSchemaValidator(unionRowsSchema, 'ACME_ROWS', 'output');
  const checks = { sliced: [] as number[], main: [] as number[] };
  for (let round = 0; round < 5; round++) {
    checks.sliced.push((await longestTurnOf(() => output.validator(result))).longest);
    checks.main.push((await longestTurnOf(() => onMain(result))).longest);
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  const listing = median(runs.listing);
  const main = median(runs.main);
  console.log(
    `${'MCP output schema, 2,000'.padEnd(28)} first listing: longest turn ${listing.toFixed(1)} ms; compiled on the main thread: ${main.toFixed(1)} ms → ${(main / listing).toFixed(1)}× shorter`,
  );
  console.log(
    `${'MCP result of 4 MB'.padEnd(28)} checked a slice at a time: longest turn ${median(checks.sliced).toFixed(1)} ms; in one call on the main thread: ${median(checks.main).toFixed(1)} ms → ${(median(checks.main) / median(checks.sliced)).toFixed(1)}× shorter`,
  );
}
const compiledGithub = defineTool({ slug: 'ACME_TOOL', description: 'A tool', inputSchema: github, execute });
const args = { field1: { name: 'x' } };
await slicedValidatorOf(compiledGithub.validate)!(args, slice as never);
compiledGithub.validate(args);
const onThread = await measure(
  'a later call: checked in the validation thread',
  () => slicedValidatorOf(compiledGithub.validate)!(args, slice as never),
  { iterations: 2_000 },
);
const onMainThread = await measure(
  'a later call: checked on the main thread',
  () => compiledGithub.validate(args),
  {
    iterations: 2_000,
  },
);
printTable(
  'a GitHub-sized schema, compiled: the cost of a call’s check',
  [onMainThread, onThread],
  onMainThread,
);

// 5. a check that overruns its budget, and an ordinary one waiting behind it in the validation thread
{
  // each level's anyOf checks the items below against a variant that then fails, then against one
  // that passes: the check doubles with each level (22 levels, 44 bytes: seconds); 60 properties
  // more than OFF_THREAD_SUBSCHEMAS send it to the thread
  const doublingSchema = {
    type: 'object',
    properties: {
      ...Object.fromEntries(Array.from({ length: 60 }, (_, index) => [`p${index}`, { type: 'string' }])),
      tree: { $ref: '#/$defs/node' },
    },
    $defs: {
      node: {
        anyOf: [
          { type: 'array', maxItems: 0, items: { $ref: '#/$defs/node' } },
          { type: 'array', items: { $ref: '#/$defs/node' } },
        ],
      },
    },
  } as const;
  let tree: unknown[] = [];
  for (let level = 0; level < 22; level++) tree = [tree];
  const hostile = { tree };
  const doubling = defineTool({
    slug: 'ACME_DOUBLING',
    description: 'A tool',
    inputSchema: doublingSchema,
    execute,
  });
  await slicedValidatorOf(doubling.validate)!({ tree: [] }, slice as never);
  const started = performance.now();
  const refused = slicedValidatorOf(doubling.validate)!(hostile, slice as never).then(
    () => performance.now() - started,
  );
  // posted once the overrunning check is in the thread
  await new Promise((resolve) => setTimeout(resolve, 200));
  const posted = performance.now();
  const ordinaryAfter = await slicedValidatorOf(compiledGithub.validate)!(args, slice as never).then(
    () => performance.now() - posted,
  );
  const refusedAfter = await refused;
  const whole = once(() => doubling.validate(hostile).success);
  console.log(
    `\n## a check that doubles with each of 22 levels of nesting (${JSON.stringify(hostile).length} bytes) in the validation thread, an ordinary call's check behind it`,
  );
  console.log(
    `refused after ${refusedAfter.toFixed(0)} ms, the ordinary check posted 200 ms after it answered after ${ordinaryAfter.toFixed(0)} ms (a new thread compiles its schema again); the whole check (main thread): ${formatNs(whole)}, which the ordinary check waited for before`,
  );
}
