import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetaToolSlug, ToolMux } from '@toolmux/core';
import { declarationOf, newId } from '@toolmux/core/internal';
import { createSampleToolkits, stockLookupTool } from '@toolmux/core/test';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from '../server.js';
import { recordingLogger, restCaller, TEST_API_KEY, testStoreBackends } from '../test-helpers.js';

/**
 * The execution log as a tree over REST: `parent_id` on every entry, `?parent_id=` on both log
 * routes, and client uploads whose `parent_id` must name an entry of the same session.
 */
const directory = mkdtempSync(join(tmpdir(), 'toolmux-log-parents-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const stock = stockLookupTool().tool;

function upload(changes: Record<string, unknown>) {
  return {
    id: newId('log'),
    session_id: null,
    user_id: 'ignored',
    tool_slug: stock.slug,
    toolkit: 'shop',
    connected_account_id: null,
    call_id: null,
    status: 'success',
    error_code: null,
    error_message: null,
    duration_ms: 1,
    input: '{}',
    output: '{}',
    created_at: new Date().toISOString(),
    ...changes,
  };
}

const backends = await testStoreBackends(directory);

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`log parents over REST on ${backend.name}`, () => {
    it('lists a workbench cell’s calls by parent_id, and checks the parent of uploaded entries', async () => {
      const { spec, cleanup } = await backend.store();
      const logger = recordingLogger();
      const mux = new ToolMux({
        toolkits: createSampleToolkits().toolkits,
        store: spec,
        secretKey: randomBytes(32).toString('base64'),
        logger,
      });
      const app = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger }).app;
      const call = restCaller(app);
      try {
        const created = await call('POST', '/sessions', {
          user_id: 'user_tree',
          config: {
            toolkits: ['tasks'],
            experimental: {
              customTools: [declarationOf(stock)],
            },
          },
        });
        const sessionId = created.json.session_id as string;
        const other = (
          await call('POST', '/sessions', { user_id: 'user_other', config: { toolkits: ['tasks'] } })
        ).json.session_id as string;
        const cell = await call('POST', `/sessions/${sessionId}/execute`, {
          tool_slug: MetaToolSlug.WORKBENCH,
          arguments: {
            code: "await toolmux.execute('TASKS_CREATE_TASK', { title: 'a' }); return (await toolmux.execute('TASKS_LIST_TASKS', {})).data.tasks.length",
          },
          call_id: 'cell_1',
        });
        expect(cell.json.successful).toBe(true);
        const cellId = cell.json.log_id as string;

        const children = await call('GET', `/sessions/${sessionId}/logs?parent_id=${cellId}`);
        expect(children.status).toBe(200);
        expect(children.json.items.map((entry: any) => [entry.tool_slug, entry.parent_id])).toEqual([
          ['TASKS_LIST_TASKS', cellId],
          ['TASKS_CREATE_TASK', cellId],
        ]);
        const all = await call('GET', `/sessions/${sessionId}/logs`);
        expect(all.json.items.find((entry: any) => entry.id === cellId).parent_id).toBeNull();
        const project = await call('GET', `/logs?parent_id=${cellId}&session_id=${sessionId}`);
        expect(project.json.items).toHaveLength(2);
        expect((await call('GET', `/logs?parent_id=${'x'.repeat(200)}`)).status).toBe(400);

        // uploads: a parent of this session (stored, or in the same request) is kept
        const parentSent = newId('log');
        const added = await call('POST', `/sessions/${sessionId}/logs`, {
          items: [
            upload({ id: parentSent, tool_slug: MetaToolSlug.MULTI_EXECUTE_TOOL, toolkit: 'toolmux' }),
            upload({ parent_id: parentSent }),
            upload({ parent_id: cellId }),
          ],
        });
        expect(added.status).toBe(201);
        const [parentId, childId] = added.json.ids as string[];
        const underParent = await call('GET', `/sessions/${sessionId}/logs?parent_id=${parentId}`);
        expect(underParent.json.items.map((entry: any) => entry.id)).toEqual([childId]);
        expect(
          (await call('GET', `/sessions/${sessionId}/logs?parent_id=${cellId}`)).json.items,
        ).toHaveLength(3);

        // another session's entry, or an unknown one, refuses the request
        const theirs = await call('POST', `/sessions/${other}/execute`, {
          tool_slug: 'TASKS_LIST_TASKS',
          arguments: {},
        });
        for (const parent of [theirs.json.log_id, newId('log')]) {
          const refused = await call('POST', `/sessions/${sessionId}/logs`, {
            items: [upload({ parent_id: parent })],
          });
          expect(refused.status).toBe(400);
          expect(refused.json.error.code).toBe('INVALID_REQUEST');
          expect(refused.json.error.message).toContain(parent);
        }
      } finally {
        await mux.close();
        await cleanup();
      }
    });
  });
}
