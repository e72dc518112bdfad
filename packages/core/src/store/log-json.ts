import { isoTime } from '../util/iso-time.js';

/**
 * Pages of the execution log written as JSON by the database (`Store.listLogsJson`): the REST API
 * answers a page of a log with the entries' JSON as the database wrote it, so this process makes no
 * object per entry and per column and does not write the page again. Its shape is the API's
 * `ExecutionLog` (whose keys are the log table's column names), checked against the object path by
 * store/log-json.test.ts and by the server's tests.
 */

/** The keys of an entry's JSON, in order: the log table's columns, `created_at` as ISO 8601 text in UTC with milliseconds (`toISOString`). */
export const LOG_JSON_KEYS = [
  'id',
  'session_id',
  'user_id',
  'tool_slug',
  'toolkit',
  'connected_account_id',
  'call_id',
  'status',
  'error_code',
  'error_message',
  'duration_ms',
  'input',
  'output',
  'created_at',
  'parent_id',
] as const;

/**
 * Pages of at most this many entries are written as JSON; a larger page is read as entries (it
 * is then written a slice at a time, with the event loop free in between).
 */
export const LOG_JSON_MAX_LIMIT = 100;

/**
 * An entry whose payload (input, output and error message) holds more UTF-8 bytes than this is not
 * written as JSON by the database: its page is read as entries instead (the engine cuts input and
 * output to 4 KB each, so its entries are written unless their text is far from ASCII). So a page the database
 * writes is at most {@link LOG_JSON_MAX_LIMIT} entries of a few KB, well under a millisecond of work
 * in any one turn of the event loop, however large the entries of a log.
 */
export const LOG_JSON_MAX_PAYLOAD_BYTES = 16_384;

/** A page of a log as JSON: the same entries and cursor as `listLogs` answers for the same query. */
export interface LogPageJson {
  /** The text of a JSON array of entries, newest first (keys {@link LOG_JSON_KEYS}). */
  items: string;
  /** How many entries `items` holds. */
  count: number;
  /** Pass as `cursor` to get the next page; `undefined` when there is none. */
  nextCursor: string | undefined;
}

/** Where an entry's JSON begins: its id comes first. */
const ID_PREFIX = '{"id":"';
/** An id as an entry's JSON holds it: ids are made of these (no character JSON would escape). */
const PLAIN_ID = /^[A-Za-z0-9_-]+$/;
/** The time's key, as the database writes it before the last one. */
const TIME_KEY = ',"created_at":';
const LAST_KEY = ',"parent_id":';

/**
 * A page from the JSON texts of up to `limit + 1` entries, newest first (the one after the page tells
 * that a next page exists, as for `toPage`), each with `created_at` as the number the database
 * writes, which `milliseconds` reads (the time is written here, as `Date.prototype.toISOString`
 * writes it: formatting it costs a database several times more). Undefined when an entry is empty or
 * an id is not plain: the page is then read as entries. The database writes '' for an entry it
 * cannot write exactly as `JSON.stringify` writes the API's entry: a payload over
 * {@link LOG_JSON_MAX_PAYLOAD_BYTES}, or a `duration_ms` outside 0.0001–10^15 ms (where JavaScript
 * and the database write numbers alike) or whose shortest digits the database does not write.
 */
export function logJsonPage(
  entries: readonly string[],
  limit: number,
  milliseconds: (text: string) => number,
): LogPageJson | undefined {
  // every entry, the one after the page too: '' sorts last (see `entriesOf`), wherever it was
  if (entries.includes('')) return undefined;
  const count = Math.min(entries.length, limit);
  let items = '[';
  for (let index = 0; index < count; index++) {
    const entry = entries[index]!;
    // the last keys are the time and the parent: a value cannot hold `,"created_at":` (a quote in a
    // string is escaped), so the last one is the key
    const at = entry.lastIndexOf(TIME_KEY);
    const end = entry.indexOf(LAST_KEY, at);
    if (at < 0 || end < 0) return undefined;
    const time = isoTime(new Date(milliseconds(entry.slice(at + TIME_KEY.length, end))));
    items += `${index === 0 ? '' : ','}${entry.slice(0, at + TIME_KEY.length)}"${time}"${entry.slice(end)}`;
  }
  items += ']';
  if (entries.length <= limit) return { items, count, nextCursor: undefined };
  const last = entries[count - 1]!;
  const end = last.indexOf('"', ID_PREFIX.length);
  const id = last.startsWith(ID_PREFIX) && end > 0 ? last.slice(ID_PREFIX.length, end) : '';
  return PLAIN_ID.test(id) ? { items, count, nextCursor: id } : undefined;
}
