import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestPostgresStore, postgresSkipReason } from '../test/postgres.js';
import { type LOG_JSON_KEYS, LOG_JSON_MAX_LIMIT, logJsonPage } from './log-json.js';
import { SqliteStore } from './sqlite.js';
import type { ExecutionLogRecord, Store } from './types.js';

/**
 * `Store.listLogsJson`: a page of the log as the database writes its JSON must be, byte for byte, the
 * page `listLogs` answers as `JSON.stringify` writes the API's entries, with the same cursor. When
 * the database cannot write an entry so (a large payload, a time or a number JavaScript writes
 * otherwise), the page is undefined and the server reads it with `listLogs`; an ordinary page is
 * always written by the database.
 */

/** The REST API's entry (`ExecutionLog` in the server's OpenAPI document), as `JSON.stringify` writes it. */
function wire(log: ExecutionLogRecord): Record<(typeof LOG_JSON_KEYS)[number], unknown> {
  return {
    id: log.id,
    session_id: log.sessionId,
    user_id: log.userId,
    tool_slug: log.toolSlug,
    toolkit: log.toolkit,
    connected_account_id: log.connectedAccountId,
    call_id: log.callId,
    status: log.status,
    error_code: log.errorCode,
    error_message: log.errorMessage,
    duration_ms: log.durationMs,
    input: log.input,
    output: log.output,
    created_at: log.createdAt.toISOString(),
    parent_id: log.parentId ?? null,
  };
}

const SESSIONS = ['ses_json_a', 'ses_json_b'];
/** Entry `index` of property run `run`: ids as the engine makes them (38 characters after `log_`), ascending. */
const idOf = (run: number, index: number) =>
  `log_${run.toString(36).padStart(8, '0')}${index.toString(36).padStart(30, '0')}`;
const tricky = fc.constantFrom(
  '"',
  '\\',
  '\u2028',
  '\u007f',
  '\u0007',
  '\n',
  '\t',
  'é',
  '😀',
  '</script>',
  '\ud800',
  '\u0000',
);
const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), tricky, fc.string({ maxLength: 10 }));
/** Durations: the engine's (whole microseconds), and any double a client or another writer could store. */
const duration = fc.oneof(
  fc.integer({ min: 0, max: 10_000_000 }).map((micros) => micros / 1000),
  fc.double({ min: 0, max: 1e16, noNaN: true }),
  fc.constantFrom(0, -0, 1e-7, 1e-4, 0.1 + 0.2, 1e15, 1e21, 926344359297.791, 2.390564512419391),
);
/** Times: now-ish, any time from 1970 to 9999, and before 1970 (as far back as the year 1). */
const time = fc.oneof(
  fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }),
  fc.integer({ min: 0, max: 253_402_300_799_999 }),
  fc.constantFrom(-1, -62_135_596_800_000, -30_000_000_000_000, -1_000_000_000_000),
);
const entry = fc.record({
  session: fc.constantFrom(...SESSIONS),
  userId: fc.constantFrom('user_a', 'user_b'),
  connectedAccountId: fc.option(text),
  callId: fc.option(text),
  error: fc.option(fc.record({ code: text, message: text })),
  durationMs: duration,
  input: fc.oneof(text, fc.constant('{"text":"hello"}'), fc.constant('x'.repeat(17_000))),
  output: fc.oneof(text, fc.constant('{"ok":true}')),
  createdAt: time,
  hasParent: fc.boolean(),
});

/** Whether the engine could have written this entry: a duration in whole µs under 10^9 ms, small payloads (any time). */
function ordinary(log: ExecutionLogRecord): boolean {
  const payload =
    Buffer.byteLength(log.input) + Buffer.byteLength(log.output) + Buffer.byteLength(log.errorMessage ?? '');
  return payload <= 16_384 && Number.isInteger(log.durationMs * 1000) && log.durationMs < 1e9;
}

interface Backend {
  name: string;
  skip?: string;
  open(): Promise<{ store: Store; cleanup(): Promise<void>; sql?(text: string): Promise<unknown> }>;
}

const directory = mkdtempSync(join(tmpdir(), 'toolmux-log-json-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const backends: Backend[] = [
  {
    name: 'SQLite',
    async open() {
      const store = new SqliteStore({ path: join(directory, `log-json-${files++}.db`) });
      await store.migrate();
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: 'PostgreSQL',
    skip: await postgresSkipReason(),
    async open() {
      const database = await createTestPostgresStore();
      await database.store.migrate();
      return {
        store: database.store,
        cleanup: () => database.cleanup(),
        sql: (text) => database.query(text),
      };
    },
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`listLogsJson on ${backend.name}`, () => {
    it('writes the page listLogs answers, byte for byte, and every ordinary page', async () => {
      const { store, cleanup } = await backend.open();
      let next = 0;
      let written = 0;
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.array(entry, { minLength: 0, maxLength: 40 }),
            fc.constantFrom(1, 3, 7, 50, LOG_JSON_MAX_LIMIT),
            async (drawn, limit) => {
              const run = next++;
              const sessionIds = SESSIONS.map((session) => `${session}_${run}`);
              const records: ExecutionLogRecord[] = drawn.map((draw, index) => ({
                id: idOf(run, index),
                sessionId: `${draw.session}_${run}`,
                userId: draw.userId,
                toolSlug: 'ECHO_ECHO',
                toolkit: 'echo',
                connectedAccountId: draw.connectedAccountId,
                callId: draw.callId,
                status: draw.error ? 'error' : 'success',
                errorCode: draw.error?.code ?? null,
                errorMessage: draw.error?.message ?? null,
                durationMs: draw.durationMs,
                input: draw.input,
                output: draw.output,
                createdAt: new Date(draw.createdAt),
                parentId: draw.hasParent && index > 0 ? idOf(run, index - 1) : null,
              }));
              if (records.length > 0) await store.insertLogs(records);
              for (const sessionId of sessionIds) {
                let cursor: string | undefined;
                do {
                  const query = { sessionId, limit, cursor };
                  const expected = await store.listLogs(query);
                  const page = await store.listLogsJson!(query);
                  if (page !== undefined) {
                    written++;
                    expect(page.items).toBe(JSON.stringify(expected.items.map(wire)));
                    expect(page.count).toBe(expected.items.length);
                    expect(page.nextCursor).toBe(expected.nextCursor);
                  } else {
                    // only a page with an entry the engine would not write is read as entries
                    const withNext = await store.listLogs({ ...query, limit: limit + 1 });
                    expect(withNext.items.every(ordinary)).toBe(false);
                  }
                  cursor = expected.nextCursor;
                } while (cursor !== undefined);
              }
            },
          ),
          { numRuns: 60 },
        );
        // the property saw pages of both kinds
        expect(written).toBeGreaterThan(10);
      } finally {
        await cleanup();
      }
    });

    it('reads a larger page, a tool’s entries and (on PostgreSQL) a user’s as entries', async () => {
      const { store, cleanup, sql } = await backend.open();
      try {
        await store.insertLogs(
          Array.from({ length: 3 }, (_, index) => ({
            id: idOf(999_999, index),
            sessionId: 'ses_plain',
            userId: 'user_plain',
            toolSlug: 'ECHO_ECHO',
            toolkit: 'echo',
            connectedAccountId: null,
            callId: null,
            status: 'success' as const,
            errorCode: null,
            errorMessage: null,
            durationMs: 1.25,
            input: '{}',
            output: '{}',
            createdAt: new Date(1_764_633_600_000 + index),
            parentId: null,
          })),
        );
        // a zero duration written with its sign by another writer (JSON carries no -0) is written without it
        await sql?.(`UPDATE toolmux_execution_logs SET duration_ms = '-0' WHERE id = '${idOf(999_999, 2)}'`);
        const page = await store.listLogsJson!({ sessionId: 'ses_plain', limit: 2 });
        expect(page?.items).toBe(
          JSON.stringify((await store.listLogs({ sessionId: 'ses_plain', limit: 2 })).items.map(wire)),
        );
        if (sql) expect(page?.items).toContain('"duration_ms":0,');
        expect(page?.count).toBe(2);
        expect(page?.nextCursor).toBe(idOf(999_999, 1));
        expect(
          await store.listLogsJson!({ sessionId: 'ses_plain', limit: LOG_JSON_MAX_LIMIT + 1 }),
        ).toBeUndefined();
        expect(
          await store.listLogsJson!({ sessionId: 'ses_plain', toolSlug: 'ECHO_ECHO', limit: 2 }),
        ).toBeUndefined();
        const byUser = await store.listLogsJson!({ userId: 'user_plain', limit: 2 });
        if (backend.name === 'PostgreSQL') expect(byUser).toBeUndefined();
        else
          expect(byUser?.items).toBe(
            (await store.listLogsJson!({ sessionId: 'ses_plain', limit: 2 }))?.items,
          );
      } finally {
        await cleanup();
      }
    });
  });
}

describe('logJsonPage', () => {
  const entryOf = (id: string, input = '{}', ms = 1_764_633_600_123) =>
    `{"id":"${id}","input":${JSON.stringify(input)},"created_at":${ms},"parent_id":null}`;
  const written = (id: string, input = '{}', ms = 1_764_633_600_123) =>
    JSON.stringify({ id, input, created_at: new Date(ms).toISOString(), parent_id: null });
  it('writes the times, cuts the entry after the page off and names the last one as the cursor', () => {
    expect(logJsonPage([entryOf('log_3'), entryOf('log_2', '{}', -1), entryOf('log_1')], 2, Number)).toEqual({
      items: `[${written('log_3')},${written('log_2', '{}', -1)}]`,
      count: 2,
      nextCursor: 'log_2',
    });
    expect(logJsonPage([], 5, Number)).toEqual({ items: '[]', count: 0, nextCursor: undefined });
  });
  it('finds the time after values that hold its key as text', () => {
    const input = '{"a":","created_at":1,"parent_id":2","created_at":3}';
    expect(logJsonPage([entryOf('log_1', input)], 5, Number)?.items).toBe(`[${written('log_1', input)}]`);
  });
  it('gives up on an entry the database did not write, wherever it is, and on an id that is not plain', () => {
    expect(logJsonPage([entryOf('log_2'), '', entryOf('log_1')], 5, Number)).toBeUndefined();
    // '' sorts last: it is the entry after the page
    expect(logJsonPage([entryOf('log_2'), ''], 1, Number)).toBeUndefined();
    expect(logJsonPage([entryOf('log "x'), entryOf('log_1')], 1, Number)).toBeUndefined();
    expect(
      logJsonPage(['{"other":1,"created_at":1,"parent_id":null}', entryOf('log_1')], 1, Number),
    ).toBeUndefined();
    expect(logJsonPage(['{"id":"log_1"}'], 1, Number)).toBeUndefined();
  });
});
