// A toolkits module for the serve tests: a toolkit of its own under the slug of a built-in one
// (hackernews), which `--toolkits` must not drop in silence.
import { defineTool, defineToolkit } from '@toolmux/core';
import { z } from 'zod';

export default defineToolkit({
  slug: 'hackernews',
  name: 'Our Hacker News',
  description: 'A toolkit of our own that happens to take a built-in slug.',
  noAuth: true,
  tools: [
    defineTool({
      slug: 'HACKERNEWS_OURS',
      description: 'Answers at once.',
      inputSchema: z.object({}),
      execute: () => ({ ours: true }),
    }),
  ],
});
