import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { gateToolkit } from '../test/gate-tool.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';
import { MainThreadCells, sharedCellRunner } from './main-thread.js';
import { SANDBOX_SLICING_AVAILABLE } from './sandbox.js';
import type { WorkbenchWorkers } from './worker-pool.js';

type Cell = { result: unknown; error?: { code: string; message: string }; notice?: string };

/** Whether this process still holds a workbench context of `sessionId` (of any ToolMux). */
function holdsContext(sessionId: string): boolean {
  const runner = sharedCellRunner();
  const matches = (key: string) => key.endsWith(`:${sessionId}`);
  if (runner instanceof MainThreadCells) return runner.holdsAny(matches);
  return (runner as WorkbenchWorkers).workerIndexOf(matches) !== -1;
}

const threads: string[] = ['workers'];
if (SANDBOX_SLICING_AVAILABLE) threads.unshift('main');

describe.each(threads)('ToolMux.close() and the workbench (TOOLMUX_WORKBENCH_THREAD=%s)', (thread) => {
  let saved: string | undefined;
  let dir: string;
  beforeAll(() => {
    saved = process.env.TOOLMUX_WORKBENCH_THREAD;
    // read when a ToolMux's workbench makes its first context
    process.env.TOOLMUX_WORKBENCH_THREAD = thread;
    dir = mkdtempSync(join(tmpdir(), 'toolmux-close-'));
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TOOLMUX_WORKBENCH_THREAD;
    else process.env.TOOLMUX_WORKBENCH_THREAD = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it("ends a running cell (WORKBENCH_CONTEXT_DROPPED) and drops the ToolMux's contexts before the log writer and the store close; the cell's entry is stored; another ToolMux's contexts live on", async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const { toolkit, release, called } = gateToolkit();
      const store = join(dir, `closing-${thread}.db`);
      const closing = recordingLogger();
      const mux = new ToolMux({ toolkits: [toolkit], store, logger: closing });
      const other = new ToolMux({ toolkits: [toolkit], store: ':memory:', logger: recordingLogger() });
      // 8 s: on the old code the cell ran on after close(), waiting for the tool, and ended at this
      // deadline with WORKBENCH_TIMEOUT (its entry written to the closed log writer, and lost)
      const config = { toolkits: ['gate'], workbench: { timeoutMs: 8_000 } };
      const running = await mux.create('user_1', config);
      const idle = await mux.create('user_1', config);
      const bystander = await other.create('user_1', config);
      for (const [session, value] of [
        [idle, 'idle'],
        [bystander, 'kept'],
      ] as const) {
        const out = (
          await session.execute(MetaToolSlug.WORKBENCH, { code: `globalThis.kept = '${value}'; return 1` })
        ).data as Cell;
        expect(out.error, JSON.stringify(out.error)).toBeUndefined();
      }
      let settled = false;
      const cell = running
        .execute(MetaToolSlug.WORKBENCH, {
          code: "globalThis.x = 1; await toolmux.execute('GATE_WAIT', {}); return 'ran on'",
        })
        .finally(() => {
          settled = true;
        });
      await called;
      expect(holdsContext(running.sessionId)).toBe(true);
      expect(holdsContext(idle.sessionId)).toBe(true);

      await mux.close();
      // close() resolved after the cell had ended, not at its deadline
      expect(settled).toBe(true);
      const out = (await cell).data as Cell;
      expect(out.error?.code, JSON.stringify(out)).toBe('WORKBENCH_CONTEXT_DROPPED');
      expect(out.error?.message).toContain('its ToolMux was closed');
      expect(out.result).toBeNull();
      // the ToolMux's contexts are gone now (not after the idle eviction)
      expect(holdsContext(running.sessionId)).toBe(false);
      expect(holdsContext(idle.sessionId)).toBe(false);
      release();
      await new Promise((resolve) => setTimeout(resolve, 50));
      // nothing went to the closed log writer or store
      expect(closing.errors).toEqual([]);

      // the other ToolMux's context lived on
      expect(holdsContext(bystander.sessionId)).toBe(true);
      const after = (await bystander.execute(MetaToolSlug.WORKBENCH, { code: 'return globalThis.kept' }))
        .data as Cell;
      expect(after.error, JSON.stringify(after.error)).toBeUndefined();
      expect(after.notice).toBeUndefined();
      expect(after.result).toBe('kept');
      await other.close();
      expect(holdsContext(bystander.sessionId)).toBe(false);

      // the cell's entry was stored before the store closed
      const reopened = new ToolMux({ toolkits: [toolkit], store, logger: recordingLogger() });
      const { items } = await reopened.logs.list({
        sessionId: running.sessionId,
        toolSlug: MetaToolSlug.WORKBENCH,
      });
      await reopened.close();
      expect(
        items.map((item) => item.output).filter((output) => output.includes('WORKBENCH_CONTEXT_DROPPED')),
      ).toHaveLength(1);
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it.each([
    ['awaited by a cell close() stops', "await toolmux.files.write('big', value); return 'written'"],
    ['its cell returned without awaiting', "toolmux.files.write('big', value); return 'returned'"],
  ])(
    "a toolmux.files.write in flight when close() comes (%s) is finished before the store closes: the file is the new one, no pieces or reservation are left, and a stopped cell's answer says the write completed",
    async (_, write) => {
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown) => rejections.push(reason);
      process.on('unhandledRejection', onRejection);
      const store = join(dir, `write-${thread}-${write.length}.db`);
      const logs = recordingLogger();
      const mux = new ToolMux({ toolkits: [], store, logger: logs });
      let reader: DatabaseSync | undefined;
      try {
        const session = await mux.create('user_1', { workbench: { memoryMb: 128, timeoutMs: 30_000 } });
        const first = (
          await session.execute(MetaToolSlug.WORKBENCH, {
            code: "await toolmux.files.write('big', 'old'); return 1",
          })
        ).data as Cell;
        expect(first.error, JSON.stringify(first.error)).toBeUndefined();
        reader = new DatabaseSync(store, { readOnly: true });
        // 8 MB: 32 pieces, written over many turns of the event loop
        const cell = session.execute(MetaToolSlug.WORKBENCH, {
          code: `const value = 'y'.repeat(8_000_000); ${write}`,
        });
        // the write has reserved its bytes: it is under way in the store (a reader sees what it committed)
        const reserved = reader.prepare('SELECT count(*) AS n FROM toolmux_workbench_file_writes');
        while ((reserved.get() as { n: number }).n === 0)
          await new Promise((resolve) => setImmediate(resolve));
        await mux.close();
        const out = (await cell).data as Cell;
        if (out.error) {
          expect(out.error.code, JSON.stringify(out)).toBe('WORKBENCH_CONTEXT_DROPPED');
          // the model is told what became of the write it was waiting for
          expect(out.error.message).toContain('toolmux.files.write("big")');
          expect(out.error.message).toContain('completed');
        } else {
          expect(out.result).toBe('returned');
        }
        // on the old code the store closed under the write: the old file stayed, with the new one's
        // pieces and its 8 MB reservation (held 10 minutes against the quota), and nobody was told
        expect((reserved.get() as { n: number }).n).toBe(0);
        const file = reader
          .prepare(
            "SELECT f.size, (SELECT count(*) FROM toolmux_workbench_file_pieces p WHERE p.session_id = f.session_id) AS pieces FROM toolmux_workbench_files f WHERE f.path = 'big'",
          )
          .get() as { size: number; pieces: number };
        expect(file.size).toBe(8_000_002);
        expect(file.pieces).toBe(Math.ceil(8_000_002 / (256 * 1024)));
        expect(logs.errors).toEqual([]);
        expect(rejections).toEqual([]);
      } finally {
        reader?.close();
        process.off('unhandledRejection', onRejection);
      }
    },
  );

  it('a cell that computes stops at once: close() resolves without waiting for its deadline', async () => {
    const mux = new ToolMux({ toolkits: [], store: ':memory:', logger: recordingLogger() });
    // 8 s: on the old code, in worker threads, the code ran on until this deadline, and close()
    // waited for it (with the default timeoutMs, a minute)
    const session = await mux.create('user_1', { workbench: { timeoutMs: 8_000 } });
    await session.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' });
    const started = Date.now();
    const cell = session.execute(MetaToolSlug.WORKBENCH, { code: 'while (true) {}' });
    // the code computes (in a worker thread, the thread is held by it: no message gets there)
    await new Promise((resolve) => setTimeout(resolve, 300));
    await mux.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    const out = (await cell).data as Cell;
    expect(out.error?.code, JSON.stringify(out)).toBe('WORKBENCH_CONTEXT_DROPPED');
    expect(out.error?.message).toContain('its ToolMux was closed');
    expect(holdsContext(session.sessionId)).toBe(false);
  });

  it('a cell asked for on a session of a closed ToolMux does not run, and one whose context is being made when close() comes ends without running', async () => {
    const { toolkit, release } = gateToolkit();
    const logs = recordingLogger();
    const mux = new ToolMux({
      toolkits: [toolkit],
      store: join(dir, `late-${thread}.db`),
      logger: logs,
    });
    const session = await mux.create('user_1', { toolkits: ['gate'], workbench: { timeoutMs: 8_000 } });
    // its context is being made (the session's first cell) when close() comes
    const first = session.execute(MetaToolSlug.WORKBENCH, {
      code: "await toolmux.execute('GATE_WAIT', {}); return 'ran'",
    });
    await new Promise((resolve) => setImmediate(resolve));
    await mux.close();
    const out = (await first).data as Cell;
    release();
    expect(out.error?.code, JSON.stringify(out)).toBe('WORKBENCH_CONTEXT_DROPPED');
    expect(holdsContext(session.sessionId)).toBe(false);
    expect(logs.errors).toEqual([]);
  });
});
