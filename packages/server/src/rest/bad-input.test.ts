import { randomBytes } from 'node:crypto';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits, createTestPostgresUrl, postgresSkipReason } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_DEPTH } from '../read-body.js';
import { createServer, type ToolMuxServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';

/**
 * The reported 5xx from bad input (issue "Hardening", items 1 and 6), over HTTP on both stores: NUL
 * and lone surrogates in ids, user ids, metadata and names; a proxy body without a method; deeply
 * nested custom tool schemas and tool arguments. Each is a 4xx naming the value; nothing is stored.
 */
const skipPostgres = await postgresSkipReason();

function deepSchema(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) schema = { type: 'object', properties: { a: schema } };
  return schema;
}

/** JSON text nested `depth` levels, written out (JSON.stringify of such a value overflows). */
function deepJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
}

function badInputSuite(name: string, openStore: () => Promise<{ url: string; cleanup(): Promise<void> }>) {
  describe(`bad input answers 4xx, never 5xx (${name})`, () => {
    let server: ToolMuxServer;
    let mux: ToolMux;
    let cleanup: () => Promise<void>;
    const logger = recordingLogger();
    let session: { session_id: string; mcp: { headers: { Authorization: string } } };

    beforeAll(async () => {
      const store = await openStore();
      mux = new ToolMux({
        toolkits: createSampleToolkits().toolkits,
        store: store.url,
        secretKey: randomBytes(32).toString('base64'),
        logger,
      });
      server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger });
      session = (await call('POST', '/api/v1/sessions', { user_id: 'user_1' })).json;
      cleanup = async () => {
        await mux.close();
        await store.cleanup();
      };
    });
    afterAll(() => cleanup());

    async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      const init: RequestInit = {
        method,
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
      };
      if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
      const response = await server.fetch(new Request(`http://localhost${path}`, init));
      const text = await response.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: response.status, json };
    }

    it('refuses ill-formed and control-character user ids with USER_ID_INVALID (400)', async () => {
      for (const userId of ['\ud800v1', '\udc00v1', 'u\u0000', 'a\u001bb', 'x'.repeat(257)]) {
        for (const [path, body] of [
          ['/api/v1/sessions', { user_id: userId }],
          ['/api/v1/tools/execute', { user_id: userId, tool_slug: 'TASKS_LIST_TASKS' }],
          ['/api/v1/tools/list', { user_id: userId }],
        ] as const) {
          const result = await call('POST', path, body);
          expect(result.status, JSON.stringify(result.json)).toBe(400);
          expect(result.json.error.code).toBe('USER_ID_INVALID');
        }
      }
      const nul = await call('GET', '/api/v1/sessions?user_id=u%00');
      expect(nul.json.error.code).toBe('USER_ID_INVALID');
      expect(nul.json.error.message).toContain('"u\\u0000"');
    });

    it('refuses NUL in path ids, metadata and names with a 400 naming the value', async () => {
      for (const [method, path] of [
        ['GET', '/api/v1/sessions/ses_%00'],
        ['PATCH', '/api/v1/sessions/ses_%00'],
        ['GET', '/api/v1/sessions/ses_%00/logs'],
        ['GET', '/api/v1/auth-configs/ac_%00'],
        ['DELETE', '/api/v1/connected-accounts/ca_%00'],
        ['GET', '/api/v1/connection-requests/cr_%00'],
        ['GET', '/api/v1/connected-accounts?user_ids=u%00'],
        ['GET', '/api/v1/auth-configs?toolkit=%00'],
      ]) {
        const result = await call(method!, path!, method === 'PATCH' ? { config: {} } : undefined);
        expect(result.status, `${method} ${path}: ${JSON.stringify(result.json)}`).toBeGreaterThanOrEqual(
          400,
        );
        expect(result.status, `${method} ${path}`).toBeLessThan(500);
        expect(result.json.error.message).toContain('U+0000');
      }
      const metadata = await call('POST', '/api/v1/sessions', {
        user_id: 'user_1',
        config: { metadata: { k: 'v\u0000' } },
      });
      expect(metadata.status).toBe(400);
      expect(metadata.json.error.code).toBe('CONFIG_INVALID');
      const named = await call('POST', '/api/v1/auth-configs', {
        toolkit: 'mail',
        type: 'api_key',
        name: 'n\u0000',
      });
      expect(named.status).toBe(400);
      expect(named.json.error.code).toBe('AUTH_CONFIG_INVALID');
    });

    it('answers the MCP endpoint and the connect pages for a NUL id without a 5xx, with or without credentials', async () => {
      for (const authorization of [undefined, 'Bearer x', session.mcp.headers.Authorization]) {
        const response = await server.fetch(
          new Request('http://localhost/mcp/ses_%00', {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              ...(authorization ? { authorization } : {}),
            },
            body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
          }),
        );
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
      }
      for (const method of ['GET', 'POST']) {
        const response = await server.fetch(
          new Request('http://localhost/connect/cr_%00', {
            method,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            ...(method === 'POST' ? { body: 'apiKey=k' } : {}),
          }),
        );
        expect(response.status).toBe(404);
        expect(response.headers.get('content-type')).toContain('text/html');
      }
    });

    it('refuses a proxy body without a method (GET cannot carry one) with a 400 naming the fix', async () => {
      const result = await call('POST', `/api/v1/sessions/${session.session_id}/proxy`, {
        toolkit: 'mail',
        endpoint: '/send',
        body: { to: 'a' },
      });
      expect(result.status).toBe(400);
      expect(result.json.error.message).toContain('has a body but no method');
    });

    it('answers a body that is not JSON with a 400 saying where it breaks, never quoting the body (it may hold a secret)', async () => {
      const secret = 'sk_live_4f9a2c';
      for (const body of [
        `apiKey=${secret}`, // a form post
        `{"api_key": ${secret}}`, // a value without quotes
        `{"api_key":"${secret}"`, // cut short
        `{"api_key":"${secret}"} ${secret}`, // text after the JSON
        `{"padding":"${'x'.repeat(70_000)}","api_key": ${secret}}`, // large: parsed a slice at a time
      ]) {
        const result = await call('POST', `/api/v1/sessions/${session.session_id}/execute`, body);
        expect(result.status, body.slice(0, 40)).toBe(400);
        expect(result.json.error.code).toBe('INVALID_REQUEST');
        expect(result.json.error.message).toMatch(
          /^The request body is not valid JSON \(it (breaks at character \d+|ends too soon|holds a character JSON does not allow there)\); the body is not quoted here/,
        );
        expect(result.json.error.message).not.toMatch(/sk_|api_?key|padding|xxx/i);
      }
    });

    it('refuses custom tool schemas nested past the limit, so no session exists whose search fails', async () => {
      for (const depth of [130, 200, 3_000, 4_000, 5_000]) {
        const tool = {
          slug: 'DEEP_TOOL',
          name: 'Deep',
          description: 'A tool with a deep schema.',
          toolkit: '',
          inputSchema: { type: 'object', properties: { a: '__DEEP__' } },
          annotations: {},
          tags: [],
        };
        const body = JSON.stringify({
          user_id: 'user_1',
          config: { experimental: { customTools: [tool] } },
        }).replace('"__DEEP__"', JSON.stringify(deepSchema(1)).replace('{"type":"string"}', deepJson(depth)));
        const result = await call('POST', '/api/v1/sessions', body);
        expect(result.status, `${depth}: ${JSON.stringify(result.json).slice(0, 300)}`).toBe(400);
        expect(['INVALID_REQUEST', 'TOOL_DEFINITION_INVALID']).toContain(result.json.error.code);
        expect(result.json.error.message).toMatch(/levels deep/);
      }
      expect(logger.errors).toEqual([]);
    });

    it('refuses a client log entry whose time no store can hold (years 0001–9999 in UTC) with a 400 naming it', async () => {
      const entry = (createdAt: string) => ({
        session_id: null,
        user_id: 'ignored',
        connected_account_id: null,
        tool_slug: 'TASKS_LIST_TASKS',
        toolkit: 'tasks',
        call_id: null,
        status: 'error',
        error_code: 'TOOL_ABORTED',
        error_message: 'aborted before it was sent',
        duration_ms: 0,
        input: '{}',
        output: '',
        created_at: createdAt,
      });
      const path = `/api/v1/sessions/${session.session_id}/logs`;
      // valid ISO 8601 with an offset, but year 0 (1 BC), or past 9999 once in UTC
      for (const time of ['0000-06-01T00:00:00Z', '0001-01-01T00:30:00+01:00', '9999-12-31T23:00:00-05:00']) {
        const result = await call('POST', path, { items: [entry(time)] });
        expect(result.status, JSON.stringify(result.json)).toBe(400);
        expect(result.json.error.code).toBe('INVALID_REQUEST');
        expect(result.json.error.message).toContain('created_at');
      }
      // the ends of the range are taken
      for (const time of ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '9999-12-31T18:59:59-05:00']) {
        const result = await call('POST', path, { items: [entry(time)] });
        expect(result.status, JSON.stringify(result.json)).toBe(201);
        const [id] = result.json.ids;
        const page = await call('GET', `${path}?limit=1`);
        expect(page.json.items[0]).toMatchObject({ id, created_at: new Date(time).toISOString() });
      }
    });

    it('checks the value under a "__proto__" key of metadata, credentials and other maps like any other key\'s', async () => {
      // JSON text: an object literal's __proto__ sets the prototype; JSON.parse makes it an own key,
      // which zod's records skip unchecked; the server checks it with the record's value schema
      const authConfig = (await call('POST', '/api/v1/auth-configs', { toolkit: 'mail', type: 'api_key' }))
        .json;
      const tool = (inputSchema: string) =>
        `{"slug":"PROTO_TOOL","name":"P","description":"d","toolkit":"","inputSchema":${inputSchema},"annotations":{},"tags":[]}`;
      const before = (await call('GET', '/api/v1/sessions?user_id=proto_user')).json.items.length;
      for (const [method, path, body, where] of [
        [
          'POST',
          '/api/v1/sessions',
          '{"user_id":"proto_user","config":{"metadata":{"a":"b","__proto__":5}}}',
          'body.config.metadata.__proto__',
        ],
        [
          'POST',
          '/api/v1/sessions',
          '{"user_id":"proto_user","config":{"authConfigs":{"__proto__":["ac_1"]}}}',
          'body.config.authConfigs.__proto__',
        ],
        [
          'POST',
          '/api/v1/sessions',
          '{"user_id":"proto_user","config":{"tools":{"__proto__":{"tags":{"nope":1}}}}}',
          'body.config.tools.__proto__',
        ],
        [
          'POST',
          '/api/v1/sessions',
          `{"user_id":"proto_user","config":{"experimental":{"customTools":[${tool('{"type":"object"}')}]},"metadata":{"__proto__":{}}}}`,
          'body.config.metadata.__proto__',
        ],
        [
          'PATCH',
          `/api/v1/sessions/${session.session_id}`,
          '{"config":{"metadata":{"__proto__":null}}}',
          'body.config.metadata.__proto__',
        ],
        [
          'POST',
          '/api/v1/connected-accounts',
          `{"user_id":"proto_user","auth_config_id":"${authConfig.id}","credentials":{"apiKey":"k","__proto__":7}}`,
          'body.credentials.__proto__',
        ],
        [
          'POST',
          '/api/v3.1/tool_router/session',
          '{"user_id":"proto_user","auth_configs":{"__proto__":false}}',
          'body.auth_configs.__proto__',
        ],
      ] as const) {
        const result = await call(method, path, body);
        expect(result.status, `${method} ${path} ${body}: ${JSON.stringify(result.json)}`).toBe(400);
        expect(result.json.error.code).toBe('INVALID_REQUEST');
        expect(result.json.error.message).toContain(where);
        expect(result.json.error.message).not.toContain('cannot be stored');
      }
      expect((await call('GET', '/api/v1/sessions?user_id=proto_user')).json.items).toHaveLength(before);
      expect((await call('GET', '/api/v1/connected-accounts?user_ids=proto_user')).json.items).toEqual([]);
      expect((await call('GET', `/api/v1/sessions/${session.session_id}`)).json.metadata).toEqual({});
      // a valid value is kept as an own key, at the top of a schema and below it, and in tool arguments
      for (const inputSchema of [
        '{"type":"object","__proto__":{"type":"string"}}',
        '{"type":"object","properties":{"__proto__":{"type":"string"}}}',
      ]) {
        const created = await call(
          'POST',
          '/api/v1/sessions',
          `{"user_id":"proto_user","config":{"experimental":{"customTools":[${tool(inputSchema)}]}}}`,
        );
        expect(created.status, JSON.stringify(created.json)).toBe(201);
      }
      const run = await call(
        'POST',
        `/api/v1/sessions/${session.session_id}/execute`,
        '{"tool_slug":"TASKS_CREATE_TASK","arguments":{"title":"t","__proto__":{"x":1}}}',
      );
      expect(run.status, JSON.stringify(run.json)).toBe(200);
    });

    it('refuses a blank use_case of a Composio search with a 400 naming the field', async () => {
      const composio = (await call('POST', '/api/v3.1/tool_router/session', { user_id: 'user_1' })).json;
      for (const useCase of [' ', '\n\t ', '\u00a0\u2028']) {
        const result = await call('POST', `/api/v3.1/tool_router/session/${composio.session_id}/search`, {
          queries: [{ use_case: 'send an email' }, { use_case: useCase }],
        });
        expect(result.status, JSON.stringify(result.json)).toBe(400);
        expect(result.json.error.code).toBe('INVALID_REQUEST');
        expect(result.json.error.message).toContain('body.queries[1].use_case');
      }
    });

    it('refuses tool arguments nested past the limit, or with an object of more than 100,000 keys, before the tool runs, REST and MCP alike', async () => {
      for (const depth of [150, 4_000, 10_000]) {
        const body = `{"tool_slug":"TASKS_CREATE_TASK","arguments":{"title":"t","labels":[${deepJson(depth)}]}}`;
        const result = await call('POST', `/api/v1/sessions/${session.session_id}/execute`, body);
        expect(result.status).toBeLessThan(500);
        const code = result.status === 200 ? result.json.code : result.json.error.code;
        expect(code).toMatch(/^(TOOL_ARGUMENTS_INVALID|INVALID_REQUEST)$/);
        expect(JSON.stringify(result.json)).not.toContain('Maximum call stack');
      }
      // just past the tool limit but within the body limit: the tool's answer, a result the model reads
      const within = await call(
        'POST',
        `/api/v1/sessions/${session.session_id}/execute`,
        `{"tool_slug":"TASKS_CREATE_TASK","arguments":{"title":"t","labels":[${deepJson(MAX_BODY_DEPTH - 10)}]}}`,
      );
      expect(within.status).toBe(200);
      expect(within.json).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      // a tools/call of TASKS_CREATE_TASK whose labels are `labels` (JSON text) over MCP
      const mcpCall = (labels: string) =>
        server.fetch(
          new Request(`http://localhost/mcp/${session.session_id}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              authorization: session.mcp.headers.Authorization,
            },
            body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"TASKS_CREATE_TASK","arguments":{"title":"t","labels":${labels}}}}`,
          }),
        );
      const mcp = await mcpCall(`[${deepJson(5_000)}]`);
      expect(mcp.status).toBe(400);
      expect(await mcp.text()).toContain('levels deep');
      // an object of more than 100,000 keys is refused while the body is parsed, before its keys
      // are listed (REST and MCP alike); it was listed to refuse the arguments
      const keys = Array.from({ length: 100_001 }, (_, i) => `"${i.toString(36)}":0`).join(',');
      const wide = await call(
        'POST',
        `/api/v1/sessions/${session.session_id}/execute`,
        `{"tool_slug":"TASKS_CREATE_TASK","arguments":{"title":"t","labels":{${keys}}}}`,
      );
      expect(wide.status).toBe(400);
      expect(wide.json.error.message).toContain('an object of more than 100000 keys');
      const mcpWide = await mcpCall(`{${keys}}`);
      expect(mcpWide.status).toBe(400);
      expect(await mcpWide.text()).toContain('an object of more than 100000 keys');
    });
  });
}

badInputSuite('sqlite', async () => ({ url: ':memory:', cleanup: async () => {} }));

describe.skipIf(skipPostgres !== undefined)(`postgres ${skipPostgres ?? ''}`, () => {
  badInputSuite('postgres', () => createTestPostgresUrl());
});
