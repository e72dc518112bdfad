import type Anthropic from '@anthropic-ai/sdk';
import {
  ANTHROPIC_STRICT_LIMITS,
  type AnthropicStrictCost,
  anthropicArgumentsOf,
  anthropicStrictCost,
  anthropicStrictSchemaOf,
  type ExecuteFn,
  formatToolResultForModel,
  isErrorForModel,
  type Logger,
  type Provider,
  runToolCalls,
  type ToolResult,
  type ToolSpec,
  withAnthropicKeys,
} from '@toolmux/core';
import { checkedProviderOptions, PROVIDER_OPTION_KINDS } from '@toolmux/core/internal';

/**
 * What `session.handleToolCalls(message)` returns: the user message that answers every `tool_use`
 * block of the assistant's message, one `tool_result` block each (`is_error: true` for a failure and
 * for a workbench cell that failed: `isErrorForModel`).
 */
export interface AnthropicToolResultMessage {
  role: 'user';
  content: Anthropic.ToolResultBlockParam[];
}

export interface AnthropicProviderOptions {
  /**
   * Hand tools out with `strict: true` (Anthropic's strict tool use, constrained decoding): each
   * schema is rewritten by toolmux (optional fields become required and nullable,
   * `additionalProperties: false`, numeric and length bounds moved into descriptions). A tool whose
   * schema cannot be strict (records, free-form objects, recursion…) is handed out without `strict`,
   * alone, with a warning. Arguments are validated against the original schema either way.
   * @default false
   */
  strict?: boolean;
  /** Receives the warning that lists tools handed out non-strict under `strict: true`. @default console */
  logger?: Pick<Logger, 'warn'>;
}

/**
 * toolmux provider for the official `@anthropic-ai/sdk`: `session.tools()` returns `Anthropic.Tool[]`
 * for `anthropic.messages.create({ tools })`, and `session.handleToolCalls(message)` runs every
 * `tool_use` block of the model's message through the session (in parallel, each with its id) and
 * returns the user message of `tool_result` blocks to send back. A failed tool is a `tool_result`
 * with `is_error: true` and a message the model can act on, never a throw.
 *
 * @example
 * const mux = new ToolMux({ provider: new AnthropicProvider(), toolkits });
 * const session = await mux.create('user_123', { toolkits: ['github'] });
 * const message = await anthropic.messages.create({ model, max_tokens, messages, tools: await session.tools() });
 * messages.push({ role: 'assistant', content: message.content }, await session.handleToolCalls(message));
 */
export class AnthropicProvider
  implements
    Provider<Anthropic.Tool[], Anthropic.Message | Anthropic.Beta.BetaMessage, AnthropicToolResultMessage>
{
  readonly name = 'anthropic';
  readonly strict: boolean;
  readonly #logger: Pick<Logger, 'warn'>;
  /**
   * The tool last handed out under each slug: what `handleToolCalls` reads renamed property keys
   * back by when it is called without the session's specs (a caller of its own).
   */
  readonly #specs = new Map<string, ToolSpec>();

  constructor(options?: AnthropicProviderOptions) {
    const { strict = false, logger = console } = checkedProviderOptions(
      options,
      'AnthropicProvider',
      PROVIDER_OPTION_KINDS,
    );
    this.strict = strict;
    this.#logger = logger;
  }

  wrapTools(specs: readonly ToolSpec[], _execute: ExecuteFn): Anthropic.Tool[] {
    for (const spec of specs) this.#specs.set(spec.slug, spec);
    if (!this.strict) return specs.map((spec) => anthropicTool(spec, spec.inputSchema));
    const fallbacks: string[] = [];
    // what the strict tools so far spend of the request's limits (the API refuses all beyond them)
    const spent = { tools: 0, optionalParameters: 0, unionParameters: 0 };
    const tools = specs.map((spec) => {
      const shaped = anthropicStrictSchemaOf(spec);
      const over = shaped.strict ? overLimit(spent, anthropicStrictCost(shaped.schema)) : shaped.reason;
      if (shaped.strict && over === undefined) {
        const cost = anthropicStrictCost(shaped.schema);
        spent.tools++;
        spent.optionalParameters += cost.optionalParameters;
        spent.unionParameters += cost.unionParameters;
        const tool = anthropicTool(spec, shaped.schema);
        tool.strict = true;
        return tool;
      }
      fallbacks.push(`${spec.slug}: ${over}`);
      return anthropicTool(spec, spec.inputSchema);
    });
    if (fallbacks.length > 0) {
      this.#logger.warn(
        `toolmux: ${fallbacks.length} tool(s) cannot use Anthropic strict tool use and are handed out without strict (arguments are still validated):\n  ${fallbacks.join('\n  ')}`,
      );
    }
    return tools;
  }

  /**
   * Runs the `tool_use` blocks of a message of `anthropic.messages.create()` or of
   * `anthropic.beta.messages.create()` (whose server-side tool blocks are not toolmux's and are left
   * alone); what it returns goes into the next request of either. Property keys handed out renamed
   * (see {@link anthropicTool}) are read back as the tool's own keys before the call runs. A call the
   * message was cut off in (see {@link cutOffUse}) does not run: its result tells the model so.
   */
  async handleToolCalls(
    message: Anthropic.Message | Anthropic.Beta.BetaMessage,
    execute: ExecuteFn,
    tools?: ReadonlyMap<string, ToolSpec>,
  ): Promise<AnthropicToolResultMessage> {
    const blocks: ReadonlyArray<Anthropic.ContentBlock | Anthropic.Beta.BetaContentBlock> = message.content;
    const uses = blocks.filter((block) => block.type === 'tool_use');
    const cut = cutOffUse(message);
    const complete = uses.filter((use) => use !== cut);
    const ran = await runToolCalls(
      complete.map((use) => {
        const spec = tools?.get(use.name) ?? this.#specs.get(use.name);
        return {
          id: use.id,
          name: use.name,
          arguments: spec ? anthropicArgumentsOf(spec, use.input) : use.input,
        };
      }),
      execute,
    );
    const results = uses.map((use) =>
      use === cut ? cutOffResult(use.name, message.stop_reason!) : ran[complete.indexOf(use)]!,
    );
    return {
      role: 'user',
      content: results.map((result, index) => ({
        type: 'tool_result',
        tool_use_id: uses[index]!.id,
        content: formatToolResultForModel(result),
        ...(isErrorForModel(result) ? { is_error: true } : {}),
      })),
    };
  }
}

/** Stop reasons of a message cut off before its end: its last block may be cut off too. */
const CUT_OFF_STOP_REASONS = new Set(['max_tokens', 'model_context_window_exceeded']);

/**
 * The `tool_use` block a message was cut off in, if any: its last block, when the message stopped at
 * the token limit (`stop_reason: 'max_tokens'`) or the context window. Its input is what the model
 * had written by then (`messages.stream()`'s `finalMessage()` parses the cut JSON as far as it goes:
 * a string cut short, fields missing), so it must not run. The blocks before it are complete.
 */
function cutOffUse(message: Anthropic.Message | Anthropic.Beta.BetaMessage) {
  if (message.stop_reason === null || !CUT_OFF_STOP_REASONS.has(message.stop_reason)) return undefined;
  const last: Anthropic.ContentBlock | Anthropic.Beta.BetaContentBlock | undefined = message.content.at(-1);
  return last?.type === 'tool_use' ? last : undefined;
}

/** The answer to a call cut off with its message: it did not run, and the model is told why. */
function cutOffResult(name: string, stopReason: string): ToolResult {
  return {
    successful: false,
    data: null,
    error: `The call of ${name} was cut off with the response (stop_reason: ${stopReason}), so its arguments are incomplete and it did not run. Call it again with all of its arguments; if they are long, the request's max_tokens may need to be larger.`,
    code: 'TOOL_ARGUMENTS_INVALID',
    logId: '',
  };
}

/** Which of Anthropic's limits on the strict tools of one request `cost` would pass, if any. */
function overLimit(
  spent: { tools: number } & AnthropicStrictCost,
  cost: AnthropicStrictCost,
): string | undefined {
  const limits = ANTHROPIC_STRICT_LIMITS;
  if (spent.tools + 1 > limits.tools) {
    return `Anthropic takes at most ${limits.tools} strict tools in one request`;
  }
  if (spent.optionalParameters + cost.optionalParameters > limits.optionalParameters) {
    return `Anthropic takes at most ${limits.optionalParameters} optional parameters in the strict tools of one request`;
  }
  if (spent.unionParameters + cost.unionParameters > limits.unionParameters) {
    return `Anthropic takes at most ${limits.unionParameters} parameters with a union type (anyOf or a type list) in the strict tools of one request`;
  }
  return undefined;
}

/**
 * A tool as the Messages API takes it. Property keys the API refuses (`filter[id]`, `first name`, more
 * than 64 characters: it refuses the whole request for one) are handed out renamed, each renamed
 * property's description naming the tool's own key; `handleToolCalls` reads them back.
 */
function anthropicTool(spec: ToolSpec, schema: ToolSpec['inputSchema']): Anthropic.Tool {
  return {
    name: spec.slug,
    description: spec.description,
    input_schema: withAnthropicKeys(spec, schema) as Anthropic.Tool.InputSchema,
  };
}
