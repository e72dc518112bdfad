import { MetaToolSlug } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, restCaller } from '../test-helpers.js';

/**
 * A workbench cell run over REST that failed (its code threw, or it reached a limit) answers its
 * `{ result, logs, error }`, and the logs routes list its entry as failed with the cell's error code.
 */
// unset: the main thread where this Node.js has JSPI (24 and later), else worker threads
describe.each(['unset', 'workers'])(
  'a failed workbench cell over REST (TOOLMUX_WORKBENCH_THREAD %s)',
  (thread) => {
    let saved: string | undefined;
    beforeAll(() => {
      saved = process.env.TOOLMUX_WORKBENCH_THREAD;
      // read when a ToolMux's workbench makes its first context
      if (thread === 'unset') delete process.env.TOOLMUX_WORKBENCH_THREAD;
      else process.env.TOOLMUX_WORKBENCH_THREAD = thread;
    });
    afterAll(() => {
      if (saved === undefined) delete process.env.TOOLMUX_WORKBENCH_THREAD;
      else process.env.TOOLMUX_WORKBENCH_THREAD = saved;
    });

    it('is listed by the logs routes with status error and its code; a cell that ended well, with success', async () => {
      const { mux, server } = createTestServer();
      const call = restCaller(server.app);
      try {
        const created = await call('POST', '/sessions', {
          user_id: 'user_cells',
          config: { toolkits: ['tasks'], workbench: { timeoutMs: 2_000 } },
        });
        const sessionId = created.json.session_id as string;
        const cell = (code: string) =>
          call('POST', `/sessions/${sessionId}/execute`, {
            tool_slug: MetaToolSlug.WORKBENCH,
            arguments: { code },
          });
        const thrown = await cell("console.log('listed');\nawait toolmux.files.read('missing')");
        expect(thrown.status).toBe(200);
        expect(thrown.json.successful).toBe(true);
        expect(thrown.json.data).toMatchObject({
          result: null,
          logs: ['listed'],
          error: {
            code: 'WORKBENCH_CODE_ERROR',
            message: expect.stringContaining('WORKBENCH_FILE_NOT_FOUND'),
          },
        });
        const looped = await cell('while (true) {}');
        expect(looped.json.data.error.code).toBe('WORKBENCH_TIMEOUT');
        const fine = await cell('return 1');
        expect(fine.json.data).toMatchObject({ result: 1, logs: [] });

        // (both failed cells were listed as successes, with no code)
        const listed = await call('GET', `/sessions/${sessionId}/logs`);
        expect(listed.status).toBe(200);
        const byId = new Map(listed.json.items.map((entry: any) => [entry.id, entry]));
        const shown = (logId: string) => {
          const entry = byId.get(logId) as any;
          return [entry.status, entry.error_code, entry.error_message?.split('\n')[0]];
        };
        expect(shown(thrown.json.log_id)).toEqual([
          'error',
          'WORKBENCH_CODE_ERROR',
          expect.stringContaining('Error [WORKBENCH_FILE_NOT_FOUND]'),
        ]);
        expect(shown(looped.json.log_id)).toEqual(['error', 'WORKBENCH_TIMEOUT', expect.any(String)]);
        expect(shown(fine.json.log_id)).toEqual(['success', null, undefined]);
        const project = await call('GET', `/logs?session_id=${sessionId}`);
        expect(
          project.json.items
            .filter((entry: any) => entry.status === 'error')
            .map((entry: any) => entry.id)
            .sort(),
        ).toEqual([thrown.json.log_id, looped.json.log_id].sort());
      } finally {
        await mux.close();
      }
    }, 60_000);
  },
);
