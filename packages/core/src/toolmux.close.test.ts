import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from './catalog/define.js';
import { ToolMuxError } from './errors.js';
import { gateToolkit } from './test/gate-tool.js';
import { createTestPostgresUrl } from './test/postgres.js';
import { recordingLogger } from './test/recording-logger.js';
import { ToolMux } from './toolmux.js';

/** A tool that answers after `ms` milliseconds (and honours its abort signal). */
const slowToolkit = defineToolkit({
  slug: 'slow',
  description: 'Tools that take their time',
  tools: [
    defineTool({
      slug: 'SLOW_ECHO',
      description: 'Answers with its text after a while',
      inputSchema: z.object({ text: z.string(), ms: z.number() }),
      execute: ({ text, ms }, { signal }) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => resolve({ echoed: text }), ms);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(signal.reason);
          });
        }),
    }),
  ],
});

/** One key for every ToolMux here (PostgreSQL needs one shared by the instances of a store). */
const secretKey = randomBytes(32).toString('base64');

const dir = mkdtempSync(join(tmpdir(), 'toolmux-close-calls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stores: Array<[string, () => Promise<{ store: string; cleanup(): Promise<void> }>]> = [
  [
    'an SQLite file',
    async () => ({ store: join(dir, `${Math.random().toString(36).slice(2)}.db`), cleanup: async () => {} }),
  ],
  [
    'PostgreSQL',
    async () => {
      const { url, cleanup } = await createTestPostgresUrl();
      return { store: url, cleanup };
    },
  ],
];

/** The stored log entries of `sessionId`, read by a ToolMux opened afresh on the same store. */
async function storedEntries(store: string, sessionId: string) {
  const reader = new ToolMux({
    toolkits: [slowToolkit, gateToolkit().toolkit],
    store,
    secretKey,
    logger: recordingLogger(),
  });
  try {
    return (await reader.logs.list({ sessionId })).items;
  } finally {
    await reader.close();
  }
}

describe.each(stores)('ToolMux.close() and the tool calls in flight (%s)', (_name, open) => {
  it('lets a call in flight finish: it answers with its result, and its log entry is stored before the store closes', async () => {
    const { store, cleanup } = await open();
    try {
      const logs = recordingLogger();
      const mux = new ToolMux({ toolkits: [slowToolkit], store, secretKey, logger: logs });
      const session = await mux.create('user_1', { toolkits: ['slow'] });
      const calls = [
        session.execute('SLOW_ECHO', { text: 'a', ms: 150 }),
        session.execute('SLOW_ECHO', { text: 'b', ms: 250 }),
      ];
      await new Promise((resolve) => setTimeout(resolve, 30));
      await mux.close();
      const results = await Promise.all(calls);
      expect(results.map((result) => result.data)).toEqual([{ echoed: 'a' }, { echoed: 'b' }]);
      expect(logs.warnings.filter((line) => line.includes('close() stopped'))).toEqual([]);
      // on the old code close() closed the log writer under them: both entries were reported lost
      expect(logs.errors).toEqual([]);
      const entries = await storedEntries(store, session.sessionId);
      expect(entries.map((entry) => entry.id).sort()).toEqual(results.map((result) => result.logId).sort());
      expect(entries.every((entry) => entry.status === 'success')).toBe(true);
    } finally {
      await cleanup();
    }
  });

  it('a second close() while the first one runs resolves only when the first is done (its calls answered, their entries stored)', async () => {
    const { store, cleanup } = await open();
    try {
      const logs = recordingLogger();
      const mux = new ToolMux({ toolkits: [slowToolkit], store, secretKey, logger: logs });
      const session = await mux.create('user_1', { toolkits: ['slow'] });
      let answered = false;
      const call = session.execute('SLOW_ECHO', { text: 'a', ms: 200 }).then((result) => {
        answered = true;
        return result;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const first = mux.close();
      // on the old code the second close() found nothing to close and resolved at once
      await mux.close();
      expect(answered).toBe(true);
      await first;
      const result = await call;
      expect((await storedEntries(store, session.sessionId)).map((entry) => entry.id)).toEqual([
        result.logId,
      ]);
    } finally {
      await cleanup();
    }
  });

  it('stops a call still running after close({ timeoutMs }), also one whose tool ignores its abort signal: it answers TOOL_ABORTED, its entry is stored, and close() resolves', async () => {
    const { store, cleanup } = await open();
    const gate = gateToolkit();
    try {
      const logs = recordingLogger();
      const mux = new ToolMux({ toolkits: [gate.toolkit], store, secretKey, logger: logs });
      const session = await mux.create('user_1', { toolkits: ['gate'] });
      // the gate is never opened before close() ends: only close() can end this call
      const call = session.execute('GATE_WAIT', {});
      await gate.called;
      const started = Date.now();
      await mux.close({ timeoutMs: 200 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      const result = await call;
      expect(result.successful).toBe(false);
      expect(result.code).toBe('TOOL_ABORTED');
      expect(result.error).toContain('its ToolMux was closed');
      expect(result.error).toContain('200 ms');
      expect(logs.errors).toEqual([]);
      // the operator is told
      expect(logs.warnings.filter((line) => line.includes('close() stopped'))).toEqual([
        expect.stringContaining('stopped 1 tool call still running after 200 ms'),
      ]);
      const entries = await storedEntries(store, session.sessionId);
      expect(entries.map((entry) => [entry.id, entry.errorCode])).toEqual([[result.logId, 'TOOL_ABORTED']]);
    } finally {
      gate.release();
      await cleanup();
    }
  }, 15_000);

  it('answers what a session of the closed ToolMux asks of the store with TOOLMUX_CLOSED, not STORE_ERROR', async () => {
    const { store, cleanup } = await open();
    try {
      const mux = new ToolMux({ toolkits: [slowToolkit], store, secretKey, logger: recordingLogger() });
      const session = await mux.create('user_1', { toolkits: ['slow'] });
      await mux.close();
      const asks: Array<[string, () => Promise<unknown>]> = [
        ['logs', () => session.logs()],
        ['update', () => session.update({ metadata: { team: 'a' } })],
        ['delete', () => session.delete()],
      ];
      for (const [name, ask] of asks) {
        // on the old code: STORE_ERROR, "the database error is attached as the cause" (a 5xx for a server)
        const refused = await ask().then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(ToolMuxError.isInstance(refused) && refused.code, name).toBe('TOOLMUX_CLOSED');
        expect((refused as Error).message, name).toContain('new ToolMux');
      }
    } finally {
      await cleanup();
    }
  });

  it('refuses a call asked of a session of the closed ToolMux with TOOLMUX_CLOSED: the tool does not run', async () => {
    const { store, cleanup } = await open();
    try {
      let ran = 0;
      const counted = defineToolkit({
        slug: 'counted',
        description: 'Counts its runs',
        tools: [
          defineTool({
            slug: 'COUNTED_RUN',
            description: 'Counts',
            inputSchema: z.object({}),
            execute: async () => ({ run: ++ran }),
          }),
        ],
      });
      const logs = recordingLogger();
      const mux = new ToolMux({ toolkits: [counted], store, secretKey, logger: logs });
      const session = await mux.create('user_1', { toolkits: ['counted'] });
      expect((await session.execute('COUNTED_RUN', {})).successful).toBe(true);
      await mux.close();
      for (const slug of ['COUNTED_RUN', 'NOT_A_TOOL']) {
        const refused = await session.execute(slug, {}).then(
          () => undefined,
          (error: unknown) => error,
        );
        // on the old code the tool ran after close(), and its entry went to the closed log writer
        expect(ToolMuxError.isInstance(refused) && refused.code).toBe('TOOLMUX_CLOSED');
        expect((refused as Error).message).toContain(slug);
        expect((refused as Error).message).toContain(session.sessionId);
      }
      expect(ran).toBe(1);
      expect(logs.errors).toEqual([]);
      // the session itself is kept: an open ToolMux takes it up
      const reopened = new ToolMux({ toolkits: [counted], store, secretKey, logger: logs });
      const again = await reopened.use(session.sessionId);
      expect((await again.execute('COUNTED_RUN', {})).data).toEqual({ run: 2 });
      await reopened.close();
    } finally {
      await cleanup();
    }
  });
});

it('close({ timeoutMs }) refuses a timeout that is not a number of milliseconds ≥ 0, naming the value', async () => {
  const mux = new ToolMux({ toolkits: [slowToolkit], store: ':memory:', logger: recordingLogger() });
  for (const timeoutMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, '10' as unknown as number]) {
    const error = await mux.close({ timeoutMs }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(ToolMuxError.isInstance(error) && error.code).toBe('INVALID_REQUEST');
    expect((error as Error).message).toContain(String(timeoutMs));
  }
  await mux.close();
});

it('`await using` closes the ToolMux when its block ends, also when the block throws: its calls answered and their entries stored first', async () => {
  const store = join(dir, 'await-using.db');
  let closed: ToolMux | undefined;
  let sessionId = '';
  let answered: Promise<unknown> | undefined;
  const thrown = await (async () => {
    await using mux = new ToolMux({ toolkits: [slowToolkit], store, secretKey, logger: recordingLogger() });
    closed = mux;
    const session = await mux.create('user_1', { toolkits: ['slow'] });
    sessionId = session.sessionId;
    // still running when the block ends: disposing waits for it, as close() does
    answered = session.execute('SLOW_ECHO', { text: 'in flight', ms: 50 });
    throw new Error('the block fails');
  })().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect((thrown as Error).message).toBe('the block fails');
  expect(await answered).toMatchObject({ successful: true, data: { echoed: 'in flight' } });
  const refused = await closed!.create('user_2').then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(ToolMuxError.isInstance(refused) && refused.code).toBe('TOOLMUX_CLOSED');
  expect((await storedEntries(store, sessionId)).map((entry) => entry.toolSlug)).toEqual(['SLOW_ECHO']);
});

it('a closed ToolMux opens no store again: create, use and the lists answer TOOLMUX_CLOSED, also on a ToolMux closed before its first use', async () => {
  const store = join(dir, 'closed-stays-closed.db');
  const used = new ToolMux({ toolkits: [slowToolkit], store, secretKey, logger: recordingLogger() });
  const { sessionId } = await used.create('user_1', { toolkits: ['slow'] });
  await used.close();
  const unused = new ToolMux({ toolkits: [slowToolkit], store, secretKey, logger: recordingLogger() });
  await unused.close();
  for (const mux of [used, unused]) {
    const attempts: Array<() => Promise<unknown>> = [
      () => mux.create('user_2'),
      () => mux.use(sessionId),
      () => mux.sessions.list({ userId: 'user_1' }),
      () => mux.logs.list({ sessionId }),
    ];
    for (const attempt of attempts) {
      // on the old code each of these opened the store anew (its file, its log writer), never to be closed
      const refused = await attempt().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(ToolMuxError.isInstance(refused) && refused.code).toBe('TOOLMUX_CLOSED');
      expect((refused as Error).message).toContain('new ToolMux');
    }
    await mux.close(); // closing again is fine
  }
  // what the closed ToolMux kept in the store, a new one takes up
  const reopened = new ToolMux({ toolkits: [slowToolkit], store, secretKey, logger: recordingLogger() });
  expect((await reopened.use(sessionId)).sessionId).toBe(sessionId);
  await reopened.close();
});
