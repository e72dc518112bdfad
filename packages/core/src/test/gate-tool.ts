import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';

/**
 * A toolkit `gate` whose tool `GATE_WAIT` answers only when the test calls `release()` (never,
 * unless it does), and ignores its abort signal: for tests of what happens to a call, a workbench
 * cell or a context while a tool runs. `called` resolves when the tool starts.
 */
export function gateToolkit() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started!: () => void;
  const called = new Promise<void>((resolve) => {
    started = resolve;
  });
  const toolkit = defineToolkit({
    slug: 'gate',
    description: 'A tool that answers when the test says',
    tools: [
      defineTool({
        slug: 'GATE_WAIT',
        description: 'Wait for the test',
        inputSchema: z.object({}),
        execute: async () => {
          started();
          await released;
          return { released: true };
        },
      }),
    ],
  });
  return { toolkit, release, called };
}
