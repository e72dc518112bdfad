import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedLogInsert } from '../test/log-records.js';
import { SqliteStore, TOOL_SCAN_WINDOW } from './sqlite.js';
import type { ExecutionLogRecord, ListLogsQuery } from './types.js';

/**
 * The log filtered by tool on SQLite (`GET /logs?tool_slug=…`, alone or beside a session or a
 * user): alone, a walk of the tool's index, beside a user of the user's and the tool's (migration
 * 22); beside a session, the store reads the session's entries a window at a time and lets the event
 * loop run between windows. Pages
 * must be what one query would give — newest first, complete, across window edges — and no turn of
 * the event loop may hold the walk.
 */

const ROWS = 12_345;
const SESSIONS = 7;
const USERS = 3;
/** The rare tool's entries: at window edges, in runs, at both ends of the table. */
const RARE = new Set([1, 2, 999, 1000, 1001, 2000, 5000, 5001, 5002, 5003, 9999, 12_344, 12_345]);
const sessionOf = (g: number) => `ses_${String(g % SESSIONS).padStart(38, '0')}`;
const userOf = (g: number) => `user_${g % USERS}`;
const idOf = (g: number) => `log_${g.toString(16).padStart(38, '0')}`;

const dir = mkdtempSync(join(tmpdir(), 'toolmux-tool-filter-'));
const store = new SqliteStore({ path: join(dir, 'logs.db') });

beforeAll(async () => {
  await store.migrate();
  const database = new DatabaseSync(join(dir, 'logs.db'));
  try {
    database.exec(
      generatedLogInsert('sqlite', {
        rows: ROWS,
        sessions: SESSIONS,
        users: USERS,
        toolSlug: `CASE WHEN g IN (${[...RARE].join(', ')}) THEN 'RARE_TOOL' ELSE 'ECHO_ECHO' END`,
      }),
    );
  } finally {
    database.close();
  }
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every entry of a query, page by page. */
async function everyPage(query: Omit<ListLogsQuery, 'cursor'>): Promise<ExecutionLogRecord[][]> {
  const pages: ExecutionLogRecord[][] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listLogs({ ...query, cursor });
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return pages;
}

/** The ids a filter selects, newest first, computed here. */
function expected(keep: (g: number) => boolean): string[] {
  const ids: string[] = [];
  for (let g = ROWS; g >= 1; g--) if (keep(g)) ids.push(idOf(g));
  return ids;
}

describe('the log filtered by tool on SQLite', () => {
  it.each([
    { name: 'alone', query: {}, keep: () => true },
    { name: 'beside a session', query: { sessionId: sessionOf(5) }, keep: (g: number) => g % SESSIONS === 5 },
    { name: 'beside a user', query: { userId: userOf(1) }, keep: (g: number) => g % USERS === 1 },
  ])('$name: full pages, newest first, across window edges', async ({ query, keep }) => {
    expect(ROWS).toBeGreaterThan(10 * TOOL_SCAN_WINDOW);
    for (const limit of [1, 3, 50]) {
      const pages = await everyPage({ ...query, toolSlug: 'RARE_TOOL', limit });
      const ids = expected((g) => RARE.has(g) && keep(g));
      expect(pages.flat().map((entry) => entry.id)).toEqual(ids);
      // every page but the last is full: the windows are not the pages
      expect(pages.slice(0, -1).every((page) => page.length === limit)).toBe(true);
      expect(pages.flat().every((entry) => entry.toolSlug === 'RARE_TOOL')).toBe(true);
    }
    // the common tool: the first page comes from the first window
    const common = await store.listLogs({ ...query, toolSlug: 'ECHO_ECHO', limit: 20 });
    expect(common.items.map((entry) => entry.id)).toEqual(
      expected((g) => !RARE.has(g) && keep(g)).slice(0, 20),
    );
    expect(await store.listLogs({ ...query, toolSlug: 'NEVER_CALLED', limit: 20 })).toEqual({
      items: [],
      nextCursor: undefined,
    });
  });

  it('lets the event loop run while it walks a session for a tool it never called', async () => {
    let turns = 0;
    let done = false;
    const tick = () => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const page = await store.listLogs({ sessionId: sessionOf(5), toolSlug: 'NEVER_CALLED', limit: 50 });
    done = true;
    expect(page.items).toHaveLength(0);
    // one window per turn: the walk of the session's 1,764 entries gave the event loop a turn between
    // its two windows (a user's entries of a tool are read by an index of both, with no walk)
    expect(turns).toBeGreaterThanOrEqual(Math.floor(ROWS / SESSIONS / TOOL_SCAN_WINDOW));
  });
});
