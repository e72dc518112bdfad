import { z } from 'zod';
import { apiRef, configField } from '../api-refs.js';
import type { Catalog } from '../catalog/catalog.js';
import {
  declarationOf,
  isDeclaredTool,
  type ToolDeclaration,
  type ToolkitDeclaration,
  toolkitDeclarationOf,
} from '../catalog/declarations.js';
import { TOOL_TAGS, type Tool, type Toolkit, type ToolTag } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import { META_TOOL_NAMES, type MetaToolKind, type MetaToolNames } from '../meta-tools/meta-tools.js';
import { didYouMean } from '../util/closest-names.js';
import { checkText, findUnstorableString, MAX_ID_LENGTH, shownValue } from '../util/stored-text.js';
import { describeZodIssue } from '../util/zod-issues.js';
import { safeParseKeepingProtoKeys } from '../util/zod-proto-keys.js';
import { DEFAULT_WORKBENCH, type WorkbenchConfig } from '../workbench/config.js';

/** Which tools a session hands to the agent. */
export const SessionPreset = {
  /** A handful of meta-tools (search, schemas, connections, multi-execute) plus preloaded tools. */
  META_TOOLS: 'META_TOOLS',
  /**
   * Every tool of the enabled toolkits, directly. No meta-tools by default; `manageConnections` or
   * `workbench.enable` set to `true` in the config add those meta-tools beside the tools.
   */
  DIRECT_TOOLS: 'DIRECT_TOOLS',
} as const;
export type SessionPreset = (typeof SessionPreset)[keyof typeof SessionPreset];

/**
 * A list means "only these"; `{ enable }` is the same; `{ disable }` means "all but these". One of
 * them: `enable` and `disable` together do not compile (and are CONFIG_CONFLICT at run time).
 */
export type SlugFilter =
  | string[]
  | { enable: string[]; disable?: never }
  | { disable: string[]; enable?: never };
/** A list or `{ enable }`: tools with at least one of these hints; `{ disable }`: tools with none. */
export type TagFilter = ToolTag[] | { enable?: ToolTag[]; disable?: ToolTag[] };
/** The tools of one toolkit: a {@link SlugFilter} of tool slugs, or `{ tags }` (not both). */
export type ToolFilter =
  | string[]
  | { enable: string[]; disable?: never; tags?: never }
  | { disable: string[]; enable?: never; tags?: never }
  | { tags: TagFilter; enable?: never; disable?: never };

/** `manageConnections` in its object form. */
export interface ManageConnectionsConfig {
  /** @default true */
  enable?: boolean;
  /** Where the links of TOOLMUX_MANAGE_CONNECTIONS send the user back to. @default the ToolMux's `defaultCallbackUrl` */
  callbackUrl?: string;
  /** Add TOOLMUX_WAIT_FOR_CONNECTIONS. @default false */
  waitForConnections?: boolean;
}

/** The config `create()` takes (docs/sessions.md). */
export interface SessionConfig {
  /** Toolkits the session may use. @default every toolkit in the catalog */
  toolkits?: SlugFilter;
  /** Per toolkit: which of its tools. */
  tools?: Record<string, ToolFilter>;
  /** Filter every tool by its MCP annotations. */
  tags?: TagFilter;
  /** Per toolkit: the auth config to use (`ac_…`). */
  authConfigs?: Record<string, string>;
  /** Per toolkit: connected account(s) to use (`ca_…`); the first ACTIVE one wins. */
  connectedAccounts?: Record<string, string | string[]>;
  /**
   * Tools exposed directly beside the meta-tools: slugs, or `'all'` for every tool the session's
   * filters leave (then the meta-tools are there for search and connections).
   */
  preload?: { tools?: string[] | 'all' };
  /** @default SessionPreset.META_TOOLS */
  sessionPreset?: SessionPreset;
  /**
   * Include TOOLMUX_MANAGE_CONNECTIONS (`true` / `{ enable: true }`). `callbackUrl`: where its links
   * send the user back to (checked against `allowedCallbackUrls` when a link is made).
   * `waitForConnections`: also include TOOLMUX_WAIT_FOR_CONNECTIONS, which waits (up to 120 s) until
   * the user finished connecting, on any instance sharing the store.
   * @default true
   */
  manageConnections?: boolean | ManageConnectionsConfig;
  /**
   * The workbench (TOOLMUX_WORKBENCH): a sandboxed JavaScript runtime where the model's code calls
   * the session's tools. On with the META_TOOLS preset; `{ enable: false }` turns it off. Cells run
   * on the main thread in time slices (Node.js 24+) or in worker threads (`TOOLMUX_WORKBENCH_THREAD`);
   * either way no cell holds the event loop.
   * @default { enable: true, timeoutMs: 60000, memoryMb: 64, autoOffloadThreshold: 20000 }
   */
  workbench?: Partial<WorkbenchConfig>;
  /**
   * Several accounts per toolkit (docs/sessions.md): calls name one with `account` (id or alias),
   * TOOLMUX_SEARCH_TOOLS and `toolkits()` list them, and each `authorize()` adds one.
   */
  multiAccount?: MultiAccountOptions;
  /**
   * The names the meta-tools carry: toolmux's (`TOOLMUX_SEARCH_TOOLS`, …) or Composio's
   * (`COMPOSIO_SEARCH_TOOLS`, …, with Composio's input fields and result shapes), so that prompts
   * written for Composio's Tool Router keep working (docs/composio-migration.md). With Composio's
   * names, as with Composio, the session takes a tool's slug in any case (`execute`, the calls of
   * the multi-execute, the schemas asked of `COMPOSIO_GET_TOOL_SCHEMAS`): `github_create_issue` runs
   * `GITHUB_CREATE_ISSUE`.
   * @default 'toolmux'
   */
  metaToolNames?: MetaToolNames;
  /** Free-form labels, returned by `sessions.list`. */
  metadata?: Record<string, string>;
  experimental?: { customTools?: Tool[]; customToolkits?: Toolkit[] };
}

/** A meta-tool option a config can turn on explicitly (what DIRECT_TOOLS sessions go by). */
export type ExplicitMetaTool = 'manageConnections' | 'workbench';

/** `multiAccount` of a session config. */
export interface MultiAccountOptions {
  /** Turns several accounts per toolkit on. @default false */
  enable?: boolean;
  /** How many accounts of one toolkit the user may connect through the session, 2..10. @default 5 */
  maxAccountsPerToolkit?: number;
  /**
   * With more than one ACTIVE account, a call without `account` fails with
   * ACCOUNT_SELECTION_REQUIRED (naming the aliases) instead of using the most recently connected.
   * @default false
   */
  requireExplicitSelection?: boolean;
}

/** `multiAccount` as stored: every default filled in. */
export type MultiAccountConfig = Required<MultiAccountOptions>;

/** The default of `multiAccount.maxAccountsPerToolkit`. */
export const DEFAULT_MAX_ACCOUNTS_PER_TOOLKIT = 5;

export type NormalizedSlugFilter = { mode: 'all' } | { mode: 'enable' | 'disable'; slugs: string[] };
export type NormalizedTagFilter = { enable: ToolTag[]; disable: ToolTag[] };
export type NormalizedToolFilter =
  | { mode: 'enable' | 'disable'; slugs: string[] }
  | { mode: 'tags'; tags: NormalizedTagFilter };

/** The config as stored: every default filled in, custom tools by slug only. */
export interface NormalizedSessionConfig {
  toolkits: NormalizedSlugFilter;
  tools: Record<string, NormalizedToolFilter>;
  tags: NormalizedTagFilter;
  authConfigs: Record<string, string>;
  connectedAccounts: Record<string, string[]>;
  preload: { tools: string[] | 'all' };
  sessionPreset: SessionPreset;
  manageConnections: boolean;
  /** `manageConnections.callbackUrl`; absent when not given. */
  connectionCallbackUrl?: string;
  /** `manageConnections.waitForConnections`; absent when not given (false). */
  waitForConnections?: boolean;
  /** Absent in sessions stored before the workbench existed: read with `workbenchOf(config)`. */
  workbench?: WorkbenchConfig;
  /**
   * The meta-tools the config turned on itself (`manageConnections: true`, `{ enable: true }` or
   * `{ waitForConnections: true }`; `workbench: { enable: true }`) rather than by default: a
   * DIRECT_TOOLS session has only these. Absent when none (and in sessions stored before it existed).
   */
  enabledExplicitly?: ExplicitMetaTool[];
  /** Present only when the config gave `multiAccount`. */
  multiAccount?: MultiAccountConfig;
  /** Absent in sessions stored before it existed (toolmux names): read with `metaToolNamesOf(config)`. */
  metaToolNames?: MetaToolNames;
  metadata: Record<string, string>;
  customTools: string[];
  customToolkits: string[];
  /**
   * The custom tools that join a toolkit of the ToolMux's catalog (by their `toolkit`, or their slug's
   * prefix), by slug, with that toolkit: they follow its filters (and use its accounts). Every other
   * custom tool, and every tool of a custom toolkit, is of a toolkit the session owns, which an enable
   * list of toolkits does not leave out (`isToolVisible`). Present in a session with custom tools or
   * toolkits; absent in one stored before it existed (read with `withJoinedToolkits`).
   */
  joinedToolkits?: Record<string, string>;
  /** Custom tools whose code runs in a remote-mode client: stored so that any instance can describe them. */
  clientTools?: ToolDeclaration[];
  /** Custom toolkits of a remote-mode client, likewise. */
  clientToolkits?: ToolkitDeclaration[];
}

const slugList = z.array(z.string().min(1));
const enableDisable = z.union([
  slugList,
  z.object({ enable: slugList, disable: slugList }).strict(),
  z.object({ enable: slugList }).strict(),
  z.object({ disable: slugList }).strict(),
]);
const tagName = z.string();
const tagFilter = z.union([
  z.array(tagName),
  z.object({ enable: z.array(tagName).optional(), disable: z.array(tagName).optional() }).strict(),
]);
const toolFilter = z.union([enableDisable, z.object({ tags: tagFilter }).strict()]);

/** The longest value of a session's `metadata`. */
export const MAX_METADATA_VALUE_LENGTH = 1024;

/**
 * The bounds of the session config's numbers and metadata, `[least, most]`: checked here, and
 * published by the server's OpenAPI document (its SessionConfig schema), so that what a client
 * generated from it sends is what is taken.
 */
export const SESSION_CONFIG_BOUNDS = {
  workbench: {
    timeoutMs: [100, 600_000],
    memoryMb: [8, 1024],
    autoOffloadThreshold: [1_000, 10_000_000],
  },
  maxAccountsPerToolkit: [2, 10],
  /** The longest metadata key and value, and the most keys. */
  metadata: { keyLength: 128, valueLength: MAX_METADATA_VALUE_LENGTH, keys: 64 },
} as const;
const { workbench: WORKBENCH_BOUNDS, maxAccountsPerToolkit: ACCOUNTS_BOUNDS } = SESSION_CONFIG_BOUNDS;
const METADATA_BOUNDS = SESSION_CONFIG_BOUNDS.metadata;

/** An optional whole number within `[least, most]` of {@link SESSION_CONFIG_BOUNDS}. */
function wholeWithin([least, most]: readonly [number, number]) {
  return z.number().int().min(least).max(most).optional();
}

const configSchema = z
  .object({
    toolkits: enableDisable.optional(),
    tools: z.record(z.string(), toolFilter).optional(),
    tags: tagFilter.optional(),
    authConfigs: z
      .record(z.string(), z.string().regex(/^ac_/, 'must be an auth config id starting with "ac_"'))
      .optional(),
    connectedAccounts: z
      .record(
        z.string(),
        z.union([
          z.string().regex(/^ca_/, 'must be a connected account id starting with "ca_"'),
          z.array(z.string().regex(/^ca_/, 'must be a connected account id starting with "ca_"')).min(1),
        ]),
      )
      .optional(),
    preload: z
      .object({ tools: z.union([z.literal('all'), slugList]).optional() })
      .strict()
      .optional(),
    sessionPreset: z.enum(['META_TOOLS', 'DIRECT_TOOLS']).optional(),
    manageConnections: z
      .union([
        z.boolean(),
        z
          .object({
            enable: z.boolean().optional(),
            callbackUrl: z
              .string()
              .max(2048)
              .regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL')
              .optional(),
            waitForConnections: z.boolean().optional(),
          })
          .strict(),
      ])
      .optional(),
    workbench: z
      .object({
        enable: z.boolean().optional(),
        timeoutMs: wholeWithin(WORKBENCH_BOUNDS.timeoutMs),
        memoryMb: wholeWithin(WORKBENCH_BOUNDS.memoryMb),
        autoOffloadThreshold: wholeWithin(WORKBENCH_BOUNDS.autoOffloadThreshold),
      })
      .strict()
      .optional(),
    multiAccount: z
      .object({
        enable: z.boolean().optional(),
        maxAccountsPerToolkit: z
          .number()
          .int(`must be a whole number from ${ACCOUNTS_BOUNDS[0]} to ${ACCOUNTS_BOUNDS[1]}`)
          .min(ACCOUNTS_BOUNDS[0], `must be from ${ACCOUNTS_BOUNDS[0]} to ${ACCOUNTS_BOUNDS[1]}`)
          .max(ACCOUNTS_BOUNDS[1], `must be from ${ACCOUNTS_BOUNDS[0]} to ${ACCOUNTS_BOUNDS[1]}`)
          .optional(),
        requireExplicitSelection: z.boolean().optional(),
      })
      .strict()
      .optional(),
    metaToolNames: z.enum(META_TOOL_NAMES).optional(),
    metadata: z
      .record(z.string().max(METADATA_BOUNDS.keyLength), z.string().max(METADATA_BOUNDS.valueLength))
      .refine(
        (value) => Object.keys(value).length <= METADATA_BOUNDS.keys,
        `at most ${METADATA_BOUNDS.keys} metadata keys`,
      )
      .optional(),
    experimental: z
      .object({ customTools: z.array(z.any()).optional(), customToolkits: z.array(z.any()).optional() })
      .strict()
      .optional(),
  })
  .strict();

function configError(code: 'CONFIG_INVALID' | 'CONFIG_CONFLICT', message: string): ToolMuxError {
  return new ToolMuxError({ code, message });
}

/** Checks the shape of a config (no catalog needed). Throws CONFIG_INVALID naming the bad field. */
/**
 * The most entries any list or map of a session config holds (toolkits, tools and each of its lists,
 * tags, auth configs, connected accounts, preloaded tools; metadata has its own 64): far more than a
 * catalog has toolkits for, and few enough that checking them costs the event loop nothing worth
 * counting, where a megabyte of entries held it for a second or more.
 */
export const MAX_CONFIG_ENTRIES = 1_000;

/**
 * Refuses a list or map of the config (down to the tag lists inside `tools`) with more than
 * {@link MAX_CONFIG_ENTRIES} entries before anything walks it: counting stops at the limit.
 * `experimental` (custom tools) is checked where the tools are defined.
 */
function checkConfigSizes(config: unknown): void {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [];
  if (config !== null && typeof config === 'object' && !Array.isArray(config)) {
    for (const key of Object.keys(config)) {
      if (key !== 'experimental')
        stack.push({ value: (config as Record<string, unknown>)[key], path: key, depth: 1 });
    }
  }
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    const limit = path === 'metadata' ? 64 : MAX_CONFIG_ENTRIES;
    const entries = Array.isArray(value) ? value.length : countKeysUpTo(value, limit + 1);
    if (entries > limit) {
      throw configError(
        'CONFIG_INVALID',
        `Invalid session config at ${configField(path)}: ${Array.isArray(value) ? `${entries.toLocaleString('en')} entries` : `over ${limit.toLocaleString('en')} keys`}; a session config's lists and maps hold at most ${MAX_CONFIG_ENTRIES.toLocaleString('en')} entries (metadata at most 64 keys).`,
      );
    }
    if (depth >= 4 || Array.isArray(value)) continue;
    for (const key of Object.keys(value)) {
      stack.push({
        value: (value as Record<string, unknown>)[key],
        path: `${path}.${key}`,
        depth: depth + 1,
      });
    }
  }
}

/** The own enumerable keys of `value`, counted up to `limit`. */
function countKeysUpTo(value: object, limit: number): number {
  let count = 0;
  for (const key in value) {
    if (Object.hasOwn(value, key) && ++count >= limit) break;
  }
  return count;
}

export function parseSessionConfig(config: unknown): SessionConfig {
  if (config === undefined) return {};
  checkConfigSizes(config);
  // zod's record skips a `__proto__` key unchecked: checked here with the record's schemas like any other
  const result = safeParseKeepingProtoKeys(configSchema, config);
  if (!result.success) {
    // a session config holds no secret number: a refused one is shown
    const described = describeZodIssue(configSchema, config, result.issues[0]!, { showNumbers: true });
    const path = described.path.join('.') || '(config)';
    const message = /[.?!]$/.test(described.message) ? described.message : `${described.message}.`;
    throw configError('CONFIG_INVALID', `Invalid session config at ${configField(path)}: ${message}`);
  }
  checkStorableConfig(config as SessionConfig);
  checkTagFilters(config as SessionConfig);
  return config as SessionConfig;
}

/**
 * The tag filters' names and conflicts need no catalog: checked with the shape, in the order and
 * words of {@link normalizeSessionConfig}, so that a remote-mode client refuses them before sending
 * anything, as an embedded ToolMux does (the server's REST schema answered them INVALID_REQUEST in
 * REST words, and a bad tag of a toolkit's `tools` as an unknown key "tags").
 */
function checkTagFilters(config: SessionConfig): void {
  for (const [toolkit, filter] of Object.entries(config.tools ?? {})) {
    if (!Array.isArray(filter) && 'tags' in filter) normalizeTagFilter(`tools.${toolkit}.tags`, filter.tags);
  }
  normalizeTagFilter('tags', config.tags);
}

/** The keys of the filter `mux.tools.get()` takes: the session config's filters. */
const TOOL_FILTER_KEYS = ['toolkits', 'tools', 'tags'] as const;

/**
 * The filter of `mux.tools.get()`, checked as a session config's filters are; any other key (another
 * key of a session config included, which would have been ignored) is CONFIG_INVALID naming it.
 */
export function parseToolFilter(filter: unknown): Pick<SessionConfig, 'toolkits' | 'tools' | 'tags'> {
  if (filter !== null && typeof filter === 'object' && !Array.isArray(filter)) {
    for (const key in filter) {
      if (!Object.hasOwn(filter, key) || (TOOL_FILTER_KEYS as readonly string[]).includes(key)) continue;
      throw configError(
        'CONFIG_INVALID',
        `tools.get() filters by ${TOOL_FILTER_KEYS.join(', ')} only; ${shownValue(key)} is none of them.${didYouMean(key, TOOL_FILTER_KEYS)}`,
      );
    }
  }
  return parseSessionConfig(filter);
}

/**
 * The config is stored as JSON: every slug, id and metadata key must be storable id text, and every
 * metadata value storable free text. (Custom tools are checked where they are defined.)
 */
function checkStorableConfig(config: SessionConfig): void {
  const { metadata, experimental: _experimental, ...rest } = config;
  const bad = findUnstorableString(rest, { maxLength: MAX_ID_LENGTH });
  if (bad) {
    throw configError(
      'CONFIG_INVALID',
      `Invalid session config at ${configField(bad.path)}: the ${bad.isKey ? 'key' : 'value'} ${shownValue(bad.value)} ${bad.problem}; slugs and ids are well-formed Unicode text of at most ${MAX_ID_LENGTH} characters without control characters.`,
    );
  }
  for (const [key, value] of Object.entries(metadata ?? {})) {
    checkText(key, {
      field: 'Invalid session config: metadata key',
      code: 'CONFIG_INVALID',
      maxLength: 128,
      fix: 'metadata keys are well-formed Unicode text of 1 to 128 characters without control characters',
    });
    checkText(value, {
      field: `Invalid session config: metadata.${key}`,
      code: 'CONFIG_INVALID',
      maxLength: MAX_METADATA_VALUE_LENGTH,
      allowEmpty: true,
      freeText: true,
      fix: `metadata values are well-formed Unicode text of at most ${MAX_METADATA_VALUE_LENGTH} characters without control characters (but tab and line breaks)`,
    });
  }
}

function normalizeSlugFilter(field: string, filter: SlugFilter | undefined): NormalizedSlugFilter {
  if (filter === undefined) return { mode: 'all' };
  if (Array.isArray(filter)) return { mode: 'enable', slugs: [...new Set(filter)] };
  if ('enable' in filter && 'disable' in filter) {
    throw configError(
      'CONFIG_CONFLICT',
      `${field} has both "enable" and "disable": use { enable: [...] } to allow only some, or { disable: [...] } to allow all but some.`,
    );
  }
  if ('enable' in filter) return { mode: 'enable', slugs: [...new Set(filter.enable)] };
  return { mode: 'disable', slugs: [...new Set(filter.disable)] };
}

function normalizeTagFilter(field: string, filter: TagFilter | undefined): NormalizedTagFilter {
  const tags: NormalizedTagFilter = Array.isArray(filter)
    ? { enable: filter, disable: [] }
    : { enable: filter?.enable ?? [], disable: filter?.disable ?? [] };
  for (const tag of [...tags.enable, ...tags.disable]) {
    if (!(TOOL_TAGS as readonly string[]).includes(tag)) {
      throw configError(
        'CONFIG_INVALID',
        `${field} names unknown tag "${tag}".${didYouMean(tag, TOOL_TAGS)} Tags are the MCP annotations: ${TOOL_TAGS.join(', ')}.`,
      );
    }
  }
  const enable = [...new Set(tags.enable)];
  const disabled = new Set(tags.disable);
  const both = enable.find((tag) => disabled.has(tag));
  if (both !== undefined) {
    throw configError(
      'CONFIG_CONFLICT',
      `${field} both enables and disables "${both}"; keep it in one of the two lists.`,
    );
  }
  return { enable, disable: [...disabled] };
}

function requireCatalogToolkit(catalog: Catalog, slug: string, field: string): void {
  if (!catalog.toolkits.has(slug)) {
    throw new ToolMuxError({
      code: 'TOOLKIT_NOT_FOUND',
      message: `${configField(field)} names unknown toolkit "${slug}".${didYouMean(slug, catalog.toolkitNames)} Known toolkits are listed by ${apiRef('toolkits.list')}.`,
      details: { field: configField(field), slug },
    });
  }
}

function requireCatalogToolOf(
  catalog: Catalog,
  slug: string,
  toolkit: string | undefined,
  field: string,
): void {
  const tool = catalog.tools.get(slug);
  if (!tool) {
    throw new ToolMuxError({
      code: 'TOOL_NOT_FOUND',
      message: `${configField(field)} names unknown tool "${slug}".${didYouMean(slug, catalog.toolNames)}`,
      details: { field: configField(field), slug },
    });
  }
  if (toolkit !== undefined && tool.toolkit !== toolkit) {
    throw configError(
      'CONFIG_INVALID',
      `${field} names tool ${slug}, which belongs to toolkit "${tool.toolkit}", not "${toolkit}".`,
    );
  }
}

/** The fields of a session config that name toolkits or tools of the catalog. */
export type CatalogReferenceField = 'toolkits' | 'tools' | 'authConfigs' | 'connectedAccounts' | 'preload';

/**
 * Validates a parsed config against the catalog (which already includes the session's custom tools)
 * and fills in defaults. Every rule throws a ToolMuxError that names the bad value and the fix.
 * `checked` says which fields' toolkit and tool names must be in the catalog (all by default):
 * `update()` checks only those its changes name, as the stored ones were checked when they were set,
 * and an instance whose catalog lacks a toolkit another instance has (a rolling deploy, a toolkit
 * removed since) must still take a change of tags or metadata.
 */
export function normalizeSessionConfig(
  config: SessionConfig,
  catalog: Catalog,
  checked: (field: CatalogReferenceField) => boolean = () => true,
): NormalizedSessionConfig {
  const requireToolkit = (slug: string, field: string, of: CatalogReferenceField) => {
    if (checked(of)) requireCatalogToolkit(catalog, slug, field);
  };
  const requireToolOf = (
    slug: string,
    toolkit: string | undefined,
    field: string,
    of: CatalogReferenceField,
  ) => {
    if (checked(of)) requireCatalogToolOf(catalog, slug, toolkit, field);
  };
  const toolkits = normalizeSlugFilter('toolkits', config.toolkits);
  if (toolkits.mode !== 'all')
    for (const slug of toolkits.slugs) requireToolkit(slug, 'toolkits', 'toolkits');
  const customTools = config.experimental?.customTools ?? [];
  const customToolkits = config.experimental?.customToolkits ?? [];
  const joinedToolkits =
    customTools.length + customToolkits.length > 0 ? joinedToolkitsOf(customTools, catalog) : undefined;
  // the session's own toolkits: its custom toolkits, and those of its custom tools that join none of the catalog
  const ownToolkits = new Set(customToolkits.map((toolkit) => toolkit.slug));
  for (const tool of customTools) {
    const toolkit = catalog.tools.get(tool.slug)?.toolkit;
    if (toolkit !== undefined && !Object.hasOwn(joinedToolkits!, tool.slug)) ownToolkits.add(toolkit);
  }
  const enabled = (slug: string) =>
    toolkits.mode === 'all' ||
    (toolkits.mode === 'enable'
      ? toolkits.slugs.includes(slug) || ownToolkits.has(slug)
      : !toolkits.slugs.includes(slug));

  const tools: Record<string, NormalizedToolFilter> = {};
  for (const [toolkit, filter] of Object.entries(config.tools ?? {})) {
    requireToolkit(toolkit, `tools.${toolkit}`, 'tools');
    if (!enabled(toolkit)) {
      throw configError(
        'CONFIG_CONFLICT',
        `tools.${toolkit} filters a toolkit the session does not enable; add "${toolkit}" to toolkits or remove tools.${toolkit}.`,
      );
    }
    if (!Array.isArray(filter) && 'tags' in filter) {
      tools[toolkit] = { mode: 'tags', tags: normalizeTagFilter(`tools.${toolkit}.tags`, filter.tags) };
      continue;
    }
    const normalized = normalizeSlugFilter(`tools.${toolkit}`, filter) as {
      mode: 'enable' | 'disable';
      slugs: string[];
    };
    for (const slug of normalized.slugs) requireToolOf(slug, toolkit, `tools.${toolkit}`, 'tools');
    tools[toolkit] = normalized;
  }

  const tags = normalizeTagFilter('tags', config.tags);

  for (const [field, map] of [
    ['authConfigs', config.authConfigs],
    ['connectedAccounts', config.connectedAccounts],
  ] as const) {
    for (const toolkit of Object.keys(map ?? {})) requireToolkit(toolkit, `${field}.${toolkit}`, field);
  }
  const connectedAccounts = Object.fromEntries(
    Object.entries(config.connectedAccounts ?? {}).map(([toolkit, ids]) => [
      toolkit,
      Array.isArray(ids) ? [...ids] : [ids],
    ]),
  );

  const preloadAll = config.preload?.tools === 'all';
  const preload = preloadAll ? [] : [...new Set((config.preload?.tools as string[] | undefined) ?? [])];
  for (const slug of preload) requireToolOf(slug, undefined, 'preload.tools', 'preload');

  const enabledExplicitly = explicitMetaTools(config);
  const normalized: NormalizedSessionConfig = {
    toolkits,
    tools,
    tags,
    authConfigs: { ...config.authConfigs },
    connectedAccounts,
    preload: { tools: preloadAll ? 'all' : preload },
    sessionPreset: config.sessionPreset ?? SessionPreset.META_TOOLS,
    ...normalizeManageConnections(config.manageConnections),
    workbench: { ...DEFAULT_WORKBENCH, ...config.workbench },
    ...(enabledExplicitly.length > 0 ? { enabledExplicitly } : {}),
    ...(config.multiAccount ? { multiAccount: normalizeMultiAccount(config.multiAccount) } : {}),
    metaToolNames: config.metaToolNames ?? 'toolmux',
    metadata: { ...config.metadata },
    customTools: customTools.map((tool) => tool.slug),
    customToolkits: customToolkits.map((toolkit) => toolkit.slug),
    ...(joinedToolkits !== undefined ? { joinedToolkits } : {}),
    ...clientDeclarations(customTools, customToolkits),
  };
  for (const slug of preload) {
    // a stored preload naming a tool this catalog lacks (not checked) is kept as it is
    const tool = catalog.tools.get(slug);
    if (tool !== undefined && !isToolVisible(normalized, tool)) {
      throw configError(
        'CONFIG_CONFLICT',
        `preload.tools names ${slug}, but the session's toolkits, tools or tags filters hide it; enable it or remove it from preload.`,
      );
    }
  }
  return normalized;
}

function normalizeMultiAccount(options: MultiAccountOptions): MultiAccountConfig {
  const enable = options.enable === true;
  if (!enable && (options.maxAccountsPerToolkit !== undefined || options.requireExplicitSelection)) {
    throw configError(
      'CONFIG_CONFLICT',
      `${configField(`multiAccount.${options.maxAccountsPerToolkit !== undefined ? 'maxAccountsPerToolkit' : 'requireExplicitSelection'}`)} has no effect without ${configField('multiAccount.enable')}: true; add enable: true or remove it.`,
    );
  }
  return {
    enable,
    maxAccountsPerToolkit: options.maxAccountsPerToolkit ?? DEFAULT_MAX_ACCOUNTS_PER_TOOLKIT,
    requireExplicitSelection: options.requireExplicitSelection ?? false,
  };
}

/** The meta-tool options the config sets to on itself (not by default). */
function explicitMetaTools(config: SessionConfig): ExplicitMetaTool[] {
  const manage = config.manageConnections;
  const explicit: ExplicitMetaTool[] = [];
  if (
    manage === true ||
    (typeof manage === 'object' &&
      (manage.enable === true || (manage.enable === undefined && manage.waitForConnections === true)))
  )
    explicit.push('manageConnections');
  if (config.workbench?.enable === true) explicit.push('workbench');
  return explicit;
}

/**
 * The meta-tools a session hands its agent, by kind. META_TOOLS: search, schemas and multi-execute,
 * with connections, waiting and the workbench as the config says (on by default). DIRECT_TOOLS: only
 * the ones the config turned on itself (`enabledExplicitly`), none by default.
 */
export function exposedMetaToolKinds(
  config: Pick<
    NormalizedSessionConfig,
    'sessionPreset' | 'manageConnections' | 'waitForConnections' | 'workbench' | 'enabledExplicitly'
  >,
): ReadonlySet<MetaToolKind> {
  const direct = config.sessionPreset === 'DIRECT_TOOLS';
  const on = (option: ExplicitMetaTool, enabled: boolean) =>
    enabled && (!direct || (config.enabledExplicitly ?? []).includes(option));
  const kinds = new Set<MetaToolKind>(
    direct ? [] : ['SEARCH_TOOLS', 'GET_TOOL_SCHEMAS', 'MULTI_EXECUTE_TOOL'],
  );
  if (on('manageConnections', config.manageConnections)) {
    kinds.add('MANAGE_CONNECTIONS');
    if (config.waitForConnections) kinds.add('WAIT_FOR_CONNECTIONS');
  }
  if (on('workbench', workbenchOf(config).enable)) kinds.add('WORKBENCH');
  return kinds;
}

/** `manageConnections` as stored: a flag, and the object form's other fields where given. */
function normalizeManageConnections(
  value: SessionConfig['manageConnections'],
): Pick<NormalizedSessionConfig, 'manageConnections' | 'connectionCallbackUrl' | 'waitForConnections'> {
  if (value === undefined || typeof value === 'boolean') return { manageConnections: value ?? true };
  const enable = value.enable ?? true;
  if (value.waitForConnections && !enable) {
    throw configError(
      'CONFIG_CONFLICT',
      'manageConnections.waitForConnections needs manageConnections.enable: the agent waits for links TOOLMUX_MANAGE_CONNECTIONS hands out. Set enable: true or drop waitForConnections.',
    );
  }
  return {
    manageConnections: enable,
    ...(value.callbackUrl !== undefined ? { connectionCallbackUrl: value.callbackUrl } : {}),
    ...(value.waitForConnections !== undefined ? { waitForConnections: value.waitForConnections } : {}),
  };
}

/** The declarations of the custom tools and toolkits that run in a remote-mode client, if any. */
function clientDeclarations(
  tools: readonly Tool[],
  toolkits: readonly Toolkit[],
): Pick<NormalizedSessionConfig, 'clientTools' | 'clientToolkits'> {
  const clientTools = tools.filter(isDeclaredTool).map(declarationOf);
  const clientToolkits = toolkits
    .filter((toolkit) => toolkit.tools.some(isDeclaredTool))
    .map(toolkitDeclarationOf);
  return {
    ...(clientTools.length > 0 ? { clientTools } : {}),
    ...(clientToolkits.length > 0 ? { clientToolkits } : {}),
  };
}

function hasAnyTag(tool: Pick<Tool, 'annotations'>, tags: readonly ToolTag[]): boolean {
  return tags.some((tag) => tool.annotations[tag] === true);
}

function passesTags(tool: Pick<Tool, 'annotations'>, tags: NormalizedTagFilter): boolean {
  if (tags.enable.length > 0 && !hasAnyTag(tool, tags.enable)) return false;
  return !hasAnyTag(tool, tags.disable);
}

/**
 * The custom tools of a session that join a toolkit of the ToolMux's catalog, by slug, with that
 * toolkit (`NormalizedSessionConfig.joinedToolkits`), as the session's catalog files them.
 */
function joinedToolkitsOf(customTools: readonly Tool[], catalog: Catalog): Record<string, string> {
  const joined: Record<string, string> = {};
  for (const tool of customTools) {
    const toolkit = catalog.tools.get(tool.slug)?.toolkit;
    if (toolkit !== undefined && catalog.isBaseToolkit(toolkit)) joined[tool.slug] = toolkit;
  }
  return joined;
}

/**
 * A stored config with `joinedToolkits` filled in from the session's catalog when the session has
 * custom tools or toolkits and was stored before that field existed: so that its own toolkits are
 * enabled as a new session's are. Any other config as it is.
 */
export function withJoinedToolkits(
  config: NormalizedSessionConfig,
  catalog: Catalog,
  customTools: readonly Tool[],
): NormalizedSessionConfig {
  if (config.joinedToolkits !== undefined) return config;
  if ((config.customTools ?? []).length + (config.customToolkits ?? []).length === 0) return config;
  return { ...config, joinedToolkits: joinedToolkitsOf(customTools, catalog) };
}

/** A config's custom tool and toolkit slugs as sets, made once per config object. */
const customSlugs = new WeakMap<object, { tools: ReadonlySet<string>; toolkits: ReadonlySet<string> }>();

function customSlugsOf(config: NormalizedSessionConfig) {
  let slugs = customSlugs.get(config);
  if (slugs === undefined) {
    slugs = { tools: new Set(config.customTools ?? []), toolkits: new Set(config.customToolkits ?? []) };
    customSlugs.set(config, slugs);
  }
  return slugs;
}

/**
 * The toolkit whose filters `tool` follows, and whether it is one the session owns: a custom tool
 * that joins a toolkit of the catalog (`joinedToolkits`) follows that one; a tool of a custom toolkit,
 * or a custom tool that joins none of the catalog's, is of the session's own. (A remote-mode client's
 * catalog of its custom tools has no other toolkits, so it files a tool that joins one of the
 * server's under its own: `joinedToolkits`, from the server, says which.) A session stored before
 * `joinedToolkits` existed owns none.
 */
function filingOf(
  config: NormalizedSessionConfig,
  tool: Pick<Tool, 'slug' | 'toolkit'>,
): { toolkit: string; own: boolean } {
  const joined = config.joinedToolkits;
  if (joined === undefined) return { toolkit: tool.toolkit, own: false };
  const catalogToolkit = Object.hasOwn(joined, tool.slug) ? joined[tool.slug] : undefined;
  if (typeof catalogToolkit === 'string') return { toolkit: catalogToolkit, own: false };
  const custom = customSlugsOf(config);
  return { toolkit: tool.toolkit, own: custom.toolkits.has(tool.toolkit) || custom.tools.has(tool.slug) };
}

/**
 * Whether a session with this config may see and run `tool`. The session's own toolkits (its custom
 * toolkits, and those of its custom tools that join none of the catalog) are handed to this very
 * session to be used: an enable list of toolkits leaves them in, whether it names them or not; a
 * `{ disable }` list naming one, its `tools` filter and the tags filter apply as to any toolkit.
 */
export function isToolVisible(
  config: NormalizedSessionConfig,
  tool: Pick<Tool, 'slug' | 'toolkit' | 'annotations'>,
): boolean {
  const { toolkits } = config;
  const { toolkit, own } = filingOf(config, tool);
  if (toolkits.mode === 'enable' && !own && !toolkits.slugs.includes(toolkit)) return false;
  if (toolkits.mode === 'disable' && toolkits.slugs.includes(toolkit)) return false;
  const filter = Object.hasOwn(config.tools, toolkit) ? config.tools[toolkit] : undefined;
  if (filter?.mode === 'enable' && !filter.slugs.includes(tool.slug)) return false;
  if (filter?.mode === 'disable' && filter.slugs.includes(tool.slug)) return false;
  if (filter?.mode === 'tags' && !passesTags(tool, filter.tags)) return false;
  return passesTags(tool, config.tags);
}

/** The session's workbench settings, defaults filled in for sessions stored before they existed. */
export function workbenchOf(config: Pick<NormalizedSessionConfig, 'workbench'>): WorkbenchConfig {
  return { ...DEFAULT_WORKBENCH, ...config.workbench };
}

/** The naming style of the session's meta-tools; toolmux's for sessions stored before it existed. */
export function metaToolNamesOf(config: Pick<NormalizedSessionConfig, 'metaToolNames'>): MetaToolNames {
  return config.metaToolNames ?? 'toolmux';
}
