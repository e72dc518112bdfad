import type { QueryResultRow } from 'pg';
import { MAX_PAGE_LIMIT } from './pagination.js';

/** One page of one session's log, as `PostgresStore.listLogs` asks for it. */
export interface SessionLogPage {
  sessionId: string;
  /** Only the entries made by this call. */
  parentId: string | undefined;
  /** The id the page continues after (`id < cursor`); undefined for the first page. */
  cursor: string | undefined;
  /** Rows to read: the page's limit + 1 (the extra row tells whether a next page exists). */
  rows: number;
}

/** Runs one statement: a named one, prepared once per pooled connection. */
export type RunStatement = (name: string, text: string, values: unknown[]) => Promise<QueryResultRow[]>;

/**
 * `column` as a statement compares it where no index may serve it (text, as the column): beside a
 * parent the log is read by the parent index alone (a parent's calls are its session's), and the
 * other columns are checked on the parent's calls, as SQLite's unary `+` does (`SqliteStore`'s
 * logWalk). Left to itself PostgreSQL read both the parent's and the session's index as bitmaps and
 * sorted what they shared (its statistics do not tell a bitmap that a parent's calls are its
 * session's): the session's whole range of its index for a page.
 */
export function unindexed(column: string): string {
  return `(${column} || '')`;
}

/** At most this many rows are read by one statement (the largest single page's). */
export const MAX_BATCH_ROWS = MAX_PAGE_LIMIT + 1;

/**
 * Between the entries of a page read as one text: a control character that no id, slug or JSON
 * payload holds. An entry whose value holds it anyway splits into parts that do not unpack (each
 * holds fewer column separators than an entry), and its page is read unpacked.
 */
export const ENTRY_SEPARATOR = '\x1e';

interface Waiting {
  page: SessionLogPage;
  resolve(entries: string[]): void;
  reject(error: unknown): void;
}

/**
 * Reads pages of sessions' execution logs, several pages per statement, each page as one text.
 *
 * A page costs little in PostgreSQL (an index range scan of `(session_id, id)`, a parent's calls one
 * of `(parent_id, id)`) but a round trip costs the server a socket write that wakes the database and
 * a read of its answer; with many clients reading logs at once (a dashboard, 64 agents), those round
 * trips are most of the work. So the pages asked for in one turn of the event loop (the requests
 * that arrived together) are read by one statement: `unnest` turns the arrays of session ids,
 * cursors and limits into rows, and a `LATERAL` subquery reads each page with the same index scan as
 * a single page. A page asked for alone is read by the one-page statement, without waiting for
 * anything but the end of the turn.
 *
 * Each page comes back as one row: its entries (`columns`, one text each) joined by
 * {@link ENTRY_SEPARATOR} by `string_agg`, newest first. `pg` decodes a row at a time, each with its
 * message, field array, row object and text: for a page of 51 entries that was about as much of the
 * server's CPU as the database spent reading them; one row per page costs it a fraction of that
 * (`bench/logs.bench.ts`), and the database no more.
 *
 * A batch that fails is read again page by page, so a page the database refuses fails alone.
 */
export class SessionLogPageReader {
  /** Pages waiting for the end of this turn, by statement shape. */
  readonly #waiting = new Map<string, Waiting[]>();
  #scheduled = false;

  private readonly run: RunStatement;
  /** The text of an entry: an expression of the log's columns that begins with the id (entries sort by it). */
  private readonly columns: string;

  constructor(run: RunStatement, columns: string) {
    this.run = run;
    this.columns = columns;
  }

  /** The page's entries (at most `page.rows`), each the text of `columns`, newest first. */
  read(page: SessionLogPage): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const shape = `${page.cursor === undefined ? 'first' : 'after'}${page.parentId === undefined ? '' : '_parent'}`;
      let waiting = this.#waiting.get(shape);
      if (!waiting) {
        waiting = [];
        this.#waiting.set(shape, waiting);
      }
      waiting.push({ page, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // after the I/O callbacks of this turn: every request that arrived with this one has asked by then
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    for (const [shape, waiting] of this.#waiting) {
      this.#waiting.delete(shape);
      let batch: Waiting[] = [];
      let rows = 0;
      for (const item of waiting) {
        if (batch.length > 0 && rows + item.page.rows > MAX_BATCH_ROWS) {
          this.#send(shape, batch);
          batch = [];
          rows = 0;
        }
        batch.push(item);
        rows += item.page.rows;
      }
      this.#send(shape, batch);
    }
  }

  #send(shape: string, batch: Waiting[]): void {
    if (batch.length === 1) {
      const [{ page, resolve, reject }] = batch as [Waiting];
      this.#readOne(shape, page).then(resolve, reject);
      return;
    }
    this.#readBatch(shape, batch).then(
      (pages) => {
        for (const [index, { resolve }] of batch.entries()) resolve(pages[index]!);
      },
      () => {
        // one page the database refuses must not fail the others: each is read alone, and fails alone
        for (const { page, resolve, reject } of batch) this.#readOne(shape, page).then(resolve, reject);
      },
    );
  }

  /** The one-page statement: the page's entries as one text (null for none). */
  async #readOne(shape: string, page: SessionLogPage): Promise<string[]> {
    const values: unknown[] = [page.sessionId];
    const conditions = [`${page.parentId === undefined ? 'session_id' : unindexed('session_id')} = $1`];
    if (page.parentId !== undefined) {
      values.push(page.parentId);
      conditions.push(`parent_id = $${values.length}`);
    }
    if (page.cursor !== undefined) {
      values.push(page.cursor);
      conditions.push(`id < $${values.length}`);
    }
    values.push(page.rows);
    const [row] = await this.run(
      `toolmux_session_log_page_${shape}`,
      `SELECT string_agg(entry, E'\\x1e') AS entries FROM (SELECT ${this.columns} FROM toolmux_execution_logs ` +
        `WHERE ${conditions.join(' AND ')} ORDER BY id DESC LIMIT $${values.length}) page`,
      values,
    );
    return entriesOf(row?.entries ?? null);
  }

  async #readBatch(shape: string, batch: Waiting[]): Promise<string[][]> {
    const after = shape.startsWith('after');
    const parent = shape.endsWith('_parent');
    const values: unknown[] = [batch.map(({ page }) => page.sessionId), batch.map(({ page }) => page.rows)];
    const arrays = ['$1::text[]', '$2::int[]'];
    const names = ['session_id', 'row_limit'];
    const conditions = [`${parent ? unindexed('session_id') : 'session_id'} = q.session_id`];
    if (parent) {
      values.push(batch.map(({ page }) => page.parentId));
      arrays.push(`$${values.length}::text[]`);
      names.push('parent_id');
      conditions.push('parent_id = q.parent_id');
    }
    if (after) {
      values.push(batch.map(({ page }) => page.cursor));
      arrays.push(`$${values.length}::text[]`);
      names.push('before');
      conditions.push('id < q.before');
    }
    const rows = await this.run(
      `toolmux_session_log_pages_text_${shape}`,
      `SELECT q.page_number::int AS page_number, l.entries FROM unnest(${arrays.join(', ')}) ` +
        `WITH ORDINALITY AS q(${names.join(', ')}, page_number) CROSS JOIN LATERAL (` +
        `SELECT string_agg(entry, E'\\x1e') AS entries FROM (SELECT ${this.columns} FROM toolmux_execution_logs ` +
        `WHERE ${conditions.join(' AND ')} ORDER BY id DESC LIMIT q.row_limit) page) l`,
      values,
    );
    const pages: string[][] = batch.map(() => []);
    for (const row of rows) pages[(row.page_number as number) - 1] = entriesOf(row.entries);
    return pages;
  }
}

/**
 * A page's entries from its text, newest first. `string_agg` joins them in the order its subquery
 * reads them (the index scan's, newest first), which SQL does not promise: out of order, they are
 * sorted (an entry begins with its id).
 */
function entriesOf(text: string | null): string[] {
  if (text === null) return [];
  const entries: string[] = [];
  let from = 0;
  for (let at = text.indexOf(ENTRY_SEPARATOR); at >= 0; at = text.indexOf(ENTRY_SEPARATOR, from)) {
    entries.push(text.slice(from, at));
    from = at + 1;
  }
  entries.push(from === 0 ? text : text.slice(from));
  for (let index = 1; index < entries.length; index++) {
    if (entries[index - 1]! < entries[index]!) {
      entries.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
      break;
    }
  }
  return entries;
}
