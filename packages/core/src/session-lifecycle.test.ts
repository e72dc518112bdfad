import { describe, expect, it } from 'vitest';
import type { Toolkit } from './catalog/types.js';
import { databaseBackends, databasePerTest, quiet, rejection } from './test/auth-fixtures.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

/**
 * `session.delete()` / `mux.sessions.delete()`, `mux.logs.list()` and `session.ensureConnected()` on
 * both databases, with two ToolMux instances sharing one store where it matters.
 */

const secretKey = Buffer.alloc(32, 7).toString('base64');

const backends = await databaseBackends();

describe.each(backends)('session lifecycle on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'api', () => {
    const { database, opened } = databasePerTest(open);

    function setup(options: { toolkits?: Toolkit[]; accountCacheTtlMs?: number } = {}) {
      const mux = new ToolMux({
        toolkits: options.toolkits ?? createSampleToolkits().toolkits,
        store: database.spec,
        secretKey,
        logger: quiet,
        baseUrl: 'https://tools.example.com',
        ...(options.accountCacheTtlMs !== undefined ? { accountCacheTtlMs: options.accountCacheTtlMs } : {}),
      });
      opened.push(mux);
      return mux;
    }

    it('a deleted session runs nothing more through the session objects that had it, here and on other instances, and their logs() point to the project log (they read on, where a remote session got 404)', async () => {
      const sample = createSampleToolkits();
      const mux = setup({ toolkits: sample.toolkits });
      // another instance that reads the store on every call (accountCacheTtlMs: 0), and one with a short TTL
      const other = setup({ toolkits: sample.toolkits, accountCacheTtlMs: 0 });
      const later = setup({ toolkits: sample.toolkits, accountCacheTtlMs: 100 });
      const session = await mux.create('user_1', { toolkits: ['tasks', 'mail'] });
      const sameProcess = await mux.use(session.sessionId);
      const elsewhere = await other.use(session.sessionId);
      const elsewhereLater = await later.use(session.sessionId);
      for (const held of [session, sameProcess, elsewhere, elsewhereLater]) {
        expect((await held.execute('TASKS_CREATE_TASK', { title: 'before' })).successful).toBe(true);
      }

      await session.delete();
      await new Promise((resolve) => setTimeout(resolve, 150));

      for (const held of [session, sameProcess, elsewhere, elsewhereLater]) {
        const result = await held.execute('TASKS_CREATE_TASK', { title: 'after the delete' });
        expect(result).toMatchObject({ successful: false, code: 'SESSION_NOT_FOUND' });
        expect(result.error).toContain(session.sessionId);
        await rejection(held.authorize('mail'), 'SESSION_NOT_FOUND');
        await rejection(held.ensureConnected('mail'), 'SESSION_NOT_FOUND');
        await rejection(held.toolkits(), 'SESSION_NOT_FOUND');
        await rejection(held.search({ query: 'create a task' }), 'SESSION_NOT_FOUND');
        await rejection(
          held.proxyExecute({ toolkit: 'mail', endpoint: '/send', method: 'POST' }),
          'SESSION_NOT_FOUND',
        );
        await rejection(held.tools(), 'SESSION_NOT_FOUND');
        // as GET /sessions/:id/logs (a remote session's logs()) answers 404: the log is the project's now
        await expect(held.logs()).rejects.toMatchObject({
          code: 'SESSION_NOT_FOUND',
          message: expect.stringContaining(`logs.list({ sessionId: "${session.sessionId}" })`),
        });
      }
      expect(sample.calls.filter((call) => call.slug === 'TASKS_CREATE_TASK')).toHaveLength(4);
      // nothing was connected or logged for it after the delete
      expect((await mux.logs.list({ sessionId: session.sessionId })).items).toHaveLength(4);
      expect((await mux.connectedAccounts.list({ userIds: ['user_1'] })).items).toEqual([]);
    });

    it('session.delete(): use() is SESSION_NOT_FOUND on every instance, other sessions stay, the log stays readable', async () => {
      const mux = setup();
      const other = setup();
      const session = await mux.create('user_1', { toolkits: ['tasks'] });
      const kept = await mux.create('user_1', { toolkits: ['tasks'] });
      const result = await session.execute('TASKS_CREATE_TASK', { title: 'before the delete' });
      expect(result.successful).toBe(true);
      await other.use(session.sessionId);

      await session.delete();

      await rejection(mux.use(session.sessionId), 'SESSION_NOT_FOUND');
      await rejection(other.use(session.sessionId), 'SESSION_NOT_FOUND');
      expect((await other.use(kept.sessionId)).sessionId).toBe(kept.sessionId);
      const sessions = await mux.sessions.list({ userId: 'user_1' });
      expect(sessions.items.map((item) => item.sessionId)).toEqual([kept.sessionId]);
      for (const reader of [mux, other]) {
        const logs = await reader.logs.list({ sessionId: session.sessionId });
        expect(logs.items).toHaveLength(1);
        expect(logs.items[0]).toMatchObject({
          id: result.logId,
          sessionId: session.sessionId,
          userId: 'user_1',
          toolSlug: 'TASKS_CREATE_TASK',
          status: 'success',
        });
      }
      await rejection(session.delete(), 'SESSION_NOT_FOUND');
    });

    it('mux.sessions.delete(id) deletes by id; an unknown or malformed id is refused, naming it', async () => {
      const mux = setup();
      const session = await mux.create('user_2');
      await mux.sessions.delete(session.sessionId);
      await rejection(mux.use(session.sessionId), 'SESSION_NOT_FOUND');
      const unknown = await rejection(mux.sessions.delete(session.sessionId), 'SESSION_NOT_FOUND');
      expect(unknown.message).toContain(session.sessionId);
      await rejection(mux.sessions.delete(`ses_${'x'.repeat(300)}`), 'INVALID_REQUEST');
    });

    it('mux.logs.list() filters the project log by session, user and tool, newest first, in pages', async () => {
      const mux = setup();
      const first = await mux.create('user_a', { toolkits: ['tasks', 'notes'] });
      const second = await mux.create('user_b', { toolkits: ['tasks'] });
      await first.execute('TASKS_CREATE_TASK', { title: 'one' });
      await first.execute('NOTES_CREATE_NOTE', { title: 'note', body: 'text' });
      await second.execute('TASKS_CREATE_TASK', { title: 'two' });
      await mux.tools.execute('TASKS_CREATE_TASK', { userId: 'user_a', arguments: { title: 'direct' } });

      const all = await mux.logs.list();
      expect(all.items.map((item) => item.toolSlug)).toEqual([
        'TASKS_CREATE_TASK',
        'TASKS_CREATE_TASK',
        'NOTES_CREATE_NOTE',
        'TASKS_CREATE_TASK',
      ]);
      expect((await mux.logs.list({ sessionId: first.sessionId })).items).toHaveLength(2);
      expect((await mux.logs.list({ userId: 'user_a' })).items).toHaveLength(3);
      expect(
        (await mux.logs.list({ userId: 'user_a', toolSlug: 'TASKS_CREATE_TASK' })).items.map(
          (item) => item.sessionId,
        ),
      ).toEqual([null, first.sessionId]);
      const page = await mux.logs.list({ limit: 3 });
      expect(page.items).toEqual(all.items.slice(0, 3));
      const rest = await mux.logs.list({ limit: 3, cursor: page.nextCursor });
      expect(rest.items).toEqual(all.items.slice(3));
      expect(rest.nextCursor).toBeUndefined();
      await rejection(mux.logs.list({ userId: ' ' }), 'USER_ID_INVALID');
    });

    it('ensureConnected(): CONNECTED for a toolkit without auth, NEEDS_USER with a request until the user connects, then CONNECTED with the account', async () => {
      const mux = setup();
      const config = await mux.authConfigs.create('mail', { type: 'api_key' });
      const session = await mux.create('user_mail', {
        toolkits: ['tasks', 'mail'],
        authConfigs: { mail: config.id },
      });

      expect(await session.ensureConnected('tasks')).toEqual({ status: 'CONNECTED', account: null });

      const needed = await session.ensureConnected('mail', { callbackUrl: 'http://localhost:3000/done' });
      if (needed.status !== 'NEEDS_USER') throw new Error(`expected NEEDS_USER, got ${needed.status}`);
      expect(needed.request.id).toMatch(/^cr_/);
      expect(needed.request.redirectUrl).toContain(needed.request.id);
      const info = await mux.connectionRequests.get(needed.request.id);
      expect(info).toMatchObject({
        userId: 'user_mail',
        toolkit: 'mail',
        kind: 'fields',
        callbackUrl: 'http://localhost:3000/done',
      });

      const account = await mux.connectionRequests.complete(needed.request.id, { apiKey: 'sk_live_1' });
      expect(await session.ensureConnected('mail')).toEqual({
        status: 'CONNECTED',
        account: { id: account.id, status: 'ACTIVE', toolkit: 'mail' },
      });
      // A second instance, resuming the session, sees the same account.
      const other = setup();
      expect(await (await other.use(session.sessionId)).ensureConnected('mail')).toEqual({
        status: 'CONNECTED',
        account: { id: account.id, status: 'ACTIVE', toolkit: 'mail' },
      });
    });

    it('toolkits() filters by slug, search text and connection, in pages, and names the auth config', async () => {
      const mux = setup();
      const config = await mux.authConfigs.create('mail', { type: 'api_key' });
      const session = await mux.create('user_filters', {
        toolkits: ['tasks', 'notes', 'mail'],
        authConfigs: { mail: config.id },
      });
      const slugs = async (options: Parameters<typeof session.toolkits>[0]) =>
        (await session.toolkits(options)).items.map((item) => item.slug);

      expect(await slugs({})).toEqual(['mail', 'notes', 'tasks']);
      expect(await slugs({ toolkits: ['notes', 'mail'] })).toEqual(['mail', 'notes']);
      // a toolkit the catalog lacks is named, not answered with an empty page
      expect(
        (await rejection(session.toolkits({ toolkits: ['notes', 'github'] }), 'INVALID_REQUEST')).message,
      ).toContain('"github"');
      expect(await slugs({ search: 'NOTE' })).toEqual(['notes']);
      // by a keyword of the toolkit (a noun of its objects its name does not say)
      expect(await slugs({ search: 'memo' })).toEqual(['notes']);
      expect(await slugs({ search: 'note', toolkits: ['mail'] })).toEqual([]);
      expect(await slugs({ connected: false })).toEqual(['mail']);
      const first = await session.toolkits({ limit: 2 });
      expect(first.items.map((item) => item.slug)).toEqual(['mail', 'notes']);
      expect(first.total).toBe(3);
      expect(await slugs({ limit: 2, cursor: first.nextCursor })).toEqual(['tasks']);

      const mail = (await session.toolkits({ toolkits: ['mail'] })).items[0]!;
      expect(mail.connection).toEqual({
        isActive: false,
        authConfig: { id: config.id, type: 'api_key', managed: false },
      });
      expect((await session.toolkits({ toolkits: ['tasks'] })).items[0]!.connection).toEqual({
        isActive: true,
      });

      const account = await mux.connectedAccounts.create('user_filters', config.id, { apiKey: 'sk_filters' });
      expect(await slugs({ connected: true })).toEqual(['mail', 'notes', 'tasks']);
      expect((await session.toolkits({ toolkits: ['mail'] })).items[0]!.connection).toEqual({
        isActive: true,
        connectedAccount: { id: account.id, status: 'ACTIVE' },
        authConfig: { id: config.id, type: 'api_key', managed: false },
      });
      await rejection(session.toolkits({ toolkits: 'mail' as never }), 'INVALID_REQUEST');
      // a filter of another type found nothing, silently ('true' is not connected: true)
      await rejection(session.toolkits({ toolkits: [7] as never }), 'INVALID_REQUEST');
      const connected = await rejection(session.toolkits({ connected: 'true' as never }), 'INVALID_REQUEST');
      expect(connected.message).toContain('connected');
    });

    it("preload: { tools: 'all' } exposes every tool of the session beside the meta-tools, stored and resumed", async () => {
      const mux = setup();
      const session = await mux.create('user_preload', {
        toolkits: ['tasks'],
        tools: { tasks: { disable: ['TASKS_DELETE_TASK'] } },
        preload: { tools: 'all' },
      });
      const names = (await session.tools()).map((tool) => tool.name);
      expect(names.filter((name) => name.startsWith('TOOLMUX_')).sort()).toEqual([
        'TOOLMUX_GET_TOOL_SCHEMAS',
        'TOOLMUX_MANAGE_CONNECTIONS',
        'TOOLMUX_MULTI_EXECUTE_TOOL',
        'TOOLMUX_SEARCH_TOOLS',
        'TOOLMUX_WORKBENCH',
      ]);
      const direct = names.filter((name) => !name.startsWith('TOOLMUX_'));
      expect(direct).toContain('TASKS_CREATE_TASK');
      expect(direct).not.toContain('TASKS_DELETE_TASK');
      expect(direct.every((name) => name.startsWith('TASKS_'))).toBe(true);
      const resumed = await setup().use(session.sessionId);
      expect(resumed.config.preload).toEqual({ tools: 'all' });
      expect((await resumed.tools()).map((tool) => tool.name)).toEqual(names);
      expect(await (await resumed.execute('TASKS_CREATE_TASK', { title: 'direct' })).successful).toBe(true);
      await resumed.update({ preload: { tools: ['TASKS_LIST_TASKS'] } });
      expect((await resumed.tools()).map((tool) => tool.name)).toContain('TASKS_LIST_TASKS');
      expect((await resumed.tools()).map((tool) => tool.name)).not.toContain('TASKS_CREATE_TASK');
      await rejection(
        mux.create('user_preload', { preload: { tools: 'everything' as never } }),
        'CONFIG_INVALID',
      );
    });

    it('ensureConnected() of a toolkit outside the session is refused, naming it', async () => {
      const mux = setup();
      const session = await mux.create('user_3', { toolkits: ['tasks'] });
      const outside = await rejection(session.ensureConnected('mail'), 'TOOL_NOT_IN_SESSION');
      expect(outside.message).toContain('"mail"');
      await rejection(session.ensureConnected('nope'), 'TOOLKIT_NOT_FOUND');
    });
  });
});
