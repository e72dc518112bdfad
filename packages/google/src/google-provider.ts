import type { FunctionDeclaration, GenerateContentResponse, Part, Schema } from '@google/genai';
import {
  type ExecuteFn,
  formatToolResultForModel,
  type GeminiSchemaResult,
  geminiArgumentsOf,
  geminiSchemaOf,
  isErrorForModel,
  type Logger,
  type Provider,
  runToolCalls,
  ToolMuxError,
  type ToolResult,
  type ToolSpec,
} from '@toolmux/core';
import { checkedProviderOptions, PROVIDER_OPTION_KINDS } from '@toolmux/core/internal';

/** What `session.tools()` returns: one `Tool` with every function declaration, for `config.tools`. */
export type GoogleTools = [{ functionDeclarations: FunctionDeclaration[] }];

export interface GoogleProviderOptions {
  /**
   * Every provider takes `strict`; Gemini has nothing it could switch on. A function declaration has
   * no strict flag (OpenAI's constrained decoding per tool): `false` is what this provider does
   * anyway (each schema shaped into Gemini's subset, arguments validated by the session), and `true`
   * is refused with `CONFIG_INVALID`. The closest Gemini setting is per request, not per tool:
   * `config.toolConfig.functionCallingConfig.mode: FunctionCallingConfigMode.VALIDATED` in your
   * `generateContent()` call. @default false
   */
  strict?: boolean;
  /**
   * Where the warning about schemas shaped with loss goes: one warning per `wrapTools()` call, naming
   * each tool whose schema has a constraint Gemini's schema subset cannot declare (it is described in
   * the tool's descriptions instead, and still checked when the tool runs). @default console
   */
  logger?: Pick<Logger, 'warn'>;
}

/**
 * toolmux provider for Google's Gen AI SDK (`@google/genai`): `session.tools()` returns
 * `[{ functionDeclarations }]` for `ai.models.generateContent({ config: { tools } })`, each schema
 * shaped into the OpenAPI 3.0 subset Gemini accepts (one type with `nullable`, string enums, no
 * `$ref` or `additionalProperties`; free-form objects are sent as JSON strings and parsed back), and
 * `session.handleToolCalls(response)` runs every function call of the response through the session
 * (in parallel, each with its id when Gemini gives one) and returns the `functionResponse` parts to
 * send back. A failed tool is a `functionResponse` with an `error` the model can act on, never a throw.
 *
 * @example
 * const mux = new ToolMux({ provider: new GoogleProvider(), toolkits });
 * const session = await mux.create('user_123', { toolkits: ['github'] });
 * const config = { tools: await session.tools() };
 * const response = await ai.models.generateContent({ model, contents, config });
 * contents.push(response.candidates[0].content, { role: 'user', parts: await session.handleToolCalls(response) });
 */
export class GoogleProvider implements Provider<GoogleTools, GenerateContentResponse, Part[]> {
  readonly name = 'google';
  readonly #logger: Pick<Logger, 'warn'>;
  readonly #warned = new Set<string>();
  /**
   * How the tool last declared under a slug was shaped (renamed parameter names, JSON strings): what
   * `handleToolCalls` reads arguments back by when it is called without the session's specs (a caller
   * of its own).
   */
  readonly #shaped = new Map<string, GeminiSchemaResult>();
  readonly #declarations = new WeakMap<ToolSpec, FunctionDeclaration>();

  constructor(options?: GoogleProviderOptions) {
    const { strict = false, logger = console } = checkedProviderOptions(
      options,
      'GoogleProvider',
      PROVIDER_OPTION_KINDS,
    );
    if (strict !== false) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `GoogleProvider does not take strict: ${JSON.stringify(strict)}: a Gemini function declaration has no strict mode to switch on (its schemas are shaped into Gemini's subset and every call's arguments are validated by the session either way). Leave strict out or set it to false; to have Gemini check its function calls against the declarations, set config.toolConfig.functionCallingConfig.mode to FunctionCallingConfigMode.VALIDATED in your generateContent() call.`,
      });
    }
    this.#logger = logger;
  }

  wrapTools(specs: readonly ToolSpec[], _execute: ExecuteFn): GoogleTools {
    const loosened: string[] = [];
    const functionDeclarations = specs.map((spec) => {
      this.#shaped.set(spec.slug, geminiSchemaOf(spec));
      let declaration = this.#declarations.get(spec);
      if (!declaration) {
        declaration = this.#declare(spec, loosened);
        this.#declarations.set(spec, declaration);
      }
      return declaration;
    });
    if (loosened.length > 0) {
      this.#logger.warn(
        `toolmux: ${loosened.length} tool(s) have constraints Gemini's schema subset cannot declare; they are described to the model instead (arguments are still validated):\n  ${loosened.join('\n  ')}`,
      );
    }
    return [{ functionDeclarations }];
  }

  /** A tool's declaration, made once per spec (the spec and its shaped schema do not change). */
  #declare(spec: ToolSpec, loosened: string[]): FunctionDeclaration {
    const shaped = geminiSchemaOf(spec);
    if (shaped.loosened.length > 0 && !this.#warned.has(spec.slug)) {
      this.#warned.add(spec.slug);
      loosened.push(`${spec.slug}: ${shaped.loosened.join('; ')}`);
    }
    const declaration: FunctionDeclaration = { name: spec.slug, description: spec.description };
    if (shaped.parameters) declaration.parameters = shaped.parameters as Schema;
    return declaration;
  }

  /**
   * How the tool `name` of `tools` (else the one last declared as `name`) was shaped: two sessions may
   * declare one slug differently.
   */
  #shapedFor(name: string, tools: ReadonlyMap<string, ToolSpec> | undefined) {
    const spec = tools?.get(name);
    return spec ? geminiSchemaOf(spec) : this.#shaped.get(name);
  }

  async handleToolCalls(
    response: GenerateContentResponse,
    execute: ExecuteFn,
    tools?: ReadonlyMap<string, ToolSpec>,
  ): Promise<Part[]> {
    const functionCalls = (response.candidates?.[0]?.content?.parts ?? []).flatMap((part) =>
      part.functionCall ? [part.functionCall] : [],
    );
    const results = await runToolCalls(
      functionCalls.map((call) => {
        const name = call.name ?? '';
        const shaped = this.#shapedFor(name, tools);
        const args = call.args ?? {};
        return { id: call.id, name, arguments: shaped ? geminiArgumentsOf(args, shaped) : args };
      }),
      execute,
    );
    return results.map((result, index) => {
      const { id, name } = functionCalls[index]!;
      return {
        functionResponse: {
          ...(id ? { id } : {}),
          name,
          response: responseOf(result),
        },
      };
    });
  }
}

/**
 * A `functionResponse`'s `response`: a success's data under `output`; a failure's text under `error`,
 * and so the answer of a workbench cell that failed (its `{ result, logs, error }`, as it is), which
 * Gemini's `error` key marks as the call's failure.
 */
function responseOf(result: ToolResult): Record<string, unknown> {
  if (!result.successful) return { error: formatToolResultForModel(result) };
  return isErrorForModel(result) ? { error: result.data } : { output: result.data };
}
