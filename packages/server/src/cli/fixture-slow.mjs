// A toolkits module for the serve tests: ONE toolkit as the default export (not an array), whose
// tool takes as long as it is told, so that a test can have calls in flight when it sends SIGTERM.
import { defineTool, defineToolkit } from '@toolmux/core';
import { z } from 'zod';

export default defineToolkit({
  slug: 'slow',
  name: 'Slow',
  description: 'Tools that take their time.',
  tools: [
    defineTool({
      slug: 'SLOW_WAIT',
      description: 'Waits the given number of milliseconds, then answers.',
      inputSchema: z.object({ ms: z.number().int().min(0).max(10_000) }),
      timeoutMs: 20_000,
      execute: ({ ms }) => new Promise((resolve) => setTimeout(() => resolve({ waited: ms }), ms)),
    }),
  ],
});
