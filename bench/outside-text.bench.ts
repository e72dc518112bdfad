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
 * Run: `node bench/outside-text.bench.ts` (after `pnpm build`).
 */
import { defineTool, MetaToolSlug, ToolMux } from '@toolmux/core';
import { builtinToolkits } from '@toolmux/toolkits';
import { z } from 'zod';
import { measure, printTable } from './harness.ts';

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
await mux.close();
