import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExecutionLog, ToolMux } from '@toolmux/core';
import { openToolMuxStore } from '@toolmux/core/internal';
import { untilTestTimeout } from '@toolmux/core/test';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createServer } from '../server.js';
import { SessionCache } from '../session-cache.js';
import { createTestServer, recordingLogger, TEST_API_KEY, testStoreBackends } from '../test-helpers.js';

/**
 * `GET /sessions/:id/logs` does not resume the session: it only needs to know that the session
 * exists (SessionCache.checkReadable), which is read from the store once per TTL and renewed in the
 * background before the TTL is over, so a steady reader never waits for it. A deletion through this
 * server shows at once, one made elsewhere after at most the TTL.
 */
afterEach(() => {
  vi.useRealTimers();
});

const TTL = 60_000;

async function setup() {
  // the cache's clock is Date: frozen here and moved by hand (timers and I/O stay real)
  vi.useFakeTimers({ toFake: ['Date'] });
  const { mux, server } = createTestServer({ sessionCacheTtlMs: TTL });
  const session = await mux.create('user_log_reads', { toolkits: ['tasks'] });
  await session.execute('TASKS_LIST_TASKS', {});
  const call = async (method: string, path: string) => {
    const response = await server.fetch(
      new Request(`http://localhost/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      }),
    );
    return { status: response.status, json: (await response.json()) as any };
  };
  const logs = () => call('GET', `/sessions/${session.sessionId}/logs`);
  return { mux, session, call, logs };
}

describe('reading a session log', () => {
  it('answers an unknown session or a malformed id as a route that resumes the session does', async () => {
    const { mux, call } = await setup();
    const unknown = await call('GET', '/sessions/ses_01KBF2Y0D8AQW4ZJ6T9E3N5RMV/logs');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('SESSION_NOT_FOUND');
    // the same answer as a route that resumes the session
    const resumed = await call('GET', '/sessions/ses_01KBF2Y0D8AQW4ZJ6T9E3N5RMV/toolkits');
    expect(unknown.json).toEqual(resumed.json);
    for (const id of ['ses_%E2%82%AC', 'nope', 'ses_x']) {
      const malformed = await call('GET', `/sessions/${id}/logs`);
      expect(malformed.status).toBeGreaterThanOrEqual(400);
      expect(malformed).toEqual(await call('GET', `/sessions/${id}/toolkits`));
    }
    await mux.close();
  });

  it("shows this server's own deletion at once", async () => {
    const { mux, session, call, logs } = await setup();
    expect((await logs()).json.items).toHaveLength(1);
    expect((await call('DELETE', `/sessions/${session.sessionId}`)).status).toBe(200);
    const after = await logs();
    expect(after.status).toBe(404);
    expect(after.json.error.code).toBe('SESSION_NOT_FOUND');
    await mux.close();
  });

  it('says of a deleted session that its log stays, and where to read it, as session.logs() does', async () => {
    const { mux, session, call, logs } = await setup();
    const id = session.sessionId;
    expect((await call('DELETE', `/sessions/${id}`)).status).toBe(200);
    const after = await logs();
    expect(after.status).toBe(404);
    expect(after.json.error).toMatchObject({
      code: 'SESSION_NOT_FOUND',
      message: `Session "${id}" was deleted; its execution log stays: read it with GET /api/v1/logs?session_id=${id}.`,
    });
    // where it points: the entry of the call the session made
    const project = await call('GET', `/logs?session_id=${id}`);
    expect(project.json.items.map((entry: { tool_slug: string }) => entry.tool_slug)).toEqual([
      'TASKS_LIST_TASKS',
    ]);
    // the session object says the same, in the SDK's words
    const error = await session.logs().then(
      () => undefined,
      (caught: unknown) => caught as Error & { code: string },
    );
    expect(error?.code).toBe('SESSION_NOT_FOUND');
    expect(error?.message).toBe(
      `Session "${id}" was deleted; its execution log stays: read it with logs.list({ sessionId: "${id}" }).`,
    );
    // a session id that never named a session, and one deleted before anything of it was logged,
    // have no log to point to
    const never = await call('GET', '/sessions/ses_01KBF2Y0D8AQW4ZJ6T9E3N5RMV/logs');
    expect(never.status).toBe(404);
    expect(never.json.error.message).toContain('Create one with POST /api/v1/sessions');
    const unused = await mux.create('user_log_reads', { toolkits: ['tasks'] });
    expect((await call('DELETE', `/sessions/${unused.sessionId}`)).status).toBe(200);
    const empty = await call('GET', `/sessions/${unused.sessionId}/logs`);
    expect(empty.status).toBe(404);
    expect(empty.json.error.message).toContain('Create one with POST /api/v1/sessions');
    await mux.close();
  });

  it('shows a deletion made elsewhere after at most the TTL', async () => {
    const { mux, session, logs } = await setup();
    expect((await logs()).status).toBe(200);
    // another instance (here: the engine directly) deletes the session
    await mux.sessions.delete(session.sessionId);
    vi.setSystemTime(Date.now() + TTL / 4);
    expect((await logs()).status).toBe(200); // within the TTL, before any renewal: known to exist
    vi.setSystemTime(Date.now() + TTL);
    expect((await logs()).status).toBe(404);
    await mux.close();
  });

  it('renews a read session in the background before its TTL is over', async () => {
    const { mux, session, logs } = await setup();
    expect((await logs()).status).toBe(200);
    await mux.sessions.delete(session.sessionId);
    // past the renewal point (at most 3/4 of the TTL), before the TTL: this read does not wait for
    // the store, and starts the renewal, which finds the session gone
    vi.setSystemTime(Date.now() + (TTL * 3) / 4 + 1);
    expect((await logs()).status).toBe(200);
    await expect.poll(async () => (await logs()).status, untilTestTimeout()).toBe(404);
    await mux.close();
  });
});

describe('SessionCache.checkReadable', () => {
  it('reads the store once for concurrent first reads, and not at all within the TTL', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const mux = new ToolMux({ toolkits: [], store: ':memory:' });
    const session = await mux.create('user_cache_reads', { toolkits: [] });
    const cache = new SessionCache({ toolmux: mux, ttlMs: TTL });
    const store = await openToolMuxStore(mux);
    let lookups = 0;
    const read = store.getSessionTokenHash.bind(store);
    store.getSessionTokenHash = (id: string) => {
      lookups++;
      return read(id);
    };
    await Promise.all(Array.from({ length: 10 }, () => cache.checkReadable(session.sessionId)));
    expect(lookups).toBe(1);
    vi.setSystemTime(Date.now() + TTL / 2 - 1);
    await cache.checkReadable(session.sessionId);
    expect(lookups).toBe(1);
    // invalidate() forgets it: the next read asks the store again
    cache.invalidate(session.sessionId);
    await cache.checkReadable(session.sessionId);
    expect(lookups).toBe(2);
    await mux.close();
  });

  it('with a TTL of 0 reads the store every time', async () => {
    const mux = new ToolMux({ toolkits: [], store: ':memory:' });
    const session = await mux.create('user_cache_reads', { toolkits: [] });
    const cache = new SessionCache({ toolmux: mux, ttlMs: 0 });
    await cache.checkReadable(session.sessionId);
    await mux.sessions.delete(session.sessionId);
    await expect(cache.checkReadable(session.sessionId)).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    await mux.close();
  });
});

/**
 * The API contract, byte for byte: a page is the JSON text of `{ items, next_cursor }` with each
 * entry's fields in the documented order, whichever way the server reads and writes it (a page of
 * short entries is written at once, a large one a slice at a time; PostgreSQL reads entries packed).
 */
const directory = mkdtempSync(join(tmpdir(), 'toolmux-log-reads-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** The documented wire form of an entry, written out here independently of the server's code. */
function wire(log: ExecutionLog) {
  return {
    id: log.id,
    session_id: log.sessionId,
    user_id: log.userId,
    tool_slug: log.toolSlug,
    toolkit: log.toolkit,
    connected_account_id: log.connectedAccountId,
    call_id: log.callId,
    status: log.status,
    error_code: log.errorCode,
    error_message: log.errorMessage,
    duration_ms: log.durationMs,
    input: log.input,
    output: log.output,
    created_at: log.createdAt.toISOString(),
    parent_id: log.parentId ?? null,
  };
}

const stores = await testStoreBackends(directory);

for (const backend of stores) {
  describe.skipIf(backend.skip !== undefined)(`GET /sessions/:id/logs on ${backend.name}`, () => {
    it('answers the JSON text of the documented page, byte for byte, for short and long entries', async () => {
      const { spec, cleanup } = await backend.store();
      const mux = new ToolMux({
        toolkits: [],
        store: spec,
        secretKey: randomBytes(32).toString('base64'),
        logger: recordingLogger(),
      });
      try {
        const server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger: recordingLogger() });
        const session = await mux.create('user_wire', { toolkits: [] });
        const text = 'quote " backslash \\ newline \n tab \t bell \u0007 ls \u2028 é 😀';
        const store = await openToolMuxStore(mux);
        const base = Date.parse('2026-12-02T10:11:03.954Z');
        await store.insertLogs(
          Array.from({ length: 120 }, (_, index) => ({
            id: `log_${String(index + 1).padStart(38, '0')}`,
            sessionId: session.sessionId,
            userId: 'user_wire',
            toolSlug: 'ECHO_ECHO',
            toolkit: 'echo',
            connectedAccountId: index % 3 === 0 ? null : `ca_${index}`,
            callId: index % 4 === 0 ? null : `call_${index}`,
            status: index % 5 === 0 ? ('error' as const) : ('success' as const),
            errorCode: index % 5 === 0 ? 'TOOL_FAILED' : null,
            errorMessage: index % 5 === 0 ? text : null,
            durationMs: index === 7 ? 1e-7 : index === 8 ? 1e21 : index / 7,
            input: index % 2 === 0 ? '{"text":"hello"}' : JSON.stringify({ text }),
            // entries 60-79 are long: their page is written a slice at a time
            output: index >= 60 && index < 80 ? JSON.stringify({ text: text.repeat(200) }) : '{"ok":true}',
            createdAt: new Date(base + index * 7_777),
            parentId: index % 6 === 0 ? null : `log_${String(index).padStart(38, '0')}`,
          })),
        );
        for (const limit of [50, 7, 1000]) {
          let cursor: string | undefined;
          do {
            const response = await server.fetch(
              new Request(
                `http://localhost/api/v1/sessions/${session.sessionId}/logs?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
                { headers: { authorization: `Bearer ${TEST_API_KEY}` } },
              ),
            );
            expect(response.status).toBe(200);
            const expected = await mux.logs.list({ sessionId: session.sessionId, limit, cursor });
            expect(await response.text()).toBe(
              JSON.stringify({ items: expected.items.map(wire), next_cursor: expected.nextCursor ?? null }),
            );
            cursor = expected.nextCursor;
          } while (cursor !== undefined);
        }
      } finally {
        await mux.close();
        await cleanup();
      }
    });
  });
}
