import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { createTestServer, TEST_API_KEY } from '../test-helpers.js';
import {
  ErrorSchema,
  ExecutionLogListSchema,
  SearchResultSchema,
  SessionListSchema,
  SessionSchema,
  SessionToolkitListSchema,
  ToolkitListSchema,
  ToolkitSchema,
  ToolResultSchema,
  ToolSpecListSchema,
} from './schemas.js';

const { mux, server, sample, logger } = createTestServer({ bodyLimit: 64 * 1024 });

afterAll(() => mux.close());

interface CallOptions {
  body?: unknown;
  rawBody?: string;
  apiKey?: string | null;
  headers?: Record<string, string>;
}

async function call(method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.apiKey !== null) headers.authorization = `Bearer ${options.apiKey ?? TEST_API_KEY}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await server.fetch(new Request(`http://localhost${path}`, { method, headers, body }));
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
}

/** Asserts the body matches the documented response schema, and returns it typed. */
function documented<S extends z.ZodType>(schema: S, json: unknown): z.output<S> {
  const result = schema.safeParse(json);
  if (!result.success) throw new Error(`response does not match its schema: ${result.error.message}`);
  return result.data;
}

function expectError(result: { status: number; json: unknown }, status: number, code: string) {
  expect(result.status).toBe(status);
  const body = documented(ErrorSchema, result.json);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
}

describe('sessions', () => {
  let sessionId: string;

  beforeAll(async () => {
    const created = await call('POST', '/api/v1/sessions', {
      body: {
        user_id: 'user_rest',
        config: {
          toolkits: ['tasks', 'notes'],
          preload: { tools: ['TASKS_LIST_TASKS'] },
          metadata: { bot: 'a' },
        },
      },
    });
    expect(created.status).toBe(201);
    sessionId = documented(SessionSchema, created.json).session_id;
  });

  it('creates a session like mux.create, with its MCP url and token', async () => {
    const created = await call('POST', '/api/v1/sessions', { body: { user_id: 'user_rest_2' } });
    expect(created.status).toBe(201);
    const session = documented(SessionSchema, created.json);
    expect(session.session_id).toMatch(/^ses_/);
    expect(session.config_version).toBe(1);
    const resumed = await mux.use(session.session_id);
    expect(session.mcp).toEqual(resumed.mcp);
    expect(session.mcp.url).toBe(`http://localhost:8787/mcp/${session.session_id}`);
  });

  it('gets a session', async () => {
    const got = await call('GET', `/api/v1/sessions/${sessionId}`);
    expect(got.status).toBe(200);
    const session = documented(SessionSchema, got.json);
    expect(session).toMatchObject({ session_id: sessionId, user_id: 'user_rest', metadata: { bot: 'a' } });
    expect(session.config).toMatchObject({ toolkits: { mode: 'enable', slugs: ['tasks', 'notes'] } });
  });

  it('lists sessions of a user with a cursor', async () => {
    const other = await call('POST', '/api/v1/sessions', { body: { user_id: 'user_rest' } });
    const first = documented(
      SessionListSchema,
      (await call('GET', '/api/v1/sessions?user_id=user_rest&limit=1')).json,
    );
    expect(first.items).toHaveLength(1);
    expect(first.items[0]!.session_id).toBe(other.json.session_id);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = documented(
      SessionListSchema,
      (await call('GET', `/api/v1/sessions?user_id=user_rest&limit=1&cursor=${first.next_cursor}`)).json,
    );
    expect(second.items[0]!.session_id).toBe(sessionId);
    expect(second.items[0]!.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  /** The path of a new session of user_patch with toolkit tasks, at config version 1. */
  async function patchableSession(): Promise<string> {
    const created = documented(
      SessionSchema,
      (
        await call('POST', '/api/v1/sessions', {
          body: { user_id: 'user_patch', config: { toolkits: ['tasks'] } },
        })
      ).json,
    );
    return `/api/v1/sessions/${created.session_id}`;
  }

  it('updates the config (PATCH) and checks expected_version', async () => {
    const path = await patchableSession();
    const updated = await call('PATCH', path, {
      body: { config: { toolkits: ['notes'], sessionPreset: 'DIRECT_TOOLS' }, expected_version: 1 },
    });
    expect(updated.status).toBe(200);
    expect(documented(SessionSchema, updated.json).config_version).toBe(2);
    const tools = documented(ToolSpecListSchema, (await call('GET', `${path}/tools`)).json);
    expect(tools.items.map((tool) => tool.slug).sort()).toEqual(['NOTES_CREATE_NOTE', 'NOTES_SEARCH_NOTES']);
    const stale = await call('PATCH', path, { body: { config: {}, expected_version: 1 } });
    expectError(stale, 409, 'SESSION_VERSION_CONFLICT');
    // the field the caller gave is named, and what to do
    expect(stale.json.error.message).toContain(
      'the expected_version given, 1, is not its config version any more (it is 2). Read the session again with GET /api/v1/sessions/',
    );
    expect(stale.json.error.message).toContain('with the config_version it answers as expected_version');
    expect(stale.json.error.message).not.toMatch(/expectedVersion|use\(/);
    // a version the session never had: nobody updated it, the caller's version is from elsewhere
    const ahead = await call('PATCH', path, {
      body: { config: { metadata: { x: 'y' } }, expected_version: 99 },
    });
    expectError(ahead, 409, 'SESSION_VERSION_CONFLICT');
    expect(ahead.json.error.message).toContain(
      'at config version 2: the expected_version given, 99, is newer',
    );
    expect(ahead.json.error.message).toContain('config_version that GET /api/v1/sessions/');
    expect(ahead.json.error.message).not.toMatch(/someone else|expectedVersion|use\(/);
  });

  it('applies PATCHes without expected_version sent at once, each to the config as the others left it', async () => {
    const path = await patchableSession();
    const patches = [
      { toolkits: ['tasks', 'notes'] },
      { manageConnections: false },
      ...Array.from({ length: 6 }, (_, index) => ({ metadata: { patch: String(index) } })),
    ];
    const answers = await Promise.all(patches.map((config) => call('PATCH', path, { body: { config } })));
    expect(answers.map((answer) => answer.status)).toEqual(patches.map(() => 200));
    const stored = documented(SessionSchema, (await call('GET', path)).json);
    expect(stored.config_version).toBe(1 + patches.length);
    expect(stored.config).toMatchObject({
      toolkits: { mode: 'enable', slugs: ['tasks', 'notes'] },
      manageConnections: false,
    });
    expect(patches).toContainEqual({ metadata: stored.config.metadata });
  });

  it('lists the tools the session hands out (meta-tools + preloaded), as session.tools() does', async () => {
    const listed = documented(
      ToolSpecListSchema,
      (await call('GET', `/api/v1/sessions/${sessionId}/tools`)).json,
    );
    const tools = await (await mux.use(sessionId)).tools();
    expect(listed.items.map((tool) => tool.slug)).toEqual(tools.map((tool) => tool.name));
    expect(listed.items.map((tool) => tool.input_schema)).toEqual(tools.map((tool) => tool.inputSchema));
    expect(listed.items.map((tool) => tool.slug)).toContain('TOOLMUX_SEARCH_TOOLS');
    expect(listed.items.find((tool) => tool.slug === 'TASKS_LIST_TASKS')).toMatchObject({
      toolkit: 'tasks',
      annotations: { readOnlyHint: true, idempotentHint: true },
    });
  });

  it('executes a tool of the session', async () => {
    const executed = await call('POST', `/api/v1/sessions/${sessionId}/execute`, {
      body: {
        tool_slug: 'TOOLMUX_MULTI_EXECUTE_TOOL',
        arguments: { tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Buy milk' } }] },
      },
    });
    expect(executed.status).toBe(200);
    const result = documented(ToolResultSchema, executed.json);
    expect(result.successful).toBe(true);
    expect(result.log_id).toMatch(/^log_/);
    expect(sample.calls.at(-1)).toMatchObject({ slug: 'TASKS_CREATE_TASK', input: { title: 'Buy milk' } });
    expect(sample.calls.at(-1)!.context.sessionId).toBe(sessionId);
  });

  it('returns a failed tool as a result (200), not an HTTP error', async () => {
    const executed = await call('POST', `/api/v1/sessions/${sessionId}/execute`, {
      body: { tool_slug: 'MAIL_SEND_EMAIL', arguments: { to: 'a@b.c', subject: 's', body: 'b' } },
    });
    expect(executed.status).toBe(200);
    const result = documented(ToolResultSchema, executed.json);
    expect(result).toMatchObject({ successful: false, code: 'TOOL_NOT_IN_SESSION', data: null });
  });

  it('searches the session tools', async () => {
    const searched = await call('POST', `/api/v1/sessions/${sessionId}/search`, {
      body: { query: 'create a to-do item' },
    });
    expect(searched.status).toBe(200);
    const result = documented(SearchResultSchema, searched.json);
    expect(result.results[0]!.tools[0]!.tool_slug).toBe('TASKS_CREATE_TASK');
    expect(result.toolkit_connections).toContainEqual({ toolkit: 'tasks', connected: true });
    // the application's next step, in the REST API's words (not the agent's meta-tools)
    expect(result.next_steps).toContain('POST /api/v1/sessions/:sessionId/execute');
    expect(result.next_steps).not.toContain('TOOLMUX_');
  });

  it('lists the session toolkits with their connection, filtered by connected', async () => {
    const listed = documented(
      SessionToolkitListSchema,
      (await call('GET', `/api/v1/sessions/${sessionId}/toolkits?limit=1`)).json,
    );
    expect(listed.total).toBe(2);
    expect(listed.items).toEqual([
      {
        slug: 'notes',
        name: 'Notes',
        description: 'Personal notes.',
        no_auth: true,
        connection: { is_active: true },
      },
    ]);
    expect(listed.next_cursor).toEqual(expect.any(String));
    const unconnected = documented(
      SessionToolkitListSchema,
      (await call('GET', `/api/v1/sessions/${sessionId}/toolkits?connected=false`)).json,
    );
    expect(unconnected.items).toEqual([]);
  });

  it('reads the session execution log, newest first', async () => {
    const logs = documented(
      ExecutionLogListSchema,
      (await call('GET', `/api/v1/sessions/${sessionId}/logs?limit=50`)).json,
    );
    expect(logs.items.length).toBeGreaterThanOrEqual(2);
    expect(logs.items[0]).toMatchObject({ session_id: sessionId, user_id: 'user_rest', status: 'error' });
    expect(logs.items[0]!.error_code).toBe('TOOL_NOT_IN_SESSION');
    expect(logs.items.map((log) => log.tool_slug)).toContain('TASKS_CREATE_TASK');
  });

  it('answers 404 SESSION_NOT_FOUND for an unknown session', async () => {
    expectError(await call('GET', '/api/v1/sessions/ses_unknown'), 404, 'SESSION_NOT_FOUND');
    expectError(await call('GET', '/api/v1/sessions/ses_unknown/tools'), 404, 'SESSION_NOT_FOUND');
  });

  it('rejects an invalid config with the config error of core', async () => {
    expectError(
      await call('POST', '/api/v1/sessions', { body: { user_id: 'u', config: { toolkits: ['nope'] } } }),
      404,
      'TOOLKIT_NOT_FOUND',
    );
    expectError(
      await call('POST', '/api/v1/sessions', {
        body: { user_id: 'u', config: { toolkits: { enable: ['tasks'], disable: ['notes'] } } },
      }),
      400,
      'CONFIG_CONFLICT',
    );
    // custom tools travel as declarations (remote mode); code cannot
    const custom = await call('POST', '/api/v1/sessions', {
      body: { user_id: 'u', config: { experimental: { customTools: [{ slug: 'X', execute: 'code' }] } } },
    });
    expectError(custom, 400, 'INVALID_REQUEST');
    expect(custom.json.error.message).toContain('experimental');
    const badSlug = await call('POST', '/api/v1/sessions', {
      body: {
        user_id: 'u',
        config: {
          experimental: {
            customTools: [
              {
                slug: 'lower_case',
                name: 'x',
                description: 'x',
                toolkit: '',
                inputSchema: { type: 'object' },
                annotations: {},
                tags: [],
              },
            ],
          },
        },
      },
    });
    expectError(badSlug, 400, 'TOOL_DEFINITION_INVALID');
    expect(badSlug.json.error.message).toContain('lower_case');
  });
});

describe('toolkits and tools', () => {
  it('lists toolkits with search and pages', async () => {
    const all = documented(ToolkitListSchema, (await call('GET', '/api/v1/toolkits')).json);
    expect(all.items.map((toolkit) => toolkit.slug)).toEqual(['mail', 'notes', 'tasks']);
    expect(all.next_cursor).toBeNull();
    expect(all.items[0]).toMatchObject({ no_auth: false, auth_schemes: ['api_key'], tool_count: 1 });
    const found = documented(
      ToolkitListSchema,
      (await call('GET', '/api/v1/toolkits?search=to-do&limit=1')).json,
    );
    expect(found.items.map((toolkit) => toolkit.slug)).toEqual(['tasks']);
    // a toolkit's keywords, which search reads as words of its tools, are listed with it
    expect(all.items.map((toolkit) => toolkit.keywords)).toEqual([[], ['memo', 'jotting'], []]);
  });

  it('gets one toolkit, 404 for an unknown one', async () => {
    const tasks = documented(ToolkitSchema, (await call('GET', '/api/v1/toolkits/tasks')).json);
    expect(tasks.tools.map((tool) => tool.slug)).toContain('TASKS_CREATE_TASK');
    const notes = documented(ToolkitSchema, (await call('GET', '/api/v1/toolkits/notes')).json);
    expect(notes.keywords).toEqual(['memo', 'jotting']);
    expectError(await call('GET', '/api/v1/toolkits/nope'), 404, 'TOOLKIT_NOT_FOUND');
  });

  it('executes a tool for a user without a session', async () => {
    const executed = await call('POST', '/api/v1/tools/execute', {
      body: { tool_slug: 'NOTES_SEARCH_NOTES', user_id: 'user_direct', arguments: { query: 'milk' } },
    });
    expect(executed.status).toBe(200);
    const result = documented(ToolResultSchema, executed.json);
    expect(result).toMatchObject({ successful: true, data: { notes: [{ id: 'note_1' }], limit: 10 } });
    expect(sample.calls.at(-1)!.context).toMatchObject({ userId: 'user_direct', sessionId: undefined });
  });

  it('returns CONNECTION_REQUIRED as a result when the toolkit needs an account', async () => {
    const executed = await call('POST', '/api/v1/tools/execute', {
      body: {
        tool_slug: 'MAIL_SEND_EMAIL',
        user_id: 'user_direct',
        arguments: { to: 'a@b.c', subject: 's', body: 'b' },
      },
    });
    const result = documented(ToolResultSchema, executed.json);
    expect(result.successful).toBe(false);
    expect(result.code).toMatch(/CONNECTION_REQUIRED|AUTH_CONFIG_NOT_FOUND/);
  });
});

describe('authentication', () => {
  it('refuses a missing API key with 401 and WWW-Authenticate', async () => {
    const result = await call('GET', '/api/v1/toolkits', { apiKey: null });
    expectError(result, 401, 'UNAUTHORIZED');
    expect(result.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('refuses a wrong API key on every kind of route', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/toolkits'],
      ['GET', '/api/v1/sessions'],
      ['POST', '/api/v1/sessions'],
      ['POST', '/api/v1/tools/execute'],
      ['GET', '/api/v1/sessions/ses_x/logs'],
    ] as const) {
      const body = method === 'GET' ? undefined : {};
      expectError(await call(method, path, { apiKey: `${TEST_API_KEY}x`, body }), 401, 'UNAUTHORIZED');
    }
  });

  it('takes the API key exactly (not cut short, not with its last character changed, not in other case), after the scheme Bearer in any case and one or more spaces', async () => {
    expect((await call('GET', '/api/v1/toolkits')).status).toBe(200);
    for (const apiKey of [
      TEST_API_KEY.slice(0, -1),
      `${TEST_API_KEY.slice(0, -1)}x`,
      TEST_API_KEY.toUpperCase(),
    ]) {
      expectError(await call('GET', '/api/v1/toolkits', { apiKey }), 401, 'UNAUTHORIZED');
    }
    // the scheme is case-insensitive (RFC 9110, 11.1), as the MCP endpoint and Composio's routes read
    // it: `bearer <key>` was refused with a message that said the key was wrong
    const withHeader = (authorization: string) =>
      server.fetch(new Request('http://localhost/api/v1/toolkits', { headers: { authorization } }));
    for (const authorization of [
      `bearer ${TEST_API_KEY}`,
      `BEARER ${TEST_API_KEY}`,
      `Bearer   ${TEST_API_KEY}`,
    ]) {
      expect((await withHeader(authorization)).status, authorization).toBe(200);
    }
    for (const authorization of [`bearer ${TEST_API_KEY}x`, `bearer ${TEST_API_KEY.toUpperCase()}`]) {
      const refused = await withHeader(authorization);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
        "is not this server's project API key",
      );
    }
    const otherScheme = await withHeader(`Basic ${TEST_API_KEY}`);
    expect(otherScheme.status).toBe(401);
    expect(((await otherScheme.json()) as { error: { message: string } }).error.message).toContain(
      'does not start with "Bearer "',
    );
  });

  it('does not take a session token for the API key', async () => {
    const session = await mux.create('user_token', { toolkits: ['tasks'] });
    const token = session.mcp.headers.Authorization.slice('Bearer '.length);
    expectError(await call('GET', '/api/v1/toolkits', { apiKey: token }), 401, 'UNAUTHORIZED');
  });

  it('refuses to start without a usable API key', async () => {
    const list = vi.spyOn(mux.toolkits, 'list').mockRejectedValueOnce(new Error('db password is hunter2'));
    const response = await server.fetch(
      new Request('http://localhost/api/v1/toolkits', {
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      }),
    );
    expect(list).toHaveBeenCalledOnce();
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toContain('hunter2');
    expect(text).not.toMatch(/\n\s+at /);
    expect(JSON.parse(text).error.code).toBe('INTERNAL_ERROR');
    expect(logger.errors.at(-1)).toContain('hunter2');
  });
});
