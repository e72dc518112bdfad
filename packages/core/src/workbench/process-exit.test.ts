import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScript } from '../test/run-script.js';
import { SANDBOX_SLICING_AVAILABLE } from './sandbox.js';
import { hasInputOptions } from './worker-pool.js';

/**
 * A script that used the workbench ends on its own once its ToolMux is closed: idle workbench
 * workers (and their message ports) never keep the process alive. Runs the built package in a real
 * child process started with `node --input-type=module -e <script>`, whose options a worker thread
 * must not inherit (with them, every worker failed to start and the cell waited forever).
 */
const dist = resolve(import.meta.dirname, '../../dist/index.js');

// 'default without JSPI': as on Node.js 22, which cannot suspend WebAssembly (cells go to workers)
describe.each(SANDBOX_SLICING_AVAILABLE ? ['main', 'workers', 'default without JSPI'] : ['workers'])(
  'a process that used the workbench (cells on %s)',
  (thread) => {
    it('exits by itself after mux.close(), and also without close once its cells are done', async () => {
      const script = (close: boolean) => `
      const { ToolMux, MetaToolSlug } = await import(${JSON.stringify(dist)});
      const mux = new ToolMux({ toolkits: [], store: ':memory:', logger: { debug() {}, warn() {}, error() {} } });
      const session = await mux.create('user_1');
      const cell = await session.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.n = 41; return n + 1' });
      console.log(JSON.stringify(cell.data));
      ${close ? 'await mux.close();' : ''}
    `;
      // --expose-gc: a per-process option, which a worker must not be given explicitly
      for (const [close, options] of [
        [true, []],
        [false, ['--expose-gc']],
      ] as const) {
        const { code, stdout, timedOut } = await runScript(
          script(close),
          [...options],
          thread === 'default without JSPI'
            ? { TOOLMUX_WORKBENCH_JSPI: '0' }
            : { TOOLMUX_WORKBENCH_THREAD: thread },
        );
        expect(timedOut).toBe(false);
        expect(code).toBe(0);
        expect(JSON.parse(stdout.trim())).toEqual({ result: 42, logs: [] });
      }
    }, 30_000);

    it('exits soon after mux.close() while a cell computes (close does not wait for its deadline)', async () => {
      const { code, stdout, timedOut } = await runScript(
        `
      const { ToolMux, MetaToolSlug } = await import(${JSON.stringify(dist)});
      const mux = new ToolMux({ toolkits: [], store: ':memory:', logger: { debug() {}, warn() {}, error() {} } });
      const session = await mux.create('user_1', { workbench: { timeoutMs: 60_000 } });
      const cell = session.execute(MetaToolSlug.WORKBENCH, { code: 'while (true) {}' });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await mux.close();
      console.log(JSON.stringify((await cell).data.error.code));
    `,
        [],
        thread === 'default without JSPI'
          ? { TOOLMUX_WORKBENCH_JSPI: '0' }
          : { TOOLMUX_WORKBENCH_THREAD: thread },
      );
      // on the old code, in worker threads, close() waited for the cell's 60 s deadline
      expect(timedOut).toBe(false);
      expect(code).toBe(0);
      expect(JSON.parse(stdout.trim())).toBe('WORKBENCH_CONTEXT_DROPPED');
    }, 30_000);
  },
);

describe('a script that runs cells on WorkbenchWorkers without a ToolMux', () => {
  it('gets its first cell’s result: the process waits for the thread that starts for it, then exits', async () => {
    const pool = resolve(import.meta.dirname, '../../dist/workbench/worker-pool.js');
    // nothing else keeps the event loop alive (no store, no server): only the cell's worker thread
    const { code, stdout, timedOut } = await runScript(`
      const { WorkbenchWorkers } = await import(${JSON.stringify(pool)});
      const workers = new WorkbenchWorkers(1, 1);
      const message = (code) => ({
        sessionId: 'direct',
        code,
        memoryMb: 32,
        fresh: false,
        limits: { timeoutMs: 5_000, maxOutputChars: 10_000, maxToolCalls: 10 },
      });
      const host = async () => 41;
      const first = await workers.run(message("globalThis.n = await toolmux.execute('ANY', {}); return n + 1"), host);
      const second = await workers.run(message('return n * 2'), host);
      console.log(JSON.stringify([first.result, second.result]));
    `);
    expect(timedOut).toBe(false);
    expect(code).toBe(0);
    expect(JSON.parse(stdout.trim() || 'null')).toEqual([
      { result: 42, logs: [] },
      { result: 82, logs: [] },
    ]);
  }, 30_000);

  it('gets the result when the first thread fails to start and another one starts for the cell', async () => {
    const pool = resolve(import.meta.dirname, '../../dist/workbench/worker-pool.js');
    const { code, stdout, timedOut } = await runScript(`
      const { Worker } = await import('node:worker_threads');
      const { WorkbenchWorkers, spawnWorkbenchThread } = await import(${JSON.stringify(pool)});
      let spawned = 0;
      const workers = new WorkbenchWorkers(1, 1, {
        spawn: (init) => (spawned++ === 0 ? new Worker('process.exit(3)', { eval: true }) : spawnWorkbenchThread(init)),
      });
      const cell = await workers.run(
        {
          sessionId: 'direct',
          code: 'return 6 * 7',
          memoryMb: 32,
          fresh: false,
          limits: { timeoutMs: 5_000, maxOutputChars: 10_000, maxToolCalls: 10 },
        },
        async () => null,
      );
      console.log(JSON.stringify([spawned, cell.result]));
    `);
    expect(timedOut).toBe(false);
    expect(code).toBe(0);
    expect(JSON.parse(stdout.trim() || 'null')).toEqual([2, { result: 42, logs: [] }]);
  }, 30_000);
});

describe('hasInputOptions', () => {
  it('finds the options about the main script’s input, and only those', () => {
    for (const options of [
      ['-e', 'code'],
      ['--input-type=module'],
      ['--eval=1'],
      ['-p', '1'],
      ['--print', '1'],
      ['-pe', '1'],
    ])
      expect(hasInputOptions(['--expose-gc', ...options])).toBe(true);
    expect(
      hasInputOptions([
        '--expose-gc',
        '--max-old-space-size=512',
        '--conditions=dev',
        '--experimental-strip-types',
      ]),
    ).toBe(false);
  });
});
