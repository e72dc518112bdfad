import { inspect } from 'node:util';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { z } from 'zod';
import { defineTool } from './catalog/define.js';
import type { SessionConfig } from './config/session-config.js';
import { ToolMuxError } from './errors.js';
import type { ToolResult } from './execution/result.js';
import { MetaToolSlug } from './meta-tools/meta-tools.js';
import type { ExecuteFn, Provider, ToolSpec } from './provider.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { untilTestTimeout } from './test/until-test-timeout.js';
import { ToolMux } from './toolmux.js';

const quiet = { debug() {}, warn() {}, error() {} };

function setup() {
  const sample = createSampleToolkits();
  const mux = new ToolMux({
    toolkits: sample.toolkits,
    store: ':memory:',
    logger: quiet,
    baseUrl: 'https://tools.example.com/',
  });
  return { ...sample, mux };
}

describe('sessions', () => {
  it('have ses_ ids with at least 128 random bits, unique per session', async () => {
    const { mux } = setup();
    const ids = await Promise.all(
      Array.from({ length: 50 }, () => mux.create('user_1').then((s) => s.sessionId)),
    );
    for (const id of ids) expect(id).toMatch(/^ses_[0-9a-z]{38}$/);
    expect(new Set(ids).size).toBe(50);
  });

  it('are restored by use() with their normalized config', async () => {
    const { mux } = setup();
    const created = await mux.create('user_1', {
      toolkits: ['tasks', 'notes'],
      tools: { tasks: { disable: ['TASKS_DELETE_TASK'] } },
      preload: { tools: ['TASKS_CREATE_TASK'] },
      metadata: { bot: 'support' },
    });
    const resumed = await mux.use(created.sessionId);
    expect(resumed.userId).toBe('user_1');
    expect(resumed.config).toEqual(created.config);
    expect(resumed.config.toolkits).toEqual({ mode: 'enable', slugs: ['tasks', 'notes'] });
    expect(resumed.metadata).toEqual({ bot: 'support' });
    expect((await resumed.tools()).map((tool) => tool.name)).toContain('TASKS_CREATE_TASK');
  });

  it('use() of an unknown session is SESSION_NOT_FOUND', async () => {
    const { mux } = setup();
    await expect(mux.use('ses_nope')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('use() needs the custom tools again and runs them', async () => {
    const { mux } = setup();
    const lookup = defineTool({
      slug: 'CRM_FIND_CONTACT',
      description: 'Find a contact by name.',
      inputSchema: z.object({ name: z.string() }),
      execute: async ({ name }) => ({ found: name }),
    });
    const created = await mux.create('user_1', { experimental: { customTools: [lookup] } });
    const error = await mux.use(created.sessionId).catch((e: unknown) => e);
    expect(ToolMuxError.isInstance(error) && error.code).toBe('SESSION_CUSTOM_TOOLS_MISSING');
    expect((error as Error).message).toContain('CRM_FIND_CONTACT');
    const resumed = await mux.use(created.sessionId, { customTools: [lookup] });
    const result = await resumed.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'CRM_FIND_CONTACT', arguments: { name: 'Ada' } }],
    });
    expect(result.data).toMatchObject({ results: [{ successful: true, data: { found: 'Ada' } }] });
  });

  it('update() validates, stores the new config and returns the new version', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    expect(session.configVersion).toBe(1);
    expect(await session.update({ toolkits: ['notes'] })).toBe(2);
    expect((await session.tools()).map((tool) => tool.name).sort()).toEqual([
      'NOTES_CREATE_NOTE',
      'NOTES_SEARCH_NOTES',
    ]);
    const resumed = await mux.use(session.sessionId);
    expect(resumed.configVersion).toBe(2);
    expect(resumed.config.toolkits).toEqual({ mode: 'enable', slugs: ['notes'] });
    expect(resumed.config.sessionPreset).toBe('DIRECT_TOOLS');
    await expect(session.update({ toolkits: ['nope'] })).rejects.toMatchObject({ code: 'TOOLKIT_NOT_FOUND' });
    expect((await mux.use(session.sessionId)).configVersion).toBe(2);
  });

  it('update() leaves a key given as undefined as it was, as a remote session and PATCH do (it reset the key to its default, so toolkits: undefined opened every toolkit and tags: undefined dropped the destructive-tools filter)', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', {
      toolkits: ['tasks'],
      tools: { tasks: { disable: ['TASKS_DELETE_TASK'] } },
      tags: { disable: ['destructiveHint'] },
      sessionPreset: 'DIRECT_TOOLS',
      workbench: { enable: true, timeoutMs: 5_000 },
      metadata: { team: 'support' },
    });
    const before = session.config;
    const toolsBefore = (await session.tools()).map((tool) => tool.name).sort();
    // what an application writes when it passes its own optional settings through: only `label` is set
    const settings: Pick<SessionConfig, 'toolkits' | 'tags'> & { label?: string } = { label: 'renamed' };
    const version = await session.update({
      toolkits: settings.toolkits,
      tools: undefined,
      tags: settings.tags,
      sessionPreset: undefined,
      workbench: undefined,
      metadata: { team: 'support', label: settings.label! },
    });
    expect(version).toBe(2);
    for (const config of [session.config, (await mux.use(session.sessionId)).config]) {
      expect(config.toolkits).toEqual(before.toolkits);
      expect(config.tools).toEqual(before.tools);
      expect(config.tags).toEqual(before.tags);
      expect(config.sessionPreset).toBe('DIRECT_TOOLS');
      expect(config.workbench).toEqual(before.workbench);
      expect(config.metadata).toEqual({ team: 'support', label: 'renamed' });
    }
    expect((await session.tools()).map((tool) => tool.name).sort()).toEqual(toolsBefore);
    expect((await session.execute('NOTES_CREATE_NOTE', { title: 'x' })).code).toBe('TOOL_NOT_IN_SESSION');
  });

  it('update() with an expectedVersion newer than the stored one says so, not that someone else updated it', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'] });
    const refused = await session
      .update({ metadata: { step: 'one' } }, { expectedVersion: 99 })
      .catch((error) => error);
    expect(refused).toMatchObject({
      code: 'SESSION_VERSION_CONFLICT',
      details: { expectedVersion: 99, currentVersion: 1 },
    });
    expect(refused.message).toContain('the expectedVersion given, 99, is newer than any it has had');
    expect(refused.message).toContain(`configVersion that use("${session.sessionId}") answers`);
    expect(refused.message).not.toContain('someone else');
    expect(refused.messageFor('rest')).toContain('the expected_version given, 99, is newer');
    expect((await mux.use(session.sessionId)).metadata).toEqual({});
  });

  it('update() from a stale copy is a SESSION_VERSION_CONFLICT, not a lost write', async () => {
    const { mux } = setup();
    const first = await mux.create('user_1', { toolkits: ['tasks'] });
    const second = await mux.use(first.sessionId);
    await first.update({ metadata: { step: 'one' } });
    const refused = await second.update({ metadata: { step: 'two' } }).catch((error) => error);
    expect(refused).toMatchObject({
      code: 'SESSION_VERSION_CONFLICT',
      message: expect.stringContaining(`Read the session again with use("${first.sessionId}")`),
    });
    // no version was given: none is named as given
    expect(refused.message).toContain('expected config version 1, found 2');
    expect(refused.message).not.toContain('expectedVersion');
    expect((await mux.use(first.sessionId)).metadata).toEqual({ step: 'one' });
  });

  it('update() with an expectedVersion another update moved past names it, and what to do', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'] });
    await (await mux.use(session.sessionId)).update({ metadata: { step: 'one' } });
    const refused = await session
      .update({ metadata: { step: 'two' } }, { expectedVersion: 1 })
      .catch((error) => error);
    expect(refused).toMatchObject({
      code: 'SESSION_VERSION_CONFLICT',
      details: { expectedVersion: 1, currentVersion: 2 },
    });
    expect(refused.message).toContain(
      `the expectedVersion given, 1, is not its config version any more (it is 2). Read the session again with use("${session.sessionId}")`,
    );
    expect(refused.message).toContain('leave expectedVersion out');
    expect(refused.messageFor('rest')).toContain(
      `the expected_version given, 1, is not its config version any more (it is 2). Read the session again with GET /api/v1/sessions/${session.sessionId}`,
    );
    expect((await mux.use(session.sessionId)).metadata).toEqual({ step: 'one' });
  });

  it("sessions.list pages through a user's sessions, newest first, with metadata", async () => {
    const { mux } = setup();
    const mine = [];
    for (let i = 0; i < 5; i++)
      mine.push((await mux.create('user_a', { metadata: { n: String(i) } })).sessionId);
    await mux.create('user_b');
    const first = await mux.sessions.list({ userId: 'user_a', limit: 3 });
    expect(first.items.map((item) => item.sessionId)).toEqual(mine.slice().reverse().slice(0, 3));
    expect(first.items[0]!.metadata).toEqual({ n: '4' });
    const second = await mux.sessions.list({ userId: 'user_a', limit: 3, cursor: first.nextCursor });
    expect(second.items.map((item) => item.sessionId)).toEqual(mine.slice().reverse().slice(3));
    expect(second.nextCursor).toBeUndefined();
  });

  it('expose an MCP URL and a session token that stays out of JSON and inspect()', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1');
    expect(session.mcp.url).toBe(`https://tools.example.com/mcp/${session.sessionId}`);
    const token = session.mcp.headers.Authorization.replace('Bearer ', '');
    expect(token).toMatch(/^tmx_st_[A-Za-z0-9_-]{43}$/);
    expect((await mux.use(session.sessionId)).mcp.headers.Authorization).toBe(`Bearer ${token}`);
    expect(JSON.stringify(session)).not.toContain(token);
    expect(inspect(session, { depth: 10 })).not.toContain(token);
    const other = await mux.create('user_1');
    expect(other.mcp.headers.Authorization).not.toBe(session.mcp.headers.Authorization);
  });

  it('rotate their MCP token: a new token, stored as its hash, that use() shows; nothing else changes', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'], metadata: { bot: 'support' } });
    const stale = await mux.use(session.sessionId);
    const before = session.mcp;
    const rotated = await session.rotateMcpToken();
    expect(rotated.url).toBe(before.url);
    expect(rotated.headers.Authorization).toMatch(/^Bearer tmx_st_[A-Za-z0-9_-]{43}$/);
    expect(rotated.headers.Authorization).not.toBe(before.headers.Authorization);
    expect(session.mcp).toEqual(rotated);
    const resumed = await mux.use(session.sessionId);
    expect(resumed.mcp).toEqual(rotated);
    expect(resumed.configVersion).toBe(1);
    expect(resumed.metadata).toEqual({ bot: 'support' });

    // A session object resumed before the rotation rotates after it: its token is the newest.
    const again = await stale.rotateMcpToken();
    expect([before, rotated].map((mcp) => mcp.headers.Authorization)).not.toContain(
      again.headers.Authorization,
    );
    expect((await mux.use(session.sessionId)).mcp).toEqual(again);
    const concurrent = await Promise.all([session.rotateMcpToken(), stale.rotateMcpToken()]);
    expect(new Set(concurrent.map((mcp) => mcp.headers.Authorization)).size).toBe(2);
    expect(concurrent.map((mcp) => mcp.headers.Authorization)).toContain(
      (await mux.use(session.sessionId)).mcp.headers.Authorization,
    );
  });
});

describe('session.tools()', () => {
  it('META_TOOLS gives the meta-tools plus preloaded tools', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { preload: { tools: ['TASKS_CREATE_TASK'] } });
    expect((await session.tools()).map((tool) => tool.name)).toEqual([
      MetaToolSlug.SEARCH_TOOLS,
      MetaToolSlug.GET_TOOL_SCHEMAS,
      MetaToolSlug.MANAGE_CONNECTIONS,
      MetaToolSlug.MULTI_EXECUTE_TOOL,
      MetaToolSlug.WORKBENCH,
      'TASKS_CREATE_TASK',
    ]);
    const preloaded = (await session.tools()).find((tool) => tool.name === 'TASKS_CREATE_TASK')!;
    expect(await preloaded.execute({ title: 'direct' })).toMatchObject({
      successful: true,
      data: { title: 'direct' },
    });
  });

  it('manageConnections: false leaves out TOOLMUX_MANAGE_CONNECTIONS', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { manageConnections: false });
    const names = (await session.tools()).map((tool) => tool.name);
    expect(names).not.toContain(MetaToolSlug.MANAGE_CONNECTIONS);
    expect((await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['tasks'] })).code).toBe(
      'TOOL_NOT_IN_SESSION',
    );
  });

  it('DIRECT_TOOLS gives every enabled tool and no meta-tool', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const names = (await session.tools()).map((tool) => tool.name);
    expect(names).toHaveLength(6);
    expect(names.every((name) => name.startsWith('TASKS_'))).toBe(true);
    const result = await session.execute(MetaToolSlug.SEARCH_TOOLS, { queries: [{ use_case: 'x' }] });
    expect(result.code).toBe('TOOL_NOT_IN_SESSION');
  });

  it("run with the framework's call id even when the log cannot keep it as it is; multi-execute's inner ids fit", async () => {
    const { mux, calls } = setup();
    const session = await mux.create('user_1', {
      toolkits: ['tasks'],
      preload: { tools: ['TASKS_LIST_TASKS'] },
    });
    const tools = await session.tools();
    const list = tools.find((tool) => tool.name === 'TASKS_LIST_TASKS')!;
    const multi = tools.find((tool) => tool.name === MetaToolSlug.MULTI_EXECUTE_TOOL)!;
    expect(await list.execute({}, { callId: 'c'.repeat(300) })).toMatchObject({ successful: true });
    expect(await list.execute({}, { callId: 'call\u001b[1' })).toMatchObject({ successful: true });
    // an id of 256 characters is fine; the ids of the calls it makes (#0, #1) must fit too
    const twoCalls = [0, 1].map(() => ({ tool_slug: 'TASKS_LIST_TASKS', arguments: {} }));
    const result = await multi.execute({ tools: twoCalls }, { callId: 'm'.repeat(256) });
    expect(result).toMatchObject({ successful: true, data: { successful_count: 2 } });
    expect(calls.map((call) => call.context.callId)).toEqual([
      'c'.repeat(256),
      'call\ufffd[1',
      `${'m'.repeat(254)}#0`,
      `${'m'.repeat(254)}#1`,
    ]);
    // the application's own call id is still checked
    await expect(session.execute('TASKS_LIST_TASKS', {}, { callId: 'c'.repeat(300) })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    const direct = await mux.tools.get('user_1', { toolkits: ['tasks'] });
    const directList = direct.find((tool) => tool.name === 'TASKS_LIST_TASKS')!;
    expect(await directList.execute({}, { callId: 'd\ud800' })).toMatchObject({ successful: true });
    expect(calls.at(-1)!.context.callId).toBe('d\ufffd');
  });

  it('hand out plain JSON schemas with an object root', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
    for (const tool of await session.tools()) {
      expect(tool.inputSchema.type).toBe('object');
      expect(Object.getOwnPropertyNames(tool.inputSchema)).not.toContain('~standard');
      expect(JSON.stringify(tool.inputSchema)).not.toContain('$ref');
    }
  });
});

describe('session.toolkits()', () => {
  it('lists enabled toolkits with their connection status, filtered and paged', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1');
    const all = await session.toolkits();
    expect(all.total).toBe(3);
    expect(all.items.map((item) => [item.slug, item.noAuth, item.connection.isActive])).toEqual([
      ['mail', false, false],
      ['notes', true, true],
      ['tasks', true, true],
    ]);
    expect((await session.toolkits({ connected: false })).items.map((item) => item.slug)).toEqual(['mail']);
    const page = await session.toolkits({ limit: 2 });
    expect(page.items).toHaveLength(2);
    const rest = await session.toolkits({ limit: 2, cursor: page.nextCursor });
    expect(rest.items.map((item) => item.slug)).toEqual(['tasks']);
    expect(rest.nextCursor).toBeUndefined();
    await expect(session.toolkits({ cursor: 'garbage' })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('pages on from the last slug shown, whatever was connected or filtered since', async () => {
    const { toolkits } = createSampleToolkits();
    const mux = new ToolMux({
      toolkits,
      store: ':memory:',
      logger: quiet,
      secretKey: Buffer.alloc(32, 7).toString('base64'),
    });
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const session = await mux.create('user_1', { authConfigs: { mail: config.id } });
    const slugs = (page: { items: Array<{ slug: string }> }) => page.items.map((item) => item.slug);
    // connected: [notes, tasks]; then mail, before both, is connected: page 2 is tasks, not notes again
    const first = await session.toolkits({ connected: true, limit: 1 });
    expect(slugs(first)).toEqual(['notes']);
    await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-0123456789' });
    const second = await session.toolkits({ connected: true, limit: 1, cursor: first.nextCursor });
    expect(slugs(second)).toEqual(['tasks']);
    expect(second.nextCursor).toBeUndefined();
    // a cursor of the list without a filter, after mail: the connected ones after it, none skipped
    const all = await session.toolkits({ limit: 1 });
    expect(slugs(all)).toEqual(['mail']);
    const filtered = await session.toolkits({ connected: true, limit: 1, cursor: all.nextCursor });
    expect(slugs(filtered)).toEqual(['notes']);
    expect(slugs(await session.toolkits({ limit: 5, cursor: filtered.nextCursor }))).toEqual(['tasks']);
    // an offset, as cursors were, is no cursor of this list
    const offset = Buffer.from('o:1').toString('base64url');
    await expect(session.toolkits({ cursor: offset })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await mux.close();
  });
});

describe('direct access', () => {
  it('toolkits.list / get describe the catalog', async () => {
    const { mux } = setup();
    const list = await mux.toolkits.list({ search: 'note' });
    expect(list.items.map((item) => item.slug)).toEqual(['notes']);
    const mail = await mux.toolkits.get('mail');
    expect(mail).toMatchObject({ slug: 'mail', noAuth: false, authSchemes: ['api_key'], toolCount: 1 });
    // a toolkit's keywords, which search reads as words of its tools, are listed with it
    expect(list.items[0]!.keywords).toEqual(['memo', 'jotting']);
    // and a search finds a toolkit by them (it matched slug, name and description only)
    expect((await mux.toolkits.list({ search: 'Jotting' })).items.map((item) => item.slug)).toEqual([
      'notes',
    ]);
    expect(mail.keywords).toEqual([]);
    await expect(mux.toolkits.get('maill')).rejects.toMatchObject({ code: 'TOOLKIT_NOT_FOUND' });
  });

  it("tools.get wraps a user's tools without meta-tools, tools.execute runs one", async () => {
    const { mux, calls } = setup();
    const tools = await mux.tools.get('user_9', { toolkits: ['tasks'], tags: ['readOnlyHint'] });
    expect(tools.map((tool) => tool.name)).toEqual(['TASKS_LIST_TASKS']);
    const result = await mux.tools.execute('TASKS_CREATE_TASK', {
      userId: 'user_9',
      arguments: { title: 'x' },
    });
    expect(result.successful).toBe(true);
    expect(calls.at(-1)).toMatchObject({
      slug: 'TASKS_CREATE_TASK',
      context: { userId: 'user_9', sessionId: undefined },
    });
    expect((await mux.tools.execute('TASKS_NOPE', { userId: 'user_9' })).code).toBe('TOOL_NOT_FOUND');
  });
});

describe('session.handleToolCalls()', () => {
  /** A provider for a made-up SDK whose responses list calls and whose replies are their results. */
  class CallListProvider
    implements
      Provider<
        string[],
        { calls: Array<{ id: string; name: string; args: unknown }> },
        Array<{ id: string; result: ToolResult }>
      >
  {
    readonly name = 'call-list';
    wrapTools(specs: readonly ToolSpec[]): string[] {
      return specs.map((spec) => spec.slug);
    }
    handleToolCalls(
      response: { calls: Array<{ id: string; name: string; args: unknown }> },
      execute: ExecuteFn,
    ): Promise<Array<{ id: string; result: ToolResult }>> {
      return Promise.all(
        response.calls.map(async (call) => ({
          id: call.id,
          result: await execute(call.name, call.args, { callId: call.id }),
        })),
      );
    }
  }

  it('runs every call in parallel with its call id and the caller signal; unknown tools are error results', async () => {
    const { toolkits, calls } = createSampleToolkits();
    const mux = new ToolMux({ toolkits, provider: new CallListProvider(), store: ':memory:', logger: quiet });
    const session = await mux.create('user_1', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    const controller = new AbortController();
    const pending = session.handleToolCalls(
      {
        calls: [
          { id: 'call_wait', name: 'TASKS_WAIT_FOR_APPROVAL', args: { taskId: 't1' } },
          { id: 'call_create', name: 'TASKS_CREATE_TASK', args: { title: 'a' } },
          { id: 'call_none', name: 'NOPE_TOOL', args: {} },
        ],
      },
      { signal: controller.signal },
    );
    // the waiting call holds the batch until the abort: the other two ran beside it
    await vi.waitFor(
      () =>
        expect(calls.map((call) => call.slug)).toEqual(
          expect.arrayContaining(['TASKS_CREATE_TASK', 'TASKS_WAIT_FOR_APPROVAL']),
        ),
      untilTestTimeout(),
    );
    controller.abort();
    const replies = await pending;
    expectTypeOf(replies).toEqualTypeOf<Array<{ id: string; result: ToolResult }>>();
    expect(replies.map((reply) => [reply.id, reply.result.successful, reply.result.code])).toEqual([
      ['call_wait', false, 'TOOL_ABORTED'],
      ['call_create', true, undefined],
      ['call_none', false, 'TOOL_NOT_FOUND'],
    ]);
    expect(replies[2]!.result.error).toContain('NOPE_TOOL');
    const logged = (await session.logs()).items.map((entry) => [entry.toolSlug, entry.callId]);
    expect(logged).toEqual(
      expect.arrayContaining([
        ['TASKS_WAIT_FOR_APPROVAL', 'call_wait'],
        ['TASKS_CREATE_TASK', 'call_create'],
        ['NOPE_TOOL', 'call_none'],
      ]),
    );
    await mux.close();
  });

  it('runs calls whose ids the log cannot keep as they are, each answered under its own id', async () => {
    const { toolkits, calls } = createSampleToolkits();
    const mux = new ToolMux({ toolkits, provider: new CallListProvider(), store: ':memory:', logger: quiet });
    const session = await mux.create('user_1', { toolkits: ['tasks'], sessionPreset: 'DIRECT_TOOLS' });
    // ids are the model API's: too long, with control characters, a lone surrogate, empty, repeated
    const ids = ['c'.repeat(300), 'call\u0000\n1', 'call_\ud800', '', 'same', 'same'];
    const replies = await session.handleToolCalls({
      calls: ids.map((id) => ({ id, name: 'TASKS_LIST_TASKS', args: {} })),
    });
    expect(replies.map((reply) => [reply.id, reply.result.successful])).toEqual(ids.map((id) => [id, true]));
    expect(calls).toHaveLength(ids.length);
    const logged = (await session.logs({ limit: 10 })).items.map((entry) => entry.callId).sort();
    expect(logged).toEqual(['c'.repeat(256), 'call\ufffd\ufffd1', 'call_\ufffd', '', 'same', 'same'].sort());
    await mux.close();
  });

  it('is NOT_SUPPORTED with a provider that runs tools itself', async () => {
    const { mux } = setup();
    const session = await mux.create('user_1');
    // @ts-expect-error the plain provider has no handleToolCalls: nothing can be passed
    const call = session.handleToolCalls({});
    await expect(call).rejects.toMatchObject({
      code: 'NOT_SUPPORTED',
      message: expect.stringContaining('"plain"'),
    });
    await mux.close();
  });
});
