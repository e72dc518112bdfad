import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

// POST /api/v1/tools/execute (mux.tools.execute) of a slug the catalog has no tool of: the failed
// result says what to run instead, as a session's execute() does (it said only "There is no tool").
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

async function execute(toolSlug: string) {
  const response = await fetch(`${server.url}/api/v1/tools/execute`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool_slug: toolSlug, user_id: 'user_not_found', arguments: {} }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { successful: boolean; error: string; code: string };
}

describe('a tool slug the catalog does not have, run without a session', () => {
  it('a misspelt slug: the closest tools and where the catalog lists its tools', async () => {
    const result = await execute('TASKS_CREATE_TASKS');
    expect([result.successful, result.code]).toEqual([false, 'TOOL_NOT_FOUND']);
    expect(result.error).toContain(
      'There is no tool "TASKS_CREATE_TASKS" in the catalog. Did you mean "TASKS_CREATE_TASK"',
    );
    expect(result.error).toContain('listed by POST /api/v1/tools/list');
    // the slug it names runs
    expect((await execute('TASKS_CREATE_TASK')).code).not.toBe('TOOL_NOT_FOUND');
  });

  it('a meta-tool (TOOLMUX_…, COMPOSIO_…, any case): it runs in a session, with the route that runs it', async () => {
    for (const slug of ['TOOLMUX_SEARCH_TOOLS', 'COMPOSIO_MULTI_EXECUTE_TOOL', 'toolmux_workbench']) {
      const result = await execute(slug);
      expect(result.code, slug).toBe('TOOL_NOT_FOUND');
      expect(result.error, slug).toContain('it is a meta-tool, which runs only in a session');
      expect(result.error, slug).toContain('POST /api/v1/sessions/:sessionId/execute');
    }
  });

  it('a remote-mode SDK reads the same in its own words', async () => {
    const remote = server.remote();
    const result = await remote.tools.execute('TASKS_CREATE_TASKS', {
      userId: 'user_not_found',
      arguments: {},
    });
    expect(result.error).toContain('Did you mean "TASKS_CREATE_TASK"');
    expect(result.error).toContain('listed by tools.get(userId, { toolkits })');
    const meta = await remote.tools.execute('TOOLMUX_SEARCH_TOOLS', { userId: 'user_not_found' });
    expect(meta.error).toContain('session.execute(');
    expect(meta.error).not.toContain('/api/v1');
  });
});
