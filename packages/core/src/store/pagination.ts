import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import { ID_PATTERN } from '../util/ids.js';
import { validateLimit } from '../util/pagination.js';
import type { Dialect } from './migrations.js';
import type { Page } from './types.js';

/** The largest page a list query may ask for. */
export const MAX_PAGE_LIMIT = 1000;

/**
 * At most this many entries of the execution log are read by one statement: a page of the default
 * 50 and the row that tells whether a next page exists, so such a page is one statement as before.
 * A larger page is read in statements of this many rows, each continuing after the last id the one
 * before read (as the next page would), with the event loop free between them: an entry holds up to
 * three texts of 8192 characters (what a remote client may upload), and a page of 1000 such entries
 * read by one statement held every other request for its whole 24 MB or more (38–168 ms; ~235 ms
 * for text outside ASCII, which is decoded from UTF-8 at ~300 MB/s). One statement of this many rows
 * is at most ~3.7 MB of UTF-8.
 */
export const LOG_READ_ROWS = 51;

/**
 * A list query: filters (a value: equality; a list: any of its values; undefined or an empty list:
 * left out), a page size and the cursor.
 */
export interface PageQuery {
  filters: Record<string, string | readonly string[] | undefined>;
  limit: number;
  cursor: string | undefined;
}

/**
 * Rejects a `limit` outside 1..1000 and a cursor that is not an id with `idPrefix` (the cursor is the
 * id of the last item of the previous page, so `id < cursor` continues where that page stopped).
 */
export function assertPageQuery(
  { limit, cursor }: Pick<PageQuery, 'limit' | 'cursor'>,
  idPrefix: string,
): void {
  validateLimit(limit, MAX_PAGE_LIMIT);
  if (cursor === undefined) return;
  if (typeof cursor !== 'string' || !cursor.startsWith(`${idPrefix}_`) || !ID_PATTERN.test(cursor)) {
    const shown = JSON.stringify(String(cursor).slice(0, 100));
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `Malformed cursor ${shown}: pass the ${apiRef('nextCursor')} of a previous page, or no cursor for the first page.`,
    });
  }
}

/**
 * The `WHERE … ORDER BY id DESC LIMIT …` tail of a list query and its parameters. It asks for one row
 * more than `limit`: that row only tells {@link toPage} whether a next page exists.
 */
export function pageClause(
  dialect: Dialect,
  { filters, limit, cursor }: PageQuery,
): { sql: string; params: Array<string | number> } {
  const params: Array<string | number> = [];
  const placeholder = (value: string | number): string => {
    params.push(value);
    return dialect === 'sqlite' ? '?' : `$${params.length}`;
  };
  const conditions: string[] = [];
  for (const [column, value] of Object.entries(filters)) {
    if (value === undefined) continue;
    if (typeof value === 'string') conditions.push(`${column} = ${placeholder(value)}`);
    else if (value.length > 0)
      conditions.push(`${column} IN (${value.map((item) => placeholder(item)).join(', ')})`);
  }
  if (cursor !== undefined) conditions.push(`id < ${placeholder(cursor)}`);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')} ` : '';
  return { sql: `${where}ORDER BY id DESC LIMIT ${limitOf(dialect, limit + 1, placeholder)}`, params };
}

/**
 * A query's LIMIT. On SQLite it is written into the text ({@link sqliteLimit}); PostgreSQL binds it.
 */
function limitOf(dialect: Dialect, rows: number, placeholder: (value: number) => string): string {
  return dialect === 'postgres' ? placeholder(rows) : sqliteLimit(rows);
}

/**
 * A LIMIT for SQLite's text, a whole number checked here. SQLite's query planner reads a bound
 * LIMIT's value, so binding another value to a prepared statement's LIMIT marks it expired, and
 * every run of it prepared it again (about 15 µs of a log page's 100). Such statements are kept by
 * text (a few per limit in use, see `SqliteStore`).
 */
export function sqliteLimit(rows: number): string {
  if (!Number.isSafeInteger(rows) || rows < 0) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `A limit must be a whole number of rows, got ${String(rows)}.`,
    });
  }
  return String(rows);
}

/** Cuts the `limit + 1` rows of a {@link pageClause} query into a page. */
export function toPage<T extends { id: string }>(items: T[], limit: number): Page<T> {
  if (items.length <= limit) return { items, nextCursor: undefined };
  const page = items.slice(0, limit);
  return { items: page, nextCursor: page[page.length - 1]!.id };
}
