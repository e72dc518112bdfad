import { Validator } from '@seriousme/openapi-schema-validator';
import { SESSION_CONFIG_BOUNDS } from '@toolmux/core/internal';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionCache } from '../session-cache.js';
import { createTestServer, mcpRequest, TEST_API_KEY } from '../test-helpers.js';
import { apiRoutes } from './api.js';

const { mux, server } = createTestServer();
afterAll(() => mux.close());

async function fetchDocument() {
  const response = await server.fetch(new Request('http://localhost/api/v1/openapi.json'));
  return { response, text: await response.text() };
}

describe('GET /api/v1/openapi.json', () => {
  it('is public JSON', async () => {
    const { response, text } = await fetchDocument();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(() => JSON.parse(text)).not.toThrow();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every route the server answers, with its method', async () => {
    const document = JSON.parse((await fetchDocument()).text) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const routes = apiRoutes({
      toolmux: mux,
      sessions: new SessionCache({ toolmux: mux }),
      version: '0.0.0',
    });
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => key !== 'parameters')
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    const served = routes.map(
      (route) => `${route.method.toUpperCase()} /api/v1${route.path.replace(/:(\w+)/g, '{$1}')}`,
    );
    expect(documented.sort()).toEqual(
      [...served, 'POST /mcp/{sessionId}', 'GET /mcp/{sessionId}', 'DELETE /mcp/{sessionId}'].sort(),
    );
    expect(served).toEqual(
      expect.arrayContaining([
        'POST /api/v1/sessions',
        'GET /api/v1/sessions',
        'GET /api/v1/sessions/{sessionId}',
        'PATCH /api/v1/sessions/{sessionId}',
        'POST /api/v1/sessions/{sessionId}/mcp-token/rotate',
        'GET /api/v1/sessions/{sessionId}/tools',
        'POST /api/v1/sessions/{sessionId}/execute',
        'POST /api/v1/sessions/{sessionId}/search',
        'GET /api/v1/sessions/{sessionId}/toolkits',
        'GET /api/v1/sessions/{sessionId}/logs',
        'POST /api/v1/sessions/{sessionId}/logs',
        'POST /api/v1/sessions/{sessionId}/proxy',
        'POST /api/v1/tools/list',
        'GET /api/v1/toolkits',
        'GET /api/v1/toolkits/{slug}',
        'POST /api/v1/tools/execute',
        'POST /api/v1/sessions/{sessionId}/authorize',
        'POST /api/v1/auth-configs',
        'GET /api/v1/auth-configs',
        'GET /api/v1/auth-configs/{authConfigId}',
        'PATCH /api/v1/auth-configs/{authConfigId}',
        'DELETE /api/v1/auth-configs/{authConfigId}',
        'POST /api/v1/connected-accounts',
        'POST /api/v1/connected-accounts/link',
        'GET /api/v1/connected-accounts',
        'GET /api/v1/connected-accounts/{connectedAccountId}',
        'DELETE /api/v1/connected-accounts/{connectedAccountId}',
        'POST /api/v1/connected-accounts/{connectedAccountId}/refresh',
        'POST /api/v1/connected-accounts/{connectedAccountId}/disable',
        'POST /api/v1/connected-accounts/{connectedAccountId}/enable',
        'GET /api/v1/connection-requests/{connectionRequestId}',
        'POST /api/v1/connection-requests/{connectionRequestId}/complete',
        'GET /api/v1/openapi.json',
      ]),
    );
  });

  it('documents request bodies, parameters and errors from the validating schemas', async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const create = document.paths['/api/v1/sessions'].post;
    expect(create.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/CreateSessionRequest',
    });
    expect(document.components.schemas.CreateSessionRequest).toMatchObject({
      type: 'object',
      required: ['user_id'],
      additionalProperties: false,
    });
    // a toolkit's keywords are part of its listing
    expect(document.components.schemas.Toolkit.required).toContain('keywords');
    expect(document.components.schemas.Toolkit.properties.keywords).toMatchObject({
      type: 'array',
      items: { type: 'string' },
    });
    expect(document.components.schemas.SessionConfig.properties.sessionPreset.enum).toEqual([
      'META_TOOLS',
      'DIRECT_TOOLS',
    ]);
    expect(create.responses['201'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/Session',
    );
    expect(create.responses['401'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/Error',
    );
    const list = document.paths['/api/v1/sessions'].get;
    expect(list.parameters).toContainEqual(
      expect.objectContaining({
        name: 'limit',
        in: 'query',
        required: false,
        schema: expect.objectContaining({ maximum: 1000 }),
      }),
    );
    // a remote client's multi-execute names its own entry as the parent of the calls it sends
    expect(document.components.schemas.ExecuteInSessionRequest.properties.parent_id).toMatchObject({
      type: 'string',
      maxLength: 128,
      description: expect.stringContaining('the id the client will upload that entry under'),
    });
    expect(document.paths['/api/v1/openapi.json'].get.security).toEqual([]);
    expect(document.components.schemas.Error.properties.error.properties.code.enum).toContain(
      'SESSION_NOT_FOUND',
    );
    expect(JSON.stringify(document)).not.toContain('$schema');
  });
});

describe('the routes that run a tool call', () => {
  /** Every description under a schema, its $refs followed (each component once). */
  function descriptions(
    schema: unknown,
    components: Record<string, unknown>,
    seen = new Set<string>(),
  ): string[] {
    if (typeof schema !== 'object' || schema === null) return [];
    if (Array.isArray(schema)) return schema.flatMap((item) => descriptions(item, components, seen));
    const found: string[] = [];
    for (const [key, value] of Object.entries(schema)) {
      if (key === 'description' && typeof value === 'string') found.push(value);
      else if (key === '$ref' && typeof value === 'string') {
        const name = value.replace('#/components/schemas/', '');
        if (!seen.has(name)) {
          seen.add(name);
          found.push(...descriptions(components[name], components, seen));
        }
      } else found.push(...descriptions(value, components, seen));
    }
    return found;
  }

  it('promise no HTTP status for what the call answers as a failed result (a 200)', async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const components = document.components.schemas as Record<string, unknown>;
    const operations = Object.values(document.paths as Record<string, Record<string, any>>)
      .flatMap((methods) => Object.values(methods))
      .filter(
        (operation) =>
          operation.responses?.['200']?.content?.['application/json']?.schema?.$ref ===
          '#/components/schemas/ToolResult',
      );
    expect(operations.map((operation) => operation.operationId).sort()).toEqual([
      'executeInSession',
      'executeTool',
    ]);
    const promised: string[] = [];
    for (const operation of operations) {
      const texts = [
        operation.summary,
        operation.description,
        ...descriptions(operation.requestBody, components),
      ].filter((text): text is string => typeof text === 'string');
      for (const text of texts) {
        // "403 ACCOUNT_NOT_IN_SESSION": only a request refused before the call runs is an HTTP error
        for (const [, status, code] of text.matchAll(/\b([45]\d\d) ([A-Z][A-Z_]+)\b/g)) {
          if (code !== 'INVALID_REQUEST')
            promised.push(`${operation.operationId}: ${status} ${code} in "${text}"`);
        }
      }
    }
    expect(promised).toEqual([]);
    expect(components.ExecuteInSessionRequest).toMatchObject({
      properties: {
        account: { description: expect.stringContaining('successful: false, code ACCOUNT_NOT_IN_SESSION') },
      },
    });
  });
});

describe('the published SessionConfig', () => {
  /** Every number of the schema with a minimum and a maximum, by its path (walked, not listed here). */
  function boundedNumbers(
    schema: Record<string, unknown>,
    path: string[] = [],
  ): [string[], number, number][] {
    const found: [string[], number, number][] = [];
    if (typeof schema.minimum === 'number' && typeof schema.maximum === 'number') {
      found.push([path, schema.minimum, schema.maximum]);
    }
    for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, unknown>)) {
      found.push(...boundedNumbers(property as Record<string, unknown>, [...path, name]));
    }
    return found;
  }
  const configAt = (path: string[], value: number): Record<string, unknown> => {
    const config: Record<string, unknown> = {};
    let holder = config;
    for (const name of path.slice(0, -1)) {
      holder[name] = name === 'multiAccount' ? { enable: true } : {};
      holder = holder[name] as Record<string, unknown>;
    }
    holder[path[path.length - 1]!] = value;
    return config;
  };

  it('publishes the bounds the server takes: each bounded number is taken at its bounds and refused past them', async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const bounded = boundedNumbers(document.components.schemas.SessionConfig);
    // the workbench's three and multiAccount's (a client generated from the document sent values core refused)
    expect(bounded.map(([path]) => path.join('.')).sort()).toEqual([
      'multiAccount.maxAccountsPerToolkit',
      'workbench.autoOffloadThreshold',
      'workbench.memoryMb',
      'workbench.timeoutMs',
    ]);
    for (const [path, least, most] of bounded) {
      for (const [value, taken] of [
        [least, true],
        [most, true],
        [least - 1, false],
        [most + 1, false],
      ] as const) {
        const response = await server.fetch(
          new Request('http://localhost/api/v1/sessions', {
            method: 'POST',
            headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ user_id: 'user_bounds', config: configAt(path, value) }),
          }),
        );
        expect(response.status, `${path.join('.')} = ${value}: ${await response.clone().text()}`).toBe(
          taken ? 201 : 400,
        );
        if (!taken) expect(await response.text()).toContain(path.join('.'));
      }
    }
  });

  it("publishes the metadata's count of keys, taken at it and refused past it", async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const most = document.components.schemas.SessionConfig.properties.metadata.maxProperties;
    expect(most).toBe(SESSION_CONFIG_BOUNDS.metadata.keys);
    for (const [count, taken] of [
      [most, true],
      [most + 1, false],
    ] as const) {
      const metadata = Object.fromEntries(Array.from({ length: count }, (_, n) => [`k${n}`, 'v']));
      const response = await server.fetch(
        new Request('http://localhost/api/v1/sessions', {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: 'user_bounds', config: { metadata } }),
        }),
      );
      expect(response.status, `${count} keys: ${await response.clone().text()}`).toBe(taken ? 201 : 400);
      if (!taken) expect(await response.text()).toContain('metadata');
    }
  });

  it('says that a filter takes enable or disable, not both, as the server answers', async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const [, filter] = document.components.schemas.SessionConfig.properties.toolkits.anyOf;
    expect(filter.description).toContain('CONFIG_CONFLICT');
    const response = await server.fetch(
      new Request('http://localhost/api/v1/sessions', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          user_id: 'user_bounds',
          config: { toolkits: { enable: ['a'], disable: ['b'] } },
        }),
      }),
    );
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe('CONFIG_CONFLICT');
  });
});

describe('the error responses of the document', () => {
  /** The responses the document declares for `method path` (a served path, ids in it). */
  function declared(document: any, method: string, path: string): Record<string, any> {
    const template = Object.keys(document.paths).find(
      (candidate) =>
        new RegExp(`^${candidate.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path) &&
        document.paths[candidate][method],
    );
    expect(template, `${method.toUpperCase()} ${path} is in the document`).toBeDefined();
    return document.paths[template!][method].responses;
  }

  async function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await server.fetch(
      new Request(`http://localhost${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TEST_API_KEY}`,
          'content-type': 'application/json',
          ...Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
        },
        body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { status: response.status, json: (await response.json()) as any };
  }

  it('cover every error status a route answers (a generated client reads its body as an Error)', async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const created = await send('POST', '/api/v1/sessions', { user_id: 'user_statuses' });
    const sessionId = created.json.session_id as string;
    await send('PATCH', `/api/v1/sessions/${sessionId}`, { config: { toolkits: ['tasks'] } });
    const config = await send('POST', '/api/v1/auth-configs', { toolkit: 'mail', type: 'api_key' });
    const account = {
      user_id: 'user_statuses',
      auth_config_id: config.json.id,
      credentials: { apiKey: 'k' },
    };
    await send('POST', '/api/v1/connected-accounts', { ...account, alias: 'work' });
    const errors: [string, string, unknown, number, string][] = [
      [
        'post',
        '/api/v1/sessions',
        { user_id: 'u', config: { toolkits: ['nosuch'] } },
        404,
        'TOOLKIT_NOT_FOUND',
      ],
      [
        'patch',
        `/api/v1/sessions/${sessionId}`,
        { config: {}, expected_version: 1 },
        409,
        'SESSION_VERSION_CONFLICT',
      ],
      [
        'post',
        '/api/v1/tools/list',
        { user_id: 'u', filter: { toolkits: ['nosuch'] } },
        404,
        'TOOLKIT_NOT_FOUND',
      ],
      ['post', '/api/v1/auth-configs', { toolkit: 'nosuch', type: 'api_key' }, 404, 'TOOLKIT_NOT_FOUND'],
      ['post', '/api/v1/connected-accounts', { ...account, alias: 'work' }, 409, 'ALIAS_TAKEN'],
      [
        'post',
        '/api/v1/connected-accounts',
        { ...account, auth_config_id: 'ac_01m960j41h01xcey49m91a8v5pyqa31jqd0spg' },
        404,
        'AUTH_CONFIG_NOT_FOUND',
      ],
    ];
    for (const [method, path, body, status, code] of errors) {
      const answer = await send(method.toUpperCase(), path, body);
      expect([answer.status, answer.json.error?.code], `${method} ${path}`).toEqual([status, code]);
      const responses = declared(document, method, path);
      const response = responses[String(status)] ?? responses.default;
      expect(response, `${method.toUpperCase()} ${path} declares ${status} or a default`).toBeDefined();
      expect(response.content['application/json'].schema.$ref).toBe('#/components/schemas/Error');
    }
  });

  it("list the MCP endpoint's refusals of a request with their statuses", async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const session = await mux.create('user_statuses', { toolkits: ['tasks'] });
    const path = `/mcp/${session.sessionId}`;
    const headers = { ...session.mcp.headers, accept: 'application/json, text/event-stream' };
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const refusals: [string, Record<string, string>, number, string][] = [
      [ping, { accept: 'text/html' }, 406, 'INVALID_REQUEST'],
      [ping, { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [`[${'0,'.repeat(600_000)}0]`, {}, 413, 'REQUEST_TOO_LARGE'],
    ];
    const responses = declared(document, 'post', path);
    for (const [body, extra, status, code] of refusals) {
      const answer = await send('POST', path, body, { ...headers, ...extra });
      expect([answer.status, answer.json.error.data.code]).toEqual([status, code]);
      expect(Object.keys(responses)).toContain(String(status));
    }
  });
});

describe('what the document says a request needs, against what the server takes', () => {
  const routes = apiRoutes({ toolmux: mux, sessions: new SessionCache({ toolmux: mux }), version: '0.0.0' });

  it('a body the server takes left out is an optional requestBody (POST …/reconnect, "body optional")', async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const operation = document.paths['/api/v1/connected-accounts/{connectedAccountId}/reconnect'].post;
    expect(operation.requestBody.required).toBe(false);
    // as docs/rest-and-mcp.md has it: the request without a body makes the connection request
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('user_body_optional', config.id, { apiKey: 'k' });
    const response = await server.fetch(
      new Request(`http://localhost/api/v1/connected-accounts/${account.id}/reconnect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      }),
    );
    expect(response.status).toBe(201);
    expect((await response.json()).reconnect_of).toBe(account.id);
    // every route: required exactly when its body schema does not take a missing body
    for (const route of routes.filter((candidate) => candidate.body !== undefined)) {
      const path = `/api/v1${route.path.replace(/:(\w+)/g, '{$1}')}`;
      expect(document.paths[path][route.method].requestBody.required, `${route.method} ${path}`).toBe(
        !route.body!.safeParse(undefined).success,
      );
    }
  });

  it('the MCP endpoint lists each way it authenticates, and each works as its scheme describes', async () => {
    const document = JSON.parse((await fetchDocument()).text);
    const operation = document.paths['/mcp/{sessionId}'].post;
    const schemes = document.components.securitySchemes as Record<string, Record<string, string>>;
    const session = await mux.create('user_mcp_schemes', { toolkits: ['tasks'] });
    const token = session.mcp.headers.Authorization.slice('Bearer '.length);
    /** The headers a client generated from the document sends for a scheme. */
    const headersOf = (scheme: Record<string, string>): Record<string, string> =>
      scheme.type === 'http' && scheme.scheme === 'bearer'
        ? { authorization: `Bearer ${token}` }
        : { [scheme.name!]: TEST_API_KEY };
    const post = (headers: Record<string, string>, body: unknown) =>
      server.fetch(mcpRequest(session.sessionId, headers, body));
    const listed = (operation.security as Record<string, string[]>[]).map((entry) => Object.keys(entry)[0]!);
    // the project API key in x-api-key (docs/rest-and-mcp.md, Composio's SDK) is one of them
    expect(listed.map((name) => schemes[name])).toContainEqual(
      expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-api-key' }),
    );
    for (const name of listed) {
      const response = await post(headersOf(schemes[name]!), { jsonrpc: '2.0', id: 1, method: 'ping' });
      expect(response.status, name).toBe(200);
    }
    expect(operation.description).not.toContain('no other token is accepted');
    // a batch (protocol versions before 2025-06-18) is a body and an answer the document takes
    const batch = await post({ authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-03-26' }, [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 2, method: 'ping' },
    ]);
    expect(batch.status).toBe(200);
    expect(Array.isArray(await batch.json())).toBe(true);
    const types = (schema: { oneOf?: { type: string }[]; type?: string }) =>
      schema.oneOf?.map((option) => option.type) ?? [schema.type];
    expect(types(operation.requestBody.content['application/json'].schema)).toContain('array');
    expect(types(operation.responses['200'].content['application/json'].schema)).toContain('array');
    // DELETE (the SDK client's terminateSession) is answered 405 as GET is, and documented so
    const ended = await server.fetch(
      new Request(`http://localhost/mcp/${session.sessionId}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    expect(ended.status).toBe(405);
    expect(Object.keys(document.paths['/mcp/{sessionId}'].delete.responses)).toContain('405');
    // the document is still a valid OpenAPI 3.1 document
    expect((await new Validator().validate(document)).valid).toBe(true);
  });
});

describe("the execution log entries' input and output", () => {
  // they are strings of JSON text, which a client reading the entries as JSON values did not expect:
  // the document says so, and what it says holds for the entries the API answers
  it('are strings of JSON text to parse, cut ones ending in "…[truncated]", as the document says', async () => {
    const session = await mux.create('log_text_user', { toolkits: ['tasks'] });
    await session.execute('TASKS_CREATE_TASK', { title: 'short' });
    await session.execute('TASKS_CREATE_TASK', { title: 'x'.repeat(10_000) });
    const response = await server.fetch(
      new Request(`http://localhost/api/v1/logs?session_id=${session.sessionId}`, {
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      }),
    );
    const { items } = (await response.json()) as { items: Array<{ input: unknown; output: unknown }> };
    expect(items).toHaveLength(2);
    const [long, short] = items as Array<{ input: string; output: string }>;
    expect(typeof short!.input).toBe('string');
    expect(JSON.parse(short!.input)).toEqual({ title: 'short' });
    expect(JSON.stringify(JSON.parse(short!.output))).toContain('"title":"short"');
    expect(long!.input.endsWith('…[truncated]')).toBe(true);
    expect(() => JSON.parse(long!.input)).toThrow();

    const document = JSON.parse((await fetchDocument()).text) as {
      components: {
        schemas: Record<string, { properties: Record<string, { type?: string; description?: string }> }>;
      };
    };
    const { input, output } = document.components.schemas.ExecutionLog!.properties;
    for (const field of [input, output]) {
      expect(field!.type).toBe('string');
      expect(field!.description).toContain(
        'as a string of JSON text, not a JSON value: parse it (JSON.parse)',
      );
      expect(field!.description).toContain('a cut one ends in "…[truncated]" and is no longer JSON');
    }
  });
});
