import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * Answers behind the project API key can carry secrets: a session's MCP token (in `mcp.url` and
 * `mcp.headers`), a connection link. Every one of them is sent with `Cache-Control: no-store`, so
 * that neither a browser's cache nor a proxy keeps a copy (the connect pages and /metrics already
 * did). The public OpenAPI document holds none and may be cached.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

async function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: response.status,
    cache: response.headers.get('cache-control'),
    json: (await response.json()) as any,
  };
}

describe('Cache-Control of answers that carry secrets', () => {
  it('REST answers with an MCP token or a connection link are no-store, as is every answer behind the key', async () => {
    const created = await send('POST', '/api/v1/sessions', {
      user_id: 'cache_user',
      config: { toolkits: ['mail'] },
    });
    const id = created.json.session_id as string;
    const token = (created.json.mcp.headers.Authorization as string).replace(/^Bearer /, '');
    const authConfig = await send('POST', '/api/v1/auth-configs', { toolkit: 'mail', type: 'api_key' });
    const link = await send('POST', '/api/v1/connected-accounts/link', {
      user_id: 'cache_user',
      auth_config_id: authConfig.json.id,
    });
    const authorize = await send('POST', `/api/v1/sessions/${id}/authorize`, { toolkit: 'mail' });
    const answers = {
      'POST /sessions': created,
      'GET /sessions/:id': await send('GET', `/api/v1/sessions/${id}`),
      'POST /sessions/:id/mcp-token/rotate': await send('POST', `/api/v1/sessions/${id}/mcp-token/rotate`),
      'POST /connected-accounts/link': link,
      'POST /sessions/:id/authorize': authorize,
      'GET /connection-requests/:id': await send('GET', `/api/v1/connection-requests/${link.json.id}`),
      'GET /toolkits': await send('GET', '/api/v1/toolkits'),
    };
    for (const [name, answer] of Object.entries(answers)) {
      expect([name, answer.status < 300, answer.cache]).toEqual([name, true, 'no-store']);
    }
    // the answers checked hold what must not be kept
    expect(JSON.stringify(created.json)).toContain(token);
    expect(link.json.redirect_url).toMatch(/\/connect\/cr_/);
    expect(authorize.json.redirect_url).toMatch(/\/connect\/cr_/);
  });

  it('the Composio-compatible routes answer a session (its MCP URL) and a link no-store too', async () => {
    const headers = { authorization: '', 'x-api-key': server.apiKey };
    const session = await send('POST', '/api/v3.1/tool_router/session', { user_id: 'cache_user' }, headers);
    const link = await send(
      'POST',
      `/api/v3.1/tool_router/session/${session.json.session_id}/link`,
      { toolkit: 'mail' },
      headers,
    );
    expect([session.status, session.cache, session.json.mcp.url]).toEqual([
      201,
      'no-store',
      expect.any(String),
    ]);
    expect([link.status, link.cache, link.json.redirect_url]).toEqual([
      201,
      'no-store',
      expect.stringContaining('/connect/cr_'),
    ]);
  });

  it('the public OpenAPI document holds no secret and may be cached', async () => {
    const document = await send('GET', '/api/v1/openapi.json', undefined, { authorization: '' });
    expect([document.status, document.cache]).toEqual([200, null]);
  });
});
