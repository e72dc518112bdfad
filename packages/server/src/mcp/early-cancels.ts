/**
 * Cancellations that named no running call yet (a client sends `notifications/cancelled` right after
 * the call, and the two requests race), kept for a while so that the call, when it arrives, is not
 * run. Bounded so that no client can push out other clients' cancellations by sending many of its own:
 *
 * - one MCP connection (a toolmux session's `Mcp-Session-Id`) keeps at most `perConnection`: past it,
 *   its own oldest is forgotten;
 * - one toolmux session keeps at most `perSession` over its connections: past it, the oldest of the
 *   connection that sent none for longest is forgotten;
 * - all sessions keep at most `total`: past it, the oldest of the session that sent none for longest
 *   is forgotten. A session's own bound being far below it, one session alone never reaches it.
 *
 * Each is forgotten `ttlMs` after it arrived (when looked up, or pushed out by a newer one).
 */
export interface EarlyCancelLimits {
  ttlMs: number;
  perConnection: number;
  perSession: number;
  total: number;
}

/** A connection's cancellations: request key → when it is forgotten, oldest first. */
type ConnectionCancels = Map<string, number>;

interface SessionCancels {
  /** By connection, the one that sent none for longest first. */
  connections: Map<string, ConnectionCancels>;
  size: number;
}

export class EarlyCancels {
  readonly #limits: EarlyCancelLimits;
  /** By toolmux session, the one that sent none for longest first. */
  readonly #sessions = new Map<string, SessionCancels>();
  #size = 0;

  constructor(limits: EarlyCancelLimits) {
    this.#limits = limits;
  }

  /** How many cancellations are kept (expired ones not yet dropped included). */
  get size(): number {
    return this.#size;
  }

  /** Remembers that `request` of `connection` of `session` was cancelled before it arrived. */
  remember(session: string, connection: string, request: string, now = Date.now()): void {
    let cancels = this.#sessions.get(session);
    if (cancels)
      this.#sessions.delete(session); // set again below: now the most recent
    else cancels = { connections: new Map(), size: 0 };
    this.#sessions.set(session, cancels);
    let mine = cancels.connections.get(connection);
    if (mine) cancels.connections.delete(connection);
    else mine = new Map();
    cancels.connections.set(connection, mine);
    if (!mine.delete(request)) {
      cancels.size++;
      this.#size++;
    }
    mine.set(request, now + this.#limits.ttlMs);
    // its own expired ones first, then its own oldest past its bound
    for (const [oldest, expires] of mine) {
      if (expires > now && mine.size <= this.#limits.perConnection) break;
      this.#forget(session, cancels, connection, mine, oldest);
    }
    while (cancels.size > this.#limits.perSession) this.#forgetOldest(session, cancels);
    while (this.#size > this.#limits.total) {
      const [least, itsCancels] = this.#sessions.entries().next().value!;
      this.#forgetOldest(least, itsCancels);
    }
  }

  /** Whether `request` was cancelled before it arrived (and not expired); forgets that cancellation. */
  take(session: string, connection: string, request: string, now = Date.now()): boolean {
    const cancels = this.#sessions.get(session);
    const mine = cancels?.connections.get(connection);
    const expires = mine?.get(request);
    if (expires === undefined) return false;
    this.#forget(session, cancels!, connection, mine!, request);
    return expires > now;
  }

  /** Forgets the oldest cancellation of the session's connection that sent none for longest. */
  #forgetOldest(session: string, cancels: SessionCancels): void {
    const [connection, least] = cancels.connections.entries().next().value!;
    this.#forget(session, cancels, connection, least, least.keys().next().value!);
  }

  #forget(
    session: string,
    cancels: SessionCancels,
    connection: string,
    its: ConnectionCancels,
    request: string,
  ): void {
    its.delete(request);
    if (its.size === 0) cancels.connections.delete(connection);
    cancels.size--;
    this.#size--;
    if (cancels.size === 0) this.#sessions.delete(session);
  }
}
