import { ToolMux, ToolMuxError } from '@toolmux/core';
import { pingToolkit, startSizedApi } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';

/**
 * How much of an API's answer a proxy call reads on a server: the operator's `proxyMaxResponseBytes`
 * (1 KiB here), and less when a request asks with `max_response_bytes` (REST) / `maxResponseBytes`
 * (remote mode); Composio's `proxy_execute` reads up to the operator's limit.
 */

let api: Awaited<ReturnType<typeof startSizedApi>>;
let mux: ToolMux;
let running: RunningServer;
let remote: ToolMux;
let sessionId: string;

beforeAll(async () => {
  api = await startSizedApi();
  const sized = pingToolkit({
    slug: 'sized',
    baseUrl: api.url,
    description: 'An API that answers as many bytes as asked',
  });
  const logger = recordingLogger();
  mux = new ToolMux({ toolkits: [sized], store: ':memory:', logger, proxyMaxResponseBytes: 1024 });
  running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger }).serve({ port: 0 });
  remote = new ToolMux({ baseUrl: running.url, apiKey: TEST_API_KEY });
  sessionId = (await mux.create('user_1', { toolkits: ['sized'] })).sessionId;
});
afterAll(async () => {
  await remote.close();
  await running.close();
  await mux.close();
  await api.close();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${running.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as any };
}

const proxy = (body: Record<string, unknown>) =>
  post(`/api/v1/sessions/${sessionId}/proxy`, { toolkit: 'sized', ...body });

describe('POST /api/v1/sessions/:id/proxy with max_response_bytes', () => {
  it("reads up to the server's proxyMaxResponseBytes by default, and a request's max_response_bytes less", async () => {
    expect(await proxy({ endpoint: '/sized/1024' })).toMatchObject({ status: 200, json: { status: 200 } });
    expect(await proxy({ endpoint: '/sized/1025' })).toMatchObject({
      status: 422,
      json: {
        error: {
          code: 'PROXY_RESPONSE_TOO_LARGE',
          message:
            "sized's API answered GET /sized/1025 with more than 1 KiB, more than a proxy call reads: ask for less (a filter, a smaller page or a narrower range).",
        },
      },
    });
    const small = await proxy({ endpoint: '/sized/10', max_response_bytes: 10 });
    expect(small).toMatchObject({ status: 200, json: { data: 'a'.repeat(10) } });
    expect(await proxy({ endpoint: '/sized/11', max_response_bytes: 10 })).toMatchObject({
      status: 422,
      json: {
        error: {
          code: 'PROXY_RESPONSE_TOO_LARGE',
          message:
            "sized's API answered GET /sized/11 with more than 10 bytes, more than this proxy call reads: ask for less (a filter, a smaller page or a narrower range), or pass a larger max_response_bytes (up to 1024).",
        },
      },
    });
  });

  it("refuses more than the server's limit, and a value that is not a whole number of bytes, naming the field", async () => {
    expect(await proxy({ endpoint: '/sized/1', max_response_bytes: 1025 })).toMatchObject({
      status: 400,
      json: {
        error: {
          code: 'INVALID_REQUEST',
          message:
            'max_response_bytes 1025 is more than a proxy call of this ToolMux reads: 1024 (1 KiB, its proxyMaxResponseBytes). Ask for 1024 or less; the operator raises the limit with proxyMaxResponseBytes in the ToolMux options (a toolmux server: its config file or TOOLMUX_PROXY_MAX_RESPONSE_BYTES).',
        },
      },
    });
    for (const value of [0, 1.5, '10', null]) {
      const refused = await proxy({ endpoint: '/sized/1', max_response_bytes: value });
      expect(refused.status, String(value)).toBe(400);
      expect(refused.json.error.message, String(value)).toContain('max_response_bytes');
    }
  });

  it('is in the OpenAPI document: a whole number, 1 or more', async () => {
    const response = await fetch(`${running.url}/api/v1/openapi.json`);
    const document = (await response.json()) as any;
    expect(document.components.schemas.ProxyRequest.properties.max_response_bytes).toMatchObject({
      type: 'integer',
      minimum: 1,
    });
  });
});

describe('remote mode: proxyExecute({ maxResponseBytes })', () => {
  it("reads what it asks for, up to the server's limit, in the SDK's words", async () => {
    const session = await remote.use(sessionId);
    expect(
      await session.proxyExecute({ toolkit: 'sized', endpoint: '/sized/10', maxResponseBytes: 10 }),
    ).toMatchObject({
      status: 200,
      data: 'a'.repeat(10),
    });
    const cut = await session
      .proxyExecute({ toolkit: 'sized', endpoint: '/sized/11', maxResponseBytes: 10 })
      .catch((error: unknown) => error);
    expect(ToolMuxError.isInstance(cut) && cut.code).toBe('PROXY_RESPONSE_TOO_LARGE');
    expect((cut as ToolMuxError).message).toContain('or pass a larger maxResponseBytes (up to 1024).');
    const above = await session
      .proxyExecute({ toolkit: 'sized', endpoint: '/sized/1', maxResponseBytes: 1025 })
      .catch((error: unknown) => error);
    expect(ToolMuxError.isInstance(above) && above.code).toBe('INVALID_REQUEST');
    expect((above as ToolMuxError).message).toMatch(
      /^maxResponseBytes 1025 is more than a proxy call of this ToolMux reads: 1024/,
    );
    // a value that is no number of bytes is refused as embedded, before any request
    const bad = await session
      .proxyExecute({ toolkit: 'sized', endpoint: '/sized/1', maxResponseBytes: 0 })
      .catch((error: unknown) => error);
    expect(ToolMuxError.isInstance(bad) && bad.code).toBe('INVALID_REQUEST');
    expect((bad as ToolMuxError).message).toBe(
      "maxResponseBytes must be a whole number of bytes, 1 or more (at most the ToolMux's proxyMaxResponseBytes, 32 MiB unless its operator set it); got number 0. Leave it out to read up to that limit.",
    );
  });

  it('a remote ToolMux refuses proxyMaxResponseBytes: the server owns it', () => {
    expect(
      () => new ToolMux({ baseUrl: running.url, apiKey: TEST_API_KEY, proxyMaxResponseBytes: 1024 }),
    ).toThrow(/^proxyMaxResponseBytes configure an embedded ToolMux/);
  });
});

describe("Composio's proxy_execute", () => {
  it("reads up to the server's proxyMaxResponseBytes, and refuses a max_response_bytes (Composio has none)", async () => {
    const headers = { 'x-api-key': TEST_API_KEY };
    const created = await post(
      '/api/v3.1/tool_router/session',
      { user_id: 'user_2', toolkits: ['sized'] },
      headers,
    );
    expect(created.status).toBe(201);
    const path = `/api/v3.1/tool_router/session/${created.json.session_id}/proxy_execute`;
    const call = (endpoint: string, extra: Record<string, unknown> = {}) =>
      post(path, { toolkit_slug: 'sized', endpoint, method: 'GET', ...extra }, headers);
    expect(await call('/sized/1024')).toMatchObject({ status: 200, json: { status: 200 } });
    const tooLarge = await call('/sized/1025');
    expect(tooLarge.status).toBe(422);
    expect(JSON.stringify(tooLarge.json)).toContain('with more than 1 KiB, more than a proxy call reads');
    expect((await call('/sized/1', { max_response_bytes: 10 })).status).toBe(400);
  });
});
