import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The longest the server goes on reading (and dropping) a request's body after it answered before
 * the body arrived (ms): a 413 on a declared length over the limit, a 401 or a 415 that need none of
 * it. As long as Apache's lingering close.
 */
export const LINGER_MS = 30_000;

/** The longest it waits for more of such a body before it closes the connection (ms). */
export const LINGER_IDLE_MS = 2_000;

/**
 * Closes a connection whose request was answered before its body arrived the way a client can read
 * the answer: the answer says `Connection: close`, the connection's sending half is closed after it,
 * and what the client still sends is read and dropped until it has sent it all (or closes, or
 * sends nothing for {@link LINGER_IDLE_MS}, or {@link LINGER_MS} went by); only then is the
 * connection closed. Closed at once, a connection with bytes unread makes the system answer the
 * client's next ones with a reset, and a client that sends the whole body before it reads the answer
 * (as Python's `requests` does), or that is on a slow link, gets `EPIPE` or `ECONNRESET` instead of
 * the 413: `@hono/node-server` reads such a body for at most 500 ms and 64 MB before it closes the
 * connection, and a body of 2 MB sent over a second never saw its answer.
 */
export class LingeringClose {
  readonly #sockets = new Set<Socket>();
  /** The server is closing: no connection lingers. */
  #closed = false;

  /**
   * Called with a request's answer before it is written: when its body has not all arrived, the
   * answer closes the connection and the connection lingers after it.
   */
  prepare(incoming: unknown, outgoing: unknown): void {
    if (!(incoming instanceof IncomingMessage) || !(outgoing instanceof ServerResponse)) return;
    // no body (GET, an empty POST) or all of it here: the connection can be kept
    if (incoming.complete || outgoing.headersSent) return;
    const socket = incoming.socket as Socket | null;
    if (!socket || socket.destroyed) return;
    outgoing.shouldKeepAlive = false;
    // Node.js closes a connection whose answer says `Connection: close` with `destroySoon()` once
    // the answer is written (and `@hono/node-server` after its own short drain): here it lingers
    let lingering = false;
    socket.destroySoon = () => {
      if (lingering) return;
      lingering = true;
      this.#linger(socket, incoming);
    };
  }

  /** Closes the connections that linger, and any that would from now on: the server is closing. */
  closeAll(): void {
    this.#closed = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  #linger(socket: Socket, incoming: IncomingMessage): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    const stop = () => {
      clearTimeout(total);
      clearInterval(watch);
      incoming.off('end', stop);
      socket.off('close', stop);
      socket.off('end', stop);
      this.#sockets.delete(socket);
      socket.destroy();
    };
    const total = setTimeout(stop, LINGER_MS).unref();
    // The client's progress is what the connection read, not the request's `data` events: Node.js
    // dumps the body of a request nobody read once its answer is sent (the parser then drops it
    // without a `data` event), so that an idle wait refreshed by `data` ended a body still arriving
    // {@link LINGER_IDLE_MS} after the answer, however fast it came.
    let read = socket.bytesRead;
    let quietSince = performance.now();
    const watch = setInterval(() => {
      if (socket.bytesRead !== read) {
        read = socket.bytesRead;
        quietSince = performance.now();
      } else if (performance.now() - quietSince >= LINGER_IDLE_MS) stop();
    }, LINGER_IDLE_MS / 8).unref();
    // the answer is sent: the client reads it and the end of the connection
    socket.end();
    // the body is dropped as it comes: whatever was reading it (a request body stream the handler
    // gave up on) would otherwise keep it, or hold the connection still
    incoming.removeAllListeners('data');
    // all of it arrived: nothing is left unread, the connection can go
    incoming.once('end', stop);
    socket.once('end', stop);
    socket.once('close', stop);
    incoming.resume();
  }
}
