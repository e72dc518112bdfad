import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { SqliteStore } from '../store/sqlite.js';
import type { ExecutionLogRecord, Store } from '../store/types.js';
import { logRecord } from '../test/log-records.js';
import { createTestPostgresUrl } from '../test/postgres.js';
import { ToolMux } from '../toolmux.js';
import { idBefore, newId } from '../util/ids.js';
import { LOG_PRUNE_BATCH } from './log-retention.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const SECRET_KEY = Buffer.alloc(32, 3).toString('base64');

/** An entry made `daysAgo` days ago (its id and time). */
function entryOf(daysAgo: number, changes: Partial<ExecutionLogRecord> = {}): ExecutionLogRecord {
  const at = Date.now() - daysAgo * DAY_MS;
  // an id of that time: the time part, then the random part of a new id
  return logRecord({
    id: `${idBefore('log', at)}${newId('log').slice(14)}`,
    createdAt: new Date(at),
    ...changes,
  });
}

async function allIds(store: Store): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listLogs({ limit: 100, cursor });
    ids.push(...page.items.map((entry) => entry.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids.sort();
}

const toolkit = defineToolkit({
  slug: 'echo',
  description: 'Echo',
  tools: [
    defineTool({
      slug: 'ECHO_ECHO',
      description: 'Echo',
      inputSchema: { type: 'object', properties: {} },
      execute: async () => ({ ok: true }),
    }),
  ],
});

interface Place {
  /** The store spec a ToolMux opens. */
  spec: string;
  /** A store of its own on the same database, to fill and read the log past the ToolMux. */
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

const places: Record<string, () => Promise<Place>> = {
  SQLite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolmux-retention-'));
    const path = join(dir, 'toolmux.db');
    return {
      spec: `sqlite:${path}`,
      open: async () => {
        const store = new SqliteStore({ path });
        await store.migrate();
        return store;
      },
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  PostgreSQL: async () => {
    const database = await createTestPostgresUrl();
    const { PostgresStore } = await import('../store/postgres.js');
    return {
      spec: database.url,
      open: async () => {
        const store = await PostgresStore.create({ connectionString: database.url });
        await store.migrate();
        return store;
      },
      cleanup: database.cleanup,
    };
  },
};

describe.each(Object.keys(places))('execution log retention (%s)', (name) => {
  let place: Place;
  const opened: Array<{ close(): Promise<void> }> = [];
  const open = async () => {
    place ??= await places[name]!();
    const store = await place.open();
    opened.push(store);
    return store;
  };
  afterAll(async () => {
    for (const each of opened.reverse()) await each.close();
    await place?.cleanup();
  });

  it('deleteLogsBefore deletes the oldest entries before the boundary, at most as many as asked, and answers how many', async () => {
    const store = await open();
    const old = [40, 35, 31, 30.5].map((days) => entryOf(days));
    const kept = [29.9, 10, 0].map((days) => entryOf(days));
    await store.insertLogs([...old, ...kept]);
    const boundary = idBefore('log', Date.now() - 30 * DAY_MS);
    expect(await store.deleteLogsBefore!(boundary, 3)).toBe(3);
    // the oldest went first
    expect(await allIds(store)).toEqual([old[3]!, ...kept].map((entry) => entry.id).sort());
    expect(await store.deleteLogsBefore!(boundary, 3)).toBe(1);
    expect(await store.deleteLogsBefore!(boundary, 3)).toBe(0);
    expect(await allIds(store)).toEqual(kept.map((entry) => entry.id).sort());
    // the ids of the boundary's own millisecond are not before it
    const at = Date.now() - 20 * DAY_MS;
    const same = entryOf(0, { id: `${idBefore('log', at)}${'0'.repeat(28)}` });
    await store.insertLogs([same]);
    expect(await store.deleteLogsBefore!(idBefore('log', at), 10)).toBe(1); // the 29.9-day one
    expect(await allIds(store)).toContain(same.id);
    expect(await store.deleteLogsBefore!(idBefore('log', at + 1), 10)).toBe(1);
    expect(await allIds(store)).toEqual([kept[1]!, kept[2]!].map((entry) => entry.id).sort());
  });

  it('a ToolMux with logRetentionDays deletes older entries when its store opens, in batches, and keeps the rest and its own calls', async () => {
    const store = await open();
    const old = Array.from({ length: LOG_PRUNE_BATCH * 2 + 17 }, (_, n) => entryOf(8 + n / 1000));
    for (let start = 0; start < old.length; start += 500)
      await store.insertLogs(old.slice(start, start + 500));
    const recent = [entryOf(6.9), entryOf(1)];
    await store.insertLogs(recent);
    const before = new Set(await allIds(store));

    const lines: Array<{ level: string; message: string }> = [];
    const logger = {
      debug: (message: string) => lines.push({ level: 'debug', message }),
      warn: (message: string) => lines.push({ level: 'warn', message }),
      error: (message: string) => lines.push({ level: 'error', message }),
    };
    const mux = new ToolMux({
      toolkits: [toolkit],
      store: place.spec,
      secretKey: SECRET_KEY,
      logRetentionDays: 7,
      logger,
    });
    opened.push(mux);
    const session = await mux.create('user_1');
    const call = await session.execute('ECHO_ECHO', {});
    expect(call.successful).toBe(true);
    // what is younger than 7 days stays (the earlier test's entries too): the recent ones and the call
    const boundary = idBefore('log', Date.now() - 7 * DAY_MS);
    const expected = [...before]
      .filter((id) => id >= boundary)
      .concat(call.logId)
      .sort();
    expect(expected).toEqual(expect.arrayContaining(recent.map((entry) => entry.id)));
    // pruning runs beside the calls: wait for it
    for (let waited = 0; waited < 200 && (await allIds(store)).length > expected.length; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await allIds(store)).toEqual(expected);
    expect(lines).toContainEqual({
      level: 'debug',
      message: `toolmux: deleted ${before.size - (expected.length - 1)} execution log entries older than 7 days (logRetentionDays)`,
    });
    expect(lines.filter((line) => line.level !== 'debug')).toEqual([]);
  });
});

describe('logRetentionDays and the store', () => {
  it('a store without deleteLogsBefore is refused when it opens (STORE_CONFIG_INVALID), rather than keeping every entry', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const without = new Proxy(store, {
      get: (target, key) => (key === 'deleteLogsBefore' ? undefined : Reflect.get(target, key, target)),
    }) as Store;
    const mux = new ToolMux({
      toolkits: [toolkit],
      store: without,
      secretKey: SECRET_KEY,
      logRetentionDays: 30,
    });
    await expect(mux.create('user_1')).rejects.toMatchObject({
      code: 'STORE_CONFIG_INVALID',
      message: expect.stringContaining('deleteLogsBefore'),
    });
    await store.close();
  });
});
