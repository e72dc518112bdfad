import { isDeepStrictEqual } from 'node:util';
import type { NormalizedSessionConfig, SessionConfig } from '@toolmux/core';
import { ToolMuxError } from '@toolmux/core';
import { apiRef, exposedMetaToolKinds, lowerCaseSlug } from '@toolmux/core/internal';
import { z } from 'zod';
import type { LargeArray } from '../rest/large-arrays.js';

/**
 * The session config of Composio's Tool Router API (snake_case, as `@composio/core` and the Rust
 * crate `composio-sdk` send it) and its translation to toolmux's `SessionConfig`. Both clients'
 * variants are accepted: `tags` as `{ enable, disable }` (TypeScript) or `{ enabled, disabled }`
 * (Rust), `manage_connections` with `enable` or `enabled`, a connected account as an id or a list.
 * An option toolmux does not have is refused with a 400 naming it, never ignored.
 */

const TAG = z.enum(['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']);
const slugs = z.array(z.string());
const tagFilter = z.union([
  z.array(TAG),
  z
    .object({
      enable: z.array(TAG).optional(),
      disable: z.array(TAG).optional(),
      enabled: z.array(TAG).optional(),
      disabled: z.array(TAG).optional(),
    })
    .strict(),
]);
const slugFilter = z.union([
  slugs,
  z.object({ enable: slugs }).strict(),
  z.object({ disable: slugs }).strict(),
  z.object({ enabled: slugs }).strict(),
  z.object({ disabled: slugs }).strict(),
]);
const toolFilter = z.union([slugFilter, z.object({ tags: tagFilter }).strict()]);
const manageConnections = z.union([
  z.boolean(),
  z
    .object({
      enable: z.boolean().nullish(),
      enabled: z.boolean().nullish(),
      callback_url: z.string().nullish(),
      enable_wait_for_connections: z.boolean().nullish(),
      enable_connection_removal: z.boolean().nullish(),
    })
    .strict(),
]);
const workbench = z
  .object({
    enable: z.boolean().optional(),
    enable_proxy_execution: z.boolean().optional(),
    proxy_execution: z.boolean().optional(),
    proxy_execution_enabled: z.boolean().optional(),
    auto_offload_threshold: z.number().optional(),
    sandbox_size: z.string().optional(),
  })
  .strict();
const multiAccount = z
  .object({
    enable: z.boolean().optional(),
    max_accounts_per_toolkit: z.number().int().optional(),
    require_explicit_selection: z.boolean().optional(),
  })
  .strict();
const customToolWire = z
  .object({
    slug: z.string().min(1),
    name: z.string(),
    description: z.string(),
    input_schema: z.record(z.string(), z.unknown()),
    output_schema: z.record(z.string(), z.unknown()).optional(),
    extends_toolkit: z.string().optional(),
    preload: z.boolean().optional(),
  })
  .strict();
const toolkitToolWire = customToolWire.omit({ extends_toolkit: true });
const customToolkitWire = z
  .object({
    slug: z.string().min(1),
    name: z.string(),
    description: z.string(),
    preload: z.boolean().optional(),
    tools: z.array(toolkitToolWire),
  })
  .strict();
export const experimentalWire = z
  .object({
    custom_tools: z.array(customToolWire).optional(),
    custom_toolkits: z.array(customToolkitWire).optional(),
    assistive_prompt_config: z.unknown().optional(),
    link_url_overwrite: z.unknown().optional(),
    permissions: z.unknown().optional(),
  })
  .strict();
export type ExperimentalWire = z.infer<typeof experimentalWire>;

const configFields = {
  toolkits: slugFilter.optional(),
  tools: z.record(z.string(), toolFilter).optional(),
  tags: tagFilter.optional(),
  auth_configs: z.record(z.string(), z.string()).optional(),
  // null: no pinned accounts (Composio's PATCH takes it to clear them)
  connected_accounts: z.record(z.string(), z.union([z.string(), slugs])).nullish(),
  manage_connections: manageConnections.nullish(),
  workbench: workbench.nullish(),
  multi_account: multiAccount.nullish(),
  preload: z
    .object({ tools: z.union([slugs, z.string()]).optional() })
    .strict()
    .optional(),
  search: z.object({ enable: z.boolean().optional() }).strict().optional(),
  execute: z.object({ enable_multi_execute: z.boolean().optional() }).strict().optional(),
  /** The Rust crate's toolkit versions: toolmux has one version of each tool. */
  toolkit_versions: z.unknown().optional(),
};

export const CreateSessionWire = z
  .object({
    user_id: z.string(),
    ...configFields,
    experimental: experimentalWire.optional(),
  })
  .strict();
export type CreateSessionWire = z.infer<typeof CreateSessionWire>;

/** The arrays of {@link CreateSessionWire} that hold thousands of custom tools: checked one by one. */
export const CREATE_SESSION_WIRE_LARGE_ARRAYS: readonly LargeArray[] = [
  { path: ['experimental', 'custom_tools'], item: customToolWire, max: Number.POSITIVE_INFINITY },
  {
    path: ['experimental', 'custom_toolkits'],
    item: customToolkitWire,
    max: Number.POSITIVE_INFINITY,
    inner: [{ path: ['tools'], item: toolkitToolWire, max: Number.POSITIVE_INFINITY }],
  },
];

/**
 * A PATCH of a session: the config fields, `user_id`, which GET answers in the config and no
 * update changes (accepted as answered, so that the config read can be sent back), and Composio's
 * `experimental` of an update (`null`, or options toolmux refuses naming them: `checkExperimental`).
 */
export const UpdateSessionWire = z
  .object({
    user_id: z.string().optional(),
    ...configFields,
    experimental: experimentalWire.pick({ link_url_overwrite: true, permissions: true }).nullish(),
  })
  .strict();
export type UpdateSessionWire = z.infer<typeof UpdateSessionWire>;

/** A 400 (`CONFIG_INVALID`) for an option of Composio's API that toolmux does not have. */
export function unsupported(field: string, why: string): ToolMuxError {
  return new ToolMuxError({
    code: 'CONFIG_INVALID',
    message: `${field} is not supported by toolmux's Composio-compatible API: ${why}`,
  });
}

function tagsOf(filter: z.infer<typeof tagFilter>): SessionConfig['tags'] {
  if (Array.isArray(filter)) return filter;
  const enable = filter.enable ?? filter.enabled;
  const disable = filter.disable ?? filter.disabled;
  return { ...(enable ? { enable } : {}), ...(disable ? { disable } : {}) };
}

function slugFilterOf(filter: z.infer<typeof slugFilter>): { enable: string[] } | { disable: string[] } {
  if (Array.isArray(filter)) return { enable: filter };
  if ('enable' in filter) return { enable: filter.enable };
  if ('enabled' in filter) return { enable: filter.enabled };
  if ('disable' in filter) return { disable: filter.disable };
  return { disable: filter.disabled };
}

/**
 * A toolkit slug as toolmux knows it: Composio's toolkit slugs are not case-sensitive (its clients
 * send `GITHUB` for `github`, and lower-case them as they compare), toolmux's are lower case.
 */
export const toolkitSlugOf: (slug: string) => string = lowerCaseSlug;

/** A map by toolkit (`tools`, `auth_configs`, …) with its keys in lower case; one toolkit twice is refused. */
function byToolkit<T>(field: string, record: Record<string, T>): Record<string, T> {
  const entries = new Map<string, { key: string; value: T }>();
  for (const [key, value] of Object.entries(record)) {
    const slug = toolkitSlugOf(key);
    const before = entries.get(slug);
    if (before) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `${field} names toolkit "${slug}" twice, as ${JSON.stringify(before.key)} and ${JSON.stringify(key)}: toolkit slugs are not case-sensitive, keep one.`,
      });
    }
    entries.set(slug, { key, value });
  }
  return Object.fromEntries([...entries].map(([slug, { value }]) => [slug, value]));
}

/** Checks that a Rust-style `toolkit_versions` asks for nothing but the latest versions. */
export function checkToolkitVersions(value: unknown, field = 'toolkit_versions'): void {
  if (value === undefined || value === null || value === 'latest') return;
  if (typeof value === 'object' && !Array.isArray(value)) {
    for (const [toolkit, version] of Object.entries(value)) {
      if (version !== 'latest') {
        throw unsupported(
          `${field}.${toolkit}`,
          `toolmux serves one version of each tool, so only "latest" can be asked for, not ${JSON.stringify(version)}. Remove the pin.`,
        );
      }
    }
    return;
  }
  throw unsupported(field, `only "latest" (or a map of toolkit to "latest") is accepted.`);
}

/**
 * The options of a stored config that an update merges field by field (read as cores of every
 * version store them: the fields of multi-account sessions and of waiting for connections may be
 * absent).
 */
interface StoredOptions {
  manageConnections: boolean;
  connectionCallbackUrl?: string;
  waitForConnections?: boolean;
  enabledExplicitly?: readonly string[];
  workbench?: { enable: boolean; timeoutMs?: number; memoryMb?: number; autoOffloadThreshold?: number };
  multiAccount?: { enable?: boolean; maxAccountsPerToolkit?: number; requireExplicitSelection?: boolean };
}

/**
 * A stored on/off option as an update hands it back to core: off stays off; on stays explicit only
 * where the config turned it on itself (a default "on" left out, so a DIRECT_TOOLS session does not
 * take it for one it asked for).
 */
function storedSwitch(on: boolean, explicit: boolean): boolean | undefined {
  if (!on) return false;
  return explicit ? true : undefined;
}

/** `manage_connections` (object form) of an update: the fields sent, the others as stored. */
function updatedManageConnections(
  manage: { enable?: boolean | null; enabled?: boolean | null } & {
    callback_url?: string | null;
    enable_wait_for_connections?: boolean | null;
  },
  stored: StoredOptions,
): SessionConfig['manageConnections'] {
  const enable =
    manage.enable ??
    manage.enabled ??
    storedSwitch(stored.manageConnections, stored.enabledExplicitly?.includes('manageConnections') === true);
  // undefined: as stored; null: back to the default (none, not waiting)
  const callbackUrl =
    manage.callback_url === undefined ? stored.connectionCallbackUrl : (manage.callback_url ?? undefined);
  let waitForConnections =
    manage.enable_wait_for_connections === undefined
      ? stored.waitForConnections
      : (manage.enable_wait_for_connections ?? undefined);
  // turned off: no waiting either (it waits for the links manage-connections hands out)
  if (enable === false && manage.enable_wait_for_connections == null) waitForConnections = undefined;
  return {
    ...(enable !== undefined ? { enable } : {}),
    ...(callbackUrl !== undefined ? { callbackUrl } : {}),
    ...(waitForConnections !== undefined ? { waitForConnections } : {}),
  };
}

/** The options whose fields an update merges one by one with the stored ones (see {@link toolmuxConfig}). */
const MERGED_OPTIONS: ReadonlySet<string> = new Set(['manage_connections', 'workbench', 'multi_account']);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The changes of a PATCH to a session whose config GET answers as `answered` (`composioConfig` or
 * `composioConfigV3` of the stored config): the config GET answered can be sent back, changed or not.
 * A key sent as answered is no change, and within `manage_connections`, `workbench` and
 * `multi_account` a field sent as answered keeps its stored value (so that a meta-tool on by default
 * is not taken for one turned on, which a direct-tools session goes by); `search` and `execute` go
 * together (toolmux turns them off together) and stay as sent when either changes. `user_id` is read
 * only: accepted as answered, refused changed.
 */
export function configChangesOf(
  wire: UpdateSessionWire,
  answered: Readonly<Record<string, unknown>>,
  sessionId: string,
): UpdateSessionWire {
  // as a client reads it: JSON (a field whose value is undefined is not there)
  const current = JSON.parse(JSON.stringify(answered)) as Record<string, unknown>;
  const same = (key: string) => isDeepStrictEqual(wire[key as keyof UpdateSessionWire], current[key]);
  if (wire.user_id !== undefined && !same('user_id')) {
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `user_id cannot change in an update (it is ${JSON.stringify(current.user_id)}, not ${JSON.stringify(wire.user_id)}): leave it out, or send it as ${apiRef('use', { sessionId })} answered it. A session's calls run for its own user; create a session for the other user.`,
    });
  }
  const presetSame = same('search') && same('execute');
  const changes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(wire)) {
    if (value === undefined || key === 'user_id') continue;
    if (key === 'search' || key === 'execute' ? presetSame : same(key)) continue;
    const before = current[key];
    changes[key] =
      MERGED_OPTIONS.has(key) && isObject(value) && isObject(before)
        ? Object.fromEntries(
            Object.entries(value).filter(([field, given]) => !isDeepStrictEqual(given, before[field])),
          )
        : value;
  }
  return changes as UpdateSessionWire;
}

/**
 * The toolmux `SessionConfig` for a Composio session config. `update` is a PATCH: it leaves out
 * what was not sent, merges the fields of `manage_connections`, `workbench` and `multi_account` with
 * the `stored` config's, and turns `null`, Composio's "back to the default", into the default.
 */
export function toolmuxConfig(wire: UpdateSessionWire, mode: 'create'): SessionConfig;
export function toolmuxConfig(
  wire: UpdateSessionWire,
  mode: 'update',
  stored: Readonly<NormalizedSessionConfig>,
): SessionConfig;
export function toolmuxConfig(
  wire: UpdateSessionWire,
  mode: 'create' | 'update',
  storedConfig?: Readonly<NormalizedSessionConfig>,
): SessionConfig {
  const stored = storedConfig as unknown as StoredOptions | undefined;
  const config: Record<string, unknown> = {};
  checkToolkitVersions(wire.toolkit_versions);
  if (wire.toolkits !== undefined) {
    const filter = slugFilterOf(wire.toolkits);
    config.toolkits =
      'enable' in filter
        ? { enable: filter.enable.map(toolkitSlugOf) }
        : { disable: filter.disable.map(toolkitSlugOf) };
  }
  if (wire.tools !== undefined) {
    config.tools = Object.fromEntries(
      Object.entries(byToolkit('tools', wire.tools)).map(([toolkit, filter]) => [
        toolkit,
        !Array.isArray(filter) && 'tags' in filter ? { tags: tagsOf(filter.tags) } : slugFilterOf(filter),
      ]),
    );
  }
  if (wire.tags !== undefined) config.tags = tagsOf(wire.tags);
  if (wire.auth_configs !== undefined) config.authConfigs = byToolkit('auth_configs', wire.auth_configs);
  if (wire.connected_accounts === null) config.connectedAccounts = {};
  else if (wire.connected_accounts !== undefined) {
    config.connectedAccounts = byToolkit('connected_accounts', wire.connected_accounts);
  }
  if (wire.preload !== undefined) {
    const tools = wire.preload.tools;
    if (typeof tools === 'string' && tools !== 'all') {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `preload.tools must be a list of tool slugs or "all", not ${JSON.stringify(tools)}.`,
      });
    }
    config.preload = tools === undefined ? {} : { tools };
  }

  // Composio's direct-tools preset turns search and multi-execute off together.
  const searchOff = wire.search?.enable === false;
  const multiExecuteOff = wire.execute?.enable_multi_execute === false;
  if (searchOff !== multiExecuteOff) {
    throw unsupported(
      searchOff ? 'search.enable: false' : 'execute.enable_multi_execute: false',
      'toolmux turns the meta-tools off together (the direct-tools preset): send search.enable: false and execute.enable_multi_execute: false both, or neither.',
    );
  }
  if (searchOff) config.sessionPreset = 'DIRECT_TOOLS';
  else if (wire.search?.enable === true && mode === 'update') config.sessionPreset = 'META_TOOLS';

  // null is Composio's "the default": the object form with no field (on but not turned on
  // explicitly, so that a direct-tools session stays without the meta-tool; no callback URL, not
  // waiting). It was undefined, which core's update() takes for a key not given: nothing changed
  const manage = wire.manage_connections;
  if (manage === null) config.manageConnections = {};
  else if (typeof manage === 'boolean') config.manageConnections = manage;
  else if (manage !== undefined && manage !== null) {
    if (manage.enable_connection_removal) {
      throw unsupported(
        'manage_connections.enable_connection_removal',
        'toolmux has no meta-tool that removes connections.',
      );
    }
    if (stored) {
      config.manageConnections = updatedManageConnections(manage, stored);
    } else {
      const enable = manage.enable ?? manage.enabled ?? true;
      const callbackUrl = manage.callback_url ?? undefined;
      const waitForConnections = manage.enable_wait_for_connections ?? undefined;
      // the object form of toolmux's manageConnections (where the links return, waiting for them)
      config.manageConnections =
        callbackUrl !== undefined || waitForConnections
          ? {
              enable,
              ...(callbackUrl !== undefined ? { callbackUrl } : {}),
              ...(waitForConnections ? { waitForConnections: true } : {}),
            }
          : enable;
    }
  }

  const bench = wire.workbench;
  if (bench === null) config.workbench = {};
  else if (bench !== undefined) {
    if (bench.enable_proxy_execution || bench.proxy_execution || bench.proxy_execution_enabled) {
      throw unsupported(
        'workbench.enable_proxy_execution',
        "toolmux's workbench runs JavaScript that calls the session's tools; it has no proxy execution. Call proxy_execute instead.",
      );
    }
    if (bench.sandbox_size !== undefined && bench.sandbox_size !== 'standard') {
      throw unsupported(
        'workbench.sandbox_size',
        `toolmux's workbench runs in a worker thread of the server with a memory limit, not a sized sandbox; leave sandbox_size out (got ${JSON.stringify(bench.sandbox_size)}).`,
      );
    }
    // an update keeps what it does not send: the stored settings, and on/off as stored
    const storedBench = stored?.workbench;
    const enable =
      bench.enable ??
      (storedBench === undefined || !stored
        ? undefined
        : storedSwitch(storedBench.enable, stored.enabledExplicitly?.includes('workbench') === true));
    config.workbench = {
      // the settings of core's workbench config (toolmux's own API sets the first two)
      ...(storedBench?.timeoutMs !== undefined ? { timeoutMs: storedBench.timeoutMs } : {}),
      ...(storedBench?.memoryMb !== undefined ? { memoryMb: storedBench.memoryMb } : {}),
      ...(storedBench?.autoOffloadThreshold !== undefined
        ? { autoOffloadThreshold: storedBench.autoOffloadThreshold }
        : {}),
      ...(enable !== undefined ? { enable } : {}),
      ...(bench.auto_offload_threshold !== undefined
        ? { autoOffloadThreshold: bench.auto_offload_threshold }
        : {}),
    };
  }

  const accounts = wire.multi_account;
  if (stored && accounts !== undefined) {
    // null: back to the default (one account per toolkit); fields not sent stay as stored
    const given = {
      ...(accounts?.enable != null ? { enable: accounts.enable } : {}),
      ...(accounts?.max_accounts_per_toolkit != null
        ? { maxAccountsPerToolkit: accounts.max_accounts_per_toolkit }
        : {}),
      ...(accounts?.require_explicit_selection != null
        ? { requireExplicitSelection: accounts.require_explicit_selection }
        : {}),
    };
    const enable = accounts === null ? false : (given.enable ?? stored.multiAccount?.enable === true);
    config.multiAccount = enable
      ? { ...stored.multiAccount, ...given, enable: true }
      : // off: the stored count and selection go with it (core refuses them without enable)
        { ...given, enable: false };
  } else if (accounts && (accounts.enable || accounts.max_accounts_per_toolkit !== undefined)) {
    config.multiAccount = {
      enable: accounts.enable ?? false,
      ...(accounts.max_accounts_per_toolkit !== undefined
        ? { maxAccountsPerToolkit: accounts.max_accounts_per_toolkit }
        : {}),
      ...(accounts.require_explicit_selection !== undefined
        ? { requireExplicitSelection: accounts.require_explicit_selection }
        : {}),
    };
  }
  return config as SessionConfig;
}

/** Refuses the experimental options of Composio that toolmux lacks (custom tools are handled apart). */
export function checkExperimental(experimental: ExperimentalWire | undefined): void {
  if (!experimental) return;
  if (experimental.assistive_prompt_config !== undefined) {
    throw unsupported(
      'experimental.assistive_prompt_config',
      'toolmux does not write an assistive system prompt; write your own.',
    );
  }
  if (experimental.link_url_overwrite !== undefined) {
    throw unsupported(
      'experimental.link_url_overwrite',
      "connection links open the server's hosted connect page (/connect/:id) on its public base URL.",
    );
  }
  if (experimental.permissions !== undefined) {
    throw unsupported('experimental.permissions', 'toolmux has no per-session permission rules.');
  }
}

type ComposioTags = { enabled?: string[]; disabled?: string[] };

function wireSlugFilter(filter: { mode: 'enable' | 'disable'; slugs: string[] }) {
  return filter.mode === 'enable' ? { enabled: filter.slugs } : { disabled: filter.slugs };
}

function wireTags(tags: { enable: string[]; disable: string[] }): ComposioTags {
  return {
    ...(tags.enable.length > 0 ? { enabled: tags.enable } : {}),
    ...(tags.disable.length > 0 ? { disabled: tags.disable } : {}),
  };
}

/** A stored toolmux config in the shape of Composio's `config` (what `session.config` holds). */
export function composioConfig(
  config: Readonly<NormalizedSessionConfig>,
  userId: string,
): Record<string, unknown> {
  const direct = config.sessionPreset === 'DIRECT_TOOLS';
  // what the session hands its agent (a DIRECT_TOOLS session has only the meta-tools it asked for)
  const exposed = exposedMetaToolKinds(config);
  // fields of cores that have multi-account sessions and waiting for connections
  const extra = config as unknown as {
    multiAccount?: { enable?: boolean; maxAccountsPerToolkit?: number; requireExplicitSelection?: boolean };
    manageConnections: boolean;
    connectionCallbackUrl?: string;
    waitForConnections?: boolean;
  };
  return {
    user_id: userId,
    execute: { enable_multi_execute: !direct },
    search: { enable: !direct },
    preload: { tools: config.preload.tools },
    auth_configs: { ...config.authConfigs },
    connected_accounts: { ...config.connectedAccounts },
    manage_connections: {
      enabled: exposed.has('MANAGE_CONNECTIONS'),
      ...(extra.connectionCallbackUrl ? { callback_url: extra.connectionCallbackUrl } : {}),
      ...(extra.waitForConnections ? { enable_wait_for_connections: true } : {}),
    },
    ...(extra.multiAccount
      ? {
          multi_account: {
            enable: extra.multiAccount.enable ?? false,
            ...(extra.multiAccount.maxAccountsPerToolkit !== undefined
              ? { max_accounts_per_toolkit: extra.multiAccount.maxAccountsPerToolkit }
              : {}),
            ...(extra.multiAccount.requireExplicitSelection !== undefined
              ? { require_explicit_selection: extra.multiAccount.requireExplicitSelection }
              : {}),
          },
        }
      : {}),
    tags: wireTags(config.tags),
    ...(config.toolkits.mode === 'all' ? {} : { toolkits: wireSlugFilter(config.toolkits) }),
    tools: Object.fromEntries(
      Object.entries(config.tools).map(([toolkit, filter]) => [
        toolkit,
        filter.mode === 'tags' ? { tags: wireTags(filter.tags) } : wireSlugFilter(filter),
      ]),
    ),
    workbench: {
      enable: exposed.has('WORKBENCH'),
      ...(config.workbench ? { auto_offload_threshold: config.workbench.autoOffloadThreshold } : {}),
    },
  };
}

/**
 * Composio's custom tools belong to every session they are given to, whatever its toolkit filter;
 * toolmux files them under toolkits (`custom`, or a custom toolkit's slug), so an allow-list of
 * toolkits gets those too.
 */
export function withCustomToolkits(config: SessionConfig, customToolkits: readonly string[]): SessionConfig {
  const toolkits = config.toolkits;
  if (customToolkits.length === 0 || toolkits === undefined) return config;
  const enable = Array.isArray(toolkits) ? toolkits : 'enable' in toolkits ? toolkits.enable : undefined;
  if (!enable) return config;
  return { ...config, toolkits: { enable: [...new Set([...enable, ...customToolkits])] } };
}

/**
 * The toolkits a stored session files its client-side custom tools under, but the catalog's
 * (`isCatalogToolkit`): sessions stored before custom tools that extend a toolkit were filed apart
 * have them under that toolkit, and letting it in again would hand the session all its tools.
 */
export function customToolkitsOf(
  config: Readonly<NormalizedSessionConfig>,
  isCatalogToolkit: (slug: string) => boolean = () => false,
): string[] {
  const slugs = new Set<string>();
  for (const tool of config.clientTools ?? []) {
    const toolkit = tool.toolkit || 'custom';
    if (toolkit === 'custom' || !isCatalogToolkit(toolkit)) slugs.add(toolkit);
  }
  for (const toolkit of config.clientToolkits ?? []) slugs.add(toolkit.slug);
  return [...slugs];
}

/**
 * Whether `slug` (lower case) is a toolkit of the session's own: one of its custom toolkits, or one a
 * custom tool is filed under by its slug (`LOCAL_<TOOLKIT>_<SLUG>`, which a search filter matches).
 */
export function namesCustomToolkit(config: Readonly<NormalizedSessionConfig>, slug: string): boolean {
  if (config.customToolkits.includes(slug) || customToolkitsOf(config).includes(slug)) return true;
  const prefix = `LOCAL_${slug.toUpperCase()}_`;
  const toolSlugs = [
    ...config.customTools,
    ...(config.clientToolkits ?? []).flatMap((toolkit) => toolkit.tools.map((tool) => tool.slug)),
  ];
  return toolSlugs.some((toolSlug) => toolSlug.startsWith(prefix));
}

/**
 * The config as the v3 routes answer it: in the form a session is created with (a toolkit list or
 * `{ disable }`, `{ enable }` / `{ disable }` per toolkit, one connected account per toolkit, tags as
 * `{ enabled, disabled }`), which is what the Rust crate `composio-sdk`, the v3 client, reads back.
 * A per-toolkit tag filter has no form there and is left out.
 */
export function composioConfigV3(
  config: Readonly<NormalizedSessionConfig>,
  userId: string,
): Record<string, unknown> {
  const v31 = composioConfig(config, userId);
  const tools: Record<string, unknown> = {};
  for (const [toolkit, filter] of Object.entries(config.tools)) {
    if (filter.mode === 'enable') tools[toolkit] = { enable: filter.slugs };
    else if (filter.mode === 'disable') tools[toolkit] = { disable: filter.slugs };
  }
  return {
    user_id: userId,
    ...(config.toolkits.mode === 'enable'
      ? { toolkits: config.toolkits.slugs }
      : config.toolkits.mode === 'disable'
        ? { toolkits: { disable: config.toolkits.slugs } }
        : {}),
    auth_configs: { ...config.authConfigs },
    connected_accounts: Object.fromEntries(
      Object.entries(config.connectedAccounts)
        .filter(([, ids]) => ids.length > 0)
        .map(([toolkit, ids]) => [toolkit, ids[0]]),
    ),
    manage_connections: v31.manage_connections,
    tools,
    tags: v31.tags,
    workbench: {
      auto_offload_threshold: (v31.workbench as { auto_offload_threshold?: number }).auto_offload_threshold,
    },
  };
}
