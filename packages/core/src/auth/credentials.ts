import { apiRef } from '../api-refs.js';
import type { Credentials, OAuth2Scheme } from '../catalog/types.js';
import { quotedMessage, ToolMuxError } from '../errors.js';
import { connectWay, readerError, reconnectWay } from '../meta-tools/hints.js';
import type { ConnectedAccountRecord, Store } from '../store/types.js';
import { pause, settlesWithin, untilAborted } from '../util/abort.js';
import type { Logger } from '../util/logger.js';
import { basicCredentials, secretForms } from '../util/redact.js';
import type { Vault } from '../vault/vault.js';
import {
  type OAuthClient,
  OAuthFailure,
  type OAuthTransport,
  refreshTokens,
  revokeToken,
  type TokenSet,
} from './oauth.js';
import { retryingStoreErrors } from './store-retry.js';

/**
 * A token that expires within this window is refreshed before a call uses it; one issued for less
 * than twice as long, within half its lifetime (see {@link needsRefresh}).
 */
export const REFRESH_WINDOW_MS = 60_000;
/**
 * How much longer than a token request may take (the ToolMux's `oauthRequestTimeoutMs`) one process
 * may hold an account's refresh: the lease outlasts the request, so that no other process spends the
 * same refresh token while it is under way.
 */
const LEASE_MARGIN_MS = 15_000;
/** How often a process waiting for another one's refresh looks at the store. */
const LEASE_POLL_MS = 100;
/**
 * How long after a token refresh started a call whose token is still valid waits for it (a token
 * request takes well under a second when the provider is well): after that it goes on with the
 * current token, and the refresh finishes without it. Only in the last quarter of the refresh window
 * (15 s of a token's life by default) does a call wait for the refresh as long as it takes, since
 * its token would not outlast it.
 */
export const REFRESH_PATIENCE_MS = 2_000;
/**
 * After a token refresh of an account failed (`OAUTH_ERROR`: the provider answered 5xx or could not be
 * reached; `AUTH_CONFIG_INVALID`: it refused the client), calls of this process whose token is still
 * valid go on with it without trying again for this long, doubling with each failure up to
 * {@link REFRESH_BACKOFF_MAX_MS} and never past half of the token's time left (so a refresh is tried
 * again before the token ends). A provider failing at once got one token request per call otherwise,
 * and the log one warning per call, for the whole refresh window. A call whose token has ended always
 * tries; a successful refresh ends the backoff.
 */
export const REFRESH_BACKOFF_FIRST_MS = 1_000;
export const REFRESH_BACKOFF_MAX_MS = 30_000;
/** Accounts whose failed refreshes one process remembers (the oldest is forgotten first). */
const REFRESH_BACKOFF_ACCOUNTS = 10_000;

/** An account's credentials as the vault holds them (JSON, encrypted). */
export type StoredCredentials =
  | ({ type: 'oauth2' } & TokenSet)
  | { type: 'api_key' | 'bearer' | 'basic'; fields: Record<string, string> };

export interface CredentialLoaderOptions {
  store: Store;
  vault: Vault;
  fetch: typeof globalThis.fetch;
  /** How long one request to an authorization server may take (the ToolMux's `oauthRequestTimeoutMs`). */
  oauthRequestTimeoutMs: number;
  logger: Logger;
  /** The OAuth scheme and client of an auth config. */
  oauthOf: (authConfigId: string) => Promise<{ scheme: OAuth2Scheme; client: OAuthClient }>;
  /** `Gmail (gmail)` for messages. */
  toolkitLabel: (slug: string) => string;
}

/**
 * Whether a token that expires at `expiresAt` is refreshed before a call uses it: within
 * {@link REFRESH_WINDOW_MS} of its end, or of half its `lifetimeMs` when that is shorter. A provider
 * that issues tokens for a minute or less (30 s) would otherwise have each one refreshed as it
 * arrives, a token request for every call.
 */
function needsRefresh(expiresAt: Date | null, lifetimeMs: number | undefined): boolean {
  return expiresAt !== null && expiresAt.getTime() - Date.now() < refreshWindow(lifetimeMs);
}

function refreshWindow(lifetimeMs: number | undefined): number {
  return lifetimeMs === undefined ? REFRESH_WINDOW_MS : Math.min(REFRESH_WINDOW_MS, lifetimeMs / 2);
}

/**
 * CONNECTION_EXPIRED for an account the user must connect again; its message names the way to a new
 * connection its reader has (see `forReader`).
 */
export function connectionExpiredError(
  toolkitLabel: string,
  accountId: string,
  reason: string | null,
  toolkit: string,
  /** The account's alias: the new connection is made under it (it is free for one now). */
  alias?: string | null,
): ToolMuxError {
  const named = alias ? `"${alias}" (${accountId})` : `(${accountId})`;
  return readerError(
    (reader) =>
      new ToolMuxError({
        code: 'CONNECTION_EXPIRED',
        message:
          `The ${toolkitLabel} connection ${named} has expired or was revoked${reason ? ` (${reason})` : ''}. ` +
          `Ask the user to reconnect ${toolkitLabel}: ${reconnectWay(toolkit, reader, alias ?? undefined, accountId)}. Then retry.`,
        details: { connectedAccountId: accountId },
      }),
  );
}

/**
 * Why a refused OAuth client (its client id or secret: `invalid_client`, `unauthorized_client`, or a
 * code of the scheme's `clientRejectedErrors`) is the auth config's fault, and how to fix it: the words
 * of a refused refresh ({@link clientRejectedError}) and of a refused code exchange at the OAuth
 * callback. `fix` names `authConfigs.update` (an {@link apiRef}, or its words when the text is stored);
 * `afterFix` says what happens once it is fixed. It names no secret: the failure's were masked.
 */
export function clientRejectedText(refusal: {
  toolkitLabel: string;
  authConfigId: string;
  /** Which endpoint refused it: `token endpoint`, `authorization endpoint`. */
  refusedBy: string;
  /** What was refused: `when refreshing the token of ca_…`, `when trading the authorization code of ca_…`. */
  during: string;
  failure: OAuthFailure;
  /** Who is not at fault: `the account`, `the user`. */
  notAtFault: string;
  fix: string;
  afterFix: string;
}): string {
  const { toolkitLabel, authConfigId, refusedBy, during, failure, notAtFault, fix, afterFix } = refusal;
  return (
    `The ${toolkitLabel} ${refusedBy} refused the client id/secret of auth config ${authConfigId} ${during} (${failure.message}). ` +
    `${notAtFault.charAt(0).toUpperCase()}${notAtFault.slice(1)} is not at fault and trying again will not help: fix the auth config, whose OAuth app's secret may have been rotated or the app deleted at the provider. ` +
    `Give it the app's current clientId and clientSecret with ${fix} (for one toolmux made from managedAuth, correct managedAuth too): ${afterFix}`
  );
}

/**
 * AUTH_CONFIG_INVALID for a refresh whose token endpoint refused the auth config's OAuth client (its
 * client id or secret): not the account's fault, and trying again does not help; the operator fixes
 * the auth config.
 */
export function clientRejectedError(
  toolkitLabel: string,
  account: Pick<ConnectedAccountRecord, 'id' | 'authConfigId'>,
  failure: OAuthFailure,
): ToolMuxError {
  return new ToolMuxError({
    code: 'AUTH_CONFIG_INVALID',
    message: clientRejectedText({
      toolkitLabel,
      authConfigId: account.authConfigId,
      refusedBy: 'token endpoint',
      during: `when refreshing the token of ${account.id}`,
      failure,
      notAtFault: 'the account',
      fix: apiRef('authConfigs.update', { authConfigId: account.authConfigId }),
      afterFix: 'the accounts stay connected and their next refresh uses them.',
    }),
    details: { authConfigId: account.authConfigId, connectedAccountId: account.id },
  });
}

/**
 * CONNECTED_ACCOUNT_NOT_FOUND for a call whose account was deleted while the call was getting its
 * credentials (reading it, refreshing its token, marking it expired).
 */
export function accountDeletedError(
  accountId: string,
  toolkit?: { label: string; slug: string },
): ToolMuxError {
  return readerError(
    (reader) =>
      new ToolMuxError({
        code: 'CONNECTED_ACCOUNT_NOT_FOUND',
        message: toolkit
          ? `The ${toolkit.label} connected account ${accountId} was deleted while this call was getting its credentials. ` +
            `Connect ${toolkit.label} again (${connectWay(toolkit.slug, reader)}) or use another account, then retry.`
          : `Connected account ${accountId} was deleted while this call was getting its credentials. List the user's accounts with ${apiRef('connectedAccounts.list')} and use another one, or connect one again, then retry.`,
        details: { connectedAccountId: accountId },
      }),
  );
}

/**
 * The error of a call whose account, read again while the call was getting its credentials, is not
 * ACTIVE any more: CONNECTION_EXPIRED for an EXPIRED or REVOKED account, CONNECTION_REQUIRED naming
 * the status for another one (INACTIVE: the application disabled it meanwhile).
 */
export function accountNotUsableError(toolkitLabel: string, account: ConnectedAccountRecord): ToolMuxError {
  if (account.status === 'EXPIRED' || account.status === 'REVOKED') {
    return connectionExpiredError(
      toolkitLabel,
      account.id,
      account.statusReason,
      account.toolkit,
      account.alias,
    );
  }
  const named = account.alias ? `"${account.alias}" (${account.id})` : `(${account.id})`;
  return readerError(
    (reader) =>
      new ToolMuxError({
        code: 'CONNECTION_REQUIRED',
        message:
          account.status === 'INACTIVE'
            ? `The ${toolkitLabel} connection ${named} is INACTIVE (disabled by the application), so this call did not use it. ` +
              `The application enables it again with ${apiRef('connectedAccounts.enable')}, or the user connects another one (${connectWay(account.toolkit, reader)}). Then retry.`
            : `The ${toolkitLabel} connection ${named} is ${account.status}, not ACTIVE, so this call did not use it. ` +
              `Ask the user to connect ${toolkitLabel} (${connectWay(account.toolkit, reader)}), then retry.`,
        details: { connectedAccountId: account.id, status: account.status },
      }),
  );
}

/** How many times a conditional write of an account is tried again after the account changed under it. */
const CHANGED_RETRIES = 5;

/**
 * The credential values to mask (token type, scope and expiry are not secrets: masking them would
 * blank words like "bearer"), in each form a request carries them, which an API may quote back: as
 * they are, encoded in a URL or a body (see `secretForms`), and any two of them (or one with an
 * empty password) as the base64 credentials of an HTTP Basic authorization header. `shown`: fields
 * whose values are not secrets (see `shownFieldsOf`), masked only inside a Basic pair: a tool's
 * result keeps a username or a base URL as the API wrote it.
 */
export function credentialSecrets(credentials: Credentials, shown?: ReadonlySet<string>): string[] {
  const entries = Object.entries(credentials).filter(
    ([name, value]) =>
      name !== 'tokenType' && name !== 'scope' && name !== 'expiresAt' && typeof value === 'string',
  );
  const values = entries.map(([, value]) => value);
  const basic = values.flatMap((user, index) => [
    basicCredentials(user, ''),
    ...values.filter((_, other) => other !== index).map((password) => basicCredentials(user, password)),
  ]);
  const secret =
    shown === undefined ? values : entries.filter(([name]) => !shown.has(name)).map(([, value]) => value);
  return [...secret.flatMap(secretForms), ...basic];
}

/** How a call waits for its credentials. */
export interface CredentialWait {
  /** Ends the wait for a token refresh at once, with its reason (the refresh goes on). */
  signal?: AbortSignal | undefined;
  /**
   * When the call's timeout ends it (`Date.now()` time): a call whose token is still valid waits for
   * its refresh at most half of what is left, and goes on with the current token after that.
   */
  deadline?: number | undefined;
}

/**
 * A token refresh of one account in this process, which its callers share. It waits for another
 * process's lease only while one of them still waits for it: when the last one's signal aborted,
 * `stop` ends those waits (a token request under way is never stopped: its rotated refresh token must
 * be stored).
 */
interface SharedRefresh {
  readonly promise: Promise<ConnectedAccountRecord>;
  readonly stop: AbortController;
  /** Callers waiting that may still abort. */
  waiters: number;
  /** A caller without a signal waits for it: it is never stopped. */
  kept: boolean;
  /** When it started (`Date.now()`): a call with a valid token waits for it until {@link REFRESH_PATIENCE_MS} after. */
  readonly startedAt: number;
  /** A call went on without it: its failure is logged once, as nobody else reports it. */
  unwatched: boolean;
}

/**
 * Decrypts an account's credentials for a call and keeps OAuth tokens fresh. A token that expires
 * within a minute is refreshed first, once per account however many calls need it:
 *
 * - in this process, concurrent callers share one refresh promise per account (single-flight);
 * - across processes on one store, a refresh starts only after `acquireRefreshLease` won a
 *   conditional update (version + lease time) of the account row; the others wait for the lease
 *   holder's new token, and take over only if its lease runs out.
 *
 * So a refresh token is spent once. A dead refresh token (`invalid_grant`, or a code of the scheme's
 * `refreshTokenDeadErrors`) marks the account EXPIRED.
 */
export class CredentialLoader {
  readonly #options: CredentialLoaderOptions;
  readonly #inFlight = new Map<string, SharedRefresh>();
  /** How long one process may hold an account's refresh. */
  readonly #leaseMs: number;
  /** Accounts whose last refresh failed: when, and how many times in a row (see {@link REFRESH_BACKOFF_FIRST_MS}). */
  readonly #failedRefreshes = new Map<string, { at: number; times: number }>();

  constructor(options: CredentialLoaderOptions) {
    this.#options = options;
    this.#leaseMs = options.oauthRequestTimeoutMs + LEASE_MARGIN_MS;
  }

  /** The ToolMux's `fetch` and OAuth request timeout, for the authorization server's endpoints. */
  get #transport(): OAuthTransport {
    return { fetch: this.#options.fetch, timeoutMs: this.#options.oauthRequestTimeoutMs };
  }

  /**
   * `ctx.credentials` for a call with this (ACTIVE) account. An account that turns out to have
   * changed meanwhile (disabled, deleted, marked expired by another call) answers for what it is now.
   * `wait.signal` ends the wait for a token refresh at once, with its reason (see {@link refresh});
   * `wait.deadline` bounds it while the token is still valid (see {@link CredentialWait}).
   */
  load(account: ConnectedAccountRecord, wait: CredentialWait = {}): Promise<Credentials> {
    return this.#load(account, 1, wait);
  }

  async #load(account: ConnectedAccountRecord, attempt: number, wait: CredentialWait): Promise<Credentials> {
    const { vault, logger, toolkitLabel, store } = this.#options;
    const label = toolkitLabel(account.toolkit);
    if (account.status !== 'ACTIVE') throw accountNotUsableError(label, account);
    let current = account;
    let stored = this.#open(current);
    if (stored.type !== 'oauth2') return { ...stored.fields };
    if (needsRefresh(current.expiresAt, stored.lifetimeMs)) {
      if (stored.refreshToken) {
        try {
          const refreshed = await this.#refreshForCall(current, stored.lifetimeMs, wait);
          if (refreshed !== undefined) {
            current = refreshed;
            // disabled while the token was refreshed: the new tokens are kept, this call does not use them
            if (current.status !== 'ACTIVE') throw accountNotUsableError(label, current);
            stored = vault.openJson<StoredCredentials>(current.id, current.secret!);
          }
        } catch (error) {
          const stillValid = current.expiresAt !== null && current.expiresAt.getTime() > Date.now();
          // a failed refresh (a refused client too) leaves the current token as good as it was
          const usable =
            ToolMuxError.isInstance(error) &&
            (error.code === 'OAUTH_ERROR' || error.code === 'AUTH_CONFIG_INVALID');
          if (!stillValid || !usable) throw error;
          logger.warn(`toolmux: ${error.message} Using the current token until it expires.`);
        }
      } else if (current.expiresAt!.getTime() <= Date.now()) {
        const reason = 'the access token expired and the provider gave no refresh token';
        // only as it was read: a disable, deletion or new connection since then stands
        const marked = await store.updateConnectedAccount(
          current.id,
          { status: 'EXPIRED', statusReason: reason },
          current.version,
        );
        if (!marked) {
          const now = await store.getConnectedAccount(current.id);
          if (!now) throw accountDeletedError(current.id, { label, slug: current.toolkit });
          if (now.status !== 'ACTIVE' || attempt < CHANGED_RETRIES) return this.#load(now, attempt + 1, wait);
        }
        throw connectionExpiredError(label, current.id, reason, current.toolkit, current.alias);
      }
    }
    if (stored.type !== 'oauth2') return { ...stored.fields };
    return {
      accessToken: stored.accessToken,
      tokenType: stored.tokenType,
      ...(stored.scope ? { scope: stored.scope } : {}),
      ...(current.expiresAt ? { expiresAt: current.expiresAt.toISOString() } : {}),
    };
  }

  /**
   * The account with a refreshed token for a call whose token is within the refresh window, or
   * undefined when the call goes on with its current token: one still valid past the last quarter of
   * the window waits for the refresh only until {@link REFRESH_PATIENCE_MS} after it started, and for
   * at most half of the time the call has left (a slow or unreachable provider, or another process's
   * refresh, would otherwise hold every call, and fail those with a shorter timeout, while their
   * token is good). That refresh goes on without the call, and a failure of it is logged.
   */
  async #refreshForCall(
    account: ConnectedAccountRecord,
    lifetimeMs: number | undefined,
    { signal, deadline }: CredentialWait,
  ): Promise<ConnectedAccountRecord | undefined> {
    if (this.#backingOff(account)) return undefined;
    const spare = account.expiresAt!.getTime() - Date.now() - refreshWindow(lifetimeMs) / 4;
    if (spare <= 0) return this.refresh(account.id, { account, signal });
    const refreshing = this.refresh(account.id, { account });
    const shared = this.#inFlight.get(account.id)!;
    const now = Date.now();
    // half of what is left of the call's time at most: the rest is its handler's
    const patience = Math.min(
      spare,
      shared.startedAt + REFRESH_PATIENCE_MS - now,
      deadline === undefined ? Number.POSITIVE_INFINITY : (deadline - now) / 2,
    );
    let waited = false;
    try {
      waited = patience > 0 && (await untilAborted(settlesWithin(refreshing, patience), signal));
    } finally {
      if (!waited && !shared.unwatched) {
        shared.unwatched = true;
        refreshing.catch((error: unknown) => {
          this.#options.logger.warn(
            `toolmux: ${ToolMuxError.isInstance(error) ? error.message : quotedMessage(error, [])} Calls went on with the current token meanwhile.`,
          );
        });
      }
    }
    return waited ? refreshing : undefined;
  }

  /**
   * Whether the account's last refresh failed too recently to try again now, while its token is
   * still valid (see {@link REFRESH_BACKOFF_FIRST_MS}).
   */
  #backingOff(account: ConnectedAccountRecord): boolean {
    const failed = this.#failedRefreshes.get(account.id);
    if (!failed) return false;
    const endsAt = account.expiresAt!.getTime();
    const now = Date.now();
    if (endsAt <= now) return false;
    const delay = Math.min(REFRESH_BACKOFF_FIRST_MS * 2 ** (failed.times - 1), REFRESH_BACKOFF_MAX_MS);
    return now < failed.at + Math.min(delay, (endsAt - failed.at) / 2);
  }

  /** Remembers how a refresh of the account ended, for {@link #backingOff}. */
  #refreshEnded(accountId: string, error?: unknown): void {
    const failures = this.#failedRefreshes;
    const last = failures.get(accountId);
    failures.delete(accountId);
    if (error === undefined) return;
    if (
      !ToolMuxError.isInstance(error) ||
      (error.code !== 'OAUTH_ERROR' && error.code !== 'AUTH_CONFIG_INVALID')
    ) {
      return;
    }
    failures.set(accountId, { at: Date.now(), times: (last?.times ?? 0) + 1 });
    if (failures.size > REFRESH_BACKOFF_ACCOUNTS) failures.delete(failures.keys().next().value!);
  }

  /**
   * Refreshes an account's OAuth token (even a fresh one with `force`), or waits for the refresh
   * another caller or process is doing. Resolves with the updated account.
   *
   * Callers in this process share one refresh. `signal` ends this caller's wait at once (rejecting
   * with its reason), not the others': the shared refresh goes on while one of them waits; once none
   * does, it stops waiting for another process's lease (and starts no token request), but a token
   * request under way always finishes and stores what it got.
   */
  refresh(
    accountId: string,
    options: {
      force?: boolean;
      /** Refresh only while this is still the stored access token (it was refused): else it was renewed already. */
      replacing?: string;
      /** The account as the caller read it: names its toolkit should it be deleted meanwhile. */
      account?: ConnectedAccountRecord;
      /** Aborts when this caller no longer waits. */
      signal?: AbortSignal;
    } = {},
  ): Promise<ConnectedAccountRecord> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let shared = this.#inFlight.get(accountId);
    if (!shared) {
      const known = options.account
        ? { label: this.#options.toolkitLabel(options.account.toolkit), slug: options.account.toolkit }
        : undefined;
      const stop = new AbortController();
      const promise = this.#refresh(accountId, options.force === true, options.replacing, known, stop.signal);
      const entry: SharedRefresh = {
        stop,
        waiters: 0,
        kept: false,
        startedAt: Date.now(),
        unwatched: false,
        promise: promise
          .then(
            (account) => {
              this.#refreshEnded(accountId);
              return account;
            },
            (error: unknown) => {
              this.#refreshEnded(accountId, error);
              throw error;
            },
          )
          .finally(() => {
            if (this.#inFlight.get(accountId) === entry) this.#inFlight.delete(accountId);
          }),
      };
      shared = entry;
      this.#inFlight.set(accountId, entry);
    }
    if (!signal) {
      shared.kept = true;
      return shared.promise;
    }
    const entry = shared;
    entry.waiters++;
    const leave = () => {
      if (--entry.waiters > 0 || entry.kept) return;
      // nobody waits for it any more: a later caller starts a refresh of its own
      entry.stop.abort();
      if (this.#inFlight.get(accountId) === entry) this.#inFlight.delete(accountId);
    };
    signal.addEventListener('abort', leave, { once: true });
    const done = () => signal.removeEventListener('abort', leave);
    entry.promise.then(done, done);
    return untilAborted(entry.promise, signal);
  }

  /**
   * The account once the token refresh under way for it has ended (this process's, or another one's
   * that holds the refresh lease); at once when none is. Starts no refresh. Undefined once deleted.
   * `signal` ends the wait at once, with its reason.
   */
  async settled(accountId: string, signal?: AbortSignal): Promise<ConnectedAccountRecord | undefined> {
    const shared = this.#inFlight.get(accountId);
    if (shared) {
      await untilAborted(
        shared.promise.catch(() => undefined),
        signal,
      );
    }
    const started = Date.now();
    for (;;) {
      signal?.throwIfAborted();
      const account = await this.#options.store.getConnectedAccount(accountId);
      if (!account?.refreshLeaseUntil || account.refreshLeaseUntil <= new Date()) return account;
      if (Date.now() - started > 2 * this.#leaseMs) return account;
      await pause(LEASE_POLL_MS, signal);
    }
  }

  /** True while another process (or call) holds the account's refresh lease. */
  refreshing(account: ConnectedAccountRecord): boolean {
    return (
      this.#inFlight.has(account.id) ||
      (account.refreshLeaseUntil !== null && account.refreshLeaseUntil > new Date())
    );
  }

  /**
   * Whether the account holds other credentials than `refused` (its access token, or for other kinds
   * of credentials their fields): renewed or replaced since they were handed to a call.
   */
  holdsOtherThan(account: ConnectedAccountRecord, refused: Credentials | undefined): boolean {
    if (!account.secret || refused === undefined) return false;
    const stored = this.#open(account);
    if (stored.type === 'oauth2') return stored.accessToken !== refused.accessToken;
    const names = new Set([...Object.keys(stored.fields), ...Object.keys(refused)]);
    return [...names].some((name) => stored.fields[name] !== refused[name]);
  }

  /** How long the account's access token was issued for, when the provider said. */
  #lifetimeOf(account: ConnectedAccountRecord): number | undefined {
    const stored = account.secret ? this.#open(account) : undefined;
    return stored?.type === 'oauth2' ? stored.lifetimeMs : undefined;
  }

  #accessTokenOf(account: ConnectedAccountRecord): string | undefined {
    const stored = account.secret ? this.#open(account) : undefined;
    return stored?.type === 'oauth2' ? stored.accessToken : undefined;
  }

  /** True for an OAuth account that holds a refresh token. */
  canRefresh(account: ConnectedAccountRecord): boolean {
    if (!account.secret) return false;
    const stored = this.#open(account);
    return stored.type === 'oauth2' && Boolean(stored.refreshToken);
  }

  #open(account: ConnectedAccountRecord): StoredCredentials {
    if (!account.secret) {
      throw new ToolMuxError({
        code: 'CONNECTION_REQUIRED',
        message: `Connected account ${account.id} has no credentials (status ${account.status}); connect it again.`,
      });
    }
    return this.#options.vault.openJson<StoredCredentials>(account.id, account.secret);
  }

  async #refresh(
    accountId: string,
    force: boolean,
    replacing: string | undefined,
    known: { label: string; slug: string } | undefined,
    /** Aborts once no caller waits: the waits for another process's lease end. */
    stop: AbortSignal,
  ): Promise<ConnectedAccountRecord> {
    const { store, toolkitLabel } = this.#options;
    const started = Date.now();
    /** The version of the account while another process held its lease, once this one waited for it. */
    let waitedOn: number | undefined;
    /**
     * The version at which the store last refused this process the lease: unchanged, the lease is live
     * by the store's clock (PostgreSQL's), whatever this machine's clock says.
     */
    let refusedAt: number | undefined;
    for (;;) {
      stop.throwIfAborted();
      const account = await store.getConnectedAccount(accountId);
      if (!account) throw accountDeletedError(accountId, known);
      if (account.status !== 'ACTIVE') throw accountNotUsableError(toolkitLabel(account.toolkit), account);
      if (!force && !needsRefresh(account.expiresAt, this.#lifetimeOf(account))) return account; // another process refreshed it
      if (replacing !== undefined && this.#accessTokenOf(account) !== replacing) return account; // renewed already
      const now = new Date();
      if (account.refreshLeaseUntil && (account.refreshLeaseUntil > now || account.version === refusedAt)) {
        if (Date.now() - started > 2 * this.#leaseMs) {
          throw new ToolMuxError({
            code: 'OAUTH_ERROR',
            message: `Refreshing the ${toolkitLabel(account.toolkit)} token of ${account.id} took too long in another process; try again.`,
          });
        }
        waitedOn = account.version;
        // the store is asked again after this wait: the lease may have run out by its clock
        refusedAt = undefined;
        await pause(LEASE_POLL_MS, stop);
        continue;
      }
      // the refresh waited for is the one asked for, once it stored its tokens (the row moved on)
      if (force && waitedOn !== undefined && account.version !== waitedOn) return account;
      stop.throwIfAborted(); // nobody waits for a new token: no token request
      const leased = await store.acquireRefreshLease(
        account.id,
        account.version,
        new Date(now.getTime() + this.#leaseMs),
        now,
      );
      if (leased) return this.#spendRefreshToken(leased);
      // the row changed between the read and the lease, or its lease is live by the store's clock:
      // look again (at the same version, as a live lease)
      refusedAt = account.version;
    }
  }

  /** Holding the lease: trades the refresh token, stores the new tokens, releases the lease. */
  async #spendRefreshToken(account: ConnectedAccountRecord): Promise<ConnectedAccountRecord> {
    const { store, vault, oauthOf, toolkitLabel } = this.#options;
    const label = toolkitLabel(account.toolkit);
    let stored: StoredCredentials;
    let tokens: TokenSet;
    let oauth: { scheme: OAuth2Scheme; client: OAuthClient };
    try {
      stored = this.#open(account);
      if (stored.type !== 'oauth2' || !stored.refreshToken) {
        throw new ToolMuxError({
          code: 'INVALID_REQUEST',
          message: `Connected account ${account.id} has no OAuth refresh token to refresh with.`,
        });
      }
      oauth = await oauthOf(account.authConfigId);
      tokens = await refreshTokens(
        oauth.scheme,
        oauth.client,
        { refreshToken: stored.refreshToken, accessToken: stored.accessToken },
        this.#transport,
      );
    } catch (error) {
      const refusal = error instanceof OAuthFailure ? error.refusal : undefined;
      if (refusal === 'refresh_token_dead') {
        const outcome = await this.#refused(account, (error as OAuthFailure).message);
        if (outcome instanceof ToolMuxError) throw outcome;
        return outcome;
      }
      await this.#letGo(account).catch(() => undefined);
      if (ToolMuxError.isInstance(error)) throw error;
      if (refusal === 'client_rejected') {
        throw clientRejectedError(label, account, error as OAuthFailure);
      }
      const said = error instanceof OAuthFailure ? error.message : 'the token request failed';
      throw new ToolMuxError({
        code: 'OAUTH_ERROR',
        message: `Refreshing the ${label} token of ${account.id} failed (${said}). Try again in a moment.`,
        details: { connectedAccountId: account.id },
      });
    }
    // the old token's expiry and lifetime do not outlive it (a new one the provider gives no expiry)
    const { expiresAt: _expiresAt, lifetimeMs: _lifetimeMs, ...kept } = stored;
    const next: StoredCredentials = {
      ...kept,
      ...tokens,
      refreshToken: tokens.refreshToken ?? stored.refreshToken,
      ...((tokens.scope ?? stored.scope) ? { scope: tokens.scope ?? stored.scope } : {}),
    };
    const changes = {
      secret: vault.sealJson(account.id, next),
      expiresAt: tokens.expiresAt === undefined ? null : new Date(tokens.expiresAt),
    };
    // The lease makes the conditional write succeed. Should the account have changed meanwhile
    // (disabled, renamed, or the lease ran out), the new tokens are still the ones to keep (a rotated
    // refresh token is the only valid one now): written over what it is now, its status kept.
    // A database that does not answer just then (a failover, a network blip) is asked again while
    // the lease lasts: the provider has spent the old refresh token, so the new one exists nowhere
    // but here, and losing it would leave the account to be refused (EXPIRED) at its next refresh.
    const untilStored = this.#retryingStoreErrors(
      account,
      account.refreshLeaseUntil,
      next.type === 'oauth2' && next.refreshToken !== stored.refreshToken,
    );
    let version = account.version;
    let leaseHeld = true;
    for (let attempt = 1; ; attempt++) {
      const updated = await untilStored(() =>
        store.updateConnectedAccount(
          account.id,
          leaseHeld ? { ...changes, refreshLeaseUntil: null } : changes,
          attempt > CHANGED_RETRIES ? undefined : version,
        ),
      );
      if (updated) return updated;
      const now = await untilStored(() => store.getConnectedAccount(account.id));
      if (!now) {
        // deleted while the token was refreshed: what the provider just issued belongs to nothing here
        await this.#revokeIssued(account, oauth, next, 'the account was deleted');
        throw accountDeletedError(account.id, { label, slug: account.toolkit });
      }
      version = now.version;
      leaseHeld = sameTime(now.refreshLeaseUntil, account.refreshLeaseUntil);
    }
  }

  /**
   * Runs the store calls that keep a refresh's new tokens ({@link retryingStoreErrors}) until
   * `leaseUntil`, the refresh lease this process holds (until then no other process spends the
   * refresh token), each failure logged as a warning naming the account (never a token); past the
   * lease, the error is thrown and logged as the loss it is.
   */
  #retryingStoreErrors(
    account: ConnectedAccountRecord,
    leaseUntil: Date | null,
    /** The provider gave a new refresh token (and so spent the old one). */
    rotated: boolean,
  ): <T>(write: () => Promise<T>) => Promise<T> {
    const { logger, toolkitLabel } = this.#options;
    const what = `the refreshed ${toolkitLabel(account.toolkit)} tokens of ${account.id}`;
    return retryingStoreErrors({
      deadline: leaseUntil?.getTime() ?? Date.now() + this.#leaseMs,
      retrying: (error, wait) =>
        logger.warn(`toolmux: could not store ${what} (${error.message}); trying again in ${wait} ms.`),
      givingUp: (error) =>
        logger.error(
          rotated
            ? `toolmux: could not store ${what} (${error.message}); the provider's new refresh token is lost, so the next refresh of the account will likely be refused and the user asked to connect again.`
            : `toolmux: could not store ${what} (${error.message}); the account keeps its refresh token, and the next call refreshes again.`,
        ),
    });
  }

  /**
   * The provider said the refresh token is dead: the account becomes EXPIRED, only as the
   * lease holder left it. An account changed meanwhile answers for what it is now: deleted, or no
   * longer ACTIVE (disabled: the disable stands), or renewed already (its refresh token is another one:
   * returned, to be used). The lease is let go of in every case while it is still this one.
   */
  async #refused(
    leased: ConnectedAccountRecord,
    reason: string,
  ): Promise<ConnectedAccountRecord | ToolMuxError> {
    const { store, toolkitLabel } = this.#options;
    const label = toolkitLabel(leased.toolkit);
    const spent = this.#refreshTokenOf(leased);
    let account = leased;
    for (let attempt = 1; attempt <= CHANGED_RETRIES; attempt++) {
      const marked = await store.updateConnectedAccount(
        account.id,
        { status: 'EXPIRED', statusReason: reason, refreshLeaseUntil: null },
        account.version,
      );
      if (marked) return connectionExpiredError(label, account.id, reason, account.toolkit, account.alias);
      const now = await store.getConnectedAccount(account.id);
      if (!now) return accountDeletedError(account.id, { label, slug: account.toolkit });
      const renewed = this.#refreshTokenOf(now) !== spent;
      if (now.status !== 'ACTIVE' || renewed) {
        const current = await this.#letGo(leased, now);
        if (!current) return accountDeletedError(account.id, { label, slug: account.toolkit });
        return current.status === 'ACTIVE' ? current : accountNotUsableError(label, current);
      }
      account = now; // still ACTIVE with the refused token (renamed meanwhile, say): mark it as it is now
    }
    return connectionExpiredError(label, account.id, reason, account.toolkit, account.alias);
  }

  /**
   * Lets go of the refresh lease `leased` took, while the account still holds that lease (changed
   * meanwhile or not); the account as it is then, or undefined when it is gone.
   */
  async #letGo(
    leased: ConnectedAccountRecord,
    read?: ConnectedAccountRecord,
  ): Promise<ConnectedAccountRecord | undefined> {
    const { store } = this.#options;
    let account = read ?? leased;
    for (let attempt = 1; attempt <= CHANGED_RETRIES; attempt++) {
      if (!sameTime(account.refreshLeaseUntil, leased.refreshLeaseUntil)) return account;
      const released = await store.updateConnectedAccount(
        account.id,
        { refreshLeaseUntil: null },
        account.version,
      );
      if (released) return released;
      const now = await store.getConnectedAccount(account.id);
      if (!now) return undefined;
      account = now;
    }
    return account;
  }

  #refreshTokenOf(account: ConnectedAccountRecord): string | undefined {
    const stored = account.secret ? this.#open(account) : undefined;
    return stored?.type === 'oauth2' ? stored.refreshToken : undefined;
  }

  /** Revokes tokens a refresh got for an account that is gone (see {@link revokeTokenSet}). */
  #revokeIssued(
    account: ConnectedAccountRecord,
    oauth: { scheme: OAuth2Scheme; client: OAuthClient },
    stored: StoredCredentials,
    anyway: string,
  ): Promise<void> {
    const { logger, toolkitLabel } = this.#options;
    return revokeTokenSet(
      oauth,
      stored,
      { ...this.#transport, logger },
      `the new %s of ${account.id} at ${toolkitLabel(account.toolkit)}`,
      anyway,
    );
  }
}

/**
 * Revokes OAuth tokens at the provider (RFC 7009) when the scheme names a `revocationUrl`: the
 * refresh token and the access token at once (each request is on its own, and a provider that ends the
 * whole grant with the refresh token answers the access token's revocation all the same), so a
 * revocation endpoint that does not answer holds the caller one `oauthRequestTimeoutMs`, not two. A
 * provider that cannot be reached or refuses is logged (without the tokens), each token on its own:
 * "could not revoke `what` (with %s the token's kind) (why); `anyway`".
 */
export async function revokeTokenSet(
  { scheme, client }: { scheme: OAuth2Scheme; client: OAuthClient },
  stored: StoredCredentials,
  { logger, ...transport }: OAuthTransport & { logger: Logger },
  what: string,
  anyway: string,
): Promise<void> {
  if (!scheme.revocationUrl || stored.type !== 'oauth2') return;
  const withEndpoint = { ...scheme, revocationUrl: scheme.revocationUrl };
  const tokens = [
    ...(stored.refreshToken ? [[stored.refreshToken, 'refresh_token'] as const] : []),
    [stored.accessToken, 'access_token'] as const,
  ];
  const secrets = tokens.map(([token]) => token);
  await Promise.all(
    tokens.map(async ([token, hint]) => {
      try {
        await revokeToken(withEndpoint, client, token, hint, { ...transport, alsoSecret: secrets });
      } catch (error) {
        logger.warn(
          `toolmux: could not revoke ${what.replace('%s', hint.replace('_', ' '))} (${quotedMessage(error, secrets)}); ${anyway}.`,
        );
      }
    }),
  );
}

/** Whether two lease times are the same moment (both absent counts). */
function sameTime(a: Date | null, b: Date | null): boolean {
  return (a?.getTime() ?? null) === (b?.getTime() ?? null);
}
