/**
 * What a "did you mean" hint for an unknown name costs against a large catalog: 10,000 tools, as
 * numbered custom tools (`ACME_OPERATION_NUMBER_0` …, every slug near every numbered unknown one) and
 * as one toolkit of toolkit × verb × noun slugs (what an OpenAPI import gives). For each: one unknown
 * slug, a typo of a slug, 50 unknown slugs in one TOOLMUX_MULTI_EXECUTE_TOOL (the longest event-loop
 * turn), `create()` naming an unknown tool, and a known slug's call for scale. Figures are CPU ms of
 * the thread (`process.threadCpuUsage`), the median of the rounds; a loaded machine inflates them less
 * than wall time.
 *
 * With BENCH_BASELINE=<a worktree of the baseline, built>, the same calls through the baseline's core
 * in the same process, taking turns round by round, and the ratio baseline / this tree.
 *
 * Run: `BENCH_BASELINE=/work/main node --no-warnings bench/unknown-names.bench.ts` (after `pnpm build`
 * in both trees); `BENCH_ROUNDS` (5).
 */
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { longestTick } from '@toolmux/core/test';

interface Core {
  ToolMux: new (
    options: Record<string, unknown>,
  ) => {
    create(userId: string, config: Record<string, unknown>): Promise<Session>;
    close(): Promise<void>;
  };
  defineTool(options: Record<string, unknown>): unknown;
  defineToolkit(options: Record<string, unknown>): unknown;
}
interface Session {
  execute(
    slug: string,
    input: Record<string, unknown>,
  ): Promise<{ successful: boolean; error: string | null }>;
}

const quiet = { debug() {}, warn() {}, error() {} };
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const threadCpuMs = () => {
  const usage = process.threadCpuUsage();
  return (usage.user + usage.system) / 1000;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const numbered = Array.from({ length: 10_000 }, (_, i) => `ACME_OPERATION_NUMBER_${i}`);
const verbs = ['LIST', 'GET', 'CREATE', 'UPDATE', 'DELETE', 'SEARCH', 'ADD', 'REMOVE'];
const nouns = [
  'USER',
  'ISSUE',
  'REPO',
  'FILE',
  'COMMENT',
  'LABEL',
  'PROJECT',
  'ORDER',
  'INVOICE',
  'CUSTOMER',
];
const api: string[] = [];
for (let group = 0; api.length < 10_000; group++) {
  for (const verb of verbs) for (const noun of nouns) api.push(`BIGAPI_${verb}_${noun}S_V${group}`);
}

interface Catalog {
  name: string;
  /** The config of a session that sees the tools. */
  config: (core: Core) => Record<string, unknown>;
  toolkits: (core: Core) => unknown[];
  known: string;
  unknown: string;
  typo: string;
  manyUnknown: string[];
}

const tool = (core: Core, slug: string) =>
  core.defineTool({
    slug,
    description: `Runs ${slug}.`,
    inputSchema: { type: 'object', properties: {} },
    execute: async () => ({ ok: true }),
  });

const catalogs: Catalog[] = [
  {
    name: '10,000 numbered custom tools',
    config: (core) => ({ experimental: { customTools: numbered.map((slug) => tool(core, slug)) } }),
    toolkits: () => [],
    known: 'ACME_OPERATION_NUMBER_1',
    unknown: 'ACME_OPERATION_NUMBERX_77777',
    typo: 'ACME_OPERATOIN_NUMBER_4321',
    manyUnknown: Array.from({ length: 50 }, (_, i) => `ACME_OPERATION_NUMBERX_${70_000 + i}`),
  },
  {
    name: 'a toolkit of 10,000 verb × noun tools',
    config: () => ({}),
    toolkits: (core) => [
      core.defineToolkit({
        slug: 'bigapi',
        description: 'A large API.',
        tools: api.slice(0, 10_000).map((slug) => tool(core, slug)),
      }),
    ],
    known: 'BIGAPI_LIST_USERS_V1',
    unknown: 'BIGAPI_ENDPOINT_OPERATIONS_99999',
    typo: 'BIGAPI_LIST_USRS_V77',
    manyUnknown: Array.from({ length: 50 }, (_, i) => `BIGAPI_LIST_USERS_X${i}`),
  },
];

interface Tree {
  name: string;
  core: Core;
}

const trees: Tree[] = [];
const here = fileURLToPath(new URL('..', import.meta.url));
const treeAt = async (name: string, root: string): Promise<Tree> => ({
  name,
  core: (await import(pathToFileURL(`${root}/packages/core/dist/index.js`).href)) as Core,
});
if (process.env.BENCH_BASELINE) trees.push(await treeAt('baseline', process.env.BENCH_BASELINE));
trees.push(await treeAt('this tree', here));

const CASES = [
  'known slug (for scale)',
  'one unknown slug',
  'a typo of a slug',
  '50 unknown slugs, multi-execute',
  '… its longest turn',
  'create() (for scale)',
  'create() naming an unknown tool',
] as const;
type Case = (typeof CASES)[number];

console.log(
  `\n## "did you mean" hints against 10,000 tools — CPU ms, median of ${ROUNDS} rounds, load average ${loadavg()[0]!.toFixed(2)}`,
);
for (const catalog of catalogs) {
  const figures = new Map<string, Map<Case, number[]>>();
  const sessions = new Map<
    string,
    {
      session: Session;
      close: () => Promise<void>;
      create: () => Promise<unknown>;
      createUnknown: () => Promise<unknown>;
    }
  >();
  for (const tree of trees) {
    const mux = new tree.core.ToolMux({
      toolkits: catalog.toolkits(tree.core),
      store: ':memory:',
      logger: quiet,
    });
    const config = catalog.config(tree.core);
    const session = await mux.create('user_1', config);
    // the first unknown slug makes the session's hint list; the rounds measure the calls after it
    await session.execute(`${catalog.unknown}_FIRST`, {});
    await session.execute(catalog.known, {});
    sessions.set(tree.name, {
      session,
      close: () => mux.close(),
      create: () => mux.create('user_2', { ...config, preload: { tools: [catalog.known] } }),
      createUnknown: () =>
        mux.create('user_2', { ...config, preload: { tools: [`${catalog.known}9X`] } }).then(
          () => {
            throw new Error('create() took an unknown tool');
          },
          (error: unknown) => error,
        ),
    });
    figures.set(tree.name, new Map(CASES.map((name) => [name, []])));
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const tree of trees) {
      const { session, create, createUnknown } = sessions.get(tree.name)!;
      const record = figures.get(tree.name)!;
      // the thread's CPU time moves in steps of a few ms: a call is timed 20 times over
      const cpu = async (name: Case, run: (time: number) => Promise<unknown>, times = 20) => {
        const before = threadCpuMs();
        for (let time = 0; time < times; time++) await run(time);
        record.get(name)!.push((threadCpuMs() - before) / times);
      };
      await cpu('known slug (for scale)', () => session.execute(catalog.known, {}));
      await cpu('one unknown slug', (time) => session.execute(`${catalog.unknown}${round}${time}`, {}));
      await cpu('a typo of a slug', () => session.execute(catalog.typo, {}));
      const calls = catalog.manyUnknown.map((slug) => ({ tool_slug: `${slug}${round}`, arguments: {} }));
      const before = threadCpuMs();
      const { cpuMs } = await longestTick(() =>
        session.execute('TOOLMUX_MULTI_EXECUTE_TOOL', { tools: calls }),
      );
      record.get('50 unknown slugs, multi-execute')!.push(threadCpuMs() - before);
      record.get('… its longest turn')!.push(cpuMs);
      await cpu('create() (for scale)', create, 5);
      await cpu('create() naming an unknown tool', createUnknown, 5);
    }
  }
  console.log(`\n### ${catalog.name}`);
  console.log(
    `${'case'.padEnd(36)} ${trees.map((tree) => tree.name.padStart(12)).join(' ')}${trees.length > 1 ? '   baseline / this tree' : ''}`,
  );
  for (const name of CASES) {
    const values = trees.map((tree) => median(figures.get(tree.name)!.get(name)!));
    // a figure under the CPU clock's step reads 0: no ratio then
    const ratio =
      trees.length < 2
        ? ''
        : values[1]! > 0
          ? `   ${(values[0]! / values[1]!).toFixed(1)}×`
          : '   (this tree: under the step)';
    console.log(
      `${name.padEnd(36)} ${values.map((value) => value.toFixed(2).padStart(12)).join(' ')}${ratio}`,
    );
  }
  for (const { close } of sessions.values()) await close();
}
