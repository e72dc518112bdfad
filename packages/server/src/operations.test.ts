import { Agent, get as httpGet } from 'node:http';
import { type Logger, type Store, ToolMux, ToolMuxError } from '@toolmux/core';
import { openToolMuxStore } from '@toolmux/core/internal';
import { createSampleToolkits } from '@toolmux/core/test';
import { Hono } from 'hono';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { ServerMetrics } from './metrics.js';
import type { ServerLogger } from './request-log.js';
import { createServer } from './server.js';
import { createTestServer, restCaller, TEST_API_KEY } from './test-helpers.js';

const BASE = 'http://localhost:8787';
const SECRET_KEY = Buffer.alloc(32, 7).toString('base64');

/** A logger that keeps every line with its fields. */
function linesLogger() {
  const lines: Array<{ level: string; message: string; data?: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (message: string, data?: Record<string, unknown>): void => {
      lines.push({ level, message, data });
    };
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

const opened: ToolMux[] = [];
afterEach(async () => {
  for (const mux of opened.splice(0).reverse()) await mux.close();
});

/** A server over an in-memory store whose methods the test can make fail. */
async function setup(
  failures: {
    ping?: () => Promise<void>;
    listSessions?: boolean;
    getSession?: boolean;
    /** What the store's listSessions throws (a store of the application's can throw anything). */
    listSessionsThrows?: () => unknown;
  } = {},
  baseUrl = BASE,
) {
  const sample = createSampleToolkits();
  const base = new ToolMux({ store: ':memory:', toolkits: [] });
  opened.push(base);
  const real = await openToolMuxStore(base);
  const store = new Proxy(real, {
    get(target, property, receiver) {
      if (property === 'close') return async () => {};
      if (property === 'ping' && failures.ping) return failures.ping;
      const { listSessionsThrows } = failures;
      if (property === 'listSessions' && listSessionsThrows) {
        return async () => {
          throw listSessionsThrows();
        };
      }
      if (
        (property === 'listSessions' && failures.listSessions) ||
        ((property === 'getSession' || property === 'getSessionToken') && failures.getSession)
      ) {
        return async () => {
          throw new ToolMuxError({
            code: 'STORE_ERROR',
            message:
              'The postgres store failed to list sessions. The database error is attached as the cause.',
            cause: Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }),
          });
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Store;
  const mux = new ToolMux({
    store,
    toolkits: sample.toolkits,
    baseUrl,
    logger: quiet,
    secretKey: SECRET_KEY,
  });
  opened.push(mux);
  const { lines, logger } = linesLogger();
  const server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger });
  const call = (method: string, path: string, headers: Record<string, string> = {}) =>
    server.fetch(
      new Request(`${BASE}${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_API_KEY}`, ...headers },
      }),
    );
  return { server, lines, call, mux };
}

const quiet: Logger = { debug() {}, warn() {}, error() {} };

describe('logging', () => {
  it('logs a ToolMuxError 5xx (STORE_ERROR) with its cause, and the request line carries the id', async () => {
    const { call, lines } = await setup({ listSessions: true });
    const response = await call('GET', '/api/v1/sessions', { 'x-request-id': 'req-store-1' });
    expect(response.status).toBe(500);
    expect(response.headers.get('x-request-id')).toBe('req-store-1');
    const body = await response.json();
    expect(body.error.code).toBe('STORE_ERROR');
    expect(JSON.stringify(body)).not.toContain('Connection terminated'); // the cause stays in the log
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line!.level).toBe('error');
    expect(line!.message).toContain('GET /api/v1/sessions 500');
    expect(line!.message).toContain('(request req-store-1)');
    expect(line!.message).toContain('STORE_ERROR');
    expect(line!.message).toContain('Connection terminated unexpectedly');
    expect(line!.data).toMatchObject({
      req_id: 'req-store-1',
      method: 'GET',
      route: '/api/v1/sessions',
      status: 500,
      error: {
        code: 'STORE_ERROR',
        cause: { message: 'Connection terminated unexpectedly', code: 'ECONNRESET' },
      },
    });
  });

  it('logs a fault whose error is hostile (getters that throw, a proxy, a huge name) with each field cut, and answers 500', async () => {
    const throwing = () => {
      throw new Error('read me not');
    };
    const hostileCause = new Proxy(
      {},
      {
        getPrototypeOf: throwing,
        get: throwing,
        ownKeys: throwing,
        getOwnPropertyDescriptor: throwing,
      },
    );
    const hostile = () => {
      const error = new Error('the store failed');
      Object.defineProperty(error, 'name', { get: throwing });
      Object.defineProperty(error, 'code', { get: throwing });
      Object.defineProperty(error, 'stack', { get: throwing });
      Object.defineProperty(error, 'cause', { value: hostileCause });
      return error;
    };
    const huge = () => {
      const error = new Error('the store failed');
      error.name = 'N'.repeat(1_000_000);
      Object.assign(error, { code: 'C'.repeat(1_000_000), cause: { message: 'x'.repeat(1_000_000) } });
      return error;
    };
    for (const [label, thrown] of [
      ['getters that throw', hostile],
      ['a huge name and code', huge],
    ] as const) {
      const { call, lines } = await setup({ listSessionsThrows: thrown });
      const response = await call('GET', '/api/v1/sessions');
      expect(response.status, label).toBe(500);
      const errors = lines.filter((line) => line.level === 'error');
      expect(errors, label).toHaveLength(1);
      expect(errors[0]!.message, label).toContain('GET /api/v1/sessions 500');
      const fields = errors[0]!.data?.error as Record<string, unknown>;
      expect(String(fields.message), label).toContain('the store failed');
      // every field cut: the line is a few KB, not megabytes
      expect(JSON.stringify(errors[0]!.data).length, label).toBeLessThan(40_000);
      expect(errors[0]!.message.length, label).toBeLessThan(40_000);
    }
  });

  it('logs the MCP endpoint’s 5xx with its cause too', async () => {
    const { server, lines } = await setup({ getSession: true });
    const response = await server.fetch(
      new Request(`${BASE}/mcp/ses_1`, {
        method: 'POST',
        headers: {
          // a token of the right form: the endpoint reads the session's token before anything else
          authorization: `Bearer tmx_st_${'x'.repeat(43)}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      }),
    );
    expect(response.status).toBe(500);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('error');
    expect(lines[0]!.message).toContain('POST /mcp/:sessionId 500');
    expect(lines[0]!.message).toContain('Connection terminated unexpectedly');
  });

  it('writes one info line per answered request, never its path ids, headers or body', async () => {
    const { call, lines } = await setup();
    const response = await call('GET', '/api/v1/sessions/ses_secretish');
    expect(response.status).toBe(404);
    expect(lines).toEqual([
      {
        level: 'info',
        message: expect.stringMatching(/^GET \/api\/v1\/sessions\/:sessionId 404 [\d.]+ms$/),
        data: {
          req_id: response.headers.get('x-request-id'),
          method: 'GET',
          route: '/api/v1/sessions/:sessionId',
          status: 404,
          duration_ms: expect.any(Number),
        },
      },
    ]);
    expect(JSON.stringify(lines)).not.toContain(TEST_API_KEY);
    expect(JSON.stringify(lines)).not.toContain('ses_secretish');
  });

  it("takes core's Logger and console as they are", () => {
    expectTypeOf<Logger>().toExtend<ServerLogger>();
    expectTypeOf<Console>().toExtend<ServerLogger>();
  });
});

describe('/readyz', () => {
  it('is 503 with the cause in the log when the store does not answer, 200 again when it does', async () => {
    let down = true;
    const { call, lines } = await setup({
      ping: async () => {
        if (down)
          throw new ToolMuxError({
            code: 'STORE_ERROR',
            message: 'ping failed',
            cause: new Error('ECONNREFUSED'),
          });
      },
    });
    const unready = await call('GET', '/readyz', { authorization: '' });
    expect(unready.status).toBe(503);
    expect(await unready.json()).toEqual({
      status: 'unavailable',
      message: 'The store does not answer; the log has the cause.',
    });
    expect(lines.at(-1)).toMatchObject({ level: 'error', data: { route: '/readyz', status: 503 } });
    expect(lines.at(-1)!.message).toContain('ECONNREFUSED');
    down = false;
    expect((await call('GET', '/readyz')).status).toBe(200);
    expect((await call('GET', '/healthz')).status).toBe(200);
  });

  it('is 503 "draining" while the server shuts down, logged as a warning: an error line is always a fault', async () => {
    const { server, lines } = await setup();
    const running = await server.serve({ port: 0 });
    const closing = running.close({ timeoutMs: 5_000 });
    const answer = await server.fetch(new Request(`${BASE}/readyz`));
    expect(answer.status).toBe(503);
    expect(await answer.json()).toEqual({ status: 'draining' });
    await closing;
    const line = lines.find((entry) => entry.data?.route === '/readyz');
    expect(line).toMatchObject({ level: 'warn', data: { status: 503 } });
    expect(line!.message).toContain('shutting down');
    expect(lines.filter((entry) => entry.level === 'error')).toEqual([]);
  });
});

describe('serve()', () => {
  it('has the router compiled before it listens, so the first request does not wait for it; mounting still works', async () => {
    const { server } = await setup();
    // Hono's router is compiled by the first match: until then it has no active router
    expect(() => (server.app.router as unknown as { activeRouter: unknown }).activeRouter).toThrow();
    const running = await server.serve({ port: 0 });
    try {
      expect((server.app.router as unknown as { activeRouter: { name: string } }).activeRouter.name).toMatch(
        /Router$/,
      );
      const response = await fetch(`${running.url}/healthz`);
      expect(response.status).toBe(200);
      // another app that mounts this one copies its routes into its own router
      const outer = new Hono();
      outer.route('/', server.app);
      expect((await outer.fetch(new Request(`${BASE}/healthz`))).status).toBe(200);
    } finally {
      await running.close();
    }
  });

  it('`await using` closes the server when its block ends: nothing listens on its port any more', async () => {
    const { server } = await setup();
    let url = '';
    {
      await using running = await server.serve({ port: 0 });
      url = running.url;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
    // closed: nothing listens on the port any more
    const refused = await fetch(`${url}/healthz`).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect((refused as Error & { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
  });
});

describe('close()', () => {
  /** GET over one kept-alive socket: status, `Connection` header, and whether the server then closed it. */
  function get(
    agent: Agent,
    url: string,
  ): Promise<{ status: number; connection: string | undefined; socketClosed: Promise<void> }> {
    return new Promise((resolve, reject) => {
      const request = httpGet(url, { agent }, (response) => {
        response.resume();
        const socketClosed = new Promise<void>((closed) => response.socket.once('close', () => closed()));
        response.once('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            connection: response.headers.connection,
            socketClosed,
          }),
        );
      });
      request.once('error', reject);
    });
  }

  it('answers requests in flight with Connection: close, so keep-alive clients do not reuse a socket it is about to close', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let pinged: () => void = () => {};
    const pinging = new Promise<void>((resolve) => {
      pinged = resolve;
    });
    const { server } = await setup({
      ping: async () => {
        pinged();
        await held;
      },
    });
    const running = await server.serve({ port: 0 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // before shutdown the socket is kept alive
      const before = await get(agent, `${running.url}/healthz`);
      expect(before.connection).toBe('keep-alive');
      // a request in flight (its store ping held) on that socket when shutdown begins
      const inFlight = get(agent, `${running.url}/readyz`);
      await pinging;
      const closed = running.close({ timeoutMs: 5_000 });
      release();
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      // told that the socket closes after it: on the old code "keep-alive", and the server closed the
      // socket ~50 ms later, under the client's next request (ECONNRESET for a POST it cannot retry)
      expect(answer.connection).toBe('close');
      await answer.socketClosed;
      await closed;
    } finally {
      agent.destroy();
      release();
    }
  });
});

describe('methods', () => {
  it('answers 405 with Allow on known routes for any other method, 404 on unknown paths', async () => {
    const { call } = await setup();
    for (const method of ['OPTIONS', 'PUT', 'PATCH']) {
      const response = await call(method, '/api/v1/toolkits');
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
    }
    const connect = await call('PUT', '/connect/cr_1');
    expect(connect.headers.get('allow')).toBe('GET, HEAD, POST');
    expect((await call('PUT', '/api/v1/unknown')).status).toBe(404);
    expect((await call('GET', '/api/v1/toolkits/github/extra')).status).toBe(404);
  });
});

describe('the OAuth callback error page', () => {
  it('has the connect pages’ CSP, frame and nosniff headers', async () => {
    const { call } = await setup();
    const response = await call('GET', '/auth/callback?state=forged&code=x');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });
});

describe('a baseUrl with a path (a proxy that serves toolmux under /toolmux and strips it)', () => {
  it('answers the OAuth callback at the path the proxy forwards, as it answers MCP and the connect pages', async () => {
    const { call, mux, lines } = await setup({}, `${BASE}/toolmux`);
    expect(mux.oauthRedirectUri).toBe(`${BASE}/toolmux/auth/callback`);
    const session = await mux.create('user_prefix', { toolkits: ['tasks'] });
    // MCP and connect pages are answered at the stripped path: the session's MCP URL, less /toolmux
    expect(session.mcp.url).toBe(`${BASE}/toolmux/mcp/${session.sessionId}`);
    expect((await call('POST', `/mcp/${session.sessionId}`)).status).not.toBe(404);
    // so must the callback be: on the old code only /toolmux/auth/callback was routed (404 here),
    // which the proxy never forwards
    const callback = await call('GET', '/auth/callback?state=forged&code=x');
    expect(callback.status).toBe(400);
    expect(callback.headers.get('content-type')).toContain('text/html');
    expect(lines.at(-1)?.data).toMatchObject({ route: '/auth/callback', status: 400 });
    // the full path still answers (a proxy that forwards it as it is)
    expect((await call('GET', '/toolmux/auth/callback?state=forged&code=x')).status).toBe(400);
  });
});

describe('toolmux_tool_calls_total', () => {
  it('counts every call the log holds once: a workbench cell and its calls, a multi-execute and its calls, a direct execute, an MCP tools/call', async () => {
    const { mux, server } = createTestServer();
    opened.push(mux);
    const rest = restCaller(server.app);
    const session = await mux.create('user_metrics', { toolkits: ['tasks'], workbench: {} });
    const execute = async (slug: string, args: Record<string, unknown>) => {
      const answer = await rest('POST', `/sessions/${session.sessionId}/execute`, {
        tool_slug: slug,
        arguments: args,
      });
      expect(answer.status, JSON.stringify(answer.json)).toBe(200);
      expect(answer.json.successful, JSON.stringify(answer.json)).toBe(true);
    };
    // a cell of five calls (their entries are held and written together with the cell's)
    await execute('TOOLMUX_WORKBENCH', {
      code: "for (let i = 0; i < 5; i++) await toolmux.execute('TASKS_CREATE_TASK', { title: 't' + i }); return 1",
    });
    await execute('TOOLMUX_MULTI_EXECUTE_TOOL', {
      tools: [
        { tool_slug: 'TASKS_LIST_TASKS', arguments: {} },
        { tool_slug: 'TASKS_LIST_TASKS', arguments: {} },
      ],
    });
    await execute('TASKS_LIST_TASKS', {});
    const mcp = await server.app.request(`/mcp/${session.sessionId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...session.mcp.headers,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'TASKS_LIST_TASKS', arguments: {} },
      }),
    });
    const mcpText = await mcp.text();
    expect(mcp.status, mcpText).toBe(200);
    expect(mcpText).toContain('"result"');

    const { items } = await session.logs({ limit: 100 });
    const expected = new Map<string, number>();
    for (const item of items) {
      const series = `toolmux_tool_calls_total{toolkit="${item.toolkit}",status="${item.status}"}`;
      expected.set(series, (expected.get(series) ?? 0) + 1);
    }
    // 1 cell + 5, 1 multi-execute + 2, 1, 1
    expect(items).toHaveLength(11);
    const metrics = await (
      await server.app.request('/metrics', { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
    ).text();
    const series = metrics.split('\n').filter((line) => line.startsWith('toolmux_tool_calls_total{'));
    // on the old code the cell's five calls were missing: tasks counted 4 of 9
    expect(series.sort()).toEqual([...expected].map(([name, count]) => `${name} ${count}`).sort());
    expect(series.sort()).toEqual([
      'toolmux_tool_calls_total{toolkit="tasks",status="success"} 9',
      'toolmux_tool_calls_total{toolkit="toolmux",status="success"} 2',
    ]);
  });
});

describe('a request whose client goes away before its answer', () => {
  it('has no request line and is not counted: no status was sent (as a request the drain cuts)', async () => {
    const { server, lines, mux, call } = await setup();
    const running = await server.serve({ port: 0 });
    try {
      const session = await mux.create('user_gone', { toolkits: ['tasks'] });
      const controller = new AbortController();
      const request = fetch(`${running.url}/api/v1/sessions/${session.sessionId}/execute`, {
        method: 'POST',
        signal: controller.signal,
        headers: {
          authorization: `Bearer ${TEST_API_KEY}`,
          'content-type': 'application/json',
          'x-request-id': 'gone-1',
        },
        body: JSON.stringify({ tool_slug: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 't1' } }),
      });
      request.catch(() => {});
      // the call runs by then (its tool waits until it is aborted)
      await new Promise((resolve) => setTimeout(resolve, 300));
      controller.abort();
      await expect(request).rejects.toThrow();
      // the tool was aborted with its request, and its entry written
      await expect
        .poll(async () => (await session.logs({ limit: 5 })).items[0]?.errorCode, { timeout: 5_000 })
        .toBe('TOOL_ABORTED');
      await new Promise((resolve) => setTimeout(resolve, 100));
      // on the old code: a line `status: 200`, and a 200 in the HTTP metric
      expect(lines.filter((line) => line.data?.req_id === 'gone-1')).toEqual([]);
      const metrics = await (await call('GET', '/metrics')).text();
      expect(metrics).not.toMatch(/toolmux_http_request_duration_seconds_count\{[^}]*execute/);
      expect(metrics).toContain('toolmux_tool_calls_total{toolkit="tasks",status="error"} 1');
    } finally {
      await running.close({ timeoutMs: 100 });
    }
  });
});

describe('who may read /metrics', () => {
  const headers = (entries: Record<string, string> = {}) => new Headers(entries);

  it('loopback by default, never through a proxy, others with the API key', async () => {
    const metrics = new ServerMetrics();
    expect(metrics.openTo('127.0.0.1', headers())).toBe(true);
    expect(metrics.openTo('::1', headers())).toBe(true);
    expect(metrics.openTo('::ffff:127.0.0.1', headers())).toBe(true);
    expect(metrics.openTo('10.0.0.5', headers())).toBe(false);
    expect(metrics.openTo('127.0.0.1', headers({ 'x-forwarded-for': '203.0.113.9' }))).toBe(false);
    expect(metrics.openTo('127.0.0.1', headers({ forwarded: 'for=203.0.113.9' }))).toBe(false);
    expect(metrics.openTo(undefined, headers())).toBe(false);

    const { call } = await setup();
    // app.fetch has no socket: the API key is needed
    expect((await call('GET', '/metrics', { authorization: '' })).status).toBe(401);
    const withKey = await call('GET', '/metrics');
    expect(withKey.status).toBe(200);
    expect(await withKey.text()).toContain('# TYPE toolmux_tool_calls_total counter');
  });

  it.each([
    ['X-Real-IP', '203.0.113.9'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Forwarded-Host', 'tools.example.com'],
    ['Via', '1.1 proxy.example.com'],
    ['True-Client-IP', '203.0.113.9'],
    ['CF-Connecting-IP', '203.0.113.9'],
    ['Forwarded', 'for=203.0.113.9'],
    ['X-Forwarded-For', '203.0.113.9'],
  ])(
    'a request from loopback that came through a proxy (it set %s) needs the API key',
    async (name, value) => {
      const { server } = await setup();
      await using running = await server.serve({ port: 0 });
      // a proxy on this host connects from loopback, and says so only by the headers it adds (nginx
      // told to send X-Real-IP alone): on the code before, only Forwarded and X-Forwarded-For counted
      expect((await fetch(`${running.url}/metrics`)).status).toBe(200);
      const proxied = await fetch(`${running.url}/metrics`, { headers: { [name]: value } });
      expect(proxied.status).toBe(401);
      const withKey = await fetch(`${running.url}/metrics`, {
        headers: { [name]: value, authorization: `Bearer ${TEST_API_KEY}` },
      });
      expect(withKey.status).toBe(200);
    },
  );

  it('allowFrom ranges, public, or not served at all', async () => {
    const ranges = new ServerMetrics({ allowFrom: ['10.0.0.0/8', '2001:db8::/32'] });
    expect(ranges.openTo('10.1.2.3', headers())).toBe(true);
    expect(ranges.openTo('2001:db8::1', headers())).toBe(true);
    expect(ranges.openTo('127.0.0.1', headers())).toBe(false);
    expect(new ServerMetrics({ public: true }).openTo(undefined, headers())).toBe(true);
    expect(() => new ServerMetrics({ allowFrom: ['10.0.0.0/33'] })).toThrow(
      /"10.0.0.0\/33" is not an IP address/,
    );

    const mux = new ToolMux({ store: ':memory:', toolkits: [], baseUrl: BASE, logger: quiet });
    opened.push(mux);
    const server = createServer({
      toolmux: mux,
      apiKey: TEST_API_KEY,
      logger: quiet,
      metrics: { enabled: false },
    });
    const response = await server.fetch(
      new Request(`${BASE}/metrics`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } }),
    );
    expect(response.status).toBe(404);
  });
});
