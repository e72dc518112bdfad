import { defineTool, defineToolkit } from '@toolmux/core';
import { z } from 'zod';

/**
 * The toolkit of the log benches (`log-durability`, `wal-reset`): one cheap tool,
 * `BENCH_CREATE_ISSUE`, so that a call costs little but its execution log entry.
 */
export const issueToolkit = defineToolkit({
  slug: 'bench',
  description: 'Benchmark toolkit',
  tools: [
    defineTool({
      slug: 'BENCH_CREATE_ISSUE',
      description: 'Create an issue',
      inputSchema: z.object({ owner: z.string(), repo: z.string(), title: z.string() }),
      execute: async (input) => ({ number: 1, title: input.title }),
    }),
  ],
});

/** The arguments every bench call sends. */
export const issueArgs = { owner: 'octocat', repo: 'hello-world', title: 'Found a bug' };
