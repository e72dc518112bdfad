import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composioClientOf } from '../test-composio.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * Composio takes a tool's slug in any case: `@composio/core` matches the tools of a session by their
 * upper-case slug and sends the name a model called as it was written, and models often lower-case
 * the names they call. On the Composio-compatible API, `tasks_list_tasks` runs TASKS_LIST_TASKS,
 * whether sent to execute, to execute_meta, inside COMPOSIO_MULTI_EXECUTE_TOOL or asked of
 * COMPOSIO_GET_TOOL_SCHEMAS; a slug no tool has is still refused as it was written.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

const CASES = ['tasks_list_tasks', 'Tasks_List_Tasks', 'TASKS_list_TASKS'];

async function post(path: string, body: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

describe("tool slugs in any case on Composio's routes", () => {
  it.each(CASES)('session.execute(%j) runs TASKS_LIST_TASKS', async (slug) => {
    const session = await composioClientOf(server).create('user_case', { toolkits: ['tasks'] });
    const result = await session.execute(slug, {});
    expect(result).toMatchObject({ error: null, data: { tasks: [] } });
    // the call is logged under the tool's own slug
    const logs = await server.embedded.logs.list({ sessionId: session.sessionId });
    expect(logs.items.map((entry) => entry.toolSlug)).toEqual(['TASKS_LIST_TASKS']);
  });

  it('runs a meta-tool named in any case, on execute, execute_meta and both API versions', async () => {
    const session = await composioClientOf(server).create('user_case', { toolkits: ['tasks'] });
    const queries = [{ use_case: 'list my tasks' }];
    for (const version of ['v3.1', 'v3']) {
      const base = `/api/${version}/tool_router/session/${session.sessionId}`;
      const executed = await post(`${base}/execute`, {
        tool_slug: 'composio_search_tools',
        arguments: { queries },
      });
      expect(executed.status).toBe(200);
      expect(executed.json).toMatchObject({ successful: true, error: null });
      expect(executed.json.data.results[0].primary_tool_slugs).toContain('TASKS_LIST_TASKS');
      const meta = await post(`${base}/execute_meta`, {
        slug: 'Composio_Multi_Execute_Tool',
        arguments: { tools: [{ tool_slug: 'tasks_list_tasks', arguments: {} }] },
      });
      expect(meta.status).toBe(200);
      expect(meta.json.data).toMatchObject({ success_count: 1, error_count: 0 });
    }
  });

  it('COMPOSIO_MULTI_EXECUTE_TOOL runs each call named in any case, and refuses a meta-tool in any case', async () => {
    const session = await composioClientOf(server).create('user_case', { toolkits: ['tasks'] });
    const multi = await session.execute('COMPOSIO_MULTI_EXECUTE_TOOL', {
      tools: [
        ...CASES.map((tool_slug) => ({ tool_slug, arguments: {} })),
        { tool_slug: 'composio_search_tools', arguments: { queries: [{ use_case: 'x' }] } },
        { tool_slug: 'tasks_list_taskz', arguments: {} },
      ],
    });
    const results = multi.data.results as Array<{ tool_slug: string; response: any; error: string | null }>;
    // each call answered under the slug it was sent as
    expect(results.map((entry) => [entry.tool_slug, entry.response.successful])).toEqual([
      ['tasks_list_tasks', true],
      ['Tasks_List_Tasks', true],
      ['TASKS_list_TASKS', true],
      ['composio_search_tools', false],
      ['tasks_list_taskz', false],
    ]);
    // a meta-tool is still not run inside the multi-execute, however it is written
    expect(results[3]!.error).toBe(
      'composio_search_tools is a meta-tool: call it directly, not through COMPOSIO_MULTI_EXECUTE_TOOL.',
    );
    // a slug no tool has is named as it was written, with the closest one
    expect(results[4]!.error).toContain(
      'There is no tool "tasks_list_taskz". Did you mean "TASKS_LIST_TASKS"?',
    );
    const logs = await server.embedded.logs.list({ sessionId: session.sessionId });
    // the calls that ran are logged under the tool's own slug
    const logged = logs.items.map((entry) => entry.toolSlug);
    expect(logged.filter((slug) => slug === 'TASKS_LIST_TASKS')).toHaveLength(3);
    expect(logged).not.toContain('tasks_list_tasks');
  });

  it('COMPOSIO_GET_TOOL_SCHEMAS answers a slug asked in any case under the tool’s slug', async () => {
    const session = await composioClientOf(server).create('user_case', { toolkits: ['tasks'] });
    const schemas = await session.execute('COMPOSIO_GET_TOOL_SCHEMAS', {
      tool_slugs: ['tasks_create_task', 'Tasks_Create_Task', 'tasks_nope'],
    });
    expect(Object.keys(schemas.data.tool_schemas as object)).toEqual(['TASKS_CREATE_TASK']);
    expect(schemas.data.not_found).toEqual(['tasks_nope']);
  });

  it('refuses an unknown slug as it was written, on execute and execute_meta', async () => {
    const session = await composioClientOf(server).create('user_case', { toolkits: ['tasks'] });
    const unknown = await session.execute('tasks_list_taskz', {});
    expect(unknown.error).toContain('There is no tool "tasks_list_taskz". Did you mean "TASKS_LIST_TASKS"?');
    const meta = await post(`/api/v3.1/tool_router/session/${session.sessionId}/execute_meta`, {
      slug: 'composio_remote_bash_tool',
      arguments: {},
    });
    expect(meta.status).toBe(404);
    expect(meta.json.error.message).toMatch(/^Meta-tool composio_remote_bash_tool is not in session /);
  });
});
