import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { ToolResult } from '../execution/result.js';

/**
 * A toolkit `relay` whose tool `RELAY_WAIT` (its timeout `timeoutMs`, when given) makes a call with
 * `call(signal)` under its own `ctx.signal` and answers that call's answer, as a meta-tool makes its
 * calls: for tests of what stops the calls made under a call's signal. `last` holds the signal of
 * its last run and the answer of the call that run made.
 */
export function relayToolkit(call: (signal: AbortSignal) => Promise<ToolResult>, timeoutMs?: number) {
  const last: { signal?: AbortSignal; made?: Promise<ToolResult> } = {};
  const toolkit = defineToolkit({
    slug: 'relay',
    description: 'Calls another tool',
    tools: [
      defineTool({
        slug: 'RELAY_WAIT',
        description: 'Waits for a call it makes through the session',
        inputSchema: z.object({}),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        execute: (_input, context) => {
          last.signal = context.signal;
          last.made = call(context.signal);
          return last.made;
        },
      }),
    ],
  });
  return { toolkit, last };
}
