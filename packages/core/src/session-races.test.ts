import { describe, expect, it } from 'vitest';
import { MetaToolSlug } from './meta-tools/meta-tools.js';
import { gateToolkit } from './test/gate-tool.js';
import { databaseBackends, databasePerTest, quiet } from './test/auth-fixtures.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

/**
 * A session changed or deleted while calls of it are under way, on both databases, with two ToolMux
 * instances sharing one store.
 */

const secretKey = Buffer.alloc(32, 7).toString('base64');
const backends = await databaseBackends();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(backends)('session races on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'races', () => {
    const { database, opened } = databasePerTest(open);

    function setup(toolkits: ToolMux['catalog'] extends never ? never : Parameters<typeof createMux>[0], ttl?: number) {
      return createMux(toolkits, ttl);
    }
    function createMux(toolkits: ConstructorParameters<typeof ToolMux>[0]['toolkits'], accountCacheTtlMs?: number) {
      const mux = new ToolMux({
        toolkits,
        store: database.spec,
        secretKey,
        logger: quiet,
        baseUrl: 'https://tools.example.com',
        ...(accountCacheTtlMs !== undefined ? { accountCacheTtlMs } : {}),
      });
      opened.push(mux);
      return mux;
    }

    it('a workbench cell on another instance runs no more tools once its session was deleted', async () => {
      const sample = createSampleToolkits();
      const gate = gateToolkit();
      const toolkits = [...sample.toolkits, gate.toolkit];
      const mux = setup(toolkits);
      const other = setup(toolkits, 100);
      const session = await mux.create('user_1', { toolkits: ['tasks', 'gate'], workbench: { timeoutMs: 10_000 } });
      const elsewhere = await other.use(session.sessionId);
      const cell = elsewhere.execute(MetaToolSlug.WORKBENCH, {
        code: `await toolmux.execute('GATE_WAIT', {});
               const after = await toolmux.execute('TASKS_CREATE_TASK', { title: 'after the delete' });
               return after;`,
      });
      await gate.called;
      await session.delete();
      await sleep(300);
      gate.release();
      const out = (await cell).data as { result: { successful: boolean; error: string } | null };
      // on the old code the cell's call ran, for a session deleted 300 ms before
      expect(sample.calls.filter((call) => call.slug === 'TASKS_CREATE_TASK')).toHaveLength(0);
      expect(out.result?.successful).toBe(false);
      expect(out.result?.error).toContain(`Session "${session.sessionId}" does not exist any more`);
    });
  });
});
