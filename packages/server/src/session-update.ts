import { isDeepStrictEqual } from 'node:util';
import type { NormalizedSessionConfig, Provider, Session, SessionConfig, ToolMux } from '@toolmux/core';
import { ToolMuxError } from '@toolmux/core';
import type { UpdateSessionConfig } from './rest/schemas.js';

/**
 * How many times a PATCH that names no version is applied to the session as it is now before it
 * fails: each round, one of the updates racing for a version wins, so this many in a row are as many
 * updates of one session at the same moment.
 */
const UPDATE_ATTEMPTS = 64;

/**
 * Applies a PATCH of a session that names no expected version: the changes `changesOf` makes from the
 * session as it is now, written as `session.update()` writes them (a compare-and-set on its version).
 * When another update won the race between the read and the write (`SESSION_VERSION_CONFLICT`), the
 * session is read again and the PATCH applied to that, so PATCHes sent at once all apply, each to
 * what the others left, instead of all but one answering 409 (a client that wants its update refused
 * after another one gives `expected_version`). Resolves with the updated session.
 */
export async function updateLatest(
  toolmux: ToolMux<Provider<unknown>>,
  sessionId: string,
  changesOf: (session: Session<unknown>) => SessionConfig,
): Promise<Session<unknown>> {
  for (let attempt = 1; ; attempt++) {
    const session = await toolmux.use(sessionId);
    try {
      await session.update(changesOf(session));
      return session;
    } catch (error) {
      const raced = ToolMuxError.isInstance(error) && error.code === 'SESSION_VERSION_CONFLICT';
      if (!raced || attempt >= UPDATE_ATTEMPTS) throw error;
    }
  }
}

/** Keys of the stored config that no update sets: what create() made of the custom tools, and of `enable`. */
const READ_ONLY_KEYS = [
  'enabledExplicitly',
  'customTools',
  'customToolkits',
  'joinedToolkits',
  'clientTools',
  'clientToolkits',
] as const;

type StoredFilter = { mode: 'all' } | { mode: 'enable' | 'disable'; slugs: string[] };

/** A filter as the update takes it: a normalized one (`{ mode, slugs }`) as create() takes it. */
function filterChange(filter: unknown): unknown {
  if (filter === null || typeof filter !== 'object' || !('mode' in filter)) return filter;
  const stored = filter as StoredFilter | { mode: 'tags'; tags: unknown };
  if (stored.mode === 'tags') return { tags: stored.tags };
  if (stored.mode === 'all') return { disable: [] };
  return stored.mode === 'enable' ? { enable: stored.slugs } : { disable: stored.slugs };
}

/**
 * The changes of a PATCH of `/api/v1/sessions/:id` to a session whose config is `stored`. The config
 * `GET` answered can be sent back, changed or not: a key whose value is the stored one is no change
 * (so a meta-tool on by default is not taken for one turned on, which a DIRECT_TOOLS session goes by),
 * normalized filters are taken as the filters they stand for, `connectionCallbackUrl` and
 * `waitForConnections` as the fields of `manageConnections`, and the keys no update sets (custom
 * tools, `enabledExplicitly`) are accepted as they were and refused changed.
 */
export function configChangesOf(
  sent: UpdateSessionConfig,
  stored: Readonly<NormalizedSessionConfig>,
): SessionConfig {
  const storedFields = stored as unknown as Record<string, unknown>;
  const changes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(sent)) {
    if (value === undefined || isDeepStrictEqual(value, storedFields[key])) continue;
    if ((READ_ONLY_KEYS as readonly string[]).includes(key)) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `config.${key} cannot change in an update (it is ${JSON.stringify(storedFields[key] ?? null)}): leave it out, or send it as GET /api/v1/sessions/:id answered it. Custom tools are given when the session is created.`,
      });
    }
    changes[key] = value;
  }
  if (changes.toolkits !== undefined) changes.toolkits = filterChange(changes.toolkits);
  if (changes.tools !== undefined) {
    changes.tools = Object.fromEntries(
      Object.entries(changes.tools as Record<string, unknown>).map(([toolkit, filter]) => [
        toolkit,
        filterChange(filter),
      ]),
    );
  }
  // the fields of manageConnections as GET answers them, beside it: given back as its fields
  const { connectionCallbackUrl, waitForConnections } = changes as {
    connectionCallbackUrl?: string;
    waitForConnections?: boolean;
  };
  delete changes.connectionCallbackUrl;
  delete changes.waitForConnections;
  if (connectionCallbackUrl !== undefined || waitForConnections !== undefined) {
    const manage = changes.manageConnections;
    changes.manageConnections = {
      ...(typeof manage === 'boolean' ? { enable: manage } : (manage as object | undefined)),
      ...(connectionCallbackUrl !== undefined ? { callbackUrl: connectionCallbackUrl } : {}),
      ...(waitForConnections !== undefined ? { waitForConnections } : {}),
    };
  }
  // an `enable` sent back as stored keeps it as it was (on by default stays a default)
  const workbench = changes.workbench as { enable?: boolean } | undefined;
  if (workbench?.enable !== undefined && workbench.enable === stored.workbench?.enable) {
    const { enable: _kept, ...settings } = workbench;
    changes.workbench = settings;
  }
  const manage = changes.manageConnections;
  if (typeof manage === 'object' && manage !== null && 'enable' in manage) {
    if (manage.enable === stored.manageConnections) {
      const { enable: _kept, ...settings } = manage as { enable?: boolean };
      changes.manageConnections = settings;
    }
  }
  return changes as SessionConfig;
}
