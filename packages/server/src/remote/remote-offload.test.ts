import { defineTool, MetaToolSlug, type PlainProvider, type ToolMux } from '@toolmux/core';
import { createSampleToolkits, stockLookupTool } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A session with custom tools runs TOOLMUX_MULTI_EXECUTE_TOOL in the remote-mode client (its custom
 * calls run there); its large results are offloaded to the server's workbench files all the same.
 */

const sample = createSampleToolkits();
let server: TestServer;
let remote: ToolMux;
const warnings: string[] = [];

beforeAll(async () => {
  server = await startTestServer({ toolkits: sample.toolkits });
  remote = server.remote<PlainProvider>(undefined, {
    logger: { debug() {}, warn: (message: string) => warnings.push(message), error() {} },
  });
});
afterAll(() => server.close());

/** A custom tool (it runs in the client) that returns about `megabytes` MB of records. */
const exportTool = defineTool({
  slug: 'SHOP_EXPORT_ORDERS',
  toolkit: 'shop',
  description: 'Export every order of the shop.',
  inputSchema: z.object({ megabytes: z.number() }),
  execute: async ({ megabytes }) => ({
    records: Array.from({ length: megabytes * 1024 }, (_, index) => ({ id: index, note: 'x'.repeat(1000) })),
  }),
});

interface Offloaded {
  offloaded: { path: string; size: number; preview: string; hint: string };
}

describe('remote mode: a multi-execute run in the client offloads its large result', () => {
  it('saves a 10 MB result to the workbench files; the model reads a notice, the workbench reads the file', async () => {
    const { tool: lookup } = stockLookupTool();
    const session = await remote.create('user_offload_1', {
      toolkits: ['tasks', 'shop'],
      experimental: { customTools: [lookup, exportTool] },
    });
    const result = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [
        { tool_slug: 'SHOP_EXPORT_ORDERS', arguments: { megabytes: 10 } },
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'Check the export' } },
      ],
    });
    expect(result.successful).toBe(true);
    const { offloaded } = result.data as Offloaded;
    expect(offloaded.path).toBe(`offloaded/${result.logId}.json`);
    expect(offloaded.size).toBeGreaterThan(10_000_000);
    expect(offloaded.preview.length).toBeLessThanOrEqual(1_000);
    expect(offloaded.hint).toContain('TOOLMUX_WORKBENCH');
    expect(JSON.stringify(result.data).length).toBeLessThan(3_000);

    // the server runs the workbench: it finds the file the client's call saved
    const read = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `const r = await toolmux.files.read(${JSON.stringify(offloaded.path)});
             return { n: r.results[0].data.records.length, task: r.results[1].data.title, ok: r.successful_count };`,
    });
    expect(read.data).toMatchObject({ result: { n: 10 * 1024, task: 'Check the export', ok: 2 } });
    expect(warnings).toEqual([]);
  });

  it('a result the server cannot save (the files quota full) reaches the model as its start and how to make room, not whole', async () => {
    const { tool: lookup } = stockLookupTool();
    const session = await remote.create('user_offload_full', {
      toolkits: ['tasks', 'shop'],
      experimental: { customTools: [lookup, exportTool] },
    });
    // 60 of the 64 MB taken by an earlier result
    const first = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'SHOP_EXPORT_ORDERS', arguments: { megabytes: 58 } }],
    });
    expect((first.data as Offloaded).offloaded.size).toBeGreaterThan(58_000_000);
    const full = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'SHOP_EXPORT_ORDERS', arguments: { megabytes: 10 } }],
    });
    expect(full.successful).toBe(true);
    const { notOffloaded } = full.data as {
      notOffloaded: { size: number; preview: string; reason: string; hint: string };
    };
    expect(notOffloaded.size).toBeGreaterThan(10_000_000);
    expect(notOffloaded.reason).toContain('WORKBENCH_FILES_QUOTA');
    expect(notOffloaded.hint).toContain('toolmux.files.delete(path)');
    // it went to the model whole (10 MB) before
    expect(JSON.stringify(full.data).length).toBeLessThan(3_000);
    expect(warnings).toEqual([]);
  }, 60_000);

  it('keeps a short result inline, and a large one when the workbench is off', async () => {
    const { tool: lookup } = stockLookupTool();
    const session = await remote.create('user_offload_2', {
      toolkits: ['tasks', 'shop'],
      experimental: { customTools: [lookup, exportTool] },
    });
    const small = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'A-1' } }],
    });
    expect(small.data).toMatchObject({
      successful_count: 1,
      results: [{ data: { sku: 'A-1', inStock: 7 } }],
    });

    const off = await remote.create('user_offload_2', {
      toolkits: ['shop'],
      workbench: { enable: false },
      experimental: { customTools: [exportTool] },
    });
    const inline = await off.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [{ tool_slug: 'SHOP_EXPORT_ORDERS', arguments: { megabytes: 1 } }],
    });
    expect(inline.data).toMatchObject({ successful_count: 1 });
    expect(
      (inline.data as { results: Array<{ data: { records: unknown[] } }> }).results[0]!.data.records,
    ).toHaveLength(1024);
  });

  it("with Composio's names, sync_response_to_workbench saves even a short result", async () => {
    const { tool: lookup } = stockLookupTool();
    const session = await remote.create('user_offload_3', {
      toolkits: ['shop'],
      metaToolNames: 'composio',
      experimental: { customTools: [lookup] },
    });
    const result = await session.execute('COMPOSIO_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'SHOP_LOOKUP_STOCK', arguments: { sku: 'C-3' } }],
      sync_response_to_workbench: true,
    });
    const { offloaded } = result.data as Offloaded;
    expect(offloaded.hint).toContain('COMPOSIO_REMOTE_WORKBENCH');
    expect(offloaded.hint).not.toContain('TOOLMUX_');
    const read = await session.execute('COMPOSIO_REMOTE_WORKBENCH', {
      code_to_execute: `const r = await toolmux.files.read(${JSON.stringify(offloaded.path)}); return r.results[0].data.sku;`,
    });
    expect(read.data).toMatchObject({ results: 'C-3' });
  });

  it("tools()' afterExecute changes each call's result before it is saved: the server's calls run under the client's multi-execute, the log a tree", async () => {
    const session = await remote.create('user_offload_hook', {
      toolkits: ['tasks'],
      workbench: { enable: true, autoOffloadThreshold: 1_000 },
    });
    await session.execute('TASKS_CREATE_TASK', { title: 'secret plan' });
    const tools = await session.tools({
      afterExecute: ({ result }) =>
        result.successful ? { ...result, data: { tasks: 'hidden', pad: 'p'.repeat(2_000) } } : result,
    });
    const multi = tools.find((tool) => tool.name === MetaToolSlug.MULTI_EXECUTE_TOOL)!;
    const result = await multi.execute({ tools: [{ tool_slug: 'TASKS_LIST_TASKS', arguments: {} }] });
    // on the old code the server saved the tool's own result: the preview named the task
    expect(JSON.stringify(result.data)).not.toContain('secret plan');
    const { offloaded } = result.data as Offloaded;
    expect(offloaded.preview).toContain('hidden');
    const read = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `const r = await toolmux.files.read(${JSON.stringify(offloaded.path)}); return r.results[0].data.tasks;`,
    });
    expect(read.data).toMatchObject({ result: 'hidden' });
    const { items } = await session.logs({ parentId: result.logId });
    expect(items.map((entry) => entry.toolSlug)).toEqual(['TASKS_LIST_TASKS']);
    expect(warnings).toEqual([]);
  });

  it('the offload route refuses a file name that is not a log id, and a session that does not exist', async () => {
    const session = await remote.create('user_offload_4', { toolkits: ['tasks'] });
    const post = (sessionId: string, body: unknown) =>
      fetch(`${server.url}/api/v1/sessions/${sessionId}/workbench/offload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const logId of ['../secret', 'log_short', `log_${'A'.repeat(38)}`, 42]) {
      const refused = await post(session.sessionId, { log_id: logId, result: { a: 1 }, always: true });
      expect(refused.status).toBe(400);
      const error = (await refused.json()) as { error: { code: string; message: string } };
      expect(error.error.code).toBe('INVALID_REQUEST');
      expect(error.error.message).toContain('body.log_id');
    }
    const unknown = await post('ses_01KBF2Y0D8AQW4ZJ6T9E3N5RMV', {
      log_id: `log_${'0'.repeat(38)}`,
      result: {},
      always: true,
    });
    expect(unknown.status).toBe(404);
    const saved = await post(session.sessionId, {
      log_id: `log_${'1'.repeat(38)}`,
      result: { a: 1 },
      always: true,
    });
    expect(saved.status).toBe(200);
    expect(await saved.json()).toMatchObject({
      offloaded: { path: `offloaded/log_${'1'.repeat(38)}.json`, size: 7 },
    });
  });
});
