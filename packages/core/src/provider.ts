import type { JSONSchema, ToolAnnotations } from './catalog/types.js';
import type { ToolResult } from './execution/result.js';

/** A tool as handed to a provider: plain JSON, already shaped (object root, no `$ref`). */
export interface ToolSpec {
  slug: string;
  name: string;
  description: string;
  /** Shaped, non-strict JSON Schema: `type: "object"` at the root, local `$ref`s inlined. */
  inputSchema: JSONSchema;
  /**
   * A schema written for OpenAI strict mode by the tool's author (meta-tools use it); when absent,
   * `strictSchemaOf()` derives one.
   */
  strictInputSchema?: JSONSchema;
  outputSchema?: JSONSchema;
  toolkit: string;
  annotations: ToolAnnotations;
}

export interface ExecuteOptions {
  /** Aborts the running tool. */
  signal?: AbortSignal;
  /** The framework's tool call id, written to the execution log. */
  callId?: string;
  /**
   * The connected account to run with: its id (`ca_…`) or alias. It must be one the session may use
   * (ACCOUNT_NOT_IN_SESSION otherwise); without it the session's precedence rules choose.
   */
  account?: string;
}

export type ExecuteFn = (slug: string, args: unknown, options?: ExecuteOptions) => Promise<ToolResult>;

/**
 * Turns session tools into one framework's native tool collection.
 *
 * `TResponse` and `TReply` are for SDKs whose tools are plain definitions (OpenAI, Anthropic,
 * Google): the model response whose tool calls `handleToolCalls` runs, and what it returns to send
 * back to the model.
 */
export interface Provider<TCollection = unknown, TResponse = never, TReply = unknown> {
  readonly name: string;
  wrapTools(tools: readonly ToolSpec[], execute: ExecuteFn): TCollection;
  /**
   * Runs every tool call of a model response with `execute` (in parallel, each with its call id) and
   * returns the results in the SDK's own format. Optional: frameworks that run tools themselves
   * (their tools carry an `execute`) do not need it. Called by `session.handleToolCalls()`, with
   * `tools`: the session's tools as it handed them out (its latest `tools()`), by slug. A provider
   * that shapes arguments for its SDK reads them back by these specs, not by what it last declared
   * under a slug: two sessions of one provider may have a tool of one slug with different schemas.
   */
  handleToolCalls?(
    response: TResponse,
    execute: ExecuteFn,
    tools?: ReadonlyMap<string, ToolSpec>,
  ): Promise<TReply>;
}

/** The collection type a provider produces. */
export type CollectionOf<P> = P extends Provider<infer C> ? C : never;

/** The model response `handleToolCalls` of a provider takes (`never` when it has none). */
export type ToolCallResponseOf<P> = P extends {
  handleToolCalls(response: infer R, execute: ExecuteFn): Promise<unknown>;
}
  ? R
  : never;

/** What `handleToolCalls` of a provider returns (`unknown` when it has none). */
export type ToolCallReplyOf<P> = P extends {
  handleToolCalls(response: never, execute: ExecuteFn): Promise<infer T>;
}
  ? T
  : unknown;

/** A tool of the default provider, usable in any custom agent loop. */
export interface PlainTool {
  name: string;
  description: string;
  inputSchema: JSONSchema;
  execute: (args: unknown, options?: ExecuteOptions) => Promise<ToolResult>;
}

/** The default provider: plain objects with `name`, `description`, `inputSchema` and `execute`. */
export class PlainProvider implements Provider<PlainTool[]> {
  readonly name = 'plain';

  wrapTools(tools: readonly ToolSpec[], execute: ExecuteFn): PlainTool[] {
    return tools.map((spec) => ({
      name: spec.slug,
      description: spec.description,
      inputSchema: spec.inputSchema,
      execute: (args, options) => execute(spec.slug, args, options),
    }));
  }
}
