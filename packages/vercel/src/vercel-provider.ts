import {
  type ExecuteFn,
  type JSONSchema,
  type Logger,
  type Provider,
  type ToolResult,
  type ToolSpec,
  formatToolResultForModel,
  strictSchemaOf,
} from '@toolmux/core';
import { type JSONSchema7, type ToolSet, dynamicTool, jsonSchema } from 'ai';

export interface VercelProviderOptions {
  /**
   * Hand out schemas rewritten for OpenAI strict mode (optional fields become required and nullable,
   * `additionalProperties: false`) and set the AI SDK's per-tool `strict: true` (ai 6 and later), so
   * providers that support it constrain the model's arguments to the schema. A tool whose schema
   * cannot be strict is handed out non-strict (`strict: false`) with a warning.
   * @default false
   */
  strict?: boolean;
  /** Where the warning for a tool that falls back to non-strict goes (once per tool). @default console */
  logger?: Pick<Logger, 'warn'>;
}

/**
 * toolmux provider for the Vercel AI SDK: `session.tools()` returns an `ai` `ToolSet` keyed by tool
 * slug, ready for `generateText({ tools })` and `streamText({ tools })`. Each tool runs through the
 * session (validation, accounts, execution log) with the framework's abort signal and tool call id.
 * A failed tool does not throw: the model receives its error message as the tool's output.
 *
 * @example
 * const mux = new ToolMux({ provider: new VercelProvider(), toolkits });
 * const session = await mux.create('user_123', { toolkits: ['github'] });
 * const { text } = await generateText({ model, tools: await session.tools(), stopWhen: stepCountIs(10), prompt });
 */
export class VercelProvider implements Provider<ToolSet> {
  readonly name = 'vercel';
  readonly strict: boolean;
  readonly #logger: Pick<Logger, 'warn'>;
  readonly #warned = new Set<string>();

  constructor({ strict = false, logger = console }: VercelProviderOptions = {}) {
    this.strict = strict;
    this.#logger = logger;
  }

  wrapTools(tools: readonly ToolSpec[], execute: ExecuteFn): ToolSet {
    const toolSet: ToolSet = {};
    for (const spec of tools) {
      const { schema, strict } = this.#inputSchemaOf(spec);
      toolSet[spec.slug] = dynamicTool({
        description: spec.description,
        inputSchema: jsonSchema(plainJsonCopy(schema)),
        ...(strict === undefined ? {} : { strict }),
        execute: (args, options) => execute(spec.slug, args, { callId: options.toolCallId, signal: options.abortSignal }),
        toModelOutput: modelOutputOf,
      });
    }
    return toolSet;
  }

  /** The schema the model sees, and the tool's `strict` flag (left unset when strict mode is off). */
  #inputSchemaOf(spec: ToolSpec): { schema: JSONSchema; strict: boolean | undefined } {
    if (!this.strict) return { schema: spec.inputSchema, strict: undefined };
    const shaped = strictSchemaOf(spec);
    if (!shaped.strict && !this.#warned.has(spec.slug)) {
      this.#warned.add(spec.slug);
      this.#logger.warn(`toolmux: ${spec.slug} cannot be handed out in strict mode (${shaped.reason}); it stays non-strict.`);
    }
    return { schema: shaped.schema, strict: shaped.strict };
  }
}

/** A copy the framework may keep or change without touching the session's cached schemas. */
function plainJsonCopy(schema: JSONSchema): JSONSchema7 {
  return JSON.parse(JSON.stringify(schema)) as JSONSchema7;
}

/**
 * What the model reads for a tool result: toolmux's text (the data as JSON on success, the message
 * with its code on failure, marked as an error for providers that flag failed tool calls).
 * `execute` still returns the whole `ToolResult`, so steps and `onStepFinish` keep `logId` and `code`.
 * ai 5 calls `toModelOutput(output)`; ai 6 and later call `toModelOutput({ toolCallId, input, output })`.
 */
function modelOutputOf(options: unknown): { type: 'text' | 'error-text'; value: string } {
  const isOptions = typeof options === 'object' && options !== null && 'toolCallId' in options && 'output' in options;
  const result = (isOptions ? options.output : options) as ToolResult;
  return { type: result.successful ? 'text' : 'error-text', value: formatToolResultForModel(result) };
}
