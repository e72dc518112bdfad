import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { ComposioMetaToolSlug, MetaToolSlug } from '../meta-tools/meta-tools.js';
import { SqliteStore } from '../store/sqlite.js';
import type { Store, WorkbenchFileWrite } from '../store/types.js';
import { sessionRecord } from '../test/log-records.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { createTestPostgresStore, createTestPostgresUrl } from '../test/postgres.js';
import { recordingLogger } from '../test/recording-logger.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { onWorkbenchThread } from '../test/workbench-thread.js';
import { ToolMux } from '../toolmux.js';
import { offloadLarge, type WorkbenchSessionPort, workbenchHost } from './host.js';
import { type CellRunner, MainThreadCells } from './main-thread.js';
import { callHost, RawJson, SANDBOX_SLICING_AVAILABLE } from './sandbox.js';
import { WorkbenchPool } from './workbench.js';
import { WorkbenchWorkers } from './worker-pool.js';

const quiet = { debug() {}, warn() {}, error() {} };
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function bigToolkit() {
  return defineToolkit({
    slug: 'big',
    description: 'Returns large results',
    tools: [
      defineTool({
        slug: 'BIG_EXPORT',
        description: 'Export every record',
        inputSchema: z.object({ megabytes: z.number() }),
        execute: async ({ megabytes }) => ({
          records: Array.from({ length: megabytes * 1024 }, (_, i) => ({ id: i, text: 'x'.repeat(1000) })),
        }),
      }),
    ],
  });
}

function setup(store: string = ':memory:') {
  const sample = createSampleToolkits();
  const mux = new ToolMux({ toolkits: [...sample.toolkits, bigToolkit()], store, logger: quiet });
  return { ...sample, mux };
}

type Cell = { result: unknown; logs: string[]; error?: { code: string; message: string }; notice?: string };

const threads = SANDBOX_SLICING_AVAILABLE ? ['main', 'workers'] : ['workers'];

describe.each(threads)('TOOLMUX_WORKBENCH in a session (TOOLMUX_WORKBENCH_THREAD=%s)', (thread) => {
  onWorkbenchThread(thread);

  it('is listed with META_TOOLS by default (describing the toolmux API), not with DIRECT_TOOLS, and off with enable: false', async () => {
    const { mux } = setup();
    const direct = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    expect((await direct.tools()).map((tool) => tool.name)).not.toContain(MetaToolSlug.WORKBENCH);
    const session = await mux.create('user_1');
    const workbench = (await session.tools()).find((tool) => tool.name === MetaToolSlug.WORKBENCH);
    for (const api of [
      'toolmux.execute(slug, args)',
      'toolmux.execute(slug, args, { account })',
      'id (`ca_…`) or alias',
      'toolmux.search(query, limit?)',
      'toolmux.proxy(',
      'toolmux.files.write',
    ]) {
      expect(workbench?.description).toContain(api);
    }
    expect(session.config.workbench).toEqual({
      enable: true,
      timeoutMs: 60_000,
      memoryMb: 64,
      autoOffloadThreshold: 20_000,
    });
    const off = await mux.create('user_1', { workbench: { enable: false } });
    expect((await off.tools()).map((tool) => tool.name)).not.toContain(MetaToolSlug.WORKBENCH);
    expect((await off.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' })).successful).toBe(false);
    await expect(mux.create('user_1', { workbench: { timeoutMs: -1 } as never })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    await mux.close();
  });

  it('runs tools through session.execute: state in globalThis, filters, inner log entries marked', async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks', 'notes'], workbench: {} });
    const first = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `const made = await Promise.all(['a', 'b'].map((title) => toolmux.execute('TASKS_CREATE_TASK', { title })));
             const list = await toolmux.execute('TASKS_LIST_TASKS', {});
             globalThis.ids = made.map((r) => r.data.id);
             const outside = await toolmux.execute('MAIL_SEND_EMAIL', { to: 'x@example.com' });
             const invalid = await toolmux.execute('TASKS_CREATE_TASK', { title: 42 });
             console.log('made', globalThis.ids.length);
             return { count: list.data.tasks.length, outside: outside.error, invalid: invalid.successful };`,
      thought: 'make two tasks and count them',
    });
    expect(first.successful).toBe(true);
    const cell = first.data as Cell;
    expect(cell.error).toBeUndefined();
    expect(cell.logs).toEqual(['made 2']);
    expect(cell.result).toMatchObject({ count: 2, invalid: false });
    expect((cell.result as { outside: string }).outside).toContain('not available in this session');
    expect(calls.filter((call) => call.slug === 'TASKS_CREATE_TASK')).toHaveLength(2);
    const second = await session.execute(MetaToolSlug.WORKBENCH, { code: 'return globalThis.ids' });
    expect((second.data as Cell).result).toEqual(['task_1', 'task_2']);
    const logs = (await session.logs()).items;
    const inner = logs.filter((log) => log.callId?.startsWith(`${first.logId}/`));
    expect(inner.map((log) => log.toolSlug).sort()).toEqual([
      'MAIL_SEND_EMAIL',
      'TASKS_CREATE_TASK',
      'TASKS_CREATE_TASK',
      'TASKS_CREATE_TASK',
      'TASKS_LIST_TASKS',
    ]);
    expect(logs.find((log) => log.id === first.logId)?.toolSlug).toBe(MetaToolSlug.WORKBENCH);
    const meta = await session.execute(MetaToolSlug.WORKBENCH, {
      code: "return (await toolmux.search('add a to-do item')).results[0].tools[0].tool_slug",
    });
    expect((meta.data as Cell).result).toBe('TASKS_CREATE_TASK');
    const nested = await session.execute(MetaToolSlug.WORKBENCH, {
      code: "try { await toolmux.execute('TOOLMUX_MULTI_EXECUTE_TOOL', { tools: [] }) } catch (e) { return e.code }",
    });
    expect((nested.data as Cell).result).toBe('TOOL_NOT_IN_SESSION');
    // a call the session refuses rejects with the session's own error code (not WORKBENCH_CODE_ERROR)
    const refused = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `const codeOf = (call) => call.then(() => 'ok', (e) => [e.code, e.message]);
             return [
               await codeOf(toolmux.proxy({ toolkit: 'mail', endpoint: '/x', method: 'GET' })),
               await codeOf(toolmux.proxy({ toolkit: 'nope', endpoint: '/x', method: 'GET' })),
               await codeOf(toolmux.search('add a task', { limit: 0 })),
               await codeOf(toolmux.search('add a task', 0)),
               await codeOf(toolmux.search('add a task', { limit: 'x' })),
               await codeOf(toolmux.search('add a task', '3')),
             ];`,
    });
    const [outsideToolkit, unknownToolkit, badLimit, badPositional, badType, badString] = (
      refused.data as Cell
    ).result as string[][];
    expect(outsideToolkit).toEqual([
      'TOOL_NOT_IN_SESSION',
      expect.stringContaining('"mail" is not a toolkit'),
    ]);
    expect(unknownToolkit?.[0]).toBe('TOOLKIT_NOT_FOUND');
    expect(badLimit?.[0]).toBe('INVALID_REQUEST');
    for (const refusal of [badPositional, badType, badString]) {
      expect(refusal).toEqual(['INVALID_REQUEST', expect.stringContaining('limit must be')]);
    }
    // a limit as the second argument, or in an options object, is the number of tools found
    const limited = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `const count = (found) => found.results[0].tools.length;
             return [count(await toolmux.search('add a task', 1)), count(await toolmux.search('add a task', { limit: 1 })), count(await toolmux.search('add a task'))];`,
    });
    const [positional, inOptions, unlimited] = (limited.data as Cell).result as number[];
    expect(positional).toBe(1);
    expect(inOptions).toBe(1);
    expect(unlimited).toBeGreaterThan(1);
    await mux.close();
  });

  it('300 calls a cell makes at once (fast, slow, failing) each come back to their own await, across the worker threads', async () => {
    const echo = defineToolkit({
      slug: 'echo',
      description: 'Echo',
      tools: [
        defineTool({
          slug: 'ECHO_NUMBER',
          description: 'Echo a number; slow for multiples of 7, failing for multiples of 10',
          inputSchema: z.object({ n: z.number() }),
          execute: async ({ n }) => {
            if (n % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
            if (n % 10 === 0) throw new Error(`no ${n}`);
            return { n };
          },
        }),
      ],
    });
    const mux = new ToolMux({ toolkits: [echo], store: ':memory:', logger: quiet });
    const session = await mux.create('user_1', { workbench: {} });
    const out = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `const all = await Promise.all(Array.from({ length: 300 }, (_, n) => toolmux.execute('ECHO_NUMBER', { n })));
             const wrong = all.filter((r, n) => (n % 10 === 0 ? r.successful || !r.error.includes('no ' + n) : r.data.n !== n));
             let after = 0; for (let n = 1; n < 30; n++) after += (await toolmux.execute('ECHO_NUMBER', { n: n * 3 })).successful ? 1 : 0;
             return { wrong: wrong.length, failed: all.filter((r) => !r.successful).length, after };`,
    });
    expect((out.data as Cell).error).toBeUndefined();
    expect((out.data as Cell).result).toEqual({ wrong: 0, failed: 30, after: 27 });
    const inner = (await session.logs({ limit: 1_000 })).items.filter((log) =>
      log.callId?.startsWith(`${out.logId}/`),
    );
    expect(inner).toHaveLength(329);
    await mux.close();
  });

  it('a cell that failed (threw, or reached a limit) is logged as failed with its code, while the model reads its result, logs and error', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'], workbench: { timeoutMs: 2_000 } });
    const ended: Array<[code: string, source: string, said: string]> = [
      ['WORKBENCH_CODE_ERROR', 'console.log("before");\nthrow new Error("the cause")', 'the cause'],
      ['WORKBENCH_CODE_ERROR', "await toolmux.files.read('missing')", 'WORKBENCH_FILE_NOT_FOUND'],
      ['WORKBENCH_OUTPUT_LIMIT', 'return "x".repeat(200_000)', '200002 characters'],
      [
        'WORKBENCH_TOOL_CALL_LIMIT',
        'await Promise.all(Array.from({ length: 1_001 }, () => toolmux.files.list()))',
        'at most 1000',
      ],
      ['WORKBENCH_TIMEOUT', 'while (true) {}', 'did not finish within'],
    ];
    const logIds: string[] = [];
    for (const [code, source, said] of ended) {
      const answer = await session.execute(MetaToolSlug.WORKBENCH, { code: source });
      expect(answer.successful).toBe(true);
      expect((answer.data as Cell).error).toEqual({ code, message: expect.stringContaining(said) });
      logIds.push(answer.logId);
    }
    const smaller = await mux.create('user_1', { workbench: { memoryMb: 8 } });
    const bomb = await smaller.execute(MetaToolSlug.WORKBENCH, {
      code: 'const a = []; while (true) a.push("x".repeat(1000) + a.length);',
    });
    expect((bomb.data as Cell).error?.code).toBe('WORKBENCH_MEMORY_LIMIT');
    const fine = await session.execute(MetaToolSlug.WORKBENCH, { code: 'console.log("ok"); return 1' });
    // the Composio-named cell says its error in its own shape; its entry fails all the same
    const composio = await mux.create('user_1', { metaToolNames: 'composio' });
    const named = await composio.execute(ComposioMetaToolSlug.WORKBENCH, { code_to_execute: 'null.x' });
    expect((named.data as { error?: string }).error).toMatch(/^WORKBENCH_CODE_ERROR: TypeError/);

    const entries = new Map(
      [
        ...(await session.logs({ limit: 1_000 })).items,
        ...(await smaller.logs()).items,
        ...(await composio.logs()).items,
      ].map((entry) => [entry.id, entry]),
    );
    const failed = [...logIds, bomb.logId, named.logId].map((id) => {
      const entry = entries.get(id)!;
      return [entry.status, entry.errorCode, entry.errorMessage?.split('\n')[0]];
    });
    // (each was logged as a success, with no code: the log could not tell which cells failed)
    expect(failed).toEqual([
      ['error', 'WORKBENCH_CODE_ERROR', 'Error: the cause'],
      ['error', 'WORKBENCH_CODE_ERROR', expect.stringContaining('Error [WORKBENCH_FILE_NOT_FOUND]')],
      ['error', 'WORKBENCH_OUTPUT_LIMIT', expect.stringContaining('200002 characters')],
      ['error', 'WORKBENCH_TOOL_CALL_LIMIT', expect.stringContaining('at most 1000')],
      ['error', 'WORKBENCH_TIMEOUT', expect.stringContaining('did not finish within')],
      ['error', 'WORKBENCH_MEMORY_LIMIT', expect.any(String)],
      ['error', 'WORKBENCH_CODE_ERROR', expect.stringContaining('TypeError')],
    ]);
    // the entry keeps what the model read: the logs of the failed cell among them
    expect(JSON.parse(entries.get(logIds[0]!)!.output)).toMatchObject({ logs: ['before'] });
    const succeeded = entries.get(fine.logId)!;
    expect([succeeded.status, succeeded.errorCode, succeeded.errorMessage]).toEqual(['success', null, null]);
    await mux.close();
  }, 60_000);

  it('after an endless loop the session answers again, and says its state was reset', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { workbench: { timeoutMs: 300 } });
    await session.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = 1' });
    const started = Date.now();
    const loop = await session.execute(MetaToolSlug.WORKBENCH, { code: 'while (true) {}' });
    expect((loop.data as Cell).error?.code).toBe('WORKBENCH_TIMEOUT');
    // the limit named in either thread mode (a worker's interrupted engine said "the time limit")
    expect((loop.data as Cell).error?.message).toContain('did not finish within 300 ms');
    expect(Date.now() - started).toBeLessThan(1_300);
    const after = await session.execute(MetaToolSlug.WORKBENCH, { code: 'return typeof globalThis.kept' });
    expect((after.data as Cell).result).toBe('undefined');
    expect((after.data as Cell).notice).toContain('new workbench context');
    expect((await session.execute('TASKS_LIST_TASKS', {})).successful).toBe(true);
    await mux.close();
  });

  it('an endless recursion is WORKBENCH_MEMORY_LIMIT in a few lines, whichever stack (QuickJS’s or the thread’s) runs out first; an error thrown deep in one shows ten frames', async () => {
    const { mux } = setup();
    try {
      const session = await mux.create('user_1');
      for (const code of [
        'const f = () => f(); f()',
        'const f = function () { [1].forEach(f) }; f()',
        'const o = { toString() { return String(o) } }; String(o)',
      ]) {
        const cell = (await session.execute(MetaToolSlug.WORKBENCH, { code })).data as Cell;
        expect(cell.error?.code, code).toBe('WORKBENCH_MEMORY_LIMIT');
        expect(cell.error?.message).toContain('nested function calls or values too deeply');
        // on the old code a worker thread answered WORKBENCH_CODE_ERROR with 50–70 KB of frames
        expect(cell.error?.message.length, cell.error?.message.slice(0, 500)).toBeLessThan(1_000);
        const next = (await session.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' })).data as Cell;
        expect(next.result).toBe(1);
      }
      const deep = (
        await session.execute(MetaToolSlug.WORKBENCH, {
          code: 'const f = (n) => { if (n === 0) throw new Error("deep"); return f(n - 1) + 1 }; f(500)',
        })
      ).data as Cell;
      expect(deep.error?.code).toBe('WORKBENCH_CODE_ERROR');
      const lines = deep.error?.message.split('\n') ?? [];
      expect(lines[0]).toBe('Error: deep');
      expect(lines.slice(1, 11).every((line) => line.startsWith('    at f (cell.js:'))).toBe(true);
      // 501 levels of f, and the frames that run the cell's code around them
      expect(lines).toHaveLength(12);
      expect(Number(lines[11]?.match(/^ {4}… (\d+) more frames$/)?.[1])).toBeGreaterThanOrEqual(491);
    } finally {
      await mux.close();
    }
  }, 60_000);

  it.each([
    ['computes', 'while (true) {}'],
    ['awaits a tool call that never ends', 'await new Promise(() => {})'],
  ])(
    "a cell whose caller aborts the call while it %s is stopped then, not at its deadline: the session's next cell runs at once, in a new context that says why",
    async (_, rest) => {
      let started!: () => void;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const mark = defineToolkit({
        slug: 'mark',
        description: 'Tells the test the cell runs',
        tools: [
          defineTool({
            slug: 'MARK_STARTED',
            description: 'Mark',
            inputSchema: z.object({}),
            execute: async () => {
              started();
              return {};
            },
          }),
        ],
      });
      const mux = new ToolMux({ toolkits: [mark], store: ':memory:', logger: quiet });
      try {
        // 30 s: on the old code the code ran on to this deadline after its caller had gone, and the
        // session's next cell waited for it
        const session = await mux.create('user_1', { toolkits: ['mark'], workbench: { timeoutMs: 30_000 } });
        await session.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = 1' });
        const caller = new AbortController();
        const cell = session.execute(
          MetaToolSlug.WORKBENCH,
          { code: `await toolmux.execute('MARK_STARTED', {}); ${rest}` },
          { signal: caller.signal },
        );
        await running;
        caller.abort();
        expect((await cell).code).toBe('TOOL_ABORTED');
        const startedNext = Date.now();
        const next = (
          await session.execute(MetaToolSlug.WORKBENCH, { code: 'return typeof globalThis.kept' })
        ).data as Cell;
        // liveness, not speed: far below the 30 s the aborted code had left
        expect(Date.now() - startedNext).toBeLessThan(10_000);
        expect(next.error, JSON.stringify(next.error)).toBeUndefined();
        expect(next.result).toBe('undefined');
        expect(next.notice).toContain('aborted');
      } finally {
        await mux.close();
      }
    },
    60_000,
  );

  it.each([
    ['AbortSignal.timeout()', new DOMException('The operation was aborted due to timeout', 'TimeoutError')],
    [
      "a framework's own timeout error",
      Object.assign(new Error("Tool 'TOOLMUX_WORKBENCH' timed out after 20ms."), {
        name: 'ToolTimeoutError',
      }),
    ],
    ['an abort of another kind', new Error('user left')],
  ])(
    "the calls of a cell whose caller's signal aborts (%s) say what stopped the cell, as the cell's own entry and the next cell's notice do",
    async (_kind, reason) => {
      const { mux, calls } = setup();
      try {
        const session = await mux.create('user_1', { workbench: { timeoutMs: 30_000 } });
        const caller = new AbortController();
        const cell = session.execute(
          MetaToolSlug.WORKBENCH,
          { code: "await toolmux.execute('TASKS_WAIT_FOR_APPROVAL', { taskId: 't1' })" },
          { signal: caller.signal },
        );
        // a worker thread starts first
        await vi.waitFor(() => expect(calls).toHaveLength(1), { timeout: 20_000 });
        caller.abort(reason);
        const answer = await cell;
        const next = (await session.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' })).data as Cell;
        const entries = (await session.logs()).items;
        const inner = entries.find((entry) => entry.toolSlug === 'TASKS_WAIT_FOR_APPROVAL');
        const outer = entries.find((entry) => entry.id === answer.logId);
        expect(inner).toMatchObject({ errorCode: 'TOOL_ABORTED', parentId: answer.logId });
        expect(outer?.errorMessage).toBe(answer.error);
        if (reason.name === 'Error') {
          expect(inner?.errorMessage).toBe('TASKS_WAIT_FOR_APPROVAL was aborted by the caller.');
          expect(answer.error).toBe(`${MetaToolSlug.WORKBENCH} was aborted by the caller.`);
          expect(next.notice).toContain('(the call running in it was aborted by its caller)');
          return;
        }
        const named = `(${reason.name}: ${reason.message}); the caller stopped waiting for it, toolmux's own timeout for the tool had not passed.`;
        expect(answer.error).toBe(
          `${MetaToolSlug.WORKBENCH} was stopped by its caller's time limit ${named}`,
        );
        expect(inner?.errorMessage).toBe(
          `TASKS_WAIT_FOR_APPROVAL was stopped by the time limit of the ${MetaToolSlug.WORKBENCH} call it ran in ${named}`,
        );
        expect(next.notice).toContain("(the call running in it was stopped by its caller's time limit)");
      } finally {
        await mux.close();
      }
    },
    60_000,
  );

  it('a looping cell holds neither another session nor the event loop (it runs in a worker thread, or in slices of the main thread)', async () => {
    const { mux } = setup();
    const looping = await mux.create('user_1', { workbench: { timeoutMs: 2_000 } });
    const other = await mux.create('user_2', { workbench: {} });
    await looping.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = 1' });
    const order: string[] = [];
    const measured = await longestTurn(
      async () => {
        const loop = looping.execute(MetaToolSlug.WORKBENCH, { code: 'while (true) {}' }).then((result) => {
          order.push('loop');
          return result;
        });
        // Let the cell reach the worker and start looping.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const tool = await other.execute('TASKS_LIST_TASKS', {});
        order.push('tool');
        const cell = await other.execute(MetaToolSlug.WORKBENCH, { code: 'return 1 + 1' });
        order.push('cell');
        return { tool, cell, loop: await loop };
      },
      500,
      1,
    );
    const { tool, cell, loop } = measured.value;
    expect(tool.successful).toBe(true);
    expect((cell.data as Cell).result).toBe(2);
    expect((loop.data as Cell).error?.code).toBe('WORKBENCH_TIMEOUT');
    expect(order).toEqual(['tool', 'cell', 'loop']);
    // The main thread never ran the loop, or only in short slices: its longest turn is far below the
    // cell's 2 s. In this thread's CPU time: a loaded machine stretched the event-loop delay (wall
    // time) of a turn of a few ms past a bound like this one.
    expect(measured.turnMs, turnReport(measured)).toBeLessThan(500);
    const after = await looping.execute(MetaToolSlug.WORKBENCH, { code: 'return typeof globalThis.kept' });
    expect((after.data as Cell).result).toBe('undefined');
    expect((after.data as Cell).notice).toContain('new workbench context');
    await mux.close();
  });

  it('offloads a 10 MB TOOLMUX_MULTI_EXECUTE_TOOL result to the files, and the workbench reads it', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { workbench: {} });
    const result = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'BIG_EXPORT', arguments: { megabytes: 10 } }],
    });
    const { offloaded } = result.data as { offloaded: { path: string; size: number; preview: string } };
    expect(offloaded.size).toBeGreaterThan(10_000_000);
    expect(offloaded.preview.length).toBeLessThanOrEqual(1_000);
    expect(JSON.stringify(result.data).length).toBeLessThan(3_000);
    const read = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `const r = await toolmux.files.read(${JSON.stringify(offloaded.path)});
             return { n: r.results[0].data.records.length, files: (await toolmux.files.list()).map((f) => f.path) };`,
    });
    expect((read.data as Cell).result).toEqual({ n: 10 * 1024, files: [offloaded.path] });
    const small = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'TASKS_LIST_TASKS', arguments: {} }],
    });
    expect(small.data).toMatchObject({ successful_count: 1 });
    await mux.close();
  });

  it('an offloaded result too large for the memory of the cell that reads it says so and what to do', async () => {
    // a 42 MB file read back in a fresh context was told to "keep less in globalThis"
    const { mux } = setup();
    const session = await mux.create('user_1', { workbench: { memoryMb: 8 } });
    const result = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'BIG_EXPORT', arguments: { megabytes: 12 } }],
    });
    const { offloaded } = result.data as { offloaded: { path: string } };
    const read = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `return (await toolmux.files.read(${JSON.stringify(offloaded.path)})).results.length;`,
    });
    const cell = read.data as Cell;
    expect(cell.error?.code).toBe('WORKBENCH_MEMORY_LIMIT');
    expect(cell.error?.message).toContain(
      "more than this session's workbench memory (workbench.memoryMb: 8)",
    );
    expect(cell.error?.message).toMatch(/raise workbench\.memoryMb to \d+ or more/);
    expect(cell.error?.message).not.toContain('keep less in globalThis');
    await mux.close();
  });

  it('a cell whose memory cannot take an offloaded result whole reads it in ranges', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { workbench: { memoryMb: 8 } });
    const result = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'BIG_EXPORT', arguments: { megabytes: 12 } }],
    });
    const { offloaded } = result.data as { offloaded: { path: string; size: number; hint: string } };
    expect(offloaded.hint).toContain('{ offset, length }');
    // the whole file does not fit (WORKBENCH_MEMORY_LIMIT): a million characters at a time does
    const read = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `let at = 0, chars = 0, records = 0, parts = 0, tail = '';
             while (at !== null) {
               const part = await toolmux.files.read(${JSON.stringify(offloaded.path)}, { offset: at, length: 1000000 });
               const text = tail + part.text;
               // a record's "id": split between two parts is counted in the second
               const cut = text.lastIndexOf('{');
               records += (text.slice(0, cut).match(/"id":/g) || []).length;
               tail = text.slice(cut);
               chars += part.text.length;
               parts++;
               at = part.nextOffset;
             }
             records += (tail.match(/"id":/g) || []).length;
             return { chars, records, parts };`,
    });
    const cell = read.data as Cell;
    expect(cell.error).toBeUndefined();
    expect(cell.result).toEqual({
      chars: offloaded.size,
      records: 12 * 1024,
      parts: Math.ceil(offloaded.size / 1_000_000),
    });
    await mux.close();
  });

  it("an offloaded result's preview is cut between characters, never inside a surrogate pair", async () => {
    const { mux } = setup();
    const emoji = defineTool({
      slug: 'EMOJI_WALL',
      toolkit: 'emoji',
      description: 'A long text of emoji.',
      inputSchema: z.object({ lead: z.number() }),
      // one lead character more or less moves the cut onto the other half of the pairs
      execute: async ({ lead }) => ({ text: `${'a'.repeat(lead)}${'😀'.repeat(15_000)}` }),
    });
    const session = await mux.create('user_1', { workbench: {}, experimental: { customTools: [emoji] } });
    for (const lead of [0, 1]) {
      const result = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [{ tool_slug: 'EMOJI_WALL', arguments: { lead } }],
      });
      const { offloaded } = result.data as { offloaded: { preview: string } };
      expect(offloaded.preview.length).toBeGreaterThanOrEqual(999);
      expect(offloaded.preview.isWellFormed(), `lead ${lead}`).toBe(true);
    }
    await mux.close();
  });

  it.each([
    [
      'SQLite',
      async () => {
        const dir = mkdtempSync(join(tmpdir(), 'toolmux-wb-'));
        dirs.push(dir);
        return { url: join(dir, 'toolmux.db'), cleanup: async () => {} };
      },
    ],
    ['PostgreSQL', createTestPostgresUrl],
  ])(
    'on %s: files persist for the session on another instance, with a quota and clear errors',
    async (_name, open) => {
      const { url, cleanup } = await open();
      const secretKey = Buffer.alloc(32, 9).toString('base64');
      try {
        const one = new ToolMux({
          toolkits: createSampleToolkits().toolkits,
          store: url,
          secretKey,
          logger: quiet,
        });
        const session = await one.create('user_1', { workbench: {} });
        const wrote = await session.execute(MetaToolSlug.WORKBENCH, {
          code: `await toolmux.files.write('notes/a.json', { rows: [1, 2, 3] });
               await toolmux.files.write('b.txt', 'plain text');
               let missing; try { await toolmux.files.read('nope') } catch (e) { missing = e.code }
               let bad; try { await toolmux.files.write('', 1) } catch (e) { bad = e.code }
               return { missing, bad, list: await toolmux.files.list() };`,
        });
        const cell = wrote.data as Cell;
        expect(cell.error).toBeUndefined();
        expect(cell.result).toMatchObject({
          missing: 'WORKBENCH_FILE_NOT_FOUND',
          bad: 'WORKBENCH_FILE_PATH_INVALID',
          list: [
            { path: 'b.txt', size: 12 },
            { path: 'notes/a.json', size: 16 },
          ],
        });
        const two = new ToolMux({
          toolkits: createSampleToolkits().toolkits,
          store: url,
          secretKey,
          logger: quiet,
        });
        const resumed = await two.use(session.sessionId);
        const read = await resumed.execute(MetaToolSlug.WORKBENCH, {
          code: `const a = await toolmux.files.read('notes/a.json');
               const deleted = await toolmux.files.delete('b.txt');
               return { sum: a.rows.reduce((x, y) => x + y, 0), text: deleted, left: (await toolmux.files.list()).length };`,
        });
        expect((read.data as Cell).result).toEqual({ sum: 6, text: { deleted: true }, left: 1 });
        const other = await two.create('user_2', { workbench: {} });
        const isolated = await other.execute(MetaToolSlug.WORKBENCH, { code: 'return toolmux.files.list()' });
        expect((isolated.data as Cell).result).toEqual([]);
        const quota = await resumed.execute(MetaToolSlug.WORKBENCH, {
          code: `const chunk = 'x'.repeat(8 * 1024 * 1024);
               try { for (let i = 0; i < 10; i++) await toolmux.files.write('big' + i, chunk); } catch (e) { return e.code }`,
        });
        expect((quota.data as Cell).result).toBe('WORKBENCH_FILES_QUOTA');
        await one.close();
        await two.close();
      } finally {
        await cleanup();
      }
    },
    // it writes 64 MB to reach the quota: 7-17 s in CI runs, once past the 20 s default on PostgreSQL
    60_000,
  );
});

describe.each([
  [
    'SQLite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'toolmux-wb-'));
      dirs.push(dir);
      return { url: join(dir, 'toolmux.db'), cleanup: async () => {} };
    },
  ],
  ['PostgreSQL', createTestPostgresUrl],
])('a workbench context on %s', (_name, open) => {
  it('resumed on another instance: the first cell there says globalThis was reset; a new session and a warm context say nothing', async () => {
    const { url, cleanup } = await open();
    const secretKey = Buffer.alloc(32, 9).toString('base64');
    const instance = () =>
      new ToolMux({ toolkits: createSampleToolkits().toolkits, store: url, secretKey, logger: quiet });
    const one = instance();
    const two = instance();
    const cell = async (
      session: { execute: (slug: string, args: unknown) => Promise<{ data: unknown }> },
      code: string,
    ) => (await session.execute(MetaToolSlug.WORKBENCH, { code })).data as Cell;
    try {
      const session = await one.create('user_1');
      const first = await cell(session, 'globalThis.count = 41; return count;');
      expect(first).toMatchObject({ result: 41 });
      expect(first.notice).toBeUndefined();
      const warm = await cell(session, 'return ++globalThis.count;');
      expect(warm).toMatchObject({ result: 42 });
      expect(warm.notice).toBeUndefined();

      const resumed = await two.use(session.sessionId);
      const moved = await cell(resumed, 'return typeof globalThis.count;');
      expect(moved.result).toBe('undefined');
      expect(moved.notice).toMatch(
        /^This is a new workbench context: .*another server instance.*globalThis.*toolmux\.files are kept/,
      );
      const after = await cell(resumed, 'globalThis.count = 1; return count;');
      expect(after).toMatchObject({ result: 1 });
      expect(after.notice).toBeUndefined();

      const fresh = await two.create('user_2');
      const firstOfNew = await cell(fresh, 'return typeof globalThis.count;');
      expect(firstOfNew.result).toBe('undefined');
      expect(firstOfNew.notice).toBeUndefined();

      // earlier cells under the other naming of the meta-tools count too
      const renamed = await one.create('user_3');
      await cell(renamed, 'globalThis.count = 7; return count;');
      const composio = await two.use(renamed.sessionId);
      await composio.update({ metaToolNames: 'composio' });
      const named = (
        await composio.execute(ComposioMetaToolSlug.WORKBENCH, {
          code_to_execute: 'return typeof globalThis.count;',
        })
      ).data as { results: unknown; notice?: string };
      expect(named.results).toBe('undefined');
      expect(named.notice).toMatch(/^This is a new workbench context: .*another server instance/);
    } finally {
      await one.close();
      await two.close();
      await cleanup();
    }
  });
});

describe.each([
  [
    'SQLite',
    async () => {
      const store = new SqliteStore({ path: ':memory:' });
      await store.migrate();
      return { store: store as Store, cleanup: () => store.close() };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const database = await createTestPostgresStore();
      await database.store.migrate();
      return { store: database.store as Store, cleanup: () => database.cleanup() };
    },
  ],
])('a ranged read of a workbench file on %s', (_name, open) => {
  it('toolmux.files.read(path, { offset, length }) gives that part of the JSON text, pairs never split, across pieces; the same without the store method', async () => {
    const { store, cleanup } = await open();
    try {
      await store.insertSession(sessionRecord({ id: 'ses_range' }));
      // about 700 K characters: three stored pieces, a surrogate pair every few characters
      const value = Array.from({ length: 60_000 }, (_, index) => `r${index}😀é`);
      const text = JSON.stringify(value);
      expect(text.length).toBeGreaterThan(2 * 256 * 1024);
      const signal = new AbortController().signal;
      const host = workbenchHost(filesOnlyPort('ses_range', store), 'log_range');
      await host('files.write', { path: 'big.json', value }, signal);
      // the same store without getWorkbenchFileRange: the whole file read on the host, cut there
      const plain = new Proxy(store, {
        get(target, key) {
          if (key === 'getWorkbenchFileRange') return undefined;
          const got = Reflect.get(target, key, target);
          return typeof got === 'function' ? got.bind(target) : got;
        },
      });
      const fallback = workbenchHost(filesOnlyPort('ses_range', plain), 'log_range');
      type Part = { text: string; offset: number; nextOffset: number | null };
      for (const read of [host, fallback]) {
        const range = async (offset?: number, length?: number) =>
          (await read('files.read', { path: 'big.json', range: { offset, length } }, signal)) as Part;
        // read on from nextOffset, and by counting (offset k × length): each character once
        for (const length of [1, 3, 262_145]) {
          if (length < 10) {
            // a short length walks only the start and the last piece's end
            let at: number | null = 0;
            let got = '';
            while (at !== null && at < 100) {
              const part: Part = await range(at, length);
              expect(part.offset).toBe(at);
              expect(part.text.isWellFormed()).toBe(true);
              got += part.text;
              at = part.nextOffset;
            }
            expect(got).toBe(text.slice(0, got.length));
            continue;
          }
          let at: number | null = 0;
          let got = '';
          let counted = '';
          for (let k = 0; at !== null; k++) {
            const part: Part = await range(at, length);
            expect(part.text.isWellFormed()).toBe(true);
            expect(part.text.length).toBeLessThanOrEqual(length);
            got += part.text;
            at = part.nextOffset;
            counted += (await range(k * length, length)).text;
          }
          expect(got).toBe(text);
          expect(counted).toBe(text);
        }
        // a start or an end inside a pair moves one back; past the end is empty
        const pair = text.indexOf('😀');
        expect(await range(pair + 1, 4)).toEqual({
          text: text.slice(pair, pair + 5),
          offset: pair,
          nextOffset: pair + 5,
        });
        expect(await range(pair - 3, 4)).toEqual({
          text: text.slice(pair - 3, pair),
          offset: pair - 3,
          nextOffset: pair,
        });
        expect(await range(pair, 1)).toEqual({ text: '😀', offset: pair, nextOffset: pair + 2 });
        expect(await range(text.length - 5, 100)).toEqual({
          text: text.slice(-5),
          offset: text.length - 5,
          nextOffset: null,
        });
        expect(await range(text.length + 10, 5)).toEqual({
          text: '',
          offset: text.length + 10,
          nextOffset: null,
        });
        expect(await range()).toEqual({ text: text.slice(0, 100_000), offset: 0, nextOffset: 100_000 });
        // a bad range is refused naming it, a missing file as for a whole read
        for (const [bad, named] of [
          [{ offset: -1 }, 'offset must be a whole number from 0, got number -1'],
          [{ offset: 1.5 }, 'got number 1.5'],
          [{ length: 0 }, 'length must be a whole number from 1 to 1000000, got number 0'],
          [{ length: 1_000_001 }, 'got number 1000001'],
          [{ offset: '10' }, 'got "10"'],
          [{ start: 10 }, 'takes no "start"'],
          [5, 'its second argument must be that object, got number 5'],
        ] as const) {
          await expect(read('files.read', { path: 'big.json', range: bad }, signal)).rejects.toMatchObject({
            code: 'INVALID_REQUEST',
            message: expect.stringContaining(named),
          });
        }
        await expect(read('files.read', { path: 'none.json', range: {} }, signal)).rejects.toMatchObject({
          code: 'WORKBENCH_FILE_NOT_FOUND',
        });
      }
    } finally {
      await cleanup();
    }
  }, 120_000);
});

const runners: Array<[string, () => CellRunner]> = [['worker threads', () => new WorkbenchWorkers(1, 2)]];
if (SANDBOX_SLICING_AVAILABLE) runners.push(['the main thread', () => new MainThreadCells()]);

describe.each(runners)('WorkbenchPool (%s)', (_name, runner) => {
  it('evicts idle contexts and tells the next call', async () => {
    const pool = new WorkbenchPool({ idleMs: 1_000, workers: runner() });
    const config = { enable: true, timeoutMs: 1_000, memoryMb: 16, autoOffloadThreshold: 20_000 };
    const host = async () => null;
    await pool.run('ses_a', 'globalThis.x = 1', config, host);
    expect(pool.size).toBe(1);
    pool.sweep(Date.now() + 500);
    expect((await pool.run('ses_a', 'return x', config, host)).result).toBe(1);
    pool.sweep(Date.now() + 5_000);
    expect(pool.size).toBe(0);
    const after = await pool.run('ses_a', 'return typeof x', config, host);
    expect(after.result).toBe('undefined');
    expect(after.notice).toContain('evicted after 1 s without use');
    await pool.close();
  });

  it('keeps at most maxContexts live, dropping the least recently used', async () => {
    const pool = new WorkbenchPool({ maxContexts: 2, workers: runner() });
    const config = { enable: true, timeoutMs: 1_000, memoryMb: 16, autoOffloadThreshold: 20_000 };
    const host = async () => null;
    for (const id of ['ses_1', 'ses_2', 'ses_3']) await pool.run(id, `globalThis.id = '${id}'`, config, host);
    expect(pool.size).toBe(2);
    expect((await pool.run('ses_3', 'return id', config, host)).result).toBe('ses_3');
    expect((await pool.run('ses_1', 'return typeof id', config, host)).notice).toContain('make room');
    await pool.close();
  });
});

/** A workbench port on `store` whose cells use only `toolmux.files` (tools, search and proxy are not called). */
function filesOnlyPort(sessionId: string, store: Store): WorkbenchSessionPort {
  return {
    sessionId,
    store,
    execute: async () => {
      throw new Error('not called');
    },
    search: async () => ({}),
    proxy: async () => ({}) as never,
    clientTools: new Set(),
    metaTools: new Set(),
  };
}

describe('workbench files on the host', () => {
  it("a large value is handed to the store as its JSON text's pieces, never joined into one string", async () => {
    const real = new SqliteStore({ path: ':memory:' });
    await real.migrate();
    await real.insertSession(sessionRecord({ id: 'ses_pieces' }));
    const given: Array<readonly string[] | undefined> = [];
    // the real store, whose putWorkbenchFile notes what it was given
    const store = new Proxy(real, {
      get(target, key) {
        if (key === 'putWorkbenchFile') {
          return (file: WorkbenchFileWrite, quota: number) => {
            given.push(file.contentPieces);
            return target.putWorkbenchFile(file, quota);
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const port = filesOnlyPort('ses_pieces', store);
    const value = {
      rows: Array.from({ length: 40_000 }, (_, index) => ({ index, name: `row ${index} ✓ 😀` })),
    };
    const text = JSON.stringify(value);
    const host = workbenchHost(port, 'log_pieces');
    const signal = new AbortController().signal;
    expect(await host('files.write', { path: 'rows.json', value }, signal)).toEqual({
      path: 'rows.json',
      size: Buffer.byteLength(text, 'utf8'),
    });
    const offloaded = await offloadLarge(value, { enable: true, autoOffloadThreshold: 1_000 }, port, 'log_x');
    expect(offloaded).toMatchObject({ offloaded: { path: 'offloaded/log_x.json', size: text.length } });
    expect(given).toHaveLength(2);
    for (const pieces of given) {
      expect(pieces?.length).toBeGreaterThan(1);
      expect(pieces?.join('')).toBe(text);
    }
    for (const path of ['rows.json', 'offloaded/log_x.json']) {
      expect((await real.getWorkbenchFile('ses_pieces', path))?.content).toBe(text);
    }
    await real.close();
  });

  it('a large result that cannot be saved (quota full, store failing) reaches the model as its start and what to do, never whole', async () => {
    const real = new SqliteStore({ path: ':memory:' });
    await real.migrate();
    await real.insertSession(sessionRecord({ id: 'ses_full' }));
    let failing = false;
    // the real store with a quota of 10 KB (the session's files take 64 MB for real), or failing
    const store = new Proxy(real, {
      get(target, key) {
        if (key === 'putWorkbenchFile') {
          return (file: WorkbenchFileWrite) => {
            if (failing) throw new Error('disk I/O error');
            return target.putWorkbenchFile(file, 10_000);
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const port = filesOnlyPort('ses_full', store);
    // 2 MB: it went to the model whole when it could not be saved
    const value = { results: [{ data: { rows: 'r'.repeat(2_000_000) } }] };
    const full = (await offloadLarge(
      value,
      { enable: true, autoOffloadThreshold: 1_000 },
      port,
      'log_full',
    )) as {
      notOffloaded: { size: number; preview: string; reason: string; hint: string };
    };
    expect(Object.keys(full)).toEqual(['notOffloaded']);
    expect(full.notOffloaded.size).toBe(JSON.stringify(value).length);
    expect(full.notOffloaded.preview).toBe(JSON.stringify(value).slice(0, 1_000));
    expect(full.notOffloaded.reason).toContain('WORKBENCH_FILES_QUOTA');
    expect(full.notOffloaded.hint).toContain('toolmux.files.delete(path)');
    expect(JSON.stringify(full).length).toBeLessThan(3_000);
    expect(await real.listWorkbenchFiles('ses_full')).toEqual([]);
    failing = true;
    const failed = (await offloadLarge(
      value,
      { enable: true, autoOffloadThreshold: 1_000 },
      port,
      'log_fail',
    )) as {
      notOffloaded: { reason: string; hint: string };
    };
    expect(failed.notOffloaded.reason).toBe('The workbench files could not be written just now.');
    // nothing of the store's own error reaches the model
    expect(JSON.stringify(failed)).not.toContain('disk I/O');
    // a result under the threshold stays as it is
    expect(
      await offloadLarge({ a: 1 }, { enable: true, autoOffloadThreshold: 1_000 }, port, 'log_small'),
    ).toEqual({ a: 1 });
    await real.close();
  });

  it("a database failure under toolmux.files or an offload is logged with the database's own error for the operator, and the model reads STORE_ERROR without it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolmux-files-fault-'));
    dirs.push(dir);
    const path = join(dir, 'store.db');
    const logger = recordingLogger();
    const mux = new ToolMux({ toolkits: [bigToolkit()], store: path, logger });
    try {
      const session = await mux.create('user_1', { toolkits: ['big'] });
      const ready = (await session.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' })).data as Cell;
      expect(ready.error).toBeUndefined();
      // the database itself refuses every file from now on (as a full disk or a broken table would)
      const database = new DatabaseSync(path);
      for (const table of ['toolmux_workbench_files', 'toolmux_workbench_file_pieces'])
        database.exec(
          `CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(FAIL, 'disk image is malformed near page 4711'); END;`,
        );
      database.close();
      const cell = (
        await session.execute(MetaToolSlug.WORKBENCH, {
          code: "return await toolmux.files.write('a.json', { n: 1 }).catch((error) => ({ code: error.code, message: error.message }))",
        })
      ).data as Cell;
      expect(cell.result).toMatchObject({ code: 'STORE_ERROR' });
      expect(JSON.stringify(cell)).not.toContain('page 4711');
      const offload = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [{ tool_slug: 'BIG_EXPORT', arguments: { megabytes: 1 } }],
      });
      expect(offload.data).toMatchObject({
        notOffloaded: { reason: 'The workbench files could not be written just now.' },
      });
      expect(JSON.stringify(offload.data)).not.toContain('page 4711');
      // before, neither failure reached the logger: the operator never learned the database failed
      const logged = logger.errors.filter((line) => line.includes('page 4711'));
      expect(logged).toHaveLength(2);
      expect(logged[0]).toContain(session.sessionId);
      expect(logged[0]).toContain('toolmux.files.write("a.json")');
      expect(logged[1]).toContain('offloaded/');
    } finally {
      await mux.close();
    }
  });

  it('hands a file to the code as its stored JSON text (no parse and write again), and writes values as JSON', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    await store.insertSession(sessionRecord({ id: 'ses_files' }));
    const host = workbenchHost(filesOnlyPort('ses_files', store), 'log_files');
    const signal = new AbortController().signal;
    const value = { rows: [1, 'två', { deep: [null, true] }], text: '"quoted" \\ 👋' };
    expect(await host('files.write', { path: 'a.json', value }, signal)).toEqual({
      path: 'a.json',
      size: Buffer.byteLength(JSON.stringify(value)),
    });
    const read = await host('files.read', { path: 'a.json' }, signal);
    expect(read).toBeInstanceOf(RawJson);
    expect((read as RawJson).text).toBe(JSON.stringify(value));
    // what the code receives
    expect(await callHost(host, 'files.read', '{"path":"a.json"}', signal)).toBe(JSON.stringify(value));
    // a path with a lone surrogate cannot be stored as it is (UTF-8 makes it U+FFFD): two such paths
    // were one file, the second write replaced the first, and list gave a path nobody wrote; control
    // characters are no part of a path, as of any id or label kept in the store (a line break or a
    // terminal escape went into the path, list() and every message naming the file)
    const refused: Array<[string, string]> = [
      ...['a\ud800', 'a\udc00', '\udfff', 'x\ud83d'].map(
        (path) => [path, 'lone surrogate'] as [string, string],
      ),
      ...['a\nb.json', 'a\u001b[31m.json', 'tab\there', 'del\u007f', 'c1\u0085'].map(
        (path) => [path, 'control character'] as [string, string],
      ),
      // a right-to-left override shows "report_\u202Enosj.exe" as "report_exe.json"
      ...['report_\u202enosj.exe', 'a\u2066b', 'x\u200fy', 'z\u061c'].map(
        (path) => [path, 'bidirectional formatting character'] as [string, string],
      ),
    ];
    for (const [path, why] of refused) {
      for (const [operation, args] of [
        ['files.write', { path, value: 1 }],
        ['files.read', { path }],
        ['files.delete', { path }],
      ] as const) {
        await expect(host(operation, args, signal)).rejects.toMatchObject({
          code: 'WORKBENCH_FILE_PATH_INVALID',
          message: expect.stringContaining(why),
        });
      }
    }
    expect(await host('files.list', {}, signal)).toEqual([expect.objectContaining({ path: 'a.json' })]);
    // one name in two Unicode forms is one file: written with a combining accent, read with "é"
    await host('files.write', { path: 'cafe\u0301.json', value: { cups: 2 } }, signal);
    expect(await callHost(host, 'files.read', '{"path":"caf\u00e9.json"}', signal)).toBe('{"cups":2}');
    await host('files.write', { path: 'caf\u00e9.json', value: { cups: 3 } }, signal);
    expect((await host('files.list', {}, signal)) as Array<{ path: string }>).toEqual([
      expect.objectContaining({ path: 'a.json' }),
      expect.objectContaining({ path: 'caf\u00e9.json', size: 10 }),
    ]);
    await expect(host('files.delete', { path: 'cafe\u0301.json' }, signal)).resolves.toEqual({
      deleted: true,
    });
    // a file stored under another form before (as it was written) is still read and deleted by that name
    await store.putWorkbenchFile(
      { sessionId: 'ses_files', path: 'old-cafe\u0301.json', content: '1', size: 1, updatedAt: new Date() },
      1e9,
    );
    expect(await callHost(host, 'files.read', '{"path":"old-cafe\u0301.json"}', signal)).toBe('1');
    // written again under that name: one file, in form C (the old copy goes)
    await host('files.write', { path: 'old-cafe\u0301.json', value: 2 }, signal);
    expect(
      ((await host('files.list', {}, signal)) as Array<{ path: string }>)
        .map((file) => file.path)
        .filter((path) => path.startsWith('old-')),
    ).toEqual(['old-caf\u00e9.json']);
    await store.putWorkbenchFile(
      { sessionId: 'ses_files', path: 'old-cafe\u0301.json', content: '1', size: 1, updatedAt: new Date() },
      1e9,
    );
    await expect(host('files.delete', { path: 'old-cafe\u0301.json' }, signal)).resolves.toEqual({
      deleted: true,
    });
    // both forms went: nothing comes back at the next read
    await expect(host('files.read', { path: 'old-cafe\u0301.json' }, signal)).rejects.toMatchObject({
      code: 'WORKBENCH_FILE_NOT_FOUND',
    });
    // a bad value is named in a few characters, never written whole into the message (a 30 MB
    // slug object came back as a 30 MB message, written and parsed twice more on its way)
    const huge = { x: 'y'.repeat(1_000_000) };
    for (const [operation, args] of [
      ['execute', { slug: huge, args: {} }],
      ['execute', { slug: 'TASKS_LIST_TASKS', args: {}, account: huge }],
      ['files.write', { path: 'p'.repeat(1_000_000), value: 1 }],
      ['files.read', { path: [huge, huge] }],
    ] as const) {
      const error = await host(operation, args, signal).then(
        () => undefined,
        (failure: Error) => failure,
      );
      expect(error?.message.length).toBeLessThan(300);
      expect(error?.message).toMatch(/got (an object|an array|"p{64}…")\./);
    }
    // a pair is a character like any other
    expect(await host('files.write', { path: 'wave 👋', value: 2 }, signal)).toEqual({
      path: 'wave 👋',
      size: 1,
    });
    expect(
      ((await host('files.list', {}, signal)) as Array<{ path: string }>).map((file) => file.path),
    ).toEqual(['a.json', 'wave 👋']);
    await store.close();
  });
});

describe('a failed workbench cell carries its error in the result, not only in its data', () => {
  it('has cellError beside cellFailed, as its answer tells it, in the session’s meta-tool names', async () => {
    const { mux } = setup();
    try {
      const session = await mux.create('user_1');
      const thrown = await session.execute(MetaToolSlug.WORKBENCH, {
        code: "throw new Error('look it up with TOOLMUX_SEARCH_TOOLS first')",
      });
      expect(thrown).toMatchObject({ successful: true, cellFailed: true });
      // before: absent; a consumer (Composio's API) read the error out of the cell's data
      if (!thrown.successful) throw new Error('the cell ran');
      expect(thrown.cellError).toEqual((thrown.data as Cell).error);
      expect(thrown.cellError?.code).toBe('WORKBENCH_CODE_ERROR');
      const fine = await session.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' });
      expect(fine).not.toHaveProperty('cellError');
      // Composio's names: its data says `CODE: message` with its meta-tools' names, and so does the field
      const composio = await mux.create('user_1', { metaToolNames: 'composio' });
      const named = await composio.execute(ComposioMetaToolSlug.WORKBENCH, {
        code_to_execute: "throw new Error('look it up with TOOLMUX_SEARCH_TOOLS first')",
      });
      if (!named.successful) throw new Error('the cell ran');
      expect(named.cellError?.message).toContain('COMPOSIO_SEARCH_TOOLS');
      expect(`${named.cellError?.code}: ${named.cellError?.message}`).toBe(
        (named.data as { error: string }).error,
      );
    } finally {
      await mux.close();
    }
  });
});
