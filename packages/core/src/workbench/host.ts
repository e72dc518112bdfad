import type { ProxyExecuteRequest, ProxyExecuteResponse } from '../auth/types.js';
import { quotedMessage, ToolMuxError } from '../errors.js';
import type { ToolResult } from '../execution/result.js';
import type { ExecuteOptions } from '../provider.js';
import type { Store, WorkbenchFileWrite } from '../store/types.js';
import {
  fileRangeReader,
  pieceEnds,
  WORKBENCH_FILE_RECORD_BYTES,
  WORKBENCH_READ_RANGE_MAX_CHARS,
} from '../store/workbench-pieces.js';
import { jsonTextPiecesSliced, StringPieces } from '../util/json-slices.js';
import type { Logger } from '../util/logger.js';
import { WorkSlice } from '../util/slices.js';
import { leadingText, shownValue, textProblem } from '../util/stored-text.js';
import { MAX_PATH_LENGTH, OFFLOAD_PREVIEW_CHARS, WORKBENCH_FILES_QUOTA_BYTES } from './file-limits.js';
import { notOffloadedNotice } from './offload-notice.js';
import { RawJson, SandboxCallError, type SandboxHostCall } from './sandbox.js';

export { WORKBENCH_FILES_QUOTA_BYTES };

/**
 * The options of a tool call from a cell: `account` is `toolmux.execute(slug, args, { account })`,
 * passed on to `session.execute` as it is (the session picks the connected account by it).
 */
export type WorkbenchExecuteOptions = ExecuteOptions & { parentId?: string };

/** What `toolmux.*` inside a cell reaches in the session. */
export interface WorkbenchSessionPort {
  sessionId: string;
  store: Store;
  /** `parentId`: the workbench call's log entry, written as each inner entry's parent. */
  execute(slug: string, args: unknown, options: WorkbenchExecuteOptions): Promise<ToolResult>;
  search(query: string, limit?: number): Promise<unknown>;
  proxy(request: ProxyExecuteRequest): Promise<ProxyExecuteResponse>;
  /** Slugs whose code runs in a remote-mode client: refused inside the workbench. */
  clientTools: ReadonlySet<string>;
  /** Slugs of meta-tools: not callable from a cell. */
  metaTools: ReadonlySet<string>;
  /** The session's multi-execute meta-tool, as the agent knows it; absent when the agent has none. */
  multiExecuteSlug?: string;
  /** Where a failure of the store under the workbench's files is reported (the model is not told it). */
  logger?: Logger;
}

/**
 * The messages of `error` and of its causes on one line (`STORE_ERROR …: ← the database's words`),
 * each quoted (cut): what an operator reads of a store's failure.
 */
function causeLine(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(quotedMessage(current));
    try {
      current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
    } catch {
      current = undefined;
    }
  }
  return parts.join(' ← ').replace(/\s*\n\s*/g, ' ');
}

/**
 * What the code, or the model, gets for a failure of a workbench file operation (`what`, as the code
 * wrote it): the workbench's own refusals and the session's (a path, the quota, a deleted session, a
 * closed ToolMux) as they are; a fault of the store (STORE_ERROR, or an error of a store of your own)
 * is logged with its causes, which it never shows, and is STORE_ERROR with a message of its own. Such
 * a failure answered the model, not a request, so nobody logged it and an operator never learned the
 * database failed.
 */
function filesFailure(
  port: Pick<WorkbenchSessionPort, 'sessionId' | 'logger'>,
  what: string,
  error: unknown,
): unknown {
  if (error instanceof SandboxCallError) return error;
  if (ToolMuxError.isInstance(error) && (error.code === 'TOOLMUX_CLOSED' || error.status < 500)) {
    return error;
  }
  port.logger?.error(
    `toolmux: ${what} in the workbench of session ${port.sessionId} failed: ${causeLine(error)}`,
  );
  return new SandboxCallError(
    'STORE_ERROR',
    `The store failed to carry out ${what} (the error was logged for the operator); try again in a moment.`,
  );
}

/** `run()`, whose failure is {@link filesFailure}'s. */
async function filesCall<T>(
  port: Pick<WorkbenchSessionPort, 'sessionId' | 'logger'>,
  what: string,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw filesFailure(port, what, error);
  }
}

/** `toolmux.files.<operation>(path)` as a message names it (the path checked first). */
function filesCallName(operation: string, path: string): string {
  return `toolmux.files.${operation}(${JSON.stringify(path)})`;
}

/**
 * A file path: 1 to {@link MAX_PATH_LENGTH} characters of well-formed text without control
 * characters, as every id and label kept in the store (stored as UTF-8, a lone surrogate would become
 * U+FFFD and two such paths one file; PostgreSQL refuses NUL; a line break or a terminal escape would
 * go into `list()` and every message that names the file), nor bidirectional formatting characters
 * (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C: a name shown in `list()` would read as
 * another). It is taken in Unicode normalization form C: "café" written with a combining accent and
 * with "é" is one file, where they were two and a read of the one the model typed the second time
 * found nothing.
 */
function checkPath(path: unknown): string {
  const problem =
    typeof path === 'string'
      ? (textProblem(path, { maxLength: MAX_PATH_LENGTH }) ??
        (BIDI_CONTROL.test(path)
          ? `has a bidirectional formatting character (U+${path.match(BIDI_CONTROL)![0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}), which makes a name read as another`
          : undefined))
      : 'is not a string';
  if (problem !== undefined) {
    throw new SandboxCallError(
      'WORKBENCH_FILE_PATH_INVALID',
      `A file path must be a non-empty string of at most ${MAX_PATH_LENGTH} characters, without control characters, bidirectional formatting characters or a lone surrogate (this one ${problem}), got ${shownValue(path)}.`,
    );
  }
  return (path as string).normalize('NFC');
}

/**
 * The range of `toolmux.files.read(path, { offset, length })`: `offset` a whole number of characters
 * from 0 (default 0), `length` one from 1 to {@link WORKBENCH_READ_RANGE_MAX_CHARS} (default
 * {@link WORKBENCH_READ_RANGE_DEFAULT_CHARS}); anything else (another key, a string, a fraction) is
 * `INVALID_REQUEST` naming it, rather than a read of another part than the code meant.
 */
function readRange(range: unknown): { offset: number; length: number } {
  const usage = `toolmux.files.read(path, { offset, length }) reads length characters (1 to ${WORKBENCH_READ_RANGE_MAX_CHARS}, default ${WORKBENCH_READ_RANGE_DEFAULT_CHARS}) of the file's JSON text from offset (0 or more, default 0)`;
  if (typeof range !== 'object' || range === null || Array.isArray(range)) {
    throw new SandboxCallError(
      'INVALID_REQUEST',
      `${usage}; its second argument must be that object, got ${shownValue(range)}.`,
    );
  }
  const other = Object.keys(range).find((key) => key !== 'offset' && key !== 'length');
  if (other !== undefined) {
    throw new SandboxCallError('INVALID_REQUEST', `${usage}; it takes no ${JSON.stringify(other)}.`);
  }
  const { offset = 0, length = WORKBENCH_READ_RANGE_DEFAULT_CHARS } = range as {
    offset?: unknown;
    length?: unknown;
  };
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new SandboxCallError(
      'INVALID_REQUEST',
      `${usage}; offset must be a whole number from 0, got ${shownValue(offset)}.`,
    );
  }
  if (
    typeof length !== 'number' ||
    !Number.isSafeInteger(length) ||
    length < 1 ||
    length > WORKBENCH_READ_RANGE_MAX_CHARS
  ) {
    throw new SandboxCallError(
      'INVALID_REQUEST',
      `${usage}; length must be a whole number from 1 to ${WORKBENCH_READ_RANGE_MAX_CHARS}, got ${shownValue(length)}.`,
    );
  }
  return { offset, length };
}

/** Characters a ranged read gives when the code does not say how many. */
export const WORKBENCH_READ_RANGE_DEFAULT_CHARS = 100_000;

/** The characters that change the direction text is shown in. */
const BIDI_CONTROL = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function filesOf(
  store: Store,
): Required<
  Pick<Store, 'putWorkbenchFile' | 'getWorkbenchFile' | 'listWorkbenchFiles' | 'deleteWorkbenchFile'>
> &
  Pick<Store, 'getWorkbenchFileRange'> {
  if (
    !store.putWorkbenchFile ||
    !store.getWorkbenchFile ||
    !store.listWorkbenchFiles ||
    !store.deleteWorkbenchFile
  ) {
    throw new SandboxCallError(
      'WORKBENCH_FILES_UNAVAILABLE',
      'This toolmux store keeps no workbench files; keep data in globalThis instead.',
    );
  }
  return store as never;
}

/**
 * `JSON.stringify(value)` (`null` for a value that writes nothing), a slice at a time when it is
 * large: then as the {@link StringPieces} it was written in, never joined into one string (joining
 * tens of megabytes held the event loop for hundreds of milliseconds).
 */
async function jsonTextOf(value: unknown): Promise<string | StringPieces> {
  return (await jsonTextPiecesSliced(value === undefined ? null : value, new WorkSlice())) ?? 'null';
}

/** Characters whose UTF-8 length is counted at once (a few milliseconds at most). */
const COUNT_CHARS = 1024 * 1024;

/**
 * `Buffer.byteLength(text, 'utf8')`, a slice of the event loop at a time for a long text (40 MB of
 * non-ASCII JSON took 27 ms at once), cut where no surrogate pair is split; a text in pieces piece
 * by piece (a pair split across two pieces counts as the two halves would be written together).
 */
async function utf8Bytes(text: string | StringPieces, slice = new WorkSlice()): Promise<number> {
  if (text instanceof StringPieces) {
    let bytes = 0;
    let previous = '';
    for (const piece of text.pieces) {
      bytes += await utf8Bytes(piece, slice);
      // halves of a pair in two pieces count 3 + 3 bytes apart, 4 together
      const last = previous.charCodeAt(previous.length - 1);
      const first = piece.charCodeAt(0);
      if (last >= 0xd800 && last <= 0xdbff && first >= 0xdc00 && first <= 0xdfff) bytes -= 2;
      if (piece.length > 0) previous = piece;
      await slice.breathe();
    }
    return bytes;
  }
  if (text.length <= COUNT_CHARS) return Buffer.byteLength(text, 'utf8');
  let bytes = 0;
  let start = 0;
  for (const end of pieceEnds(text, COUNT_CHARS)) {
    bytes += Buffer.byteLength(text.slice(start, end), 'utf8');
    start = end;
    await slice.breathe();
  }
  return bytes;
}

/**
 * Writes a workbench file; `value` is kept as JSON (read gives it back as it was; `content`, when
 * given, is that JSON already). Throws `WORKBENCH_FILES_QUOTA` when the session's files would exceed
 * the quota. JSON text in pieces goes to the store as its pieces (`contentPieces`): `content` joins
 * them only for a store of your own that reads it.
 */
export async function writeWorkbenchFile(
  store: Store,
  sessionId: string,
  path: string,
  value: unknown,
  content?: string | StringPieces,
): Promise<{ path: string; size: number }> {
  const files = filesOf(store);
  const json = content ?? (await jsonTextOf(value));
  const size = await utf8Bytes(json);
  const file: WorkbenchFileWrite =
    json instanceof StringPieces
      ? {
          sessionId,
          path: checkPath(path),
          size,
          updatedAt: new Date(),
          contentPieces: json.pieces,
          get content() {
            return json.toString();
          },
        }
      : { sessionId, path: checkPath(path), content: json, size, updatedAt: new Date() };
  const total = await files.putWorkbenchFile(file, WORKBENCH_FILES_QUOTA_BYTES);
  if (total === undefined) {
    throw new SandboxCallError(
      'WORKBENCH_FILES_QUOTA',
      `Writing ${path} (${size} bytes) would take this session's workbench files over ${WORKBENCH_FILES_QUOTA_BYTES} bytes (each file counts its JSON, its path and ${WORKBENCH_FILE_RECORD_BYTES} bytes for its record); delete files you no longer need with toolmux.files.delete(path), or keep many small values in one file.`,
    );
  }
  return { path, size };
}

/**
 * The arguments of a cell's `toolmux.execute` as the code gave them: JSON wrote the first NaN or
 * ±Infinity in them as null, and the engine says where it was (`nonFinite`: its path as keys and
 * indexes, and which it was); it is put back there, so that the call is refused naming it as any
 * other call holding one is (TOOL_ARGUMENTS_INVALID), where the tool would have run with null.
 */
function withNonFinite(args: unknown, nonFinite: unknown): unknown {
  if (typeof nonFinite !== 'object' || nonFinite === null) return args;
  const { path, value } = nonFinite as { path?: unknown; value?: unknown };
  const number =
    value === 'NaN'
      ? Number.NaN
      : value === 'Infinity'
        ? Infinity
        : value === '-Infinity'
          ? -Infinity
          : undefined;
  if (number === undefined || !Array.isArray(path)) return args;
  if (path.length === 0) return number;
  let holder: unknown = args;
  for (let index = 0; index < path.length - 1; index++) {
    if (typeof holder !== 'object' || holder === null || !Object.hasOwn(holder, path[index])) return args;
    holder = (holder as Record<string, unknown>)[path[index]];
  }
  const last = path[path.length - 1];
  if (typeof holder !== 'object' || holder === null || !Object.hasOwn(holder, last)) return args;
  // an own data property as JSON.parse made it (a `__proto__` key included)
  Object.defineProperty(holder, last, {
    value: number,
    writable: true,
    enumerable: true,
    configurable: true,
  });
  return args;
}

/**
 * The host side of `toolmux.*` for one cell. Tool calls go through `session.execute` (filters,
 * accounts, validation, timeouts, execution log), each with the workbench call's log entry as its
 * `parentId` and call id `<workbench log id>/<n>`, so the log reads as a tree.
 */
export function workbenchHost(port: WorkbenchSessionPort, parentLogId: string | undefined): SandboxHostCall {
  let calls = 0;
  return async (operation, args, signal) => {
    const input = (args ?? {}) as Record<string, unknown>;
    switch (operation) {
      case 'execute': {
        const slug = input.slug;
        if (typeof slug !== 'string' || slug.length === 0) {
          throw new SandboxCallError(
            'TOOL_ARGUMENTS_INVALID',
            `toolmux.execute(slug, args) needs a tool slug string first, got ${shownValue(slug)}.`,
          );
        }
        if (port.metaTools.has(slug)) {
          throw new SandboxCallError(
            'TOOL_NOT_IN_SESSION',
            `${slug} is a meta-tool and cannot run inside the workbench; use toolmux.search for search, and call the other meta-tools directly.`,
          );
        }
        if (port.clientTools.has(slug)) {
          throw new SandboxCallError(
            'WORKBENCH_CLIENT_TOOL',
            `${slug} is a custom tool whose code runs in the application, not on the toolmux server that runs the workbench; call it directly${port.multiExecuteSlug ? ` (or in ${port.multiExecuteSlug})` : ''}, not from workbench code.`,
          );
        }
        const account = input.account ?? undefined;
        if (account !== undefined && (typeof account !== 'string' || account.length === 0)) {
          throw new SandboxCallError(
            'TOOL_ARGUMENTS_INVALID',
            `toolmux.execute(slug, args, { account }) needs account as a connected account id or alias string, got ${shownValue(account)}.`,
          );
        }
        calls++;
        const options: WorkbenchExecuteOptions = {
          signal,
          callId: parentLogId ? `${parentLogId}/${calls}` : undefined,
          parentId: parentLogId,
        };
        if (account !== undefined) options.account = account;
        const given = withNonFinite(input.args ?? {}, input.nonFinite);
        const result = await port.execute(slug, given, options);
        return { successful: result.successful, data: result.data, error: result.error };
      }
      case 'search': {
        if (typeof input.query !== 'string' || input.query.trim() === '') {
          throw new SandboxCallError(
            'TOOL_ARGUMENTS_INVALID',
            'toolmux.search(query) needs the task in plain words, e.g. toolmux.search("create a GitHub issue").',
          );
        }
        // any limit given goes to the session's check (a whole number from 1 to 50, INVALID_REQUEST naming it)
        return port.search(
          input.query,
          input.limit === undefined || input.limit === null ? undefined : (input.limit as number),
        );
      }
      case 'proxy':
        return port.proxy(input as unknown as ProxyExecuteRequest);
      case 'files.write': {
        const path = checkPath(input.path);
        return filesCall(port, filesCallName('write', path), async () => {
          const written = await writeWorkbenchFile(port.store, port.sessionId, path, input.value);
          // the file is this name's now: a copy stored under another form of it goes
          if (path !== input.path)
            await filesOf(port.store).deleteWorkbenchFile(port.sessionId, input.path as string);
          return written;
        });
      }
      case 'files.read': {
        const path = checkPath(input.path);
        if (input.range !== undefined) {
          const { offset, length } = readRange(input.range);
          const part = await filesCall(port, filesCallName('read', path), async () => {
            const files = filesOf(port.store);
            const read = async (name: string) => {
              if (files.getWorkbenchFileRange) {
                return files.getWorkbenchFileRange(port.sessionId, name, offset, length);
              }
              // a store of your own without ranged reads: the whole file, cut here (not in the sandbox)
              const file = await files.getWorkbenchFile(port.sessionId, name);
              if (!file) return undefined;
              const reader = fileRangeReader(offset, length);
              reader.add(file.content);
              return reader.range(true);
            };
            return (await read(path)) ?? (path === input.path ? undefined : await read(input.path as string));
          });
          if (!part) {
            throw new SandboxCallError(
              'WORKBENCH_FILE_NOT_FOUND',
              `There is no workbench file ${input.path}; toolmux.files.list() shows the files.`,
            );
          }
          return { text: part.text, offset: part.offset, nextOffset: part.nextOffset };
        }
        const file = await filesCall(port, filesCallName('read', path), async () => {
          const files = filesOf(port.store);
          // a file stored under another form of the name, before names were taken in form C
          return (
            (await files.getWorkbenchFile(port.sessionId, path)) ??
            (path === input.path
              ? undefined
              : await files.getWorkbenchFile(port.sessionId, input.path as string))
          );
        });
        if (!file) {
          throw new SandboxCallError(
            'WORKBENCH_FILE_NOT_FOUND',
            `There is no workbench file ${input.path}; toolmux.files.list() shows the files.`,
          );
        }
        // stored as JSON text: it goes to the code as it is, never parsed and written again here
        return new RawJson(file.content);
      }
      case 'files.list':
        return (
          await filesCall(port, 'toolmux.files.list()', () =>
            filesOf(port.store).listWorkbenchFiles(port.sessionId),
          )
        ).map((file) => ({
          path: file.path,
          size: file.size,
          updatedAt: file.updatedAt.toISOString(),
        }));
      case 'files.delete': {
        const path = checkPath(input.path);
        return {
          deleted: await filesCall(port, filesCallName('delete', path), async () => {
            const files = filesOf(port.store);
            // both forms of the name: a copy under the other one must not come back at the next read
            const deleted = await files.deleteWorkbenchFile(port.sessionId, path);
            const old =
              path !== input.path && (await files.deleteWorkbenchFile(port.sessionId, input.path as string));
            return deleted || old;
          }),
        };
      }
      default:
        throw new SandboxCallError('WORKBENCH_CODE_ERROR', `Unknown toolmux operation ${operation}.`);
    }
  };
}

/**
 * A TOOLMUX_MULTI_EXECUTE_TOOL result longer than `autoOffloadThreshold` characters (as JSON) goes
 * to the workbench files; the model gets `{ offloaded: { path, size, preview } }` and can read it in
 * TOOLMUX_WORKBENCH with `toolmux.files.read(path)`. Left inline when the workbench is off or the
 * store keeps no files; when it cannot be saved (the quota is full), the model gets
 * `{ notOffloaded: { size, preview, reason, hint } }`: the start of it, and how to make room.
 */
export async function offloadLarge(
  result: unknown,
  config: { enable: boolean; autoOffloadThreshold: number },
  port: Pick<WorkbenchSessionPort, 'store' | 'sessionId' | 'logger'>,
  logId: string | undefined,
  workbenchSlug = 'TOOLMUX_WORKBENCH',
): Promise<unknown> {
  if (!config.enable || !port.store.putWorkbenchFile) return result;
  const json = await jsonTextOf(result);
  if (json.length <= config.autoOffloadThreshold) return result;
  // the first characters of the text, from as many of its pieces as they take
  let head = '';
  for (const piece of json instanceof StringPieces ? json.pieces : [json]) {
    if (head.length > OFFLOAD_PREVIEW_CHARS) break;
    head += piece.slice(0, OFFLOAD_PREVIEW_CHARS + 1);
  }
  const path = `offloaded/${logId ?? `result_${Date.now()}`}.json`;
  try {
    const written = await writeWorkbenchFile(port.store, port.sessionId, path, result, json);
    return {
      offloaded: {
        path: written.path,
        size: json.length,
        // never half a surrogate pair: a lone one in a tool result is refused by some model APIs
        preview: leadingText(head, OFFLOAD_PREVIEW_CHARS),
        hint: `The result (${json.length} characters) was saved as a workbench file; work on it in ${workbenchSlug} with \`const r = await toolmux.files.read(${JSON.stringify(path)})\` (r.results[i].data is each call's data) and return only what you need; too large for the cell's memory, read its JSON text in parts with \`toolmux.files.read(path, { offset, length })\`, which gives { text, nextOffset }.`,
      },
    };
  } catch (error) {
    // Not saved (the files quota is full, or the store failed): the model gets the start of the
    // result and what to do, not the whole of it, which would fill its context (a 20 MB result went
    // in whole when the quota was full, more than a model's request can hold).
    const quota = error instanceof SandboxCallError && error.code === 'WORKBENCH_FILES_QUOTA';
    // a fault of the store is logged (the model is not told it)
    if (!quota) filesFailure(port, `saving a multi-execute result as ${path}`, error);
    return notOffloadedNotice(
      json.length,
      head,
      quota ? WORKBENCH_FILES_QUOTA_BYTES : undefined,
      workbenchSlug,
    );
  }
}
