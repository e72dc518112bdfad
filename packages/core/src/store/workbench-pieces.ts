/**
 * How both stores keep a workbench file's content: in pieces of {@link WORKBENCH_FILE_PIECE_CHARS}
 * characters under a generation id (migration `workbench_file_pieces`), so that a file of many megabytes is written and
 * read by many short statements, a slice of the event loop at a time, never by one that holds it.
 *
 * A write puts its pieces under a new generation, then, in one short transaction, checks the quota,
 * points the file's row at the generation, and deletes the old generation's pieces afterwards. A
 * reader reads the row, then the pieces of the generation it names: all of them are there (the file
 * as it was written), or one is missing because the file was replaced or deleted meanwhile, and the
 * read starts over. A reader never joins pieces of two generations; a crash mid-write leaves the old
 * file, and pieces no row points at, which the next large write of the session collects once they
 * are {@link WORKBENCH_STALE_PIECES_MS} old (and which go with the session).
 */

import type { WorkbenchFileRange, WorkbenchFileRecord } from './types.js';

/** Characters of a file's content per stored piece (up to 768 KB of UTF-8). */
export const WORKBENCH_FILE_PIECE_CHARS = 256 * 1024;

/**
 * Pieces that no file points at and were written this long ago are left over from a write or a
 * deletion cut short (a crash), not from a write still under way: the next large write of the
 * session deletes them. A write whose pieces were collected all the same fails (`STORE_ERROR`)
 * rather than keep a file with pieces missing.
 */
export const WORKBENCH_STALE_PIECES_MS = 10 * 60_000;

/**
 * Bytes each workbench file counts against its session's quota beside its content and its path: its
 * record (a row, a piece's row, their index entries) costs the database about that much. Without
 * it, files of nothing under one-character paths counted two bytes each, and a session could keep
 * some 30 million of them under a 64 MB quota: gigabytes of rows, and a `list()` that no process
 * could hold.
 */
export const WORKBENCH_FILE_RECORD_BYTES = 1024;

/** Times a read starts over because the file was replaced while it was read, before it fails. */
export const WORKBENCH_READ_ATTEMPTS = 32;

/** The prefix of generation ids (`wbg_…`). */
export const GENERATION_PREFIX = 'wbg';

/**
 * Where each piece of `content` ends: every {@link WORKBENCH_FILE_PIECE_CHARS} characters, one
 * earlier where that would split a surrogate pair (each piece is stored as UTF-8 text, where half a
 * pair would become U+FFFD). Empty content has no pieces.
 */
export function pieceEnds(content: string, pieceChars = WORKBENCH_FILE_PIECE_CHARS): number[] {
  const ends: number[] = [];
  let start = 0;
  while (start < content.length) {
    let end = Math.min(content.length, start + pieceChars);
    if (end < content.length && end - start > 1) {
      const before = content.charCodeAt(end - 1);
      const after = content.charCodeAt(end);
      if (before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff) end--;
    }
    ends.push(end);
    start = end;
  }
  return ends;
}

/** The stored pieces of a file being written: how many, and the text of each (made when asked for). */
export interface FilePieces {
  count: number;
  piece(index: number): string;
}

const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;

/**
 * The pieces a store writes `file` in. From its `contentPieces` when it has them: cut every
 * `pieceChars` characters across the given pieces (one earlier where the cut would follow a high
 * surrogate), each stored piece joined from at most `pieceChars` characters when it is written, so
 * the whole text is never joined into one string (megabytes joined at once held the event loop for
 * hundreds of milliseconds). Otherwise from `content`, cut by {@link pieceEnds}.
 */
export function filePieces(
  file: { readonly content: string; readonly contentPieces?: readonly string[] },
  pieceChars = WORKBENCH_FILE_PIECE_CHARS,
): FilePieces {
  const given = file.contentPieces;
  if (given === undefined) {
    const content = file.content;
    const ends = pieceEnds(content, pieceChars);
    return {
      count: ends.length,
      piece: (index) => content.slice(index === 0 ? 0 : ends[index - 1], ends[index]),
    };
  }
  let lastWithText = given.length - 1;
  while (lastWithText >= 0 && given[lastWithText]!.length === 0) lastWithText--;
  // each stored piece as the parts of given pieces it is made of: [given piece, from, to]
  const pieces: Array<Array<[number, number, number]>> = [];
  let parts: Array<[number, number, number]> = [];
  let chars = 0;
  for (let at = 0; at <= lastWithText; at++) {
    const text = given[at]!;
    let from = 0;
    while (from < text.length) {
      let to = Math.min(text.length, from + pieceChars - chars);
      const full = chars + (to - from) === pieceChars;
      // text follows the cut: half a pair would be stored apart (each piece is UTF-8)
      const more = to < text.length || at < lastWithText;
      if (full && more && pieceChars > 1 && isHighSurrogate(text.charCodeAt(to - 1))) to--;
      if (to > from) parts.push([at, from, to]);
      chars += to - from;
      from = to;
      if (full) {
        pieces.push(parts);
        parts = [];
        chars = 0;
      }
    }
  }
  if (chars > 0) pieces.push(parts);
  return {
    count: pieces.length,
    piece: (index) => {
      const ofPiece = pieces[index]!;
      if (ofPiece.length === 1) {
        const [at, from, to] = ofPiece[0]!;
        return given[at]!.slice(from, to);
      }
      return ofPiece.map(([at, from, to]) => given[at]!.slice(from, to)).join('');
    },
  };
}

/** Why a read failed after {@link WORKBENCH_READ_ATTEMPTS} attempts (the cause of its STORE_ERROR). */
export function fileKeptChangingError(path: string): Error {
  return new Error(
    `the workbench file ${JSON.stringify(path)} was replaced ${WORKBENCH_READ_ATTEMPTS} times while it was being read; read it again once it is written less often`,
  );
}

/** Why a write failed: pieces it wrote are gone (collected as left over after a long stall). */
export function piecesMissingError(path: string, expected: number, found: number): Error {
  return new Error(
    `${expected - found} of the ${expected} pieces written for the workbench file ${JSON.stringify(path)} were deleted before the write finished (it stalled for more than ${WORKBENCH_STALE_PIECES_MS} ms); write it again`,
  );
}

/** The most characters one ranged read of a workbench file gives (`toolmux.files.read(path, { length })`). */
export const WORKBENCH_READ_RANGE_MAX_CHARS = 1_000_000;

const isLowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;

/**
 * Collects the range `[offset, offset + length)` of a text given as its consecutive pieces (`add`
 * each, in order, until it says it has what it needs), keeping only the characters of the range and
 * one on either side: a file of many megabytes is never held whole. A cut that would fall between
 * the two halves of a surrogate pair is moved one back, at the start and at the end alike (so that
 * ranges taken one after the other, by `nextOffset` or by counting, give each character once); an end
 * moved back onto the start is moved past the pair instead, so that a range is never empty before the
 * end of the text.
 */
export function fileRangeReader(
  offset: number,
  length: number,
): { add(piece: string): boolean; range(ended: boolean): WorkbenchFileRange } {
  const from = Math.max(0, offset - 1);
  // one past the end: whether the end falls inside a pair
  const to = offset + length + 1;
  let at = 0;
  let window = '';
  return {
    add(piece) {
      const start = at;
      at += piece.length;
      if (at > from && start < to) {
        window += piece.slice(Math.max(0, from - start), Math.min(piece.length, to - start));
      }
      return at >= to;
    },
    range(ended) {
      // the text's length, when every piece was given
      const total = ended ? at : Number.POSITIVE_INFINITY;
      if (offset >= total) return { text: '', offset, nextOffset: null };
      const unit = (position: number) => window.charCodeAt(position - from);
      const splits = (position: number) =>
        position > 0 &&
        position < total &&
        isHighSurrogate(unit(position - 1)) &&
        isLowSurrogate(unit(position));
      const start = splits(offset) ? offset - 1 : offset;
      let end = Math.min(offset + length, total);
      if (splits(end)) end = end - 1 > start ? end - 1 : end + 1;
      return {
        text: window.slice(start - from, end - from),
        offset: start,
        nextOffset: end >= total ? null : end,
      };
    },
  };
}

/** What a store gives a file's pieces to, in order: `add` says when it needs no more; `end` is told whether it was given every piece. */
export interface FilePiecesReader<T> {
  add(piece: string): boolean;
  end(ended: boolean): T;
}

/**
 * How a store reads a file: the row, then the pieces of its current generation in order, to what
 * `begin()` makes; a new reader when the read starts over (a piece was missing: the file was replaced
 * or deleted meanwhile), so what it gives is one generation's. `undefined` when there is no file.
 */
export type FilePiecesRead = <T>(
  sessionId: string,
  path: string,
  operation: string,
  begin: () => FilePiecesReader<T>,
) => Promise<{ size: number; updatedAt: Date; value: T } | undefined>;

/** `Store.getWorkbenchFile` with the store's {@link FilePiecesRead}: the whole file. */
export async function readWholeFile(
  read: FilePiecesRead,
  sessionId: string,
  path: string,
): Promise<WorkbenchFileRecord | undefined> {
  const file = await read(sessionId, path, 'read a workbench file', wholeTextReader);
  return file && { sessionId, path, size: file.size, updatedAt: file.updatedAt, content: file.value };
}

/** `Store.getWorkbenchFileRange`: the pieces read only up to the range's end, and only the range kept. */
export async function readFileRange(
  read: FilePiecesRead,
  sessionId: string,
  path: string,
  offset: number,
  length: number,
): Promise<WorkbenchFileRange | undefined> {
  const operation = 'read a range of a workbench file';
  return (await read(sessionId, path, operation, () => rangeTextReader(offset, length)))?.value;
}

/** A reader of the whole text: the pieces joined as a rope (joined by whoever reads the text). */
function wholeTextReader(): FilePiecesReader<string> {
  let content = '';
  return {
    add: (piece) => {
      content += piece;
      return false;
    },
    end: () => content,
  };
}

/** A reader of the range `[offset, offset + length)` (see {@link fileRangeReader}). */
function rangeTextReader(offset: number, length: number): FilePiecesReader<WorkbenchFileRange> {
  const reader = fileRangeReader(offset, length);
  return { add: (piece) => reader.add(piece), end: (ended) => reader.range(ended) };
}
