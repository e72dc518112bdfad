/**
 * What a remote ToolMux spends checking one answer of its server before the application gets it:
 * the check of a tool result (`POST /sessions/:id/execute`) and of a page of tools (`GET
 * /sessions/:id/tools`), on answers already parsed (parsing and the network are the same either way).
 *
 * Answers: a tool result whose `data` is ~1 MiB of objects (2,000 issues, each with a user, labels and
 * a nested reactions object), the same as one long string, and a page of 200 tools with schemas.
 *
 * With `BENCH_BASELINE=<a built checkout, e.g. a worktree of main>` the same checks of that
 * checkout's `@toolmux/core` run too, taking turns with this one's, and the table shows the ratio.
 *
 *   pnpm --filter @toolmux/core build && BENCH_BASELINE=../main node bench/remote-answer-check.bench.ts
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatNs, type Measurement, measure, printTable } from './harness.ts';

interface Wire {
  toolResultOf: (wire: unknown) => unknown;
  pageOf: (page: unknown, convert: (item: unknown) => unknown) => unknown;
  toolSpecOfWire: (wire: unknown) => unknown;
}

const here = join(import.meta.dirname, '..');
const load = async (checkout: string) =>
  (await import(pathToFileURL(join(checkout, 'packages/core/dist/remote/wire.js')).href)) as Wire;

const issue = (index: number) => ({
  id: index,
  number: index,
  title: `Issue ${index}: something is broken in the build`,
  state: index % 3 ? 'open' : 'closed',
  user: { login: `user${index % 50}`, id: 1000 + (index % 50), site_admin: false },
  labels: [
    { id: 1, name: 'bug', color: 'd73a4a' },
    { id: 2, name: 'help wanted', color: '008672' },
  ],
  reactions: { total_count: 3, '+1': 2, heart: 1, details: { by: ['a', 'b', 'c'] } },
  body: 'Steps to reproduce: run the build, see it fail.',
});

const result = (data: unknown) =>
  JSON.parse(JSON.stringify({ successful: true, data, error: null, log_id: 'log_0123456789abcdef' }));
const schema = {
  type: 'object',
  properties: Object.fromEntries(
    Array.from({ length: 12 }, (_, index) => [
      `field${index}`,
      {
        type: 'object',
        properties: { value: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
      },
    ]),
  ),
  required: ['field0'],
};
const toolPage = JSON.parse(
  JSON.stringify({
    items: Array.from({ length: 200 }, (_, index) => ({
      slug: `GITHUB_TOOL_${index}`,
      name: `Tool ${index}`,
      description: 'Does one thing on GitHub.',
      toolkit: 'github',
      input_schema: schema,
      annotations: {},
    })),
    next_cursor: null,
  }),
);

const answers: Array<[string, (wire: Wire) => unknown]> = [
  [
    'tool result of 2,000 issues (~1 MiB of objects)',
    (
      (value) => (wire) =>
        wire.toolResultOf(value)
    )(result(Array.from({ length: 2_000 }, (_, index) => issue(index)))),
  ],
  [
    'tool result of one 1 MiB string',
    (
      (value) => (wire) =>
        wire.toolResultOf(value)
    )(result('x'.repeat(1024 * 1024))),
  ],
  ['page of 200 tools with schemas', (wire) => wire.pageOf(toolPage, wire.toolSpecOfWire)],
];

const current = await load(here);
const baselinePath = process.env.BENCH_BASELINE;
const baseline = baselinePath ? await load(resolve(baselinePath)) : undefined;
console.log(`remote answer checks${baseline ? ` (baseline: ${baselinePath})` : ''}`);
for (const [name, check] of answers) {
  const rows: Measurement[] = [];
  // taking turns round by round, so load on the machine hits both alike
  for (let turn = 0; turn < 3; turn++) {
    if (baseline)
      rows.push(await measure('baseline', () => check(baseline), { iterations: 50, rounds: 5, warmup: 20 }));
    rows.push(
      await measure('this checkout', () => check(current), { iterations: 50, rounds: 5, warmup: 20 }),
    );
  }
  const best = (label: string) =>
    rows.filter((row) => row.name === label).sort((a, b) => a.nsPerOp - b.nsPerOp)[0];
  const mine = best('this checkout')!;
  const before = best('baseline');
  printTable(name, before ? [before, mine] : [mine], before);
  if (before)
    console.log(
      `  this checkout takes ${formatNs(mine.nsPerOp)}, ${(mine.nsPerOp / before.nsPerOp).toFixed(2)}× the baseline`,
    );
}
