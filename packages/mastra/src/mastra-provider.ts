import type { StandardSchemaWithJSON } from '@mastra/core/schema';
import { createTool, type Tool } from '@mastra/core/tools';
import {
  type ExecuteFn,
  formatToolResultForModel,
  isErrorForModel,
  type JSONSchema,
  type Logger,
  openaiInputSchemaOf,
  type PropertyKeysMode,
  type Provider,
  plainJsonCopy,
  portableArgumentsOf,
  StrictSchemas,
  type ToolResult,
  type ToolSpec,
  uniqueNameWithin,
  withPortableKeys,
} from '@toolmux/core';
import { checkedProviderOptions, PORTABLE_PROVIDER_OPTION_KINDS } from '@toolmux/core/internal';
import { toolmuxToolMarks } from './tool-arguments.js';

/** A session tool as Mastra sees it: any input, toolmux's whole `ToolResult` as output. */
export type MastraTool = Tool<unknown, ToolResult>;

/**
 * What `session.tools()` returns with this provider: Mastra tools keyed by tool slug (a slug longer than
 * the 63 characters Mastra accepts as a tool name is keyed by a unique 63-character name; the tool's
 * `id` is always the slug).
 */
export type MastraToolSet = Record<string, MastraTool>;

export interface MastraProviderOptions {
  /**
   * Hand out schemas rewritten for OpenAI strict mode (optional fields become required and nullable,
   * `additionalProperties: false`) with the tool's `strict: true`, so model providers that support it
   * constrain the model's arguments to the schema. A tool whose schema cannot be strict is handed out
   * non-strict with a warning.
   *
   * Mastra also runs its own per-model schema rewrites ("schema compat layers", for OpenAI, Google,
   * Anthropic… models) on every tool that does not say `strict: false`. With the default `false`, every
   * tool says `strict: false`: its schema reaches the model exactly as toolmux shaped it, and toolmux
   * validates each call against the tool's original schema. With `true`, Mastra's layer for the model
   * applies on top of toolmux's strict schema.
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
 * toolmux provider for [Mastra](https://mastra.ai): `session.tools()` returns a record of Mastra tools
 * (`createTool()` from `@mastra/core/tools`) keyed by tool slug (`id` is the slug), ready for `new Agent({ tools })` or
 * `agent.generate(prompt, { toolsets })`. Each tool runs through the session (validation, accounts,
 * execution log) with the agent run's `abortSignal` and the model's tool call id. A failed tool does not
 * throw: the model reads its error message as the tool's output.
 *
 * @example
 * const mux = new ToolMux({ provider: new MastraProvider(), toolkits });
 * const session = await mux.create('user_123', { toolkits: ['github'] });
 * const agent = new Agent({ id: 'assistant', name: 'Assistant', instructions, model, tools: await session.tools() });
 * const { text } = await agent.generate('Star the octocat/hello-world repository');
 */
export class MastraProvider implements Provider<MastraToolSet> {
  readonly name = 'mastra';
  readonly strict: boolean;
  readonly propertyKeys: PropertyKeysMode;
  readonly #strict: StrictSchemas;

  constructor(options?: MastraProviderOptions) {
    const {
      strict = false,
      logger = console,
      propertyKeys = 'portable',
    } = checkedProviderOptions(options, 'MastraProvider', PORTABLE_PROVIDER_OPTION_KINDS);
    this.strict = strict;
    this.propertyKeys = propertyKeys;
    this.#strict = new StrictSchemas(strict, logger);
  }

  wrapTools(tools: readonly ToolSpec[], execute: ExecuteFn): MastraToolSet {
    const toolSet: MastraToolSet = {};
    const names = toolNamesOf(tools);
    const strict = this.#strict.shape(tools);
    for (const [index, spec] of tools.entries()) {
      const shaped = strict[index];
      const slug = spec.slug;
      // not strict: the schema OpenAI takes (it refuses a whole request over a pattern with lookaround
      // or an array without items, and the OpenAI client Mastra bundles sends schemas as they are); the
      // session still checks each call against the tool's own schema
      const schema = withPortableKeys(
        spec,
        shaped?.strict ? shaped.schema : openaiInputSchemaOf(spec),
        this.propertyKeys,
      );
      toolSet[names.get(slug)!] = createTool({
        id: slug,
        description: spec.description,
        inputSchema: passThroughSchema(schema),
        strict: shaped?.strict ?? false,
        execute: (input: unknown, context) =>
          execute(slug, portableArgumentsOf(spec, input, this.propertyKeys), {
            callId: context?.agent?.toolCallId || undefined,
            signal: context?.abortSignal,
          }),
        toModelOutput: modelOutputOf,
      }) as MastraTool;
    }
    return toolSet;
  }
}

/** The longest tool name a Mastra agent keeps: it renames longer ones, and throws when two collide. */
const MAX_NAME_LENGTH = 63;

/**
 * The key (and so the name the model sees) of each tool in the record: its slug, or for a slug longer
 * than Mastra accepts (toolmux allows 64 characters), its first 63 characters; where those are another
 * tool's name, they are shortened as toolmux shortens generated slugs ({@link uniqueNameWithin}: their
 * start and a hash of `<first 63>_2`, `_3`… until free). Starting from the first 63 characters keeps the
 * names these tools had before (a conversation that called one by it still finds it). Calls still run
 * the tool by its slug, and the execution log names the slug.
 */
function toolNamesOf(tools: readonly ToolSpec[]): Map<string, string> {
  const names = new Map<string, string>();
  const fitting = tools.filter(({ slug }) => slug.length <= MAX_NAME_LENGTH);
  const taken = new Set(fitting.map(({ slug }) => slug));
  for (const { slug } of fitting) names.set(slug, slug);
  for (const { slug } of tools) {
    if (!names.has(slug)) {
      names.set(slug, uniqueNameWithin(slug.slice(0, MAX_NAME_LENGTH), MAX_NAME_LENGTH, taken));
    }
  }
  return names;
}

/**
 * The tool's input schema for Mastra: a Standard Schema whose JSON Schema is a plain copy of the
 * session's (made when Mastra first asks for it, so wrapping stays cheap and changing it cannot reach
 * the session), and whose validation lets every value through: the session validates each call against
 * the tool's original schema, once, and answers the model with a message that names each bad field.
 */
function passThroughSchema(schema: JSONSchema): StandardSchemaWithJSON<unknown> {
  let copy: JSONSchema | undefined;
  const jsonSchema = () => {
    copy ??= plainJsonCopy(schema) as JSONSchema;
    return copy;
  };
  return {
    '~standard': {
      version: 1,
      vendor: 'toolmux',
      validate: (value) => ({ value }),
      jsonSchema: { input: jsonSchema, output: jsonSchema },
    },
  };
}

/**
 * What the model reads for a tool result: toolmux's text (the data as JSON on success, the message with
 * its code on failure, as an `error-text` output that model providers can mark as failed, as is a
 * workbench cell that failed: `isErrorForModel`). The tool's
 * output stays the whole `ToolResult`, so the run's `toolResults` keep `logId` and `code`.
 */
function modelOutputOf(output: unknown): { type: 'text' | 'error-text'; value: string } {
  const result = output as ToolResult;
  return { type: isErrorForModel(result) ? 'error-text' : 'text', value: formatToolResultForModel(result) };
}
// how answerUnparsedToolArguments() tells a step's toolmux tools (Mastra keeps each tool's toModelOutput)
toolmuxToolMarks.add(modelOutputOf);
