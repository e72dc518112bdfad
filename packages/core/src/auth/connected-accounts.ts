import { apiRef } from '../api-refs.js';
import type { FieldAuthScheme, OAuth2Scheme, Toolkit } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import { readerError } from '../meta-tools/hints.js';
import type {
  AuthConfigRecord,
  ConnectedAccountChanges,
  ConnectedAccountRecord,
  ConnectionStatus,
  ListConnectedAccountsQuery,
  Store,
} from '../store/types.js';
import { ID_FIX } from '../util/arguments.js';
import { newId } from '../util/ids.js';
import { checkId, checkUserId, shownValue } from '../util/stored-text.js';
import { aliasTakenError, checkAlias, claimingAlias } from './aliases.js';
import { type AuthRecords, publicAccount } from './auth-records.js';
import { type CredentialLoader, revokeTokenSet, type StoredCredentials } from './credentials.js';
import { checkFields, schemeOf } from './schemes.js';
import type { ConnectedAccount } from './types.js';

/** The account of the user and toolkit that has `alias`, if any. */
async function aliasHolder(store: Store, userId: string, toolkit: string, alias: string) {
  const { items } = await store.listConnectedAccounts({
    userIds: [userId],
    toolkits: [toolkit],
    aliases: [alias],
    limit: 1,
  });
  return items[0];
}

/** An account a call can use (ACTIVE) or the application disabled (INACTIVE) keeps its alias. */
function keepsAlias(account: { status: string }): boolean {
  return account.status === 'ACTIVE' || account.status === 'INACTIVE';
}

/**
 * Makes `alias` free for a new account of the user and toolkit (`except`: that account): an account
 * no call can use (INITIATED, FAILED, EXPIRED, REVOKED) lets go of it, only as it was read (an attempt
 * whose callback connected it meanwhile is ACTIVE and keeps it); ALIAS_TAKEN names an ACTIVE or
 * INACTIVE holder.
 */
export async function freeAlias(
  store: Store,
  userId: string,
  toolkit: string,
  alias: string,
  except?: string,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const holder = await aliasHolder(store, userId, toolkit, alias);
    if (!holder || holder.id === except) return;
    if (keepsAlias(holder) || attempt > 3) throw aliasTakenError(alias, toolkit, holder.id);
    if (await store.updateConnectedAccount(holder.id, { alias: null }, holder.version)) return;
  }
}

/** How many (up to `max`) ACTIVE or INACTIVE accounts of the toolkit the user has: what the limit counts. */
export async function accountsInLimit(
  store: Store,
  userId: string,
  toolkit: string,
  max: number,
  except?: string,
): Promise<number> {
  const { items } = await store.listConnectedAccounts({
    userIds: [userId],
    toolkits: [toolkit],
    statuses: ['ACTIVE', 'INACTIVE'],
    limit: max + 1,
  });
  return items.filter((item) => item.id !== except).length;
}

/**
 * ACCOUNT_LIMIT_REACHED: the user has `max` (the session's `multiAccount.maxAccountsPerToolkit`)
 * ACTIVE or INACTIVE accounts of the toolkit. `then` says what became of the request.
 */
export function accountLimitReached(
  userId: string,
  label: string,
  toolkit: string,
  max: number,
  then = '',
): ToolMuxError {
  // the agent (TOOLMUX_MANAGE_CONNECTIONS) cannot delete an account: the user asks the application
  return readerError(
    (reader) =>
      new ToolMuxError({
        code: 'ACCOUNT_LIMIT_REACHED',
        message: `User ${shownValue(userId)} already has ${max} ${label} accounts (ACTIVE or INACTIVE), the session's multiAccount.maxAccountsPerToolkit (${max}).${then} ${
          reader.metaTools.size > 0
            ? 'Tell the user that one must be removed or disabled in the application before another can be connected.'
            : `Delete or disable one (${apiRef('connectedAccounts.delete')}) before connecting another, or raise the limit (at most 10).`
        }`,
        details: { toolkit, maxAccountsPerToolkit: max },
      }),
  );
}

/**
 * The toolkit's oauth2 scheme when it names a `revocationUrl` (RFC 7009): else toolmux revokes
 * nothing of its accounts, and needs neither their tokens nor the config's client secret to delete them.
 */
function revocationScheme(records: AuthRecords, toolkitSlug: string): OAuth2Scheme | undefined {
  const toolkit = records.options.catalog.toolkits.get(toolkitSlug);
  const scheme = toolkit ? schemeOf(toolkit, 'oauth2') : undefined;
  return scheme?.type === 'oauth2' && scheme.revocationUrl ? scheme : undefined;
}

/**
 * Logs that the account's tokens could not be revoked because of `error` (its code and message, which
 * never hold a token: it is not one of the provider's answers), ending with `anyway`: the operator
 * revokes them at the provider by hand.
 */
export function revocationFailed(
  records: AuthRecords,
  account: Pick<ConnectedAccountRecord, 'id' | 'toolkit'>,
  error: unknown,
  anyway: string,
): void {
  const why = ToolMuxError.isInstance(error)
    ? `${error.code}: ${error.message}`
    : error instanceof Error
      ? error.message
      : 'unknown error';
  records.options.logger.warn(
    `toolmux: could not revoke the tokens of ${account.id} at ${records.label(account.toolkit)} (${why}); ${anyway}: revoke them at the provider if they may still be live.`,
  );
}

/**
 * What `open` reads from the vault to revoke an account's tokens (its tokens, its config's client
 * secret), or `undefined` when that no longer decrypts (SECRET_DECRYPTION_FAILED: the row was
 * altered), logged: nobody can read it, so nothing can revoke with it, and refusing would only keep the
 * account from ever being deleted. Sealed with a key not configured (SECRET_KEY_MISSING), it can be
 * read once the key is: that is thrown.
 */
function openedToRevoke<T>(
  records: AuthRecords,
  account: Pick<ConnectedAccountRecord, 'id' | 'toolkit'>,
  anyway: string,
  open: () => T,
): T | undefined {
  try {
    return open();
  } catch (error) {
    if (!ToolMuxError.isInstance(error) || error.code !== 'SECRET_DECRYPTION_FAILED') throw error;
    revocationFailed(records, account, error, anyway);
    return undefined;
  }
}

/**
 * Revokes an account's OAuth tokens at the provider (RFC 7009) when the toolkit's scheme names a
 * `revocationUrl`: the refresh token and the access token, at once. A provider that cannot be reached or
 * refuses is logged (without the tokens), ending with `anyway`; so is a config whose client secret no
 * longer decrypts (see {@link openedToRevoke}).
 */
export async function revokeStoredTokens(
  records: AuthRecords,
  account: Pick<ConnectedAccountRecord, 'id' | 'toolkit'>,
  config: AuthConfigRecord,
  stored: StoredCredentials,
  anyway: string,
): Promise<void> {
  const { catalog, fetch, oauthRequestTimeoutMs, logger } = records.options;
  const scheme = revocationScheme(records, account.toolkit);
  if (!scheme) return;
  const client = openedToRevoke(records, account, anyway, () =>
    records.oauthClient(config, catalog.getToolkit(account.toolkit)),
  );
  if (!client) return;
  await revokeTokenSet(
    { scheme, client },
    stored,
    { fetch, timeoutMs: oauthRequestTimeoutMs, logger },
    `the %s of ${account.id} at ${records.label(account.toolkit)}`,
    anyway,
  );
}

/**
 * Checks that `account` can be reconnected in place (`connectedAccounts.reconnect()`): it was
 * connected once (an attempt is finished by its own request, or replaced with `link()`), and the
 * application has not disabled it (`enable()` it first: a reconnect would undo the disable).
 */
export function checkReconnectable(account: ConnectedAccountRecord): void {
  const never = account.status === 'INITIATED' || account.connectedAt === null;
  if (!never && account.status !== 'INACTIVE') return;
  throw new ToolMuxError({
    code: 'INVALID_REQUEST',
    message: never
      ? `Connected account ${account.id} was never connected (it is ${account.status}, an unfinished connection attempt): there is nothing to reconnect. Start a new connection with ${apiRef('connectedAccounts.link', { authConfigId: account.authConfigId })}.`
      : `Connected account ${account.id} was disabled (INACTIVE) by the application: enable it again with ${apiRef('connectedAccounts.enable')} first, then reconnect it if its credentials no longer work.`,
    details: { connectedAccountId: account.id, status: account.status },
  });
}

/**
 * Writes a reconnect's new credentials (`changes`: ACTIVE, the secret, its expiry) to the account it
 * reconnects, as the account was read (a compare-and-set on its version), keeping its id, alias, user,
 * toolkit and auth config. An account the application disabled meanwhile stays INACTIVE (the
 * credentials are kept for `enable()`); one deleted meanwhile is not written: undefined.
 * `replaced` is told the account as it was just before the write (the credentials it no longer holds).
 */
export async function reconnectAccount(
  store: Store,
  id: string,
  changes: ConnectedAccountChanges,
  replaced?: (previous: ConnectedAccountRecord) => void,
): Promise<ConnectedAccountRecord | undefined> {
  for (let attempt = 1; ; attempt++) {
    const account = await store.getConnectedAccount(id);
    if (!account) return undefined;
    const written: ConnectedAccountChanges =
      account.status === 'INACTIVE'
        ? { ...changes, status: 'INACTIVE', statusReason: account.statusReason }
        : changes;
    // after a few writes of others in between (a refresh's lease), the last one without the version
    const updated = await store.updateConnectedAccount(
      id,
      written,
      attempt > 5 ? undefined : account.version,
    );
    if (updated) replaced?.(account);
    if (updated || attempt > 5) return updated;
  }
}

/**
 * Revokes at the provider (RFC 7009, where the scheme names a `revocationUrl`) the OAuth tokens a
 * reconnect replaced: `previous` is the account as it was before, `kept` the credentials it holds
 * now. As deleting the account would, the refresh token and the access token at once; a token the
 * provider answered again (it is in `kept`) is not revoked, nor anything when the scheme says that a
 * revocation ends the user's whole grant (`revocationEndsGrant`: it would end the new tokens too).
 * Best effort: a failure (the provider, a secret that does not open) is logged, naming the account
 * and never a token, and the reconnect stands; never rejects. The OAuth callback runs it in the
 * background, after it answered (`PendingRevocations`).
 */
export async function revokeReplacedTokens(
  records: AuthRecords,
  previous: ConnectedAccountRecord,
  config: AuthConfigRecord,
  kept: StoredCredentials,
): Promise<void> {
  const scheme = revocationScheme(records, previous.toolkit);
  const sealed = previous.secret;
  if (!sealed || !scheme || scheme.revocationEndsGrant || kept.type !== 'oauth2') return;
  const anyway = 'the account keeps its new tokens';
  try {
    const old = openedToRevoke(records, previous, anyway, () =>
      records.options.vault.openJson<StoredCredentials>(previous.id, sealed),
    );
    // the same access token again is the same token set: nothing was replaced
    if (old?.type !== 'oauth2' || old.accessToken === kept.accessToken) return;
    const stale = old.refreshToken === kept.refreshToken ? { ...old, refreshToken: undefined } : old;
    await revokeStoredTokens(records, previous, config, stale, anyway);
  } catch (error) {
    revocationFailed(records, previous, error, anyway);
  }
}

/** Every status a connected account may have (a list filter's, and what a remote client reads). */
export const ACCOUNT_STATUSES = [
  'INITIATED',
  'ACTIVE',
  'FAILED',
  'EXPIRED',
  'INACTIVE',
  'REVOKED',
] as const satisfies readonly ConnectionStatus[];

/**
 * `mux.connectedAccounts`: a user's accounts of a toolkit (create with credentials, list, get,
 * enable, disable, refresh, delete with token revocation).
 */
export class ConnectedAccounts {
  readonly #records: AuthRecords;
  readonly #credentials: CredentialLoader;

  constructor(records: AuthRecords, credentials: CredentialLoader) {
    this.#records = records;
    this.#credentials = credentials;
  }

  /** A non-OAuth account (API key, token, username and password): ACTIVE right away. */
  async create(
    userId: string,
    authConfigId: string,
    credentials: unknown,
    options: { alias?: string } = {},
  ): Promise<ConnectedAccount> {
    const alias = options?.alias === undefined ? undefined : checkAlias(options.alias);
    const config = await this.#records.authConfig(authConfigId);
    if (config.type === 'oauth2') {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `Auth config ${config.id} is oauth2: connect it with ${apiRef('connectedAccounts.link', { authConfigId: config.id })} (or ${apiRef('session.authorize', { toolkit: config.toolkit })}), not ${apiRef('connectedAccounts.create')}.`,
      });
    }
    const record = this.fieldsAccount(userId, config, credentials, alias);
    // The store takes the alias from an account no call can use in the insert's transaction: a refused
    // insert (the config deleted meanwhile, say) leaves it there. Freeing it first and then inserting
    // took it from an EXPIRED account even when no account was made.
    await this.takingAlias(userId, config.toolkit, alias, () =>
      this.#records.store.insertConnectedAccount(record),
    );
    return publicAccount(record);
  }

  /**
   * Runs `write`, a store write that makes an account with `alias` and takes the alias from an account
   * no call can use in its own transaction (`insertConnectedAccount`, `completeConnectionRequest`), so
   * that a refused write changes nothing. ALIAS_TAKEN naming the holder when an ACTIVE or INACTIVE
   * account has it, before anything is written.
   */
  async takingAlias<T>(
    userId: string,
    toolkit: string,
    alias: string | null | undefined,
    write: () => Promise<T>,
  ): Promise<T> {
    if (!alias) return write();
    await this.checkAliasFree(userId, toolkit, alias);
    try {
      return await write();
    } catch (error) {
      if (!ToolMuxError.isInstance(error) || error.code !== 'ALIAS_TAKEN') throw error;
      // a store of your own that does not take the alias itself: let it go here, then once more
      await this.freeAlias(userId, toolkit, alias);
      return claimingAlias(alias, toolkit, write);
    }
  }

  /**
   * Makes `alias` free for a new account of the user and toolkit: an unfinished attempt holding it
   * (INITIATED, FAILED), or an account no call can use any more and the user must connect again
   * (EXPIRED, REVOKED), lets go of it, so that connecting again under the alias works; an ACTIVE or
   * INACTIVE (disabled by the application) account keeps it, and ALIAS_TAKEN names it.
   */
  freeAlias(userId: string, toolkit: string, alias: string, except?: string): Promise<void> {
    return freeAlias(this.#records.store, userId, toolkit, alias, except);
  }

  /**
   * ALIAS_TAKEN (naming the holder) when an ACTIVE or INACTIVE account of the user and toolkit has
   * `alias`; changes nothing. An account no call can use that has it lets go of it when the new account
   * is connected (`completeConnectionRequest`, `activateConnectedAccount` do both in one transaction),
   * so a connection started under the alias and never finished, or refused, takes it from nobody.
   */
  async checkAliasFree(userId: string, toolkit: string, alias: string): Promise<void> {
    const holder = await aliasHolder(this.#records.store, userId, toolkit, alias);
    if (holder && keepsAlias(holder)) {
      throw aliasTakenError(alias, toolkit, holder.id);
    }
  }

  /**
   * `multiAccount.maxAccountsPerToolkit` when a connection starts: ACCOUNT_LIMIT_REACHED when the user
   * already has `max` ACTIVE or INACTIVE accounts of the toolkit (expired ones do not count: they are
   * reconnected). The request keeps `max`, and the store checks it again, atomically, when the
   * request makes its account (`completeConnectionRequest`, `activateConnectedAccount`).
   */
  async checkRoom(userId: string, toolkit: Toolkit, max: number): Promise<void> {
    if ((await accountsInLimit(this.#records.store, userId, toolkit.slug, max)) < max) return;
    throw accountLimitReached(userId, this.#records.label(toolkit.slug), toolkit.slug, max);
  }

  /**
   * `connectedAccounts.update(id, { alias })`: renames an account (`alias: null` removes its alias).
   * ALIAS_TAKEN when another account of the user and toolkit has it.
   */
  async update(id: string, changes: { alias?: string | null }): Promise<ConnectedAccount> {
    if (typeof changes !== 'object' || changes === null || !('alias' in changes)) {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: 'connectedAccounts.update() takes { alias }: the new alias, or null to remove it.',
      });
    }
    const alias = changes.alias === null ? null : checkAlias(changes.alias);
    const account = await this.#records.account(id);
    if ((account.alias ?? null) === alias) return publicAccount(account);
    if (alias !== null) await this.freeAlias(account.userId, account.toolkit, alias, account.id);
    const updated = await claimingAlias(alias, account.toolkit, () =>
      this.#records.store.updateConnectedAccount(account.id, { alias }),
    );
    // deleted meanwhile: CONNECTED_ACCOUNT_NOT_FOUND
    return publicAccount(updated ?? (await this.#records.account(id)));
  }

  /** The field scheme of a non-OAuth config's toolkit; AUTH_CONFIG_INVALID when the toolkit dropped it. */
  fieldScheme(config: AuthConfigRecord): { toolkit: Toolkit; scheme: FieldAuthScheme } {
    const toolkit = this.#records.toolkit(config.toolkit);
    const scheme = schemeOf(toolkit, config.type);
    if (!scheme || scheme.type === 'oauth2') {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `${toolkit.name} (${toolkit.slug}) no longer has a ${config.type} auth scheme.`,
      });
    }
    return { toolkit, scheme };
  }

  /** The credentials of a non-OAuth config, checked against its scheme and sealed for account `id`. */
  sealedFields(config: AuthConfigRecord, credentials: unknown, id: string) {
    const { toolkit, scheme } = this.fieldScheme(config);
    const stored: StoredCredentials = {
      type: scheme.type,
      fields: checkFields(toolkit, scheme, credentials),
    };
    return { toolkit, secret: this.#records.options.vault.sealJson(id, stored) };
  }

  /** An ACTIVE account of checked, encrypted credentials (not stored yet). */
  fieldsAccount(
    userId: string,
    config: AuthConfigRecord,
    credentials: unknown,
    alias?: string | null,
  ): ConnectedAccountRecord {
    const id = newId('ca');
    const { toolkit, secret } = this.sealedFields(config, credentials, id);
    const now = new Date();
    return {
      id,
      userId,
      toolkit: toolkit.slug,
      authConfigId: config.id,
      status: 'ACTIVE',
      statusReason: null,
      secret,
      expiresAt: null,
      version: 1,
      refreshLeaseUntil: null,
      connectedAt: now,
      createdAt: now,
      updatedAt: now,
      alias: alias ?? null,
    };
  }

  async get(id: string): Promise<ConnectedAccount> {
    return publicAccount(await this.#records.account(id));
  }

  async list(
    query: Partial<Omit<ListConnectedAccountsQuery, 'limit'>> & { limit?: number } = {},
  ): Promise<{ items: ConnectedAccount[]; nextCursor: string | undefined }> {
    for (const status of query.statuses ?? []) {
      if (!ACCOUNT_STATUSES.includes(status)) {
        throw new ToolMuxError({
          code: 'INVALID_REQUEST',
          message: `Unknown connected account status "${status}"; use ${ACCOUNT_STATUSES.join(', ')}.`,
        });
      }
    }
    for (const userId of query.userIds ?? []) checkUserId(userId, `${apiRef('userIds')}[]`);
    for (const toolkit of query.toolkits ?? []) checkId(toolkit, 'toolkits[]');
    for (const id of query.authConfigIds ?? []) checkId(id, 'authConfigIds[]', { fix: ID_FIX });
    const page = await this.#records.store.listConnectedAccounts({ ...query, limit: query.limit ?? 50 });
    return { items: page.items.map(publicAccount), nextCursor: page.nextCursor };
  }

  /**
   * Deletes an account and its credentials; OAuth tokens are revoked at the provider first
   * (`revocationUrl`). The row goes only as it was when its tokens were revoked: should a token refresh
   * have stored new tokens meanwhile, those are revoked too before it goes. Unlike an OAuth callback's
   * revocations (see `PendingRevocations`), this one is waited for (one `oauthRequestTimeoutMs` at
   * most): the caller asked for it, and the row must outlive the attempt, so that a process that dies
   * meanwhile leaves the tokens with the row to revoke them with.
   */
  async delete(id: string): Promise<void> {
    const store = this.#records.store;
    let account = await this.#records.account(id);
    let revoked: string | undefined;
    for (let attempt = 1; ; attempt++) {
      if (account.secret && account.secret.ciphertext !== revoked) {
        const config = await store.getAuthConfig(account.authConfigId);
        if (config?.type === 'oauth2') await this.revokeTokens(account, config);
        revoked = account.secret.ciphertext;
      }
      if (await store.deleteConnectedAccount(id, attempt > 5 ? undefined : account.version)) return;
      const now = await store.getConnectedAccount(id);
      if (!now) return; // deleted meanwhile by another caller
      account = now;
    }
  }

  /**
   * Revokes an OAuth account's tokens at the provider (RFC 7009) when its scheme names a
   * `revocationUrl`: the refresh token and the access token, at once. A provider that cannot be reached or
   * refuses does not stop the deletion: it is logged (without the tokens). Nor do stored tokens that
   * no longer decrypt; tokens sealed with a secret key that is not configured (SECRET_KEY_MISSING),
   * which can be revoked once it is, stop it (see {@link openedToRevoke}).
   */
  async revokeTokens(
    account: ConnectedAccountRecord,
    config: AuthConfigRecord,
    /** What the log line of a failure ends with: what becomes of the account. */
    anyway = 'the account is deleted here anyway',
  ): Promise<void> {
    if (!account.secret || !revocationScheme(this.#records, account.toolkit)) return;
    const { secret } = account;
    const stored = openedToRevoke(this.#records, account, anyway, () =>
      this.#records.options.vault.openJson<StoredCredentials>(account.id, secret),
    );
    if (stored) await revokeStoredTokens(this.#records, account, config, stored, anyway);
  }

  /**
   * Disables (ACTIVE → INACTIVE) or enables again (INACTIVE → ACTIVE) an account: a disabled account
   * keeps its credentials but no call uses it, and the precedence rules pass over it.
   */
  async setEnabled(id: string, enabled: boolean): Promise<ConnectedAccount> {
    const [from, to] = enabled ? (['INACTIVE', 'ACTIVE'] as const) : (['ACTIVE', 'INACTIVE'] as const);
    for (let attempt = 1; ; attempt++) {
      const account = await this.#records.account(id);
      if (account.status === to) return publicAccount(account);
      if (account.status !== from) {
        throw new ToolMuxError({
          code: 'INVALID_REQUEST',
          message: `Connected account ${id} is ${account.status}: only an ${from} account can be ${enabled ? 'enabled' : 'disabled'}.${account.status === 'EXPIRED' || account.status === 'FAILED' ? ' Connect it again instead.' : ''}`,
          details: { connectedAccountId: id, status: account.status },
        });
      }
      const updated = await this.#records.store.updateConnectedAccount(
        id,
        { status: to, statusReason: enabled ? null : 'disabled' },
        account.version,
      );
      if (updated) return publicAccount(updated);
      // Another write came between the read and this one (the same change from another caller or
      // instance, a token refresh's lease, a rename): read the account again, and decide again.
      if (attempt >= 5) {
        throw new ToolMuxError({
          code: 'SESSION_VERSION_CONFLICT',
          message: `Connected account ${id} kept changing while it was being ${enabled ? 'enabled' : 'disabled'}; read it again and retry.`,
        });
      }
    }
  }

  /**
   * Refreshes an OAuth account's token now (once, even if several ask at once). `signal` ends this
   * caller's wait (see `CredentialLoader.refresh`); once it aborted, no more of the store is read for
   * it (a read already under way finishes).
   */
  async refresh(id: string, options: { signal?: AbortSignal } = {}): Promise<ConnectedAccount> {
    const { signal } = options;
    signal?.throwIfAborted();
    const account = await this.#records.account(id);
    signal?.throwIfAborted();
    const config = await this.#records.authConfig(account.authConfigId);
    if (config.type !== 'oauth2') {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `Connected account ${id} uses ${config.type} credentials, which have no token to refresh.`,
      });
    }
    return publicAccount(await this.#credentials.refresh(id, { force: true, account, signal }));
  }
}
