import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import { shownValue } from './stored-text.js';

/**
 * The longest cursor a list takes: what a remote-mode client takes as a server's `next_cursor` and
 * sends back (toolmux's own cursors are far shorter).
 */
export const MAX_CURSOR_LENGTH = 8192;

/** Checks a page size: an integer from 1 to `max`. */
export function validateLimit(limit: number, max: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `limit must be an integer from 1 to ${max}, got ${String(limit)}.`,
    });
  }
  return limit;
}

/** Cursor for lists that are computed in memory and never change (the catalog's toolkits): an opaque offset. */
export function encodeOffsetCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

/**
 * The offset a cursor of {@link encodeOffsetCursor} holds. Anything else (another string, or no string
 * at all) is INVALID_REQUEST showing it cut short: a cursor of a megabyte was repeated whole.
 */
export function decodeOffsetCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match =
    typeof cursor === 'string' ? /^o:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString()) : null;
  if (!match) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `cursor ${shownValue(cursor)} is not a cursor this list returned; pass ${apiRef('nextCursor')} unchanged.`,
    });
  }
  return Number(match[1]);
}

/** Where a page of a list sorted by slug ended: {@link encodeSlugCursor}. */
export interface SlugCursor {
  /** The slug of the last item shown: the next page starts after it. */
  after: string;
  /** How many items the pages up to this one showed (for a page number). */
  shown: number;
}

/**
 * Cursor for lists that are computed in memory, sorted by slug, and may change between pages (a
 * session's toolkits, whose connections change): the slug of the last item shown, so the next page
 * starts after it whatever came or went before it (an offset skipped or repeated those items).
 */
export function encodeSlugCursor({ after, shown }: SlugCursor): string {
  return Buffer.from(`k:${shown}:${after}`).toString('base64url');
}

/**
 * The place a cursor of {@link encodeSlugCursor} holds (undefined: the first page). Anything else
 * is INVALID_REQUEST, as for {@link decodeOffsetCursor}.
 */
export function decodeSlugCursor(cursor: string | undefined): SlugCursor | undefined {
  if (cursor === undefined) return undefined;
  const match =
    typeof cursor === 'string' && cursor.length <= MAX_CURSOR_LENGTH
      ? /^k:(\d{1,15}):(.+)$/s.exec(Buffer.from(cursor, 'base64url').toString())
      : null;
  if (!match) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `cursor ${shownValue(cursor)} is not a cursor this list returned; pass ${apiRef('nextCursor')} unchanged.`,
    });
  }
  return { after: match[2]!, shown: Number(match[1]) };
}
