import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { ToolResult } from '../execution/result.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { sharedWorkbenchWorkers, type WorkerFailure } from './worker-pool.js';

// One worker thread and no more: every session's context lives in it, so a failure hits them all.
// These cases are about worker threads (the main thread's slices have their own tests).
process.env.TOOLMUX_WORKBENCH_THREAD = 'workers';
process.env.TOOLMUX_WORKBENCH_WORKERS = '1';
process.env.TOOLMUX_WORKBENCH_MAX_WORKERS = '1';

const quiet = { debug() {}, warn() {}, error() {} };
type Cell = { result: unknown; logs: string[]; error?: { code: string; message: string }; notice?: string };
const cellOf = (result: ToolResult) => result.data as Cell;

/** A tool that makes the worker running the calling session's cell fail, then answers. */
function failingToolkit() {
  return defineToolkit({
    slug: 'failing',
    description: 'Fails the workbench worker (test hook)',
    tools: [
      defineTool({
        slug: 'FAILING_BREAK_WORKER',
        description: 'Break the worker running this session',
        inputSchema: z.object({ session: z.string(), how: z.enum(['exit', 'hang', 'throw']) }),
        execute: async ({ session, how }) => {
          const found = sharedWorkbenchWorkers().failWorkerForTest(
            (key) => key.endsWith(`:${session}`),
            how as WorkerFailure,
          );
          await new Promise((resolve) => setTimeout(resolve, 100));
          return { found };
        },
      }),
    ],
  });
}

function setup() {
  const sample = createSampleToolkits();
  return new ToolMux({ toolkits: [...sample.toolkits, failingToolkit()], store: ':memory:', logger: quiet });
}

describe('workbench worker replacement', () => {
  it.each([
    ['exits', 'exit', 'WORKBENCH_WORKER_RESTARTED'],
    ['throws', 'throw', 'WORKBENCH_WORKER_RESTARTED'],
    ['hangs outside the engine', 'hang', 'WORKBENCH_TIMEOUT'],
  ] as const)(
    'a worker that %s (%s) is replaced: the cell gets %s, the session and other sessions work on',
    async (_name, how, code) => {
      const mux = setup();
      const broken = await mux.create('user_1', { workbench: { timeoutMs: 1_000 } });
      const bystander = await mux.create('user_2', { workbench: {} });
      await bystander.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = 1' });
      await broken.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = 2' });
      const failed = await broken.execute(MetaToolSlug.WORKBENCH, {
        code: `const r = await toolmux.execute('FAILING_BREAK_WORKER', { session: ${JSON.stringify(broken.sessionId)}, how: ${JSON.stringify(how)} });
               return r;`,
      });
      expect(cellOf(failed).error?.code).toBe(code);
      expect(cellOf(failed).error?.message).toContain('restarted');
      // The session's next call runs in a new context, and is told.
      const next = await broken.execute(MetaToolSlug.WORKBENCH, { code: 'return typeof globalThis.kept' });
      expect(cellOf(next).error).toBeUndefined();
      expect(cellOf(next).result).toBe('undefined');
      expect(cellOf(next).notice).toContain('new workbench context');
      // The other session shared the worker: its context is gone too, and it is told; it works.
      const other = await bystander.execute(MetaToolSlug.WORKBENCH, {
        code: 'return typeof globalThis.kept',
      });
      expect(cellOf(other).error).toBeUndefined();
      expect(cellOf(other).result).toBe('undefined');
      expect(cellOf(other).notice).toContain('worker was restarted');
      expect((await bystander.execute('TASKS_LIST_TASKS', {})).successful).toBe(true);
      await mux.close();
    },
  );
});
