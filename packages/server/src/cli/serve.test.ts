import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { ToolMux } from '@toolmux/core';
import { idBefore, openStore } from '@toolmux/core/internal';
import {
  createTestPostgresStore,
  createTestPostgresUrl,
  postgresSkipReason,
  startSizedApi,
} from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { continueThroughPage, freePort, startTestOAuthServer, type TestOAuthServer } from '../test-oauth.js';
import {
  API_KEY,
  api,
  eventually,
  failingServe,
  forStarts,
  OCTO,
  SAMPLE,
  SECRET_KEY,
  SERVER_INDEX,
  type Served,
  SIZED,
  SLOW,
  serveTestHooks,
  slowCall,
  startServe,
  tempDirectory,
} from '../test-serve.js';

/**
 * `toolmux serve` as operators run it, in a child process: a config file; request logs as JSON lines;
 * health, readiness, metrics; SIGTERM. (The configurations it refuses: `serve-refusals.test.ts`.)
 */
const skipPostgres = await postgresSkipReason();
serveTestHooks();

describe('a toolmux.config.ts', () => {
  let oauth: TestOAuthServer;
  let served: Served;
  let baseUrl: string;
  let cwd: string;

  beforeAll(async () => {
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    oauth = await startTestOAuthServer({ redirectUris: [`${baseUrl}/auth/callback`] });
    cwd = tempDirectory();
    // TypeScript, run by Node's type stripping; managed OAuth app and allowed callback URL from here only
    writeFileSync(
      join(cwd, 'toolmux.config.ts'),
      `import { defineConfig, type ToolMuxConfig } from '${SERVER_INDEX}';
import { toolkits } from '${pathToFileURL(OCTO).href}';

const config: ToolMuxConfig = defineConfig({
  toolkits,
  store: 'sqlite:./data/toolmux.db',
  port: ${port},
  managedAuth: { octo: { clientId: process.env.OCTO_CLIENT_ID!, clientSecret: process.env.OCTO_CLIENT_SECRET } },
  allowedCallbackUrls: ['https://app.example.test/connected'],
  mcp: { allowedOrigins: ['https://app.example.test'] },
  log: { level: 'info', format: 'json' },
  connections: { perClient: 4096 },
});
export default config;
`,
    );
    served = await startServe([], {
      cwd,
      env: {
        TOOLMUX_API_KEY: API_KEY,
        TOOLMUX_TEST_OAUTH_ISSUER: oauth.issuer,
        OCTO_CLIENT_ID: oauth.clientId,
        OCTO_CLIENT_SECRET: oauth.clientSecret,
        // production: only allowedCallbackUrls (no localhost) may receive users
        NODE_ENV: 'production',
      },
    });
  });

  afterAll(async () => {
    await served?.stop();
    await oauth?.close();
  });

  it('is found in the working directory and applied', () => {
    expect(served.url).toBe(baseUrl);
    const listening = served.lines().find((line) => String(line.msg).includes('listening on'))!;
    expect(listening).toMatchObject({
      config: join(cwd, 'toolmux.config.ts'),
      // the file's path, read from the config file's directory
      store: `sqlite:${join(cwd, 'data', 'toolmux.db')}`,
      connections_per_client: 4096,
      connections_unlimited: ['127.0.0.0/8', '::1/128'],
    });
    expect(existsSync(join(cwd, 'data', 'toolmux.db'))).toBe(true);
  });

  it('lets the MCP endpoint answer pages of mcp.allowedOrigins only', async () => {
    const session = await api(baseUrl, 'POST', '/sessions', {
      user_id: 'origin_user',
      config: { toolkits: ['tasks'] },
    });
    const post = (origin: string) =>
      fetch(session.json.mcp.url, {
        method: 'POST',
        headers: {
          ...session.json.mcp.headers,
          origin,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    expect((await post('https://app.example.test')).status).toBe(200);
    expect((await post('https://evil.example.test')).status).toBe(403);
  });

  it('connects an account through the managed OAuth app to an allowed callback URL only', async () => {
    const session = await api(baseUrl, 'POST', '/sessions', {
      user_id: 'config_user',
      config: { toolkits: ['octo'] },
    });
    expect(session.status).toBe(201);
    const sessionId = session.json.session_id as string;

    const refused = await api(baseUrl, 'POST', `/sessions/${sessionId}/authorize`, {
      toolkit: 'octo',
      callback_url: 'https://evil.example.test/steal',
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('CALLBACK_URL_NOT_ALLOWED');
    // the fix, in the operator's terms
    expect(refused.json.error.message).toContain('allowedCallbackUrls option of ToolMux (in toolmux.config');

    const started = await api(baseUrl, 'POST', `/sessions/${sessionId}/authorize`, {
      toolkit: 'octo',
      callback_url: 'https://app.example.test/connected',
    });
    expect(started.status).toBe(201);
    const config = await api(baseUrl, 'GET', `/auth-configs/${started.json.auth_config_id}`);
    expect(config.json).toMatchObject({ toolkit: 'octo', created_by: 'toolmux', client_id: oauth.clientId });

    const { authorizationUrl, jar } = await continueThroughPage(started.json.redirect_url);
    const landed = await fetch(await oauth.signIn(authorizationUrl), {
      headers: { cookie: jar.header },
      redirect: 'manual',
    });
    expect(landed.status).toBe(302);
    const back = new URL(landed.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe('https://app.example.test/connected');
    expect(back.searchParams.get('status')).toBe('success');

    const account = await api(baseUrl, 'GET', `/connected-accounts/${started.json.connected_account_id}`);
    expect(account.json).toMatchObject({ status: 'ACTIVE', user_id: 'config_user', toolkit: 'octo' });
    const whoami = await api(baseUrl, 'POST', `/sessions/${sessionId}/execute`, {
      tool_slug: 'OCTO_WHOAMI',
      arguments: {},
    });
    expect(whoami.json).toMatchObject({ successful: true });
    // the client secret from the config never reaches the log
    expect(served.stdout()).not.toContain(oauth.clientSecret);
  });
});

describe('precedence', forStarts(3), () => {
  it('flags override environment variables, which override the config file', async () => {
    const cwd = tempDirectory();
    writeFileSync(
      join(cwd, 'toolmux.config.mjs'),
      "export default { store: 'sqlite:./from-file/t.db', port: 1, log: { level: 'warn', format: 'pretty' } };\n",
    );
    const env = {
      TOOLMUX_API_KEY: API_KEY,
      TOOLMUX_STORE: 'sqlite:./from-env/t.db',
      TOOLMUX_LOG_LEVEL: 'info', // the file says warn: the listening line (info) shows only if this wins
      TOOLMUX_LOG_FORMAT: 'json',
      PORT: '0',
    };
    const fromFlag = await startServe(['--store', 'sqlite:./from-flag/t.db'], { cwd, env });
    expect(fromFlag.lines().find((line) => line.url)).toMatchObject({
      store: `sqlite:${join(cwd, 'from-flag', 't.db')}`,
      store_from: '--store',
      config: join(cwd, 'toolmux.config.mjs'),
    });
    expect(await fromFlag.stop()).toBe(0);
    const fromEnv = await startServe([], { cwd, env });
    expect(fromEnv.lines().find((line) => line.url)).toMatchObject({
      store: `sqlite:${join(cwd, 'from-env', 't.db')}`,
      store_from: 'TOOLMUX_STORE',
    });
    expect(await fromEnv.stop()).toBe(0);
    expect(existsSync(join(cwd, 'from-file'))).toBe(false);
    // a bad spec is refused naming where it was set
    const refused = await failingServe(['serve'], { cwd, env: { ...env, TOOLMUX_STORE: 'mysql://db/x' } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Invalid store "mysql://db/x" (TOOLMUX_STORE). Use ');
    const fileDirectory = tempDirectory();
    writeFileSync(join(fileDirectory, 'toolmux.config.mjs'), "export default { store: 'mysql://db/y' };\n");
    const { TOOLMUX_STORE: _, ...withoutStore } = env;
    const fromFile = await failingServe(['serve'], { cwd: fileDirectory, env: withoutStore });
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toContain(
      `Invalid store "mysql://db/y" (store of ${join(fileDirectory, 'toolmux.config.mjs')}). Use `,
    );
  });
});

describe('a running server', () => {
  let served: Served;
  let cwd: string;

  beforeAll(async () => {
    cwd = tempDirectory();
    // JSON config, toolkits by module path: the sample toolkits and a single default-exported toolkit
    writeFileSync(
      join(cwd, 'toolmux.config.json'),
      JSON.stringify({ toolkits: [SAMPLE, SLOW], store: 'sqlite:./data/toolmux.db', port: 0 }),
    );
    served = await startServe(['--log-format', 'json', '--log-level', 'info', '--toolkits', SLOW], {
      cwd,
      env: { TOOLMUX_API_KEY: API_KEY },
    });
  });

  afterAll(async () => {
    await served?.stop();
  });

  it('answers /healthz and /readyz', async () => {
    const health = await fetch(`${served.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${served.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('writes one JSON line per request with its id, echoed, and never a key or token', async () => {
    const session = await api(
      served.url,
      'POST',
      '/sessions',
      { user_id: 'log_user', config: { toolkits: ['tasks'] } },
      {
        'x-request-id': 'client-req-42',
      },
    );
    expect(session.status).toBe(201);
    expect(session.headers.get('x-request-id')).toBe('client-req-42');
    const token = (session.json.mcp.headers.Authorization as string).replace('Bearer ', '');
    const mcp = await fetch(session.json.mcp.url, {
      method: 'POST',
      headers: {
        ...session.json.mcp.headers,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(mcp.status).toBe(200);
    // an id that could forge log lines is replaced by a fresh one
    const unsafe = await fetch(`${served.url}/healthz`, { headers: { 'x-request-id': 'a b"c' } });
    const replaced = unsafe.headers.get('x-request-id')!;
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await api(served.url, 'GET', '/sessions/ses_nope', undefined, {
      'x-request-id': 'client-req-43',
    });
    expect(missing.status).toBe(404);

    const lines = await eventually(async () => {
      const found = served.lines();
      expect(found.some((line) => line.req_id === 'client-req-43')).toBe(true);
      return found;
    });
    const created = lines.find((line) => line.req_id === 'client-req-42')!;
    expect(created).toMatchObject({
      level: 30,
      method: 'POST',
      route: '/api/v1/sessions',
      status: 201,
      duration_ms: expect.any(Number),
    });
    expect(typeof created.time).toBe('string');
    expect(lines.find((line) => line.req_id === 'client-req-43')).toMatchObject({
      route: '/api/v1/sessions/:sessionId',
      status: 404,
    });
    expect(lines.find((line) => line.route === '/mcp/:sessionId')).toMatchObject({
      method: 'POST',
      status: 200,
    });
    expect(lines.find((line) => line.req_id === replaced)).toMatchObject({ route: '/healthz' });
    const output = served.stdout();
    expect(output).not.toContain(API_KEY);
    expect(output).not.toContain(token);
    expect(output).not.toContain(session.json.session_id); // routes are patterns, never paths
  });

  it('serves Prometheus metrics to loopback, and to others only with the API key', async () => {
    const session = await api(served.url, 'POST', '/sessions', {
      user_id: 'metrics_user',
      config: { toolkits: ['tasks', 'slow'] },
    });
    const id = session.json.session_id as string;
    for (const title of ['one', 'two']) {
      const done = await api(served.url, 'POST', `/sessions/${id}/execute`, {
        tool_slug: 'TASKS_CREATE_TASK',
        arguments: { title },
      });
      expect(done.json.successful).toBe(true);
    }
    const failed = await api(served.url, 'POST', `/sessions/${id}/execute`, {
      tool_slug: 'SLOW_WAIT',
      arguments: { ms: 'long' },
    });
    expect(failed.json.successful).toBe(false);

    const response = await fetch(`${served.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('# TYPE toolmux_tool_calls_total counter');
    expect(text).toContain('toolmux_tool_calls_total{toolkit="tasks",status="success"} 2');
    expect(text).toContain('toolmux_tool_calls_total{toolkit="slow",status="error"} 1');
    expect(text).toContain('# TYPE toolmux_tool_call_duration_seconds histogram');
    expect(text).toMatch(/toolmux_tool_call_duration_seconds_count\{toolkit="tasks",status="success"\} 2/);
    expect(text).toContain('# TYPE toolmux_http_request_duration_seconds histogram');
    expect(text).toMatch(
      /toolmux_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/sessions\/:sessionId\/execute",status="200"\} 3/,
    );
    expect(text).toContain('process_resident_memory_bytes');

    // through a proxy (or from elsewhere) the API key is needed
    const proxied = await fetch(`${served.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(proxied.status).toBe(401);
    const withKey = await fetch(`${served.url}/metrics`, {
      headers: { 'x-forwarded-for': '203.0.113.7', authorization: `Bearer ${API_KEY}` },
    });
    expect(withKey.status).toBe(200);
  });

  it('answers 405 with Allow for other methods on its routes, 404 elsewhere', async () => {
    for (const [method, path, allow] of [
      ['OPTIONS', '/api/v1/sessions', 'GET, HEAD, POST'],
      ['PUT', '/api/v1/sessions/ses_x', 'DELETE, GET, HEAD, PATCH'],
      ['DELETE', '/healthz', 'GET, HEAD'],
    ] as const) {
      const response = await fetch(`${served.url}${path}`, { method });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('allow')).toBe(allow);
      expect((await response.json()).error.code).toBe('METHOD_NOT_ALLOWED');
    }
    // the MCP endpoint's own 405 (a JSON-RPC error), listing what it takes: not GET or DELETE, which
    // are 405 there too
    const mcp = await fetch(`${served.url}/mcp/ses_x`, { method: 'PUT' });
    expect(mcp.status).toBe(405);
    expect(mcp.headers.get('allow')).toBe('OPTIONS, POST');
    expect((await mcp.json()).error.data.code).toBe('METHOD_NOT_ALLOWED');
    expect((await fetch(`${served.url}/api/v1/nothing-here`, { method: 'PUT' })).status).toBe(404);
    // TRACE, which fetch() refuses to send
    const trace = await new Promise<{ status?: number; allow?: string | string[] }>((resolve, reject) => {
      const request = httpRequest(`${served.url}/api/v1/toolkits`, { method: 'TRACE' }, (response) => {
        response.resume();
        resolve({ status: response.statusCode, allow: response.headers.allow });
      });
      request.once('error', reject);
      request.end();
    });
    expect(trace).toEqual({ status: 405, allow: 'GET, HEAD' });
  });

  it('on SIGTERM answers every call in flight, logs each, flushes the execution log, exits 0', async () => {
    const session = await api(served.url, 'POST', '/sessions', {
      user_id: 'drain_user',
      config: { toolkits: ['slow'] },
    });
    const id = session.json.session_id as string;
    const calls = Array.from({ length: 6 }, (_, index) =>
      api(
        served.url,
        'POST',
        `/sessions/${id}/execute`,
        { tool_slug: 'SLOW_WAIT', arguments: { ms: 1500 } },
        {
          'x-request-id': `drain-${index}`,
        },
      ),
    );
    // every call has reached the tool once the store holds... nothing yet: wait for the server to have them
    await new Promise((resolve) => setTimeout(resolve, 500));
    const code = served.stop('SIGTERM');
    const results = await Promise.all(calls);
    for (const result of results)
      expect(result.json).toMatchObject({ successful: true, data: { waited: 1500 } });
    expect(await code).toBe(0);
    // no new connections once it stopped
    await expect(fetch(`${served.url}/healthz`)).rejects.toThrow();

    const lines = served.lines();
    for (let index = 0; index < 6; index++) {
      expect(lines.find((line) => line.req_id === `drain-${index}`)).toMatchObject({
        route: '/api/v1/sessions/:sessionId/execute',
        status: 200,
      });
    }
    expect(lines.at(-1)).toMatchObject({ msg: 'toolmux server stopped' });
    // the execution log of every answered call is in the store
    const database = new DatabaseSync(join(cwd, 'data', 'toolmux.db'), { readOnly: true });
    try {
      const row = database
        .prepare(
          "SELECT count(*) AS n FROM toolmux_execution_logs WHERE session_id = ? AND tool_slug = 'SLOW_WAIT'",
        )
        .get(id) as { n: number };
      expect(row.n).toBe(6);
    } finally {
      database.close();
    }
  });
});

/** A working directory whose config serves the slow tool on SQLite, draining for `shutdownTimeoutMs`. */
function slowToolDirectory(shutdownTimeoutMs: number): string {
  const cwd = tempDirectory();
  writeFileSync(
    join(cwd, 'toolmux.config.json'),
    JSON.stringify({ toolkits: [SLOW], store: 'sqlite:./data/toolmux.db', port: 0, shutdownTimeoutMs }),
  );
  return cwd;
}

describe('a server stopped while a call runs past shutdownTimeoutMs', () => {
  it('stops its tool (TOOL_ABORTED, answered and logged), and exits 0 without waiting for the tool', async () => {
    const cwd = slowToolDirectory(300);
    const served = await startServe(['--log-format', 'json', '--log-level', 'info'], {
      cwd,
      env: { TOOLMUX_API_KEY: API_KEY },
    });
    const session = await api(served.url, 'POST', '/sessions', {
      user_id: 'cut_user',
      config: { toolkits: ['slow'] },
    });
    const id = session.json.session_id as string;
    // 10 s, and the tool ignores its abort signal
    const callStarted = Date.now();
    const call = slowCall(served.url, id, 10_000, 'cut-call');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await served.stop('SIGTERM')).toBe(0);
    // before the tool's 10 s were up (they began after the call was sent): on the old code the
    // process waited for the tool's timer
    expect(Date.now() - callStarted).toBeLessThan(9_900);
    // the client got the stopped call's answer: the connection is cut only a second after the
    // drain's end, which the answer needs a moment of (it was cut at once, and the client got a
    // socket error)
    const answer = (await call) as { status: number; json: any };
    expect(answer).not.toBeInstanceOf(Error);
    expect(JSON.stringify(answer.json)).toContain('TOOL_ABORTED');
    const lines = served.lines();
    const requestLine = lines.find((line) => line.req_id === 'cut-call');
    expect(requestLine).toMatchObject({
      level: 30,
      route: '/api/v1/sessions/:sessionId/execute',
      status: answer.status,
    });
    expect(requestLine!.cut).toBeUndefined();
    // the warning names what gave the call its time and the time it was (on the old code: "close()
    // stopped 1 tool call still running after 0 ms … Give close({ timeoutMs }) more time")
    const stopped = lines.filter((line) => String(line.msg).includes('still running'));
    expect(stopped).toHaveLength(1);
    expect(stopped[0]!.msg).toContain('shutdownTimeoutMs: 300 ms');
    expect(stopped[0]!.msg).toContain('Give shutdownTimeoutMs more time');
    expect(stopped[0]!.msg).not.toContain('close({ timeoutMs })');
    expect(stopped[0]!.msg).not.toContain('after 0 ms');
    const database = new DatabaseSync(join(cwd, 'data', 'toolmux.db'), { readOnly: true });
    try {
      const rows = database
        .prepare('SELECT status, error_code, error_message FROM toolmux_execution_logs WHERE session_id = ?')
        .all(id) as Array<{ status: string; error_code: string; error_message: string }>;
      expect(rows).toHaveLength(1);
      // stopped by the server as its drain ended, before the cut, and saying so (on the code before,
      // the cut came first and the entry read "SLOW_WAIT was aborted by the caller.", or close()'s
      // "its ToolMux was closed … the 0 ms that close() waits")
      expect(rows[0]).toEqual({
        status: 'error',
        error_code: 'TOOL_ABORTED',
        error_message:
          'SLOW_WAIT was stopped because the server was shutting down and its drain time (shutdownTimeoutMs: 300 ms) ran out before the call finished; give shutdownTimeoutMs more time if calls should finish.',
      });
    } finally {
      database.close();
    }
  }, 30_000);
});

/**
 * SIGHUP (the terminal closed, the ssh session ended, a process manager that stops with it) drains as
 * SIGTERM does: the server reloads no config, so it has nothing else to mean. On the code before, it
 * killed the process at once: the call in flight got a socket error, and the process no exit code.
 */
describe('toolmux serve sent SIGHUP', () => {
  it('answers the call in flight, logs the signal, and exits 0', forStarts(1), async () => {
    const served = await startServe(['--log-format', 'json', '--log-level', 'info'], {
      cwd: slowToolDirectory(10_000),
      env: { TOOLMUX_API_KEY: API_KEY },
    });
    try {
      const session = await api(served.url, 'POST', '/sessions', {
        user_id: 'hangup_user',
        config: { toolkits: ['slow'] },
      });
      const call = slowCall(served.url, session.json.session_id, 1500, 'hangup-call');
      // the call has reached the tool
      await new Promise((resolve) => setTimeout(resolve, 400));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        served.child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      served.child.kill('SIGHUP');
      // on the code before: a socket error (the process was killed)
      expect(await call).toMatchObject({ status: 200, json: { successful: true, data: { waited: 1500 } } });
      expect(await exited).toEqual({ code: 0, signal: null });
      const lines = served.lines();
      expect(lines.find((line) => String(line.msg).includes('toolmux server stopping'))).toMatchObject({
        signal: 'SIGHUP',
        timeout_ms: 10_000,
      });
      expect(lines.find((line) => line.req_id === 'hangup-call')).toMatchObject({ status: 200 });
      expect(lines.at(-1)).toMatchObject({ msg: 'toolmux server stopped' });
    } finally {
      await served.stop('SIGKILL');
    }
  });
});

describe('a second SIGTERM, SIGINT or SIGHUP while the server drains', { timeout: 60_000 }, () => {
  it.each([
    ['SIGINT', 'SIGTERM'],
    ['SIGTERM', 'SIGINT'],
    ['SIGTERM', 'SIGTERM'],
    // on the code before, the first SIGHUP killed the process: it never drained
    ['SIGHUP', 'SIGHUP'],
    ['SIGHUP', 'SIGTERM'],
    ['SIGTERM', 'SIGHUP'],
  ] as const)('%s then %s ends the process at once', async (first, second) => {
    const cwd = slowToolDirectory(20_000);
    const served = await startServe(['--log-format', 'json'], { cwd, env: { TOOLMUX_API_KEY: API_KEY } });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      served.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    let stderr = '';
    served.child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const session = await api(served.url, 'POST', '/sessions', {
      user_id: 'twice_user',
      config: { toolkits: ['slow'] },
    });
    // a call the drain would wait 8 s for
    const call = api(served.url, 'POST', `/sessions/${session.json.session_id}/execute`, {
      tool_slug: 'SLOW_WAIT',
      arguments: { ms: 8_000 },
    }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    served.child.kill(first);
    await eventually(async () =>
      expect(served.lines().some((line) => String(line.msg).includes('stopping'))).toBe(true),
    );
    const sent = Date.now();
    served.child.kill(second);
    // on the old code a second signal of the other kind was swallowed: the process drained for 8 s
    const result = await exited;
    expect(Date.now() - sent).toBeLessThan(3_000);
    expect(result).toEqual({ code: null, signal: second });
    expect(await call).toBeInstanceOf(Error);
    if (first !== second) expect(stderr).toContain(`toolmux: ${second} while stopping`);
  });
});

describe.skipIf(skipPostgres !== undefined)(
  `the store's password on PostgreSQL ${skipPostgres ?? ''}`,
  forStarts(1),
  () => {
    it('is masked in the listening line, in the userinfo and in every password parameter', async () => {
      const database = await createTestPostgresUrl();
      try {
        // trust authentication: the server never asks for the password, which pg would send
        const url = new URL(database.url);
        url.password = 'hun@ter2pw';
        url.searchParams.set('password', 'hunter2pw');
        url.searchParams.set('sslpassword', 'hunter2pw');
        const served = await startServe(['--store', url.toString(), '--port', '0'], {
          env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY },
        });
        try {
          const listening = served.lines().find((line) => String(line.msg).includes('listening on'))!;
          expect(listening.store).toBe(
            url
              .toString()
              .replace('hun%40ter2pw', '***')
              .replace(/password=hunter2pw/g, 'password=***'),
          );
          expect(listening.store).toContain(`options=-c`);
        } finally {
          expect(await served.stop()).toBe(0);
        }
        expect(served.stdout()).not.toMatch(/ter2pw|hun%40/);
      } finally {
        await database.cleanup();
      }
    });
  },
);

describe.skipIf(skipPostgres !== undefined)(`readiness on PostgreSQL ${skipPostgres ?? ''}`, () => {
  const role = `toolmux_ready_${randomBytes(4).toString('hex')}`;
  let admin: Awaited<ReturnType<typeof createTestPostgresStore>>;
  let database: Awaited<ReturnType<typeof createTestPostgresUrl>>;
  let served: Served;

  beforeAll(async () => {
    admin = await createTestPostgresStore(); // only to run SQL as the superuser
    database = await createTestPostgresUrl();
    await admin.query(`CREATE ROLE "${role}" LOGIN`);
    await admin.query(`GRANT ALL ON SCHEMA "${database.schema}" TO "${role}"`);
    const url = new URL(database.url);
    url.username = role;
    url.password = '';
    served = await startServe(['--store', url.toString(), '--port', '0', '--toolkits', SAMPLE], {
      env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY },
    });
  });

  afterAll(async () => {
    await served?.stop();
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
    await database.cleanup();
    await admin.query(`DROP ROLE IF EXISTS "${role}"`);
    await admin.cleanup();
  });

  const cut = () =>
    admin.query(
      `ALTER ROLE "${role}" NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`,
    );

  it('answers 503 while the database refuses the server, logs every 5xx with its cause, and recovers', async () => {
    expect((await fetch(`${served.url}/readyz`)).status).toBe(200);
    const session = await api(served.url, 'POST', '/sessions', {
      user_id: 'pg_user',
      config: { toolkits: ['tasks'] },
    });
    expect(session.status).toBe(201);

    await cut();
    const unready = await eventually(async () => {
      const response = await fetch(`${served.url}/readyz`);
      expect(response.status).toBe(503);
      return response.json();
    });
    expect(unready).toMatchObject({ status: 'unavailable' });
    expect(JSON.stringify(unready)).not.toContain(role);
    // a request that needs the store is a 500 STORE_ERROR, and its log line says why
    const failed = await api(served.url, 'GET', '/sessions?user_id=pg_user', undefined, {
      'x-request-id': 'pg-down-1',
    });
    expect(failed.status).toBe(500);
    expect(failed.json.error.code).toBe('STORE_ERROR');
    const line = await eventually(async () => {
      const found = served.lines().find((entry) => entry.req_id === 'pg-down-1');
      expect(found).toBeDefined();
      return found!;
    });
    expect(line).toMatchObject({ level: 50, route: '/api/v1/sessions', status: 500 });
    // the database's own words: the role may not log in, or its connection was terminated
    const databaseError = /not permitted to log in|terminat/i;
    expect(line.msg).toContain('STORE_ERROR');
    expect(line.msg).toMatch(databaseError);
    expect(JSON.stringify((line.error as { cause?: unknown }).cause)).toMatch(databaseError);
    const readyLine = served.lines().find((entry) => entry.route === '/readyz' && entry.status === 503)!;
    expect(readyLine).toMatchObject({ level: 50 });
    expect(String(readyLine.msg)).toMatch(databaseError);
    expect(served.stdout()).not.toContain(API_KEY);
    expect(served.stdout()).not.toContain(SECRET_KEY);

    await admin.query(`ALTER ROLE "${role}" LOGIN`);
    await eventually(async () => expect((await fetch(`${served.url}/readyz`)).status).toBe(200));
    expect((await api(served.url, 'GET', '/sessions?user_id=pg_user')).status).toBe(200);
  });
});

describe('cache lifetimes', forStarts(3), () => {
  it('sessionCacheTtlMs from the config file, TOOLMUX_SESSION_CACHE_TTL_MS over it', async () => {
    const cwd = tempDirectory();
    writeFileSync(
      join(cwd, 'toolmux.config.json'),
      JSON.stringify({
        toolkits: [SAMPLE],
        store: 'sqlite:./data/toolmux.db',
        port: 0,
        sessionCacheTtlMs: 0,
        accountCacheTtlMs: 0,
      }),
    );
    const env = { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY };
    // another instance on the same database changes the session
    const other = new ToolMux({
      toolkits: (await import(SAMPLE)).toolkits,
      store: `sqlite:${join(cwd, 'data', 'toolmux.db')}`,
      secretKey: SECRET_KEY,
    });
    const toolNames = async (mcp: { url: string; headers: Record<string, string> }) => {
      const response = await fetch(mcp.url, {
        method: 'POST',
        headers: { ...mcp.headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      const names = ((await response.json()).result.tools as Array<{ name: string }>).map(
        (tool) => tool.name,
      );
      return [...new Set(names.map((name) => name.split('_')[0]))];
    };
    const switchTo = async (sessionId: string, toolkit: string) =>
      (await other.use(sessionId)).update({ toolkits: [toolkit], sessionPreset: 'DIRECT_TOOLS' });
    try {
      // 0 in the file (the default, 2000, would still answer from the cache): every request reads the store
      const uncached = await startServe([], { cwd, env });
      const created = await api(uncached.url, 'POST', '/sessions', {
        user_id: 'cache_user',
        config: { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' },
      });
      const sessionId = created.json.session_id as string;
      const mcp = created.json.mcp;
      expect(await toolNames(mcp)).toEqual(['TASKS']);
      await switchTo(sessionId, 'notes');
      expect(await toolNames(mcp)).toEqual(['NOTES']);
      expect(await uncached.stop()).toBe(0);

      // 10 minutes from the variable, over the file's 0: the server answers from its cache
      const cached = await startServe([], { cwd, env: { ...env, TOOLMUX_SESSION_CACHE_TTL_MS: '600000' } });
      try {
        const again = { ...mcp, url: `${cached.url}/mcp/${sessionId}` }; // the new server's port
        expect(await toolNames(again)).toEqual(['NOTES']);
        await switchTo(sessionId, 'tasks');
        expect(await toolNames(again)).toEqual(['NOTES']);
      } finally {
        expect(await cached.stop()).toBe(0);
      }
    } finally {
      await other.close();
    }
  });
});

describe('the proxy answer limit', forStarts(2), () => {
  it('proxyMaxResponseBytes from the config file, TOOLMUX_PROXY_MAX_RESPONSE_BYTES over it', async () => {
    const sized = await startSizedApi();
    const cwd = tempDirectory();
    writeFileSync(
      join(cwd, 'toolmux.config.json'),
      JSON.stringify({ toolkits: [SIZED], store: ':memory:', port: 0, proxyMaxResponseBytes: 2048 }),
    );
    const env = {
      TOOLMUX_API_KEY: API_KEY,
      TOOLMUX_TEST_SIZED_URL: sized.url,
    };
    /** The status of a proxy call for an answer of `bytes` bytes. */
    const proxied = async (url: string, bytes: number) => {
      const created = await api(url, 'POST', '/sessions', { user_id: 'u', config: { toolkits: ['sized'] } });
      const answer = await api(url, 'POST', `/sessions/${created.json.session_id}/proxy`, {
        toolkit: 'sized',
        endpoint: `/sized/${bytes}`,
      });
      return answer.status;
    };
    try {
      const fromFile = await startServe([], { cwd, env });
      try {
        expect(await proxied(fromFile.url, 2048)).toBe(200);
        expect(await proxied(fromFile.url, 2049)).toBe(422);
      } finally {
        expect(await fromFile.stop()).toBe(0);
      }
      const fromEnv = await startServe([], {
        cwd,
        env: { ...env, TOOLMUX_PROXY_MAX_RESPONSE_BYTES: '1024' },
      });
      try {
        expect(await proxied(fromEnv.url, 1024)).toBe(200);
        expect(await proxied(fromEnv.url, 1025)).toBe(422);
      } finally {
        expect(await fromEnv.stop()).toBe(0);
      }
    } finally {
      await sized.close();
    }
  });
});

describe('execution log retention', forStarts(1), () => {
  it('TOOLMUX_LOG_RETENTION_DAYS deletes older entries when the server starts', async () => {
    const cwd = tempDirectory();
    const store = await openStore(`sqlite:${join(cwd, 't.db')}`);
    const entry = (daysAgo: number, n: number) => {
      const at = Date.now() - daysAgo * 24 * 60 * 60 * 1000;
      return {
        id: `${idBefore('log', at)}${String(n).padStart(28, '0')}`,
        sessionId: null,
        userId: 'retention_user',
        toolSlug: 'OCTO_LIST',
        toolkit: 'octo',
        connectedAccountId: null,
        callId: null,
        status: 'success' as const,
        errorCode: null,
        errorMessage: null,
        durationMs: 1,
        input: '{}',
        output: '{}',
        createdAt: new Date(at),
      };
    };
    const recent = [entry(2.5, 1), entry(0, 2)];
    await store.insertLogs([entry(3.5, 3), entry(40, 4), ...recent]);
    await store.close();
    const served = await startServe([], {
      cwd,
      env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_STORE: 'sqlite:./t.db', TOOLMUX_LOG_RETENTION_DAYS: '3' },
    });
    try {
      await eventually(async () => {
        const listed = await api(served.url, 'GET', '/logs?user_id=retention_user');
        expect(listed.json.items.map((item: { id: string }) => item.id)).toEqual(
          recent.map((each) => each.id).reverse(),
        );
      });
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });
});

describe('the OAuth request timeout', forStarts(2), () => {
  it('oauthRequestTimeoutMs from the config file, TOOLMUX_OAUTH_REQUEST_TIMEOUT_MS over it', async () => {
    // an authorization server whose token endpoint never answers
    const stalled = createHttpServer(() => undefined);
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(stalled.address() as { port: number }).port}`;
    const cwd = tempDirectory();
    writeFileSync(
      join(cwd, 'toolmux.config.json'),
      JSON.stringify({ toolkits: [OCTO], store: ':memory:', port: 0, oauthRequestTimeoutMs: 300 }),
    );
    const env = { TOOLMUX_API_KEY: API_KEY, TOOLMUX_TEST_OAUTH_ISSUER: issuer };
    /** The status reason of a connection whose code the stalled token endpoint never trades. */
    const failedConnection = async (url: string) => {
      const config = await api(url, 'POST', '/auth-configs', {
        toolkit: 'octo',
        type: 'oauth2',
        client_id: 'octo-client',
        client_secret: 'octo-secret',
      });
      const link = await api(url, 'POST', '/connected-accounts/link', {
        user_id: 'timeout_user',
        auth_config_id: config.json.id,
      });
      const { authorizationUrl, jar } = await continueThroughPage(link.json.redirect_url);
      const state = new URL(authorizationUrl).searchParams.get('state')!;
      const landed = await fetch(`${url}/auth/callback?code=code-1&state=${state}`, {
        headers: { cookie: jar.header },
        redirect: 'manual',
      });
      expect(new URL(landed.headers.get('location')!).searchParams.get('error')).toBe('network_error');
      const account = await api(url, 'GET', `/connected-accounts/${link.json.connected_account_id}`);
      expect(account.json.status).toBe('FAILED');
      return account.json.status_reason as string;
    };
    const timedOut = (ms: number) =>
      `network_error: the authorization server did not send an answer in time (its requests time out after ${ms} ms, the ToolMux's oauthRequestTimeoutMs)`;
    try {
      const fromFile = await startServe([], { cwd, env });
      try {
        expect(await failedConnection(fromFile.url)).toBe(timedOut(300));
      } finally {
        expect(await fromFile.stop()).toBe(0);
      }
      const fromEnv = await startServe([], { cwd, env: { ...env, TOOLMUX_OAUTH_REQUEST_TIMEOUT_MS: '200' } });
      try {
        expect(await failedConnection(fromEnv.url)).toBe(timedOut(200));
      } finally {
        expect(await fromEnv.stop()).toBe(0);
      }
    } finally {
      stalled.closeAllConnections();
      await new Promise((resolve) => stalled.close(resolve));
    }
  });
});
