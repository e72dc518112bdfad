import type { Sandbox } from './sandbox.js';

/**
 * One sandbox made ahead of need on a workbench worker, so that a session's first cell does not wait
 * for a new Wasm instance and context. The spare has run nothing but the prelude; it is given to one
 * new context only (never shared, never handed back), and only to one with the same `memoryMb` (its
 * Wasm memory maximum and heap limit are fixed when it is made). It is made when the worker has no
 * cell running, and made again after it was taken.
 */
export class SpareSandbox {
  readonly #create: (memoryMb: number) => Promise<Sandbox>;
  readonly #idle: () => boolean;
  #spare: { memoryMb: number; sandbox: Promise<Sandbox | undefined> } | undefined;
  /** The memoryMb of the next spare, once one is wanted. */
  #wanted: number | undefined;
  #scheduled = false;
  /** Spares made, and given to a new context (for tests). */
  made = 0;
  taken = 0;

  /**
   * `create` makes a sandbox; `idle` says whether no cell runs (a spare is made only then, so that
   * making it never delays a running cell's tool replies).
   */
  constructor(create: (memoryMb: number) => Promise<Sandbox>, idle: () => boolean) {
    this.#create = create;
    this.#idle = idle;
  }

  /**
   * The spare for a new context of `memoryMb` (waiting for it when it is being made), or undefined
   * when there is none of that size: the caller makes its own. Either way a spare of `memoryMb` is
   * wanted from now on.
   */
  async take(memoryMb: number): Promise<Sandbox | undefined> {
    const spare = this.#spare;
    if (spare?.memoryMb === memoryMb) this.#spare = undefined;
    this.want(memoryMb);
    if (!spare || spare.memoryMb !== memoryMb) return undefined;
    const sandbox = await spare.sandbox;
    if (!sandbox || sandbox.disposed) return undefined;
    this.taken++;
    return sandbox;
  }

  /** A spare of `memoryMb` is wanted: one of another size is dropped; a new one is made when idle. */
  want(memoryMb: number): void {
    this.#wanted = memoryMb;
    const spare = this.#spare;
    if (spare && spare.memoryMb !== memoryMb) {
      this.#spare = undefined;
      void spare.sandbox.then((sandbox) => sandbox?.dispose());
    }
    this.refill();
  }

  /** Makes the wanted spare on a later turn of the event loop if there is none and no cell runs. */
  refill(): void {
    if (this.#scheduled || this.#spare || this.#wanted === undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const memoryMb = this.#wanted;
      if (this.#spare || memoryMb === undefined || !this.#idle()) return;
      this.made++;
      this.#spare = {
        memoryMb,
        sandbox: this.#create(memoryMb).catch(() => undefined),
      };
    });
  }
}
