import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { gateToolkit } from '../test/gate-tool.js';
import { recordingLogger } from '../test/recording-logger.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { onWorkbenchThread } from '../test/workbench-thread.js';
import { ToolMux } from '../toolmux.js';
import { SANDBOX_SLICING_AVAILABLE } from './sandbox.js';

type Cell = { result: unknown; error?: { code: string; message: string } };

const dir = mkdtempSync(join(tmpdir(), 'toolmux-cell-stops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const threads = SANDBOX_SLICING_AVAILABLE ? ['main', 'workers'] : ['workers'];

/** The call each cell leaves running: it answers only when its signal aborts. */
const WAIT = "toolmux.execute('TASKS_WAIT_FOR_APPROVAL', { taskId: 't1' })";
const STOPPED = 'TASKS_WAIT_FOR_APPROVAL was stopped because the workbench cell it was called from';

/** How a cell ends while its call runs, what it answers, and what its call's log entry says. */
type Ending = {
  code: string;
  timeoutMs: number;
  /** Ends the cell, once its calls run (`mux` is closed after it, unless this closed it). */
  end: (stop: {
    mux: ToolMux;
    sessionId: string;
    release: () => void;
    caller: AbortController;
  }) => Promise<void> | void;
  cellError: string | undefined;
  inner: string;
};

const endings: Array<[string, Ending]> = [
  [
    'it ran past its timeoutMs',
    {
      code: `await ${WAIT}`,
      timeoutMs: 1_500,
      end: () => {},
      cellError: 'WORKBENCH_TIMEOUT',
      inner: `${STOPPED} ran past its timeoutMs of 1500 ms (WORKBENCH_TIMEOUT); raise workbench.timeoutMs or do less per cell.`,
    },
  ],
  [
    'its code returned without awaiting the call',
    {
      code: `${WAIT}; await toolmux.execute('GATE_WAIT', {}); return 'returned'`,
      timeoutMs: 30_000,
      end: ({ release }) => release(),
      cellError: undefined,
      inner: `${STOPPED} returned without awaiting it; await the call (or Promise.all of the calls) before the cell returns.`,
    },
  ],
  [
    'its code threw without awaiting the call',
    {
      code: `${WAIT}; await toolmux.execute('GATE_WAIT', {}); throw new Error('gave up')`,
      timeoutMs: 30_000,
      end: ({ release }) => release(),
      cellError: 'WORKBENCH_CODE_ERROR',
      inner: `${STOPPED} ended with an error (WORKBENCH_CODE_ERROR) without awaiting it; await every call before the cell ends (Promise.allSettled waits for them all, where Promise.all stops waiting at the first failure).`,
    },
  ],
  [
    'mux.close() dropped its context',
    {
      code: `await ${WAIT}`,
      timeoutMs: 30_000,
      end: ({ mux }) => mux.close(),
      cellError: 'WORKBENCH_CONTEXT_DROPPED',
      inner: `${STOPPED} was stopped (its ToolMux was closed).`,
    },
  ],
  [
    'its session was deleted',
    {
      code: `await ${WAIT}`,
      timeoutMs: 30_000,
      end: ({ mux, sessionId }) => mux.sessions.delete(sessionId),
      cellError: 'WORKBENCH_CONTEXT_DROPPED',
      inner: `${STOPPED} was stopped (its session was deleted).`,
    },
  ],
  [
    // the caller's own abort keeps its words (and its time limit, see workbench.test.ts)
    'its caller aborted it',
    {
      code: `await ${WAIT}`,
      timeoutMs: 30_000,
      end: ({ caller }) => caller.abort(),
      cellError: 'TOOL_ABORTED',
      inner: 'TASKS_WAIT_FOR_APPROVAL was aborted by the caller.',
    },
  ],
];

describe.each(threads)(
  'the calls of a workbench cell that toolmux stopped (TOOLMUX_WORKBENCH_THREAD=%s)',
  (thread) => {
    onWorkbenchThread(thread);

    it.each(endings)(
      "the entry of a call still running when the cell ended because %s says what ended it (a child of the cell's entry; no caller aborted it but in the last case)",
      async (name, ending) => {
        const sample = createSampleToolkits();
        const gate = gateToolkit();
        const store = join(dir, `${thread}-${name.replaceAll(/\W+/g, '-')}.db`);
        const toolkits = [...sample.toolkits, gate.toolkit];
        const mux = new ToolMux({ toolkits, store, logger: recordingLogger() });
        const session = await mux.create('user_1', {
          toolkits: ['tasks', 'gate'],
          workbench: { timeoutMs: ending.timeoutMs },
        });
        const caller = new AbortController();
        const cell = session.execute(
          MetaToolSlug.WORKBENCH,
          { code: ending.code },
          { signal: caller.signal },
        );
        // the call the cell leaves runs (a worker thread starts first)
        await vi.waitFor(
          () => expect(sample.calls.map((call) => call.slug)).toContain('TASKS_WAIT_FOR_APPROVAL'),
          { timeout: 20_000 },
        );
        if (ending.code.includes('GATE_WAIT')) await gate.called;
        await ending.end({ mux, sessionId: session.sessionId, release: gate.release, caller });
        const answer = await cell;
        const out = answer.data as Cell | null;
        if (ending.cellError === 'TOOL_ABORTED') expect(answer.code).toBe('TOOL_ABORTED');
        else expect(out?.error?.code, JSON.stringify(answer)).toBe(ending.cellError);
        if (ending.cellError === undefined) expect(out?.result).toBe('returned');
        await mux.close();

        const reopened = new ToolMux({ toolkits, store, logger: recordingLogger() });
        try {
          const { items } = await reopened.logs.list({ sessionId: session.sessionId });
          const inner = items.filter((item) => item.toolSlug === 'TASKS_WAIT_FOR_APPROVAL');
          expect(inner).toHaveLength(1);
          expect(inner[0]).toMatchObject({
            parentId: answer.logId,
            errorCode: 'TOOL_ABORTED',
            errorMessage: ending.inner,
          });
        } finally {
          await reopened.close();
        }
      },
      60_000,
    );
  },
);
