import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exposedToolSpecs } from '../session.js';
import { createTestPostgresUrl } from '../test/postgres.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

const quiet = { debug() {}, warn() {}, error() {} };
const secretKey = Buffer.alloc(32, 7).toString('base64');

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Two ToolMux instances on one store (two server processes): a session created on one with
 * Composio's meta-tool names has them on the other, and a change made on the other is seen here.
 */
async function checkAcrossInstances(store: string): Promise<void> {
  const open = () =>
    new ToolMux({ toolkits: createSampleToolkits().toolkits, store, secretKey, logger: quiet });
  const first = open();
  const second = open();
  try {
    const created = await first.create('user_store', { toolkits: ['tasks'], metaToolNames: 'composio' });
    const plain = await first.create('user_store', { toolkits: ['tasks'] });

    const resumed = await second.use(created.sessionId);
    expect(resumed.config.metaToolNames).toBe('composio');
    expect(exposedToolSpecs(resumed).map((spec) => spec.slug)).toContain('COMPOSIO_MULTI_EXECUTE_TOOL');
    const result = await resumed.execute('COMPOSIO_MULTI_EXECUTE_TOOL', {
      tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'stored' } }],
      sync_response_to_workbench: false,
    });
    expect(result.data).toMatchObject({
      results: [{ index: 1, response: { successful: true } }],
      error_count: 0,
    });
    expect((await second.use(plain.sessionId)).config.metaToolNames).toBe('toolmux');

    await resumed.update({ metaToolNames: 'toolmux' });
    const again = await first.use(created.sessionId);
    expect(again.config.metaToolNames).toBe('toolmux');
    expect(exposedToolSpecs(again)[0]!.slug).toBe('TOOLMUX_SEARCH_TOOLS');
    const logs = (await again.logs()).items.map((entry) => [entry.toolSlug, entry.toolkit]);
    expect(logs).toContainEqual(['COMPOSIO_MULTI_EXECUTE_TOOL', 'toolmux']);
    expect(logs).toContainEqual(['TASKS_CREATE_TASK', 'tasks']);
  } finally {
    await first.close();
    await second.close();
  }
}

describe('metaToolNames is stored with the session config', () => {
  it('on SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolmux-meta-names-'));
    dirs.push(dir);
    await checkAcrossInstances(`sqlite:${join(dir, 'toolmux.db')}`);
  });

  it('on PostgreSQL', async () => {
    const { url, cleanup } = await createTestPostgresUrl();
    try {
      await checkAcrossInstances(url);
    } finally {
      await cleanup();
    }
  });
});
