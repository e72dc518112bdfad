import type { ToolMuxErrorCode } from '../errors.js';

/**
 * What every tool call returns. Failures are results the model can read, never exceptions. Branch on
 * `successful`: a success has the tool's `data` and no `error`, a failure says why in `error` (with
 * its stable `code`) and has no `data`.
 *
 * @example
 * const result = await session.execute('GITHUB_GET_ME', {});
 * if (result.successful) console.log(result.data);
 * else console.error(result.code, result.error);
 */
export type ToolResult<TData = unknown> = SuccessfulToolResult<TData> | FailedToolResult;

/** A tool call that succeeded: the tool's output in `data`. */
export interface SuccessfulToolResult<TData = unknown> {
  successful: true;
  /** The tool's output. */
  data: TData;
  error: null;
  code?: undefined;
  /** Id of the execution log entry (`log_…`). */
  logId: string;
  /**
   * `true` for a workbench cell (`TOOLMUX_WORKBENCH`, `COMPOSIO_REMOTE_WORKBENCH`) whose code threw or
   * reached a limit: the call answered the cell's `{ result, logs, error }` (its logs and partial
   * result stay readable, which a failed result has no place for), and the model is to read it as a
   * failed call. Providers whose wire flags failed tool calls flag it (see {@link isErrorForModel}):
   * Anthropic `is_error`, MCP `isError`, Google's `error` response, the AI SDK's and Mastra's
   * `error-text`, LangChain's `status: 'error'`. Absent on every other success.
   */
  cellFailed?: true;
  /**
   * The error of a workbench cell that failed, with `cellFailed`: its code (`WORKBENCH_CODE_ERROR`,
   * `WORKBENCH_TIMEOUT`, …) and message, its meta-tools named as the session names them, as the
   * cell's answer tells it to the model. Read it here, not out of `data`, whose shape is the
   * workbench meta-tool's (toolmux's `{ result, logs, error }`, Composio's `{ results, stdout,
   * stderr, error }`) and which an `afterExecute` modifier may change. Absent on every other success.
   */
  cellError?: { code: string; message: string };
}

/** A tool call that failed: a message the model can act on, and its stable code. */
export interface FailedToolResult {
  successful: false;
  data: null;
  /** A message the model can act on. */
  error: string;
  /** The stable error code. */
  code?: ToolMuxErrorCode;
  /** Id of the execution log entry (`log_…`; empty when the call was refused before it was logged). */
  logId: string;
}

/**
 * Whether the model is to read `result` as a failed call: a failed result, or a workbench cell that
 * failed (`cellFailed`, a successful result whose data holds the cell's error). What a provider sets
 * its wire's error flag by (Anthropic `is_error`, MCP `isError`).
 *
 * @example
 * const block = { type: 'tool_result', content: formatToolResultForModel(result), is_error: isErrorForModel(result) };
 */
export function isErrorForModel(result: ToolResult): boolean {
  return !result.successful || result.cellFailed === true;
}

/**
 * The text a framework hands back to the model for a tool result: the data as JSON (a string as is)
 * on success, the error message (with its code) on failure. A string with nothing but whitespace
 * (`''`, `'\n'`: an MCP tool without output, an empty file) is its JSON (`""`, `"\n"`): the Messages
 * API refuses a `tool_result` whose text is empty, failing that request and every later one of the
 * conversation, and the model reads that the tool answered an empty string.
 */
export function formatToolResultForModel(result: ToolResult): string {
  if (!result.successful)
    return `Error${result.code ? ` (${result.code})` : ''}: ${result.error ?? 'the tool failed'}`;
  const { data } = result;
  if (typeof data === 'string') return data.trim() === '' ? JSON.stringify(data) : data;
  if (data === undefined || data === null) return 'null';
  return JSON.stringify(data);
}
