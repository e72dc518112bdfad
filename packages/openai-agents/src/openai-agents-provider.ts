import { type FunctionTool, tool, UserError } from '@openai/agents-core';
import {
  type ExecuteFn,
  formatToolResultForModel,
  type JSONSchema,
  type Logger,
  openaiInputSchemaOf,
  type PropertyKeysMode,
  type Provider,
  portableArgumentsOf,
  strictSchemaOf,
  ToolMuxError,
  type ToolSpec,
  withPortableKeys,
} from '@toolmux/core';
import {
  checkedProviderOptions,
  type OptionKind,
  PORTABLE_PROVIDER_OPTION_KINDS,
  quotedMessage,
  shownValue,
} from '@toolmux/core/internal';
import { toolmuxParameters } from './tool-arguments.js';

export interface OpenAIAgentsProviderOptions {
  /**
   * Hand tools out in OpenAI strict mode (`strict: true`, constrained decoding): each schema is
   * rewritten by toolmux (optional fields become required and nullable, `additionalProperties: false`).
   * A tool whose schema cannot be strict (records, free-form objects, tuples…) falls back to
   * `strict: false` on its own, with a warning.
   *
   * The default is `false`, unlike the SDK's own `tool()`: non-strict schemas reach the model
   * unchanged (formats, lengths, records and free-form objects included) and every tool works, while
   * toolmux validates every call against the original schema either way.
   * @default false
   */
  strict?: boolean;
  /** Receives the warning that lists tools handed out non-strict under `strict: true`. @default console */
  logger?: Pick<Logger, 'warn'>;
  /**
   * `'portable'`: property keys a major model API refuses (Anthropic: `filter[id]`, `first name`,
   * longer than 64 characters, at any depth; Gemini: `page-size` as a parameter name) are handed out
   * renamed, each renamed property's description naming the tool's own key, and the model's
   * arguments are read back to the tool's keys. The SDK runs other vendors' models too (`aisdk()` of
   * `@openai/agents-extensions`, OpenAI-compatible endpoints), where one such key fails every
   * request. `'unchanged'`: keys as the tool has them.
   * @default 'portable'
   */
  propertyKeys?: PropertyKeysMode;
  /**
   * The Agents SDK's time limit for each call of a tool, in milliseconds (the `timeoutMs` of its
   * `tool()`): a call still running then is stopped (its handler's signal aborts with the SDK's
   * `ToolTimeoutError`), the run goes on, and the model reads toolmux's answer, which the execution
   * log holds too: `Error (TOOL_ABORTED): <slug> was stopped by its caller's time limit
   * (ToolTimeoutError: Tool '<slug>' timed out after <ms>ms.)…`. A number is the limit of every tool,
   * the meta-tools included (a workbench cell, a wait for connections); a function gives each tool's
   * own, `undefined` for none. toolmux's own timeout of a tool (`defineTool({ timeoutMs })`) applies
   * either way, whichever ends first.
   *
   * @example
   * new OpenAIAgentsProvider({
   *   timeoutMs: (tool) => (tool.slug === 'TOOLMUX_WORKBENCH' ? 300_000 : 30_000),
   * });
   * @default undefined (no time limit of the SDK's)
   */
  timeoutMs?: number | ((tool: ToolSpec) => number | undefined);
}

/** The longest time limit the SDK takes (a timer's longest delay). */
const MAX_TIMEOUT_MS = 2_147_483_647;
const TIMEOUT_TAKES = `a number of milliseconds greater than 0 and at most ${MAX_TIMEOUT_MS}`;
const isTimeoutMs = (value: unknown): value is number =>
  typeof value === 'number' && value > 0 && value <= MAX_TIMEOUT_MS;

const OPENAI_AGENTS_OPTION_KINDS = {
  ...PORTABLE_PROVIDER_OPTION_KINDS,
  timeoutMs: {
    takes: `${TIMEOUT_TAKES}, or a function (tool) => that number or undefined`,
    test: (value: unknown) => isTimeoutMs(value) || typeof value === 'function',
  },
} as const satisfies Record<string, OptionKind>;

/**
 * Turns session tools into OpenAI Agents SDK function tools, for `new Agent({ tools })`.
 *
 * Each tool runs through the session (validation, accounts, timeout, execution log) and returns the
 * text of `formatToolResultForModel`: the data as JSON, or the error the model can act on. The run's
 * abort signal (`run(agent, input, { signal })`) and the model's tool call id are passed on.
 *
 * @example
 * const mux = new ToolMux({ provider: new OpenAIAgentsProvider(), toolkits });
 * const session = await mux.create('user_123', { toolkits: ['github'] });
 * const agent = new Agent({ name: 'Assistant', tools: await session.tools() });
 * const result = await run(agent, 'Star the octocat/hello-world repository');
 */
export class OpenAIAgentsProvider implements Provider<FunctionTool[]> {
  readonly name = 'openai-agents';
  readonly strict: boolean;
  readonly propertyKeys: PropertyKeysMode;
  readonly #logger: Pick<Logger, 'warn'>;
  readonly #timeoutMs: OpenAIAgentsProviderOptions['timeoutMs'];

  constructor(options?: OpenAIAgentsProviderOptions) {
    const {
      strict = false,
      logger = console,
      propertyKeys = 'portable',
      timeoutMs,
    } = checkedProviderOptions(options, 'OpenAIAgentsProvider', OPENAI_AGENTS_OPTION_KINDS);
    this.strict = strict;
    this.propertyKeys = propertyKeys;
    this.#logger = logger;
    this.#timeoutMs = timeoutMs;
  }

  wrapTools(specs: readonly ToolSpec[], execute: ExecuteFn): FunctionTool[] {
    const handOut = (spec: ToolSpec, parameters: JSONSchema, strict: boolean) =>
      functionTool(
        spec,
        { parameters, strict, mode: this.propertyKeys, timeoutMs: this.#timeoutOf(spec) },
        execute,
      );
    const nonStrict = (spec: ToolSpec) => handOut(spec, openaiInputSchemaOf(spec), false);
    if (!this.strict) return specs.map(nonStrict);
    const fallbacks: string[] = [];
    const tools = specs.map((spec) => {
      const strict = strictSchemaOf(spec);
      if (!strict.strict) {
        fallbacks.push(`${spec.slug}: ${strict.reason}`);
        return nonStrict(spec);
      }
      try {
        // The SDK checks a strict schema itself (the same checks it applies to MCP tools) and throws a
        // UserError for what it cannot normalize; such a tool falls back like one toolmux cannot rewrite.
        return handOut(spec, strict.schema, true);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        fallbacks.push(`${spec.slug}: ${error.message}`);
        return nonStrict(spec);
      }
    });
    if (fallbacks.length > 0) {
      this.#logger.warn(
        `toolmux: ${fallbacks.length} tool(s) cannot use OpenAI strict mode and are handed out with strict: false (arguments are still validated):\n  ${fallbacks.join('\n  ')}`,
      );
    }
    return tools;
  }

  /** The SDK's time limit of `spec`'s calls (`timeoutMs`): CONFIG_INVALID for one a function gave that the SDK cannot take. */
  #timeoutOf(spec: ToolSpec): number | undefined {
    const option = this.#timeoutMs;
    if (typeof option !== 'function') return option;
    const timeoutMs = option(spec);
    if (timeoutMs === undefined || isTimeoutMs(timeoutMs)) return timeoutMs;
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `OpenAIAgentsProvider: timeoutMs returned ${shownValue(timeoutMs)} for ${spec.slug}; it must return ${TIMEOUT_TAKES}, or undefined for no time limit.`,
    });
  }
}

/**
 * One session tool as a function tool: `parameters` with the keys a major model API refuses renamed
 * (`mode: 'portable'`), and each call's arguments read back to the tool's own keys. With `timeoutMs`,
 * a call past it is answered with what the session answered it once the SDK's abort stopped it (the
 * SDK stops waiting for it at once, and would answer "Tool '<slug>' timed out after <ms>ms.").
 */
function functionTool(
  spec: ToolSpec,
  shape: { parameters: JSONSchema; strict: boolean; mode: PropertyKeysMode; timeoutMs: number | undefined },
  execute: ExecuteFn,
): FunctionTool {
  const { parameters, strict, mode, timeoutMs } = shape;
  // each running call's answer, by the SDK's tool call (the same object in the details the SDK
  // hands `execute` and `timeoutErrorFunction`)
  const answers = new WeakMap<object, Promise<string>>();
  // `any`: the parameters are a JSON Schema known only at run time (the SDK types them as `unknown`).
  const functionTool = tool<any>({
    name: spec.slug,
    description: spec.description,
    parameters: withPortableKeys(spec, parameters, mode),
    strict,
    execute: (input, _runContext, details) => {
      const answer = execute(spec.slug, portableArgumentsOf(spec, input, mode), {
        signal: details?.signal,
        callId: details?.toolCall?.callId,
      }).then(formatToolResultForModel);
      if (timeoutMs !== undefined && details?.toolCall) answers.set(details.toolCall, answer);
      return answer;
    },
    errorFunction: describeFailure,
    timeoutMs,
    // the session's answer of the call the SDK stopped (without the call's details, as a direct
    // `invoke()` may give none, the SDK's own error)
    timeoutErrorFunction: (runContext, error, details) => {
      const answer = details?.toolCall ? answers.get(details.toolCall) : undefined;
      return (
        answer?.catch((failure: unknown) => describeFailure(runContext, failure)) ??
        describeFailure(runContext, error)
      );
    },
  });
  // what the SDK puts into model requests: how answerUnparsedToolArguments() knows toolmux's calls
  toolmuxParameters.add(functionTool.parameters);
  return functionTool;
}

/**
 * Only reached when no tool result exists: toolmux itself failed (a tool's own failure is a result),
 * or the tool was invoked directly (`tool.invoke()`) with input that is not JSON. Says what happened
 * instead of the SDK's "An error occurred while running the tool". In `run()` the SDK's runner parses
 * the arguments before the tool: arguments that are not JSON never get here, it answers them itself
 * ("An error occurred while parsing tool arguments…") unless the model is wrapped in
 * answerUnparsedToolArguments().
 */
function describeFailure(_runContext: unknown, error: unknown): string {
  return formatToolResultForModel({
    successful: false,
    data: null,
    error: quotedMessage(error),
    code: ToolMuxError.isInstance(error) ? error.code : undefined,
    logId: '',
  });
}
