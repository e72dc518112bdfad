import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { embeddedSession } from '../session.js';
import { logRecord } from '../test/log-records.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { newId } from '../util/ids.js';
import { SqliteStore } from './sqlite.js';
import type { ExecutionLogRecord, ListLogsQuery, Page, Store } from './types.js';

/**
 * The log read by parent (migration 21's `(parent_id, id)`, walked by both stores whatever else is
 * asked) answers what a plain filtered read of the log answers: the same pages, the same cursors, for
 * every filter shape beside a parent. Above all for the calls whose parent is not stored: a remote
 * client's multi-execute uploads its entry when it ends, after the calls the server ran for it, a
 * call aborted after that upload keeps naming the id sent, and the pruner takes a parent before its
 * last calls; so the parent's own entry cannot stand in for its session.
 */

const SESSIONS = ['a', 'b', 'c'].map((letter) => `ses_${letter.repeat(38)}`);
/** Session i's user. */
const USERS = ['user_1', 'user_2', 'user_1'];
const TOOLS = ['ECHO_ECHO', 'TASKS_CREATE_TASK', 'MAIL_SEND_EMAIL'];

/** Entry n's id: ids sort as n, whatever order the entries are written in. */
const idOf = (n: number) => `log_${n.toString(16).padStart(38, '0')}`;
/** Ids no entry is: named as parents of entries that are stored without them. */
const MISSING = [idOf(100_000), idOf(100_001)];

/** An entry as generated: its number, session, tool and parent (another entry's number, a missing id, or none). */
interface Drawn {
  session: number;
  tool: number;
  parent: { entry: number } | { missing: number } | null;
}

const drawnEntry = fc.record({
  session: fc.nat({ max: SESSIONS.length - 1 }),
  tool: fc.nat({ max: TOOLS.length - 1 }),
  parent: fc.oneof(
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.record({ entry: fc.nat({ max: 7 }) }) },
    { weight: 1, arbitrary: fc.record({ missing: fc.nat({ max: MISSING.length - 1 }) }) },
  ),
});

/** A log of 1..60 entries, written in a shuffled order, and the queries read from it. */
const drawnLog = fc.record({
  entries: fc.array(drawnEntry, { minLength: 1, maxLength: 60 }),
  order: fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
  queries: fc.array(
    fc.record({
      parent: fc.oneof(fc.record({ entry: fc.nat({ max: 7 }) }), fc.record({ missing: fc.nat({ max: 1 }) })),
      session: fc.option(fc.nat({ max: SESSIONS.length - 1 }), { nil: undefined }),
      user: fc.option(fc.nat({ max: 2 }), { nil: undefined }),
      tool: fc.option(fc.nat({ max: TOOLS.length - 1 }), { nil: undefined }),
      limits: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 12 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

function records(entries: readonly Drawn[]): ExecutionLogRecord[] {
  return entries.map((drawn, n) =>
    logRecord({
      id: idOf(n),
      sessionId: SESSIONS[drawn.session]!,
      userId: USERS[drawn.session]!,
      toolSlug: TOOLS[drawn.tool]!,
      // a parent is an earlier entry (its number below this one's), or an id that is not stored
      parentId:
        drawn.parent === null
          ? null
          : 'missing' in drawn.parent
            ? MISSING[drawn.parent.missing]!
            : drawn.parent.entry < n
              ? idOf(drawn.parent.entry)
              : null,
    }),
  );
}

/** The page a plain filtered read answers: the matching entries newest first, after the cursor. */
function plainPage(
  log: readonly ExecutionLogRecord[],
  query: ListLogsQuery,
): Page<Pick<ExecutionLogRecord, 'id'>> {
  const matching = log
    .filter(
      (entry) =>
        (query.sessionId === undefined || entry.sessionId === query.sessionId) &&
        (query.userId === undefined || entry.userId === query.userId) &&
        (query.toolSlug === undefined || entry.toolSlug === query.toolSlug) &&
        (query.parentId === undefined || entry.parentId === query.parentId) &&
        (query.cursor === undefined || entry.id < query.cursor),
    )
    .map(({ id }) => id)
    .sort()
    .reverse();
  const items = matching.slice(0, query.limit).map((id) => ({ id }));
  return { items, nextCursor: matching.length > query.limit ? items.at(-1)!.id : undefined };
}

/** Writes each drawn log to `store` (emptied by `empty` first) and reads every query's pages from it. */
async function checkPages(store: Store, empty: () => Promise<void>): Promise<void> {
  await fc.assert(
    fc.asyncProperty(drawnLog, async ({ entries, order, queries }) => {
      await empty();
      const log = records(entries);
      // written in a shuffled order, a few at a time: a parent may be written after its calls
      const written = log
        .map((entry, index) => ({ entry, key: order[index]! }))
        .sort((a, b) => a.key - b.key)
        .map(({ entry }) => entry);
      for (let at = 0; at < written.length; at += 7) await store.insertLogs(written.slice(at, at + 7));
      for (const drawn of queries) {
        const query: Omit<ListLogsQuery, 'limit'> = {
          parentId: 'missing' in drawn.parent ? MISSING[drawn.parent.missing]! : idOf(drawn.parent.entry),
          ...(drawn.session === undefined ? {} : { sessionId: SESSIONS[drawn.session]! }),
          ...(drawn.user === undefined ? {} : { userId: `user_${drawn.user}` }),
          ...(drawn.tool === undefined ? {} : { toolSlug: TOOLS[drawn.tool]! }),
        };
        let cursor: string | undefined;
        for (const limit of drawn.limits) {
          const page = await store.listLogs({ ...query, limit, cursor });
          const expected = plainPage(log, { ...query, limit, cursor });
          expect({ items: page.items.map(({ id }) => ({ id })), nextCursor: page.nextCursor }).toEqual(
            expected,
          );
          // the entries themselves, as written
          for (const item of page.items) expect(item).toEqual(log.find(({ id }) => id === item.id));
          cursor = page.nextCursor;
          if (cursor === undefined) break;
        }
      }
    }),
    { numRuns: 40, seed: 21 },
  );
}

describe('the log read by parent on SQLite', () => {
  it('answers the pages and cursors of a plain filtered read, for every filter beside a parent', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    try {
      await checkPages(store, async () => {
        await store.deleteLogsBefore('log_z', 1_000);
      });
    } finally {
      await store.close();
    }
  });
});

const skipPostgres = await postgresSkipReason();

describe.skipIf(skipPostgres !== undefined)(
  `the log read by parent on PostgreSQL ${skipPostgres ?? ''}`,
  () => {
    it('answers the pages and cursors of a plain filtered read, for every filter beside a parent', async () => {
      await withTestDatabase(async (database) => {
        await database.store.migrate();
        await checkPages(database.store, async () => {
          await database.query('DELETE FROM toolmux_execution_logs');
        });
      });
    });
  },
);

describe('the calls of a parent not stored yet', () => {
  it('are listed by the parent alone: a remote multi-execute names its entry before it uploads it', async () => {
    const sample = createSampleToolkits();
    const store = new SqliteStore({ path: ':memory:' });
    const mux = new ToolMux({
      toolkits: sample.toolkits,
      store,
      secretKey: 'a'.repeat(64),
      logger: { debug() {}, warn() {}, error() {} },
    });
    try {
      const session = await mux.create('user_1', { toolkits: ['tasks'] });
      // the id the client will upload the multi-execute's entry under, once it ends
      const parentId = newId('log');
      const call = await embeddedSession(session).executeUnder(parentId, 'TASKS_CREATE_TASK', { title: 't' });
      expect(call.successful, JSON.stringify(call.error)).toBe(true);
      expect(await store.getLog(parentId)).toBeUndefined();
      for (const query of [
        { parentId },
        { parentId, userId: 'user_1' },
        { parentId, toolSlug: 'TASKS_CREATE_TASK' },
      ]) {
        const page = await mux.logs.list(query);
        expect(
          page.items.map((entry) => entry.id),
          JSON.stringify(query),
        ).toEqual([call.logId]);
      }
      expect((await session.logs({ parentId })).items.map((entry) => entry.id)).toEqual([call.logId]);
    } finally {
      await mux.close();
    }
  });
});
