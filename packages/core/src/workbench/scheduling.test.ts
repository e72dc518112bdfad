import { describe, expect, it } from 'vitest';
import type { ToolResult } from '../execution/result.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { expectCellLogsCommittedTogether } from '../test/log-batches.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { createGmailLikeToolkit, createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { type WorkbenchExecuteOptions, workbenchHost } from './host.js';
import { WorkbenchPool } from './workbench.js';
import { sharedWorkbenchWorkers } from './worker-pool.js';

// One worker to start with (two at most), so that sessions share a worker unless the pool moves them.
// These cases are about worker threads (the main thread's slices have their own tests).
process.env.TOOLMUX_WORKBENCH_THREAD = 'workers';
process.env.TOOLMUX_WORKBENCH_WORKERS = '1';
process.env.TOOLMUX_WORKBENCH_MAX_WORKERS = '2';

const quiet = { debug() {}, warn() {}, error() {} };
type Cell = { result: unknown; logs: string[]; error?: { code: string; message: string }; notice?: string };
const cellOf = (result: ToolResult) => result.data as Cell;

function setup() {
  const sample = createSampleToolkits();
  return new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
}

describe('workbench scheduling', () => {
  it('a cell behind another session’s endless loop on the same worker moves to a free worker and is told', async () => {
    const mux = setup();
    const looping = await mux.create('user_1', { workbench: { timeoutMs: 8_000 } });
    await looping.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = "a"' });
    const workers = sharedWorkbenchWorkers();
    const workerOf = (sessionId: string) => workers.workerIndexOf((key) => key.endsWith(`:${sessionId}`));
    // Both contexts in one worker (on a loaded machine a worker can look busy for a moment, and a
    // new context then goes to another: make the session again until they share one).
    let other = await mux.create('user_2', { workbench: {} });
    await other.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = "b"' });
    for (
      let attempt = 0;
      attempt < 10 && workerOf(other.sessionId) !== workerOf(looping.sessionId);
      attempt++
    ) {
      other = await mux.create('user_2', { workbench: {} });
      await other.execute(MetaToolSlug.WORKBENCH, { code: 'globalThis.kept = "b"' });
    }
    expect(workerOf(other.sessionId)).toBe(workerOf(looping.sessionId));
    const order: string[] = [];
    const loop = looping.execute(MetaToolSlug.WORKBENCH, { code: 'while (true) {}' }).then((result) => {
      order.push('loop');
      return result;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const cell = await other.execute(MetaToolSlug.WORKBENCH, { code: 'return typeof globalThis.kept' });
    order.push('cell');
    expect(cellOf(cell).error, JSON.stringify(cellOf(cell).error)).toBeUndefined();
    // Its context was held by the loop's worker: it runs in a new one, and says so.
    expect(cellOf(cell).result).toBe('undefined');
    expect(cellOf(cell).notice).toContain("held by another session's long-running code");
    const next = await other.execute(MetaToolSlug.WORKBENCH, {
      code: 'globalThis.kept = "c"; return globalThis.kept',
    });
    expect(cellOf(next).result).toBe('c');
    expect(cellOf(await loop).error?.code).toBe('WORKBENCH_TIMEOUT');
    expect(order).toEqual(['cell', 'loop']);
    // The new context stays: the session's state lives on from here.
    expect(cellOf(await other.execute(MetaToolSlug.WORKBENCH, { code: 'return kept' })).result).toBe('c');
    await mux.close();
  });

  it('100 sessions looping at once: every loop ends with WORKBENCH_TIMEOUT, ordinary calls all succeed, the event loop stays free', async () => {
    const mux = setup();
    const loopers = await Promise.all(
      Array.from({ length: 100 }, () => mux.create('user_loop', { workbench: { timeoutMs: 1_000 } })),
    );
    // 15 s, not the default 60 s: a cell of this session that is not run in time fails the test with
    // the cell's own error (what it waited for) inside the test's 20 s, instead of a bare test timeout
    const ordinary = await mux.create('user_ok', { workbench: { timeoutMs: 15_000 } });
    let duringStorm = 0;
    const measured = await longestTurn(
      async () => {
        const loops = loopers.map((session) =>
          session.execute(MetaToolSlug.WORKBENCH, { code: 'while (true) {}' }),
        );
        let loopsOver = false;
        const allLoops = Promise.all(loops).then((results) => {
          loopsOver = true;
          return results;
        });
        const calls: ToolResult[] = [];
        for (let index = 0; index < 40; index++) {
          calls.push(await ordinary.execute('TASKS_CREATE_TASK', { title: `task ${index}` }));
          if (!loopsOver) duringStorm++;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const cell = await ordinary.execute(MetaToolSlug.WORKBENCH, {
          code: "return (await toolmux.execute('TASKS_LIST_TASKS', {})).data.tasks.length",
        });
        return { calls, cell, results: await allLoops };
      },
      500,
      1,
    );
    const { calls, cell, results } = measured.value;
    expect(results.map((result) => cellOf(result).error?.code)).toEqual(
      Array.from({ length: 100 }, () => 'WORKBENCH_TIMEOUT'),
    );
    expect(calls.every((call) => call.successful)).toBe(true);
    // The ordinary calls ran while the loops were still going, not after them (a few are proof
    // enough: the loops end by the clock, and a busy machine makes each round slower).
    expect(duringStorm).toBeGreaterThan(3);
    expect(cellOf(cell).error).toBeUndefined();
    expect(cellOf(cell).result).toBe(40);
    // The main thread never ran a loop: its longest turn is far below a loop's 1 s (in this thread's
    // CPU time: a loaded machine stretches the event-loop delay, wall time, of a short turn).
    expect(measured.turnMs, turnReport(measured)).toBeLessThan(500);
    // Afterwards a looping session works again.
    const after = await loopers[0]!.execute(MetaToolSlug.WORKBENCH, { code: 'return 1 + 1' });
    expect(cellOf(after).result).toBe(2);
    await mux.close();
  });
});

describe('toolmux.execute(slug, args, { account })', () => {
  it('passes account to session.execute, and refuses one that is not a string', async () => {
    const seen: Array<{ slug: string; options: WorkbenchExecuteOptions }> = [];
    const pool = new WorkbenchPool();
    const host = workbenchHost(
      {
        sessionId: 'ses_account',
        store: {} as never,
        execute: async (slug, _args, options) => {
          seen.push({ slug, options });
          return { successful: true, data: { account: options.account ?? null }, error: null } as ToolResult;
        },
        search: async () => ({}),
        proxy: async () => ({}) as never,
        clientTools: new Set(),
        metaTools: new Set(),
      },
      'log_1',
    );
    const config = { enable: true, timeoutMs: 5_000, memoryMb: 16, autoOffloadThreshold: 20_000 };
    const out = await pool.run(
      'ses_account',
      `const a = await toolmux.execute('GMAIL_SEND', { to: 'x' }, { account: 'work' });
       const b = await toolmux.execute('GMAIL_SEND', {});
       let bad; try { await toolmux.execute('GMAIL_SEND', {}, { account: 42 }) } catch (e) { bad = e.code }
       return [a.data.account, b.data.account, bad];`,
      config,
      host,
    );
    expect(out.result).toEqual(['work', null, 'TOOL_ARGUMENTS_INVALID']);
    expect(seen.map((call) => [call.options.account, call.options.callId])).toEqual([
      ['work', 'log_1/1'],
      [undefined, 'log_1/2'],
    ]);
    pool.close();
  });

  it('in a session with several accounts, the cell’s { account } picks the account session.execute runs with', async () => {
    const gmail = createGmailLikeToolkit({ 'key-work': 'ada@work.example', 'key-home': 'ada@home.example' });
    const mux = new ToolMux({
      toolkits: [gmail.toolkit],
      store: ':memory:',
      logger: quiet,
      secretKey: Buffer.alloc(32, 7).toString('base64'),
    });
    const configId = (await mux.authConfigs.create('gmail', { type: 'api_key' })).id;
    const work = await mux.connectedAccounts.create(
      'ada',
      configId,
      { apiKey: 'key-work' },
      { alias: 'work' },
    );
    await mux.connectedAccounts.create('ada', configId, { apiKey: 'key-home' }, { alias: 'home' });
    const session = await mux.create('ada', {
      authConfigs: { gmail: configId },
      multiAccount: { enable: true },
    });
    const cell = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `const mail = { to: 'grace@example.com', subject: 'Hi', body: 'Hello' };
             const byAlias = await toolmux.execute('GMAIL_SEND_EMAIL', mail, { account: 'work' });
             const byId = await toolmux.execute('GMAIL_SEND_EMAIL', mail, { account: ${JSON.stringify(work.id)} });
             const byDefault = await toolmux.execute('GMAIL_SEND_EMAIL', mail);
             const unknown = await toolmux.execute('GMAIL_SEND_EMAIL', mail, { account: 'nope' });
             return [byAlias.data.from, byId.data.from, byDefault.data.from, unknown.successful];`,
    });
    expect(cellOf(cell).error).toBeUndefined();
    expect(cellOf(cell).result).toEqual(['ada@work.example', 'ada@work.example', 'ada@home.example', false]);
    expect(gmail.sent.map((mail) => mail.from)).toEqual([
      'ada@work.example',
      'ada@work.example',
      'ada@home.example',
    ]);
    await mux.close();
  });
});

describe('a cell’s log entries (in worker threads)', () => {
  it('are committed together with the cell’s own entry, in one transaction, before the cell answers', () =>
    expectCellLogsCommittedTogether());
});
