import type { JSONSchema } from './catalog/types.js';
import { ToolMuxError } from './errors.js';
import { stripStrictNulls } from './execution/execute.js';
import type { ToolResult } from './execution/result.js';
import {
  ALL_META_TOOL_SLUGS,
  CELL_CALL_HOOKS,
  EACH_CALL_RESULT,
  type EachCallResult,
  entryArguments,
  META_TOOLKIT,
  type MultiExecuteOptions,
  metaToolKind,
} from './meta-tools/meta-tools.js';
import type { ExecuteFn, ToolSpec } from './provider.js';
import { shapeInputSchema } from './schema/shape.js';
import { shownValue } from './util/stored-text.js';

/** What a schema modifier is told: which tool, and the input schema the model would see. */
export interface ModifySchemaContext {
  slug: string;
  toolkit: string;
  schema: JSONSchema;
}

/** What `beforeExecute` is told: which tool the model calls, with which arguments. */
export interface BeforeExecuteContext {
  slug: string;
  toolkit: string;
  args: Record<string, unknown>;
}

/** What `afterExecute` is told: which tool ran, and its result. */
export interface AfterExecuteContext {
  slug: string;
  toolkit: string;
  result: ToolResult;
}

/**
 * Hooks around the tools a provider hands to the model (`session.tools(modifiers)`,
 * `mux.tools.get(userId, filter, modifiers)`), the same for every provider. Each receives the tool's
 * slug and toolkit (`toolmux` for meta-tools). Through `TOOLMUX_MULTI_EXECUTE_TOOL` the hooks run for
 * each tool it runs (never for the wrapper itself), and `modifySchema` also rewrites the input
 * schemas `TOOLMUX_SEARCH_TOOLS` and `TOOLMUX_GET_TOOL_SCHEMAS` return, so the model sees one schema
 * per tool however it finds it. A hook that throws makes the call throw (nothing runs after it).
 *
 * @example
 * const tools = await session.tools({
 *   modifySchema: ({ slug, schema }) =>
 *     slug === 'GITHUB_CREATE_ISSUE' ? withoutProperty(schema, 'owner') : schema,
 *   beforeExecute: ({ slug, args }) => (slug === 'GITHUB_CREATE_ISSUE' ? { ...args, owner: 'acme' } : args),
 *   afterExecute: ({ result }) => (result.successful ? { ...result, data: trim(result.data) } : result),
 * });
 */
export interface ToolModifiers {
  /** Changes the input schema the model sees; return it unchanged for tools you leave alone. */
  modifySchema?: (context: ModifySchemaContext) => JSONSchema;
  /** Changes the arguments before the call runs (after the model chose them). */
  beforeExecute?: (
    context: BeforeExecuteContext,
  ) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Changes the result before the model reads it (the execution log keeps the original). */
  afterExecute?: (context: AfterExecuteContext) => ToolResult | Promise<ToolResult>;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * What a hook returned, when it is not what the hook must return: INVALID_REQUEST naming the hook,
 * the tool and the value, thrown like an error of the hook itself (a hook that changes its argument
 * in place and returns nothing would otherwise run the call with `{}`, or hand the model `undefined`).
 */
function badReturn(hook: string, slug: string, got: string, must: string): ToolMuxError {
  return new ToolMuxError({
    code: 'INVALID_REQUEST',
    message: `${hook} returned ${got} for ${slug}: it must return ${must}.`,
    details: { hook, slug },
  });
}

/** True when at least one hook is given (a bare `{}` changes nothing). */
export function hasModifiers(modifiers: ToolModifiers | undefined): modifiers is ToolModifiers {
  return Boolean(modifiers?.modifySchema || modifiers?.beforeExecute || modifiers?.afterExecute);
}

/** How many shaped schemas one `tools()` keeps for its listings (a catalog's worth; then it starts again). */
const MAX_SHAPED_SCHEMAS = 2_000;

/** What `applyToolModifiers` may ask about a tool the specs do not include. */
export interface UnlistedTools {
  /** The toolkit of a tool the model reached through search or named in a multi-execute. */
  toolkitOf?: (slug: string) => string | undefined;
  /**
   * The input schema a listing would show for a tool (before `modifySchema`), for a call of a tool the
   * model never saw listed (a multi-execute or workbench entry it named without searching).
   */
  inputSchemaOf?: (slug: string) => JSONSchema | undefined | Promise<JSONSchema | undefined>;
  /**
   * The toolkit of a tool neither the specs nor `toolkitOf` know, read where it is kept (a remote
   * session asks the server), for the hooks' `toolkit`.
   */
  readToolkitOf?: (slug: string) => Promise<string | undefined>;
}

/**
 * The specs and the execute function a provider wraps, with `modifiers` applied. `unlisted` tells
 * the toolkit and input schema of a tool the specs do not include (one the model reached through
 * search, or named in a multi-execute entry); slugs it does not know are learned from the search
 * and schema results that pass through here.
 */
export function applyToolModifiers(
  specs: readonly ToolSpec[],
  execute: ExecuteFn,
  modifiers: ToolModifiers,
  unlisted: UnlistedTools = {},
): { specs: ToolSpec[]; execute: ExecuteFn } {
  const { toolkitOf = () => undefined, inputSchemaOf, readToolkitOf } = unlisted;
  const { modifySchema, beforeExecute, afterExecute } = modifiers;
  const seen = new Map<string, string>(specs.map((spec) => [spec.slug, spec.toolkit]));
  const toolkit = (slug: string) => seen.get(slug) ?? toolkitOf(slug) ?? '';

  // the shaped form of each schema modifySchema returned, by its JSON text: search and schema results
  // list the same tools again and again, and shaping one (refs, keywords, the meta-schema check) costs
  // ~50x writing its JSON
  const shapedByText = new Map<string, JSONSchema>();
  const schemaOf = (slug: string, kit: string, schema: JSONSchema): JSONSchema => {
    if (!modifySchema) return schema;
    const modified = modifySchema({ slug, toolkit: kit, schema: structuredClone(schema) });
    if (!isRecord(modified)) {
      throw badReturn(
        'modifySchema',
        slug,
        shownValue(modified),
        'the input schema (an object), the one it was given if unchanged',
      );
    }
    const text = JSON.stringify(modified);
    let shaped = shapedByText.get(text);
    if (shaped === undefined) {
      shaped = shapeInputSchema(modified).schema;
      if (shapedByText.size >= MAX_SHAPED_SCHEMAS) shapedByText.clear();
      shapedByText.set(text, shaped);
    }
    return shaped;
  };

  const modifiedSpecs = specs.map((spec): ToolSpec => {
    if (!modifySchema) return spec;
    const { strictInputSchema: _strict, ...rest } = spec;
    const inputSchema = schemaOf(spec.slug, spec.toolkit, spec.inputSchema);
    // A meta-tool's hand-written strict schema only holds while its input schema is unchanged.
    return JSON.stringify(inputSchema) === JSON.stringify(spec.inputSchema) ? spec : { ...rest, inputSchema };
  });

  // the input schema the model saw for each tool (as handed out, or as a search or schema result
  // listed it, or as one would list it for a tool the model named without a listing): the nulls
  // strict mode sends for its optional fields are stripped by it before beforeExecute, so the hook
  // gets the arguments a model without strict mode sends (one that fills in a field the model left
  // out would otherwise spread the model's null over its default), whichever way the call came
  const shownSchemas = new Map<string, JSONSchema>();
  const shownSchemaOf = async (slug: string): Promise<JSONSchema | undefined> => {
    const shown = shownSchemas.get(slug);
    if (shown !== undefined || !inputSchemaOf) return shown;
    const own = await inputSchemaOf(slug);
    if (own === undefined) return undefined;
    const listed = schemaOf(slug, toolkit(slug), own);
    shownSchemas.set(slug, listed);
    return listed;
  };
  /** Learns the toolkit of a tool nothing listed (a remote session's multi-execute entry), for a hook. */
  const learnToolkit = async (slug: string): Promise<void> => {
    if (!readToolkitOf || toolkit(slug) !== '') return;
    const kit = await readToolkitOf(slug);
    if (kit !== undefined && !seen.has(slug)) seen.set(slug, kit);
  };
  const before = async (slug: string, given: unknown): Promise<unknown> => {
    if (!beforeExecute || !isRecord(given)) return given;
    // the toolkit first: modifySchema is told it as it shapes the schema the model would have seen
    await learnToolkit(slug);
    const schema = await shownSchemaOf(slug);
    const stripped = schema === undefined ? given : await stripStrictNulls(schema, given);
    const args = isRecord(stripped) ? stripped : given;
    const changed: unknown = await beforeExecute({ slug, toolkit: toolkit(slug), args });
    if (!isRecord(changed)) {
      throw badReturn(
        'beforeExecute',
        slug,
        shownValue(changed),
        'the arguments to run with (an object), args if unchanged',
      );
    }
    return changed;
  };
  const after = async (slug: string, result: ToolResult): Promise<ToolResult> => {
    if (!afterExecute) return result;
    await learnToolkit(slug);
    const changed: unknown = await afterExecute({ slug, toolkit: toolkit(slug), result });
    if (!isRecord(changed) || typeof changed.successful !== 'boolean') {
      throw badReturn(
        'afterExecute',
        slug,
        isRecord(changed) ? 'an object without successful (true or false)' : shownValue(changed),
        'a tool result ({ successful, data, error }), the one it was given if unchanged',
      );
    }
    return changed as unknown as ToolResult;
  };

  /** Search and schema results: learn the toolkits, and show the modified schemas. */
  const rewriteListed = (result: ToolResult): ToolResult => {
    if (!result.successful || !isRecord(result.data)) return result;
    const rewrite = (tool: unknown) => {
      if (!isRecord(tool) || typeof tool.tool_slug !== 'string' || typeof tool.toolkit !== 'string')
        return tool;
      seen.set(tool.tool_slug, tool.toolkit);
      if (!isRecord(tool.input_schema)) return tool;
      const shown = schemaOf(tool.tool_slug, tool.toolkit, tool.input_schema as JSONSchema);
      shownSchemas.set(tool.tool_slug, shown);
      return shown === tool.input_schema ? tool : { ...tool, input_schema: shown };
    };
    const data = result.data;
    if (isRecord(data.tool_schemas)) {
      // Composio's shape (metaToolNames: 'composio'): schemas keyed by slug
      return {
        ...result,
        data: {
          ...data,
          tool_schemas: Object.fromEntries(
            Object.entries(data.tool_schemas).map(([slug, tool]) => [slug, rewrite(tool)]),
          ),
        },
      };
    }
    if (Array.isArray(data.results)) {
      return {
        ...result,
        data: {
          ...data,
          results: data.results.map((entry: unknown) =>
            isRecord(entry) && Array.isArray(entry.tools)
              ? { ...entry, tools: entry.tools.map(rewrite) }
              : entry,
          ),
        },
      };
    }
    if (Array.isArray(data.tools)) return { ...result, data: { ...data, tools: data.tools.map(rewrite) } };
    return result;
  };

  /**
   * A multi-execute: `beforeExecute` on each call's arguments here, before anything runs;
   * `afterExecute` on each call's result in the multi-execute itself (`EACH_CALL_RESULT`), before the
   * results are counted, shaped or saved to the workbench files. (Run here on the answer, it never
   * saw a result offloaded there: the model read the tool's own data in the file and its preview.)
   */
  const multiExecute: ExecuteFn = async (slug, args, options) => {
    const input = args as { tools?: unknown };
    let calls = args;
    // each entry on its own, as the multi-execute runs them: one entry that is no call (which fails
    // alone) must not let the others run without the hook
    if (beforeExecute && isRecord(input) && Array.isArray(input.tools)) {
      const changed = await Promise.all(
        input.tools.map(async (call: unknown) => {
          if (!isRecord(call) || typeof call.tool_slug !== 'string') return call;
          // the arguments the call runs with, read as the multi-execute reads them
          const args = entryArguments(call.arguments);
          // arguments that are no object fail their call before it runs: no hook to run
          return isRecord(args) ? { ...call, arguments: await before(call.tool_slug, args) } : call;
        }),
      );
      calls = { ...input, tools: changed };
    }
    if (!afterExecute) return execute(slug, calls, options);
    // what a hook throws is thrown here, as for a tool called directly (the multi-execute itself
    // answers a failure once its calls have answered)
    let thrown: { error: unknown } | undefined;
    const eachResult: EachCallResult = async (called, result) => {
      try {
        return await after(called, result);
      } catch (error) {
        thrown ??= { error };
        throw error;
      }
    };
    const withHook: MultiExecuteOptions = { ...options, [EACH_CALL_RESULT]: eachResult };
    const result = await execute(slug, calls, withHook);
    if (thrown) throw thrown.error;
    return result;
  };

  /**
   * A workbench cell: the hooks around the cell, as around any tool, and around each call its code
   * makes (`CELL_CALL_HOOKS`): code the model writes could call a tool with arguments `beforeExecute`
   * would have changed, and read a result `afterExecute` would have redacted. A hook that throws fails
   * that call in the cell (the tool does not run), then the cell's call throws it, as a hook of a
   * direct call does. `modifySchema` rewrites the schemas the cell's `toolmux.search` finds, as those
   * of TOOLMUX_SEARCH_TOOLS (`searched`).
   */
  const workbench: ExecuteFn = async (slug, args, options) => {
    let thrown: { error: unknown } | undefined;
    const failing =
      <A extends unknown[], R>(hook: (...given: A) => Promise<R>) =>
      async (...given: A): Promise<R> => {
        try {
          return await hook(...given);
        } catch (error) {
          thrown ??= { error };
          throw error;
        }
      };
    const searched = async (found: unknown): Promise<unknown> =>
      rewriteListed({ successful: true, data: found, error: null, logId: '' }).data;
    const withHooks: MultiExecuteOptions = {
      ...options,
      [CELL_CALL_HOOKS]: {
        before: failing(before),
        after: failing(after),
        ...(modifySchema ? { searched: failing(searched) } : {}),
      },
    };
    const result = await execute(slug, await before(slug, args), withHooks);
    if (thrown) throw thrown.error;
    return after(slug, result);
  };

  const modifiedExecute: ExecuteFn = async (slug, args, options) => {
    const kind = metaToolKind(slug);
    // never the hooks of the multi-execute itself, only those of its calls
    if (kind === 'MULTI_EXECUTE_TOOL') return multiExecute(slug, args, options);
    if (kind === 'WORKBENCH' && (beforeExecute || afterExecute || modifySchema))
      return workbench(slug, args, options);
    const result = await execute(slug, await before(slug, args), options);
    const listed = kind === 'SEARCH_TOOLS' || kind === 'GET_TOOL_SCHEMAS' ? rewriteListed(result) : result;
    return after(slug, listed);
  };

  for (const spec of modifiedSpecs) shownSchemas.set(spec.slug, spec.inputSchema);
  for (const slug of ALL_META_TOOL_SLUGS) if (!seen.has(slug)) seen.set(slug, META_TOOLKIT.slug);
  return { specs: modifiedSpecs, execute: modifiedExecute };
}
