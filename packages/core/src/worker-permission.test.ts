import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { runScript } from './test/run-script.js';

const dist = resolve(import.meta.dirname, '../dist/index.js');

/**
 * Under Node.js's permission model without `--allow-worker`, `new Worker()` throws
 * `ERR_ACCESS_DENIED`. Every call of a tool whose schema is checked in the validation thread (more
 * than 48 subschemas, a pattern RE2 cannot run) failed as `TOOL_EXECUTION_FAILED`, "Access to this
 * API has been restricted", although the tool never ran. Such schemas are now checked on the main
 * thread, a slice at a time; what only a thread can bound (a pattern RE2 cannot run, a check that
 * grows faster than the value) is refused, saying why. A SQLite file store's checkpoint thread could not start either, and the throw
 * reached each write that counted its commit: every execution log entry was reported as not written
 * (`could not write 1 execution log entry`), although it was.
 */
describe('a process that may not start worker threads', () => {
  it('checks large schemas on the main thread, and refuses, naming --allow-worker, the values of patterns RE2 cannot run and of schemas whose check grows faster than the value', async () => {
    const { code, stdout, timedOut } = await runScript(
      `
      const { ToolMux, defineTool, defineToolkit } = await import(${JSON.stringify(dist)});
      const properties = {};
      for (let index = 0; index < 80; index++) properties['field' + index] = { type: 'string' };
      const tools = defineToolkit({
        slug: 'wide',
        description: 'Wide',
        tools: [
          defineTool({ slug: 'WIDE_LARGE', description: 'A large schema', inputSchema: { type: 'object', properties, required: ['field0'] }, execute: async (args) => ({ fields: Object.keys(args).length }) }),
          defineTool({ slug: 'WIDE_LOOKAHEAD', description: 'A lookahead', inputSchema: { type: 'object', properties: { word: { type: 'string', pattern: '^(?=a)a+$' } } }, execute: async () => ({ ok: true }) }),
          defineTool({ slug: 'WIDE_DOUBLING', description: 'Nested arrays', inputSchema: { type: 'object', properties: { tree: { $ref: '#/$defs/node' } }, $defs: { node: { anyOf: [{ type: 'array', maxItems: 0, items: { $ref: '#/$defs/node' } }, { type: 'array', items: { $ref: '#/$defs/node' } }] } } }, execute: async () => ({ ok: true }) }),
          defineTool({ slug: 'WIDE_LINEAR', description: 'A linear pattern', inputSchema: { type: 'object', properties: { word: { type: 'string', pattern: '^a+$' } } }, execute: async () => ({ ok: true }) }),
        ],
      });
      const mux = new ToolMux({ toolkits: [tools], store: ':memory:', logger: { debug() {}, warn() {}, error() {} } });
      const session = await mux.create('user_1', { toolkits: ['wide'] });
      const many = {};
      for (let index = 0; index < 30_000; index++) many['field' + (index % 80)] = 'value ' + index;
      const answers = [
        await session.execute('WIDE_LARGE', { field0: 'a', field1: 'b' }),
        await session.execute('WIDE_LARGE', { field1: 2 }),
        await session.execute('WIDE_LARGE', { ...many, field0: 'x'.repeat(600_000) }),
        await session.execute('WIDE_LOOKAHEAD', { word: 'aaa' }),
        await session.execute('WIDE_LINEAR', { word: 'aaa' }),
      ];
      // 30 levels of [[…]]: 2^30 steps of Ajv's check, minutes of the main thread
      let tree = [];
      for (let level = 0; level < 30; level++) tree = [tree];
      const started = performance.now();
      answers.push(await session.execute('WIDE_DOUBLING', { tree }));
      const doublingMs = performance.now() - started;
      console.log(JSON.stringify({
        permitted: process.permission.has('worker'),
        doublingMs,
        answers: answers.map((answer) => ({ successful: answer.successful, code: answer.code ?? null, error: answer.error, data: answer.data })),
      }));
      await mux.close();
      `,
      ['--permission', '--allow-fs-read=*'],
      {},
      30_000,
    );
    expect(timedOut).toBe(false);
    expect(code, stdout).toBe(0);
    const { permitted, doublingMs, answers } = JSON.parse(stdout.trim()) as {
      permitted: boolean;
      doublingMs: number;
      answers: Array<{ successful: boolean; code: string | null; error: string | null; data: unknown }>;
    };
    expect(permitted).toBe(false);
    const [ordinary, wrong, large, lookahead, linear, doubling] = answers;
    expect(ordinary).toMatchObject({ successful: true, data: { fields: 2 } });
    expect(wrong).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    expect(wrong!.error).toContain('field0');
    expect(wrong!.error).toContain('field1');
    // a large value is checked a slice at a time on the main thread
    expect(large).toMatchObject({ successful: true, data: { fields: 80 } });
    expect(lookahead).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    expect(lookahead!.error).toContain('could not be checked against pattern "^(?=a)a+$"');
    expect(lookahead!.error).toContain('--allow-worker');
    expect(linear).toMatchObject({ successful: true, data: { ok: true } });
    // a schema whose check can grow faster than the value is refused, not checked for minutes here
    expect(doubling).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    expect(doubling!.error).toContain('could not be checked against this schema');
    expect(doubling!.error).toContain('--allow-worker');
    expect(doublingMs).toBeLessThan(5_000);
  }, 60_000);

  it('writes to a SQLite file without its checkpoint thread: every log entry committed, none reported as not written', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'toolmux-permission-'));
    try {
      const file = join(directory, 'toolmux.db');
      const { code, stdout, timedOut } = await runScript(
        `
        const { ToolMux, defineTool, defineToolkit } = await import(${JSON.stringify(dist)});
        const echo = defineToolkit({ slug: 'echo', description: 'Echo', tools: [defineTool({ slug: 'ECHO_IT', description: 'Echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } } }, execute: async ({ text }) => ({ text }) })] });
        const errors = [];
        const warnings = [];
        const mux = new ToolMux({
          toolkits: [echo],
          store: ${JSON.stringify(`sqlite:${file}`)},
          secretKey: Buffer.alloc(32, 7).toString('base64'),
          logger: { debug() {}, warn: (message) => warnings.push(message), error: (message) => errors.push(message) },
        });
        const session = await mux.create('user_1', { toolkits: ['echo'] });
        let failed = 0;
        for (let index = 0; index < 400; index++) {
          const answer = await session.execute('ECHO_IT', { text: 'x'.repeat(2_000) + index });
          if (!answer.successful) failed++;
        }
        await mux.close();
        console.log(JSON.stringify({ failed, errors, warnings }));
        `,
        ['--permission', '--allow-fs-read=*', `--allow-fs-write=${directory}`],
        {},
        60_000,
      );
      expect(timedOut).toBe(false);
      expect(code, stdout).toBe(0);
      const { failed, errors, warnings } = JSON.parse(stdout.trim()) as {
        failed: number;
        errors: string[];
        warnings: string[];
      };
      expect({ failed, errors }).toEqual({ failed: 0, errors: [] });
      // the operator is told once what runs elsewhere and what is refused, and the fix
      expect(warnings).toEqual([expect.stringContaining('may not start worker threads')]);
      expect(warnings[0]).toContain('Start Node.js with --allow-worker');
      const database = new DatabaseSync(file, { readOnly: true });
      try {
        const { count } = database.prepare('SELECT count(*) AS count FROM toolmux_execution_logs').get() as {
          count: number;
        };
        expect(count).toBe(400);
      } finally {
        database.close();
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }, 90_000);

  it('refuses TOOLMUX_WORKBENCH_THREAD=workers when the ToolMux is made, naming --allow-worker (every cell failed)', async () => {
    const { code, stdout, timedOut } = await runScript(
      `
      const { ToolMux } = await import(${JSON.stringify(dist)});
      try {
        new ToolMux({ toolkits: [], store: ':memory:' });
        console.log(JSON.stringify({ made: true }));
      } catch (error) {
        console.log(JSON.stringify({ code: error.code, message: error.message }));
      }
      `,
      ['--permission', '--allow-fs-read=*'],
      { TOOLMUX_WORKBENCH_THREAD: 'workers' },
      30_000,
    );
    expect(timedOut).toBe(false);
    expect(code, stdout).toBe(0);
    const answer = JSON.parse(stdout.trim()) as { code?: string; message?: string };
    expect(answer.code).toBe('CONFIG_INVALID');
    expect(answer.message).toContain('TOOLMUX_WORKBENCH_THREAD is "workers"');
    expect(answer.message).toContain('--allow-worker');
  }, 60_000);

  it('answers a workbench cell with a readable failure where worker threads are only the default (no JSPI)', async () => {
    const { code, stdout, timedOut } = await runScript(
      `
      const { ToolMux, MetaToolSlug } = await import(${JSON.stringify(dist)});
      const mux = new ToolMux({ toolkits: [], store: ':memory:', logger: { debug() {}, warn() {}, error() {} } });
      const session = await mux.create('user_1');
      const answer = await session.execute(MetaToolSlug.WORKBENCH, { code: 'return 1' });
      console.log(JSON.stringify({ successful: answer.successful, error: answer.data?.error }));
      await mux.close();
      `,
      ['--permission', '--allow-fs-read=*'],
      { TOOLMUX_WORKBENCH_JSPI: '0' },
      30_000,
    );
    expect(timedOut).toBe(false);
    expect(code, stdout).toBe(0);
    // the cell's answer, as for a thread that fails as it starts (three tries); before c1faac3 the
    // call failed with Node.js's error, thrown where the pool placed the cell
    const answer = JSON.parse(stdout.trim()) as {
      successful: boolean;
      error: { code: string; message: string };
    };
    expect(answer.successful).toBe(true);
    expect(answer.error.code).toBe('WORKBENCH_WORKER_RESTARTED');
    expect(answer.error.message).toContain('could not start a worker thread');
    expect(answer.error.message).toContain('--allow-worker');
  }, 60_000);
});
