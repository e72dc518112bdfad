import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { Tool } from '../catalog/types.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { MAX_LISTED_ISSUES } from '../schema/validate.js';
import type { Session } from '../session.js';
import { SqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/types.js';
import {
  HOSTILE_RESULTS,
  HOSTILE_THROWS,
  HUGE_THROWN_MESSAGE_CHARS,
  hostileThrowsToolkit,
} from '../test/hostile-throws.js';
import { relayToolkit } from '../test/relay-tool.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { redactForLog } from '../util/redact.js';
import { MAX_THROWN_MESSAGE_CHARS } from './execute.js';

const quiet = { debug() {}, warn() {}, error() {} };

async function setup(options: { store?: string | Store; slowToolTimeoutMs?: number } = {}) {
  const sample = createSampleToolkits({ slowToolTimeoutMs: options.slowToolTimeoutMs });
  const mux = new ToolMux({ toolkits: sample.toolkits, store: options.store ?? ':memory:', logger: quiet });
  const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
  return { ...sample, mux, session };
}

/** The answer of a TASKS_WAIT_FOR_APPROVAL call whose signal aborts (with `reason`) once its handler runs. */
async function abortedWhileRunning(session: Session, calls: readonly unknown[], reason?: unknown) {
  const controller = new AbortController();
  const pending = session.execute('TASKS_WAIT_FOR_APPROVAL', { taskId: 't1' }, { signal: controller.signal });
  await vi.waitFor(() => expect(calls).toHaveLength(1));
  controller.abort(reason);
  return pending;
}

describe('the execution path', () => {
  it('runs the handler with validated input and context, and logs the call', async () => {
    const { session, calls } = await setup();
    const result = await session.execute(
      'TASKS_CREATE_TASK',
      { title: 'Write docs', priority: 'high' },
      { callId: 'call_1' },
    );
    expect(result).toMatchObject({
      successful: true,
      data: { id: 'task_1', title: 'Write docs' },
      error: null,
    });
    expect(result.logId).toMatch(/^log_/);
    expect(calls).toEqual([
      {
        slug: 'TASKS_CREATE_TASK',
        input: { title: 'Write docs', priority: 'high' },
        context: { userId: 'user_1', sessionId: session.sessionId, callId: 'call_1', credentials: undefined },
      },
    ]);
    const [log] = (await session.logs()).items;
    expect(log).toMatchObject({
      id: result.logId,
      sessionId: session.sessionId,
      userId: 'user_1',
      toolSlug: 'TASKS_CREATE_TASK',
      toolkit: 'tasks',
      callId: 'call_1',
      status: 'success',
      errorCode: null,
    });
    expect(JSON.parse(log!.input)).toEqual({ title: 'Write docs', priority: 'high' });
    expect(JSON.parse(log!.output)).toEqual({ id: 'task_1', title: 'Write docs' });
    expect(log!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('logs durations in whole microseconds', async () => {
    const { session } = await setup();
    for (let call = 0; call < 20; call++)
      await session.execute('TASKS_CREATE_TASK', { title: `Task ${call}` });
    const { items } = await session.logs();
    expect(items).toHaveLength(20);
    // a clock difference has sub-microsecond digits: 20 of them all whole by chance is not plausible
    for (const log of items) expect(Math.round(log.durationMs * 1000) / 1000).toBe(log.durationMs);
  });

  it('rejects invalid arguments naming each bad field, without calling the handler', async () => {
    const { session, calls } = await setup();
    const result = await session.execute('TASKS_CREATE_TASK', { priority: 'urgent', labels: [1] });
    expect(result.successful).toBe(false);
    expect(result.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(result.error).toContain('TASKS_CREATE_TASK');
    expect(result.error).toContain('title');
    expect(result.error).toContain('priority');
    expect(result.error).toContain('labels[0]');
    expect(calls).toHaveLength(0);
    expect((await session.logs()).items[0]).toMatchObject({
      status: 'error',
      errorCode: 'TOOL_ARGUMENTS_INVALID',
    });
  });

  it('reads arguments as JSON carries them: inherited properties are not arguments', async () => {
    const { session, calls } = await setup();
    // what LangGraph's copy of `{"title": "t", "__proto__": {"priority": "high"}}` hands a tool: the
    // `__proto__` key made the prototype, its fields inherited
    const inherited = Object.assign(Object.create({ priority: 'high', labels: ['x'] }), { title: 't' });
    expect(await session.execute('TASKS_CREATE_TASK', inherited)).toMatchObject({ successful: true });
    // an object JSON writes otherwise (a Date) is what JSON writes, as a remote session sends it
    const when = new Date('2026-01-02T03:04:05.000Z');
    expect(await session.execute('NOTES_CREATE_NOTE', { text: when })).toMatchObject({ successful: true });
    expect(calls.map((call) => call.input)).toEqual([{ title: 't' }, { text: '2026-01-02T03:04:05.000Z' }]);
  });

  it('treats null for an optional field (strict mode) as absent', async () => {
    const { session, calls } = await setup();
    const result = await session.execute('NOTES_SEARCH_NOTES', {
      query: 'q',
      filter: { tag: null, createdAfter: null },
      limit: null,
    });
    expect(result.successful).toBe(true);
    expect(calls[0]!.input).toEqual({ query: 'q', filter: {}, limit: 10 });
  });

  it('turns a throwing handler into an error result', async () => {
    const { session } = await setup();
    const result = await session.execute('TASKS_SYNC_CALENDAR', { calendarId: 'cal_9' });
    expect(result).toMatchObject({ successful: false, data: null, code: 'TOOL_EXECUTION_FAILED' });
    expect(result.error).toBe('TASKS_SYNC_CALENDAR failed: calendar cal_9 is unreachable');
    expect((await session.logs()).items[0]).toMatchObject({
      status: 'error',
      errorCode: 'TOOL_EXECUTION_FAILED',
    });
  });

  it('stops a tool at its timeout even if it ignores its signal', async () => {
    const { session } = await setup({ slowToolTimeoutMs: 50 });
    const started = Date.now();
    const result = await session.execute('TASKS_EXPORT_ARCHIVE', {});
    expect(result).toMatchObject({ successful: false, code: 'TOOL_TIMEOUT' });
    expect(result.error).toContain('50 ms');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("passes the caller's abort to the handler and answers TOOL_ABORTED", async () => {
    const { session, calls } = await setup();
    const result = await abortedWhileRunning(session, calls);
    expect(result).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
    expect((await session.logs()).items[0]).toMatchObject({ errorCode: 'TOOL_ABORTED' });
  });

  it('does not start a tool whose signal is already aborted', async () => {
    const { session, calls } = await setup();
    const result = await session.execute('TASKS_LIST_TASKS', {}, { signal: AbortSignal.abort() });
    expect(result.code).toBe('TOOL_ABORTED');
    expect(calls).toHaveLength(0);
  });

  it.each([
    ['AbortSignal.timeout()', new DOMException('The operation was aborted due to timeout', 'TimeoutError')],
    [
      "a framework's own timeout error",
      Object.assign(new Error("Tool 'X' timed out after 20ms."), { name: 'ToolTimeoutError' }),
    ],
  ])(
    "a signal aborted by a time limit (%s) says the caller's time limit stopped the call",
    async (_kind, reason) => {
      const { session, calls } = await setup();
      const running = await abortedWhileRunning(session, calls, reason);
      const named = `(${reason.name}: ${reason.message})`;
      expect(running).toMatchObject({
        successful: false,
        code: 'TOOL_ABORTED',
        error: `TASKS_WAIT_FOR_APPROVAL was stopped by its caller's time limit ${named}; the caller stopped waiting for it, toolmux's own timeout for the tool had not passed.`,
      });
      const before = await session.execute('TASKS_LIST_TASKS', {}, { signal: AbortSignal.abort(reason) });
      expect(before.error).toBe(
        `TASKS_LIST_TASKS was stopped by its caller's time limit before it started ${named}; the caller stopped waiting for it, toolmux's own timeout for the tool had not passed.`,
      );
      expect(calls).toHaveLength(1);
      const logged = (await session.logs()).items.map((entry) => entry.errorMessage);
      expect(logged).toEqual([before.error, running.error]);
      // any other reason is the caller's abort
      const aborted = await session.execute(
        'TASKS_LIST_TASKS',
        {},
        { signal: AbortSignal.abort(new Error('user left')) },
      );
      expect(aborted.error).toBe('TASKS_LIST_TASKS was aborted before it started.');
    },
  );

  it("the calls made under the signal of a call a time limit stopped (a multi-execute's, a handler's own) name that limit and that call", async () => {
    const sample = createSampleToolkits();
    let session!: Session;
    const { toolkit: relay, last } = relayToolkit((signal) =>
      session.execute('TASKS_WAIT_FOR_APPROVAL', { taskId: 't2' }, { signal }),
    );
    const mux = new ToolMux({ toolkits: [...sample.toolkits, relay], store: ':memory:', logger: quiet });
    try {
      session = await mux.create('user_1');
      const limit = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      const named = `(TimeoutError: ${limit.message}); the caller stopped waiting for it, toolmux's own timeout for the tool had not passed.`;
      for (const [slug, args, taskId] of [
        [
          MetaToolSlug.MULTI_EXECUTE_TOOL,
          { tools: [{ tool_slug: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 't1' } }] },
          't1',
        ],
        ['RELAY_WAIT', {}, 't2'],
      ] as const) {
        sample.calls.length = 0;
        const caller = new AbortController();
        const pending = session.execute(slug, args, { signal: caller.signal });
        await vi.waitFor(() => expect(sample.calls).toHaveLength(1));
        caller.abort(limit);
        expect((await pending).error).toBe(`${slug} was stopped by its caller's time limit ${named}`);
        const inner = (await session.logs()).items.find(
          (entry) =>
            entry.toolSlug === 'TASKS_WAIT_FOR_APPROVAL' && JSON.parse(entry.input).taskId === taskId,
        );
        expect(inner?.errorMessage).toBe(
          `TASKS_WAIT_FOR_APPROVAL was stopped by the time limit of the ${slug} call it ran in ${named}`,
        );
      }
      // a call made under that signal once it aborted: before it started
      const late = await session.execute('TASKS_LIST_TASKS', {}, { signal: last.signal });
      expect(late.error).toBe(
        `TASKS_LIST_TASKS was stopped by the time limit of the RELAY_WAIT call it ran in before it started ${named}`,
      );
    } finally {
      await mux.close();
    }
  });

  it('answers tools outside the session and unknown slugs with a readable result', async () => {
    const { mux } = await setup();
    const session = await mux.create('user_1', { toolkits: ['notes'], sessionPreset: 'DIRECT_TOOLS' });
    const hidden = await session.execute('TASKS_LIST_TASKS', {});
    expect(hidden).toMatchObject({ successful: false, code: 'TOOL_NOT_IN_SESSION' });
    const unknown = await session.execute('NOTES_SERCH_NOTES', {});
    expect(unknown).toMatchObject({ successful: false, code: 'TOOL_NOT_FOUND' });
    expect(unknown.error).toContain('NOTES_SEARCH_NOTES');
    expect((await session.logs()).items.map((log) => log.errorCode)).toEqual([
      'TOOL_NOT_FOUND',
      'TOOL_NOT_IN_SESSION',
    ]);
  });

  it('names an unknown tool as sent escaped and cut, and still suggests close names', async () => {
    const { session } = await setup();
    // a model's runaway name: far longer than any tool's, with a control character
    const runaway = `TASKS_\u001b[31m${'X'.repeat(1_000_000)}`;
    const result = await session.execute(runaway, {});
    expect(result.code).toBe('TOOL_NOT_FOUND');
    expect(result.error).toBe(
      `There is no tool "TASKS_\\u001b[31m${'X'.repeat(53)}…". Call only the tools this session gave you.`,
    );
    expect((await session.execute('tasks_list_task', {})).error).toContain('Did you mean "TASKS_LIST_TASKS"');
    expect((await session.execute('LIST_TASKS', {})).error).toContain('Did you mean "TASKS_LIST_TASKS"');
  });

  it('asks for a connection when a toolkit needs an account and none is connected', async () => {
    const { session, calls } = await setup();
    const result = await session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' });
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(result.error).toContain('Mail (mail)');
    expect(calls).toHaveLength(0);
  });

  it('redacts secrets and cuts payloads to 4 KB in the log', async () => {
    const echo = defineTool({
      slug: 'ECHO_ECHO',
      description: 'Echo the input back.',
      inputSchema: z.object({
        text: z.string(),
        apiKey: z.string().optional(),
        nested: z.object({ password: z.string() }).optional(),
      }),
      execute: async (input) => ({ echoed: input.text, token: 'tok_live_123456' }),
    });
    const mux = new ToolMux({
      toolkits: [defineToolkit({ slug: 'echo', description: 'Echo', tools: [echo] })],
      store: ':memory:',
      logger: quiet,
    });
    const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    await session.execute('ECHO_ECHO', {
      text: 'x'.repeat(10_000),
      apiKey: 'sk_live_abcdef',
      nested: { password: 'hunter22' },
    });
    const [log] = (await session.logs()).items;
    for (const payload of [log!.input, log!.output]) {
      expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(4096);
      expect(payload).not.toContain('sk_live_abcdef');
      expect(payload).not.toContain('hunter22');
      expect(payload).not.toContain('tok_live_123456');
    }
    expect(log!.input).toContain('[truncated]');
  });

  it("masks the account's credentials in a result (a tool that hands on what its API echoed), alone and in a multi-execute; a field the scheme does not keep secret stays", async () => {
    const apiKey = 'key_live_"7Hq"/+= &x';
    const echo = defineTool({
      slug: 'SHOWN_ECHO',
      description: 'Answer what the API echoed.',
      inputSchema: z.object({}),
      execute: async (_input, ctx) => {
        const { apiKey: key = '', region = '' } = ctx.credentials ?? {};
        return {
          credentials: ctx.credentials,
          headers: {
            'x-echo': `Bearer ${key}`,
            location: `https://${region}/next?key=${encodeURIComponent(key)}`,
          },
          [`seen ${key}`]: true,
          text: JSON.stringify({ key }),
          form: new URLSearchParams({ key }).toString(),
          basic: Buffer.from(`${region}:${key}`).toString('base64'),
        };
      },
    });
    const shown = defineToolkit({
      slug: 'shown',
      description: 'Shown',
      auth: {
        type: 'api_key',
        fields: [
          { name: 'apiKey', label: 'API key' },
          { name: 'region', label: 'Region host', secret: false },
        ],
      },
      tools: [echo],
    });
    const mux = new ToolMux({ toolkits: [shown], store: ':memory:', logger: quiet });
    const config = await mux.authConfigs.create('shown', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('user_1', config.id, {
      apiKey,
      region: 'eu.api.example.com',
    });
    const session = await mux.create('user_1', {
      toolkits: ['shown'],
      connectedAccounts: { shown: account.id },
    });
    const alone = await session.execute('SHOWN_ECHO', {});
    const multi = await session.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'SHOWN_ECHO', arguments: {} }],
    });
    const inMulti = (multi.data as { results: Array<{ data: unknown }> }).results[0]!.data;
    for (const data of [alone.data, inMulti]) {
      expect(data).toEqual({
        credentials: { apiKey: '[REDACTED]', region: 'eu.api.example.com' },
        headers: {
          'x-echo': 'Bearer [REDACTED]',
          location: 'https://eu.api.example.com/next?key=[REDACTED]',
        },
        'seen [REDACTED]': true,
        text: '{"key":"[REDACTED]"}',
        form: 'key=[REDACTED]',
        basic: '[REDACTED]',
      });
    }
    const everything = JSON.stringify([alone, multi, await session.logs()]);
    for (const form of [apiKey, encodeURIComponent(apiKey), JSON.stringify(apiKey).slice(1, -1)])
      expect(everything).not.toContain(form);
    const cell = await session.execute('TOOLMUX_WORKBENCH', {
      code: 'return (await toolmux.execute("SHOWN_ECHO", {})).data.headers.location',
    });
    expect(cell.data).toMatchObject({ result: 'https://eu.api.example.com/next?key=[REDACTED]' });
    // the tool's own log entries mask every credential of its account, also a field the model is
    // shown, and so do the entries of the multi-execute and the cell that quote its results (before,
    // those showed the field)
    const logged = (await session.logs()).items;
    const entries = logged.filter((entry) =>
      ['SHOWN_ECHO', 'TOOLMUX_MULTI_EXECUTE_TOOL', 'TOOLMUX_WORKBENCH'].includes(entry.toolSlug),
    );
    expect(entries.map((entry) => entry.toolSlug).sort()).toEqual([
      'SHOWN_ECHO',
      'SHOWN_ECHO',
      'SHOWN_ECHO',
      'TOOLMUX_MULTI_EXECUTE_TOOL',
      'TOOLMUX_WORKBENCH',
    ]);
    for (const entry of entries) {
      expect(entry.output).toContain('https://[REDACTED]/next?key=[REDACTED]');
      expect(entry.output).not.toContain('eu.api.example.com');
    }
    await mux.close();
  });

  it("a handler's ctx.log note reaches the logger with the account's credentials masked and cut to 4 KB", async () => {
    const apiKey = 'sk_note_0123456789abcdef';
    const notes: Array<{ message: string; data: unknown }> = [];
    const note = defineTool({
      slug: 'KEYED_NOTE',
      description: 'Note what the API answered.',
      inputSchema: z.object({}),
      execute: async (_input, ctx) => {
        const key = ctx.credentials?.apiKey ?? '';
        ctx.log(`the API answered: sent ${encodeURIComponent(key)} ${'x'.repeat(10_000)}`);
        ctx.log('answer', {
          echoed: { header: `Bearer ${key}` },
          context: ctx.credentials,
          big: 'y'.repeat(10_000),
        });
        return { ok: true };
      },
    });
    const keyed = defineToolkit({
      slug: 'keyed',
      description: 'Keyed',
      auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] },
      tools: [note],
    });
    const mux = new ToolMux({
      toolkits: [keyed],
      store: ':memory:',
      logger: { ...quiet, debug: (message, data) => notes.push({ message, data }) },
    });
    const config = await mux.authConfigs.create('keyed', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('user_1', config.id, { apiKey });
    const session = await mux.create('user_1', {
      toolkits: ['keyed'],
      connectedAccounts: { keyed: account.id },
    });
    expect(await session.execute('KEYED_NOTE', {})).toMatchObject({ successful: true });
    const written = notes.filter((each) => each.message.includes('KEYED_NOTE'));
    expect(written).toHaveLength(2);
    expect(written[0]!.message).toMatch(/^\[KEYED_NOTE log_\w+\] the API answered: sent \[REDACTED\] x+/);
    expect(Buffer.byteLength(written[0]!.message.replace(/^\[[^\]]+\] /, ''))).toBeLessThanOrEqual(4096);
    expect(written[0]!.message).toMatch(/…\[truncated\]$/);
    const data = (written[1]!.data as { data: string }).data;
    expect(data).toContain('"header":"Bearer [REDACTED]"');
    expect(Buffer.byteLength(data)).toBeLessThanOrEqual(4096);
    expect(JSON.stringify(notes)).not.toContain(apiKey);
    await mux.close();
  });

  it('lists the keys of a wide argument once in a call, its log redacted and cut as always', async () => {
    let listings = 0;
    const target: Record<string, unknown> = Object.fromEntries(
      Array.from({ length: 3000 }, (_, index) => [`key_${index}`, 'x'.repeat(20)]),
    );
    target.password = 'hunter22';
    const wide = new Proxy(target, {
      ownKeys: (object) => {
        listings++;
        return Reflect.ownKeys(object);
      },
    });
    const echo = defineTool({
      slug: 'ECHO_ECHO',
      description: 'Echo the input back.',
      inputSchema: z.object({ payload: z.unknown() }),
      execute: async (input) => ({ echoed: input.payload }),
    });
    const mux = new ToolMux({
      toolkits: [defineToolkit({ slug: 'echo', description: 'Echo', tools: [echo] })],
      store: ':memory:',
      logger: quiet,
    });
    const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    const result = await session.execute('ECHO_ECHO', { payload: wide });
    expect(result.successful).toBe(true);
    // the depth walk lists them; the redaction of the arguments and of the result reuses its list
    expect(listings).toBe(1);
    const [log] = (await session.logs()).items;
    const plain = { ...target };
    expect(log!.input).toBe(redactForLog({ payload: plain }));
    expect(log!.output).toBe(redactForLog({ echoed: plain }));
    expect(log!.input).toContain('[truncated]');
    await mux.close();
  });

  it('lists the keys of a wide result once: its check lists them, the log redaction reuses them', async () => {
    let listings = 0;
    const target: Record<string, unknown> = Object.fromEntries(
      Array.from({ length: 3000 }, (_, index) => [`key_${index}`, 'x'.repeat(20)]),
    );
    const wide = new Proxy(target, {
      ownKeys: (object) => {
        listings++;
        return Reflect.ownKeys(object);
      },
    });
    const tool = defineTool({
      slug: 'WIDE_RESULT',
      description: 'Answer a wide object.',
      inputSchema: z.object({}),
      execute: async () => wide,
    });
    const mux = new ToolMux({
      toolkits: [defineToolkit({ slug: 'wide', description: 'Wide', tools: [tool] })],
      store: ':memory:',
      logger: quiet,
    });
    const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    const result = await session.execute('WIDE_RESULT', {});
    expect(listings).toBe(1);
    expect(result.successful).toBe(true);
    expect(result.data).toBe(wide);
    const [log] = (await session.logs()).items;
    expect(log!.output).toBe(redactForLog({ ...target }));
    await mux.close();
  });

  it('lets other work run between the stages of a call with large arguments, never of a small one', async () => {
    const seen: string[] = [];
    const echo = defineTool({
      slug: 'ECHO_ECHO',
      description: 'Echo the input back.',
      inputSchema: z.object({ text: z.string(), extra: z.record(z.string(), z.string()).optional() }),
      execute: (input) => {
        seen.push(`handler ${input.text}`);
        return { echoed: input.text };
      },
    });
    const mux = new ToolMux({
      toolkits: [defineToolkit({ slug: 'echo', description: 'Echo', tools: [echo] })],
      store: ':memory:',
      logger: quiet,
    });
    const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    // 5,000 properties: a large call, which yields before validation, the handler and the log
    const extra = Object.fromEntries(Array.from({ length: 5_000 }, (_, index) => [`key_${index}`, 'value']));
    setImmediate(() => seen.push('other work'));
    const result = await session.execute('ECHO_ECHO', { text: 'large', extra });
    expect(result).toMatchObject({ successful: true, data: { echoed: 'large' } });
    expect(seen).toEqual(['other work', 'handler large']);
    // small calls never leave their turn before the handler: concurrent ones run in call order
    seen.length = 0;
    setImmediate(() => seen.push('other work'));
    await Promise.all(['a', 'b', 'c'].map((text) => session.execute('ECHO_ECHO', { text })));
    expect(seen).toEqual(['handler a', 'handler b', 'handler c', 'other work']);
    const [log] = (await session.logs()).items;
    expect(JSON.parse(log!.output)).toEqual({ echoed: 'c' });
  });

  it('answers only once the entry is stored, with the calls of one turn in one batch', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const batches: number[] = [];
    const insertLogs = store.insertLogs.bind(store);
    store.insertLogs = async (records) => {
      batches.push(records.length);
      await insertLogs(records);
    };
    const sample = createSampleToolkits();
    const mux = new ToolMux({
      toolkits: sample.toolkits,
      store,
      secretKey: Buffer.alloc(32, 7).toString('base64'),
      logger: quiet,
    });
    const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    const results = await Promise.all(
      Array.from({ length: 30 }, async (_, index) => {
        const result = await session.execute('TASKS_LIST_TASKS', {}, { callId: `call_${index}` });
        // read past the session (no flush): the entry is already committed
        const stored = await store.listLogs({ sessionId: session.sessionId, limit: 100 });
        expect(stored.items.map((item) => item.id)).toContain(result.logId);
        return result;
      }),
    );
    expect(results.every((result) => result.successful)).toBe(true);
    expect(batches).toEqual([30]);
  });

  it('logs a huge error message cut to 4 KB, NUL as U+FFFD', async () => {
    const failing = defineTool({
      slug: 'ECHO_FAIL',
      description: 'Fail with a long message.',
      inputSchema: z.object({}),
      execute: async () => {
        throw new Error('\0auth'.repeat(200_000));
      },
    });
    const mux = new ToolMux({
      toolkits: [defineToolkit({ slug: 'echo', description: 'Echo', tools: [failing] })],
      store: ':memory:',
      logger: quiet,
    });
    const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    const result = await session.execute('ECHO_FAIL', {});
    expect(result.code).toBe('TOOL_EXECUTION_FAILED');
    const [log] = (await session.logs()).items;
    expect(Buffer.byteLength(log!.errorMessage!)).toBeLessThanOrEqual(4096);
    expect(log!.errorMessage).toMatch(/^ECHO_FAIL failed: \uFFFDauth/);
    expect(log!.errorMessage!.endsWith('…[truncated]')).toBe(true);
    // what the model reads is cut too, at 16 KB
    expect(result.error).toHaveLength(
      'ECHO_FAIL failed: '.length +
        MAX_THROWN_MESSAGE_CHARS +
        '… (cut: the message had 1000000 characters)'.length,
    );
  });

  it('still answers when the log cannot be written', async () => {
    const errors: string[] = [];
    const sample = createSampleToolkits();
    const failingStore = new SqliteStore({ path: ':memory:' });
    failingStore.insertLogs = async () => {
      throw new Error('disk full');
    };
    const mux = new ToolMux({
      toolkits: sample.toolkits,
      store: failingStore,
      secretKey: Buffer.alloc(32, 7).toString('base64'),
      logger: { ...quiet, error: (message) => errors.push(message) },
    });
    const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    const result = await session.execute('TASKS_LIST_TASKS', {});
    expect(result.successful).toBe(true);
    // the call answers after its entry's write was tried: the loss is already reported
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('could not write 1 execution log entry');
    expect(errors[0]).toContain('disk full');
  });
});

/** A session of a toolkit `keyed` (an API key) of `tools`, its account connected with `apiKey`. */
async function keyedSession(tools: Tool[], apiKey: string): Promise<{ mux: ToolMux; session: Session }> {
  const keyed = defineToolkit({
    slug: 'keyed',
    description: 'Keyed',
    auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] },
    tools,
  });
  const mux = new ToolMux({ toolkits: [keyed], store: ':memory:', logger: quiet });
  const config = await mux.authConfigs.create('keyed', { type: 'api_key' });
  const account = await mux.connectedAccounts.create('user_1', config.id, { apiKey });
  const session = await mux.create('user_1', {
    toolkits: ['keyed'],
    connectedAccounts: { keyed: account.id },
  });
  return { mux, session };
}

describe('a handler that throws what is not a plain Error', () => {
  const setUp = async () => {
    const mux = new ToolMux({ toolkits: [hostileThrowsToolkit()], store: ':memory:', logger: quiet });
    return mux.create('user_1', { toolkits: ['hostile'] });
  };

  it.each(HOSTILE_THROWS)(
    '$kind: a failed result the model can read, logged, alone and in a multi-execute',
    async ({ kind, words, code = 'TOOL_EXECUTION_FAILED' }) => {
      const session = await setUp();
      const result = await session.execute('HOSTILE_THROW', { kind });
      expect(result).toMatchObject({ successful: false, data: null, code });
      for (const word of words) expect(result.error).toContain(word);
      expect(result.error!.length).toBeLessThan(MAX_THROWN_MESSAGE_CHARS + 100);
      const [entry] = (await session.logs({ limit: 1 })).items;
      expect(entry).toMatchObject({ id: result.logId, status: 'error', errorCode: code });

      const multi = await session.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
        tools: [
          { tool_slug: 'HOSTILE_THROW', arguments: { kind } },
          { tool_slug: 'HOSTILE_THROW', arguments: { kind: 'string' } },
        ],
      });
      expect(multi.successful).toBe(true);
      const [first, second] = (multi.data as { results: Array<{ successful: boolean; error: string }> })
        .results;
      expect(first!.successful).toBe(false);
      for (const word of words) expect(first!.error).toContain(word);
      expect(second!.error).toContain('plain words');
    },
  );

  it('a thrown object is written as JSON only as far as the cut, its secrets masked where the cut falls', async () => {
    const secret = 'sk-live-0123456789abcdefghijklmnopqrstuv';
    const prefix = 'KEYED_THROW failed: ';
    // what of the thrown value was read to make the message: each item counts its reads
    let reads = 0;
    const keyed = {
      tools: [
        defineTool({
          slug: 'KEYED_THROW',
          description: 'Throws an object with the key where the cut falls, and 100,000 items after it.',
          inputSchema: z.object({ wide: z.boolean().optional() }),
          execute: async ({ wide }, ctx) => {
            // {"before":"yyy…","key":"sk-…" puts the key across the cut
            const before = 'y'.repeat(
              MAX_THROWN_MESSAGE_CHARS - prefix.length - '{"before":"","key":"'.length - 10,
            );
            const items = Array.from({ length: 100_000 }, (_, n) => ({
              get text() {
                reads++;
                return `item ${n}`;
              },
            }));
            if (!wide) throw { before, key: ctx.credentials?.apiKey, items };
            // 300,000 keys: listed once (as JSON.stringify does), written as far as the cut
            const many: Record<string, unknown> = { before, key: ctx.credentials?.apiKey };
            for (let n = 0; n < 300_000; n++) many[`k${n}`] = items[n % items.length];
            throw many;
          },
        }),
      ],
    };
    const { mux, session } = await keyedSession(keyed.tools, secret);
    for (const wide of [false, true]) {
      reads = 0;
      const result = await session.execute('KEYED_THROW', { wide });
      expect(result).toMatchObject({ successful: false, code: 'TOOL_EXECUTION_FAILED' });
      // the JSON of all 100,000 items (or 300,000 keys) was written before: every item read
      expect(reads).toBeLessThan(2_000);
      expect(result.error).toMatch(/^KEYED_THROW failed: \{"before":"y+","key":"\[REDACTED\]/);
      expect(result.error).toMatch(/… \(cut: the message had more than \d+ characters\)$/);
      expect(result.error!.length).toBeLessThan(MAX_THROWN_MESSAGE_CHARS + 100);
      expect(result.error).not.toContain(secret.slice(0, 8));
      const [entry] = (await session.logs({ limit: 1 })).items;
      expect(entry).toMatchObject({ id: result.logId, errorCode: 'TOOL_EXECUTION_FAILED' });
      expect(entry!.errorMessage).not.toContain(secret.slice(0, 8));
    }
    await mux.close();
  });

  it('a long message is cut after its secrets are masked: no part of one shows', async () => {
    const secret = 'sk-live-0123456789abcdefghijklmnopqrstuv';
    const prefix = 'KEYED_LEAK failed: ';
    const leak = defineTool({
      slug: 'KEYED_LEAK',
      description: 'Fail with the key where the cut falls.',
      inputSchema: z.object({}),
      execute: async (_input, ctx) => {
        const before = 'y'.repeat(MAX_THROWN_MESSAGE_CHARS - prefix.length - 10);
        throw new Error(`${before}${ctx.credentials?.apiKey}${'z'.repeat(HUGE_THROWN_MESSAGE_CHARS)}`);
      },
    });
    const mux = new ToolMux({
      toolkits: [
        defineToolkit({
          slug: 'keyed',
          description: 'Keyed',
          tools: [leak],
          auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] },
        }),
      ],
      store: ':memory:',
      logger: quiet,
    });
    const config = await mux.authConfigs.create('keyed', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('user_1', config.id, { apiKey: secret });
    const session = await mux.create('user_1', {
      toolkits: ['keyed'],
      connectedAccounts: { keyed: account.id },
    });
    const result = await session.execute('KEYED_LEAK', {});
    expect(result).toMatchObject({ code: 'TOOL_EXECUTION_FAILED' });
    expect(result.error!.length).toBeLessThan(MAX_THROWN_MESSAGE_CHARS + 100);
    expect(result.error).toContain('(cut: the message had');
    expect(result.error).not.toContain(secret.slice(0, 10));
  });
});

/**
 * What toolmux's own messages quote from outside is cut like a thrown message: a result whose getter
 * or toJSON throws megabytes, arguments whose toJSON does, arguments of 100,000 wrong items. Each call
 * answers a failed result the model can read, of a bounded length, and is logged.
 */
describe('a message of toolmux quoting megabytes from outside', () => {
  /** The most a failed result's message may have: the quote's cut and the words around it. */
  const bound = MAX_THROWN_MESSAGE_CHARS + 500;

  it.each(HOSTILE_RESULTS)(
    'a result with a $kind: TOOL_RESULT_INVALID quoting it cut, alone and in a multi-execute',
    async ({ kind, words }) => {
      const mux = new ToolMux({ toolkits: [hostileThrowsToolkit()], store: ':memory:', logger: quiet });
      const session = await mux.create('user_1', { toolkits: ['hostile'] });
      const result = await session.execute('HOSTILE_RETURN', { kind });
      expect(result).toMatchObject({ successful: false, data: null, code: 'TOOL_RESULT_INVALID' });
      expect(result.error).toMatch(
        /^HOSTILE_RETURN returned a result that cannot be handed on as JSON: data\./,
      );
      for (const word of words) expect(result.error).toContain(word);
      expect(result.error!.length).toBeLessThan(bound);
      const [entry] = (await session.logs({ limit: 1 })).items;
      expect(entry).toMatchObject({ id: result.logId, status: 'error', errorCode: 'TOOL_RESULT_INVALID' });

      const multi = await session.execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
        tools: [{ tool_slug: 'HOSTILE_RETURN', arguments: { kind } }],
      });
      expect(multi.successful).toBe(true);
      const [first] = (multi.data as { results: Array<{ successful: boolean; error: string }> }).results;
      expect(first!.successful).toBe(false);
      expect(first!.error.length).toBeLessThan(bound);
      await mux.close();
    },
  );

  it("a quoted message (a handler's, a result getter's) is masked before its cut: no part of a secret shows", async () => {
    const secret = 'sk-live-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz';
    const keyed = {
      tools: [
        defineTool({
          slug: 'KEYED_RETURN',
          description: 'Returns a value whose getter throws the key, again and again.',
          inputSchema: z.object({ thrown: z.boolean().optional() }),
          execute: async ({ thrown }, ctx) => {
            // masked, each occurrence is shorter: a cut after masking would reach past where it
            // looked, to the start of an occurrence it did not mask
            const message = `${ctx.credentials?.apiKey}, `.repeat(
              Math.ceil((2 * HUGE_THROWN_MESSAGE_CHARS) / secret.length),
            );
            if (thrown) throw new Error(message);
            return {
              get rows() {
                throw message;
              },
            };
          },
        }),
      ],
    };
    const { mux, session } = await keyedSession(keyed.tools, secret);
    for (const thrown of [true, false]) {
      const result = await session.execute('KEYED_RETURN', { thrown });
      expect(result.code).toBe(thrown ? 'TOOL_EXECUTION_FAILED' : 'TOOL_RESULT_INVALID');
      expect(result.error).toContain('[REDACTED], [REDACTED]');
      expect(result.error).toContain('… (cut: the message had');
      expect(result.error).not.toContain('sk-live');
      expect(result.error!.length).toBeLessThan(bound);
      const [entry] = (await session.logs({ limit: 1 })).items;
      expect(entry!.errorMessage).not.toContain('sk-live');
    }
    await mux.close();
  });

  const takes = defineToolkit({
    slug: 'takes',
    description: 'Takes',
    tools: [
      defineTool({
        slug: 'TAKES_NAMES',
        description: 'Takes names',
        inputSchema: z.object({ at: z.unknown().optional(), names: z.array(z.string()).optional() }),
        execute: async () => ({ ok: true }),
      }),
    ],
  });

  it('arguments whose toJSON throws megabytes: TOOL_ARGUMENTS_INVALID quoting it cut', async () => {
    const mux = new ToolMux({ toolkits: [takes], store: ':memory:', logger: quiet });
    const session = await mux.create('user_1', { toolkits: ['takes'] });
    // a class instance: not plain data, so the arguments are taken as JSON carries them
    class Moment {
      toJSON(): never {
        throw new Error('z'.repeat(HUGE_THROWN_MESSAGE_CHARS));
      }
    }
    const result = await session.execute('TAKES_NAMES', { at: new Moment() });
    expect(result).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    expect(result.error).toContain('The arguments of TAKES_NAMES are not JSON data (zzzzzzzz');
    expect(result.error).toContain('… (cut: the message had 5000000 characters)');
    expect(result.error!.length).toBeLessThan(bound);
    await mux.close();
  });

  it('arguments of 200,000 wrong items: the first issues and how many more', async () => {
    const mux = new ToolMux({ toolkits: [takes], store: ':memory:', logger: quiet });
    const session = await mux.create('user_1', { toolkits: ['takes'] });
    const result = await session.execute('TAKES_NAMES', {
      names: Array.from({ length: 200_000 }, (_, n) => n),
    });
    expect(result).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    expect(result.error).toMatch(
      /^Invalid arguments for TAKES_NAMES: names\[0\]: is a number: send a string; /,
    );
    // the issues listed stop at MAX_LISTED_ISSUES (and one that says there are more), as a JSON
    // Schema tool's do: zod made an issue for each of the 200,000
    expect(result.error).toMatch(new RegExp(`; and ${MAX_LISTED_ISSUES + 1 - 20} more$`));
    expect(result.error!.length).toBeLessThan(bound);
    // a key of megabytes is named cut too (in the words of an unknown key, its first 100 characters)
    const strict = defineToolkit({
      slug: 'strict',
      description: 'Strict',
      tools: [
        defineTool({
          slug: 'STRICT_TAKES',
          description: 'Takes nothing else',
          inputSchema: { type: 'object', properties: {}, additionalProperties: false },
          execute: async () => ({ ok: true }),
        }),
      ],
    });
    const other = new ToolMux({ toolkits: [strict], store: ':memory:', logger: quiet });
    const keyed = await other.create('user_1', { toolkits: ['strict'] });
    const wrongKey = await keyed.execute('STRICT_TAKES', { ['k'.repeat(HUGE_THROWN_MESSAGE_CHARS)]: 1 });
    expect(wrongKey).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    expect(wrongKey.error).toBe(
      `Invalid arguments for STRICT_TAKES: (root): unknown key "${'k'.repeat(100)}"`,
    );
    expect(wrongKey.error!.length).toBeLessThan(bound);
    await Promise.all([mux.close(), other.close()]);
  });
});
