import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  defineTool,
  defineToolkit,
  MetaToolSlug,
  type PlainTool,
  SessionPreset,
  ToolMux,
  ToolMuxError,
} from '@toolmux/core';
import {
  createSampleToolkits,
  freePort,
  recordingLogger,
  stockLookupTool,
  untilTestTimeout,
} from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestServer, type TestServer } from '../testing/index.js';

const sample = createSampleToolkits();
let server: TestServer;
let remote: ToolMux;

beforeAll(async () => {
  server = await startTestServer({ toolkits: sample.toolkits });
  remote = server.remote();
});
afterAll(() => server.close());

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<ToolMuxError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!ToolMuxError.isInstance(error)) throw new Error(`expected a ToolMuxError, got ${String(error)}`);
  return error;
}

describe('remote mode: the same API over REST', () => {
  it('creates, lists and resumes sessions that the embedded ToolMux of the server stores', async () => {
    expect(remote.mode).toBe('remote');
    const session = await remote.create('user_remote_1', {
      toolkits: ['tasks', 'notes'],
      metadata: { bot: 'support' },
    });
    expect(session.sessionId).toMatch(/^ses_/);
    expect(session.userId).toBe('user_remote_1');
    expect(session.configVersion).toBe(1);
    expect(session.mcp.url).toBe(`${server.url}/mcp/${session.sessionId}`);

    const stored = await server.embedded.use(session.sessionId);
    expect(stored.config).toEqual(session.config);
    expect(stored.mcp.headers).toEqual(session.mcp.headers);

    const listed = await remote.sessions.list({ userId: 'user_remote_1' });
    expect(listed.items.map((item) => item.sessionId)).toEqual([session.sessionId]);
    expect(listed.items[0]!.metadata).toEqual({ bot: 'support' });
    expect(listed.items[0]!.createdAt).toBeInstanceOf(Date);

    const resumed = await remote.use(session.sessionId);
    expect(resumed.config).toEqual(session.config);
  });

  it('rotates the MCP token: the new one works over MCP at once, the old one is refused', async () => {
    const session = await remote.create('user_remote_rotate', { toolkits: ['tasks'] });
    const before = session.mcp;
    const mcpStatus = async (headers: Record<string, string>) =>
      (
        await fetch(before.url, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
        })
      ).status;
    expect(await mcpStatus(before.headers)).toBe(200);
    const rotated = await session.rotateMcpToken();
    expect(rotated.url).toBe(before.url);
    expect(rotated.headers.Authorization).not.toBe(before.headers.Authorization);
    expect(session.mcp).toEqual(rotated);
    expect((await remote.use(session.sessionId)).mcp).toEqual(rotated);
    expect((await server.embedded.use(session.sessionId)).mcp).toEqual(rotated);
    expect(await mcpStatus(before.headers)).toBe(401);
    expect(await mcpStatus(rotated.headers)).toBe(200);
  });

  it('hands out the same tools as an embedded session, and runs them on the server', async () => {
    const session = await remote.create('user_remote_2', {
      toolkits: ['tasks'],
      preload: { tools: ['TASKS_CREATE_TASK'] },
    });
    const embedded = await server.embedded.use(session.sessionId);
    const tools = (await session.tools()) as PlainTool[];
    const embeddedTools = (await embedded.tools()) as PlainTool[];
    expect(tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema }))).toEqual(
      embeddedTools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema })),
    );

    const before = sample.calls.length;
    const create = tools.find((tool) => tool.name === 'TASKS_CREATE_TASK')!;
    const result = await create.execute({ title: 'Ship remote mode' }, { callId: 'call_1' });
    expect(result).toMatchObject({ successful: true, error: null, data: { title: 'Ship remote mode' } });
    expect(result.logId).toMatch(/^log_/);
    expect(sample.calls.slice(before)).toEqual([
      expect.objectContaining({
        slug: 'TASKS_CREATE_TASK',
        context: expect.objectContaining({ sessionId: session.sessionId, callId: 'call_1' }),
      }),
    ]);

    const invalid = await session.execute('TASKS_CREATE_TASK', { title: 42 });
    expect(invalid).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    const hidden = await session.execute('NOTES_CREATE_NOTE', { title: 'x' });
    expect(hidden).toMatchObject({ successful: false, code: 'TOOL_NOT_IN_SESSION' });

    const logs = await session.logs();
    expect(logs.items.map((log) => log.toolSlug)).toEqual([
      'NOTES_CREATE_NOTE',
      'TASKS_CREATE_TASK',
      'TASKS_CREATE_TASK',
    ]);
    expect(logs.items[2]).toMatchObject({ id: result.logId, callId: 'call_1', status: 'success' });
    expect(logs.items[2]!.createdAt).toBeInstanceOf(Date);
  });

  it('searches, lists toolkits with their connection, and updates the config', async () => {
    const session = await remote.create('user_remote_3', { toolkits: ['tasks', 'mail'] });
    const found = await session.search({ query: 'send an email' });
    expect(found.results[0]!.tools[0]!.tool_slug).toBe('MAIL_SEND_EMAIL');
    expect(found.toolkit_connections).toEqual([{ toolkit: 'mail', connected: false }]);

    const toolkits = await session.toolkits();
    expect(toolkits.total).toBe(2);
    expect(toolkits.items.map((item) => [item.slug, item.connection.isActive])).toEqual([
      ['mail', false],
      ['tasks', true],
    ]);

    const version = await session.update({ toolkits: ['tasks'] });
    expect(version).toBe(2);
    expect(session.configVersion).toBe(2);
    expect((await session.toolkits()).items.map((item) => item.slug)).toEqual(['tasks']);

    // another writer changed the session meanwhile: the stale copy is refused, not merged
    const stale = await remote.use(session.sessionId);
    await session.update({ metadata: { step: 'two' } });
    expect((await rejection(stale.update({ metadata: { step: 'stale' } }))).code).toBe(
      'SESSION_VERSION_CONFLICT',
    );
  });

  it('session.update(changes, { expectedVersion }) is refused with SESSION_VERSION_CONFLICT unless the stored config has that version, embedded and remote alike; a stale object given the stored version applies its changes to the stored config', async () => {
    const run = async (mux: ToolMux, userId: string) => {
      const session = await mux.create(userId, { toolkits: ['tasks', 'notes'] });
      const stale = await mux.use(session.sessionId);
      const answers: unknown[] = [];
      const attempt = async (update: Promise<number>) => {
        try {
          answers.push(await update);
        } catch (error) {
          const refused = error as ToolMuxError;
          answers.push(`${refused.code}: ${refused.message.replaceAll(session.sessionId, 'ses_x')}`);
        }
      };
      await attempt(session.update({ metadata: { step: 'one' } }, { expectedVersion: 1 }));
      // before: the version asked for was ignored, and this one applied as version 3
      await attempt(session.update({ metadata: { step: 'lost' } }, { expectedVersion: 1 }));
      // no version given: the stale object's conflict names none (remote: not the one it sent)
      await attempt(stale.update({ metadata: { step: 'stale' } }));
      await attempt(session.update({}, { expectedVersion: 5 }));
      await attempt(session.update({ toolkits: ['tasks'] }, { expectedVersion: 2 }));
      // `stale` read version 1: given the stored version, its change goes on top of the stored config
      await attempt(stale.update({ metadata: { step: 'stale' } }, { expectedVersion: 3 }));
      await attempt(session.update({}, { expectedVersion: 0 }));
      await attempt(session.update({}, { expectedVersion: '4' } as never));
      await attempt(session.update({}, { expectedversion: 4 } as never));
      const stored = await server.embedded.use(session.sessionId);
      return { answers, version: stored.configVersion, config: stored.config };
    };
    const embedded = await run(server.embedded, 'user_expected_version_embedded');
    const viaServer = await run(remote, 'user_expected_version_remote');
    expect(embedded.answers).toEqual([
      2,
      'SESSION_VERSION_CONFLICT: Session "ses_x" was updated by someone else: the expectedVersion given, 1, is not its config version any more (it is 2). Read the session again with use("ses_x") and retry the update on what it holds now, with the configVersion it answers as expectedVersion; or leave expectedVersion out to apply the update to the config as it is now.',
      'SESSION_VERSION_CONFLICT: Session "ses_x" was updated by someone else: expected config version 1, found 2. Read the session again with use("ses_x") and retry the update on what it holds now.',
      // a version it never had: nobody updated it
      'SESSION_VERSION_CONFLICT: Session "ses_x" is at config version 2: the expectedVersion given, 5, is newer than any it has had (each update adds one). Send the configVersion that use("ses_x") answers, or leave expectedVersion out to apply the update to the config as it is now.',
      3,
      4,
      'INVALID_REQUEST: session.update(): expectedVersion must be a positive integer (the configVersion you read); got 0.',
      'INVALID_REQUEST: session.update(): expectedVersion must be a positive integer (the configVersion you read); got "4".',
      'INVALID_REQUEST: session.update() has no option "expectedversion". Did you mean "expectedVersion"? It takes an options object ({ expectedVersion? }).',
    ]);
    expect(viaServer.answers).toEqual(embedded.answers);
    expect(embedded.version).toBe(4);
    expect(viaServer.version).toBe(4);
    expect(embedded.config).toMatchObject({
      toolkits: { mode: 'enable', slugs: ['tasks'] },
      metadata: { step: 'stale' },
    });
    expect(viaServer.config).toEqual(embedded.config);
  });

  it('a call refused for two reasons answers as embedded: a tool the session has not (or no tool) with arguments JSON cannot carry is TOOL_NOT_IN_SESSION (TOOL_NOT_FOUND), logged on the server', async () => {
    const sparse: unknown[] = [];
    sparse[5_000] = 'x';
    const calls: Array<[string, Record<string, unknown>]> = [
      ['NOTES_CREATE_NOTE', { title: Number.NaN }],
      ['NOTES_CREATE_NOTEZ', { title: Number.POSITIVE_INFINITY }],
      ['NOTES_CREATE_NOTE', { tags: sparse }],
      // the session has the tool: the arguments are what is refused
      ['TASKS_CREATE_TASK', { title: Number.NaN }],
    ];
    const run = async (mux: ToolMux, userId: string) => {
      const session = await mux.create(userId, { toolkits: ['tasks'] });
      const answers: string[] = [];
      for (const [slug, args] of calls) {
        const result = await session.execute(slug, args, { callId: `call_${answers.length}` });
        answers.push(`${result.code}: ${result.error}`);
      }
      const logged = (await session.logs()).items
        .map((entry) => `${entry.callId} ${entry.toolSlug} ${entry.errorCode}: ${entry.errorMessage}`)
        .sort();
      return { answers, logged };
    };
    const errors: string[] = [];
    const embedded = await run(server.embedded, 'user_two_refusals_embedded');
    const viaServer = await run(
      server.remote(undefined, {
        logger: { debug() {}, warn() {}, error: (message) => errors.push(message) },
      }) as ToolMux,
      'user_two_refusals_remote',
    );
    expect(embedded.answers.map((answer) => answer.slice(0, answer.indexOf(':')))).toEqual([
      'TOOL_NOT_IN_SESSION',
      'TOOL_NOT_FOUND',
      'TOOL_NOT_IN_SESSION',
      'TOOL_ARGUMENTS_INVALID',
    ]);
    expect(embedded.answers[3]).toBe(
      'TOOL_ARGUMENTS_INVALID: The arguments of TASKS_CREATE_TASK are not JSON data: arguments.title is NaN, which JSON has no number for (JSON writes it as null, and reads a number too large for a double, such as 1e999, as Infinity): send a finite number.',
    );
    // before: TOOL_ARGUMENTS_INVALID for each, answered by the client, and its log entries (of tools
    // it does not run) refused by the server
    expect(viaServer.answers).toEqual(embedded.answers);
    expect(viaServer.logged).toEqual(embedded.logged);
    expect(embedded.logged).toHaveLength(4);
    expect(errors).toEqual([]);
  });

  it('a server older than arguments_refused: the client answers the refusal of arguments JSON cannot carry itself, as before', async () => {
    const refused: string[] = [];
    const old = new ToolMux({
      baseUrl: server.url,
      apiKey: server.apiKey,
      logger: { debug() {}, warn() {}, error() {} },
      fetch: async (input, init) => {
        const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
        if (String(input).endsWith('/execute') && body?.arguments_refused !== undefined) {
          refused.push(body.tool_slug);
          // what a server of before the field answers (its words for an unknown key)
          return new Response(
            JSON.stringify({
              error: {
                code: 'INVALID_REQUEST',
                message:
                  'Invalid request body: body: unknown key "arguments_refused". Known keys: tool_slug, arguments, call_id, account, parent_id.',
              },
            }),
            { status: 400, headers: { 'content-type': 'application/json' } },
          );
        }
        return fetch(input, init);
      },
    });
    try {
      const session = await old.create('user_two_refusals_old_server', { toolkits: ['tasks'] });
      const result = await session.execute('NOTES_CREATE_NOTE', { title: Number.NaN });
      expect(refused).toEqual(['NOTES_CREATE_NOTE']);
      expect(result).toMatchObject({
        successful: false,
        code: 'TOOL_ARGUMENTS_INVALID',
        error: expect.stringMatching(
          /^The arguments of NOTES_CREATE_NOTE are not JSON data: arguments\.title is NaN/,
        ),
      });
    } finally {
      await old.close();
    }
  });

  it('runs tools without a session and lists the toolkits of the server', async () => {
    const tools = (await remote.tools.get('user_remote_4', { toolkits: ['notes'] })) as PlainTool[];
    expect(tools.map((tool) => tool.name).sort()).toEqual(['NOTES_CREATE_NOTE', 'NOTES_SEARCH_NOTES']);
    const result = await tools[0]!.execute({ query: 'groceries' });
    expect(result.successful).toBe(true);

    const direct = await remote.tools.execute('TASKS_LIST_TASKS', { userId: 'user_remote_4' });
    expect(direct.successful).toBe(true);

    const page = await remote.toolkits.list({ limit: 2 });
    expect(page.total).toBe(3);
    expect(page.items.map((toolkit) => toolkit.slug)).toEqual(['mail', 'notes']);
    const next = await remote.toolkits.list({ limit: 2, cursor: page.nextCursor });
    expect(next.items.map((toolkit) => toolkit.slug)).toEqual(['tasks']);
    expect((await remote.toolkits.get('mail')).authSchemes).toEqual(['api_key']);
    // a toolkit's keywords, which search reads as words of its tools, reach the SDK
    expect(page.items.map((toolkit) => toolkit.keywords)).toEqual([[], ['memo', 'jotting']]);
    expect((await remote.toolkits.get('notes')).keywords).toEqual(['memo', 'jotting']);
  });

  it('connects an API-key account and runs an authenticated tool with it; the key never comes back', async () => {
    const config = await remote.authConfigs.create('mail', { type: 'api_key' });
    expect(config.id).toMatch(/^ac_/);
    expect(await remote.authConfigs.get(config.id)).toEqual(config);
    const account = await remote.connectedAccounts.create('user_remote_5', config.id, {
      apiKey: 'sk-remote-secret-1234',
    });
    expect(account).toMatchObject({ status: 'ACTIVE', toolkit: 'mail', userId: 'user_remote_5' });
    expect(JSON.stringify(account)).not.toContain('sk-remote-secret-1234');
    const listed = await remote.connectedAccounts.list({ userIds: ['user_remote_5'], statuses: ['ACTIVE'] });
    expect(listed.items.map((item) => item.id)).toEqual([account.id]);

    const session = await remote.create('user_remote_5', {
      toolkits: ['mail'],
      authConfigs: { mail: config.id },
    });
    const sent = await session.execute('MAIL_SEND_EMAIL', {
      to: 'a@example.com',
      subject: 'Hi',
      body: 'Hello',
    });
    expect(sent).toMatchObject({ successful: true, error: null });
    const logs = await session.logs();
    expect(JSON.stringify(logs)).not.toContain('sk-remote-secret-1234');

    expect(await remote.connectedAccounts.disable(account.id)).toMatchObject({ status: 'INACTIVE' });
    expect(
      await session.execute('MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 'Hi', body: 'x' }),
    ).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect(await remote.connectedAccounts.enable(account.id)).toMatchObject({ status: 'ACTIVE' });

    await remote.connectedAccounts.delete(account.id);
    expect((await rejection(remote.connectedAccounts.get(account.id))).code).toBe(
      'CONNECTED_ACCOUNT_NOT_FOUND',
    );
    await remote.authConfigs.delete(config.id);
    expect((await rejection(remote.authConfigs.get(config.id))).code).toBe('AUTH_CONFIG_NOT_FOUND');
  });

  it('authorize() hands out the hosted connect page; waitForConnection() resolves once it is completed', async () => {
    const config = await remote.authConfigs.create('mail', { type: 'api_key' });
    const session = await remote.create('user_remote_7', {
      toolkits: ['mail'],
      authConfigs: { mail: config.id },
    });
    const request = await session.authorize('mail', { callbackUrl: 'http://localhost:3000/connected' });
    expect(request.redirectUrl).toBe(`${server.url}/connect/${request.id}`);
    const info = await remote.connectionRequests.get(request.id);
    expect(info).toMatchObject({
      kind: 'fields',
      status: 'PENDING',
      userId: 'user_remote_7',
      toolkit: 'mail',
    });

    const waiting = request.waitForConnection(10_000);
    const account = await remote.connectionRequests.complete(request.id, { apiKey: 'sk-remote-form-5678' });
    expect(await waiting).toEqual({ id: account.id, status: 'ACTIVE', toolkit: 'mail' });
    expect((await remote.connectionRequests.get(request.id)).status).toBe('COMPLETED');
    const again = await rejection(remote.connectionRequests.complete(request.id, { apiKey: 'sk-other' }));
    expect(again.code).toBe('CONNECTION_REQUEST_INVALID');
    expect(JSON.stringify(again)).not.toContain('sk-remote-form-5678');
    expect(
      await session.execute('MAIL_SEND_EMAIL', { to: 'b@example.com', subject: 'Hi', body: 'x' }),
    ).toMatchObject({ successful: true });
  });

  it('deletes a session: MCP refuses its token at once, use() is SESSION_NOT_FOUND, the log stays readable', async () => {
    const session = await remote.create('user_remote_delete', { toolkits: ['tasks'] });
    const byId = await remote.create('user_remote_delete', { toolkits: ['tasks'] });
    const ran = await session.execute('TASKS_CREATE_TASK', { title: 'kept in the log' });
    const mcpStatus = async () =>
      (
        await fetch(session.mcp.url, {
          method: 'POST',
          headers: { ...session.mcp.headers, 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
        })
      ).status;
    expect(await mcpStatus()).toBe(200); // now cached by the server
    await session.delete();
    expect(await mcpStatus()).toBe(404);
    expect((await rejection(remote.use(session.sessionId))).code).toBe('SESSION_NOT_FOUND');
    expect((await rejection(session.delete())).code).toBe('SESSION_NOT_FOUND');
    const logs = await remote.logs.list({ sessionId: session.sessionId });
    expect(logs.items.map((item) => item.id)).toEqual([ran.logId]);
    expect(logs.items[0]).toMatchObject({ sessionId: session.sessionId, toolSlug: 'TASKS_CREATE_TASK' });
    expect((await remote.logs.list({ userId: 'user_remote_delete', limit: 1 })).items).toHaveLength(1);

    await remote.sessions.delete(byId.sessionId);
    expect((await rejection(server.embedded.use(byId.sessionId))).code).toBe('SESSION_NOT_FOUND');
    expect((await rejection(remote.sessions.delete(byId.sessionId))).code).toBe('SESSION_NOT_FOUND');
  });

  it('ensureConnected() answers CONNECTED with the account, or NEEDS_USER with a hosted link', async () => {
    const config = await remote.authConfigs.create('mail', { type: 'api_key' });
    const session = await remote.create('user_remote_ensure', {
      toolkits: ['tasks', 'mail'],
      authConfigs: { mail: config.id },
    });
    expect(await session.ensureConnected('tasks')).toEqual({ status: 'CONNECTED', account: null });
    const needed = await session.ensureConnected('mail', { callbackUrl: 'http://localhost:3000/connected' });
    if (needed.status !== 'NEEDS_USER') throw new Error(`expected NEEDS_USER, got ${needed.status}`);
    expect(needed.request.redirectUrl).toBe(`${server.url}/connect/${needed.request.id}`);
    const waiting = needed.request.waitForConnection(10_000);
    const account = await remote.connectionRequests.complete(needed.request.id, { apiKey: 'sk-ensure-1' });
    expect(await waiting).toEqual({ id: account.id, status: 'ACTIVE', toolkit: 'mail' });
    expect(await session.ensureConnected('mail')).toEqual({
      status: 'CONNECTED',
      account: { id: account.id, status: 'ACTIVE', toolkit: 'mail' },
    });
    expect((await rejection(session.ensureConnected('notes'))).code).toBe('TOOL_NOT_IN_SESSION');
  });

  it("filters toolkits() by slug, search and connection with their auth config, and preloads 'all'", async () => {
    const config = await remote.authConfigs.create('mail', { type: 'api_key' });
    const session = await remote.create('user_remote_filters', {
      toolkits: ['tasks', 'notes', 'mail'],
      authConfigs: { mail: config.id },
      preload: { tools: 'all' },
    });
    expect(session.config.preload).toEqual({ tools: 'all' });
    const names = (await session.tools()).map((tool) => (tool as PlainTool).name);
    expect(names).toContain('TOOLMUX_SEARCH_TOOLS');
    expect(names).toContain('NOTES_CREATE_NOTE');
    expect(names).toContain('MAIL_SEND_EMAIL');

    const slugs = async (options: Parameters<typeof session.toolkits>[0]) =>
      (await session.toolkits(options)).items.map((item) => item.slug);
    expect(await slugs({ toolkits: ['notes', 'mail'] })).toEqual(['mail', 'notes']);
    expect(await slugs({ search: 'Note' })).toEqual(['notes']);
    expect(await slugs({ connected: false })).toEqual(['mail']);
    expect((await session.toolkits({ toolkits: ['mail'] })).items[0]!.connection).toEqual({
      isActive: false,
      authConfig: { id: config.id, type: 'api_key', managed: false },
    });
    const page = await session.toolkits({ limit: 1, search: 'a' });
    expect(page.total).toBe(await slugs({ search: 'a' }).then((all) => all.length));
  });

  it('refuses bad input with the server’s error code and message', async () => {
    const unknown = await rejection(remote.create('user_remote_6', { toolkits: ['githb'] }));
    expect(unknown.code).toBe('TOOLKIT_NOT_FOUND');
    expect(unknown.message).toContain('githb');
    const local = await rejection(server.embedded.create('user_remote_6', { toolkits: ['githb'] }));
    expect(unknown.message).toBe(local.message);

    expect((await rejection(remote.use('ses_doesnotexist'))).code).toBe('SESSION_NOT_FOUND');
    // checked before anything is sent
    expect((await rejection(remote.create('user_remote_6', { toolkitz: ['tasks'] } as never))).code).toBe(
      'CONFIG_INVALID',
    );
  });

  it('refuses a user id a URL or a database would fold into another user’s, in the body and in the query', async () => {
    await server.embedded.create('\ufffdv1-remote');
    // in a query string a lone surrogate would become U+FFFD: listing "\ud800v1…" must not show "\ufffdv1…"
    const listed = await rejection(remote.sessions.list({ userId: '\ud800v1-remote' }));
    expect(listed.code).toBe('USER_ID_INVALID');
    const accounts = await rejection(remote.connectedAccounts.list({ userIds: ['\udc00v1-remote'] }));
    expect(accounts.code).toBe('USER_ID_INVALID');
    // in a body the server refuses it
    const created = await rejection(remote.create('\ud800v1-remote'));
    expect(created.code).toBe('USER_ID_INVALID');
    expect(created.message).toContain('"\\ud800v1-remote"');
    expect((await remote.sessions.list({ userId: '\ufffdv1-remote' })).items).toHaveLength(1);
  });
});

describe('remote mode: options of the list and search methods', () => {
  it('are checked before anything is sent, with the answer of an embedded session', async () => {
    const remoteSession = await remote.create('user_options', { toolkits: ['tasks'] });
    const embeddedSession = await server.embedded.create('user_options', { toolkits: ['tasks'] });
    const cases: Array<[string, (session: typeof remoteSession) => Promise<unknown>]> = [
      ['toolkits typo', (session) => session.toolkits({ serach: 'x' } as never)],
      ['toolkits cursor', (session) => session.toolkits({ cursor: 5 } as never)],
      ['toolkits search', (session) => session.toolkits({ search: 'x'.repeat(1_000_000) })],
      ['toolkits limit', (session) => session.toolkits({ limit: '5' } as never)],
      ['search typo', (session) => session.search({ query: 'x', knownField: 'y' } as never)],
      ['search limit', (session) => session.search({ query: 'x', limit: null } as never)],
      ['logs typo', (session) => session.logs({ parent: 'log_1' } as never)],
      ['logs cursor', (session) => session.logs({ cursor: {} } as never)],
      ['tools typo', (session) => session.tools({ beforeExecut: () => ({}) } as never)],
      ['tools kind', (session) => session.tools({ afterExecute: 'x' } as never)],
    ];
    for (const [label, call] of cases) {
      const remoteError = await rejection(call(remoteSession));
      const embeddedError = await rejection(call(embeddedSession as typeof remoteSession));
      expect({ code: remoteError.code, message: remoteError.message }, label).toEqual({
        code: embeddedError.code,
        message: embeddedError.message,
      });
      expect(remoteError.code, label).toBe('INVALID_REQUEST');
      expect(remoteError.message.length, label).toBeLessThan(300);
    }
  });
});

describe('remote mode: custom tools run in the client', () => {
  it('are run here only while the session has them: not one its tools filter leaves out, not after an update took it away or the session was deleted', async () => {
    const { tool: lookup, ran } = stockLookupTool();
    const filtered = await remote.create('user_custom_gone', {
      toolkits: ['tasks', 'shop'],
      tools: { shop: { disable: ['SHOP_LOOKUP_STOCK'] } },
      experimental: { customTools: [lookup] },
    });
    // the server answers for a tool the session does not have
    expect(await filtered.execute('SHOP_LOOKUP_STOCK', { sku: 'A-1' })).toMatchObject({
      successful: false,
      code: 'TOOL_NOT_IN_SESSION',
    });

    const session = await remote.create('user_custom_gone', {
      toolkits: ['tasks', 'shop'],
      experimental: { customTools: [lookup] },
    });
    const other = await remote.use(session.sessionId, { customTools: [lookup] });
    expect((await other.execute('SHOP_LOOKUP_STOCK', { sku: 'A-2' })).successful).toBe(true);
    // `shop` is the session's own toolkit: an enable list leaves it in, a disable list takes it away
    await session.update({ toolkits: { disable: ['shop'] } });
    expect(await session.execute('SHOP_LOOKUP_STOCK', { sku: 'A-3' })).toMatchObject({
      code: 'TOOL_NOT_IN_SESSION',
    });
    // another object of the session reads it again at most 2 s after its last read
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(await other.execute('SHOP_LOOKUP_STOCK', { sku: 'A-4' })).toMatchObject({
      code: 'TOOL_NOT_IN_SESSION',
    });
    expect(other.configVersion).toBe(2);

    const deleted = await remote.create('user_custom_gone', {
      toolkits: ['shop'],
      experimental: { customTools: [lookup] },
    });
    const held = await remote.use(deleted.sessionId, { customTools: [lookup] });
    await deleted.delete();
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const afterDelete = await held.execute('SHOP_LOOKUP_STOCK', { sku: 'A-5' });
    expect(afterDelete).toMatchObject({ successful: false, code: 'SESSION_NOT_FOUND' });
    // on the old code ran here too
    expect(ran.map((call) => call.sku)).toEqual(['A-2']);
  });

  it("under an enable list of toolkits: the session's own run here, one that joins a catalog toolkit only with that toolkit", async () => {
    const ran: string[] = [];
    const tool = (slug: string, description: string) =>
      defineTool({
        slug,
        description,
        inputSchema: z.object({}),
        execute: async () => {
          ran.push(slug);
          return { ran: slug };
        },
      });
    // joins the server's `tasks` by its prefix; the client's catalog of custom tools has no `tasks`
    const summary = tool('TASKS_LOCAL_SUMMARY', 'Summarise the to-do items in one line.');
    const lookup = tool('LOOKUP_CUSTOMER', 'Look up a customer by email address.');
    const deal = tool('CRM_GET_DEAL', 'Get a deal of the CRM by id.');
    const crm = defineToolkit({ slug: 'crm', description: 'Our CRM.', tools: [deal] });
    const experimental = { customTools: [summary, lookup], customToolkits: [crm] };
    const slugs = ['TASKS_LOCAL_SUMMARY', 'LOOKUP_CUSTOMER', 'CRM_GET_DEAL'];

    const notes = await remote.create('user_custom_own', { toolkits: ['notes'], experimental });
    expect(notes.config.joinedToolkits).toEqual({ TASKS_LOCAL_SUMMARY: 'tasks' });
    const outcomes = async (session: typeof notes) => {
      const codes: Record<string, string> = {};
      for (const slug of slugs) {
        const result = await session.execute(slug, {});
        codes[slug] = result.successful ? 'ran' : String(result.code);
      }
      return codes;
    };
    expect(await outcomes(notes)).toEqual({
      TASKS_LOCAL_SUMMARY: 'TOOL_NOT_IN_SESSION',
      LOOKUP_CUSTOMER: 'ran',
      CRM_GET_DEAL: 'ran',
    });
    expect((await notes.toolkits()).items.map((toolkit) => toolkit.slug)).toEqual(['crm', 'custom', 'notes']);
    const found = await notes.search({ query: 'summarise the to-do items', limit: 10 });
    expect(found.results[0]!.tools.map((found) => found.tool_slug)).not.toContain('TASKS_LOCAL_SUMMARY');

    const tasks = await remote.create('user_custom_own', { toolkits: ['tasks'], experimental });
    expect(await outcomes(tasks)).toEqual({
      TASKS_LOCAL_SUMMARY: 'ran',
      LOOKUP_CUSTOMER: 'ran',
      CRM_GET_DEAL: 'ran',
    });
    expect(ran).toEqual([
      'LOOKUP_CUSTOMER',
      'CRM_GET_DEAL',
      'TASKS_LOCAL_SUMMARY',
      'LOOKUP_CUSTOMER',
      'CRM_GET_DEAL',
    ]);

    // over MCP, a direct-tools session lists its own tools beside the toolkits it names
    const direct = await remote.create('user_custom_own', {
      toolkits: ['notes'],
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      experimental,
    });
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(direct.mcp.url), {
        requestInit: { headers: direct.mcp.headers },
      }),
    );
    try {
      const { tools } = await client.listTools();
      expect(tools.map((listed) => listed.name).sort()).toEqual([
        'CRM_GET_DEAL',
        'LOOKUP_CUSTOMER',
        'NOTES_CREATE_NOTE',
        'NOTES_SEARCH_NOTES',
      ]);
    } finally {
      await client.close();
    }
  });

  it('are listed and searched by the server, run here, and land in the session log', async () => {
    const { tool: lookup, ran } = stockLookupTool();
    const session = await remote.create('user_custom_1', {
      toolkits: ['tasks', 'shop'],
      experimental: { customTools: [lookup] },
    });
    expect(session.config.customTools).toEqual(['SHOP_LOOKUP_STOCK']);

    // the server searches the declaration like any tool
    const found = await session.search({ query: 'how many items are in stock' });
    expect(found.results[0]!.tools[0]).toMatchObject({ tool_slug: 'SHOP_LOOKUP_STOCK', toolkit: 'shop' });

    const direct = await session.execute('SHOP_LOOKUP_STOCK', { sku: 'A-100' }, { callId: 'call_lookup' });
    expect(direct).toMatchObject({ successful: true, data: { sku: 'A-100', inStock: 7 } });
    expect(ran).toEqual([{ sku: 'A-100', sessionId: session.sessionId, callId: 'call_lookup' }]);
    const invalid = await session.execute('SHOP_LOOKUP_STOCK', { sku: 5 });
    expect(invalid).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    const failed = await session.execute('SHOP_LOOKUP_STOCK', { sku: 'BROKEN' });
    expect(failed).toMatchObject({ successful: false, code: 'TOOL_EXECUTION_FAILED' });
    expect(failed.error).toContain('warehouse offline');

    // one multi-execute mixes a custom call (here) and a catalog call (on the server)
    const before = sample.calls.length;
    const multi = await session.execute(
      MetaToolSlug.MULTI_EXECUTE_TOOL,
      {
        tools: [
          { tool_slug: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'B-200' } },
          { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Restock B-200' } },
        ],
      },
      { callId: 'call_multi' },
    );
    expect(multi.successful).toBe(true);
    expect(multi.data).toMatchObject({
      successful_count: 2,
      failed_count: 0,
      results: [
        { tool_slug: 'SHOP_LOOKUP_STOCK', successful: true, data: { sku: 'B-200', inStock: 7 } },
        { tool_slug: 'TASKS_CREATE_TASK', successful: true, data: { title: 'Restock B-200' } },
      ],
    });
    expect(ran.at(-1)).toEqual({ sku: 'B-200', sessionId: session.sessionId, callId: 'call_multi#0' });
    expect(sample.calls.slice(before)).toEqual([
      expect.objectContaining({
        slug: 'TASKS_CREATE_TASK',
        context: expect.objectContaining({ callId: 'call_multi#1' }),
      }),
    ]);

    const logs = await session.logs({ limit: 10 });
    expect(logs.items.map((log) => `${log.toolSlug} ${log.status} ${log.callId}`).sort()).toEqual([
      'SHOP_LOOKUP_STOCK error null',
      'SHOP_LOOKUP_STOCK error null',
      'SHOP_LOOKUP_STOCK success call_lookup',
      'SHOP_LOOKUP_STOCK success call_multi#0',
      'TASKS_CREATE_TASK success call_multi#1',
      'TOOLMUX_MULTI_EXECUTE_TOOL success call_multi',
    ]);
    expect(logs.items.find((log) => log.callId === 'call_lookup')).toMatchObject({
      id: direct.logId,
      sessionId: session.sessionId,
      userId: 'user_custom_1',
      toolkit: 'shop',
    });
  });

  it('a DIRECT_TOOLS session, which has no multi-execute, refuses one as an embedded session does', async () => {
    const outcome = async (mux: ToolMux, userId: string) => {
      const { tool: lookup, ran } = stockLookupTool();
      const session = await mux.create(userId, {
        toolkits: ['tasks', 'shop'],
        sessionPreset: SessionPreset.DIRECT_TOOLS,
        experimental: { customTools: [lookup] },
      });
      const result = await session
        .execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
          tools: [{ tool_slug: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'B-200' } }],
        })
        .catch((error: unknown) => error);
      return { result, ran: ran.length };
    };
    const embedded = await outcome(server.embedded, 'user_direct_multi_embedded');
    const remoteOutcome = await outcome(remote, 'user_direct_multi_remote');
    // the embedded session refuses the call: the custom tool never runs
    expect(embedded.ran).toBe(0);
    const code = (value: unknown) => (value as { code?: string }).code;
    expect(code(embedded.result)).toBe('TOOL_NOT_IN_SESSION');
    expect(remoteOutcome.ran).toBe(0);
    expect(code(remoteOutcome.result)).toBe(code(embedded.result));
  });

  it('are shown over MCP, where calling one says it runs in the application', async () => {
    const session = await remote.create('user_custom_2', {
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      toolkits: ['shop'],
      experimental: { customTools: [stockLookupTool().tool] },
    });
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(session.mcp.url), {
        requestInit: { headers: session.mcp.headers },
      }),
    );
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(['SHOP_LOOKUP_STOCK']);
      expect(tools[0]!.annotations).toMatchObject({ readOnlyHint: true });
      const called = await client.callTool({ name: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'A-1' } });
      expect(called.isError).toBe(true);
      expect(JSON.stringify(called.content)).toContain("runs in the application's own process");
    } finally {
      await client.close();
    }
  });

  it('must be given again to use(), and custom toolkits run here too', async () => {
    const ran: Array<{ sku: string; sessionId: string | undefined }> = [];
    const shop = defineToolkit({
      slug: 'warehouse',
      name: 'Warehouse',
      description: 'The shop warehouse',
      keywords: ['inventory', 'stock'],
      tools: [
        defineTool({
          slug: 'WAREHOUSE_COUNT',
          description: 'Count items in the warehouse',
          inputSchema: z.object({}),
          execute: async (_input, ctx) => {
            ran.push({ sku: '*', sessionId: ctx.sessionId });
            return { count: 3 };
          },
        }),
      ],
    });
    const session = await remote.create('user_custom_3', { experimental: { customToolkits: [shop] } });
    const missing = await rejection(remote.use(session.sessionId));
    expect(missing.code).toBe('SESSION_CUSTOM_TOOLS_MISSING');
    expect(missing.message).toContain('warehouse');
    const resumed = await remote.use(session.sessionId, { customToolkits: [shop] });
    expect(await resumed.execute('WAREHOUSE_COUNT', {})).toMatchObject({
      successful: true,
      data: { count: 3 },
    });
    expect(ran).toEqual([{ sku: '*', sessionId: session.sessionId }]);
    expect((await resumed.toolkits()).items.map((item) => item.slug)).toContain('warehouse');
    // its keywords reach the server's search, whose tools' own words say neither
    const found = await resumed.search({ query: 'check our inventory' });
    expect(found.results[0]!.tools[0]?.tool_slug).toBe('WAREHOUSE_COUNT');
  });

  it('cannot need an account: credentials never leave the server', async () => {
    const joinsMail = defineTool({
      slug: 'MAIL_COUNT_DRAFTS',
      description: 'Count drafts',
      inputSchema: z.object({}),
      execute: async () => 0,
    });
    const joined = await rejection(
      remote.create('user_custom_4', { experimental: { customTools: [joinsMail] } }),
    );
    expect(joined.code).toBe('CONFIG_INVALID');
    expect(joined.message).toContain('MAIL_COUNT_DRAFTS');

    const withAuth = defineToolkit({
      slug: 'crm',
      description: 'A CRM',
      auth: { type: 'api_key', fields: [{ name: 'apiKey' }] },
      tools: [
        defineTool({
          slug: 'CRM_FIND',
          description: 'Find',
          inputSchema: z.object({}),
          execute: async () => 0,
        }),
      ],
    });
    const refused = await rejection(
      remote.create('user_custom_4', { experimental: { customToolkits: [withAuth] } }),
    );
    expect(refused.code).toBe('NOT_SUPPORTED');
    expect(refused.message).toContain('crm');
  });

  it('only the session’s own custom tools may be added to its log', async () => {
    const session = await remote.create('user_custom_5', {
      experimental: { customTools: [stockLookupTool().tool] },
    });
    const response = await fetch(`${server.url}/api/v1/sessions/${session.sessionId}/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        items: [
          {
            id: 'log_forged',
            session_id: session.sessionId,
            user_id: 'user_custom_5',
            tool_slug: 'TASKS_DELETE_TASK',
            toolkit: 'tasks',
            connected_account_id: null,
            call_id: null,
            status: 'success',
            error_code: null,
            error_message: null,
            duration_ms: 1,
            input: '{}',
            output: '{}',
            created_at: new Date().toISOString(),
          },
        ],
      }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      'TASKS_DELETE_TASK',
    );
    expect((await session.logs()).items).toEqual([]);
  });
});

describe('remote mode: log uploads', () => {
  it('close() sends every log entry of calls that ran here', async () => {
    const mux = server.remote();
    const { tool } = stockLookupTool();
    const session = await mux.create('user_upload_close', { experimental: { customTools: [tool] } });
    await Promise.all(
      Array.from({ length: 30 }, (_, index) => session.execute(tool.slug, { sku: `A-${index}` })),
    );
    await mux.close();
    // read on the server, past the remote client
    const logs = await (await server.embedded.use(session.sessionId, { customTools: [tool] })).logs();
    expect(logs.items).toHaveLength(30);
  });

  it('mux.sessions.delete() sends the entries of calls that ran here first, as session.delete() does', async () => {
    // a network on which an upload takes longer than a DELETE: the server refused the entries of a
    // session deleted meanwhile, and they were lost
    const uploadsLag: typeof fetch = async (input, init) => {
      if (init?.method === 'POST' && String(input).endsWith('/logs')) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return fetch(input, init);
    };
    const logger = recordingLogger();
    const mux = new ToolMux({ baseUrl: server.url, apiKey: server.apiKey, fetch: uploadsLag, logger });
    const { tool } = stockLookupTool();
    for (const remove of ['mux.sessions.delete', 'session.delete'] as const) {
      const session = await mux.create('user_upload_delete', { experimental: { customTools: [tool] } });
      const ran = await session.execute(tool.slug, { sku: 'D-1' });
      if (remove === 'session.delete') await session.delete();
      else await mux.sessions.delete(session.sessionId);
      const logs = await server.embedded.logs.list({ sessionId: session.sessionId });
      expect(
        logs.items.map((entry) => entry.id),
        remove,
      ).toEqual([ran.logId]);
    }
    await mux.close();
    expect(logger.errors).toEqual([]);
  });

  it('close() lets a custom-tool call running here finish first, and sends its entry; one past close({ timeoutMs }) is stopped (TOOL_ABORTED) and sent too', async () => {
    const mux = server.remote();
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waits = defineTool({
      slug: 'SHOP_WAIT_FOR_STOCK',
      description: 'Waits until the test lets it answer (ignores its abort signal)',
      inputSchema: z.object({ sku: z.string() }),
      execute: async ({ sku }) => {
        await released;
        return { sku, inStock: true };
      },
    });
    const session = await mux.create('user_upload_inflight', { experimental: { customTools: [waits] } });
    const finishing = session.execute(waits.slug, { sku: 'F-1' });
    setTimeout(release, 150);
    await mux.close();
    const finished = await finishing;
    expect(finished.data).toEqual({ sku: 'F-1', inStock: true });
    const stored = await server.embedded.use(session.sessionId, { customTools: [waits] });
    // on the old code close() sent what was written before it and did not wait for the call
    expect((await stored.logs()).items.map((entry) => entry.id)).toEqual([finished.logId]);

    let never!: () => void;
    const hung = defineTool({
      slug: 'SHOP_HANG',
      description: 'Never answers on its own (ignores its abort signal)',
      inputSchema: z.object({ sku: z.string() }),
      execute: async () => {
        await new Promise<void>((resolve) => {
          never = resolve;
        });
        return {};
      },
    });
    const other = await mux.create('user_upload_inflight', { experimental: { customTools: [hung] } });
    const stopping = other.execute(hung.slug, { sku: 'H-1' });
    await mux.close({ timeoutMs: 100 });
    const stopped = await stopping;
    never();
    expect(stopped.code).toBe('TOOL_ABORTED');
    expect(stopped.error).toContain('its ToolMux was closed');
    const logged = (await (await server.embedded.use(other.sessionId, { customTools: [hung] })).logs()).items;
    expect(logged.map((entry) => [entry.id, entry.errorCode])).toEqual([[stopped.logId, 'TOOL_ABORTED']]);
    // a remote ToolMux stays usable after close()
    expect((await session.execute(waits.slug, { sku: 'F-2' })).successful).toBe(true);
  });

  it('a client process that ends without close() still sends its entries before it exits', async () => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./fixture-exit-without-close.mjs', import.meta.url))],
      {
        env: { ...process.env, TOOLMUX_URL: server.url, TOOLMUX_API_KEY: server.apiKey, CALLS: '25' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code, output).toBe(0);
    const sessionId = output.trim();
    const { tool } = stockLookupTool();
    const logs = await (await server.embedded.use(sessionId, { customTools: [tool] })).logs();
    expect(logs.items.map((entry) => entry.callId).sort()).toEqual(
      Array.from({ length: 25 }, (_, index) => `call_${index}`).sort(),
    );
  });
});

describe('remote mode: configuration and failures', () => {
  it('refuses options of an embedded engine, a missing baseUrl and a short key', () => {
    const attempt = (options: ConstructorParameters<typeof ToolMux>[0]) => {
      try {
        new ToolMux(options);
      } catch (error) {
        return error as ToolMuxError;
      }
      throw new Error('expected the constructor to throw');
    };
    const store = attempt({ baseUrl: server.url, apiKey: server.apiKey, store: ':memory:' });
    expect(store.code).toBe('CONFIG_INVALID');
    expect(store.message).toContain('store');
    expect(attempt({ apiKey: server.apiKey }).message).toContain('baseUrl');
    expect(attempt({ baseUrl: server.url, apiKey: 'short' }).message).toContain('at least 16');
  });

  it('embedded-only members say so in remote mode', () => {
    expect(() => remote.catalog).toThrow(/only on an embedded ToolMux/);
    expect(() => remote.auth).toThrow(expect.objectContaining({ code: 'NOT_SUPPORTED' }));
  });

  it('a wrong API key is UNAUTHORIZED; an unreachable server is SERVER_UNREACHABLE, and a call a result', async () => {
    const wrongKey = new ToolMux({ baseUrl: server.url, apiKey: 'not-the-right-key-000000' });
    const unauthorized = await rejection(wrongKey.sessions.list());
    expect(unauthorized.code).toBe('UNAUTHORIZED');
    expect(unauthorized.message).not.toContain('not-the-right-key');

    let down = false;
    const flaky = new ToolMux({
      baseUrl: server.url,
      apiKey: server.apiKey,
      fetch: (input, init) => (down ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init)),
    });
    // a port nothing listens on (not port 9, say: fetch refuses that one, see bad-ports.ts)
    const downUrl = `http://127.0.0.1:${await freePort()}`;
    const gone = await rejection(new ToolMux({ baseUrl: downUrl, apiKey: server.apiKey }).toolkits.list());
    expect(gone.code).toBe('SERVER_UNREACHABLE');
    expect(gone.message).toContain(downUrl);
    expect(gone.message).toContain('ECONNREFUSED');
    expect(gone.message).not.toContain(server.apiKey);

    // a read that meets a dropped connection is tried once more; a write is not (it may have landed)
    let failNext = 0;
    let attempts = 0;
    const dropping = new ToolMux({
      baseUrl: server.url,
      apiKey: server.apiKey,
      fetch: (input, init) => {
        attempts += 1;
        if (failNext > 0) {
          failNext -= 1;
          return Promise.reject(new TypeError('socket hang up'));
        }
        return fetch(input, init);
      },
    });
    failNext = 1;
    expect((await dropping.toolkits.list()).total).toBe(3);
    expect(attempts).toBe(2);
    failNext = 1;
    attempts = 0;
    expect((await rejection(dropping.create('user_failures', {}))).code).toBe('SERVER_UNREACHABLE');
    expect(attempts).toBe(1);

    // a call of a session whose server went away is a result the model can read, not a crash
    const session = await flaky.create('user_failures', { toolkits: ['tasks'] });
    down = true;
    const result = await session.execute('TASKS_LIST_TASKS', {});
    expect(result).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE', data: null });
    expect(result.error).toContain('fetch failed');
  });

  it('a call aborted before it is sent is not sent, and is logged like an embedded one', async () => {
    const session = await remote.create('user_preabort', { toolkits: ['tasks'] });
    const before = sample.calls.length;
    const result = await session.execute(
      'TASKS_CREATE_TASK',
      { title: 'never' },
      { signal: AbortSignal.abort(), callId: 'call_pre' },
    );
    expect(result).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
    expect(result.error).toContain('aborted before it started');
    expect(sample.calls.length).toBe(before);
    const [entry] = (await session.logs()).items;
    expect(entry).toMatchObject({ id: result.logId, callId: 'call_pre', errorCode: 'TOOL_ABORTED' });
  });

  it('mux.tools.execute() and the tools of mux.tools.get() answer an abort or an unreachable server with a failed result, as embedded', async () => {
    // they rejected: with a bare AbortError, SERVER_UNREACHABLE or TOOLMUX_CLOSED
    const unreachable = new ToolMux({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      apiKey: server.apiKey,
    });
    for (const mux of [remote, server.embedded]) {
      const before = await mux.tools.execute('TASKS_LIST_TASKS', {
        userId: 'user_direct_abort',
        signal: AbortSignal.abort(),
      });
      expect(before, mux.mode).toMatchObject({ successful: false, code: 'TOOL_ABORTED', data: null });
      expect(before.error).toBe('TASKS_LIST_TASKS was aborted before it started.');
      const controller = new AbortController();
      const running = mux.tools.execute('TASKS_WAIT_FOR_APPROVAL', {
        userId: 'user_direct_abort',
        arguments: { taskId: 't1' },
        signal: controller.signal,
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      controller.abort();
      expect(await running, mux.mode).toMatchObject({
        successful: false,
        code: 'TOOL_ABORTED',
        error: 'TASKS_WAIT_FOR_APPROVAL was aborted by the caller.',
      });
      const listTasks = (
        (await mux.tools.get('user_direct_abort', { toolkits: ['tasks'] })) as PlainTool[]
      ).find((tool) => tool.name === 'TASKS_LIST_TASKS');
      expect(await listTasks!.execute({}, { signal: AbortSignal.abort() }), mux.mode).toMatchObject({
        successful: false,
        code: 'TOOL_ABORTED',
      });
    }
    const down = await unreachable.tools.execute('TASKS_LIST_TASKS', { userId: 'user_direct_abort' });
    expect(down).toMatchObject({ successful: false, code: 'SERVER_UNREACHABLE', data: null });
    expect(down.error).toContain('ECONNREFUSED');
  });

  it('waitForConnections() waits as long as it was asked, past a shorter requestTimeoutMs', async () => {
    // the server holds the request for the wait: a ToolMux that gives a request 500 ms stopped a
    // wait of 1.2 s after 500 ms (SERVER_UNREACHABLE), where an embedded one answers timedOut
    const config = await remote.authConfigs.create('mail', { type: 'api_key' });
    const created = await remote.create('user_remote_wait_timeout', {
      toolkits: ['mail'],
      authConfigs: { mail: config.id },
    });
    const request = await created.authorize('mail');
    const quick = new ToolMux({ baseUrl: server.url, apiKey: server.apiKey, requestTimeoutMs: 500 });
    const session = await quick.use(created.sessionId);
    const waited = await session.waitForConnections(['mail'], { timeoutMs: 1200 });
    expect(waited).toMatchObject({
      timedOut: true,
      toolkits: { mail: { status: 'PENDING', connectionRequestId: request.id } },
    });
    await quick.close();
  });

  it('an abort stops the call on the server and is a TOOL_ABORTED result here', async () => {
    const session = await remote.create('user_abort', { toolkits: ['tasks'] });
    const controller = new AbortController();
    const pending = session.execute(
      'TASKS_WAIT_FOR_APPROVAL',
      { taskId: 't1' },
      { signal: controller.signal, callId: 'call_wait' },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    const result = await pending;
    expect(result).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
    // the server saw the client go away and aborted the handler
    await expect
      .poll(
        async () => (await session.logs()).items.find((log) => log.callId === 'call_wait')?.errorCode,
        untilTestTimeout(),
      )
      .toBe('TOOL_ABORTED');
  });
});
