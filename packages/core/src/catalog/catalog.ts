import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import { ALL_META_TOOL_SLUGS } from '../meta-tools/meta-tools.js';
import { spelledOut } from '../search/tokenize.js';
import type { SearchDocument } from '../search/tool-index.js';
import { ToolIndex } from '../search/tool-index.js';
import { didYouMean, NameMatcher } from '../util/closest-names.js';
import { runSteps, runStepsSliced, type Steps, WorkSlice } from '../util/slices.js';
import { shownValue } from '../util/stored-text.js';
import { toolSlugPrefix } from './define.js';
import type { Tool, Toolkit } from './types.js';

function customToolkit(slug: string): Toolkit {
  return {
    kind: 'toolmux.toolkit',
    slug,
    name: slug === 'custom' ? 'Custom tools' : slug,
    description: 'Tools defined by the application for this session.',
    tools: [],
    auth: [],
    baseUrl: undefined,
    categories: [],
    keywords: [],
    logo: undefined,
    noAuth: true,
  };
}

/**
 * Whether `toolkit` is one a toolkits listing's `search` text names (`needle`: trimmed, lower case):
 * its slug, name or description contains it, or one of its keywords does (nouns of its objects that
 * its name may not say: "memo" for a notes toolkit).
 */
export function toolkitMatchesSearch(toolkit: Toolkit, needle: string): boolean {
  return [toolkit.slug, toolkit.name, toolkit.description, ...toolkit.keywords].some((text) =>
    text.toLowerCase().includes(needle),
  );
}

/** The search document of a tool: what the index ranks on. */
export function searchDocumentOf(tool: Tool, toolkit: Toolkit | undefined): SearchDocument {
  const properties = (tool.inputSchema.properties ?? {}) as Record<string, { description?: unknown }>;
  const required = new Set(Array.isArray(tool.inputSchema.required) ? tool.inputSchema.required : []);
  return {
    slug: tool.slug,
    name: tool.name,
    description: tool.description,
    toolkit: tool.toolkit,
    toolkitName: toolkit?.name,
    parameters: Object.entries(properties).map(([name, schema]) => ({
      name,
      description: typeof schema?.description === 'string' ? schema.description : undefined,
      required: required.has(name),
    })),
    readOnly: tool.annotations.readOnlyHint === true,
    destructive: tool.annotations.destructiveHint === true,
    tags: [...tool.tags],
    toolkitKeywords: toolkit?.keywords ?? [],
  };
}

/**
 * Whether `slug` is the name of a meta-tool, in either naming style (`TOOLMUX_SEARCH_TOOLS`,
 * `COMPOSIO_SEARCH_TOOLS`, …), compared as slugs are, case aside: a tool of that name would shadow the
 * meta-tool in search, be run as the meta-tool when called, and be handed to a provider twice beside it.
 */
function isMetaToolSlug(slug: string): boolean {
  return typeof slug === 'string' && ALL_META_TOOL_SLUGS.has(slug.toUpperCase());
}

const META_NAMES_RESERVED =
  'every meta-tool name, TOOLMUX_… and COMPOSIO_… alike, is reserved in every session whatever its metaToolNames';

/** The toolkits and tools of a catalog, by slug, as {@link registerSteps} checked them. */
class Registered {
  readonly toolkits = new Map<string, Toolkit>();
  readonly tools = new Map<string, Tool>();
}

/**
 * The toolkits and tools of a catalog of `toolkits`, one tool per step: every toolkit comes from
 * defineToolkit() and has a slug of its own, every tool slug is unique.
 */
function* registerSteps(toolkits: readonly Toolkit[]): Steps<Registered> {
  const registered = new Registered();
  const { toolkits: toolkitMap, tools: toolMap } = registered;
  for (const toolkit of toolkits) {
    if (toolkit?.kind !== 'toolmux.toolkit') {
      throw new ToolMuxError({
        code: 'TOOL_DEFINITION_INVALID',
        message: 'Every entry of `toolkits` must come from defineToolkit().',
      });
    }
    if (toolkitMap.has(toolkit.slug)) {
      throw new ToolMuxError({
        code: 'TOOL_DEFINITION_INVALID',
        message: `Toolkit "${toolkit.slug}" is registered twice; give each toolkit a unique slug.`,
      });
    }
    toolkitMap.set(toolkit.slug, toolkit);
    for (const tool of toolkit.tools) {
      if (isMetaToolSlug(tool.slug)) {
        throw new ToolMuxError({
          code: 'TOOL_DEFINITION_INVALID',
          message: `Tool ${shownValue(tool.slug)} of toolkit "${toolkit.slug}" has the name of a meta-tool (${META_NAMES_RESERVED}); give the tool another slug.`,
        });
      }
      const other = toolMap.get(tool.slug);
      if (other) {
        throw new ToolMuxError({
          code: 'TOOL_DEFINITION_INVALID',
          message:
            other.toolkit === toolkit.slug
              ? `Tool slug ${tool.slug} is defined twice in toolkit "${toolkit.slug}"; tool slugs must be unique.`
              : `Tool slug ${tool.slug} is defined by toolkits "${other.toolkit}" and "${toolkit.slug}"; tool slugs must be unique.`,
        });
      }
      toolMap.set(tool.slug, tool);
      yield;
    }
  }
  return registered;
}

/**
 * The registry of toolkits and tools a ToolMux knows. Immutable once built; a session with custom
 * tools or toolkits gets a derived catalog from `extend()`.
 */
export class Catalog {
  readonly toolkits: ReadonlyMap<string, Toolkit>;
  readonly tools: ReadonlyMap<string, Tool>;
  #index: ToolIndex | undefined;
  /** The index being built a slice at a time ({@link searchIndex}). */
  #building: Promise<ToolIndex> | undefined;
  readonly #embed: ((texts: string[]) => Promise<number[][]>) | undefined;
  /** For a catalog made by `extend()`: the catalog it extends, whose index it builds on. */
  readonly #base: Catalog | undefined;
  #toolNames: NameMatcher | undefined;
  #toolkitNames: NameMatcher | undefined;

  constructor(
    toolkits: readonly Toolkit[] | Registered,
    options: { embed?: (texts: string[]) => Promise<number[][]>; base?: Catalog } = {},
  ) {
    const registered = toolkits instanceof Registered ? toolkits : runSteps(registerSteps(toolkits));
    this.toolkits = registered.toolkits;
    this.tools = registered.tools;
    this.#embed = options.embed;
    this.#base = options.base;
  }

  /** The tool slugs, ready for "did you mean" hints (sorted on first use). */
  get toolNames(): NameMatcher {
    // a slug a model writes with an abbreviation (`GITHUB_GET_REPO`) names the tool it means first
    this.#toolNames ??= NameMatcher.sorted(this.tools.keys(), { respell: spelledOut });
    return this.#toolNames;
  }

  /** The toolkit slugs, ready for "did you mean" hints (sorted on first use). */
  get toolkitNames(): NameMatcher {
    this.#toolkitNames ??= NameMatcher.sorted(this.toolkits.keys());
    return this.#toolkitNames;
  }

  /**
   * The search index over every tool, built on first use. An extended catalog extends its base
   * catalog's index with only the tools the base does not have.
   */
  get index(): ToolIndex {
    this.#index ??= runSteps(this.#indexSteps(this.#base?.index));
    return this.#index;
  }

  /**
   * {@link index}, built a slice at a time when it is not there yet (a catalog with thousands of
   * tools is tens of milliseconds of tokenizing): what a session's search waits for. Callers that
   * come while it is built wait for the same build.
   */
  searchIndex(): Promise<ToolIndex> {
    if (this.#index) return Promise.resolve(this.#index);
    this.#building ??= this.#buildIndex().then(
      (index) => {
        this.#index ??= index;
        return this.#index;
      },
      (error: unknown) => {
        this.#building = undefined;
        throw error;
      },
    );
    return this.#building;
  }

  async #buildIndex(): Promise<ToolIndex> {
    const baseIndex = await this.#base?.searchIndex();
    return runStepsSliced(this.#indexSteps(baseIndex), new WorkSlice());
  }

  /** The index, one tool per step, on `baseIndex` (the base catalog's, for an extended catalog). */
  *#indexSteps(baseIndex: ToolIndex | undefined): Steps<ToolIndex> {
    const base = this.#base;
    const documents: SearchDocument[] = [];
    for (const tool of this.tools.values()) {
      if (base?.tools.has(tool.slug)) continue;
      documents.push(searchDocumentOf(tool, this.toolkits.get(tool.toolkit)));
      yield;
    }
    if (baseIndex) return yield* baseIndex.extendSteps(documents);
    const index = new ToolIndex([], { embed: this.#embed });
    yield* index.addSteps(documents);
    return index;
  }

  /**
   * A catalog with a session's custom toolkits and tools added. A custom tool joins the toolkit it
   * names (or whose slug prefix it carries) and then runs with that toolkit's auth; otherwise it joins
   * the no-auth toolkit `custom`.
   */
  extend(customToolkits: readonly Toolkit[], customTools: readonly Tool[]): Catalog {
    return runSteps(this.#extendSteps(customToolkits, customTools));
  }

  /**
   * {@link extend} a slice at a time, pausing whenever `slice` is due: thousands of custom tools are
   * tens of milliseconds of work. The same catalog, and the same error for the same mistake.
   */
  extendSliced(
    customToolkits: readonly Toolkit[],
    customTools: readonly Tool[],
    slice: WorkSlice,
  ): Promise<Catalog> {
    return runStepsSliced(this.#extendSteps(customToolkits, customTools), slice);
  }

  /** {@link extend}, one custom tool (and then one tool of the new catalog) per step. */
  *#extendSteps(customToolkits: readonly Toolkit[], customTools: readonly Tool[]): Steps<Catalog> {
    if (customToolkits.length === 0 && customTools.length === 0) return this;
    const toolkits = new Map(this.toolkits);
    for (const toolkit of customToolkits) {
      if (toolkits.has(toolkit.slug)) {
        throw new ToolMuxError({
          code: 'CONFIG_CONFLICT',
          message: `Custom toolkit "${toolkit.slug}" has the slug of a catalog toolkit; rename it.`,
        });
      }
      // accounts connect through auth configs, which exist for the ToolMux's toolkits only: a
      // session's own toolkit with auth was listed as "not connected", its calls asked for a
      // connection, and every way to connect one answered TOOLKIT_NOT_FOUND
      if (toolkit?.noAuth === false) {
        throw new ToolMuxError({
          code: 'CONFIG_INVALID',
          message: `Custom toolkit "${toolkit.slug}" has auth (${toolkit.auth.map((scheme) => scheme.type).join(', ')}), but a session's own toolkit cannot have connected accounts: accounts connect through auth configs, made for the toolkits of the ToolMux's catalog. Add the toolkit to the catalog (new ToolMux({ toolkits })) to connect accounts to it, or drop its auth (its tools then need no account).`,
        });
      }
      for (const tool of toolkit.tools ?? [])
        this.#checkCustomToolSlug(tool, `of custom toolkit "${toolkit.slug}" `);
      toolkits.set(toolkit.slug, toolkit);
    }
    // the tools each toolkit gains, in order: a toolkit's list is made once at the end (adding them
    // one by one to a new copy of it each time was quadratic: 4,000 tools copied 8 million entries)
    const joined = new Map<string, Tool[]>();
    for (const tool of customTools) {
      if (tool?.kind !== 'toolmux.tool') {
        throw new ToolMuxError({
          code: 'CONFIG_INVALID',
          message: 'experimental.customTools must hold defineTool() results.',
        });
      }
      this.#checkCustomToolSlug(tool, '');
      const slug = tool.toolkit || this.#toolkitByPrefix(tool.slug, toolkits) || 'custom';
      let tools = joined.get(slug);
      if (tools === undefined) {
        tools = [];
        joined.set(slug, tools);
        // a new toolkit takes its place now: the prefix of the tools after it finds it
        if (!toolkits.has(slug)) toolkits.set(slug, customToolkit(slug));
      }
      tools.push(tool.toolkit === slug ? tool : { ...tool, toolkit: slug });
      yield;
    }
    for (const [slug, tools] of joined) {
      const owner = toolkits.get(slug)!;
      toolkits.set(slug, { ...owner, tools: [...owner.tools, ...tools] });
    }
    const registered = yield* registerSteps([...toolkits.values()]);
    return new Catalog(registered, { embed: this.#embed, base: this });
  }

  /**
   * Whether `slug` is a toolkit of the ToolMux's own catalog (the base of a catalog made by
   * {@link extend}), not one a session's custom toolkits or tools brought.
   */
  isBaseToolkit(slug: string): boolean {
    return (this.#base ?? this).toolkits.has(slug);
  }

  /**
   * Refuses a session's custom tool named like a meta-tool (CONFIG_CONFLICT: it would shadow the
   * session's meta-tool) or like a tool of this catalog (TOOL_DEFINITION_INVALID, as two tools of a
   * catalog with one slug are), naming both.
   */
  #checkCustomToolSlug(tool: Tool, of: string): void {
    if (isMetaToolSlug(tool?.slug)) {
      throw new ToolMuxError({
        code: 'CONFIG_CONFLICT',
        message: `Custom tool ${shownValue(tool.slug)} ${of}has the name of a meta-tool (${META_NAMES_RESERVED}); give the tool another slug.`,
      });
    }
    const catalogTool = typeof tool?.slug === 'string' ? this.tools.get(tool.slug) : undefined;
    if (catalogTool) {
      throw new ToolMuxError({
        code: 'TOOL_DEFINITION_INVALID',
        message: `Custom tool ${tool.slug} ${of}has the slug of a tool of the catalog (toolkit "${catalogTool.toolkit}"); a custom tool adds to the catalog and cannot replace one of its tools: give it another slug.`,
      });
    }
  }

  #toolkitByPrefix(toolSlug: string, toolkits: ReadonlyMap<string, Toolkit>): string | undefined {
    for (const slug of toolkits.keys()) if (toolSlug.startsWith(toolSlugPrefix(slug))) return slug;
    return undefined;
  }

  /**
   * Refuses a list filter's toolkit slug that this catalog lacks and `stored` says nothing stored
   * names (`toolkits=gihtub`): it answered an empty page, which reads as "none connected", where the
   * slug is a typo. A toolkit removed from the catalog whose accounts or auth configs are still
   * stored stays listable (`stored` is asked only of slugs the catalog lacks, the first such refused).
   *
   * @throws {ToolMuxError} `INVALID_REQUEST` naming the slug, the closest known ones and where the
   *   toolkits are listed.
   */
  async checkToolkitFilter(
    field: string,
    slugs: readonly string[] | undefined,
    stored?: (slug: string) => Promise<boolean>,
  ): Promise<void> {
    for (const slug of new Set(slugs ?? [])) {
      if (this.toolkits.has(slug) || (stored !== undefined && (await stored(slug)))) continue;
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `${field} names ${shownValue(slug)}, a toolkit this catalog does not have${stored === undefined ? '' : ' and nothing stored names'}.${didYouMean(slug, this.toolkitNames)} Known toolkits are listed by ${apiRef('toolkits.list')}.`,
        details: { field },
      });
    }
  }

  getToolkit(slug: string): Toolkit {
    const toolkit = this.toolkits.get(slug);
    if (!toolkit) {
      throw new ToolMuxError({
        code: 'TOOLKIT_NOT_FOUND',
        message: `Unknown toolkit ${shownValue(slug)}.${didYouMean(slug, this.toolkitNames)} List the available ones with ${apiRef('toolkits.list')}.`,
      });
    }
    return toolkit;
  }

  getTool(slug: string): Tool {
    const tool = this.tools.get(slug);
    if (!tool) {
      throw new ToolMuxError({
        code: 'TOOL_NOT_FOUND',
        message: `Unknown tool ${shownValue(slug)}.${didYouMean(slug, this.toolNames)}`,
      });
    }
    return tool;
  }
}
