import type { AccountRequest, ResolvedAccount } from '../execution/execute.js';
import type { Store } from '../store/types.js';
import { wholeNumberOf } from '../util/whole-number.js';

/** How long an account is reused (and a session object trusts its session) unless `accountCacheTtlMs` says. */
export const DEFAULT_ACCOUNT_CACHE_TTL_MS = 2000;

/**
 * A ToolMux's `accountCacheTtlMs` (undefined: the default), checked: a whole number of milliseconds, 0
 * or more, in either mode; `purpose` says what it governs in the ToolMux's mode. Unchecked, a negative
 * or NaN one turned the account cache off without a word, a string one made every session object's
 * deadline a string (`Date.now() + "5"`) it never passed, and a non-number one failed no call at all.
 */
export function accountCacheTtlOf(option: unknown, purpose: string): number {
  return wholeNumberOf(option, {
    name: 'accountCacheTtlMs',
    code: 'CONFIG_INVALID',
    unit: 'milliseconds',
    min: 0,
    purpose,
    leaveOut: `Leave it out for ${DEFAULT_ACCOUNT_CACHE_TTL_MS}; 0 turns it off.`,
    default: DEFAULT_ACCOUNT_CACHE_TTL_MS,
  });
}

/** The store calls that change which account a call would get, or its credentials. */
const ACCOUNT_WRITES = new Set<keyof Store>([
  'insertConnectedAccount',
  'updateConnectedAccount',
  'activateConnectedAccount',
  'deleteConnectedAccount',
  'deleteAuthConfig',
  'completeConnectionRequest',
  'replaceSealedSecret',
]);

/** An OAuth token this close to its expiry is not served from the cache (the loader refreshes it). */
const EXPIRY_MARGIN_MS = 90_000;

/**
 * The accounts calls ran with, for `ttlMs`: an authenticated call then skips the precedence queries
 * and the decryption (on PostgreSQL, one to three round trips) when the same user, toolkit and session
 * selection ran a moment ago.
 *
 * Every write of this process that could change the answer (`watch()` wraps the store) empties the
 * cache, so this process reads its own writes; another instance's changes (an account disabled,
 * deleted or connected there) show after at most `ttlMs`. A token near its expiry is never served
 * from here, and a call whose credentials the provider refuses reads the store again.
 */
export class AccountCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { account: ResolvedAccount; until: number }>();
  /** Moves on with every clear: a lookup that began before a write does not cache what it read. */
  #generation = 0;

  constructor(options: { ttlMs: number; maxEntries?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** The store, with every account write emptying this cache (before and after it lands). */
  watch(store: Store): Store {
    if (this.#ttlMs <= 0) return store;
    // One wrapper per method, made on first use: the store's methods are looked up on every call.
    const methods = new Map<PropertyKey, unknown>();
    return new Proxy(store, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        let method = methods.get(property);
        if (!method) {
          method = ACCOUNT_WRITES.has(property as keyof Store)
            ? (...args: unknown[]) => {
                this.clear();
                return Promise.resolve(value.apply(target, args)).finally(() => this.clear());
              }
            : value.bind(target);
          methods.set(property, method);
        }
        return method;
      },
    });
  }

  /** The cached account for this request, if fresh. */
  get(request: AccountRequest): ResolvedAccount | undefined {
    if (this.#ttlMs <= 0 || request.peek) return undefined;
    const key = keyOf(request);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const now = Date.now();
    const expiresAt = entry.account.credentials?.expiresAt;
    if (entry.until <= now || (expiresAt && Date.parse(expiresAt) - now < EXPIRY_MARGIN_MS)) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.account;
  }

  /** Call before reading the store; pass the result to `set()`. */
  generation(): number {
    return this.#generation;
  }

  /** Caches what a lookup that began at `generation` found, unless the store changed since. */
  set(request: AccountRequest, account: ResolvedAccount, generation: number): void {
    if (this.#ttlMs <= 0 || request.peek || account.accountId === null) return;
    if (generation !== this.#generation) return;
    const key = keyOf(request);
    this.#entries.delete(key);
    this.#entries.set(key, { account, until: Date.now() + this.#ttlMs });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  clear(): void {
    this.#generation++;
    this.#entries.clear();
  }
}

/** Who asks, for which toolkit, and what the session's config says about its accounts. */
function keyOf(request: AccountRequest): string {
  const toolkit = request.toolkit.slug;
  return JSON.stringify([
    request.userId,
    toolkit,
    request.connectedAccountId ?? null,
    request.account ?? null,
    request.selection?.connectedAccounts?.[toolkit] ?? null,
    request.selection?.authConfigs?.[toolkit] ?? null,
    request.selection?.multiAccount?.requireExplicitSelection ?? false,
  ]);
}
