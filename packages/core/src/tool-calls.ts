import type { ToolResult } from './execution/result.js';
import type { ExecuteFn } from './provider.js';
import { storableCallId } from './util/stored-text.js';

/** One tool call of a model response, as a provider's `handleToolCalls` reads it from its SDK. */
export interface ToolCall {
  /** The SDK's call id, written to the execution log; `undefined` when the SDK gives none. */
  id: string | undefined;
  /** The tool slug the model called. */
  name: string;
  /** The arguments, parsed (see {@link parseToolArguments}). */
  arguments: unknown;
}

/**
 * The arguments of a tool call that an SDK hands over as JSON text. Empty text (or none: `null`,
 * `undefined`) is `{}`; text that is not JSON is returned as it is, so that the session's validation
 * refuses it with a result the model can read (and the call is logged), instead of a throw. A value
 * that is not text is returned as it is: OpenAI-compatible servers send the arguments as a JSON
 * object where the API has text (llama.cpp's `llama-server` did by default), and the SDKs hand that
 * object over untouched; the session validates it as any other arguments.
 */
export function parseToolArguments(text: unknown): unknown {
  if (text === null || text === undefined) return {};
  if (typeof text !== 'string') return text;
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Runs the tool calls of one model response in parallel, each with its call id, and returns their
 * results in the same order. Never throws for a tool's failure or a tool the session does not
 * have: those are failed results.
 */
export function runToolCalls(calls: readonly ToolCall[], execute: ExecuteFn): Promise<ToolResult[]> {
  return Promise.all(
    calls.map((call) => execute(call.name, call.arguments, call.id === undefined ? {} : { callId: call.id })),
  );
}

/**
 * `execute` as the tools a provider hands out (and `handleToolCalls`) run it. Their call ids come from
 * the framework or the model's API, not from the application: one the execution log cannot keep as it
 * is (longer than 256 characters, control characters, a lone surrogate) is logged in a storable form
 * (see {@link storableCallId}) and the call runs, where `session.execute(…, { callId })` refuses it.
 */
export function toolCallExecute(execute: ExecuteFn): ExecuteFn {
  return (slug, args, options) => {
    const callId: unknown = options?.callId;
    if (callId === undefined) return execute(slug, args, options);
    return execute(slug, args, {
      ...options,
      callId: callId === null ? undefined : storableCallId(String(callId)),
    });
  };
}
