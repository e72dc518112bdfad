import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTool } from '@toolmux/core';
import { newId } from '@toolmux/core/internal';
import { createSampleToolkits, stockLookupTool } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testStoreBackends } from '../test-helpers.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A custom-tool call of a remote session that ends after its session was deleted (elsewhere, while
 * it ran) is logged, as an embedded session's is: the server takes the entries of a session that
 * existed (its log names it), never of an id that named none.
 */
const directory = mkdtempSync(join(tmpdir(), 'toolmux-remote-deleted-logs-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const backends = await testStoreBackends(directory, { sharedSecretKey: true });

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `remote mode: log entries of a deleted session on ${backend.name}`,
    () => {
      let server: TestServer;
      let cleanup: () => Promise<void>;

      beforeAll(async () => {
        const store = await backend.store();
        cleanup = store.cleanup;
        server = await startTestServer({ toolkits: createSampleToolkits().toolkits, store: store.spec });
      });
      afterAll(async () => {
        await server?.close();
        await cleanup?.();
      });

      const rest = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${server.url}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: response.status, json: (await response.json().catch(() => null)) as any };
      };

      it('a custom-tool call still running when its session is deleted keeps its entry, as embedded', async () => {
        let release!: () => void;
        const released = new Promise<void>((resolve) => {
          release = resolve;
        });
        let started!: () => void;
        const running = new Promise<void>((resolve) => {
          started = resolve;
        });
        const packShipment = defineTool({
          slug: 'SHOP_PACK_SHIPMENT',
          toolkit: 'shop',
          description: 'Pack the next shipment at the warehouse (takes a while).',
          inputSchema: z.object({ order: z.string() }),
          execute: async ({ order }) => {
            started();
            await released;
            return { packed: order };
          },
        });
        const errors: string[] = [];
        const remote = server.remote(undefined, {
          logger: { debug() {}, warn() {}, error: (message) => errors.push(message) },
        });
        const session = await remote.create('user_deleted_midway', {
          toolkits: ['shop'],
          experimental: { customTools: [stockLookupTool().tool, packShipment] },
        });
        const first = await session.execute('SHOP_LOOKUP_STOCK', { sku: 'A-1' });
        await session.logs();
        const packing = session.execute('SHOP_PACK_SHIPMENT', { order: 'o-1' });
        await running;
        // deleted by another client (another instance, an operator) while the call runs
        expect((await rest('DELETE', `/sessions/${session.sessionId}`)).status).toBe(200);
        release();
        const packed = await packing;
        expect(packed.successful).toBe(true);
        await remote.close();
        const stored = await rest('GET', `/logs?session_id=${session.sessionId}`);
        // before: the upload was refused (SESSION_NOT_FOUND) and the entry lost
        expect(stored.json.items.map((entry: { id: string }) => entry.id).sort()).toEqual(
          [first.logId, packed.logId].sort(),
        );
        expect(
          stored.json.items.every((entry: { user_id: string }) => entry.user_id === 'user_deleted_midway'),
        ).toBe(true);
        expect(errors).toEqual([]);

        // a server tool's entry stays refused: only a failure the client gives a call it never sent
        const entry = (changes: Record<string, unknown>) => ({
          id: newId('log'),
          session_id: null,
          user_id: 'ignored',
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
          ...changes,
        });
        const claimed = await rest('POST', `/sessions/${session.sessionId}/logs`, {
          items: [entry({ tool_slug: 'TASKS_CREATE_TASK' })],
        });
        expect(claimed.status).toBe(400);
        const aborted = await rest('POST', `/sessions/${session.sessionId}/logs`, {
          items: [
            entry({
              tool_slug: 'TASKS_CREATE_TASK',
              status: 'error',
              error_code: 'TOOL_ABORTED',
              error_message: 'aborted',
            }),
          ],
        });
        expect(aborted.status).toBe(201);
      });

      it('an id that never named a session takes no entry', async () => {
        const never = newId('ses');
        const answer = await rest('POST', `/sessions/${never}/logs`, {
          items: [
            {
              id: newId('log'),
              session_id: null,
              user_id: 'someone',
              tool_slug: 'SHOP_LOOKUP_STOCK',
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
            },
          ],
        });
        expect(answer.status).toBe(404);
        expect(answer.json.error.code).toBe('SESSION_NOT_FOUND');
        expect((await rest('GET', `/logs?session_id=${never}`)).json.items).toEqual([]);
      });
    },
  );
}
