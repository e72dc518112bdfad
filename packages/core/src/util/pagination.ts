import { ToolMuxError } from '../errors.js';

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

/** Cursor for lists that are computed in memory (toolkits): an opaque offset. */
export function encodeOffsetCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

export function decodeOffsetCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = /^o:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `cursor "${cursor}" is not a cursor this list returned; pass nextCursor unchanged.`,
    });
  }
  return Number(match[1]);
}
