import { describe, expect, it } from 'vitest';
import { generatedLogInsert, withSqliteLogFile } from '../test/log-records.js';

/**
 * SQLite: a page of the log filtered by user and tool (`GET /logs?user_id=…&tool_slug=…`,
 * `mux.logs.list({ userId, toolSlug })`) reads the user's entries of the tool by one index (migration
 * 22's `(user_id, tool_slug, id)`), newest first, in one statement: no more entries than the page.
 * It walked the tool's index and checked each entry's user, a window at a time: a user who rarely
 * or never calls a common tool had a page read all that tool's entries (bench/log-user-tool.bench.ts:
 * 31× the time at 200,000 entries as at 10,000). Checked on the query plans, no timing.
 */

const ROWS = 20_000;
/** user_2 calls OTHER_TOOL only, user_3 RARE_TOOL on 2 of its 2,000 entries, the others ECHO_ECHO. */
const TOOL_SLUG =
  "CASE WHEN g % 10 = 2 THEN 'OTHER_TOOL' WHEN g % 10 = 3 AND g % 10000 = 3 THEN 'RARE_TOOL' ELSE 'ECHO_ECHO' END";
const SHAPES = [
  { name: 'a common tool the user never calls', userId: 'user_2', toolSlug: 'ECHO_ECHO', entries: 0 },
  { name: 'a tool the user rarely calls', userId: 'user_3', toolSlug: 'RARE_TOOL', entries: 2 },
  { name: 'a common tool the user calls', userId: 'user_4', toolSlug: 'ECHO_ECHO', entries: 2_000 },
  { name: 'a tool no one calls', userId: 'user_4', toolSlug: 'NEVER_CALLED', entries: 0 },
];

describe('the SQLite log of a user and a tool', () => {
  it('is read by the user-and-tool index, newest first, one statement a page', async () => {
    await withSqliteLogFile(async ({ store, database, sent, plan }) => {
      database.exec(
        generatedLogInsert('sqlite', { rows: ROWS, sessions: 100, users: 10, toolSlug: TOOL_SLUG }),
      );
      // with statistics too: the store names the index, whatever SQLite would guess
      for (const analyzed of [false, true]) {
        if (analyzed) database.exec('ANALYZE');
        for (const { name, userId, toolSlug, entries } of SHAPES) {
          const expected = (
            database
              .prepare(
                'SELECT id FROM toolmux_execution_logs WHERE user_id = ? AND tool_slug = ? ORDER BY id DESC LIMIT 100',
              )
              .all(userId, toolSlug) as Array<{ id: string }>
          ).map((row) => row.id);
          expect(expected, name).toHaveLength(Math.min(entries, 100));
          let cursor: string | undefined;
          const read: string[] = [];
          // two pages: the second after a cursor
          for (let turn = 0; turn < 2; turn++) {
            sent.length = 0;
            const page = await store.listLogs({ userId, toolSlug, limit: 50, cursor });
            read.push(...page.items.map((entry) => entry.id));
            const context = `${name}${analyzed ? ' (analyzed)' : ''}, page ${turn + 1}: ${sent.join('\n')}`;
            expect(sent, context).toHaveLength(1);
            const details = plan(sent[0]!, ...(sent[0]!.match(/\?/g) ?? []).map(() => userId));
            expect(details, `${context}\n${details.join('\n')}`).toEqual([
              expect.stringMatching(
                /^SEARCH toolmux_execution_logs USING INDEX toolmux_execution_logs_user_tool_id \(user_id=\? AND tool_slug=\?( AND id<\?)?\)$/,
              ),
            ]);
            if (page.nextCursor === undefined) break;
            cursor = page.nextCursor;
          }
          expect(read, name).toEqual(expected);
        }
      }
    });
  });
});
