import {
  type Provider,
  type Session,
  type Store,
  type ToolMux,
  ToolMuxError,
  type ToolSpec,
} from '@toolmux/core';
import {
  checkSessionToken,
  exposedToolSpecs,
  onSessionUpdated,
  openToolMuxStore,
} from '@toolmux/core/internal';

/** A resumed session and what the server derives from it once. */
export class CachedSession {
  readonly session: Session<unknown>;
  readonly expiresAt: number;
  /**
   * The token hash the store held when the session was resumed: a different one later means the
   * token was rotated (or the session deleted) elsewhere.
   */
  readonly storedTokenHash: string | undefined;
  #specs: ToolSpec[] | undefined;

  constructor(session: Session<unknown>, expiresAt: number, storedTokenHash: string | undefined) {
    this.session = session;
    this.expiresAt = expiresAt;
    this.storedTokenHash = storedTokenHash;
  }

  /** The session's exposed tools, computed once per cache entry. */
  specs(): ToolSpec[] {
    this.#specs ??= exposedToolSpecs(this.session);
    return this.#specs;
  }
}

/** A session known to exist (see `SessionCache.checkReadable`). */
interface ReadableEntry {
  /** Until when (ms since the epoch) the existence read from the store stands. */
  until: number;
  /** From when a read renews it in the background. */
  renewAt: number;
  renewing: Promise<void> | undefined;
}

/** How long a resumed session is reused unless `createServer`'s `sessionCacheTtlMs` says. */
export const DEFAULT_SESSION_CACHE_TTL_MS = 2000;
/**
 * Expired entries are dropped by a timer at most this long after they expired (and at most half the
 * TTL), many at a time, not only when their id is looked up again.
 */
const SWEEP_DELAY_MS = 1000;

export interface SessionCacheOptions {
  toolmux: ToolMux<Provider<unknown>>;
  /**
   * How long a resumed session is reused before it is resumed from the store again. Another
   * instance's `update()` becomes visible here after at most this long (an update made in this
   * process through `toolmux`, over REST or by the application's own `session.update()`,
   * invalidates at once); a deletion or a token rotation shows at once on every instance.
   * `0` resumes the session on every request. @default 2000
   */
  ttlMs?: number;
  /**
   * At most this many sessions are kept; the oldest goes first. Only sessions that were found take a
   * place: lookups under way, and ids that name no session, never push one out. @default 10_000
   */
  maxEntries?: number;
  /** Called with each session resumed (the server's connection-wait scope adopts it). */
  onResume?: (session: Session<unknown>) => void;
}

/**
 * Resumed sessions by id, for a few seconds, so that MCP and REST calls do not resume a session
 * (read and parse its config, rebuild its tools) every time. Concurrent lookups of one id share one
 * `use()`. A cache hit still reads the session's stored token (one primary-key lookup): a session
 * deleted, or a token rotated, on another instance shows here at once. Only callers that proved
 * their right to the session (the project API key, or the session's token, checked by `authorize`
 * before anything is resumed) add entries. Nothing here is needed by another instance: it only
 * saves work, and every entry expires: a timer drops expired entries (oldest first: with one TTL for
 * all, the maps' insertion order is the order they expire in), so a session that is not asked for
 * again is not held (a session with a large set of custom tools holds a megabyte with its MCP view,
 * and 1,100 of them, touched once each, ended a server with a 1 GB heap).
 */
export class SessionCache {
  readonly #toolmux: ToolMux<Provider<unknown>>;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #onResume: ((session: Session<unknown>) => void) | undefined;
  /** Resumed sessions, oldest first (at most `maxEntries`). */
  readonly #entries = new Map<string, CachedSession>();
  /**
   * Resumes under way, which concurrent lookups of the id share. Apart from `#entries`: a lookup of
   * an id that turns out to name no session (a flood of made-up ids) takes no place of a real session.
   * At most `maxEntries`; past that, a lookup resumes on its own.
   */
  readonly #loading = new Map<string, Promise<CachedSession>>();
  /** Sessions known to exist, for reads that need nothing else (see `checkReadable`), oldest first. */
  readonly #readable = new Map<string, ReadableEntry>();
  /** First existence reads under way (shared like `#loading`, and apart from `#readable` likewise). */
  readonly #readablePending = new Map<string, Promise<void>>();
  #store: Promise<Store> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  /**
   * The unsubscribe of the ToolMux's update listener, held only while the cache holds something (an
   * entry, or a lookup under way): the listener (and with it this cache and every session in it) is
   * the ToolMux's to keep, and a server closed, or never asked for a session, left it there for as
   * long as the ToolMux lived, one per server created on it.
   */
  #unsubscribe: (() => void) | undefined;

  constructor({
    toolmux,
    ttlMs = DEFAULT_SESSION_CACHE_TTL_MS,
    maxEntries = 10_000,
    onResume,
  }: SessionCacheOptions) {
    this.#toolmux = toolmux;
    this.#onResume = onResume;
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  /**
   * Listens for updates made in this process (MCP's tools/list follows one at once, as tools/call
   * does) from before something is kept until the cache is empty again: called before each entry,
   * or lookup under way, is put in a map.
   */
  #listen(): void {
    this.#unsubscribe ??= onSessionUpdated(this.#toolmux, (sessionId) => this.invalidate(sessionId));
  }

  /** Stops listening when the cache holds nothing any more (see `#unsubscribe`). */
  #releaseWhenEmpty(): void {
    if (this.#entries.size + this.#loading.size + this.#readable.size + this.#readablePending.size > 0) {
      return;
    }
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  /**
   * Forgets every session and stops listening to the ToolMux (the server stopped serving); the
   * cache fills again, and listens again, when it is asked for a session.
   */
  clear(): void {
    this.#entries.clear();
    this.#loading.clear();
    this.#readable.clear();
    this.#readablePending.clear();
    this.#releaseWhenEmpty();
  }

  /** The session, resumed with `use()` at most `ttlMs` ago. Throws `SESSION_NOT_FOUND` like `use()`. */
  async get(sessionId: string): Promise<CachedSession> {
    const entry = this.#entries.get(sessionId);
    if (entry) {
      if (entry.expiresAt > Date.now() && (await this.#current(sessionId, entry))) return entry;
      if (this.#entries.get(sessionId) === entry) this.#entries.delete(sessionId);
      return this.get(sessionId);
    }
    const pending = this.#loading.get(sessionId);
    if (pending) return pending;
    const loading = Promise.all([this.#toolmux.use(sessionId), this.#storedTokenHash(sessionId)]).then(
      ([session, stored]) => this.#cached(session as Session<unknown>, stored),
    );
    this.#remember(sessionId, loading);
    return loading;
  }

  /**
   * Shares a resume under way with concurrent lookups of the id, and keeps the session it finds for
   * `ttlMs` (not at all with 0), the oldest entry going first. A resume that fails (an unknown id)
   * leaves nothing behind and pushes nothing out.
   */
  #remember(sessionId: string, loading: Promise<CachedSession>): void {
    if (this.#ttlMs <= 0 || this.#loading.has(sessionId) || this.#loading.size >= this.#maxEntries) {
      loading.catch(() => undefined);
      return;
    }
    this.#listen();
    this.#loading.set(sessionId, loading);
    loading.then(
      (entry) => {
        // invalidated meanwhile: what was resumed before the change is not kept
        if (this.#loading.get(sessionId) !== loading) {
          this.#releaseWhenEmpty();
          return;
        }
        this.#loading.delete(sessionId);
        this.#entries.delete(sessionId);
        this.#entries.set(sessionId, entry);
        evictOldest(this.#entries, this.#maxEntries);
        this.#sweepLater();
      },
      () => {
        if (this.#loading.get(sessionId) === loading) this.#loading.delete(sessionId);
        this.#releaseWhenEmpty();
      },
    );
  }

  /**
   * Checks that a session exists, for a read that the project API key authorizes and that needs
   * nothing of the session but its id (a session's execution log): the session is not resumed. Its
   * existence, once read from the store (one primary-key lookup), stands for at most `ttlMs`, and is
   * read again in the background before then (at a random point past half of it, so that sessions
   * first read together are not checked together), so a steady reader never waits for the check:
   * a page costs one query. A deletion on another instance shows here after at most `ttlMs`; this
   * instance's own deletions at once (`invalidate`). An unknown session (or a malformed id) throws
   * what `use()` throws, `SESSION_NOT_FOUND`.
   */
  async checkReadable(sessionId: string): Promise<void> {
    const known = this.#readable.get(sessionId);
    const now = Date.now();
    if (known !== undefined && known.until > now) {
      if (now >= known.renewAt && known.renewing === undefined) {
        known.renewing = this.#readExistence(sessionId).then(
          (entry) => {
            // deleted meanwhile (invalidate() dropped `known`): that drop stands
            if (this.#readable.get(sessionId) !== known) return;
            // moved to the end: the map stays in the order its entries expire in
            this.#readable.delete(sessionId);
            if (entry) this.#readable.set(sessionId, entry);
            else this.#releaseWhenEmpty();
          },
          () => {
            // the store did not answer: the entry stands until `until`, and the next read after that
            // asks again (and gets the error)
          },
        );
      }
      return;
    }
    if (known !== undefined) this.#readable.delete(sessionId);
    const pending = this.#readablePending.get(sessionId);
    if (pending) return pending;
    const reading: Promise<void> = this.#readExistence(sessionId).then(
      async (entry) => {
        // not the current read any more: invalidated meanwhile, so what it read is not kept
        const current = this.#readablePending.get(sessionId) === reading;
        if (current) this.#readablePending.delete(sessionId);
        if (entry === undefined) {
          // unknown: use() answers with the error of an unknown session (or of a malformed id); a
          // session created meanwhile is then readable after all. Nothing is kept for the id.
          await this.get(sessionId);
          return;
        }
        if (current && this.#ttlMs > 0) {
          this.#listen();
          this.#readable.delete(sessionId);
          this.#readable.set(sessionId, entry);
          evictOldest(this.#readable, this.#maxEntries);
          this.#sweepLater();
        } else this.#releaseWhenEmpty();
      },
      (error: unknown) => {
        if (this.#readablePending.get(sessionId) === reading) this.#readablePending.delete(sessionId);
        this.#releaseWhenEmpty();
        throw error;
      },
    );
    // concurrent first reads share this one (past `maxEntries` of them, each reads on its own)
    if (this.#readablePending.size < this.#maxEntries) {
      this.#listen();
      this.#readablePending.set(sessionId, reading);
    }
    return reading;
  }

  /** The session's existence read from the store now: an entry good for `ttlMs`, or undefined. */
  async #readExistence(sessionId: string): Promise<ReadableEntry | undefined> {
    const asked = Date.now();
    if ((await this.#storedTokenHash(sessionId)) === undefined) return undefined;
    return {
      until: asked + this.#ttlMs,
      renewAt: asked + this.#ttlMs * (0.5 + Math.random() / 4),
      renewing: undefined,
    };
  }

  /**
   * The session if `token` (the credentials of `Authorization: Bearer <token>`) is its current MCP
   * token, else undefined.
   * The token is checked first, against the session's stored token version (one primary-key read,
   * and none for a token that cannot be a session token), in constant time: a wrong token costs that
   * read whether the session exists or not, and resumes, builds and caches nothing. Only then is the
   * session taken from the cache (when the entry has the token hash just read: a token rotated away,
   * or the token of a session deleted, on any instance is refused at once) or resumed. Throws
   * `SESSION_NOT_FOUND` for the token of a session that no longer exists (and for no other token).
   */
  async authorize(sessionId: string, token: string): Promise<CachedSession | undefined> {
    const check = await checkSessionToken(this.#toolmux, sessionId, token);
    if (check.status === 'invalid') return undefined;
    if (check.status === 'unknown') {
      throw new ToolMuxError({ code: 'SESSION_NOT_FOUND', message: `No session "${sessionId}".` });
    }
    return this.#authorized(sessionId, check.tokenHash);
  }

  /**
   * The session for a caller whose token was checked against `storedTokenHash`: the cached entry
   * when it was resumed under that hash, else resumed now (concurrent callers share one `use()`).
   */
  async #authorized(sessionId: string, storedTokenHash: string): Promise<CachedSession> {
    const entry = this.#entries.get(sessionId);
    if (entry) {
      if (entry.expiresAt > Date.now() && entry.storedTokenHash === storedTokenHash) return entry;
      if (this.#entries.get(sessionId) === entry) this.#entries.delete(sessionId);
    }
    const pending = this.#loading.get(sessionId);
    if (pending) {
      const loaded = await pending.catch(() => undefined);
      if (loaded && loaded.expiresAt > Date.now() && loaded.storedTokenHash === storedTokenHash)
        return loaded;
    }
    const loading = this.#toolmux
      .use(sessionId)
      .then((session) => this.#cached(session as Session<unknown>, storedTokenHash));
    this.#remember(sessionId, loading);
    return loading;
  }

  /** A session resumed now, as an entry good for `ttlMs`. */
  #cached(session: Session<unknown>, storedTokenHash: string | undefined): CachedSession {
    this.#onResume?.(session);
    return new CachedSession(session, Date.now() + this.#ttlMs, storedTokenHash);
  }

  /**
   * Whether a cached entry still stands in the store: the session exists and has the entry's token.
   * False sends the caller to `use()`, which answers `SESSION_NOT_FOUND` for a deleted session.
   */
  async #current(sessionId: string, entry: CachedSession): Promise<boolean> {
    const stored = await this.#storedTokenHash(sessionId);
    return stored !== undefined && stored === entry.storedTokenHash;
  }

  async #storedTokenHash(sessionId: string): Promise<string | undefined> {
    this.#store ??= openToolMuxStore(this.#toolmux);
    return (await this.#store).getSessionTokenHash(sessionId);
  }

  /** How many sessions the cache holds (resumed, and known to exist). */
  get size(): { sessions: number; readable: number } {
    return { sessions: this.#entries.size, readable: this.#readable.size };
  }

  /**
   * Drops the expired entries at the front of both maps (the oldest), and waits for the next ones.
   * Entries come in the order they expire in (one TTL; a renewed one is moved to the end), so each
   * entry is looked at once or stops the loop.
   */
  #sweep(): void {
    this.#sweepTimer = undefined;
    const now = Date.now();
    for (const [sessionId, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#entries.delete(sessionId);
    }
    for (const [sessionId, entry] of this.#readable) {
      if (entry.until > now) break;
      this.#readable.delete(sessionId);
    }
    this.#sweepLater();
    this.#releaseWhenEmpty();
  }

  /** A sweep shortly after the oldest entry expires, unless one is set (it does not keep the process up). */
  #sweepLater(): void {
    if (this.#sweepTimer !== undefined) return;
    const session = this.#entries.values().next().value;
    const readable = this.#readable.values().next().value;
    const next = Math.min(
      session?.expiresAt ?? Number.POSITIVE_INFINITY,
      readable?.until ?? Number.POSITIVE_INFINITY,
    );
    if (next === Number.POSITIVE_INFINITY) return;
    const delay = Math.max(0, next - Date.now()) + Math.min(SWEEP_DELAY_MS, this.#ttlMs / 2);
    this.#sweepTimer = setTimeout(() => this.#sweep(), delay);
    this.#sweepTimer.unref();
  }

  /** Forgets a session (after this instance changed it). */
  invalidate(sessionId: string): void {
    this.#entries.delete(sessionId);
    this.#loading.delete(sessionId);
    this.#readable.delete(sessionId);
    this.#readablePending.delete(sessionId);
    this.#releaseWhenEmpty();
  }
}

/** Drops the oldest entries of a map kept in insertion order until it holds at most `max`. */
function evictOldest(entries: Map<string, unknown>, max: number): void {
  while (entries.size > max) {
    const oldest = entries.keys().next().value;
    if (oldest === undefined) return;
    entries.delete(oldest);
  }
}
