import { describe, expect, it } from 'vitest';
import { embeddedSession } from '../internal.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { openStore } from '../store/open-store.js';
import type { ExecutionLogRecord } from '../store/types.js';
import { databaseBackends, databasePerTest, quiet } from '../test/auth-fixtures.js';
import { logRecord } from '../test/log-records.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

/**
 * The execution log as a tree: the calls a TOOLMUX_WORKBENCH cell or a TOOLMUX_MULTI_EXECUTE_TOOL
 * makes carry that call's entry as `parentId`, stored (migration 7) and filterable on both stores.
 */

const secretKey = Buffer.alloc(32, 3).toString('base64');
const backends = await databaseBackends();

function entry(overrides: Partial<ExecutionLogRecord>): ExecutionLogRecord {
  return logRecord({
    sessionId: 'ses_tree',
    toolSlug: 'TASKS_LIST_TASKS',
    toolkit: 'tasks',
    parentId: undefined,
    ...overrides,
  });
}

describe.each(backends)('log entries with a parent on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'tree', () => {
    const { database, opened } = databasePerTest(open);

    function instance(): ToolMux {
      const mux = new ToolMux({
        toolkits: createSampleToolkits().toolkits,
        store: database.spec,
        secretKey,
        logger: quiet,
      });
      opened.push(mux);
      return mux;
    }

    it('the store keeps parentId, reads it back, lists by it and reads one entry by id', async () => {
      const store = await openStore(database.spec);
      try {
        await store.migrate();
        const parent = entry({ toolSlug: MetaToolSlug.WORKBENCH, toolkit: 'toolmux' });
        const children = [entry({ parentId: parent.id }), entry({ parentId: parent.id })];
        const elsewhere = entry({ sessionId: 'ses_other', parentId: parent.id });
        await store.insertLogs([...children, parent, elsewhere, entry({})]);
        const page = await store.listLogs({ sessionId: 'ses_tree', parentId: parent.id, limit: 10 });
        expect(page.items.map((item) => item.id)).toEqual(children.map((child) => child.id).reverse());
        expect(page.items.every((item) => item.parentId === parent.id)).toBe(true);
        const all = await store.listLogs({ parentId: parent.id, limit: 10 });
        expect(all.items).toHaveLength(3);
        expect((await store.getLog!(parent.id))?.parentId).toBeNull();
        expect((await store.getLog!(children[0]!.id))?.parentId).toBe(parent.id);
        expect(await store.getLog!('log_missing')).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it("a workbench cell's and a multi-execute's tool calls name that call's entry as their parent", async () => {
      const mux = instance();
      const session = await mux.create('user_1', { toolkits: ['tasks', 'notes'] });
      const cell = await session.execute(MetaToolSlug.WORKBENCH, {
        code: `await toolmux.execute('TASKS_CREATE_TASK', { title: 'a' });
               const list = await toolmux.execute('TASKS_LIST_TASKS', {});
               return list.data.tasks.length;`,
      });
      expect(cell.successful).toBe(true);
      const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [
          { tool_slug: 'TASKS_LIST_TASKS', arguments: {} },
          { tool_slug: 'NOTES_SEARCH_NOTES', arguments: { query: 'x' } },
        ],
      });
      expect(multi.successful).toBe(true);

      const inCell = (await session.logs({ parentId: cell.logId })).items;
      expect(inCell.map((log) => log.toolSlug)).toEqual(['TASKS_LIST_TASKS', 'TASKS_CREATE_TASK']);
      expect(inCell.map((log) => log.callId)).toEqual([`${cell.logId}/2`, `${cell.logId}/1`]);
      const inMulti = (await session.logs({ parentId: multi.logId })).items;
      expect(inMulti.map((log) => log.toolSlug).sort()).toEqual(['NOTES_SEARCH_NOTES', 'TASKS_LIST_TASKS']);

      const all = (await session.logs()).items;
      expect(all).toHaveLength(6);
      const top = all.filter((log) => log.parentId === null);
      expect(top.map((log) => log.id)).toEqual([multi.logId, cell.logId]);
      expect((await mux.logs.list({ parentId: cell.logId })).items.map((log) => log.id)).toEqual(
        inCell.map((log) => log.id),
      );
      // a second instance reads the same tree
      const other = await instance().use(session.sessionId);
      expect((await other.logs({ parentId: cell.logId })).items).toHaveLength(2);
      await expect(session.logs({ parentId: 'log_\u0000' })).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
      });
    });

    it("the project's log by parent alone is read within the parent's session", async () => {
      const store = await openStore(database.spec);
      const asked: Array<{ sessionId?: string; parentId?: string }> = [];
      const listLogs = store.listLogs.bind(store);
      store.listLogs = (query) => {
        asked.push({ sessionId: query.sessionId, parentId: query.parentId });
        return listLogs(query);
      };
      const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store, secretKey, logger: quiet });
      opened.push(mux);
      const session = await mux.create('user_1', { toolkits: ['tasks'] });
      const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [
          { tool_slug: 'TASKS_LIST_TASKS', arguments: {} },
          { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'b' } },
        ],
      });
      const children = await mux.logs.list({ parentId: multi.logId });
      expect(children.items.map((log) => log.toolSlug).sort()).toEqual([
        'TASKS_CREATE_TASK',
        'TASKS_LIST_TASKS',
      ]);
      expect(asked.at(-1)).toEqual({ sessionId: session.sessionId, parentId: multi.logId });
      // a parent not stored (yet): the query as it was asked
      const unknown = 'log_00000000000000000000000000000000000000';
      expect((await mux.logs.list({ parentId: unknown })).items).toEqual([]);
      expect(asked.at(-1)).toEqual({ sessionId: undefined, parentId: unknown });
    });

    it("a client's entries may name a parent of the same session only", async () => {
      const mux = instance();
      const session = await mux.create('user_1', { toolkits: ['tasks'] });
      const stranger = await mux.create('user_2', { toolkits: ['tasks'] });
      const theirs = await stranger.execute('TASKS_LIST_TASKS', {});
      const mine = await session.execute('TASKS_LIST_TASKS', {});
      const embedded = embeddedSession(session);
      const aborted = { status: 'error' as const, errorCode: 'TOOL_ABORTED', sessionId: session.sessionId };
      await expect(
        embedded.recordClientLogs([entry({ ...aborted, parentId: theirs.logId })]),
      ).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining(theirs.logId) });
      await expect(
        embedded.recordClientLogs([entry({ ...aborted, parentId: 'log_unknown' })]),
      ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });

      // a stored entry of the session, and one of the same request (stored under a new id)
      const parent = entry({ ...aborted, id: 'not-a-log-id' });
      const child = entry({ ...aborted, parentId: 'not-a-log-id' });
      const [parentId, childId] = await embedded.recordClientLogs([
        parent,
        child,
        entry({ ...aborted, parentId: mine.logId }),
      ]);
      expect(parentId).not.toBe('not-a-log-id');
      const logs = (await session.logs()).items;
      expect(logs.find((log) => log.id === childId)?.parentId).toBe(parentId);
      expect((await session.logs({ parentId: mine.logId })).items).toHaveLength(1);
    });
  });
});
