import { z } from 'zod';

/**
 * The toolkit the server benches call: `ECHO_ECHO`, `{ text }` → `{ text }`, made with the `core` of
 * the checkout being measured (this one's, or a baseline's built one).
 */
export function echoToolkit(core: typeof import('@toolmux/core')) {
  return core.defineToolkit({
    slug: 'echo',
    name: 'Echo',
    description: 'Echoes text.',
    tools: [
      core.defineTool({
        slug: 'ECHO_ECHO',
        description: 'Echo the text back.',
        inputSchema: z.object({ text: z.string() }),
        execute: ({ text }) => ({ text }),
      }),
    ],
  });
}
