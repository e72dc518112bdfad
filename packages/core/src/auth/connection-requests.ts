import { createHash } from 'node:crypto';
import { apiRef, configField } from '../api-refs.js';
import type { FieldAuthScheme, Toolkit } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type { AccountSelection } from '../execution/execute.js';
import { missingAuthConfigWay, readerError } from '../meta-tools/hints.js';
import {
  ATTEMPT_REPLACED_REASON,
  type AuthConfigRecord,
  type ConnectedAccountRecord,
  type ConnectionRequestRecord,
  type Store,
} from '../store/types.js';
import { lookupId, notFound } from '../util/arguments.js';
import { newId } from '../util/ids.js';
import { storableText } from '../util/stored-text.js';
import { checkAlias } from './aliases.js';
import type { AuthConfigs } from './auth-configs.js';
import { type AuthRecords, publicAccount } from './auth-records.js';
import {
  bindingReachesCallback,
  browserMismatch,
  connectBindingCookie,
  connectPageCookie,
  connectPageCookieMatches,
} from './connect-binding.js';
import {
  accountLimitReached,
  type ConnectedAccounts,
  checkReconnectable,
  reconnectAccount,
} from './connected-accounts.js';
import {
  COMPLETION_MARGIN_MS,
  ConnectionRequest,
  type ConnectionRequestProgress,
  requestStatusAt,
} from './connection-request.js';
import { AUTH_CONFIG_CHANGED, OAuthFailure, startAuthorization } from './oauth.js';
import { defaultSchemeOf, oauth2SchemeOf } from './schemes.js';
import type { ConnectedAccount, ConnectionRequestInfo } from './types.js';

/** A connection request works for this long. */
export const CONNECTION_REQUEST_TTL_MS = 10 * 60_000;
/**
 * An INITIATED account this old is an abandoned attempt. Later than its request's expiry: a callback
 * that took the request in its last moment may still be trading the code for tokens (up to the token
 * request's 30 s timeout, then the store's writes).
 */
export const ABANDONED_ATTEMPT_MS = CONNECTION_REQUEST_TTL_MS + COMPLETION_MARGIN_MS;
/**
 * The count bound of a user's connection state per auth config: at most this many OAuth attempts
 * pending (starting one more ends the oldest, `Store.insertConnectionAttempt`), and the newest this
 * many accounts that never held credentials kept (the pruner deletes older ones,
 * connection-state-pruning.ts). A person who clicks "connect" again and again has no use for more
 * open links than this, and an agent or a page in a loop can no longer make thousands of rows that
 * every `connectedAccounts.list()` of the user lists.
 */
export const ATTEMPTS_PER_USER_AND_CONFIG = 10;

/** The sealed part of an OAuth connection request (`authorizationUrl` is absent in rows of before migration 3). */
export interface OAuthRequestSecret {
  codeVerifier: string | null;
  authorizationUrl?: string;
  /**
   * The auth config's `clientId` the authorization URL was made with: the provider issues the code to
   * that client only. Absent in requests made before toolmux kept it (see {@link requestClientIdOf}).
   */
  clientId?: string;
  /**
   * Made for the hosted connect page (its link was the page), whose cookie reaches the callback: the
   * callback takes the code only from the browser that went through the page's "Continue" (see
   * connect-binding.ts). Absent: the link was the provider's URL, or the request is older.
   */
  browserBound?: boolean;
  /**
   * The request reconnects its account in place (`connectedAccounts.reconnect()`): the account was
   * connected before, and its callback writes the new tokens to it (see `reconnectAccount`).
   */
  reconnect?: boolean;
}

/**
 * The OAuth client id a request was started with: the one it kept, else the `client_id` of its
 * authorization URL (requests made before it kept one); undefined when neither says.
 */
export function requestClientIdOf(secret: OAuthRequestSecret): string | undefined {
  if (secret.clientId !== undefined) return secret.clientId;
  if (!secret.authorizationUrl) return undefined;
  return new URL(secret.authorizationUrl).searchParams.get('client_id') ?? undefined;
}

/**
 * The failure of an OAuth request started with another client id than its auth config has now
 * (`authConfigs.update(id, { clientId })` since), else undefined. The provider issues the code to the
 * client the authorization URL names, so the config's new client cannot trade it (the provider answers
 * `invalid_grant`, which reads as the user's fault). Nor is it traded with the earlier client: the
 * config keeps only the new client's secret, and the tokens would belong to a client the config no
 * longer refreshes with (a refresh token works only for the client it was issued to), so the account
 * would break at its first refresh. The user starts again, with the new client.
 */
export function clientChangedFailure(
  records: AuthRecords,
  request: ConnectionRequestRecord,
  secret: OAuthRequestSecret,
  currentClientId: string,
): OAuthFailure | undefined {
  const startedWith = requestClientIdOf(secret);
  if (startedWith === undefined || startedWith === currentClientId) return undefined;
  return new OAuthFailure(
    AUTH_CONFIG_CHANGED,
    `Connection request ${request.id} was started with the OAuth client ${JSON.stringify(startedWith)} of auth config ${request.authConfigId}, whose clientId is now ${JSON.stringify(currentClientId)}: the ${records.label(request.toolkit)} sign-in was for the earlier client, and toolmux trades it only with the config's current client. The user is not at fault: start a new connection, which signs in with the new client.`,
  );
}

/**
 * Ends an OAuth request that will not complete: its account attempt FAILED with `failure` as its
 * `statusReason` (only while it is INITIATED: never an account connected or changed meanwhile), then
 * the request FAILED. A reconnect's account that is still EXPIRED (or REVOKED) keeps its status and
 * gets `failure` as its `statusReason`, which `waitForConnection()` reports; an ACTIVE or INACTIVE one
 * is left as it is.
 */
export async function failConnectionAttempt(
  store: Store,
  request: ConnectionRequestRecord,
  failure: OAuthFailure,
): Promise<void> {
  const accountId = request.connectedAccountId!;
  for (let tries = 0; tries < 5; tries++) {
    const account = await store.getConnectedAccount(accountId);
    const expired =
      account?.connectedAt != null && (account.status === 'EXPIRED' || account.status === 'REVOKED');
    if (account?.status !== 'INITIATED' && !expired) break;
    const failed = await store.updateConnectedAccount(
      accountId,
      {
        ...(expired ? {} : { status: 'FAILED' as const }),
        // the provider's words (or a forged redirect's): stored as text the database can keep
        statusReason: storableText(`${failure.error}: ${failure.description}`),
      },
      account.version,
    );
    if (failed) break;
  }
  await store.finishConnectionRequest(request.id, 'FAILED');
}

/**
 * Whether newer requests of its user and auth config ended the request (its row's `replacedAt`, set by
 * `Store.insertConnectionAttempt` and `insertFieldsRequest`) rather than its 10 minutes.
 */
export function replacedByNewerAttempts(request: Pick<ConnectionRequestRecord, 'replacedAt'>): boolean {
  return (request.replacedAt ?? null) !== null;
}

/** What a request that newer attempts replaced answers (`CONNECTION_REQUEST_EXPIRED`), then `next`. */
export function replacedRequestMessage(
  request: Pick<ConnectionRequestRecord, 'id' | 'expiresAt'>,
  next: string,
): string {
  return `Connection request ${request.id} expired at ${request.expiresAt.toISOString()}: newer connection attempts of the same user and auth config replaced it before the user finished (at most ${ATTEMPTS_PER_USER_AND_CONFIG} stay pending). Use the newest link, or ${next}`;
}

/** The `CONNECTION_REQUEST_EXPIRED` of a request that newer ones of its user and auth config replaced. */
function replacedError(record: ConnectionRequestRecord): ToolMuxError {
  return new ToolMuxError({
    code: 'CONNECTION_REQUEST_EXPIRED',
    message: replacedRequestMessage(
      record,
      `start a new one with ${apiRef('connectedAccounts.link', { authConfigId: record.authConfigId })} or ${apiRef('session.authorize', { toolkit: record.toolkit })}.`,
    ),
    details: { connectionRequestId: record.id, replaced: true },
  });
}

/** How a toolkit gets connected for a user in a session. */
export type ConnectionPlan =
  | { kind: 'none' }
  | { kind: 'oauth2'; authConfig: AuthConfigRecord }
  | { kind: 'fields'; type: FieldAuthScheme['type']; authConfigId: string | undefined }
  | { kind: 'unconfigured'; message: string };

/** What the store keeps of an OAuth state: its hash. */
export function hashState(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

/**
 * Connection requests: starting a connection (`session.authorize()`, `connectedAccounts.link()`)
 * through OAuth or a credential form, how a request stands, and completing a credential request.
 * The OAuth side is finished by the callback (oauth-callback.ts).
 */
export class ConnectionRequests {
  readonly #records: AuthRecords;
  readonly #configs: AuthConfigs;
  readonly #accounts: ConnectedAccounts;

  constructor(records: AuthRecords, configs: AuthConfigs, accounts: ConnectedAccounts) {
    this.#records = records;
    this.#configs = configs;
    this.#accounts = accounts;
  }

  /**
   * Starts connecting `userId` through an auth config: OAuth (a new INITIATED account the callback
   * fills) or credentials (the account is made when the request is completed with them). An `alias`
   * held by an ACTIVE or INACTIVE account is ALIAS_TAKEN; one held by an account no call can use stays
   * with it until the new account is connected (it moves in the same step).
   */
  async link(
    userId: string,
    authConfigId: string,
    options: { callbackUrl?: string; alias?: string } = {},
  ): Promise<ConnectionRequest> {
    const { callbackUrls, defaultCallbackUrl } = this.#records.options;
    callbackUrls.check(options.callbackUrl ?? defaultCallbackUrl);
    const alias = options.alias === undefined ? undefined : checkAlias(options.alias);
    const config = await this.#records.authConfig(authConfigId);
    if (alias !== undefined) await this.#accounts.checkAliasFree(userId, config.toolkit, alias);
    return config.type === 'oauth2'
      ? this.#startOAuth(userId, config, options.callbackUrl, alias, null)
      : this.#startFields(userId, config, options.callbackUrl, alias, null);
  }

  /**
   * `connectedAccounts.reconnect(id)`: a connection request whose completion (the OAuth callback, or
   * the credentials form) gives new credentials to this same account, ACTIVE again, keeping its id,
   * alias, user, toolkit and auth config, so that sessions that name it and references to it hold.
   * Several reconnects of one account may be open at once: each completion writes its credentials,
   * so the last one the user finishes stands.
   */
  async reconnect(id: string, options: { callbackUrl?: string } = {}): Promise<ConnectionRequest> {
    const { callbackUrls, defaultCallbackUrl } = this.#records.options;
    callbackUrls.check(options.callbackUrl ?? defaultCallbackUrl);
    const account = await this.#records.account(id);
    checkReconnectable(account);
    const config = await this.#records.authConfig(account.authConfigId);
    return config.type === 'oauth2'
      ? this.#startOAuth(account.userId, config, options.callbackUrl, undefined, null, account)
      : this.#startFields(account.userId, config, options.callbackUrl, undefined, null, account);
  }

  /**
   * A request for the fields of an api_key / bearer / basic config. It has no provider page: its link
   * is always the hosted connect page (or the application collects the fields itself and calls
   * `complete`).
   */
  async #startFields(
    userId: string,
    config: AuthConfigRecord,
    callbackUrl: string | undefined,
    alias: string | undefined,
    /** The session's `multiAccount.maxAccountsPerToolkit`, checked again when the account is made. */
    maxAccounts: number | null,
    /** The account a reconnect gives the credentials to (see {@link reconnect}). */
    reconnecting?: ConnectedAccountRecord,
  ): Promise<ConnectionRequest> {
    const { store, callbackUrls, defaultCallbackUrl, connectPageUrl } = this.#records.options;
    const checkedCallbackUrl = callbackUrls.check(callbackUrl ?? defaultCallbackUrl);
    const { toolkit } = this.#accounts.fieldScheme(config);
    const now = new Date();
    const record: ConnectionRequestRecord = {
      id: newId('cr'),
      kind: 'fields',
      // a reconnect's account from the start: `complete()` writes the credentials to it
      connectedAccountId: reconnecting?.id ?? null,
      userId,
      toolkit: toolkit.slug,
      authConfigId: config.id,
      stateHash: null,
      secret: null,
      callbackUrl: checkedCallbackUrl,
      redirectUri: null,
      status: 'PENDING',
      expiresAt: new Date(now.getTime() + CONNECTION_REQUEST_TTL_MS),
      usedAt: null,
      createdAt: now,
      alias: alias ?? null,
      maxAccounts,
      reconnectOf: reconnecting?.id ?? null,
    };
    // Grouped by user and auth config, as OAuth attempts are: a form request always has its auth
    // config (a session whose plan names none is refused in authorize() before a request is made), and
    // the config is what the connect page asks the fields of, so two configs of one toolkit (a team
    // key and a personal one, say) are two forms the user may have open at once. Grouping by toolkit
    // would let the links of one config end the other's.
    if (store.insertFieldsRequest) {
      // in one step that ends the user's oldest open form requests past the bound
      await store.insertFieldsRequest(record, ATTEMPTS_PER_USER_AND_CONFIG);
    } else {
      // a store of your own without it: form requests are bounded by time only
      await store.insertConnectionRequest(record);
    }
    return this.#connectionRequest(record, connectPageUrl(record.id));
  }

  #connectionRequest(record: ConnectionRequestRecord, redirectUrl: string): ConnectionRequest {
    return new ConnectionRequest(
      {
        id: record.id,
        kind: record.kind,
        connectedAccountId: record.connectedAccountId,
        reconnectOf: record.reconnectOf ?? null,
        toolkit: record.toolkit,
        redirectUrl,
        expiresAt: record.expiresAt,
      },
      () => this.#progress(record.id),
    );
  }

  /** What `waitForConnection` polls: the request's status, and why it failed. */
  async #progress(id: string): Promise<ConnectionRequestProgress | undefined> {
    const store = this.#records.store;
    const record = await store.getConnectionRequest(id);
    if (!record) return undefined;
    const status = requestStatusAt(record, new Date());
    // whether newer requests replaced it, its row says; why it failed, its account
    if (status === 'EXPIRED' && replacedByNewerAttempts(record)) {
      return { status, connectedAccountId: record.connectedAccountId, statusReason: ATTEMPT_REPLACED_REASON };
    }
    const failedAccount =
      status === 'FAILED' && record.connectedAccountId
        ? await store.getConnectedAccountStatus(record.connectedAccountId)
        : undefined;
    return {
      status,
      connectedAccountId: record.connectedAccountId,
      statusReason: failedAccount?.statusReason ?? null,
    };
  }

  /**
   * Deletes the user's INITIATED accounts of this auth config whose connection request has long
   * expired ({@link ABANDONED_ATTEMPT_MS}): attempts the user never finished, which no callback can
   * complete any more. Done when the user starts a new attempt, so they do not pile up in
   * `connectedAccounts.list()`.
   */
  async #dropAbandonedAttempts(userId: string, authConfigId: string, now: Date): Promise<void> {
    const store = this.#records.store;
    const cutoff = now.getTime() - ABANDONED_ATTEMPT_MS;
    const page = await store.listConnectedAccounts({
      userIds: [userId],
      authConfigIds: [authConfigId],
      statuses: ['INITIATED'],
      limit: 100,
    });
    for (const account of page.items) {
      // as it was read: an attempt whose callback connected it meanwhile is not abandoned
      if (account.createdAt.getTime() < cutoff)
        await store.deleteConnectedAccount(account.id, account.version);
    }
  }

  async #startOAuth(
    userId: string,
    config: AuthConfigRecord,
    callbackUrl: string | undefined,
    alias: string | undefined,
    /** The session's `multiAccount.maxAccountsPerToolkit`, checked again when the account is made. */
    maxAccounts: number | null,
    /** The account a reconnect gives the tokens to, instead of a new attempt (see {@link reconnect}). */
    reconnecting?: ConnectedAccountRecord,
  ): Promise<ConnectionRequest> {
    const { store, vault, callbackUrls, redirectUri, defaultCallbackUrl, hostedConnectPage, baseUrl } =
      this.#records.options;
    const hosted = hostedConnectPage();
    const checkedCallbackUrl = callbackUrls.check(callbackUrl ?? defaultCallbackUrl);
    const toolkit = this.#records.toolkit(config.toolkit);
    const scheme = oauth2SchemeOf(toolkit);
    const client = this.#records.oauthClient(config, toolkit);
    const { url, state, codeVerifier } = await startAuthorization(scheme, client, redirectUri);
    const now = new Date();
    await this.#dropAbandonedAttempts(userId, config.id, now);
    const accountId = reconnecting?.id ?? newId('ca');
    const requestId = newId('cr');
    const expiresAt = new Date(now.getTime() + CONNECTION_REQUEST_TTL_MS);
    // The attempt holds no alias: the request keeps it, and the callback gives it to the account in the
    // step that makes it ACTIVE, so an attempt never finished (or refused) takes it from nobody.
    const attempt: ConnectedAccountRecord = {
      id: accountId,
      userId,
      toolkit: toolkit.slug,
      authConfigId: config.id,
      status: 'INITIATED',
      statusReason: null,
      secret: null,
      expiresAt: null,
      version: 1,
      refreshLeaseUntil: null,
      connectedAt: null,
      createdAt: now,
      updatedAt: now,
      alias: null,
    };
    const secret: OAuthRequestSecret = {
      codeVerifier: codeVerifier ?? null,
      authorizationUrl: url.toString(),
      clientId: client.clientId,
      ...(hosted && bindingReachesCallback(baseUrl, redirectUri) ? { browserBound: true } : {}),
      ...(reconnecting ? { reconnect: true } : {}),
    };
    const record: ConnectionRequestRecord = {
      id: requestId,
      kind: 'oauth2',
      connectedAccountId: accountId,
      userId,
      toolkit: toolkit.slug,
      authConfigId: config.id,
      stateHash: hashState(state),
      secret: vault.sealJson(requestId, secret),
      callbackUrl: checkedCallbackUrl,
      redirectUri,
      status: 'PENDING',
      expiresAt,
      usedAt: null,
      createdAt: now,
      alias: alias ?? null,
      maxAccounts,
      reconnectOf: reconnecting?.id ?? null,
    };
    if (reconnecting) {
      // no attempt to make: the account is there, and no pending attempt of the bound is its
      await store.insertConnectionRequest(record);
    } else if (store.insertConnectionAttempt) {
      // with its request, in one step that ends the user's oldest pending attempts past the bound
      await store.insertConnectionAttempt(attempt, record, ATTEMPTS_PER_USER_AND_CONFIG);
    } else {
      // a store of your own without it: pending attempts are bounded by time only
      await store.insertConnectedAccount(attempt);
      await store.insertConnectionRequest(record);
    }
    // The link an OAuth request hands out. Served by @toolmux/server, the hosted connect page: the
    // user sees which app and which account before leaving for the provider, the OAuth state stays
    // in the store (encrypted) until then, and the callback takes the code only from the browser that
    // went through the page. Without the server (library use, only `handleCallback` mounted) there is
    // no page at `/connect`, so the link is the provider's authorization URL itself.
    return this.#connectionRequest(
      record,
      hosted ? this.#records.options.connectPageUrl(requestId) : url.toString(),
    );
  }

  async #requestRecord(id: string): Promise<ConnectionRequestRecord> {
    const record = await this.#records.store.getConnectionRequest(lookupId('connectionRequest', id));
    if (!record) throw notFound('connectionRequest', id);
    return record;
  }

  /** `connectionRequests.get(id)`: how a request stands; never its authorization URL or secrets. */
  async get(id: string): Promise<ConnectionRequestInfo> {
    const record = await this.#requestRecord(id);
    const status = requestStatusAt(record, new Date());
    const replaced = status === 'EXPIRED' && replacedByNewerAttempts(record);
    return {
      id: record.id,
      kind: record.kind,
      userId: record.userId,
      toolkit: record.toolkit,
      authConfigId: record.authConfigId,
      connectedAccountId: record.connectedAccountId,
      reconnectOf: record.reconnectOf ?? null,
      status,
      replacedByNewerRequests: replaced,
      callbackUrl: record.callbackUrl,
      expiresAt: record.expiresAt,
      redirectUrl: this.#records.options.connectPageUrl(record.id),
    };
  }

  /** Why a request cannot be taken (completed, or continued at the provider) any more, if it cannot. */
  #notOpen(record: ConnectionRequestRecord, now: Date): ToolMuxError | undefined {
    const status = requestStatusAt(record, now);
    if (status === 'EXPIRED' && replacedByNewerAttempts(record)) return replacedError(record);
    if (status === 'EXPIRED') {
      return new ToolMuxError({
        code: 'CONNECTION_REQUEST_EXPIRED',
        message: `Connection request ${record.id} expired at ${record.expiresAt.toISOString()} (it works for 10 minutes). Start a new one with ${apiRef('connectedAccounts.link', { authConfigId: record.authConfigId })} or ${apiRef('session.authorize', { toolkit: record.toolkit })}.`,
        details: { connectionRequestId: record.id },
      });
    }
    if (status !== 'PENDING' || record.usedAt !== null) {
      const account = record.connectedAccountId ? ` (account ${record.connectedAccountId})` : '';
      return new ToolMuxError({
        code: 'CONNECTION_REQUEST_INVALID',
        message: `Connection request ${record.id} was already used${account}: it is ${status === 'PENDING' ? 'being completed' : status}. A connection request is used once; start a new one with ${apiRef('connectedAccounts.link', { authConfigId: record.authConfigId })}.`,
        details: { connectionRequestId: record.id, status },
      });
    }
    return undefined;
  }

  /**
   * `connectionRequests.complete(id, credentials)`: the user's fields for a `fields` request, checked
   * like `connectedAccounts.create`, become an ACTIVE account, and the request is COMPLETED, once.
   * Wrong fields leave the request open, so the user can correct them.
   */
  async complete(id: string, credentials: unknown): Promise<ConnectedAccount> {
    const record = await this.#requestRecord(id);
    if (record.kind !== 'fields') {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `Connection request ${record.id} is an OAuth request: the user completes it by signing in at the provider (its redirectUrl). complete() takes the credentials of api_key, bearer and basic requests.`,
        details: { connectionRequestId: record.id },
      });
    }
    const closed = this.#notOpen(record, new Date());
    if (closed) throw closed;
    // an open form request names an account only when it reconnects it
    if (record.connectedAccountId !== null) return this.#completeReconnect(record, credentials);
    const account = this.#accounts.fieldsAccount(
      record.userId,
      await this.#records.authConfig(record.authConfigId),
      credentials,
      record.alias,
    );
    const store = this.#records.store;
    // Nothing is written before the store completes the request: it takes the alias from an account
    // no call can use in the same transaction, so a refusal (the limit, a closed request) leaves it.
    const completeOnce = () =>
      store.completeConnectionRequest(record.id, account, new Date()).catch((error: unknown) => {
        // the user reached the limit since the request started (other requests completed meanwhile)
        if (ToolMuxError.isInstance(error) && error.code === 'ACCOUNT_LIMIT_REACHED' && record.maxAccounts) {
          throw accountLimitReached(
            record.userId,
            this.#records.label(record.toolkit),
            record.toolkit,
            record.maxAccounts,
            ' Nothing was connected, and this connection request stays open until it expires: complete it again once there is room.',
          );
        }
        throw error;
      });
    const completed = await this.#accounts.takingAlias(
      record.userId,
      record.toolkit,
      record.alias,
      completeOnce,
    );
    if (completed) {
      return publicAccount(account);
    }
    throw await this.#notCompleted(record);
  }

  /** Why a request read open could not be taken: taken, expired or deleted since it was read. */
  async #notCompleted(record: ConnectionRequestRecord): Promise<ToolMuxError> {
    const current = await this.#records.store.getConnectionRequest(record.id);
    if (!current) return notFound('connectionRequest', record.id);
    return (
      this.#notOpen(current, new Date()) ??
      new ToolMuxError({
        code: 'CONNECTION_REQUEST_INVALID',
        message: `Connection request ${record.id} could not be completed; start a new one with ${apiRef('connectedAccounts.link', { authConfigId: record.authConfigId })}.`,
        details: { connectionRequestId: record.id },
      })
    );
  }

  /**
   * Completes a reconnect's form request: the fields, checked first (wrong ones leave the request
   * open), become the credentials of its account (see `reconnectAccount`), and the request is
   * COMPLETED, once. An account deleted meanwhile is CONNECTED_ACCOUNT_NOT_FOUND, the request FAILED.
   */
  async #completeReconnect(record: ConnectionRequestRecord, credentials: unknown): Promise<ConnectedAccount> {
    const accountId = record.connectedAccountId!;
    const config = await this.#records.authConfig(record.authConfigId);
    const { secret } = this.#accounts.sealedFields(config, credentials, accountId);
    const store = this.#records.store;
    const now = new Date();
    if (!(await store.markConnectionRequestUsed(record.id, now))) throw await this.#notCompleted(record);
    const updated = await reconnectAccount(store, accountId, {
      status: 'ACTIVE',
      statusReason: null,
      secret,
      expiresAt: null,
      refreshLeaseUntil: null,
      connectedAt: now,
    });
    await store.finishConnectionRequest(record.id, updated ? 'COMPLETED' : 'FAILED');
    if (!updated) throw notFound('connectedAccount', accountId);
    return publicAccount(updated);
  }

  /**
   * The provider's authorization URL of an open OAuth request, for the hosted connect page's
   * "Continue" link (internal: it carries the OAuth state).
   */
  async authorizationUrl(id: string): Promise<string> {
    return this.#authorizationUrlOf(await this.#requestRecord(id));
  }

  /** {@link authorizationUrl} of a request record already read. */
  async #authorizationUrlOf(record: ConnectionRequestRecord): Promise<string> {
    if (record.kind !== 'oauth2' || !record.secret) {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `Connection request ${record.id} asks for credentials; it has no authorization URL.`,
        details: { connectionRequestId: record.id },
      });
    }
    const now = new Date();
    const closed = this.#notOpen(record, now);
    if (closed) throw closed;
    const secret = this.#records.options.vault.openJson<OAuthRequestSecret>(record.id, record.secret);
    const { authorizationUrl } = secret;
    const config = await this.#records.authConfig(record.authConfigId);
    // as the callback's client has it (`oauthClient`), without needing the toolkit in the catalog
    const clientId = (config.settings as { clientId?: string }).clientId ?? '';
    const changed = clientChangedFailure(this.#records, record, secret, clientId);
    if (changed) {
      // the sign-in would be for a client the callback no longer trades codes with: the request ends
      // here (once), and the user starts again rather than signing in for nothing
      if (await this.#records.store.markConnectionRequestUsed(record.id, now)) {
        this.#records.options.logger.warn(
          `toolmux: connection request ${record.id} failed before the sign-in: ${changed.description}`,
        );
        await failConnectionAttempt(this.#records.store, record, changed);
      }
      throw new ToolMuxError({
        code: 'CONNECTION_FAILED',
        message: changed.description,
        details: { connectionRequestId: record.id, connectedAccountId: record.connectedAccountId },
      });
    }
    if (!authorizationUrl) {
      throw new ToolMuxError({
        code: 'CONNECTION_REQUEST_INVALID',
        message: `Connection request ${record.id} was made by an earlier toolmux version, which kept no link for the connect page. Start a new connection.`,
        details: { connectionRequestId: record.id },
      });
    }
    return authorizationUrl;
  }

  /**
   * The hosted connect page's "Continue" (internal): the provider's authorization URL of an open OAuth
   * request, and the binding cookie to set with the redirect there. Only for the browser that holds
   * the page's cookie (CONNECTION_BROWSER_MISMATCH otherwise, the request unchanged).
   */
  async continueAtProvider(
    id: string,
    cookies: string | null,
  ): Promise<{ authorizationUrl: string; setCookie: string }> {
    const record = await this.#requestRecord(id);
    const closed = record.kind === 'oauth2' ? this.#notOpen(record, new Date()) : undefined;
    if (closed) throw closed;
    const { vault, baseUrl, redirectUri } = this.#records.options;
    if (record.kind === 'oauth2' && !connectPageCookieMatches(vault, record.id, cookies)) {
      throw browserMismatch(record.id, 'continue');
    }
    const authorizationUrl = await this.#authorizationUrlOf(record);
    return {
      authorizationUrl,
      setCookie: connectBindingCookie(
        vault,
        baseUrl,
        record.redirectUri ?? redirectUri,
        record.id,
        record.expiresAt,
      ),
    };
  }

  /** The `Set-Cookie` of the hosted connect page of a request (internal; see connect-binding.ts). */
  connectPageCookie(id: string, expiresAt: Date): string {
    return connectPageCookie(this.#records.options.vault, this.#records.options.baseUrl, id, expiresAt);
  }

  /**
   * Which auth config a new connection of `toolkit` uses in a session: the session's `authConfigs`
   * entry, else the one toolmux manages (created from `managedAuth` when `create`).
   */
  async plan(
    toolkit: Toolkit,
    selection: AccountSelection,
    options: { create: boolean },
  ): Promise<ConnectionPlan> {
    const scheme = defaultSchemeOf(toolkit);
    if (!scheme) return { kind: 'none' };
    const chosen = selection.authConfigs?.[toolkit.slug];
    const config = chosen
      ? await this.#sessionAuthConfig(toolkit, chosen)
      : await this.#configs.managed(toolkit, options);
    if (config?.type === 'oauth2') return { kind: 'oauth2', authConfig: config };
    if (config) return { kind: 'fields', type: config.type, authConfigId: config.id };
    if (scheme.type !== 'oauth2') return { kind: 'fields', type: scheme.type, authConfigId: undefined };
    return {
      kind: 'unconfigured',
      message:
        `${toolkit.name} (${toolkit.slug}) has no OAuth app configured: create one with ` +
        `${apiRef('authConfigs.createOAuth', { toolkit: toolkit.slug })} and pass its id as the session's ` +
        `${configField(`authConfigs.${toolkit.slug}`)}, or set managedAuth.${toolkit.slug} on ToolMux (in toolmux.config for \`toolmux serve\`).`,
    };
  }

  /** The auth config a session names for `toolkit`; one deleted since is refused saying how to replace it. */
  async #sessionAuthConfig(toolkit: Toolkit, id: string): Promise<AuthConfigRecord> {
    const record = await this.#records.store.getAuthConfig(lookupId('authConfig', id));
    if (record) return record;
    // a model (TOOLMUX_MANAGE_CONNECTIONS with an alias) cannot change the session: it asks the user
    throw readerError(
      (reader) =>
        new ToolMuxError({
          code: 'AUTH_CONFIG_NOT_FOUND',
          message:
            reader.metaTools.size > 0
              ? `This session connects ${toolkit.name} (${toolkit.slug}) through auth config "${id}", which was deleted (and its accounts with it). ${missingAuthConfigWay(toolkit, reader)}.`
              : `This session connects ${toolkit.name} (${toolkit.slug}) through auth config "${id}" (its ` +
                `${configField(`authConfigs.${toolkit.slug}`)}), which does not exist: it was deleted, and its accounts with it. ` +
                `Create another with ${apiRef('authConfigs.create', { toolkit: toolkit.slug })} and give it to the session with ` +
                `${apiRef('session.update.authConfigs', { toolkit: toolkit.slug })}.`,
          details: { authConfigId: id },
        }),
    );
  }

  /** `session.authorize()`: a connection request through the auth config the session would use. */
  async authorize(request: {
    userId: string;
    toolkit: Toolkit;
    selection: AccountSelection;
    callbackUrl: string | undefined;
    /** The alias of the new account. */
    alias?: string | undefined;
  }): Promise<ConnectionRequest> {
    const { toolkit } = request;
    const { callbackUrls, defaultCallbackUrl } = this.#records.options;
    callbackUrls.check(request.callbackUrl ?? defaultCallbackUrl);
    const alias = request.alias === undefined ? undefined : checkAlias(request.alias);
    const multi = request.selection.multiAccount;
    const maxAccounts = multi?.enable && !toolkit.noAuth ? multi.maxAccountsPerToolkit : null;
    if (maxAccounts !== null) await this.#accounts.checkRoom(request.userId, toolkit, maxAccounts);
    const plan = await this.plan(toolkit, request.selection, { create: true });
    if (alias !== undefined && (plan.kind === 'oauth2' || plan.kind === 'fields')) {
      await this.#accounts.checkAliasFree(request.userId, toolkit.slug, alias);
    }
    switch (plan.kind) {
      case 'oauth2':
        return this.#startOAuth(request.userId, plan.authConfig, request.callbackUrl, alias, maxAccounts);
      case 'none':
        throw new ToolMuxError({
          code: 'INVALID_REQUEST',
          message: `${toolkit.name} (${toolkit.slug}) needs no connected account: its tools run directly.`,
        });
      case 'fields':
        if (plan.authConfigId) {
          const config = await this.#records.authConfig(plan.authConfigId);
          return this.#startFields(request.userId, config, request.callbackUrl, alias, maxAccounts);
        }
        throw new ToolMuxError({
          code: 'AUTH_CONFIG_NOT_FOUND',
          message:
            `${toolkit.name} (${toolkit.slug}) connects with ${plan.type} credentials, and the session names no auth config for it: ` +
            `create one with ${apiRef('authConfigs.create', { toolkit: toolkit.slug, type: plan.type })} and pass its id as the session's ${configField(`authConfigs.${toolkit.slug}`)} ` +
            `(or store credentials directly with ${apiRef('connectedAccounts.create')}).`,
        });
      case 'unconfigured':
        throw new ToolMuxError({ code: 'AUTH_CONFIG_NOT_FOUND', message: plan.message });
    }
  }
}
