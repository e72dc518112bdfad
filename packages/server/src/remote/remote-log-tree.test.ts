import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTool, type ExecutionLog, MetaToolSlug, type Session, ToolMux } from '@toolmux/core';
import { createSampleToolkits, stockLookupTool, untilTestTimeout } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testStoreBackends } from '../test-helpers.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * The execution log as a tree in remote mode: a TOOLMUX_MULTI_EXECUTE_TOOL that the client runs
 * (its session has custom tools) is the parent of every call it makes, the custom ones that ran in
 * the client and the others the server ran, as in an embedded session.
 */
const directory = mkdtempSync(join(tmpdir(), 'toolmux-remote-log-tree-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const backends = await testStoreBackends(directory, { sharedSecretKey: true });

/** A custom tool that runs until it is aborted. */
const waitForDelivery = defineTool({
  slug: 'SHOP_WAIT_FOR_DELIVERY',
  toolkit: 'shop',
  description: 'Wait until the next delivery arrives at the warehouse (long running).',
  inputSchema: z.object({}),
  execute: (_input, context) =>
    new Promise((_, reject) => {
      context.signal.addEventListener('abort', () => reject(new Error('delivery wait cancelled')), {
        once: true,
      });
    }),
});

const MIXED_CALLS = [
  { tool_slug: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'B-200' } },
  { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Restock B-200' } },
  // fails in the client (the handler throws) and on the server (invalid arguments)
  { tool_slug: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'BROKEN' } },
  { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 42 } },
];

/** What an entry says, without its id and time. */
const shape = (entry: ExecutionLog) =>
  `${entry.toolSlug} ${entry.status} ${entry.errorCode} ${entry.callId?.replace(/^[^#]*/, '')}`;

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`remote mode: the log as a tree on ${backend.name}`, () => {
    const sample = createSampleToolkits();
    let server: TestServer;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      const store = await backend.store();
      cleanup = store.cleanup;
      server = await startTestServer({ toolkits: sample.toolkits, store: store.spec });
    });
    afterAll(async () => {
      await server?.close();
      await cleanup?.();
    });

    /** A REST read with the project API key. */
    const rest = async (path: string, init: RequestInit = {}) => {
      const response = await fetch(`${server.url}/api/v1${path}`, {
        ...init,
        headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      });
      return { status: response.status, json: (await response.json()) as any };
    };

    /** Every entry of a session, read on the server past the remote client. */
    const storedLog = async (sessionId: string) =>
      (await rest(`/logs?session_id=${sessionId}&limit=1000`)).json.items as Array<{
        id: string;
        tool_slug: string;
        parent_id: string | null;
      }>;

    it('a multi-execute run by the client is the parent of its custom and server calls, failed ones too, as embedded', async () => {
      const { tool: lookup } = stockLookupTool();
      const remote = server.remote();
      const session = await remote.create('user_tree_mixed', {
        toolkits: ['tasks', 'shop'],
        experimental: { customTools: [lookup] },
      });
      const multi = await session.execute(
        MetaToolSlug.MULTI_EXECUTE_TOOL,
        { tools: MIXED_CALLS },
        { callId: 'call_tree' },
      );
      expect(multi.data).toMatchObject({ successful_count: 2, failed_count: 2 });
      const results = (multi.data as { results: Array<{ log_id: string }> }).results;
      expect(results.every((result) => /^log_/.test(result.log_id))).toBe(true);

      // session.logs() sends what is pending first
      const children = await session.logs({ parentId: multi.logId });
      expect(children.items.map((entry) => entry.id).sort()).toEqual(
        results.map((result) => result.log_id).sort(),
      );
      expect(children.items.every((entry) => entry.parentId === multi.logId)).toBe(true);
      const all = await session.logs();
      expect(all.items).toHaveLength(5);
      expect(all.items.find((entry) => entry.id === multi.logId)).toMatchObject({
        toolSlug: MetaToolSlug.MULTI_EXECUTE_TOOL,
        callId: 'call_tree',
        parentId: null,
      });

      // the same tree over REST, for the session and for the project
      const bySession = await rest(`/sessions/${session.sessionId}/logs?parent_id=${multi.logId}`);
      expect(bySession.status).toBe(200);
      expect(bySession.json.items.map((entry: { id: string }) => entry.id)).toEqual(
        children.items.map((entry) => entry.id),
      );
      expect(bySession.json.items.every((entry: any) => entry.parent_id === multi.logId)).toBe(true);
      const byProject = await rest(`/logs?parent_id=${multi.logId}`);
      expect(byProject.json.items.map((entry: { id: string }) => entry.id)).toEqual(
        children.items.map((entry) => entry.id),
      );

      // the same calls in an embedded session of the server: the same tree
      const embedded = await server.embedded.create('user_tree_mixed_embedded', {
        toolkits: ['tasks', 'shop'],
        experimental: { customTools: [stockLookupTool().tool] },
      });
      const local = await embedded.execute(
        MetaToolSlug.MULTI_EXECUTE_TOOL,
        { tools: MIXED_CALLS },
        { callId: 'call_tree' },
      );
      const embeddedChildren = await embedded.logs({ parentId: local.logId });
      expect(children.items.map(shape).sort()).toEqual(embeddedChildren.items.map(shape).sort());
      expect(children.items.map(shape).sort()).toEqual([
        'SHOP_LOOKUP_STOCK error TOOL_EXECUTION_FAILED #2',
        'SHOP_LOOKUP_STOCK success null #0',
        'TASKS_CREATE_TASK error TOOL_ARGUMENTS_INVALID #3',
        'TASKS_CREATE_TASK success null #1',
      ]);
    });

    it('entries the multi-execute refuses before they run (a slug or account past 256 characters, an empty one, a meta-tool, an entry that is no call, an account that is not text) fail on their own, are seen by afterExecute and are logged under it, run in the client as on the server', async () => {
      const refusedCalls = [
        { tool_slug: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'B-200' } },
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'a' }, account: 'w'.repeat(300) },
        { tool_slug: 'TASKS_CREATE_TASK'.padEnd(1_000, 'X'), arguments: {} },
        { tool_slug: '', arguments: {} },
        { tool_slug: MetaToolSlug.SEARCH_TOOLS, arguments: {} },
        7,
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'a' }, account: 12 },
      ];
      const errors: string[] = [];
      const run = async (session: Session) => {
        const hooked: string[] = [];
        const tools = (await session.tools({
          afterExecute: ({ slug, result }) => {
            hooked.push(`${slug.slice(0, 20)} ${result.code ?? 'ok'}`);
            return result;
          },
        })) as Array<{ name: string; execute: (args: unknown, options?: object) => Promise<any> }>;
        const multi = tools.find((tool) => tool.name === MetaToolSlug.MULTI_EXECUTE_TOOL)!;
        const result = await multi.execute({ tools: refusedCalls }, { callId: 'call_refused' });
        const children = await session.logs({ parentId: result.logId });
        return {
          answers: (result.data.results as Array<{ error: string | null }>).map((entry) => entry.error),
          counts: [result.data.successful_count, result.data.failed_count],
          hooked: hooked.sort(),
          children: children.items.map(shape).sort(),
        };
      };
      const remote = await server
        .remote(undefined, { logger: { debug() {}, warn() {}, error: (message) => errors.push(message) } })
        .create('user_tree_refused', {
          toolkits: ['tasks', 'shop'],
          experimental: { customTools: [stockLookupTool().tool] },
        });
      const embedded = await server.embedded.create('user_tree_refused_embedded', {
        toolkits: ['tasks', 'shop'],
        experimental: { customTools: [stockLookupTool().tool] },
      });
      const inClient = await run(remote);
      const onServer = await run(embedded);
      // before: the account failed the whole batch ("Too big: expected string to have <=256 characters")
      expect(onServer.counts).toEqual([1, 6]);
      expect(inClient.answers).toEqual(onServer.answers);
      expect(inClient.hooked).toEqual(onServer.hooked);
      expect(onServer.hooked).toHaveLength(7);
      expect(onServer.children.map((entry) => entry.replace(/^"TASKS_CREATE_TASKX+/, 'LONG'))).toEqual([
        '"" error TOOL_ARGUMENTS_INVALID #5',
        '"" error TOOL_NOT_FOUND #3',
        'LONG…" error TOOL_NOT_FOUND #2',
        'SHOP_LOOKUP_STOCK success null #0',
        'TASKS_CREATE_TASK error INVALID_REQUEST #1',
        'TASKS_CREATE_TASK error INVALID_REQUEST #6',
        'TOOLMUX_SEARCH_TOOLS error TOOL_NOT_IN_SESSION #4',
      ]);
      // run in the client: every entry is uploaded with the multi-execute's entry (before: only the
      // custom call's; the refused ones were lost)
      expect(inClient.children).toEqual(onServer.children);
      expect(errors).toEqual([]);
    });

    it('a multi-execute entry whose arguments are no JSON object (a string that is not one, an array) fails on its own with TOOL_ARGUMENTS_INVALID, in the client as on the server, both naming styles', async () => {
      const argumentCalls = [
        { tool_slug: 'SHOP_LOOKUP_STOCK', arguments: '{"sku":"B-200"}' },
        { tool_slug: 'SHOP_LOOKUP_STOCK', arguments: '{"sku":' },
        { tool_slug: 'TASKS_CREATE_TASK', arguments: '{"title":"a"}' },
        { tool_slug: 'TASKS_CREATE_TASK', arguments: 'a title' },
        { tool_slug: 'TASKS_CREATE_TASK', arguments: ['a'] },
      ];
      const errors: string[] = [];
      for (const metaToolNames of ['toolmux', 'composio'] as const) {
        const multiSlug =
          metaToolNames === 'toolmux' ? MetaToolSlug.MULTI_EXECUTE_TOOL : 'COMPOSIO_MULTI_EXECUTE_TOOL';
        const run = async (session: Session) => {
          const hooked: string[] = [];
          const tools = (await session.tools({
            afterExecute: ({ slug, result }) => {
              hooked.push(`${slug} ${result.code ?? 'ok'}`);
              return result;
            },
          })) as Array<{ name: string; execute: (args: unknown, options?: object) => Promise<any> }>;
          const multi = tools.find((tool) => tool.name === multiSlug)!;
          const result = await multi.execute({ tools: argumentCalls }, { callId: 'call_arguments' });
          const children = await session.logs({ parentId: result.logId });
          const entries = result.data.results as Array<{
            error: string | null;
            response?: { error: string | null };
          }>;
          return {
            successful: result.successful,
            answers: entries.map((entry) => (entry.response ? entry.response.error : entry.error)),
            hooked: hooked.sort(),
            children: children.items.map(shape).sort(),
          };
        };
        const config = {
          toolkits: ['tasks', 'shop'],
          metaToolNames,
          experimental: { customTools: [stockLookupTool().tool] },
        };
        const remote = await server
          .remote(undefined, { logger: { debug() {}, warn() {}, error: (message) => errors.push(message) } })
          .create(`user_tree_arguments_${metaToolNames}`, config);
        const embedded = await server.embedded.create(
          `user_tree_arguments_embedded_${metaToolNames}`,
          config,
        );
        const inClient = await run(remote);
        const onServer = await run(embedded);
        // before: the whole batch failed ('tools.1.arguments: Invalid input; …'), no call ran
        expect(onServer.successful).toBe(true);
        expect(onServer.answers).toEqual([
          null,
          'The arguments of SHOP_LOOKUP_STOCK are not valid JSON (Unexpected end of JSON input): "{\\"sku\\":". Send them as one JSON object, as its input schema describes.',
          null,
          'The arguments of TASKS_CREATE_TASK are a string ("a title"), not a JSON object. Send them as one JSON object, as its input schema describes.',
          'Invalid arguments for TASKS_CREATE_TASK: (root): is an array: send an object',
        ]);
        expect(inClient).toEqual(onServer);
        expect(onServer.children).toEqual([
          'SHOP_LOOKUP_STOCK error TOOL_ARGUMENTS_INVALID #1',
          'SHOP_LOOKUP_STOCK success null #0',
          'TASKS_CREATE_TASK error TOOL_ARGUMENTS_INVALID #3',
          'TASKS_CREATE_TASK error TOOL_ARGUMENTS_INVALID #4',
          'TASKS_CREATE_TASK success null #2',
        ]);
      }
      expect(errors).toEqual([]);
    });

    it('a call the client refuses before sending it (arguments JSON would change) is logged, as embedded', async () => {
      const errors: string[] = [];
      const session = await server
        .remote(undefined, { logger: { debug() {}, warn() {}, error: (message) => errors.push(message) } })
        .create('user_tree_nan', {
          toolkits: ['tasks', 'shop'],
          experimental: { customTools: [stockLookupTool().tool] },
        });
      const [custom, refused] = await Promise.all([
        session.execute('SHOP_LOOKUP_STOCK', { sku: 'B-200' }),
        session.execute('TASKS_CREATE_TASK', { title: 'Restock', priority: Number.NaN }),
      ]);
      expect(custom.successful).toBe(true);
      expect(refused).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      const embedded = await server.embedded.create('user_tree_nan_embedded', { toolkits: ['tasks'] });
      const inEmbedded = await embedded.execute('TASKS_CREATE_TASK', {
        title: 'Restock',
        priority: Number.NaN,
      });
      expect((await embedded.logs()).items.map((entry) => entry.id)).toEqual([inEmbedded.logId]);
      // before: the server refused the refused call's entry ("not a custom tool"), which was lost
      // session.logs() sends what is pending first
      const stored = (await session.logs()).items;
      expect(stored.map((entry) => entry.id).sort()).toEqual([custom.logId, refused.logId].sort());
      expect(errors).toEqual([]);
    });

    it('a multi-execute the client runs for an afterExecute hook, in a session without custom tools, keeps its entry', async () => {
      const errors: string[] = [];
      const session = await server
        .remote(undefined, { logger: { debug() {}, warn() {}, error: (message) => errors.push(message) } })
        .create('user_tree_hooked', { toolkits: ['tasks'] });
      const tools = (await session.tools({ afterExecute: ({ result }) => result })) as Array<{
        name: string;
        execute: (args: unknown, options?: object) => Promise<any>;
      }>;
      const multi = tools.find((tool) => tool.name === MetaToolSlug.MULTI_EXECUTE_TOOL)!;
      const result = await multi.execute({ tools: [{ tool_slug: 'TASKS_LIST_TASKS', arguments: {} }] });
      expect(result.successful).toBe(true);
      const logged = (await session.logs()).items;
      // before: the server refused the multi-execute's entry (no custom tool in the session) and it
      // was lost, leaving its call without the parent it names
      expect(logged.map((entry) => entry.toolSlug).sort()).toEqual([
        'TASKS_LIST_TASKS',
        MetaToolSlug.MULTI_EXECUTE_TOOL,
      ]);
      expect(logged.find((entry) => entry.toolSlug === 'TASKS_LIST_TASKS')?.parentId).toBe(result.logId);
      expect(errors).toEqual([]);
    });

    it('an aborted multi-execute is the parent of its aborted calls, the server’s and the client’s', async () => {
      const remote = server.remote();
      const session = await remote.create('user_tree_abort', {
        toolkits: ['tasks', 'shop'],
        experimental: { customTools: [waitForDelivery] },
      });
      const before = sample.calls.length;
      const controller = new AbortController();
      const pending = session.execute(
        MetaToolSlug.MULTI_EXECUTE_TOOL,
        {
          tools: [
            { tool_slug: 'SHOP_WAIT_FOR_DELIVERY', arguments: {} },
            { tool_slug: 'TASKS_WAIT_FOR_APPROVAL', arguments: { taskId: 't1' } },
          ],
        },
        { signal: controller.signal, callId: 'call_abort' },
      );
      // both calls run: the server's handler has started
      await expect
        .poll(() => sample.calls.slice(before).map((call) => call.slug), untilTestTimeout())
        .toEqual(['TASKS_WAIT_FOR_APPROVAL']);
      controller.abort();
      const multi = await pending;
      expect(multi).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });

      // the server logs its call once it has seen the client go away
      await expect
        .poll(
          async () => (await session.logs({ parentId: multi.logId })).items.map(shape).sort(),
          untilTestTimeout(),
        )
        .toEqual([
          'SHOP_WAIT_FOR_DELIVERY error TOOL_ABORTED #0',
          'TASKS_WAIT_FOR_APPROVAL error TOOL_ABORTED #1',
        ]);
      const log = await storedLog(session.sessionId);
      expect(log).toHaveLength(3);
      expect(log.find((entry) => entry.id === multi.logId)).toMatchObject({
        tool_slug: MetaToolSlug.MULTI_EXECUTE_TOOL,
        parent_id: null,
      });
    });

    it('a multi-execute stored under another id than the client gave it takes its calls along', async () => {
      const { tool: lookup } = stockLookupTool();
      const other = await server.remote().create('user_tree_other', {
        experimental: { customTools: [lookup] },
      });
      // The client's id for the multi-execute's entry is taken (by an entry of another session) before
      // that entry is uploaded: the server stores it under a new id.
      let taken: string | undefined;
      const remote = new ToolMux({
        baseUrl: server.url,
        apiKey: server.apiKey,
        logger: { debug() {}, warn() {}, error() {} },
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
          if (taken === undefined && String(input).endsWith('/execute') && body?.parent_id) {
            // once the server has run (and logged) the call under that id
            taken = body.parent_id as string;
            const planted = await rest(`/sessions/${other.sessionId}/logs`, {
              method: 'POST',
              body: JSON.stringify({
                items: [
                  {
                    id: taken,
                    session_id: null,
                    user_id: 'ignored',
                    tool_slug: lookup.slug,
                    toolkit: 'shop',
                    connected_account_id: null,
                    call_id: 'call_planted',
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
            if (planted.json.ids?.[0] !== taken) throw new Error(`not planted: ${JSON.stringify(planted)}`);
          }
          return response;
        },
      });
      try {
        const session = await remote.create('user_tree_moved', {
          toolkits: ['tasks', 'shop'],
          experimental: { customTools: [lookup] },
        });
        const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
          tools: MIXED_CALLS.slice(0, 2),
        });
        expect(multi.data).toMatchObject({ successful_count: 2 });
        expect(taken).toBe(multi.logId);
        await remote.close();

        const log = await storedLog(session.sessionId);
        const parent = log.find((entry) => entry.tool_slug === MetaToolSlug.MULTI_EXECUTE_TOOL)!;
        expect(parent.id).not.toBe(multi.logId);
        const children = log.filter((entry) => entry.parent_id !== null);
        expect(children.map((entry) => [entry.tool_slug, entry.parent_id]).sort()).toEqual([
          ['SHOP_LOOKUP_STOCK', parent.id],
          ['TASKS_CREATE_TASK', parent.id],
        ]);
        expect(log).toHaveLength(3);
        // nothing of this session is left under the id the other session's entry has
        expect((await rest(`/logs?parent_id=${multi.logId}`)).json.items).toEqual([]);
        expect((await storedLog(other.sessionId)).map((entry) => [entry.id, entry.parent_id])).toEqual([
          [multi.logId, null],
        ]);
      } finally {
        await remote.close();
      }
    });

    it.skipIf(backend.name !== 'SQLite')(
      'a server older than parent_id: the calls are sent again without it, and the next ones without it',
      async () => {
        // what a server of before parent_id answers (captured from one): refused before anything runs
        const refusals: string[] = [];
        const remote = new ToolMux({
          baseUrl: server.url,
          apiKey: server.apiKey,
          fetch: async (input, init) => {
            const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
            if (String(input).endsWith('/execute') && body?.parent_id !== undefined) {
              refusals.push(body.tool_slug);
              return new Response(
                JSON.stringify({
                  error: {
                    code: 'INVALID_REQUEST',
                    message:
                      'Invalid request body: body: unknown key "parent_id". Known keys: tool_slug, arguments, call_id, account.',
                  },
                }),
                { status: 400, headers: { 'content-type': 'application/json' } },
              );
            }
            return fetch(input, init);
          },
        });
        try {
          const session = await remote.create('user_tree_old_server', {
            toolkits: ['tasks', 'shop'],
            experimental: { customTools: [stockLookupTool().tool] },
          });
          const tools = { tools: MIXED_CALLS.slice(0, 2) };
          for (const _ of [1, 2]) {
            const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, tools);
            expect(multi.data).toMatchObject({ successful_count: 2, failed_count: 0 });
            // the custom call is still the multi-execute's child; the server's has no parent there
            expect((await session.logs({ parentId: multi.logId })).items.map(shape)).toEqual([
              'SHOP_LOOKUP_STOCK success null undefined',
            ]);
          }
          expect(refusals).toEqual(['TASKS_CREATE_TASK']);
          expect((await storedLog(session.sessionId)).map((entry) => entry.tool_slug).sort()).toEqual([
            'SHOP_LOOKUP_STOCK',
            'SHOP_LOOKUP_STOCK',
            'TASKS_CREATE_TASK',
            'TASKS_CREATE_TASK',
            MetaToolSlug.MULTI_EXECUTE_TOOL,
            MetaToolSlug.MULTI_EXECUTE_TOOL,
          ]);
        } finally {
          await remote.close();
        }
      },
    );

    it('a call cannot name another session’s entry, or something else than a log id, as its parent', async () => {
      const { tool: lookup } = stockLookupTool();
      const theirs = await server.remote().create('user_tree_theirs', {
        toolkits: ['tasks', 'shop'],
        experimental: { customTools: [lookup] },
      });
      const theirMulti = await theirs.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: MIXED_CALLS.slice(0, 2),
      });
      const theirTree = async () =>
        (await theirs.logs({ parentId: theirMulti.logId })).items.map((e) => e.id);
      const treeBefore = await theirTree();

      const mine: Session<unknown> = await server.remote().create('user_tree_mine', { toolkits: ['tasks'] });
      const before = sample.calls.length;
      for (const parentId of [theirMulti.logId, 'log_forged', 'x'.repeat(129)]) {
        const refused = await rest(`/sessions/${mine.sessionId}/execute`, {
          method: 'POST',
          body: JSON.stringify({
            tool_slug: 'TASKS_CREATE_TASK',
            arguments: { title: 'attached' },
            parent_id: parentId,
          }),
        });
        expect(refused.status, parentId).toBe(400);
        expect(refused.json.error.code).toBe('INVALID_REQUEST');
        expect(refused.json.error.message).toContain(parentId.length > 128 ? 'parent_id' : parentId);
      }
      expect(
        (
          await rest(`/sessions/${mine.sessionId}/execute`, {
            method: 'POST',
            body: JSON.stringify({
              tool_slug: 'TASKS_LIST_TASKS',
              arguments: {},
              parent_id: theirMulti.logId,
            }),
          })
        ).json.error.message,
      ).toContain('another session');
      // nothing ran, nothing was logged, their tree is as it was
      expect(sample.calls.length).toBe(before);
      expect(await storedLog(mine.sessionId)).toEqual([]);
      expect(await theirTree()).toEqual(treeBefore);
      expect(treeBefore).toHaveLength(2);
      expect((await rest(`/logs?parent_id=${theirMulti.logId}`)).json.items).toHaveLength(2);
    });
  });
}
