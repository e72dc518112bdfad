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

/** At most this many rows are read by one statement (the largest single page's). */
export const MAX_BATCH_ROWS = MAX_PAGE_LIMIT + 1;

interface Waiting {
  page: SessionLogPage;
  resolve(rows: QueryResultRow[]): void;
  reject(error: unknown): void;
}

/**
 * Reads pages of sessions' execution logs, several pages per statement.
 *
 * A page costs little in PostgreSQL (an index range scan of `(session_id, id)`) but a round trip costs
 * the server a socket write that wakes the database and a read of its answer; with many clients
 * reading logs at once (a dashboard, 64 agents), those round trips are most of the work. So the pages
 * asked for in one turn of the event loop (the requests that arrived together) are read by one
 * statement: `unnest` turns the arrays of session ids, cursors and limits into rows, and a `LATERAL`
 * subquery reads each page with the same index scan as a single page. A page asked for alone is read
 * by `single` (the one-page statement), without waiting for anything but the end of the turn.
 *
 * A batch that fails is read again page by page, so a page the database refuses fails alone.
 */
export class SessionLogPageReader {
  /** Pages waiting for the end of this turn, by statement shape. */
  readonly #waiting = new Map<string, Waiting[]>();
  #scheduled = false;

  constructor(
    private readonly run: RunStatement,
    /** Reads one page with the single-page statement. */
    private readonly single: (page: SessionLogPage) => Promise<QueryResultRow[]>,
    /** The columns of an entry, as `PostgresStore` reads them. */
    private readonly columns: string,
    /** The column the entries of a page sort by, newest first (the id, or text that begins with it). */
    private readonly key = 'id',
  ) {}

  /** The page's rows (at most `page.rows`), newest first. */
  read(page: SessionLogPage): Promise<QueryResultRow[]> {
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
      this.single(page).then(resolve, reject);
      return;
    }
    this.#readBatch(shape, batch).then(
      (pages) => {
        for (const [index, { resolve }] of batch.entries()) resolve(pages[index]!);
      },
      () => {
        // one page the database refuses must not fail the others: each is read alone, and fails alone
        for (const { page, resolve, reject } of batch) this.single(page).then(resolve, reject);
      },
    );
  }

  async #readBatch(shape: string, batch: Waiting[]): Promise<QueryResultRow[][]> {
    const after = shape.startsWith('after');
    const parent = shape.endsWith('_parent');
    const values: unknown[] = [batch.map(({ page }) => page.sessionId), batch.map(({ page }) => page.rows)];
    const arrays = ['$1::text[]', '$2::int[]'];
    const names = ['session_id', 'row_limit'];
    const conditions = ['session_id = q.session_id'];
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
      `toolmux_session_log_pages_${shape}`,
      `SELECT q.page_number::int AS page_number, l.* FROM unnest(${arrays.join(', ')}) ` +
        `WITH ORDINALITY AS q(${names.join(', ')}, page_number) CROSS JOIN LATERAL (` +
        `SELECT ${this.columns} FROM toolmux_execution_logs WHERE ${conditions.join(' AND ')} ` +
        'ORDER BY id DESC LIMIT q.row_limit) l',
      values,
    );
    const pages: QueryResultRow[][] = batch.map(() => []);
    for (const row of rows) pages[(row.page_number as number) - 1]!.push(row);
    // each page comes out of its index scan newest first; SQL does not promise the join keeps that order
    const key = this.key;
    for (const page of pages) {
      for (let index = 1; index < page.length; index++) {
        if (page[index - 1]![key] < page[index]![key]) {
          page.sort((a, b) => (a[key] < b[key] ? 1 : a[key] > b[key] ? -1 : 0));
          break;
        }
      }
    }
    return pages;
  }
}
