import { apiRef, configField } from '../api-refs.js';
import type { FieldAuthScheme, OAuth2Scheme, Toolkit } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type { AccountRequest, AccountSelection, ResolvedAccount } from '../execution/execute.js';
import {
  accountOptionWay,
  connectWay,
  type HintReader,
  missingAuthConfigWay,
  pinnedAccountsWay,
  proxyAccountWay,
  readerError,
} from '../meta-tools/hints.js';
import type { ConnectedAccountRecord } from '../store/types.js';
import { shownValue } from '../util/stored-text.js';
import type { AccountCache } from './account-cache.js';
import type { AuthConfigs } from './auth-configs.js';
import type { AuthRecords } from './auth-records.js';
import { type CredentialLoader, connectionExpiredError, credentialSecrets } from './credentials.js';
import { credentialOnlySchemeOf, schemeOf } from './schemes.js';

/** How many accounts of one user and auth config the account pool reads (maxAccountsPerToolkit is at most 10). */
const POOL_LIMIT = 50;

/** What picking an account takes. */
export interface SelectRequest {
  toolkit: Toolkit;
  userId: string;
  selection?: AccountSelection | undefined;
  /** Direct execution's explicit account (`tools.execute({ connectedAccountId })`). */
  connectedAccountId?: string | undefined;
  /** A session call's account: an id or an alias. */
  account?: string | undefined;
  /**
   * Only finding out whether the toolkit is connected (no call runs): the choice a call would have
   * to make is not required then, so a user with several accounts shows as connected.
   */
  peek?: boolean | undefined;
  /** The account is for `session.proxyExecute` (its field is `connectedAccountId`), not a tool call. */
  proxy?: boolean | undefined;
}

/** A toolkit's usable accounts, as `session.toolkits()` and TOOLMUX_SEARCH_TOOLS show them. */
export interface AccountChoices {
  accounts: Array<{ id: string; alias: string | null; isDefault: boolean }>;
  /** The session requires an `account` on each call (requireExplicitSelection, several ACTIVE). */
  mustChoose: boolean;
}

/** How messages name an account: `work (ca_…)`, or its id. */
function accountName(account: ConnectedAccountRecord): string {
  return account.alias ? `"${account.alias}" (${account.id})` : account.id;
}

/** The errors of a session whose own settings leave a toolkit no account that a new connection could fix. */
const sessionBlocks = new WeakSet<ToolMuxError>();

/**
 * Whether `error` says the session's settings (the accounts or auth config it names for the toolkit)
 * leave it no usable account, so that a new connection would not help: TOOLMUX_MANAGE_CONNECTIONS
 * makes no link then, and `ensureConnected()` throws it.
 */
export function isSessionBlock(error: unknown): error is ToolMuxError {
  return ToolMuxError.isInstance(error) && sessionBlocks.has(error);
}

/**
 * Whether a session may only use the accounts it names for the toolkit (`connectedAccounts`
 * without an `authConfigs` entry): an account connected anew is none of them.
 */
export function pinnedOnly(selection: AccountSelection | undefined, toolkit: string): boolean {
  return (selection?.connectedAccounts?.[toolkit]?.length ?? 0) > 0 && !selection?.authConfigs?.[toolkit];
}

/**
 * A {@link readerError} marked as a session block ({@link isSessionBlock}) for every reader it is
 * made for (`forReader` builds it again for the call's reader: that one is marked too).
 */
function sessionBlockError(build: (reader: HintReader) => ToolMuxError): ToolMuxError {
  return readerError((reader) => {
    const error = build(reader);
    sessionBlocks.add(error);
    return error;
  });
}

/**
 * None of the accounts a session names for a toolkit (and may only use) is usable: each with its
 * status, and the way out (a new link cannot help an agent: the account would not be one of them).
 */
function pinnedAccountsError(
  toolkit: Toolkit,
  accounts: ReadonlyArray<ConnectedAccountRecord | string>,
): ToolMuxError {
  const expired = accounts.find(
    (account): account is ConnectedAccountRecord =>
      typeof account !== 'string' && (account.status === 'EXPIRED' || account.status === 'REVOKED'),
  );
  const states = accounts.map((account) =>
    typeof account === 'string'
      ? `${account}: not found`
      : `${accountName(account)}: ${account.status}${account.status === 'INACTIVE' ? ' (disabled)' : ''}${account.statusReason && account.status !== 'INACTIVE' ? ` (${account.statusReason})` : ''}`,
  );
  return sessionBlockError(
    (reader) =>
      new ToolMuxError({
        code: expired ? 'CONNECTION_EXPIRED' : 'CONNECTION_REQUIRED',
        message: `This session may only use the ${toolkit.name} (${toolkit.slug}) accounts the application set for it, and none of them is usable (${states.join('; ')}). ${pinnedAccountsWay(toolkit, reader, expired?.connectedAt ? expired.id : undefined)}.`,
        details: { toolkit: toolkit.slug, ...(expired ? { connectedAccountId: expired.id } : {}) },
      }),
  );
}

/**
 * An attempt to connect, not a connection: INITIATED or FAILED, or EXPIRED without ever having been
 * connected (an OAuth attempt whose request expired: connection-state-pruning.ts).
 */
/**
 * CONNECTION_REQUIRED when the user has ACTIVE accounts of the toolkit that the precedence rules do
 * not reach (on an auth config the session does not use): the application is told how to let the
 * session use one, the model only to ask for a connection (it cannot change the session).
 */
function notDrawnFromError(
  toolkit: Toolkit,
  userId: string,
  chosen: string | undefined,
  elsewhere: readonly ConnectedAccountRecord[],
  managed: boolean,
): ToolMuxError {
  // what the session draws from: its auth config, else the one toolmux manages (or makes on the
  // first connection), else none (an OAuth toolkit without managedAuth), through which no connection
  // can be made either
  const source =
    chosen !== undefined
      ? `the session's ${configField(`authConfigs.${toolkit.slug}`)} ("${chosen}")`
      : managed
        ? 'the auth config toolmux manages for it'
        : undefined;
  const label = `${toolkit.name} (${toolkit.slug})`;
  const one = elsewhere.length === 1;
  return readerError(
    (reader) =>
      new ToolMuxError({
        code: 'CONNECTION_REQUIRED',
        message:
          reader.metaTools.size > 0
            ? `${label} needs a connected account for user ${shownValue(userId)} that this session may use, and none is connected: ` +
              `the user's ${toolkit.name} ${one ? 'account is' : 'accounts are'} connected for another use, which this session does not draw from. ` +
              (source === undefined
                ? // nothing to connect through either (see the application's words below)
                  `A new connection cannot help, as this session has no way to connect ${toolkit.name}: the application must let this session use it. Tell the user so.`
                : `Ask the user to connect ${toolkit.name} (${connectWay(toolkit.slug, reader)}), then retry.`)
            : `${label} needs a connected account for user ${shownValue(userId)}, and ` +
              `${source === undefined ? `this session names no auth config for ${toolkit.name} and toolmux manages none, so it draws from none` : `none is connected through ${source}, which is what this session draws from`}. ` +
              `The user's ACTIVE ${one ? 'account' : 'accounts'} ` +
              `${elsewhere.map((account) => `${accountName(account)} (on auth config ${account.authConfigId})`).join(', ')} ` +
              `${one ? 'is' : 'are'} on another auth config: to use ${one ? 'it' : 'one'}, name it with ${apiRef('session.update.connectedAccounts', { toolkit: toolkit.slug })} ` +
              `or its auth config with ${apiRef('session.update.authConfigs', { toolkit: toolkit.slug })}` +
              `${source === undefined ? '' : `; or connect the user through the session (${connectWay(toolkit.slug, reader)})`}, then retry.`,
        details: { toolkit: toolkit.slug },
      }),
  );
}

function isAttempt(account: ConnectedAccountRecord): boolean {
  return (
    account.status === 'INITIATED' ||
    account.status === 'FAILED' ||
    (account.status === 'EXPIRED' && account.connectedAt === null)
  );
}

/**
 * Which connected account a call uses: a session's `authConfigs` / `connectedAccounts` checked, the
 * precedence rules of docs/auth.md ("Which account a call uses"), and the execution path's account
 * step (the chosen account's credentials, reused through the account cache).
 */
export class AccountSelector {
  readonly #records: AuthRecords;
  readonly #configs: AuthConfigs;
  readonly #credentials: CredentialLoader;
  readonly #cache: AccountCache;

  constructor(
    records: AuthRecords,
    configs: AuthConfigs,
    credentials: CredentialLoader,
    cache: AccountCache,
  ) {
    this.#records = records;
    this.#configs = configs;
    this.#credentials = credentials;
    this.#cache = cache;
  }

  /**
   * Checks a session's `authConfigs` and `connectedAccounts` (at `create()` and `update()`): every id
   * exists, belongs to the toolkit it is listed under, and every account to the session's user.
   */
  async checkSelection(userId: string, selection: AccountSelection): Promise<void> {
    const store = this.#records.store;
    for (const [toolkit, id] of Object.entries(selection.authConfigs ?? {})) {
      const config = await store.getAuthConfig(id);
      if (!config) {
        throw new ToolMuxError({
          code: 'AUTH_CONFIG_NOT_FOUND',
          message: `${configField(`authConfigs.${toolkit}`)} names auth config "${id}", which does not exist. Create one with ${apiRef('authConfigs.create', { toolkit })} or remove the entry.`,
          details: { toolkit, authConfigId: id },
        });
      }
      if (config.toolkit !== toolkit) {
        throw new ToolMuxError({
          code: 'AUTH_CONFIG_MISMATCH',
          message: `${configField(`authConfigs.${toolkit}`)} names auth config ${id}, which is for toolkit "${config.toolkit}", not "${toolkit}". Use an auth config of ${toolkit}.`,
          details: { toolkit, authConfigId: id, authConfigToolkit: config.toolkit },
        });
      }
    }
    for (const [toolkit, ids] of Object.entries(selection.connectedAccounts ?? {})) {
      for (const id of ids) {
        const account = await store.getConnectedAccount(id);
        if (!account) {
          throw new ToolMuxError({
            code: 'CONNECTED_ACCOUNT_NOT_FOUND',
            message: `${configField(`connectedAccounts.${toolkit}`)} names connected account "${id}", which does not exist. List the user's accounts with ${apiRef('connectedAccounts.list', { userId })}.`,
            details: { toolkit, connectedAccountId: id },
          });
        }
        if (account.userId !== userId) {
          throw new ToolMuxError({
            code: 'CONNECTED_ACCOUNT_MISMATCH',
            message: `${configField(`connectedAccounts.${toolkit}`)} names connected account ${id}, which belongs to another user, not "${userId}". A session may only use its own user's accounts.`,
            details: { toolkit, connectedAccountId: id },
          });
        }
        if (account.toolkit !== toolkit) {
          throw new ToolMuxError({
            code: 'CONNECTED_ACCOUNT_MISMATCH',
            message: `${configField(`connectedAccounts.${toolkit}`)} names connected account ${id}, which is a "${account.toolkit}" account, not "${toolkit}".`,
            details: { toolkit, connectedAccountId: id, accountToolkit: account.toolkit },
          });
        }
      }
    }
  }

  /**
   * The account a call runs with (docs/auth.md, "Which account a call uses"):
   *
   * 1. the session's `connectedAccounts[toolkit]`, in the order listed: the first ACTIVE one;
   * 2. the session's `authConfigs[toolkit]`: the user's most recently connected ACTIVE account on it;
   * 3. the auth config toolmux created for the toolkit: the same;
   * 4. (`managedAuth` credentials become that config when a connection is started: `authorize()`,
   *    TOOLMUX_MANAGE_CONNECTIONS; until the user connects there is no account to find);
   * 5. otherwise CONNECTION_EXPIRED (an account exists but expired) or CONNECTION_REQUIRED.
   *
   * A session that names accounts or an auth config for the toolkit stops there: it never falls back
   * to accounts it did not name. `connectedAccountId` (direct execution) bypasses the rules, checked.
   */
  async selectAccount(request: SelectRequest): Promise<ConnectedAccountRecord> {
    const account =
      request.account !== undefined && request.connectedAccountId === undefined
        ? await this.#selectNamed(request, request.account)
        : ((await this.#selectionRequired(request)) ?? (await this.#selectByPrecedence(request)));
    // Defence in depth: whatever a query returned (a database that folds ill-formed text, a bug in
    // a filter), credentials are only ever decrypted for an account of the caller's user and toolkit.
    if (account.userId !== request.userId || account.toolkit !== request.toolkit.slug) {
      this.#records.options.logger.error(
        `toolmux: refused connected account ${account.id}: the account lookup for a ${request.toolkit.slug} call returned an account of another user or toolkit.`,
      );
      throw new ToolMuxError({
        code: 'CONNECTED_ACCOUNT_MISMATCH',
        message: `Connected account ${account.id} is not a ${request.toolkit.slug} account of user ${shownValue(request.userId)}, so it was not used.`,
        details: { connectedAccountId: account.id },
      });
    }
    return account;
  }

  async #selectByPrecedence(request: SelectRequest): Promise<ConnectedAccountRecord> {
    const { toolkit, userId, selection } = request;
    if (request.connectedAccountId !== undefined) {
      const account = await this.#records.account(request.connectedAccountId);
      if (account.userId !== userId || account.toolkit !== toolkit.slug) {
        throw new ToolMuxError({
          code: 'CONNECTED_ACCOUNT_MISMATCH',
          message: `Connected account ${account.id} is not a ${toolkit.slug} account of user "${userId}".`,
          details: { connectedAccountId: account.id },
        });
      }
      if (account.status !== 'ACTIVE') throw this.#notUsable(toolkit, userId, [account]);
      return account;
    }
    const seen: ConnectedAccountRecord[] = [];
    let configured = false;
    for (const id of selection?.connectedAccounts?.[toolkit.slug] ?? []) {
      configured = true;
      const account = await this.#records.store.getConnectedAccount(id);
      if (!account || account.userId !== userId || account.toolkit !== toolkit.slug) continue;
      if (account.status === 'ACTIVE') return account;
      seen.push(account);
    }
    const authConfigIds: string[] = [];
    const chosen = selection?.authConfigs?.[toolkit.slug];
    if (chosen) {
      configured = true;
      authConfigIds.push(chosen);
    } else if (!configured) {
      const managed = await this.#configs.managed(toolkit, { create: false });
      if (managed) authConfigIds.push(managed.id);
    }
    for (const authConfigId of authConfigIds) {
      const recent = await this.#records.store.listRecentConnectedAccounts({
        userId,
        authConfigId,
        // INACTIVE too, so the message says an account was disabled, not that none is connected
        statuses: ['ACTIVE', 'EXPIRED', 'INACTIVE'],
        limit: 10,
      });
      const active = recent.find((account) => account.status === 'ACTIVE');
      if (active) return active;
      seen.push(...recent);
    }
    throw await this.#noAccount(request, seen);
  }

  /**
   * Why the precedence rules found no usable account: the session's auth config was deleted, the
   * accounts it may only use are not usable (each named with its status), or the user's are not.
   */
  async #noAccount(request: SelectRequest, seen: readonly ConnectedAccountRecord[]): Promise<ToolMuxError> {
    const { toolkit, selection } = request;
    const chosen = selection?.authConfigs?.[toolkit.slug];
    if (chosen !== undefined && !(await this.#records.store.getAuthConfig(chosen))) {
      // its accounts went with it: calls said "none is connected" and pointed to a connection,
      // which then failed on the same missing auth config
      return sessionBlockError(
        (reader) =>
          new ToolMuxError({
            code: 'AUTH_CONFIG_NOT_FOUND',
            message: `This session connects ${toolkit.name} (${toolkit.slug}) through auth config "${chosen}", which was deleted (and its accounts with it), so it has no account to use. ${missingAuthConfigWay(toolkit, reader)}.`,
            details: { toolkit: toolkit.slug, authConfigId: chosen },
          }),
      );
    }
    if (request.connectedAccountId === undefined && pinnedOnly(selection, toolkit.slug)) {
      const pinned = selection!.connectedAccounts![toolkit.slug]!;
      return pinnedAccountsError(
        toolkit,
        pinned.map((id) => seen.find((account) => account.id === id) ?? id),
      );
    }
    if (seen.length === 0 && !request.peek) {
      // none on what the session draws from: the user may have one on another auth config, which
      // "none is connected" denied (an application then connected the user again for nothing)
      const { items } = await this.#records.store.listConnectedAccounts({
        userIds: [request.userId],
        toolkits: [toolkit.slug],
        statuses: ['ACTIVE'],
        limit: 5,
      });
      const elsewhere = items.filter((account) => !isAttempt(account));
      if (elsewhere.length > 0) {
        const managed =
          chosen === undefined &&
          (this.#records.options.managedAuth[toolkit.slug] !== undefined ||
            credentialOnlySchemeOf(toolkit) !== undefined ||
            (await this.#configs.managed(toolkit, { create: false })) !== undefined);
        return notDrawnFromError(toolkit, request.userId, chosen, elsewhere, managed);
      }
    }
    return this.#notUsable(toolkit, request.userId, seen);
  }

  /**
   * The accounts of the user the precedence rules draw from for the toolkit, in their order: the
   * session's `connectedAccounts` as listed, then the accounts on its `authConfigs` entry (or, with
   * neither, on the auth config toolmux manages), most recently connected first. Attempts (see
   * {@link isAttempt}) are left out.
   */
  async #pool(request: SelectRequest): Promise<ConnectedAccountRecord[]> {
    const { toolkit, userId, selection } = request;
    const store = this.#records.store;
    const pool = new Map<string, ConnectedAccountRecord>();
    const pinned = selection?.connectedAccounts?.[toolkit.slug] ?? [];
    for (const id of pinned) {
      const account = await store.getConnectedAccount(id);
      if (account && account.userId === userId && account.toolkit === toolkit.slug) pool.set(id, account);
    }
    const chosen = selection?.authConfigs?.[toolkit.slug];
    const authConfigId =
      chosen ??
      (pinned.length === 0 ? (await this.#configs.managed(toolkit, { create: false }))?.id : undefined);
    if (authConfigId) {
      const recent = await store.listRecentConnectedAccounts({
        userId,
        authConfigId,
        statuses: ['ACTIVE', 'INACTIVE', 'EXPIRED', 'REVOKED'],
        limit: POOL_LIMIT,
      });
      for (const account of recent) if (!pool.has(account.id)) pool.set(account.id, account);
    }
    return [...pool.values()].filter((account) => !isAttempt(account));
  }

  /** A call that names its account (`execute(…, { account })`): by id or alias, within the pool. */
  async #selectNamed(request: SelectRequest, name: string): Promise<ConnectedAccountRecord> {
    const { toolkit, userId } = request;
    if (typeof name !== 'string' || name === '' || name.length > 256) {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `account must be a connected account id (ca_…) or alias, not ${shownValue(name)}.`,
      });
    }
    const pool = await this.#pool(request);
    const account = pool.find((candidate) => candidate.id === name || candidate.alias === name);
    if (!account) {
      const usable = pool.filter((candidate) => candidate.status === 'ACTIVE');
      throw readerError(
        (reader) =>
          new ToolMuxError({
            code: 'ACCOUNT_NOT_IN_SESSION',
            message:
              `${shownValue(name)} is not a ${toolkit.name} (${toolkit.slug}) account this session may use for user ${shownValue(userId)}. ` +
              (usable.length > 0
                ? `Use one of: ${usable.map(accountName).join(', ')}.`
                : `The user has no usable ${toolkit.name} account here: connect one first (${connectWay(toolkit.slug, reader)}).`),
            details: { toolkit: toolkit.slug, account: name.slice(0, 256) },
          }),
      );
    }
    if (account.status !== 'ACTIVE') {
      const usable = pool.filter((candidate) => candidate.status === 'ACTIVE');
      if (account.status === 'INACTIVE' && usable.length > 0) {
        // "none is active" was not so: the user has others, which the call may name instead
        throw readerError(
          (reader) =>
            new ToolMuxError({
              code: 'CONNECTION_REQUIRED',
              message: `The ${toolkit.name} (${toolkit.slug}) account ${accountName(account)} was disabled (INACTIVE). Run the call again with account set to one of ${usable.map(accountName).join(', ')} (${accountOptionWay(reader)}), or leave account out for the default one.`,
              details: { toolkit: toolkit.slug, connectedAccountId: account.id },
            }),
        );
      }
      throw pinnedOnly(request.selection, toolkit.slug) && usable.length === 0
        ? pinnedAccountsError(toolkit, [account])
        : this.#notUsable(toolkit, userId, [account]);
    }
    return account;
  }

  /**
   * `multiAccount.requireExplicitSelection`: with more than one ACTIVE account and no `account`,
   * ACCOUNT_SELECTION_REQUIRED naming them. Otherwise undefined: the precedence rules choose.
   */
  async #selectionRequired(request: SelectRequest): Promise<undefined> {
    const multi = request.selection?.multiAccount;
    if (
      request.peek ||
      request.connectedAccountId !== undefined ||
      !multi?.enable ||
      !multi.requireExplicitSelection
    ) {
      return undefined;
    }
    const active = (await this.#pool(request)).filter((account) => account.status === 'ACTIVE');
    if (active.length <= 1) return undefined;
    const { toolkit } = request;
    throw readerError(
      (reader) =>
        new ToolMuxError({
          code: 'ACCOUNT_SELECTION_REQUIRED',
          message:
            `The user has ${active.length} ${toolkit.name} (${toolkit.slug}) accounts and this session requires choosing one: ` +
            (request.proxy
              ? `send the request again with its account set to one of ${active.map(accountName).join(', ')} ` +
                `(${proxyAccountWay(reader)}). Ask the user which one if it is not clear.`
              : `run the call again with account set to one of ${active.map(accountName).join(', ')} ` +
                `(${accountOptionWay(reader)}). Ask the user which one if it is not clear.`),
          details: {
            toolkit: toolkit.slug,
            accounts: active.map((account) => ({ id: account.id, alias: account.alias ?? null })),
          },
        }),
    );
  }

  /**
   * The usable (ACTIVE) accounts of a toolkit for `session.toolkits()` and TOOLMUX_SEARCH_TOOLS: which
   * one a call without `account` uses (`isDefault`), and whether the agent must choose instead.
   */
  async accountChoices(request: SelectRequest): Promise<AccountChoices> {
    const active = (await this.#pool(request)).filter((account) => account.status === 'ACTIVE');
    const multi = request.selection?.multiAccount;
    const mustChoose = Boolean(multi?.enable && multi.requireExplicitSelection && active.length > 1);
    return {
      accounts: active.map((account, index) => ({
        id: account.id,
        alias: account.alias ?? null,
        isDefault: !mustChoose && index === 0,
      })),
      mustChoose,
    };
  }

  #notUsable(toolkit: Toolkit, userId: string, seen: readonly ConnectedAccountRecord[]): ToolMuxError {
    const label = `${toolkit.name} (${toolkit.slug})`;
    // an attempt that expired before it was ever connected is no connection that expired
    const expired = seen.find(
      (account) => (account.status === 'EXPIRED' || account.status === 'REVOKED') && !isAttempt(account),
    );
    if (expired) {
      return connectionExpiredError(label, expired.id, expired.statusReason, toolkit.slug, expired.alias);
    }
    const other = seen[0];
    const disabled = other?.status === 'INACTIVE';
    return readerError(
      (reader) =>
        new ToolMuxError({
          code: 'CONNECTION_REQUIRED',
          message: disabled
            ? `${label} needs a connected account for user "${userId}", and its account ${accountName(other)} was disabled (INACTIVE). ` +
              (reader.metaTools.size > 0
                ? `Ask the user whether the application should enable it again, or connect another account (${connectWay(toolkit.slug, reader)}), then retry.`
                : `Enable it again with ${apiRef('connectedAccounts.enable')}, or connect another (${connectWay(toolkit.slug, reader)}), then retry.`)
            : `${label} needs a connected account for user "${userId}", and none is ` +
              `${other ? `active (${other.id} is ${other.status})` : 'connected'}. Ask the user to connect ${toolkit.name} ` +
              `(${connectWay(toolkit.slug, reader)}), then retry.`,
          details: { toolkit: toolkit.slug },
        }),
    );
  }

  /** The execution path's account step: select by precedence, then load (and refresh) credentials. */
  async resolveAccount(request: AccountRequest): Promise<ResolvedAccount> {
    if (request.toolkit.noAuth) return { accountId: null, credentials: undefined };
    const cached = this.#cache.get(request);
    if (cached) return cached;
    const generation = this.#cache.generation();
    const account = await this.selectAccount(request);
    if (request.peek) return { accountId: account.id, credentials: undefined, status: account.status };
    let credentials: Awaited<ReturnType<CredentialLoader['load']>>;
    try {
      credentials = await this.#credentials.load(account, request);
    } catch (error) {
      throw await this.afterExpiry(request, error);
    }
    const resolved: ResolvedAccount = {
      accountId: account.id,
      credentials,
      status: account.status,
      secrets: credentialSecrets(credentials),
    };
    this.#cache.set(request, resolved, generation);
    return resolved;
  }

  /**
   * What a call whose account expired as it ran (`error`: its credentials refused, or a dead
   * refresh token) throws: in a session that may only use the accounts it names for the toolkit,
   * a new connection would not be one of them, so when none of them is usable any more it says so
   * (each with its status) instead of asking for a new link; else `error` itself (the next call
   * uses another of them).
   */
  async afterExpiry(request: SelectRequest, error: unknown): Promise<unknown> {
    if (
      !ToolMuxError.isInstance(error) ||
      error.code !== 'CONNECTION_EXPIRED' ||
      request.connectedAccountId !== undefined ||
      !pinnedOnly(request.selection, request.toolkit.slug)
    ) {
      return error;
    }
    const next = await this.selectAccount({ ...request, account: undefined, peek: true }).catch(
      (failure: unknown) => failure,
    );
    return isSessionBlock(next) ? next : error;
  }

  /** The scheme an account's credentials follow. */
  async schemeOfAccount(
    account: ConnectedAccountRecord,
    toolkit: Toolkit,
  ): Promise<OAuth2Scheme | FieldAuthScheme> {
    const config = await this.#records.authConfig(account.authConfigId);
    const scheme = schemeOf(toolkit, config.type);
    if (!scheme) {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `${toolkit.name} (${toolkit.slug}) has no ${config.type} auth scheme any more.`,
      });
    }
    return scheme;
  }
}
