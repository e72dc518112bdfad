import perfHooks from 'node:perf_hooks';
import { ToolMux } from '@toolmux/core';
import { muxListenerCounts } from '@toolmux/core/internal';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer } from './server.js';
import { SessionCache } from './session-cache.js';
import { TEST_API_KEY } from './test-helpers.js';

/**
 * Servers created and closed one after another on one ToolMux (tests, a server per tenant, hot
 * restarts) leave nothing behind on it or on the process. On the code before, each server created
 * left on the ToolMux a tool-call listener (holding its metrics) and a session-update listener
 * (holding its session cache and the sessions in it, which closed servers went on invalidating), and
 * on the process a GC observer and an event loop delay monitor of its process metrics.
 */

const opened: ToolMux[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((mux) => mux.close()));
});

function muxInMemory(): ToolMux {
  const mux = new ToolMux({ toolkits: [], store: ':memory:' });
  opened.push(mux);
  return mux;
}

const NONE = { toolCalls: 0, sessionUpdates: 0 };

async function call(url: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('servers created and closed on one ToolMux', () => {
  it('leave no listener on it: each holds its two while it serves, none once closed', async () => {
    const mux = muxInMemory();
    const { sessionId } = await mux.create('user_release', {});
    for (let round = 0; round < 12; round++) {
      // a long TTL: the sessions the server resumes would stay in its cache for a minute
      const server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, sessionCacheTtlMs: 60_000 });
      const running = await server.serve({ port: 0 });
      // a session-scoped read (resumes the session into the cache) and a tool call (metrics)
      expect((await call(running.url, 'GET', `/sessions/${sessionId}/tools`)).status).toBe(200);
      const executed = await call(running.url, 'POST', `/sessions/${sessionId}/execute`, {
        tool_slug: 'TOOLMUX_SEARCH_TOOLS',
        arguments: { queries: [{ use_case: 'send an email' }] },
      });
      expect(executed.status).toBe(200);
      expect(muxListenerCounts(mux)).toEqual({ toolCalls: 1, sessionUpdates: 1 });
      await running.close();
      // on the code before: `round + 1` of each
      expect(muxListenerCounts(mux)).toEqual(NONE);
    }
  });

  it('two servers serving at once: the listeners go when the last closes', async () => {
    const mux = muxInMemory();
    const { sessionId } = await mux.create('user_two', {});
    const first = await createServer({ toolmux: mux, apiKey: TEST_API_KEY }).serve({ port: 0 });
    const second = await createServer({ toolmux: mux, apiKey: TEST_API_KEY }).serve({ port: 0 });
    for (const running of [first, second]) {
      expect((await call(running.url, 'GET', `/sessions/${sessionId}/tools`)).status).toBe(200);
    }
    expect(muxListenerCounts(mux)).toEqual({ toolCalls: 2, sessionUpdates: 2 });
    await first.close();
    expect(muxListenerCounts(mux)).toEqual({ toolCalls: 1, sessionUpdates: 1 });
    await second.close();
    expect(muxListenerCounts(mux)).toEqual(NONE);
  });

  it('add one event loop delay monitor to the process, and every server still serves the process metrics', async () => {
    const mux = muxInMemory();
    // Node's own monitorEventLoopDelay, counted: prom-client's process metrics start one (a 10 ms
    // timer) and a GC observer each time they are made, and nothing stops them
    const monitors = vi.spyOn(perfHooks, 'monitorEventLoopDelay');
    try {
      for (let round = 0; round < 5; round++) {
        const running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY }).serve({ port: 0 });
        const scraped = await fetch(`${running.url}/metrics`);
        expect(scraped.status).toBe(200);
        const text = await scraped.text();
        for (const name of [
          'process_resident_memory_bytes',
          'nodejs_eventloop_lag_p99_seconds',
          'nodejs_gc_duration_seconds',
          'toolmux_tool_calls_total',
        ]) {
          expect(text).toContain(`# TYPE ${name} `);
        }
        await running.close();
      }
      // once for the process, or not at all when a server of an earlier test file made them; on
      // the code before, once per server
      expect(monitors.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      monitors.mockRestore();
    }
  });
});

describe('SessionCache', () => {
  it('listens to the ToolMux only while it holds something, and still follows updates after', async () => {
    const mux = muxInMemory();
    const { sessionId } = await mux.create('user_cache', {});
    const cache = new SessionCache({ toolmux: mux, ttlMs: 40 });
    // never asked for a session: it never listens (on the code before, from its creation on)
    expect(muxListenerCounts(mux).sessionUpdates).toBe(0);
    const first = await cache.get(sessionId);
    expect(muxListenerCounts(mux).sessionUpdates).toBe(1);
    // the sweep drops the expired entry, and the listener with it
    await vi.waitFor(() => expect(cache.size).toEqual({ sessions: 0, readable: 0 }), { timeout: 2_000 });
    expect(muxListenerCounts(mux).sessionUpdates).toBe(0);

    // asked again, it listens again: an update in this process drops the entry at once
    const long = new SessionCache({ toolmux: mux, ttlMs: 60_000 });
    const resumed = await long.get(sessionId);
    expect(resumed).not.toBe(first);
    expect(await long.get(sessionId)).toBe(resumed);
    await (await mux.use(sessionId)).update({ manageConnections: false });
    const updated = await long.get(sessionId);
    expect(updated).not.toBe(resumed);
    expect(updated.session.config).toMatchObject({ manageConnections: false });

    // an unknown id leaves nothing behind, the listener included
    long.clear();
    expect(muxListenerCounts(mux).sessionUpdates).toBe(0);
    await expect(long.get('ses_01AAAAAAAAAAAAAAAAAAAAAAAA')).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    await expect(long.checkReadable('ses_01AAAAAAAAAAAAAAAAAAAAAAAA')).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    expect(muxListenerCounts(mux).sessionUpdates).toBe(0);
    await long.checkReadable(sessionId);
    expect(muxListenerCounts(mux).sessionUpdates).toBe(1);
    long.clear();
    expect(muxListenerCounts(mux).sessionUpdates).toBe(0);
  });
});
