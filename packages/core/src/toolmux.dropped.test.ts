import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestPostgresUrl, postgresSkipReason } from './test/postgres.js';
import { runScript } from './test/run-script.js';
import { SANDBOX_SLICING_AVAILABLE } from './workbench/sandbox.js';

/**
 * A ToolMux dropped without `close()` — a module evaluated again on a hot reload, a ToolMux made per
 * request or per test — gives back what its store holds once it is garbage-collected: on a SQLite
 * file, the checkpoint thread and the connections' file handles. Before, its pruning timer and its
 * checkpoint thread kept the store reachable for good, and node:sqlite does not close a collected
 * connection that prepared statements: every dropped ToolMux kept a thread and its file handles (a
 * development server reloaded often ran out of them). Counts the real threads and file descriptors
 * of a child process (Linux: /proc).
 */
const dist = resolve(import.meta.dirname, '../dist/index.js');
const directory = mkdtempSync(join(tmpdir(), 'toolmux-dropped-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe.skipIf(!existsSync('/proc/self/fd'))('ToolMux instances dropped without close()', () => {
  it('give back their checkpoint threads and the file handles of their SQLite file once collected; their calls’ entries are stored', async () => {
    const file = join(directory, 'dropped.db');
    const { code, stdout, timedOut } = await runScript(
      `
      const { readdirSync, readFileSync, readlinkSync } = await import('node:fs');
      const { z } = await import('zod');
      const { ToolMux, defineTool, defineToolkit } = await import(${JSON.stringify(dist)});
      const file = ${JSON.stringify(file)};
      const echo = defineTool({ slug: 'ECHO_SAY', description: 'Say it back', inputSchema: z.object({ text: z.string() }), execute: async ({ text }) => ({ text }) });
      const toolkits = [defineToolkit({ slug: 'echo', name: 'Echo', description: 'Echo', tools: [echo] })];
      const options = { store: 'sqlite:' + file, toolkits, secretKey: '${'a'.repeat(64)}', logger: { debug() {}, warn() {}, error: (message) => console.error(message) } };
      const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      const handles = () => readdirSync('/proc/self/fd').filter((fd) => {
        try { return readlinkSync('/proc/self/fd/' + fd).startsWith(file); } catch { return false; }
      }).length;
      // enough writes that the store starts its checkpoint thread (halfway to its first checkpoint)
      const use = async (mux) => {
        const session = await mux.create('user_1', { toolkits: ['echo'] });
        let answered = 0;
        for (let call = 0; call < 60; call++) if ((await session.execute('ECHO_SAY', { text: 'hi' })).successful) answered++;
        return answered;
      };
      // one closed first: what every ToolMux of the process shares (validation threads) is started
      {
        const mux = new ToolMux(options);
        await use(mux);
        await mux.close();
      }
      const before = { threads: threads(), handles: handles() };
      let answered = 0;
      for (let index = 0; index < 20; index++) answered += await use(new ToolMux(options));
      const dropped = { threads: threads(), handles: handles() };
      const deadline = Date.now() + 8_000;
      let after;
      do {
        globalThis.gc();
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = { threads: threads(), handles: handles() };
      } while ((after.threads > before.threads || after.handles > before.handles) && Date.now() < deadline);
      const reader = new ToolMux(options);
      let stored = 0;
      let cursor;
      do {
        const page = await reader.logs.list({ limit: 100, cursor });
        stored += page.items.length;
        cursor = page.nextCursor;
      } while (cursor);
      await reader.close();
      console.log(JSON.stringify({ before, dropped, after, answered, stored }));
    `,
      ['--expose-gc'],
      {},
      30_000,
    );
    expect(timedOut).toBe(false);
    expect(code).toBe(0);
    const { before, dropped, after, answered, stored } = JSON.parse(stdout.trim()) as Record<
      'before' | 'dropped' | 'after',
      { threads: number; handles: number }
    > & { answered: number; stored: number };
    expect(answered).toBe(20 * 60);
    expect(stored).toBe(21 * 60);
    // the dropped instances did hold threads and handles (the counts can see them)
    expect(dropped.threads).toBeGreaterThan(before.threads);
    expect(dropped.handles).toBeGreaterThan(before.handles);
    // on the old code: 20 more threads and about 40 more handles of the file, for good
    expect(after).toEqual(before);
  }, 40_000);
});

const skipPostgres = await postgresSkipReason();

/**
 * On PostgreSQL, a ToolMux made per request (a serverless handler, a route that builds its own) and
 * never closed kept pools of its own, whose connections stayed open for pg's 10 s idle timeout: about
 * 33 such requests in 10 s took PostgreSQL's default 100 connections, for every application on the
 * server. The open stores of a process that connect alike now share their pools; the last one closed
 * (or collected unclosed) ends them. Counts the child process's connections in `pg_stat_activity`
 * by an application name of its own.
 */
describe.skipIf(skipPostgres !== undefined)(`ToolMux instances on PostgreSQL ${skipPostgres ?? ''}`, () => {
  it('made per request and never closed share one set of connections, which the last close (or collection) ends', async () => {
    const database = await createTestPostgresUrl();
    try {
      const application = `toolmux_dropped_${process.pid}_${Date.now()}`;
      const url = new URL(database.url);
      url.searchParams.set('application_name', application);
      const { code, stdout, timedOut } = await runScript(
        `
        const { z } = await import('zod');
        const pg = (await import('pg')).default;
        const { ToolMux, defineTool, defineToolkit } = await import(${JSON.stringify(dist)});
        const echo = defineTool({ slug: 'ECHO_SAY', description: 'Say it back', inputSchema: z.object({ text: z.string() }), execute: async ({ text }) => ({ text }) });
        const options = {
          store: ${JSON.stringify(url.toString())},
          toolkits: [defineToolkit({ slug: 'echo', name: 'Echo', description: 'Echo', tools: [echo] })],
          secretKey: '${'a'.repeat(64)}',
          logger: { debug() {}, warn() {}, error: (message) => console.error(message) },
        };
        const admin = new pg.Client({ connectionString: ${JSON.stringify(database.url)} });
        await admin.connect();
        const connections = async () =>
          Number((await admin.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [${JSON.stringify(application)}])).rows[0].n);
        const request = async (mux, index) => {
          const session = await mux.create('user_' + index, { toolkits: ['echo'] });
          return (await session.execute('ECHO_SAY', { text: 'hi' })).successful;
        };
        // a ToolMux per request, 4 requests at a time, none closed
        let answered = 0;
        for (let round = 0; round < 10; round++) {
          const outcomes = await Promise.all([0, 1, 2, 3].map((index) => request(new ToolMux(options), round * 4 + index)));
          answered += outcomes.filter(Boolean).length;
        }
        const afterDropped = await connections();
        // two open at once: closing one leaves the other working
        const first = new ToolMux(options);
        const second = new ToolMux(options);
        await request(first, 100);
        await first.close();
        const secondAfterFirstClosed = await request(second, 101);
        const closedRefuses = await first.create('user_102', { toolkits: ['echo'] }).then(() => 'created', (error) => error.code);
        await second.close();
        // the dropped ones give their share back once collected; then no connection is left
        const deadline = Date.now() + 8_000;
        let afterAll;
        do {
          globalThis.gc();
          await new Promise((resolve) => setTimeout(resolve, 100));
          afterAll = await connections();
        } while (afterAll > 0 && Date.now() < deadline);
        await admin.end();
        console.log(JSON.stringify({ answered, afterDropped, secondAfterFirstClosed, closedRefuses, afterAll }));
      `,
        ['--expose-gc'],
        {},
        30_000,
      );
      expect(timedOut).toBe(false);
      expect(code).toBe(0);
      const out = JSON.parse(stdout.trim()) as {
        answered: number;
        afterDropped: number;
        secondAfterFirstClosed: boolean;
        closedRefuses: string;
        afterAll: number;
      };
      expect(out.answered).toBe(40);
      // one store's pools at most (10 + 4 for the log): on the old code the script failed, PostgreSQL
      // answering "sorry, too many clients already" before the 40th ToolMux
      expect(out.afterDropped).toBeGreaterThan(0);
      expect(out.afterDropped).toBeLessThanOrEqual(14);
      expect(out.secondAfterFirstClosed).toBe(true);
      expect(out.closedRefuses).toBe('TOOLMUX_CLOSED');
      expect(out.afterAll).toBe(0);
    } finally {
      await database.cleanup();
    }
  }, 40_000);
});

/**
 * A dropped ToolMux's workbench contexts: its pool's idle sweep kept them in the shared runner (the
 * main thread's QuickJS instances or the worker threads) for the idle time, 10 minutes, though no
 * later call could reach them; a ToolMux made per request left one per request. They are dropped
 * once the ToolMux is collected; a ToolMux still in use keeps its context.
 */
describe.each(SANDBOX_SLICING_AVAILABLE ? ['main', 'workers'] : ['workers'])(
  'workbench contexts of ToolMux instances dropped without close() (TOOLMUX_WORKBENCH_THREAD=%s)',
  (thread) => {
    it('are dropped once the ToolMux is collected; a kept one keeps its context', async () => {
      const { code, stdout, timedOut } = await runScript(
        `
        const { ToolMux } = await import(${JSON.stringify(dist)});
        const { sharedCellRunner } = await import(${JSON.stringify(resolve(import.meta.dirname, '../dist/workbench/main-thread.js'))});
        const options = { store: ':memory:', toolkits: [], logger: { debug() {}, warn() {}, error: (message) => console.error(message) } };
        const cell = (session, code) => session.execute('TOOLMUX_WORKBENCH', { code }).then((result) => result.data);
        // each ToolMux's workbench pool is numbered in the order its first cell ran
        const keys = [];
        const use = async () => {
          const mux = new ToolMux(options);
          const session = await mux.create('user_1', { toolkits: [] });
          const answer = await cell(session, 'globalThis.kept = "x".repeat(100000); return kept.length');
          keys.push('pool' + (keys.length + 1) + ':' + session.sessionId);
          return { mux, session, answer };
        };
        const kept = await use();
        let answered = 0;
        for (let index = 0; index < 10; index++) if ((await use()).answer.result === 100000) answered++;
        const runner = sharedCellRunner();
        const held = () => keys.slice(1).filter((key) => runner.holds(key)).length;
        const deadline = Date.now() + 8_000;
        let after;
        do {
          globalThis.gc();
          await new Promise((resolve) => setTimeout(resolve, 100));
          after = held();
        } while (after > 0 && Date.now() < deadline);
        const keptHeld = runner.holds(keys[0]);
        const keptState = (await cell(kept.session, 'return kept.length')).result;
        await kept.mux.close();
        console.log(JSON.stringify({ answered, after, keptHeld, keptState }));
      `,
        ['--expose-gc'],
        { TOOLMUX_WORKBENCH_THREAD: thread },
        30_000,
      );
      expect(timedOut).toBe(false);
      expect(code).toBe(0);
      const out = JSON.parse(stdout.trim()) as Record<'answered' | 'after' | 'keptState', number> & {
        keptHeld: boolean;
      };
      expect(out.answered).toBe(10);
      // on the old code: all 10, for the 10 minutes of the idle sweep (some may be gone before the
      // first count: a collection can come while the cells run)
      expect(out.after).toBe(0);
      // the count sees a context that lives
      expect(out.keptHeld).toBe(true);
      expect(out.keptState).toBe(100000);
    }, 40_000);
  },
);
