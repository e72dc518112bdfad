import { ToolMux } from '@toolmux/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionCache } from '../session-cache.js';
import { createTestServer, TEST_API_KEY } from '../test-helpers.js';

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
    await expect.poll(async () => (await logs()).status).toBe(404);
    await mux.close();
  });
});

describe('SessionCache.checkReadable', () => {
  it('reads the store once for concurrent first reads, and not at all within the TTL', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const mux = new ToolMux({ toolkits: [], store: ':memory:' });
    const session = await mux.create('user_cache_reads', { toolkits: [] });
    const cache = new SessionCache({ toolmux: mux, ttlMs: TTL });
    const { openToolMuxStore } = await import('@toolmux/core/internal');
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
