import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logRecord } from '../test/log-records.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import { LOG_READ_ROWS } from './pagination.js';
import { SqliteStore } from './sqlite.js';
import type { ExecutionLogRecord, ListLogsQuery, Store } from './types.js';

/**
 * Reading a page of the execution log does not hold the event loop in proportion to the page: an
 * entry holds up to three texts of 8192 characters (what `POST /sessions/:id/logs` accepts), so a
 * page of 1000 of them is 24 MB of text or more (72 MB of UTF-8 outside ASCII). Before the fix, a
 * page was one statement whose rows were decoded in one turn: SQLite's `all()` held the event loop
 * for 230–330 ms (CPU) for such a page, PostgreSQL's page of a session (one text of 72 MB that `pg`
 * decodes and `entriesOf` splits at once) for 160–250 ms. Now a page is read LOG_READ_ROWS entries
 * per statement with the event loop free between them: a few ms to ~15 ms per turn.
 *
 * What is held to a bound is the longest turn of the event loop in CPU time of the thread (between
 * two ticks of a 1 ms timer), which a loaded machine inflates far less than the event-loop delay
 * (`monitorEventLoopDelay`, given in the failure message); the best of three runs counts.
 */
const skipPostgres = await postgresSkipReason();

const temporaryRoot = mkdtempSync(join(tmpdir(), 'toolmux-log-turns-'));
afterAll(() => rmSync(temporaryRoot, { recursive: true, force: true }));

/** The longest turn (CPU ms) a page read may take. */
const BOUND_MS = 40;
const SESSION = `ses_${'7'.repeat(38)}`;
/** 8192 characters of 3 bytes of UTF-8 each: the longest text a client may upload, and the slowest to decode. */
const FIELD = '€'.repeat(8192);

/** Entry `n`'s id: ids ascend with n, so the newest first is n descending. */
function idOf(n: number): string {
  return `log_${String(n).padStart(38, '0')}`;
}

/** `count` entries at the accepted maximum size, of one session, user and tool: ids of even numbers. */
function bigEntries(count = 1000): ExecutionLogRecord[] {
  return Array.from({ length: count }, (_, index) =>
    logRecord({
      id: idOf(2 * index + 2),
      sessionId: SESSION,
      userId: 'user_big',
      toolSlug: 'BIG_TOOL',
      status: 'error',
      input: FIELD,
      output: FIELD,
      errorMessage: FIELD,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, index)),
    }),
  );
}

/** Every entry of a query, following the cursors. */
async function allPages(store: Store, query: Omit<ListLogsQuery, 'cursor'>): Promise<ExecutionLogRecord[]> {
  const items: ExecutionLogRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listLogs({ ...query, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return items;
}

interface Backend {
  name: string;
  skip: string | undefined;
  with(test: (store: Store) => Promise<void>): Promise<void>;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    skip: undefined,
    async with(test) {
      const store = new SqliteStore({ path: join(mkdtempSync(join(temporaryRoot, 'case-')), 'toolmux.db') });
      await store.migrate();
      try {
        await test(store);
      } finally {
        await store.close();
      }
    },
  },
  {
    name: 'PostgreSQL',
    skip: skipPostgres,
    with: (test) =>
      withTestDatabase(async (database) => {
        await database.store.migrate();
        await test(database.store);
      }),
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`log pages on ${backend.name} ${backend.skip ?? ''}`, () => {
    it('a page of 1000 entries at the maximum size is read without holding the event loop, by session, user, tool or none', {
      timeout: 120_000,
    }, async () => {
      await backend.with(async (store) => {
        const entries = bigEntries();
        for (let start = 0; start < entries.length; start += 50) {
          await store.insertLogs(entries.slice(start, start + 50));
        }
        const newestFirst = entries.map((entry) => entry.id).reverse();
        const queries: Array<[string, Omit<ListLogsQuery, 'cursor'>]> = [
          ['session', { sessionId: SESSION, limit: 1000 }],
          ['project', { limit: 1000 }],
          ['user', { userId: 'user_big', limit: 1000 }],
          ['tool', { toolSlug: 'BIG_TOOL', limit: 1000 }],
        ];
        for (const [name, query] of queries) {
          // warm: the statements are prepared, the code compiled
          await store.listLogs({ ...query, limit: 1, cursor: undefined });
          const measured = await longestTurn(() => store.listLogs({ ...query, cursor: undefined }), BOUND_MS);
          const { turnMs, value } = measured;
          expect(value.items.map((entry) => entry.id)).toEqual(newestFirst);
          expect(value.nextCursor).toBeUndefined();
          expect(value.items[500]).toEqual(entries[499]);
          expect(turnMs, `${name}: ${turnReport(measured)}`).toBeLessThan(BOUND_MS);
        }
      });
    });

    it('entries written while a page is read are read once or not at all, and none written before is missed', {
      timeout: 60_000,
    }, async () => {
      await backend.with(async (store) => {
        const entries = bigEntries(300);
        for (let start = 0; start < entries.length; start += 50) {
          await store.insertLogs(entries.slice(start, start + 50));
        }
        // while the pages are read: an entry between two of the session's (odd ids, as a remote
        // client's fresh id may be older than entries stored already) and a newer one, each turn
        const written = new Set<string>();
        let reading = true;
        let next = 1;
        let firstWrite!: () => void;
        const firstWritten = new Promise<void>((resolve) => {
          firstWrite = resolve;
        });
        const writer = (async () => {
          while (reading) {
            const id = idOf(next);
            next += 2;
            await store.insertLogs([
              logRecord({ id, sessionId: SESSION, userId: 'user_big', toolSlug: 'BIG_TOOL' }),
              logRecord({
                id: idOf(5000 + next),
                sessionId: SESSION,
                userId: 'user_big',
                toolSlug: 'BIG_TOOL',
              }),
            ]);
            written.add(id).add(idOf(5000 + next));
            firstWrite();
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        // the reads start once an entry was written: a read of one page (limit 1000) is one statement,
        // which on a loaded machine ran before the writer's first commit (and read none of its entries)
        await firstWritten;
        const writtenBefore = written.size;
        const read = await Promise.all(
          (
            [
              { sessionId: SESSION, limit: 1000 },
              { sessionId: SESSION, limit: 100 },
              { limit: 200 },
              { toolSlug: 'BIG_TOOL', limit: 1000 },
            ] satisfies Array<Omit<ListLogsQuery, 'cursor'>>
          ).map((query) => allPages(store, query)),
        );
        const writtenWhileRead = written.size - writtenBefore;
        reading = false;
        await writer;
        // the writer ran while the pages were read
        expect(writtenWhileRead).toBeGreaterThan(0);
        const before = new Set(entries.map((entry) => entry.id));
        for (const items of read) {
          const ids = items.map((entry) => entry.id);
          // newest first, none twice
          for (let index = 1; index < ids.length; index++) expect(ids[index]! < ids[index - 1]!).toBe(true);
          // every entry stored before, and only entries that were written
          expect(ids.filter((id) => before.has(id))).toEqual([...before].reverse());
          expect(ids.every((id) => before.has(id) || written.has(id))).toBe(true);
        }
        // each read let the writer run: entries written meanwhile (older ids) were read
        expect(read.every((items) => items.length > entries.length)).toBe(true);
      });
    });

    it('pages larger than one read are what one statement read, with every limit, filter and cursor', async () => {
      await backend.with(async (store) => {
        const parent = idOf(1);
        const entries = Array.from({ length: 3 * LOG_READ_ROWS + 7 }, (_, index) =>
          logRecord({
            id: idOf(index + 2),
            sessionId: SESSION,
            userId: index % 3 === 0 ? 'user_a' : 'user_b',
            toolSlug: index % 4 === 0 ? 'TOOL_A' : 'TOOL_B',
            parentId: index % 2 === 0 ? parent : null,
            callId: `call_${index}`,
            createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, index)),
          }),
        );
        await store.insertLogs(entries);
        const expected = (filter: (entry: ExecutionLogRecord) => boolean) => entries.filter(filter).reverse();
        const filters: Array<
          [Omit<ListLogsQuery, 'limit' | 'cursor'>, (entry: ExecutionLogRecord) => boolean]
        > = [
          [{}, () => true],
          [{ sessionId: SESSION }, () => true],
          [{ sessionId: SESSION, parentId: parent }, (entry) => entry.parentId === parent],
          [{ userId: 'user_b' }, (entry) => entry.userId === 'user_b'],
          [{ toolSlug: 'TOOL_B' }, (entry) => entry.toolSlug === 'TOOL_B'],
          [{ sessionId: SESSION, toolSlug: 'TOOL_A' }, (entry) => entry.toolSlug === 'TOOL_A'],
        ];
        for (const [filter, predicate] of filters) {
          const all = expected(predicate);
          for (const limit of [1, 50, LOG_READ_ROWS, 2 * LOG_READ_ROWS - 1, 2 * LOG_READ_ROWS, 120, 1000]) {
            const pages: ExecutionLogRecord[][] = [];
            let cursor: string | undefined;
            do {
              const page = await store.listLogs({ ...filter, limit, cursor });
              pages.push(page.items);
              cursor = page.nextCursor;
              // a page is full, or the last one
              if (cursor !== undefined) expect(page.items).toHaveLength(limit);
              if (cursor !== undefined) expect(cursor).toBe(page.items.at(-1)!.id);
            } while (cursor !== undefined);
            expect(pages.flat(), `${JSON.stringify(filter)} limit ${limit}`).toEqual(all);
            expect(pages.length).toBe(Math.max(1, Math.ceil(all.length / limit)));
          }
        }
      });
    });
  });
}
