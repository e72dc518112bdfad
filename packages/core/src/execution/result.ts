import type { ToolMuxErrorCode } from '../errors.js';

/** What every tool call returns. Failures are results the model can read, never exceptions. */
export interface ToolResult<TData = unknown> {
  successful: boolean;
  /** The tool's output; `null` when it failed. */
  data: TData | null;
  /** A message the model can act on; `null` on success. */
  error: string | null;
  /** The stable error code when it failed. */
  code?: ToolMuxErrorCode;
  /** Id of the execution log entry (`log_…`). */
  logId: string;
}

/**
 * The text a framework hands back to the model for a tool result: the data as JSON (a string as is)
 * on success, the error message (with its code) on failure.
 */
export function formatToolResultForModel(result: ToolResult): string {
  if (!result.successful)
    return `Error${result.code ? ` (${result.code})` : ''}: ${result.error ?? 'the tool failed'}`;
  const { data } = result;
  if (typeof data === 'string') return data;
  if (data === undefined || data === null) return 'null';
  return JSON.stringify(data);
}
