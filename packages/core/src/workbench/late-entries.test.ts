import { describe, expect, it } from 'vitest';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { gateToolkit } from '../test/gate-tool.js';
import { ToolMux } from '../toolmux.js';

/**
 * A cell that ends (here: times out) while its tool call runs: the call is aborted with it and its
 * execution log entry (TOOL_ABORTED) is written under the cell's entry, also when the tool does not
 * heed the abort. (An entry that comes after the cell's last write is written at once: see
 * log-writer.test.ts, HeldLogEntries.)
 */
describe('a cell that ends before its tool call', () => {
  it("logs the aborted call under the cell's entry", async () => {
    const { toolkit, release, called } = gateToolkit();
    const errors: string[] = [];
    const mux = new ToolMux({
      toolkits: [toolkit],
      store: ':memory:',
      logger: { debug() {}, warn() {}, error: (message: string) => errors.push(message) },
    });
    try {
      const session = await mux.create('user_1', { toolkits: ['gate'], workbench: { timeoutMs: 300 } });
      // the context made first (a cold start on a loaded machine can take most of 300 ms): the timed
      // cell below reaches its tool call before its time is up
      await session.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' });
      const cell = await session.execute(MetaToolSlug.WORKBENCH, {
        code: "await toolmux.execute('GATE_WAIT', {}); return 'never'",
      });
      await called;
      expect((cell.data as { error?: { code: string } }).error?.code).toBe('WORKBENCH_TIMEOUT');
      // the call ended with the cell (its tool was aborted) and is logged under the cell's entry
      const children = (await session.logs({ parentId: cell.logId })).items;
      expect(children).toHaveLength(1);
      expect(children[0]).toMatchObject({
        toolSlug: 'GATE_WAIT',
        errorCode: 'TOOL_ABORTED',
        parentId: cell.logId,
        sessionId: session.sessionId,
      });
      release();
      expect(errors).toEqual([]);
    } finally {
      await mux.close();
    }
  });
});
