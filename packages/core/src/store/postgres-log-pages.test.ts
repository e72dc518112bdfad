import { describe, expect, it } from 'vitest';
import { logRecord } from '../test/log-records.js';
import { postgresSkipReason, withTestDatabase } from '../test/postgres.js';
import { newId } from '../util/ids.js';
import { epochMilliseconds } from './postgres.js';
import type { ExecutionLogRecord, Store } from './types.js';

/**
 * The pages of a session's log are read with each entry's columns packed into one text (one column
 * per row for `pg` to decode instead of 15), alone or several pages per statement. What comes out
 * must be exactly what the columns read one by one give: null apart from '', every character, every
 * double, every millisecond; an entry whose text holds the separator is read unpacked.
 */
const skipPostgres = await postgresSkipReason();

const SESSION = `ses_${'4'.repeat(38)}`;
const OTHER = `ses_${'5'.repeat(38)}`;

/** Entries with the values that packing could get wrong, oldest first. */
function awkwardEntries(sessionId: string): ExecutionLogRecord[] {
  const text = 'quote " backslash \\ newline \n tab \t cr \r bell \u0007 del \u007f ls \u2028 é 😀 ∑';
  const changes: Array<Partial<ExecutionLogRecord>> = [
    {},
    { connectedAccountId: '', callId: '', errorCode: '', errorMessage: '', parentId: null },
    { connectedAccountId: 'ca_1', callId: 'call_!', errorCode: '!', errorMessage: '!!', status: 'error' },
    { durationMs: 0.1 + 0.2 },
    { durationMs: 1e-7 },
    { durationMs: 1e21 },
    { durationMs: 5e-324 },
    { durationMs: Number.MAX_VALUE },
    { durationMs: -0 }, // written as 0
    { durationMs: 123456789.12345679 },
    { input: text, output: text.repeat(100), errorMessage: text, userId: 'usér 😀' },
    { createdAt: new Date('2026-12-02T10:11:03.954Z') },
    { createdAt: new Date('1969-12-31T23:59:59.999Z') },
    { createdAt: new Date('0999-01-01T00:00:00.001Z') },
    { createdAt: new Date('9999-12-31T23:59:59.999Z') },
    { toolSlug: 'ECHO_ECHO', toolkit: '', input: '', output: '' },
  ];
  return changes.map((change, index) =>
    logRecord({
      id: `log_${String(index).padStart(38, '0')}`,
      sessionId,
      durationMs: 1.25,
      ...change,
      parentId:
        index > 0 && change.parentId === undefined ? `log_${String(index - 1).padStart(38, '0')}` : null,
    }),
  );
}

/** The session's whole log as the unpacked path reads it (a user filter reads the columns one by one). */
async function readUnpacked(
  store: Store,
  sessionId: string,
  userIds: string[],
): Promise<ExecutionLogRecord[]> {
  const entries: ExecutionLogRecord[] = [];
  for (const userId of new Set(userIds)) {
    entries.push(...(await store.listLogs({ sessionId, userId, limit: 1000, cursor: undefined })).items);
  }
  return entries.sort((a, b) => (a.id < b.id ? 1 : -1));
}

describe.skipIf(skipPostgres !== undefined)(`session log pages on PostgreSQL ${skipPostgres ?? ''}`, () => {
  it('read packed, alone or in a batch, give what the columns read one by one give', async () => {
    await withTestDatabase(async (database) => {
      await database.store.migrate();
      const store = database.store;
      const written = awkwardEntries(SESSION);
      const entries = [...written, ...awkwardEntries(OTHER).map((entry) => ({ ...entry, id: newId('log') }))];
      await store.insertLogs(entries);
      const userIds = entries.map((entry) => entry.userId);
      const expected = await readUnpacked(store, SESSION, userIds);
      expect(expected).toHaveLength(16);
      // what was written (the database keeps a double and a millisecond exactly)
      expect(expected).toEqual(
        [...written].reverse().map((entry) => ({ ...entry, durationMs: entry.durationMs || 0 })),
      );

      // alone: one page, then pages of 5 after each cursor
      expect((await store.listLogs({ sessionId: SESSION, limit: 1000, cursor: undefined })).items).toEqual(
        expected,
      );
      const paged: ExecutionLogRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listLogs({ sessionId: SESSION, limit: 5, cursor });
        paged.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      expect(paged).toEqual(expected);

      // together: one statement for the pages asked for in one turn
      const [mine, other, parent] = await Promise.all([
        store.listLogs({ sessionId: SESSION, limit: 1000, cursor: undefined }),
        store.listLogs({ sessionId: OTHER, limit: 1000, cursor: undefined }),
        store.listLogs({ sessionId: SESSION, parentId: expected[3]!.id, limit: 10, cursor: undefined }),
      ]);
      expect(mine.items).toEqual(expected);
      expect(other.items).toEqual(await readUnpacked(store, OTHER, userIds));
      expect(parent.items).toEqual(expected.filter((entry) => entry.parentId === expected[3]!.id));
    });
  });

  it('reads a page whose entry holds the separator unpacked, the same', async () => {
    await withTestDatabase(async (database) => {
      await database.store.migrate();
      const store = database.store;
      const entries = [
        logRecord({
          id: `log_${'0'.repeat(37)}1`,
          sessionId: SESSION,
          errorMessage: 'unit \u001f separator',
        }),
        logRecord({
          id: `log_${'0'.repeat(37)}2`,
          sessionId: SESSION,
          input: '{"a":"\\u001f"}',
          errorMessage: '\u001f',
        }),
        logRecord({ id: `log_${'0'.repeat(37)}3`, sessionId: OTHER, errorMessage: null }),
      ];
      await store.insertLogs(entries);
      const page = await store.listLogs({ sessionId: SESSION, limit: 10, cursor: undefined });
      expect(page.items).toEqual([entries[1], entries[0]]);
      const [mine, other] = await Promise.all([
        store.listLogs({ sessionId: SESSION, limit: 1, cursor: undefined }),
        store.listLogs({ sessionId: OTHER, limit: 10, cursor: undefined }),
      ]);
      expect(mine).toEqual({ items: [entries[1]], nextCursor: entries[1]!.id });
      expect(other.items).toEqual([entries[2]]);
    });
  });
  it('reads entries whose values begin or end with the separator, or are empty, as written', async () => {
    await withTestDatabase(async (database) => {
      await database.store.migrate();
      const store = database.store;
      // the separator next to the separators that surround a value, in the first and last text
      // columns an entry may hold it in, and the values an unpacker's offsets could get wrong
      const changes: Array<Partial<ExecutionLogRecord>> = [
        { input: '\u001f{}' },
        { output: '{}\u001f' },
        { errorMessage: '\u001f\u001f' },
        { input: '', output: '', errorMessage: '' },
        { errorMessage: null, parentId: null, callId: '!', connectedAccountId: '!x' },
        // the separator between the entries of a page's text, at the same places
        { input: '\u001e{}' },
        { output: '{}\u001e' },
        { errorMessage: '\u001e\u001e', callId: '\u001e' },
        { errorMessage: '\u001e\u001f\u001e' },
        { errorMessage: null },
      ];
      const entries = changes.map((change, index) =>
        logRecord({ id: `log_${String(index + 1).padStart(38, '0')}`, sessionId: SESSION, ...change }),
      );
      await store.insertLogs(entries);
      const newestFirst = [...entries].reverse();
      expect((await store.listLogs({ sessionId: SESSION, limit: 10, cursor: undefined })).items).toEqual(
        newestFirst,
      );
      // a page of the newest (its extra row the next one: neither holds the separator) is read
      // packed, alone and in a batch; the page after it reads an entry with the separator, unpacked
      const [newest, next] = newestFirst;
      const alone = await store.listLogs({ sessionId: SESSION, limit: 1, cursor: undefined });
      expect(alone).toEqual({ items: [newest], nextCursor: newest!.id });
      const batch = await Promise.all([
        store.listLogs({ sessionId: SESSION, limit: 1, cursor: undefined }),
        store.listLogs({ sessionId: SESSION, limit: 1, cursor: newest!.id }),
        store.listLogs({ sessionId: OTHER, limit: 1, cursor: undefined }),
      ]);
      expect(batch).toEqual([
        alone,
        { items: [next], nextCursor: next!.id },
        { items: [], nextCursor: undefined },
      ]);
    });
  });

  it('come as one row per page, alone and in a batch, an empty page included', async () => {
    await withTestDatabase(async (database) => {
      await database.store.migrate();
      const store = database.store;
      const entries = [
        ...awkwardEntries(SESSION),
        ...awkwardEntries(OTHER).map((entry) => ({ ...entry, id: newId('log') })),
      ];
      await store.insertLogs(entries);
      // what pg hands the store for each statement that reads the log
      const answers: Array<{ text: string; rows: number }> = [];
      const pool = (store as unknown as { pool: { query: (config: any) => Promise<{ rows: unknown[] }> } })
        .pool;
      const query = pool.query.bind(pool);
      pool.query = async (config) => {
        const result = await query(config);
        if (typeof config === 'object' && /FROM toolmux_execution_logs/.test(config.text))
          answers.push({ text: config.text, rows: result.rows.length });
        return result;
      };
      const alone = await store.listLogs({ sessionId: SESSION, limit: 10, cursor: undefined });
      expect(alone.items).toHaveLength(10);
      const together = await Promise.all([
        store.listLogs({ sessionId: SESSION, limit: 100, cursor: undefined }),
        store.listLogs({ sessionId: OTHER, limit: 3, cursor: undefined }),
        store.listLogs({ sessionId: `ses_${'6'.repeat(38)}`, limit: 10, cursor: undefined }),
      ]);
      expect(together.map((page) => page.items.length)).toEqual([16, 3, 0]);
      expect(together[0]!.items.map((entry) => entry.id)).toEqual(
        entries
          .filter((entry) => entry.sessionId === SESSION)
          .map((entry) => entry.id)
          .reverse(),
      );
      // 11 entries in one row; then 16, 4 and none in one row each
      expect(answers.map((answer) => answer.rows)).toEqual([1, 3]);
    });
  });

  it('read a time written in microseconds as pg parses it: rounded down to the millisecond', async () => {
    await withTestDatabase(async (database) => {
      await database.store.migrate();
      const store = database.store;
      // times another writer (SQL, an older toolmux) may have stored, with the digits a rounding
      // or a double could get wrong: .0005 and .9995 of a millisecond, before 1970, far ahead
      const times = [
        '2026-12-02 10:11:03.954999+00',
        '2026-12-02 10:11:03.955+00',
        '2026-12-02 10:11:03.0005+00',
        '2026-12-02 10:11:03+00',
        '2026-12-02 10:11:03.123+00',
        '1970-01-01 00:00:00+00',
        '1969-12-31 23:59:59.9995+00',
        '1969-12-31 23:59:59.999+00',
        '1969-12-31 23:59:59.000001+00',
        '0999-01-01 00:00:00.0015+00',
        '9999-12-31 23:59:59.999999+00',
        '275760-09-13 00:00:00+00',
      ];
      for (const [index, time] of times.entries()) {
        await database.query(
          'INSERT INTO toolmux_execution_logs (id, session_id, user_id, tool_slug, toolkit, status, duration_ms, input, output, created_at) ' +
            "VALUES ($1, $2, 'user_1', 'ECHO_ECHO', 'echo', 'success', 1, '{}', '{}', $3)",
          [`log_${String(index).padStart(38, '0')}`, SESSION, time],
        );
      }
      // pg's own reading of the column (a Date from its text), newest id first
      const parsed = await database.query<{ id: string; created_at: Date }>(
        'SELECT id, created_at FROM toolmux_execution_logs ORDER BY id DESC',
      );
      const expected = parsed.map((row) => [row.id, row.created_at.getTime()]);
      expect(expected.every(([, time]) => Number.isInteger(time))).toBe(true);
      const packed = await store.listLogs({ sessionId: SESSION, limit: 100, cursor: undefined });
      const [batched] = await Promise.all([
        store.listLogs({ sessionId: SESSION, limit: 100, cursor: undefined }),
        store.listLogs({ sessionId: OTHER, limit: 100, cursor: undefined }),
      ]);
      const unpacked = await store.listLogs({
        sessionId: SESSION,
        userId: 'user_1',
        limit: 100,
        cursor: undefined,
      });
      const one = await store.getLog(`log_${'0'.repeat(37)}6`);
      for (const page of [packed, batched!, unpacked]) {
        expect(page.items.map((entry) => [entry.id, entry.createdAt.getTime()])).toEqual(expected);
      }
      expect(one?.createdAt.getTime()).toBe(expected.find(([id]) => id === one?.id)?.[1]);
    });
  });
});

describe('epochMilliseconds', () => {
  it('reads the seconds PostgreSQL writes (numeric, or a double before PostgreSQL 14) rounded down to the millisecond', () => {
    // what floor(seconds * 1000) is in exact decimal arithmetic, for texts of every form
    const exact = (text: string) => {
      const [whole, fraction = ''] = text.replace('-', '').split('.');
      const milliseconds = BigInt(whole!) * 1000n + BigInt(fraction.slice(0, 3).padEnd(3, '0'));
      const more = /[1-9]/.test(fraction.slice(3));
      return Number(text.startsWith('-') ? -milliseconds - (more ? 1n : 0n) : milliseconds);
    };
    const texts = [
      '0.000000',
      '1764633600.123456',
      '1764633600.123000',
      '1764633600.999999',
      '1764633600.001',
      '1764633600.5',
      '1764633600',
      '-0.000500',
      '-1.000000',
      '-1.0005',
      '-30641759999.998500',
      '253402300799.999999',
      '8640000000000.000000',
      '-8640000000000.000000',
    ];
    // and every millisecond of a second, with and without microseconds after it
    for (let millisecond = 0; millisecond < 1000; millisecond++) {
      const digits = String(millisecond).padStart(3, '0');
      texts.push(
        `1764633600.${digits}000`,
        `1764633600.${digits}999`,
        `-1764633600.${digits}000`,
        `-1.${digits}001`,
      );
    }
    for (const text of texts) expect([text, epochMilliseconds(text)]).toEqual([text, exact(text)]);
    // a double pg parsed, and forms with an exponent
    expect(epochMilliseconds(1764633600.123)).toBe(1764633600123);
    expect(epochMilliseconds('1e+15')).toBe(1e18);
    expect(Number.isNaN(epochMilliseconds('NaN'))).toBe(true);
    expect(epochMilliseconds('Infinity')).toBe(Number.POSITIVE_INFINITY);
  });
});
