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
}

export type ExecuteFn = (slug: string, args: unknown, options?: ExecuteOptions) => Promise<ToolResult>;

/** Turns session tools into one framework's native tool collection. */
export interface Provider<TCollection = unknown> {
  readonly name: string;
  wrapTools(tools: readonly ToolSpec[], execute: ExecuteFn): TCollection;
}

/** The collection type a provider produces. */
export type CollectionOf<P> = P extends Provider<infer C> ? C : never;

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
