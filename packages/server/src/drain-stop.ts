import { drainStoppedWarning, stoppedByToolmux } from '@toolmux/core/internal';

/**
 * Per request a running server serves, its drain's end (see {@link DrainStop}), its response, and
 * once its signal was asked for (see {@link requestSignal}) what aborts that. A request the app is
 * handed otherwise (`server.fetch`, `server.app` mounted elsewhere) has none.
 */
const drainStops = new WeakMap<Request, Served>();

interface Served {
  drain: DrainStop;
  response: ClosingResponse;
  abort?: AbortController;
}

/** Node.js's response to a request (`ServerResponse`, `Http2ServerResponse`): 'close' once it is sent or cut. */
interface ClosingResponse {
  once(event: 'close', listener: () => void): unknown;
}

/**
 * The end of one running server's shutdown drain, as the work its requests still do sees it: once the
 * drain time has run out, the tool calls those requests wait for (and the calls workbench cells make
 * under them) are stopped by toolmux, with a reason that says the server was shutting down and how
 * long its drain was, before the connections are cut. Cut first, they ended with the adapter's abort
 * of each request ("Client connection prematurely closed.") and read "aborted by the caller", which
 * no caller did.
 *
 * It holds the signals of the requests being answered only (not one signal that each request's is
 * combined with: `AbortSignal.any()` of a signal that lives as long as the server keeps every signal
 * made from it, on Node.js versions this package runs on).
 */
export class DrainStop {
  /** The signals asked for of the requests whose responses are not sent yet, each aborted by the drain's end. */
  readonly #open = new Set<AbortController>();
  /** The tool calls its end stopped (those made under them, by workbench cells, included). */
  readonly #tally = { stopped: 0 };
  #ended: { setting: string; ms: number; reason: object } | undefined;

  /**
   * `request` is served by this server, answered with `response`: what runs under its signal stops
   * when the drain ends, until the response is sent (a stream of MCP progress included) or cut (see
   * {@link requestSignal}).
   */
  serves(request: Request, response: ClosingResponse): void {
    drainStops.set(request, { drain: this, response });
  }

  /** The signal of `request`, one of this server's: aborted by its client's abort or by the drain's end. */
  signalOf(request: Request, served: Served): AbortSignal {
    if (served.abort !== undefined) return served.abort.signal;
    const abort = new AbortController();
    served.abort = abort;
    const { response } = served;
    const own = request.signal;
    if (own.aborted) abort.abort(own.reason);
    else if (this.#ended !== undefined) abort.abort(this.#ended.reason);
    else {
      own.addEventListener('abort', () => abort.abort(own.reason), { once: true });
      this.#open.add(abort);
      response.once('close', () => this.#open.delete(abort));
    }
    return abort.signal;
  }

  /**
   * The drain (`setting`, the option its time came from, and `ms`, that time) ran out with requests
   * still open: what they run is stopped now, saying so.
   */
  end(setting: string, ms: number): void {
    if (this.#ended !== undefined) return;
    const because = `the server was shutting down and its drain time (${setting}: ${ms} ms) ran out before the call finished; give ${setting} more time if calls should finish`;
    const reason = stoppedByToolmux(
      Object.freeze({ name: 'AbortError', message: `The server stopped the call because ${because}.` }),
      because,
      this.#tally,
    );
    this.#ended = { setting, ms, reason };
    const open = [...this.#open];
    this.#open.clear();
    for (const abort of open) abort.abort(reason);
  }

  /**
   * The warning naming the tool calls the drain's end stopped and the setting to raise, once they
   * have ended; undefined when it stopped none.
   */
  stoppedWarning(): string | undefined {
    const ended = this.#ended;
    return ended === undefined || this.#tally.stopped === 0
      ? undefined
      : drainStoppedWarning(this.#tally.stopped, ended);
  }
}

/**
 * The abort signal the work of `request` runs under: aborted when its client goes away (the request's
 * own signal, the caller's abort), or when its server's shutdown drain ends first (toolmux's stop,
 * see {@link DrainStop}), whichever comes first.
 */
export function requestSignal(request: Request): AbortSignal {
  const served = drainStops.get(request);
  return served === undefined ? request.signal : served.drain.signalOf(request, served);
}
