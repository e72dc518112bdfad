import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createHttpToolkit } from '@toolmux/toolkits';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A third-party API that echoes the credentials it was sent (in its JSON body, a response header, a
 * redirect's URL, an error) behind every path a result travels: REST execute and multi-execute, the
 * REST and Composio proxies, Composio's execute, the MCP endpoint, workbench code (`toolmux.execute`,
 * `toolmux.proxy`, its logs), the execution log and the server's logger. None of them hands on the
 * account's key, in any form the request carried it.
 */

const KEY = 'sk_echo_"q"/+=&7Hq2xZ9Lm';
const FORMS = [KEY, encodeURIComponent(KEY), JSON.stringify(KEY).slice(1, -1)];

let api: Server;
let apiUrl: string;
let server: TestServer;
const logged: string[] = [];

function startEchoApi(): Promise<Server> {
  const echo = createServer((request, response) => {
    const key = String(request.headers['x-api-key'] ?? '');
    const sent = { key, url: request.url };
    if (request.url?.startsWith('/fail')) {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: `the key ${key} may not do this` }));
      return;
    }
    if (request.url?.startsWith('/moved')) {
      response.writeHead(302, { location: `${apiUrl}/next?key=${encodeURIComponent(key)}` });
      response.end();
      return;
    }
    response.writeHead(200, {
      'content-type': 'application/json',
      link: `<${apiUrl}/page2?key=${encodeURIComponent(key)}>; rel="next"`,
      'x-echo': key,
    });
    response.end(JSON.stringify({ sent, text: JSON.stringify(sent) }));
  });
  echo.listen(0, '127.0.0.1');
  return once(echo, 'listening').then(() => echo);
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.apiKey}`,
      'x-api-key': server.apiKey,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

function expectNoKey(text: string, where: string): void {
  for (const form of FORMS) expect(text, `${where}: ${form}`).not.toContain(form);
}

beforeAll(async () => {
  api = await startEchoApi();
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  const echo = createHttpToolkit({
    slug: 'echo',
    auth: 'api_key',
    apiKeyHeader: 'X-Api-Key',
    baseUrl: apiUrl,
  });
  const record = (message: string, data?: unknown) => {
    logged.push(`${message} ${data === undefined ? '' : JSON.stringify(data)}`);
  };
  server = await startTestServer({
    toolkits: [echo],
    logger: { debug: record, warn: record, error: record },
  });
});

afterAll(async () => {
  await server.close();
  api.closeAllConnections();
  api.close();
});

describe("an API that echoes the account's key", () => {
  it('reaches no answer, log entry or log line of the server, on any path', async () => {
    const config = await call('POST', '/api/v1/auth-configs', { toolkit: 'echo', type: 'api_key' });
    expect(config.status).toBe(201);
    const configId = JSON.parse(config.text).id;
    const account = await call('POST', '/api/v1/connected-accounts', {
      user_id: 'user_echo',
      auth_config_id: configId,
      credentials: { apiKey: KEY },
    });
    expect(account.status).toBe(201);
    const created = await call('POST', '/api/v1/sessions', {
      user_id: 'user_echo',
      config: { toolkits: ['echo'], authConfigs: { echo: configId }, workbench: {} },
    });
    expect(created.status).toBe(201);
    const { session_id: sessionId, mcp } = JSON.parse(created.text);
    const answers: Array<[string, string]> = [];

    // REST execute: a body, headers and an error that quote the key
    const executed = await call('POST', `/api/v1/sessions/${sessionId}/execute`, {
      tool_slug: 'ECHO_GET',
      arguments: { url: '/echo' },
    });
    expect(executed.status).toBe(200);
    expect(JSON.parse(executed.text)).toMatchObject({
      successful: true,
      data: {
        headers: { link: `<${apiUrl}/page2?key=[REDACTED]>; rel="next"` },
        body: { sent: { key: '[REDACTED]' } },
      },
    });
    answers.push(['REST execute', executed.text]);
    const failed = await call('POST', `/api/v1/sessions/${sessionId}/execute`, {
      tool_slug: 'ECHO_GET',
      arguments: { url: '/fail' },
    });
    expect(JSON.parse(failed.text)).toMatchObject({ successful: false });
    expect(failed.text).toContain('the key [REDACTED] may not do this');
    answers.push(['REST execute, failed', failed.text]);
    const moved = await call('POST', `/api/v1/sessions/${sessionId}/execute`, {
      tool_slug: 'ECHO_GET',
      arguments: { url: '/moved' },
    });
    expect(JSON.parse(moved.text)).toMatchObject({
      data: { status: 302, headers: { location: `${apiUrl}/next?key=[REDACTED]` } },
    });
    answers.push(['REST execute, redirect', moved.text]);
    const multi = await call('POST', `/api/v1/sessions/${sessionId}/execute`, {
      tool_slug: 'TOOLMUX_MULTI_EXECUTE_TOOL',
      arguments: {
        tools: [
          { tool_slug: 'ECHO_GET', arguments: { url: '/echo' } },
          { tool_slug: 'ECHO_GET', arguments: { url: '/fail' } },
        ],
      },
    });
    expect(multi.text).toContain('[REDACTED]');
    answers.push(['REST multi-execute', multi.text]);

    // the proxies: headers and body
    for (const [path, body] of [
      [`/api/v1/sessions/${sessionId}/proxy`, { toolkit: 'echo', endpoint: '/echo' }],
      [`/api/v1/sessions/${sessionId}/proxy`, { toolkit: 'echo', endpoint: '/moved' }],
      [
        `/api/v3.1/tool_router/session/${sessionId}/proxy_execute`,
        { toolkit_slug: 'echo', endpoint: '/echo', method: 'GET' },
      ],
    ] as const) {
      const proxied = await call('POST', path, body);
      expect(proxied.status, `${path} ${proxied.text}`).toBe(200);
      expect(proxied.text).toContain('[REDACTED]');
      answers.push([`proxy ${path}`, proxied.text]);
    }

    // Composio's execute
    const composio = await call('POST', `/api/v3.1/tool_router/session/${sessionId}/execute`, {
      tool_slug: 'ECHO_GET',
      arguments: { url: '/echo' },
    });
    expect(composio.status).toBe(200);
    expect(composio.text).toContain('[REDACTED]');
    answers.push(['Composio execute', composio.text]);

    // the MCP endpoint, and workbench code run through it
    const client = new Client({ name: 'echo-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${sessionId}`), {
        requestInit: { headers: mcp.headers },
      }),
    );
    try {
      const viaMcp = await client.callTool({ name: 'ECHO_GET', arguments: { url: '/echo' } });
      expect(JSON.stringify(viaMcp)).toContain('[REDACTED]');
      answers.push(['MCP tools/call', JSON.stringify(viaMcp)]);
      const cell = await client.callTool({
        name: 'TOOLMUX_WORKBENCH',
        arguments: {
          code: `const got = await toolmux.execute('ECHO_GET', { url: '/echo' });
                 const proxied = await toolmux.proxy({ toolkit: 'echo', endpoint: '/echo' });
                 console.log(JSON.stringify(got), JSON.stringify(proxied));
                 return { got, proxied };`,
        },
      });
      expect(JSON.stringify(cell)).toContain('[REDACTED]');
      answers.push(['workbench cell', JSON.stringify(cell)]);
    } finally {
      await client.close();
    }

    // the execution log, and what the server's logger got
    const logs = await call('GET', `/api/v1/sessions/${sessionId}/logs`);
    expect(logs.status).toBe(200);
    answers.push(['GET logs', logs.text]);
    answers.push(['server logger', logged.join('\n')]);
    for (const [where, text] of answers) expectNoKey(text, where);
  });
});
