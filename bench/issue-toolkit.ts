import { defineTool, defineToolkit } from '@toolmux/core';
import { z } from 'zod';

/**
 * The toolkit of the log benches (`log-durability`, `wal-reset`): one cheap tool,
 * `BENCH_CREATE_ISSUE`, so that a call costs little but its execution log entry. With `waitMs`, the
 * tool first waits that long on a timer, standing in for the third-party API a real tool calls.
 */
export function makeIssueToolkit(waitMs = 0) {
  return defineToolkit({
    slug: 'bench',
    description: 'Benchmark toolkit',
    tools: [
      defineTool({
        slug: 'BENCH_CREATE_ISSUE',
        description: 'Create an issue',
        inputSchema: z.object({ owner: z.string(), repo: z.string(), title: z.string() }),
        execute: async (input) => {
          if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
          return { number: 1, title: input.title };
        },
      }),
    ],
  });
}

/** {@link makeIssueToolkit} without waiting: a call costs little but its log entry. */
export const issueToolkit = makeIssueToolkit();

/** The arguments every bench call sends. */
export const issueArgs = { owner: 'octocat', repo: 'hello-world', title: 'Found a bug' };
