import {
  type ExecuteFn,
  formatToolResultForModel,
  isErrorForModel,
  type Logger,
  openaiInputSchemaOf,
  type PropertyKeysMode,
  type Provider,
  plainJsonCopy,
  portableArgumentsOf,
  StrictSchemas,
  type ToolResult,
  type ToolSpec,
  withPortableKeys,
} from '@toolmux/core';
import { checkedProviderOptions, PORTABLE_PROVIDER_OPTION_KINDS } from '@toolmux/core/internal';
import { dynamicTool, type JSONSchema7, jsonSchema } from 'ai';

export interface VercelProviderOptions {
  /**
   * Hand out schemas rewritten for OpenAI strict mode (optional fields become required and nullable,
   * `additionalProperties: false`) and set the AI SDK's per-tool `strict: true` (ai 6 and later), so
   * providers that support it constrain the model's arguments to the schema. A tool whose schema
   * cannot be strict is handed out non-strict (`strict: false`) with a warning.
   * @default false
   */
  strict?: boolean;
  /**
   * Where the warning about tools that fall back to non-strict goes: one warning per `wrapTools()`
   * call, naming each tool the first time it falls back. @default console
   */
  logger?: Pick<Logger, 'warn'>;
  /**
   * `'portable'`: property keys a major model API refuses (Anthropic: `filter[id]`, `first name`,
   * longer than 64 characters, at any depth; Gemini: `page-size` as a parameter name) are handed out
   * renamed, each renamed property's description naming the tool's own key, and the model's
   * arguments are read back to the tool's keys. `'unchanged'`: keys as the tool has them.
   * @default 'portable'
   */
  propertyKeys?: PropertyKeysMode;
}

/**
 * What `session.tools()` returns with the {@link VercelProvider}: an `ai` `ToolSet` of dynamic tools
 * (`dynamicTool()`) keyed by tool slug. Their calls and results are `dynamic: true` with `input` and
 * `output` typed `unknown` (the tools are known only at run time), so in `generateText` results they
 * never turn the types of your own `tool()`s beside them into `any`.
 */
export type VercelToolSet = Record<string, ReturnType<typeof dynamicTool>>;

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
export class VercelProvider implements Provider<VercelToolSet> {
  readonly name = 'vercel';
  readonly strict: boolean;
  readonly propertyKeys: PropertyKeysMode;
  readonly #strict: StrictSchemas;

  constructor(options?: VercelProviderOptions) {
    const {
      strict = false,
      logger = console,
      propertyKeys = 'portable',
    } = checkedProviderOptions(options, 'VercelProvider', PORTABLE_PROVIDER_OPTION_KINDS);
    this.strict = strict;
    this.propertyKeys = propertyKeys;
    this.#strict = new StrictSchemas(strict, logger);
  }

  wrapTools(tools: readonly ToolSpec[], execute: ExecuteFn): VercelToolSet {
    const toolSet: VercelToolSet = {};
    const strict = this.#strict.shape(tools);
    for (const [index, spec] of tools.entries()) {
      const shaped = strict[index];
      // not strict: the schema OpenAI takes (a whole request is refused over a pattern with lookaround
      // or an array without items, and OpenAI models are the ones most often used); the session still
      // checks each call against the tool's own schema
      const schema = withPortableKeys(
        spec,
        shaped?.strict ? shaped.schema : openaiInputSchemaOf(spec),
        this.propertyKeys,
      );
      const options: Parameters<typeof dynamicTool>[0] = {
        description: spec.description,
        inputSchema: jsonSchema(() => plainJsonCopy(schema) as JSONSchema7),
        execute: (args, { toolCallId, abortSignal }) =>
          execute(spec.slug, portableArgumentsOf(spec, args, this.propertyKeys), {
            callId: toolCallId,
            signal: abortSignal,
          }),
        toModelOutput: modelOutputOf,
      };
      // ai ≥ 6 hands `strict` to the model provider; left unset, the provider's default applies
      if (shaped) options.strict = shaped.strict;
      toolSet[spec.slug] = dynamicTool(options);
    }
    return toolSet;
  }
}

/**
 * What the model reads for a tool result: toolmux's text (the data as JSON on success, the message
 * with its code on failure, marked as an error for providers that flag failed tool calls; so is a
 * workbench cell that failed, see `isErrorForModel`).
 * `execute` still returns the whole `ToolResult`, so steps and `onStepFinish` keep `logId` and `code`.
 * ai 5 calls `toModelOutput(output)`; ai 6 and later call `toModelOutput({ toolCallId, input, output })`.
 */
function modelOutputOf(options: unknown): { type: 'text' | 'error-text'; value: string } {
  const isOptions =
    typeof options === 'object' && options !== null && 'toolCallId' in options && 'output' in options;
  const result = (isOptions ? options.output : options) as ToolResult;
  return { type: isErrorForModel(result) ? 'error-text' : 'text', value: formatToolResultForModel(result) };
}
