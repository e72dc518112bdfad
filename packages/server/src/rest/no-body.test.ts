import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A body sent to a route that takes none (`POST /connected-accounts/:id/enable`, every `DELETE`, …)
 * was ignored: `{"x":1}` on `/enable` answered 200, though an unknown query parameter on the same
 * route was refused. It is now a 400 naming the route; an empty body and `{}` (what clients send for
 * "nothing") still pass, and a large body is refused without being read. The routes come from the
 * OpenAPI document, so a new route is covered.
 */

let server: TestServer;
/** Ids of real resources, by path parameter name. */
const real: Record<string, string> = {};

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
  const mail = await server.embedded.authConfigs.create('mail', { type: 'api_key' });
  const account = await server.embedded.connectedAccounts.create('user_nobody', mail.id, { apiKey: 'key-1' });
  real.sessionId = (await server.embedded.create('user_nobody')).sessionId;
  real.authConfigId = mail.id;
  real.connectedAccountId = account.id;
});
afterAll(() => server.close());

/** Every `/api/v1` operation that takes no body, as `[METHOD, path with :params]` (GETs aside). */
async function noBodyRoutes(): Promise<Array<[string, string]>> {
  const document = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { requestBody?: unknown }>>;
  };
  const routes: Array<[string, string]> = [];
  for (const [path, operations] of Object.entries(document.paths)) {
    if (!path.startsWith('/api/v1/')) continue;
    for (const [method, operation] of Object.entries(operations)) {
      if (!['post', 'patch', 'put', 'delete'].includes(method) || operation.requestBody) continue;
      routes.push([method.toUpperCase(), path.replace(/\{(\w+)\}/g, ':$1')]);
    }
  }
  return routes;
}

function pathWith(route: string, ids: Record<string, string>): string {
  return route.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(ids[name] ?? `missing_${name}`));
}

/** Sends `body` as is: a string with its Content-Length, chunks with `Transfer-Encoding: chunked`. */
function send(
  method: string,
  path: string,
  body?: string | string[],
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; json: Record<string, any> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.apiKey}`,
        'x-api-key': server.apiKey,
        ...headers,
        ...(typeof body === 'string' ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
        // (Node.js frames a DELETE's body by neither header unless told)
        ...(Array.isArray(body) ? { 'transfer-encoding': 'chunked' } : {}),
      },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, json: text === '' ? {} : JSON.parse(text) }),
      );
    });
    if (Array.isArray(body)) for (const chunk of body) request.write(chunk);
    request.end(typeof body === 'string' ? body : undefined);
  });
}

describe('a route that takes no body', () => {
  it('refuses a body that carries something with a 400 naming the route, on every such route, and leaves the resource as it was', async () => {
    const routes = await noBodyRoutes();
    // the document lists them: enable, disable, refresh, rotate and the deletes among them
    expect(routes.length).toBeGreaterThanOrEqual(7);
    expect(routes).toContainEqual(['POST', '/api/v1/connected-accounts/:connectedAccountId/enable']);
    for (const [method, route] of routes) {
      const path = pathWith(route, real);
      const name = `${method} ${route}`;
      for (const [body, advice] of [
        ['{"x":1}', 'leave out "x"'],
        ['{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7}', 'leave out "a", "b", "c", "d", "e" and 2 more'],
        ['[]', 'leave out the body (it held an array)'],
        ['null', 'leave out the body (it held null)'],
        ['"enable"', 'leave out the body (it held "enable")'],
        ['{"x":', 'leave out the body'],
        [' '.repeat(1024) + '{"x":1}', `leave out the body (${1024 + 7} bytes were sent)`],
        [['{"x"', ':1}'], 'leave out "x"'],
        [
          Array.from({ length: 8 }, () => ' '.repeat(200)),
          'leave out the body (more than 1024 bytes were sent)',
        ],
      ] as const) {
        const answer = await send(method, path, typeof body === 'string' ? body : [...body]);
        expect(answer.status, `${name} ${body}`).toBe(400);
        expect(answer.json.error, `${name} ${body}`).toEqual({
          code: 'INVALID_REQUEST',
          message: `${name} takes no body: ${advice}; send no body, or {}.`,
        });
      }
      // a body that is not JSON at all, whatever its type says
      const text = await send(method, path, 'enable=true', { 'content-type': 'text/plain' });
      expect(text.json.error.message, name).toBe(
        `${name} takes no body: leave out the body; send no body, or {}.`,
      );
      // a field the path holds already is told so
      const [, parameter] = /:(\w+)/.exec(route)!;
      const snake = parameter!.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      const named = await send(method, path, JSON.stringify({ [snake]: real[parameter!], x: 1 }));
      expect(named.json.error.message, name).toBe(
        `${name} takes no body: leave out "x"; leave out "${snake}": the path names it (:${parameter}); send no body, or {}.`,
      );
    }
    // none of the refused requests ran: the resources are all there, the account enabled
    for (const path of [
      `/api/v1/sessions/${real.sessionId}`,
      `/api/v1/auth-configs/${real.authConfigId}`,
      `/api/v1/connected-accounts/${real.connectedAccountId}`,
    ]) {
      expect((await send('GET', path)).status, path).toBe(200);
    }
    expect((await send('GET', `/api/v1/connected-accounts/${real.connectedAccountId}`)).json.status).toBe(
      'ACTIVE',
    );
  });

  it('takes no body, an empty one, {} and blank space around it, declared or chunked, on every such route', async () => {
    for (const [method, route] of await noBodyRoutes()) {
      // ids of nothing: a request that passed the body's check is the route's 404
      const path = pathWith(route, {});
      for (const body of [undefined, '', '{}', ' { }\r\n', ['', '{', '}'], ['  ']]) {
        const answer = await send(
          method,
          path,
          typeof body === 'string' || body === undefined ? body : [...body],
        );
        expect(answer.status, `${method} ${route} ${JSON.stringify(body)}`).toBe(404);
      }
    }
  });

  it('refuses a large declared body unread, without inviting its upload with 100 Continue', async () => {
    const socket = connect({ port: Number(new URL(server.url).port), host: '127.0.0.1' });
    await once(socket, 'connect');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', () => {});
    const route = '/api/v1/connected-accounts/:connectedAccountId/disable';
    socket.write(
      [
        `POST ${pathWith(route, real)} HTTP/1.1`,
        'Host: x',
        `Authorization: Bearer ${server.apiKey}`,
        'Content-Type: application/json',
        'Content-Length: 5000000',
        'Expect: 100-continue',
        '',
        '',
      ].join('\r\n'),
    );
    await expect.poll(() => text, { timeout: 5000 }).toContain('"INVALID_REQUEST"');
    socket.destroy();
    expect(text).not.toContain('100 Continue');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain(`POST ${route} takes no body: leave out the body (5000000 bytes were sent)`);
  });

  it('runs the route with {} or no body, as the remote client sends them', async () => {
    const mux = server.remote();
    const disabled = await mux.connectedAccounts.disable(real.connectedAccountId!);
    expect(disabled.status).toBe('INACTIVE');
    const enabled = await send('POST', `/api/v1/connected-accounts/${real.connectedAccountId}/enable`, '{}');
    expect(enabled.status).toBe(200);
    expect(enabled.json.status).toBe('ACTIVE');
    // the remote session posts {} to rotate its MCP token
    const session = await mux.use((await mux.create('user_nobody')).sessionId);
    await expect(session.rotateMcpToken()).resolves.toMatchObject({ url: expect.any(String) });
  });

  it("refuses a body on the Composio-compatible DELETE of a session in Composio's envelope; its clients send none", async () => {
    const created = await send(
      'POST',
      '/api/v3.1/tool_router/session',
      JSON.stringify({ user_id: 'user_nobody' }),
    );
    const path = `/api/v3.1/tool_router/session/${created.json.session_id}`;
    const refused = await send('DELETE', path, '{"session_id":"x"}');
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ status: 400, code: 'INVALID_REQUEST' });
    expect(refused.json.message).toContain(
      'DELETE /api/v3.1/tool_router/session/:sessionId takes no body: leave out "session_id": the path names it (:sessionId)',
    );
    const deleted = await send('DELETE', path, undefined, {});
    expect(deleted.status).toBe(200);
    expect(deleted.json).toMatchObject({ deleted: true });
  });
});
