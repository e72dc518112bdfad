import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import quickJSEmscriptenModule from '@jitl/quickjs-wasmfile-release-sync/emscripten-module';
import { QuickJSFFI } from '@jitl/quickjs-wasmfile-release-sync/ffi';
import {
  type EmscriptenModuleLoader,
  type QuickJSContext,
  type QuickJSEmscriptenModule,
  type QuickJSHandle,
  QuickJSWASMModule,
} from 'quickjs-emscripten-core';
import { SESSION_CONFIG_BOUNDS } from '../config/session-config.js';
import { quotedMessage, ToolMuxError } from '../errors.js';
import { stoppedByToolmux } from '../util/abort.js';
import {
  jsonTextSliced,
  NOT_SMALL,
  parseJsonSliced,
  SLICED_PARSE_FROM,
  smallJsonText,
} from '../util/json-slices.js';
import { WorkSlice } from '../util/slices.js';
import { leadingText } from '../util/stored-text.js';

/** The Emscripten loader of the synchronous QuickJS build (host calls return promises; no asyncify). */
const loadQuickJSEmscripten =
  quickJSEmscriptenModule as unknown as EmscriptenModuleLoader<QuickJSEmscriptenModule>;

/** The error codes a cell can end with. */
export type CellErrorCode =
  | 'WORKBENCH_TIMEOUT'
  | 'WORKBENCH_MEMORY_LIMIT'
  | 'WORKBENCH_OUTPUT_LIMIT'
  | 'WORKBENCH_TOOL_CALL_LIMIT'
  | 'WORKBENCH_CODE_ERROR'
  | 'WORKBENCH_WORKER_RESTARTED'
  | 'WORKBENCH_CONTEXT_DROPPED';

/** What one cell returns: the value of its `return`, its `console.log` lines, and how it failed. */
export interface CellResult {
  result: unknown;
  logs: string[];
  error?: { code: CellErrorCode; message: string };
}

/** The limits of one cell. */
export interface CellLimits {
  /** Wall time of the cell, tool calls included. */
  timeoutMs: number;
  /** Characters of `result` (as JSON) plus logs. */
  maxOutputChars: number;
  /** `toolmux.*` calls per cell. */
  maxToolCalls: number;
  /** Aborted when the cell ends (limit or done): pass it to the tool calls. */
  signal?: AbortSignal;
  /** When the cell's wall time ends (epoch ms); `Date.now() + timeoutMs` when absent. */
  deadline?: number;
  /**
   * Asked with the interrupt handler while the cell runs: `true` stops its code at once, and the
   * cell ends with WORKBENCH_CONTEXT_DROPPED (a worker's cell whose context the main thread dropped).
   */
  dropped?: () => boolean;
}

/** The host side of `toolmux.*`: an operation name and JSON arguments in, a JSON-serialisable value out. */
export type SandboxHostCall = (operation: string, args: unknown, signal: AbortSignal) => Promise<unknown>;

/**
 * The host side of `toolmux.*` without promises: `call` gets the arguments as the sandbox's text
 * (JSON, or for `EXECUTE_SLUG_FIRST` the slug's length, a tab, the slug and its arguments' JSON),
 * and `done` is called (at once or later, on this thread) with the reply text (see `REPLY_ERROR`).
 * A worker uses it to pass text through; `callHost` reads it.
 * `flush`, when given, is called once the calls the code made in one go were handed to `call`,
 * before the sandbox waits for their replies (a worker sends them as one message).
 */
export interface SandboxRawHost {
  call(operation: string, argsJson: string, done: (replyJson: string) => void): void;
  flush?(): void;
}

/**
 * The operation of `toolmux.execute(slug, args)` with a string slug and no options: its text is the
 * slug's length, a tab, the slug and the arguments' JSON (`callHost` gives the host `execute` with
 * `{ slug, args }`), so the engine writes, and the host reads, no JSON object around the arguments.
 */
export const EXECUTE_SLUG_FIRST = 'x';

/** What a sandbox tells the thread it runs on: when it computes, and whether to stop early. */
export interface SandboxMonitor {
  /** Code of this sandbox starts running synchronously. */
  enter(): void;
  /** It stopped (returned, or awaits a host call). */
  leave(): void;
  /** Called often while code runs; `true` stops the cell now (ends as WORKBENCH_TIMEOUT). */
  preempt(): boolean;
}

/** What a cell stopped for computing too long while other sessions waited for a worker is told. */
const PREEMPTED =
  'The code computed without pause for too long while every workbench worker was busy and other sessions were waiting, and was stopped; globalThis was reset (toolmux.files are kept). Do less per cell.';

/** Why a cell's context was dropped while it ran, by the error it ended with (see `contextDropped`). */
const droppedBecause = new WeakMap<object, string>();

/**
 * Why the calls a cell left running were stopped when it ended (`error`: how it ended, none when its
 * code returned; `timeoutMs`: its limit), as words that follow "because", with what to do where that
 * helps (see `stoppedByToolmux`): their caller did not abort them, the cell's end did.
 */
function cellEndedBecause(error: CellResult['error'], timeoutMs: number): string {
  const cell = 'the workbench cell it was called from';
  if (error === undefined)
    return `${cell} returned without awaiting it; await the call (or Promise.all of the calls) before the cell returns`;
  const dropped = droppedBecause.get(error);
  if (dropped !== undefined) return `${cell} was stopped (${dropped})`;
  switch (error.code) {
    case 'WORKBENCH_CODE_ERROR':
      return `${cell} ended with an error (WORKBENCH_CODE_ERROR) without awaiting it; await every call before the cell ends (Promise.allSettled waits for them all, where Promise.all stops waiting at the first failure)`;
    case 'WORKBENCH_TIMEOUT':
      return error.message === PREEMPTED
        ? `${cell} computed without pause for too long while every workbench worker was busy and was stopped (WORKBENCH_TIMEOUT); do less per cell`
        : `${cell} ran past its timeoutMs of ${timeoutMs} ms (WORKBENCH_TIMEOUT); raise workbench.timeoutMs or do less per cell`;
    default:
      return `${cell} ended with ${error.code}`;
  }
}

/**
 * The engine's memory is at its maximum (its Wasm memory, or QuickJS's heap limit): a value the
 * host hands in, or text it reads out (the calls the code queued, its returned value), cannot be
 * made there. The engine is dropped and its cell ends as WORKBENCH_MEMORY_LIMIT.
 */
export class EngineMemoryFull extends Error {
  /** `advice`: what to do instead of the general advice (keep less, fewer calls at once). */
  constructor(what: string, advice?: string) {
    super(
      `The engine had no memory left ${what}: ${advice ?? 'keep less in globalThis, and pass or read megabytes in fewer calls at once (await each large one)'}.`,
    );
  }
}

/**
 * A reply (a tool's result, a file read back) that takes more than this share of the engine's memory
 * limit as text cannot be taken in whatever the code keeps: its UTF-8 copy, the engine's string and
 * the value made of it each need about as much again.
 */
const REPLY_SHARE_OF_MEMORY = 1 / 4;

/** Failures the host raises with a code the sandbox code can read as `error.code`. */
export class SandboxCallError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const WASM_PAGE = 65_536;
/** The QuickJS build declares 16 MB of initial Wasm memory. */
const INITIAL_PAGES = 256;
/** Heap a new context gets beyond the build's data and stack before its memory first grows. */
const HEAP_HEADROOM = 512 * 1024;

/** The QuickJS Wasm module as this process uses it: compiled once, instantiated once per sandbox. */
interface Engine {
  module: WebAssembly.Module;
  /** Pages a sandbox's memory starts with. */
  initialPages: number;
}

let engine: Promise<Engine> | undefined;

/** The QuickJS Wasm module, compiled once per process (with its smallest workable initial memory). */
function quickJSEngine(): Promise<Engine> {
  engine ??= (async () => {
    const path = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    const bytes = new Uint8Array(await readFile(path));
    const smaller = withSmallerInitialMemory(bytes);
    return {
      module: await WebAssembly.compile(smaller?.bytes ?? bytes),
      initialPages: smaller?.pages ?? INITIAL_PAGES,
    };
  })();
  return engine;
}

/**
 * The build asks for 16 MB of initial memory, of which it uses its data, its C stack (about 5 MB,
 * mostly never touched) and a few hundred KB for a new context. V8 counts a memory's whole size as
 * external memory and runs a full garbage collection every ~64 MB of it, so 16 MB per sandbox meant
 * one full collection every four sandboxes. This returns the module with its memory import's minimum
 * lowered to the end of its stack and data plus `HEAP_HEADROOM` (the memory grows as the heap needs), or
 * undefined when the binary is not laid out as expected (then the declared minimum is kept).
 * The minimum's LEB128 keeps its byte length (a padded encoding), so no section size changes.
 */
export function withSmallerInitialMemory(
  bytes: Uint8Array<ArrayBuffer>,
): { bytes: Uint8Array<ArrayBuffer>; pages: number } | undefined {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || magic.some((byte, index) => bytes[index] !== byte)) return undefined;
  let at = 8;
  const u32 = (): number => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = bytes[at++];
      if (byte === undefined) throw new RangeError('truncated');
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new RangeError('LEB128 too long');
  };
  const skipName = () => {
    const length = u32();
    at += length;
  };
  try {
    let minimum: { at: number; length: number; value: number } | undefined;
    let stackTop = 0;
    let dataEnd = 0;
    while (at < bytes.length) {
      const id = bytes[at++];
      const size = u32();
      const end = at + size;
      if (id === 2) {
        // Imports: module and field names, then a kind and its description.
        for (let count = u32(); count > 0; count--) {
          skipName();
          skipName();
          const kind = bytes[at++];
          if (kind === 0) u32();
          else if (kind === 1) {
            at++;
            const flags = u32();
            u32();
            if (flags & 1) u32();
          } else if (kind === 2) {
            const flags = u32();
            if (flags !== 0 && flags !== 1) return undefined; // shared or 64-bit: leave it alone
            const start = at;
            const value = u32();
            minimum = { at: start, length: at - start, value };
            if (flags & 1) u32();
          } else if (kind === 3) at += 2;
          else return undefined;
        }
      } else if (id === 6) {
        // Globals: the C stack pointer is the mutable i32 that starts highest (the stack's top).
        for (let count = u32(); count > 0; count--) {
          const type = bytes[at++];
          const mutable = bytes[at++];
          const opcode = bytes[at++];
          if (type !== 0x7f || opcode !== 0x41) return undefined;
          let value = 0;
          let shift = 0;
          let byte: number;
          do {
            byte = bytes[at++] ?? 0;
            value |= (byte & 0x7f) << shift;
            shift += 7;
          } while (byte & 0x80);
          if (shift < 32 && byte & 0x40) value |= -1 << shift;
          if (bytes[at++] !== 0x0b) return undefined;
          if (mutable === 1 && value > stackTop) stackTop = value;
        }
      } else if (id === 11) {
        // Data: the memory must also hold every active segment (placed at a constant offset).
        for (let count = u32(); count > 0; count--) {
          const flags = u32();
          if (flags === 1) {
            at += u32();
            continue;
          }
          if (flags === 2) u32();
          else if (flags !== 0) return undefined;
          if (bytes[at++] !== 0x41) return undefined;
          const offset = u32();
          if (bytes[at++] !== 0x0b) return undefined;
          const length = u32();
          at += length;
          dataEnd = Math.max(dataEnd, offset + length);
        }
      }
      at = end;
    }
    if (!minimum || stackTop <= 0) return undefined;
    const pages = Math.ceil((Math.max(stackTop, dataEnd) + HEAP_HEADROOM) / WASM_PAGE);
    if (pages >= minimum.value || pages >= 2 ** (7 * minimum.length)) return undefined;
    const patched = bytes.slice();
    for (let index = 0; index < minimum.length; index++) {
      const last = index === minimum.length - 1;
      patched[minimum.at + index] = ((pages >> (7 * index)) & 0x7f) | (last ? 0 : 0x80);
    }
    return { bytes: patched, pages };
  } catch {
    return undefined;
  }
}

/**
 * JavaScript Promise Integration (WebAssembly.Suspending / WebAssembly.promising, on by default from
 * Node 24): a Wasm computation can wait for a promise in the middle of its stack, which lets a cell
 * that computes for long give the event loop its turns (see `SandboxSlicer`).
 */
interface Jspi {
  Suspending: new (fn: (...args: never[]) => unknown) => object;
  promising: (fn: unknown) => (...args: number[]) => Promise<number>;
}
const jspi = WebAssembly as unknown as Partial<Jspi>;

/** Whether this process can suspend a running cell (JSPI); `TOOLMUX_WORKBENCH_JSPI=0` turns it off. */
export const SANDBOX_SLICING_AVAILABLE =
  typeof jspi.Suspending === 'function' &&
  typeof jspi.promising === 'function' &&
  process.env.TOOLMUX_WORKBENCH_JSPI !== '0';

/**
 * How a sandbox on the main thread shares it: code that computes checks `due()` often (QuickJS's
 * interrupt handler) and, once it is, waits for `next()` with its Wasm stack suspended while the event
 * loop runs other work. `begin()` is called when the engine is entered.
 */
export interface SandboxSlicer {
  begin(): void;
  /** Waits for a later turn when this turn's slice is used up (for work that cannot be suspended). */
  turn?(): Promise<void>;
  due(): boolean;
  next(): Promise<void>;
}

/** The interrupt import of the Emscripten glue: it calls the runtime's `shouldInterrupt`. */
function isInterruptImport(fn: unknown): fn is (rt: number) => number {
  return typeof fn === 'function' && Function.prototype.toString.call(fn).includes('shouldInterrupt');
}

/**
 * A new QuickJS Wasm instance over `memory`, instantiated synchronously from the compiled module
 * (no per-sandbox module imports or variant loading). With `pause`, the interrupt import may suspend
 * the Wasm stack: when `pause()` gives a promise, the computation goes on once it settles (JSPI).
 */
async function newQuickJSModule(
  compiled: WebAssembly.Module,
  memory: WebAssembly.Memory,
  pause?: () => Promise<void> | undefined,
): Promise<QuickJSWASMModule> {
  let suspending = false;
  const emscripten = await loadQuickJSEmscripten({
    wasmMemory: memory,
    instantiateWasm(imports, onSuccess) {
      if (pause && jspi.Suspending) {
        for (const fields of Object.values(imports as Record<string, Record<string, unknown>>)) {
          for (const [name, fn] of Object.entries(fields)) {
            if (!isInterruptImport(fn)) continue;
            fields[name] = new jspi.Suspending((rt: number) => {
              const wait = pause();
              return wait ? wait.then(() => fn(rt)) : fn(rt);
            });
            suspending = true;
          }
        }
      }
      const instance = new WebAssembly.Instance(compiled, imports);
      onSuccess(instance);
      return instance.exports;
    },
  });
  if (pause && !suspending) {
    throw new Error(
      'This QuickJS build has no interrupt import that can be suspended; the workbench cannot share the main thread.',
    );
  }
  emscripten.type = 'sync';
  return new QuickJSWASMModule(emscripten, new QuickJSFFI(emscripten));
}

/** The parts of quickjs-emscripten's objects that the engine's entry points use (not in its types). */
interface EngineInternals {
  module: {
    _malloc(size: number): number;
    _free(pointer: number): void;
    lengthBytesUTF8(text: string): number;
    stringToUTF8(text: string, pointer: number, maxBytes: number): void;
    UTF8ToString(pointer: number): string;
  } & Record<string, unknown>;
  ffi: {
    QTS_ResolveException(ctx: number, pointer: number): number;
    QTS_FreeValuePointer(ctx: number, pointer: number): void;
    QTS_FreeValuePointerRuntime(rt: number, pointer: number): void;
    QTS_RuntimeEnableInterruptHandler(rt: number): void;
    QTS_RuntimeDisableInterruptHandler(rt: number): void;
    QTS_Typeof(ctx: number, pointer: number): number;
    QTS_GetString(ctx: number, pointer: number): number;
    QTS_FreeCString(ctx: number, pointer: number): void;
    QTS_GetFloat64(ctx: number, pointer: number): number;
    QTS_DupValuePointer(ctx: number, pointer: number): number;
    QTS_ArgvGetJSValueConstPointer(argv: number, index: number): number;
    QTS_Throw(ctx: number, pointer: number): number;
    QTS_NewFloat64(ctx: number, value: number): number;
    QTS_NewString(ctx: number, pointer: number): number;
  };
  ctx: { value: number };
  rt: { value: number };
  getMemory(rt: number): { heapValueHandle(ptr: number): QuickJSHandle };
}

type EntryResult = { value: QuickJSHandle; error?: undefined } | { value?: undefined; error: QuickJSHandle };
/** An entry's value as the engine's pointer (freed with `EngineEntries.free`), or its exception. */
type PointerResult = { value: number; error?: undefined } | { value?: undefined; error: QuickJSHandle };

/**
 * The engine's entry points that run JavaScript (eval, call, pending jobs), called on the Wasm
 * exports directly. With `suspendable` they go through `WebAssembly.promising`, and the interrupt
 * handler is on only while one runs: the interrupt import can suspend, which is allowed only below a
 * promising call. Everything else the sandbox asks of the engine runs no JavaScript.
 */
/**
 * The engine's Wasm memory, as far as {@link EngineEntries} reads it (a `WebAssembly.Memory`). Written
 * out, not named: the `WebAssembly` namespace is in TypeScript's DOM lib only, which a Node.js project
 * need not load, and this class is in the published declarations.
 */
export interface EngineMemory {
  readonly buffer: ArrayBuffer;
}

export class EngineEntries {
  readonly #internals: EngineInternals;
  readonly #context: QuickJSContext;
  readonly #memory: EngineMemory;
  readonly #suspendable: boolean;
  readonly #eval: (...args: number[]) => number | Promise<number>;
  readonly #call: (...args: number[]) => number | Promise<number>;
  readonly #callNow: (...args: number[]) => number;
  readonly #jobs: (...args: number[]) => number | Promise<number>;
  /** Four pointer slots (the arguments of a call), the job context's out pointer, "cell.js". */
  readonly #argv: number;
  readonly #jobContext: number;
  readonly #filename: number;
  #view: Int32Array;

  /** The engine's heap limit (`memoryMb`), for what a failed reply says. */
  readonly #memoryMb: number;

  constructor(context: QuickJSContext, memory: EngineMemory, suspendable: boolean, memoryMb: number) {
    const internals = context as unknown as EngineInternals;
    this.#internals = internals;
    this.#context = context;
    this.#memory = memory;
    this.#memoryMb = memoryMb;
    this.#suspendable = suspendable;
    const module = internals.module;
    const entry = (name: string) => {
      const fn = module[name] as (...args: number[]) => number;
      if (typeof fn !== 'function') throw new Error(`The QuickJS build has no ${name}.`);
      return suspendable && jspi.promising ? jspi.promising(fn) : fn;
    };
    this.#eval = entry('_QTS_Eval');
    this.#call = entry('_QTS_Call');
    this.#callNow = module._QTS_Call as (...args: number[]) => number;
    this.#jobs = entry('_QTS_ExecutePendingJob');
    this.#argv = module._malloc(4 * 4 + 4);
    this.#jobContext = this.#argv + 16;
    const name = 'cell.js';
    this.#filename = module._malloc(module.lengthBytesUTF8(name) + 1);
    module.stringToUTF8(name, this.#filename, module.lengthBytesUTF8(name) + 1);
    this.#view = new Int32Array(memory.buffer);
    // `QTS_ExecutePendingJob` writes the job context only when it ran a job: a run that found none
    // reads what was there before, which must not be the garbage of a fresh block (read as another
    // context's, the run's count of jobs was taken for a failed job's exception and described)
    this.#view[this.#jobContext >> 2] = 0;
    if (suspendable) internals.ffi.QTS_RuntimeDisableInterruptHandler(internals.rt.value);
  }

  #heap(): Int32Array {
    if (this.#view.buffer !== this.#memory.buffer) this.#view = new Int32Array(this.#memory.buffer);
    return this.#view;
  }

  /** Entries that may suspend so far (for tests and benchmarks: each costs a promise and a switch of stacks). */
  suspendableEntries = 0;

  /**
   * Runs the entry `run` (with the interrupt handler on, where entries suspend) and gives `done` the
   * pointer it returned, once it has returned: one promise per entry, with no async frames around
   * the one `WebAssembly.promising` makes (each would cost a promise and a turn of the microtask
   * queue more). `after` runs when the entry has returned or thrown, before `done`.
   */
  #enter<T>(
    run: () => number | Promise<number>,
    done: (pointer: number) => T,
    after?: () => void,
  ): Promise<T> {
    if (!this.#suspendable) {
      let pointer: number;
      try {
        pointer = run() as number;
      } catch (error) {
        after?.();
        return Promise.reject(error);
      }
      after?.();
      try {
        return Promise.resolve(done(pointer));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.suspendableEntries++;
    const { ffi, rt } = this.#internals;
    ffi.QTS_RuntimeEnableInterruptHandler(rt.value);
    let entered: Promise<number>;
    try {
      entered = run() as Promise<number>;
    } catch (error) {
      ffi.QTS_RuntimeDisableInterruptHandler(rt.value);
      after?.();
      return Promise.reject(error);
    }
    return entered.then(
      (pointer) => {
        ffi.QTS_RuntimeDisableInterruptHandler(rt.value);
        after?.();
        return done(pointer);
      },
      (error: unknown) => {
        ffi.QTS_RuntimeDisableInterruptHandler(rt.value);
        after?.();
        throw error;
      },
    );
  }

  readonly #toResult = (pointer: number): EntryResult => this.#result(pointer);
  readonly #toJobs = (pointer: number): { error?: QuickJSHandle } => this.#jobsDone(pointer);

  #result(pointer: number): EntryResult {
    const { ffi, ctx, rt } = this.#internals;
    const memory = this.#internals.getMemory(rt.value);
    const error = ffi.QTS_ResolveException(ctx.value, pointer);
    if (error) {
      ffi.QTS_FreeValuePointer(ctx.value, pointer);
      return { error: memory.heapValueHandle(error) };
    }
    return { value: memory.heapValueHandle(pointer) };
  }

  /** Evaluates `code` as a script named cell.js; `returned` is called once the engine has returned. */
  eval(code: string, returned?: () => void): Promise<EntryResult> {
    const module = this.#internals.module;
    const length = module.lengthBytesUTF8(code);
    const pointer = module._malloc(length + 1);
    if (!pointer) throw new EngineMemoryFull('to take the code');
    module.stringToUTF8(code, pointer, length + 1);
    const ctx = this.#internals.ctx.value;
    // detectModule 0, flags 0: a global script
    return this.#enter(
      () => this.#eval(ctx, pointer, length, this.#filename, 0, 0),
      this.#toResult,
      () => {
        module._free(pointer);
        returned?.();
      },
    );
  }

  /** Writes up to four arguments (handles, or the engine's pointers) where `QTS_Call` reads them. */
  #setArgs(args: Array<QuickJSHandle | number>): void {
    if (args.length > 4) throw new RangeError('at most four arguments');
    const heap = this.#heap();
    for (let index = 0; index < args.length; index++) {
      const arg = args[index] as QuickJSHandle | number;
      heap[(this.#argv >> 2) + index] = typeof arg === 'number' ? arg : (arg.value as number);
    }
  }

  /** Calls `fn` with `this` undefined and up to four arguments. */
  call(
    fn: QuickJSHandle,
    undefinedHandle: QuickJSHandle,
    ...args: Array<QuickJSHandle | number>
  ): Promise<EntryResult> {
    this.#setArgs(args);
    const ctx = this.#internals.ctx.value;
    return this.#enter(
      () => this.#call(ctx, fn.value as number, undefinedHandle.value as number, args.length, this.#argv),
      this.#toResult,
    );
  }

  /**
   * `callNow` with the engine's pointers in and out, without a handle object (for the calls every
   * `toolmux` call makes: settling its reply, taking the queued calls).
   */
  callNowPointers(fn: QuickJSHandle, undefinedHandle: QuickJSHandle, ...args: number[]): PointerResult {
    this.#setArgs(args);
    const { ffi, ctx } = this.#internals;
    const pointer = this.#callNow(
      ctx.value,
      fn.value as number,
      undefinedHandle.value as number,
      args.length,
      this.#argv,
    );
    const error = ffi.QTS_ResolveException(ctx.value, pointer);
    if (!error) return { value: pointer };
    ffi.QTS_FreeValuePointer(ctx.value, pointer);
    return { error: this.handle(error) };
  }

  /** A new number in the engine (free it with `free`). */
  newNumber(value: number): number {
    const { ffi, ctx } = this.#internals;
    const pointer = ffi.QTS_NewFloat64(ctx.value, value);
    if (!pointer) throw new EngineMemoryFull('for a number the host handed in');
    return pointer;
  }

  /** A new string in the engine (free it with `free`). */
  newString(text: string): number {
    const { ffi, ctx, module } = this.#internals;
    const length = module.lengthBytesUTF8(text);
    // a Wasm memory at its maximum gives no block: the text must not be written at address 0
    const bytes = module._malloc(length + 1);
    if (!bytes) throw this.#replyFull(text);
    let pointer: number;
    try {
      module.stringToUTF8(text, bytes, length + 1);
      pointer = ffi.QTS_NewString(ctx.value, bytes);
    } finally {
      module._free(bytes);
    }
    // QuickJS past its own heap limit gives an exception value, never to be handed to the code
    const failed = pointer ? ffi.QTS_ResolveException(ctx.value, pointer) : 0;
    if (!pointer || failed) {
      if (failed) ffi.QTS_FreeValuePointer(ctx.value, failed);
      if (pointer) ffi.QTS_FreeValuePointer(ctx.value, pointer);
      throw this.#replyFull(text);
    }
    return pointer;
  }

  /**
   * The engine had no memory for a reply: a reply too large for the engine's memory whatever the
   * code keeps says so and what to do (a 42 MB file read back was told to "keep less in globalThis"
   * in a fresh context that kept nothing); a smaller one gets the general advice.
   */
  #replyFull(text: string): EngineMemoryFull {
    const what = `for a reply of ${text.length} characters (${(text.length / 1048576).toFixed(1)} MB)`;
    if (text.length <= this.#memoryMb * 1048576 * REPLY_SHARE_OF_MEMORY) return new EngineMemoryFull(what);
    const needed = Math.ceil((text.length / 1048576 / REPLY_SHARE_OF_MEMORY) * 1.25);
    const most = SESSION_CONFIG_BOUNDS.workbench.memoryMb[1];
    return new EngineMemoryFull(
      what,
      `a value that large is more than this session's workbench memory (workbench.memoryMb: ${this.#memoryMb}) can take in at once, whatever the code keeps. Get it in smaller parts (call the tool for fewer items or a smaller page; a file's JSON text with toolmux.files.read(path, { offset, length }))${needed <= most ? `, or raise workbench.memoryMb to ${needed} or more` : ''}`,
    );
  }

  /** Frees an engine value made by `newNumber`, `newString` or given by `callNowPointers`. */
  free(pointer: number): void {
    const { ffi, ctx } = this.#internals;
    ffi.QTS_FreeValuePointer(ctx.value, pointer);
  }

  /**
   * `call` without suspending and, where entries suspend, without the interrupt handler: only for
   * the prelude's own functions that run in bounded time and touch nothing the code can replace.
   */
  callNow(
    fn: QuickJSHandle,
    undefinedHandle: QuickJSHandle,
    ...args: Array<QuickJSHandle | number>
  ): EntryResult {
    this.#setArgs(args);
    const ctx = this.#internals.ctx.value;
    return this.#result(
      this.#callNow(ctx, fn.value as number, undefinedHandle.value as number, args.length, this.#argv),
    );
  }

  /** Whether the entries that run JavaScript go through `WebAssembly.promising` (see the class). */
  get suspendable(): boolean {
    return this.#suspendable;
  }

  /**
   * Runs every pending job; the error is the first failed job's exception. `returned` is called
   * once the engine has returned.
   */
  jobs(returned?: () => void): Promise<{ error?: QuickJSHandle }> {
    const { rt } = this.#internals;
    return this.#enter(() => this.#jobs(rt.value, -1, this.#jobContext), this.#toJobs, returned);
  }

  /** `jobs` of an engine that is not `suspendable`, without a promise. */
  jobsNow(): { error?: QuickJSHandle } {
    const { rt } = this.#internals;
    return this.#jobsDone(this.#jobs(rt.value, -1, this.#jobContext) as number);
  }

  #jobsDone(pointer: number): { error?: QuickJSHandle } {
    const { ffi, rt, ctx } = this.#internals;
    const jobContext = this.#heap()[this.#jobContext >> 2];
    if (!jobContext) {
      ffi.QTS_FreeValuePointerRuntime(rt.value, pointer);
      return {};
    }
    if (jobContext === ctx.value && this.isOfType(pointer, NUMBER)) {
      ffi.QTS_FreeValuePointer(ctx.value, pointer);
      return {};
    }
    return { error: this.handle(pointer) };
  }

  /**
   * Whether `typeof` the value at `pointer` is `type` (NUL-terminated ASCII bytes): the engine's
   * answer compared in its memory, without decoding it as text.
   */
  isOfType(pointer: number, type: Uint8Array): boolean {
    const { ffi, ctx, module } = this.#internals;
    const text = ffi.QTS_Typeof(ctx.value, pointer);
    try {
      const bytes = new Uint8Array(this.#memory.buffer, text, type.length);
      for (let index = 0; index < type.length; index++) if (bytes[index] !== type[index]) return false;
      return true;
    } finally {
      module._free(text);
    }
  }

  /** A handle that owns the engine value at `pointer` (frees it when disposed). */
  handle(pointer: number): QuickJSHandle {
    return this.#internals.getMemory(this.#internals.rt.value).heapValueHandle(pointer);
  }

  /**
   * The string value at `pointer` (the prelude passes only strings where this is asked). Throws
   * {@link EngineMemoryFull} when the engine has no memory left for its UTF-8 copy (it gives none
   * then, which read as '' would lose what the text held: the calls the code queued).
   */
  string(pointer: number, what: string): string {
    const { ffi, ctx, module } = this.#internals;
    const text = ffi.QTS_GetString(ctx.value, pointer);
    if (!text) throw new EngineMemoryFull(what);
    try {
      return module.UTF8ToString(text);
    } finally {
      ffi.QTS_FreeCString(ctx.value, text);
    }
  }

  /** The number value at `pointer` (the prelude passes only numbers where this is asked). */
  number(pointer: number): number {
    const { ffi, ctx } = this.#internals;
    return ffi.QTS_GetFloat64(ctx.value, pointer);
  }

  /** A new handle to the value at `pointer`, which the engine owns (an argument of a host function). */
  dup(pointer: number): QuickJSHandle {
    const { ffi, ctx } = this.#internals;
    return this.handle(ffi.QTS_DupValuePointer(ctx.value, pointer));
  }

  /**
   * Calls the context's host functions listed in `direct` with the engine's pointers to their
   * arguments, instead of through quickjs-emscripten's generic path (which makes a handle for each
   * argument and runs the function in a generator, several times the cost of the function itself).
   * A function there gets the pointer of argument `index` from `arg(index)` (valid during the call)
   * and returns nothing (the engine gets `undefined`). Others go the generic way. Where the
   * module's internals are not as expected, every function goes the generic way.
   */
  callDirectly(module: QuickJSWASMModule, direct: Map<unknown, DirectHostFunction>): boolean {
    const { ffi, ctx } = this.#internals;
    const callbacks = (module as unknown as { callbacks?: ModuleCallbacks }).callbacks;
    const context = this.#context as unknown as {
      cToHostCallbacks?: ContextCallbacks;
      runtime?: { hostRefs?: { get(id: number): unknown } };
    };
    const generic = context.cToHostCallbacks;
    const hostRefs = context.runtime?.hostRefs;
    if (
      typeof callbacks?.setContextCallbacks !== 'function' ||
      !generic ||
      typeof hostRefs?.get !== 'function'
    )
      return false;
    const contextPointer = ctx.value;
    callbacks.setContextCallbacks(contextPointer, {
      ...generic,
      callFunction: (ctxPointer, thisPointer, argc, argv, id) => {
        let fn: DirectHostFunction | undefined;
        try {
          fn = ctxPointer === contextPointer ? direct.get(hostRefs.get(id)) : undefined;
        } catch {
          // not a function of this sandbox's: the generic path says so
        }
        if (!fn) return generic.callFunction(ctxPointer, thisPointer, argc, argv, id);
        try {
          fn((index) => ffi.QTS_ArgvGetJSValueConstPointer(argv, index));
          return 0;
        } catch (error) {
          // as the generic path does: the exception goes to the code that called the function
          const thrown = this.#context.newError(quotedMessage(error));
          try {
            return ffi.QTS_Throw(ctxPointer, thrown.value as number);
          } finally {
            thrown.dispose();
          }
        }
      },
    });
    return true;
  }
}

/** `typeof` answers as `EngineEntries.isOfType` compares them. */
const NUMBER = new TextEncoder().encode('number\0');
const STRING = new TextEncoder().encode('string\0');

/** A host function called with its arguments' pointers (see `EngineEntries.callDirectly`). */
type DirectHostFunction = (arg: (index: number) => number) => void;

/** quickjs-emscripten's per-context callbacks from the engine (not in its types). */
interface ContextCallbacks {
  callFunction(ctx: number, thisPointer: number, argc: number, argv: number, id: number): number;
}
interface ModuleCallbacks {
  setContextCallbacks(ctx: number, callbacks: ContextCallbacks): void;
}

/**
 * The prelude run once per context: `toolmux` and `console` over two host functions that it then
 * removes from the global object, so that code sees only the JSON-in, JSON-out API. A `toolmux`
 * call does not leave the engine: it is queued in `outbox` as a line `id<tab>operation<tab>argsJson`
 * (JSON text has no raw tab or newline); `toolmux.execute(slug, args)` with a string slug and no
 * options (and a slug without NUL or surrogates) is the operation `EXECUTE_SLUG_FIRST`, whose text
 * is `<slug length><tab><slug><args JSON>`
 * (the slug as it is, without JSON written or read for it; its length says where it ends, whatever
 * it holds). Its promise's functions are kept in `waits`; after each run of
 * the engine's jobs the host takes the whole outbox with one call (`take`), and hands replies back
 * with one call per reply (`settle`, which parses it and settles the call's promise). So a call
 * costs no host function or promise handle of its own.
 */
/**
 * What the prelude writes in place of the first NaN or ±Infinity of a call's arguments (after a NUL,
 * this process's random hex): a string the code cannot know, so that one write of the arguments says
 * whether they hold one and where.
 */
const NON_FINITE_MARKER = randomBytes(12).toString('hex');

/** What the cell's code is compiled after, on its first line: the head of an async function. */
const CELL_HEAD = '(async () => {';

const PRELUDE = `(() => {
  const log = globalThis.__toolmux_log;
  const done = globalThis.__toolmux_done;
  delete globalThis.__toolmux_log;
  delete globalThis.__toolmux_done;
  const { stringify, parse } = JSON;
  const HostError = Error;
  const HostTypeError = TypeError;
  const create = Object.create;
  const apply = Reflect.apply;
  const defineProperty = Object.defineProperty;
  const stringSlice = String.prototype.slice;
  const toText = String;
  const replaceText = String.prototype.replace;
  const wellFormed = String.prototype.toWellFormed;
  // A slug written as it is must cross to the host intact: no NUL (the host reads the outbox as a C
  // string) and no surrogate (a lone one would not survive UTF-8); others go as JSON. Slugs found
  // plain are remembered (a few hundred at most), so a call usually costs a lookup, not a match.
  const exec = RegExp.prototype.exec;
  const plainText = /^[^\\0\\uD800-\\uDFFF]*$/;
  let plainSlugs = create(null);
  let plainCount = 0;
  const plain = (slug) => {
    if (plainSlugs[slug] === true) return true;
    if (apply(exec, plainText, [slug]) === null) return false;
    if (++plainCount > 256) {
      plainSlugs = create(null);
      plainCount = 1;
    }
    plainSlugs[slug] = true;
    return true;
  };
  let outbox = '';
  // Each waiting call's resolve and reject functions, by call id: objects without a prototype, so
  // that \`take\` (which the host runs without the interrupt handler) touches only its own data.
  let waits = create(null);
  let fails = create(null);
  let lastId = 0;
  // \`slug\` (a string) only for ${EXECUTE_SLUG_FIRST}: written before the arguments, after its length.
  // A call's promise is made with one executor for all (no two closures per call); arguments that
  // cannot be written as JSON reject it, as an executor's exception would.
  const NewPromise = Promise;
  let made;
  let failMade;
  const capture = (resolve, reject) => {
    made = resolve;
    failMade = reject;
  };
  // The cell's calls so far, and its limit: a call past it is refused here, in the engine, as the
  // code's own work (sliced, interruptible), never queued, written or answered by the host one by one
  // (100,000 calls made at once held the host's event loop for a second with their refusals).
  let maxCalls = Infinity;
  let calls = 0;
  let capped = 0;
  // A NaN or ±Infinity in a tool call's arguments, which JSON writes as null: where the first is (in
  // JSON order, as a list of keys and indexes) and which it is, or undefined. The arguments are
  // written once, with a replacer that writes the first one as MARKER (a string the code cannot
  // know): a second write would run the code's toJSON methods and getters again, and a toJSON that
  // made a call would make it twice. Only when one was found is the text read back (data, no code
  // runs) to find the marker's path; the host puts the number back there, and the call is refused as
  // any other call holding one is (TOOL_ARGUMENTS_INVALID naming its path), instead of the tool
  // running with null.
  const MARKER = '\\u0000toolmux:${NON_FINITE_MARKER}';
  const isArray = Array.isArray;
  const keysOf = Object.keys;
  // a member of data read from JSON, never one of Object.prototype (the code may have put a getter there)
  const own = (object, key) => (apply(hasOwn, object, [key]) ? object[key] : undefined);
  let nonFiniteValue;
  const markNonFinite = (key, value) => {
    if (typeof value === 'bigint') return markBigInt(key, value);
    if (typeof value === 'number' && (value !== value || value === Infinity || value === -Infinity) && nonFiniteValue === undefined) {
      nonFiniteValue = value;
      return MARKER;
    }
    return value;
  };
  // the path of the first MARKER in \`value\` (data read from JSON): its holder's keys, defined (a
  // setter the code put on Array.prototype is not run), and the holder and key to write null at
  // A BigInt, which JSON cannot write (its stringify throws a bare TypeError): written as UNWRITABLE
  // by the same one write, the first one kept, and the call refused naming its path (read back as
  // the non-finite number's is), with the toolmux code of a bad argument of that call.
  const UNWRITABLE = '\\u0000toolmux:unwritable:${NON_FINITE_MARKER}';
  // (what the first one is, and what to send instead)
  let unwritable;
  const bigintFound = (value) => {
    const digits = toText(value);
    const shownDigits = digits.length > 24 ? apply(stringSlice, digits, [0, 20]) + '…' : digits;
    return { text: 'a BigInt (' + shownDigits + 'n)', hint: 'send it as a number or a string.' };
  };
  const markBigInt = (key, value) => {
    if (typeof value !== 'bigint') return value;
    if (unwritable === undefined) unwritable = bigintFound(value);
    return UNWRITABLE;
  };
  // The value of a files.write is read back as it was written, so a value JSON would write as another
  // (null for NaN, ±Infinity, a function, a symbol or undefined in an array or as the value itself;
  // {} for a Map or a Set; a function or a symbol as a property left out) is refused the same way,
  // naming where it is. A property whose value is undefined is left out, as JSON does (reading the
  // key of the file's value gives undefined as before). \`fileCall\`: the call's { path, value }.
  const NewSet = Set;
  const NewWeakMap = WeakMap;
  const NewWeakSet = WeakSet;
  let fileCall;
  const fileValueFound = (holder, key, value) => {
    const type = typeof value;
    if (type === 'bigint') return bigintFound(value);
    if (type === 'number') {
      return value !== value || value === Infinity || value === -Infinity
        ? { text: toText(value), hint: 'write a finite number, null or a string.' }
        : undefined;
    }
    if (type === 'function') return { text: 'a function', hint: 'write data: call the function, or write what it gives.' };
    if (type === 'symbol') return { text: 'a symbol', hint: 'write a string.' };
    if (type === 'undefined') {
      return (holder === fileCall && key === 'value') || isArray(holder)
        ? { text: 'undefined', hint: 'write null, or leave it out.' }
        : undefined;
    }
    if (type !== 'object' || value === null) return undefined;
    if (value instanceof NewMap) return { text: 'a Map', hint: 'write Object.fromEntries(map) or [...map].' };
    if (value instanceof NewSet) return { text: 'a Set', hint: 'write [...set].' };
    if (value instanceof NewWeakMap || value instanceof NewWeakSet) {
      return { text: value instanceof NewWeakMap ? 'a WeakMap' : 'a WeakSet', hint: 'write the data it holds as an object or an array.' };
    }
    return undefined;
  };
  const markFileValue = function (key, value) {
    const found = fileValueFound(this, key, value);
    if (found === undefined) return value;
    if (unwritable === undefined) unwritable = found;
    return UNWRITABLE;
  };
  const markerIn = (value, marker = MARKER) => {
    const stack = [{ value, parent: undefined, key: undefined, holder: undefined }];
    let depth = 0;
    while (depth >= 0) {
      const at = stack[depth];
      defineProperty(stack, depth--, { value: undefined, writable: true, enumerable: true, configurable: true });
      if (at.value === marker) return at;
      if (typeof at.value !== 'object' || at.value === null) continue;
      const keys = isArray(at.value) ? undefined : keysOf(at.value);
      const count = keys === undefined ? at.value.length : keys.length;
      // pushed last first, so that they are taken in JSON order
      for (let index = count - 1; index >= 0; index--) {
        const key = keys === undefined ? index : keys[index];
        defineProperty(stack, ++depth, { value: { value: at.value[key], parent: at, key, holder: at.value }, writable: true, enumerable: true, configurable: true });
      }
    }
    return undefined;
  };
  const pathOf = (place) => {
    let depth = 0;
    for (let at = place; at.parent !== undefined; at = at.parent) depth++;
    const path = [];
    for (let at = place; at.parent !== undefined; at = at.parent) {
      defineProperty(path, --depth, { value: at.key, writable: true, enumerable: true, configurable: true });
    }
    return path;
  };
  // keys and indexes as the model writes them: value.items[3].id, arguments["first name"]
  const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  const pathText = (root, keys) => {
    let text = root;
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index];
      text += typeof key === 'number' ? '[' + key + ']' : apply(exec, identifier, [key]) !== null ? '.' + key : '[' + stringify(key) + ']';
    }
    return text;
  };
  // What the code named a call's arguments: the arguments of toolmux.execute (args in the object of
  // its other form), the properties of the others' (value of files.write, limit of search)
  const namedPath = (operation, keys) => {
    if (operation === '${EXECUTE_SLUG_FIRST}') return pathText('arguments', keys);
    if (operation === 'execute' && keys[0] === 'args') return pathText('arguments', apply(arraySlice, keys, [1]));
    const first = keys.length === 0 ? 'the argument' : typeof keys[0] === 'number' ? '[' + keys[0] + ']' : toText(keys[0]);
    return pathText(first, apply(arraySlice, keys, [1]));
  };
  const arraySlice = Array.prototype.slice;
  // Where a cycle is (JSON.stringify says only "circular reference"): the arguments are written once
  // more, as JSON writes them (toJSON applied), keeping the values being written and their keys;
  // a value met again inside itself is the cycle. Only once a write failed (it costs a write); calls
  // made meanwhile (by a toJSON) are refused, not made twice.
  const NewMap = Map;
  // What the model reads of the cell (its value, its console lines) is JSON, in which an Error, a Map
  // and a Set are {}: \`catch (e) { return { id, error: e } }\` told the model nothing of what failed.
  // They are written as the data they hold: an Error as its name and message and its own fields
  // (a failed toolmux call's code), a Map as an object when every key is a string (its [key, value]
  // pairs otherwise), a Set as an array. (The JSON the code writes itself is JavaScript's as ever.)
  const mapForEach = Map.prototype.forEach;
  const setForEach = Set.prototype.forEach;
  // a member written as data (a key such as __proto__ is the value's own, no setter of the code runs)
  const put = (target, key, item) => defineProperty(target, key, { value: item, writable: true, enumerable: true, configurable: true });
  const readable = (key, value) => {
    if (typeof value !== 'object' || value === null) return value;
    if (value instanceof HostError) {
      const out = {};
      put(out, 'name', value.name);
      put(out, 'message', value.message);
      const keys = keysOf(value);
      for (let index = 0; index < keys.length; index++) put(out, keys[index], value[keys[index]]);
      return out;
    }
    if (value instanceof NewMap) {
      const pairs = [];
      let named = true;
      apply(mapForEach, value, [(item, name) => {
        if (typeof name !== 'string') named = false;
        put(pairs, pairs.length, [name, item]);
      }]);
      if (!named) return pairs;
      const out = {};
      for (let index = 0; index < pairs.length; index++) put(out, pairs[index][0], pairs[index][1]);
      return out;
    }
    if (value instanceof NewSet) {
      const items = [];
      apply(setForEach, value, [(item) => put(items, items.length, item)]);
      return items;
    }
    return value;
  };
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete;
  let locating = false;
  const CYCLE = create(null);
  const cycleIn = (value) => {
    const open = [];
    const keys = [];
    const depths = new NewMap();
    let depth = 0;
    let found;
    const put = (array, index, item) => defineProperty(array, index, { value: item, writable: true, enumerable: true, configurable: true });
    const replacer = function (key, item) {
      // the values being written whose member this is, and no others
      while (depth > 0 && open[depth - 1] !== this) apply(mapDelete, depths, [open[--depth]]);
      if (typeof item !== 'object' || item === null) return item;
      const at = apply(mapGet, depths, [item]);
      if (at !== undefined) {
        const path = [];
        for (let index = 1; index < depth; index++) put(path, index - 1, keys[index]);
        put(path, depth > 0 ? depth - 1 : 0, isArray(this) ? +key : key);
        const inner = [];
        for (let index = 1; index <= at; index++) put(inner, index - 1, keys[index]);
        found = { path, inner };
        throw CYCLE;
      }
      put(open, depth, item);
      put(keys, depth, isArray(this) ? +key : key);
      apply(mapSet, depths, [item, depth++]);
      return item;
    };
    locating = true;
    try {
      stringify(value, replacer);
    } catch {
    } finally {
      locating = false;
    }
    return found;
  };
  // The error a toolmux call rejects with, its toolmux code beside its message. It has no stack yet:
  // QuickJS writes one where the error is first thrown, which is where the code awaits the call (the
  // cell's line), as no stack was there. Made here (or where the reply settles it) it held the
  // prelude's frames, and the code read \`at settle (toolmux-prelude.js…)\` for the line of its call.
  // Handled without being thrown (\`.catch((e) => …)\`) it has no stack, as a thrown non-Error.
  const callError = (message, code) => {
    const error = new HostError(message);
    delete error.stack;
    if (code !== undefined) defineProperty(error, 'code', { value: code, writable: true, enumerable: true, configurable: true });
    return error;
  };
  // The error a call's arguments that JSON cannot write reject with: the toolmux code of a bad
  // argument of that call, and where the value is.
  const refusal = (operation, text) => {
    const execute = operation === 'execute' || operation === '${EXECUTE_SLUG_FIRST}';
    return callError('toolmux.' + (execute ? 'execute' : operation) + ': ' + text, execute ? 'TOOL_ARGUMENTS_INVALID' : 'INVALID_REQUEST');
  };
  const unwritableIn = (operation, json, found) => {
    const place = markerIn(parse(json), UNWRITABLE);
    const where = place === undefined ? 'a value' : namedPath(operation, pathOf(place));
    return refusal(operation, where + ' is ' + found.text + ', which JSON has no form for; ' + found.hint);
  };
  const call = (operation, args, slug) => {
    const promise = new NewPromise(capture);
    // taken at once: writing the arguments may run the code's toJSON, which may make calls too
    const resolve = made;
    const reject = failMade;
    if (locating) {
      reject(callError('A toolmux call made while the arguments of a refused call were written again (to find where they cannot be written as JSON) is not made.'));
      return promise;
    }
    if (calls >= maxCalls) {
      capped = 1;
      reject(callError('A cell may make at most ' + maxCalls + ' toolmux calls; split the work over several cells (keep state in globalThis or toolmux.files).', 'WORKBENCH_TOOL_CALL_LIMIT'));
      return promise;
    }
    let json;
    try {
      if (operation === '${EXECUTE_SLUG_FIRST}' || operation === 'execute') {
        // (a toJSON of the arguments may make a call of its own, which marks its own arguments)
        const outer = nonFiniteValue;
        const outerUnwritable = unwritable;
        let found;
        let bigint;
        nonFiniteValue = undefined;
        unwritable = undefined;
        try {
          json = stringify(args === undefined ? null : args, markNonFinite);
          found = nonFiniteValue;
          bigint = unwritable;
        } finally {
          nonFiniteValue = outer;
          unwritable = outerUnwritable;
        }
        if (bigint !== undefined && json !== undefined) {
          reject(unwritableIn(operation, json, bigint));
          return promise;
        }
        if (found !== undefined && json !== undefined) {
          // read back (data: no code runs): where the marker is, in the call's own arguments
          const read = parse(json);
          const given = operation === 'execute' ? own(read, 'args') : read;
          const place = markerIn(given);
          if (place !== undefined) {
            if (place.holder !== undefined) defineProperty(place.holder, place.key, { value: null, writable: true, enumerable: true, configurable: true });
            const sent = place.holder === undefined ? null : given;
            const nonFinite = { path: pathOf(place), value: toText(found) };
            json = stringify(operation === 'execute'
              ? { slug: own(read, 'slug'), args: sent, account: own(read, 'account'), nonFinite }
              : { slug, args: sent, nonFinite });
            operation = 'execute';
            slug = undefined;
          } else {
            // outside the arguments (an account that was NaN): written as JSON writes it, null
            const other = markerIn(read);
            if (other !== undefined && other.holder !== undefined) {
              defineProperty(other.holder, other.key, { value: null, writable: true, enumerable: true, configurable: true });
            }
            json = stringify(read);
          }
        }
      } else {
        const outerUnwritable = unwritable;
        const outerFile = fileCall;
        let bigint;
        unwritable = undefined;
        try {
          if (operation === 'files.write') {
            fileCall = args;
            json = stringify(args, markFileValue);
          } else json = stringify(args === undefined ? null : args, markBigInt);
          bigint = unwritable;
        } finally {
          unwritable = outerUnwritable;
          fileCall = outerFile;
        }
        if (bigint !== undefined && json !== undefined) {
          reject(unwritableIn(operation, json, bigint));
          return promise;
        }
      }
    } catch (error) {
      // a cycle (JSON says only "circular reference"): where it is; another error (a toJSON or a
      // getter of the code's that threw) as it was thrown
      const cycle = error instanceof HostTypeError ? cycleIn(args === undefined ? null : args) : undefined;
      if (cycle === undefined) reject(ownError(error));
      else {
        const at = namedPath(operation, cycle.path);
        const target = cycle.inner.length === 0 ? 'the arguments' : namedPath(operation, cycle.inner);
        reject(refusal(operation, at + ' is ' + target + ' itself (a circular reference), which JSON cannot write; send the data without the cycle.'));
      }
      return promise;
    }
    calls++;
    const id = ++lastId;
    outbox += (outbox === '' ? '' : '\\n') + id + '\\t' + operation + '\\t' +
      (slug === undefined ? '' : slug.length + '\\t' + slug) + (json === undefined ? 'null' : json);
    waits[id] = resolve;
    fails[id] = reject;
    return promise;
  };
  const take = () => {
    if (outbox === '') return '';
    const text = outbox;
    outbox = '';
    return text;
  };
  // Settles a call's promise with its reply: the value's JSON text, '' for undefined, or '!' and the
  // JSON of { code, message } (no JSON text starts with '!'). The host runs it like the code, under
  // the interrupt handler (resolving with an object reads its \`then\`, which the code may have
  // made a getter), and the time a large reply takes to parse counts as the code's.
  const settle = (id, text) => {
    const resolve = waits[id];
    if (resolve === undefined) return;
    const reject = fails[id];
    delete waits[id];
    delete fails[id];
    if (text === '') resolve(undefined);
    else if (text[0] === '!') {
      const failure = parse(apply(stringSlice, text, [1]));
      reject(callError(failure.message, failure.code));
    } else resolve(parse(text));
  };
  // Whether settling a call with a value parsed from JSON runs none of the code's own functions:
  // resolving a promise with an object looks up its \`then\`, which a parsed object has only as its
  // own data or from Object.prototype (an array: Array.prototype, then Object.prototype), so none
  // runs while neither of them has a \`then\` and Array.prototype's prototype is still Object.prototype
  // (which cannot be given another). Checked on ordinary objects: no getter or proxy trap runs.
  // (bound once: a bound function calls its target as it is, and no array of arguments is made per call)
  const hasOwn = Object.prototype.hasOwnProperty;
  const bind = Function.prototype.bind;
  const objectPrototype = Object.prototype;
  const arrayPrototype = Array.prototype;
  const objectHasThen = apply(bind, hasOwn, [objectPrototype, 'then']);
  const arrayHasThen = apply(bind, hasOwn, [arrayPrototype, 'then']);
  const arrayParent = apply(bind, Object.getPrototypeOf, [null, arrayPrototype]);
  // \`settle\` when it runs none of the code's functions (a value's reply, while parsed values have no
  // \`then\` to look up but their own): the host runs it outside the code's time, without the
  // interrupt handler, and without suspending; 1 when it settled, 0 when the host calls \`settle\`.
  const settleNow = (id, text) => {
    if (text !== '' && text[0] === '!') return 0;
    if (objectHasThen() || arrayHasThen() || arrayParent() !== objectPrototype) return 0;
    settle(id, text);
    return 1;
  };
  // The cell's code starts on the line of the function around it (see #start), so a frame of cell.js
  // names the cell's own line (in \`error.stack\` as the code reads it too); on its first line the
  // column counts the characters of that function's head, taken off here. A syntax error found at the
  // end of the code (the wrapper's closing line, past the cell's last line) is at the end of its last
  // line: \`lines\` lines, \`end\` its column (only where the host says so, for the cell being
  // compiled: a function of an earlier cell, with more lines, may be in a stack).
  const cellFrame = /cell\\.js:(\\d+):(\\d+)/g;
  let lastLine = Infinity;
  let lastColumn = 1;
  const ownFrame = (match, line, column) => {
    const at = +line;
    if (at > lastLine) return 'cell.js:' + lastLine + ':' + lastColumn;
    if (at === 1) return 'cell.js:1:' + (column > ${CELL_HEAD.length} ? column - ${CELL_HEAD.length} : 1);
    return match;
  };
  // A frame of the prelude's own functions (\`at call (toolmux-prelude.js:…)\` and \`at execute\`
  // between a toJSON of a call's arguments that threw and the code's line that made the call): not
  // the code's, and the model can do nothing with it; left out of every stack it is shown.
  const preludeFrame = /^[^\\n]*\\btoolmux-prelude\\.js:\\d+:\\d+[^\\n]*(?:\\n|$)/gm;
  const withoutPrelude = (stack) => apply(replaceText, stack, [preludeFrame, '']);
  const ownStack = (stack) => apply(replaceText, withoutPrelude(stack), [cellFrame, ownFrame]);
  // The code's own error that a prelude function let through (a toJSON of a call's arguments that
  // threw, which rejects the call): its \`stack\` without the prelude's frames, as the code reads it
  // too. Only a stack the engine wrote, an own string the code can write; nothing else is touched.
  const ownDescriptor = Object.getOwnPropertyDescriptor;
  const ownError = (error) => {
    try {
      if (error !== null && typeof error === 'object') {
        const stack = ownDescriptor(error, 'stack');
        // (a stack the engine wrote is a few frames: a longer one is the code's own text, left as it is)
        if (stack !== undefined && typeof stack.value === 'string' && stack.value.length <= 65536 && stack.writable && stack.configurable) {
          defineProperty(error, 'stack', { value: withoutPrelude(stack.value), writable: true, enumerable: stack.enumerable, configurable: true });
        }
      }
    } catch {}
    return error;
  };
  // An error as the model reads it: its name, its code where it has one (a failed toolmux call's) and
  // its message, then its frames (QuickJS's \`stack\` holds only the frames).
  const trailingBreaks = /\\n+$/;
  const showError = (error) => {
    const name = error.name;
    const code = error.code;
    const message = error.message;
    const stack = error.stack;
    let text = name === undefined ? 'Error' : toText(name);
    if (typeof code === 'string' || typeof code === 'number') text += ' [' + code + ']';
    if (message !== undefined && message !== null && message !== '') text += ': ' + toText(message);
    return stack ? text + '\\n' + apply(replaceText, ownStack(cut(toText(stack))), [trailingBreaks, '']) : text;
  };
  const show = (value) => {
    if (typeof value === 'string') return value;
    if (value instanceof Error) return showError(value);
    try { const text = stringify(value, readable); return text === undefined ? String(value) : text; } catch { return String(value); }
  };
  // Text longer than the cell's limit never crosses to the host whole (the host gets its start and
  // its length).
  let limit = Infinity;
  const cut = (text) => (typeof text === 'string' && text.length > limit ? apply(stringSlice, text, [0, limit + 1]) : text);
  // The host reads a line as a C string in UTF-8, which a NUL would end and in which a lone surrogate
  // would become three U+FFFD: a NUL is shown as a backslash and 0, a lone surrogate as one U+FFFD.
  const nul = /\\0/g;
  // (the intrinsics taken above: code that replaced String.prototype.replace still has its lines shown)
  const shownLine = (text) => apply(wellFormed, apply(replaceText, text, [nul, '\\\\0']), []);
  const write = (...values) => {
    const text = values.map(show).join(' ');
    if (typeof text !== 'string') return;
    const line = shownLine(text);
    log(cut(line), line.length);
  };
  Object.defineProperty(globalThis, 'console', {
    value: Object.freeze({ log: write, info: write, warn: write, error: write, debug: write }),
    enumerable: false,
  });
  const files = Object.freeze({
    write: (path, value) => call('files.write', { path, value }),
    // read(path, { offset, length }): a part of the file's JSON text (the host checks the range)
    read: (path, range) => call('files.read', { path, range }),
    list: () => call('files.list', {}),
    delete: (path) => call('files.delete', { path }),
  });
  Object.defineProperty(globalThis, 'toolmux', {
    value: Object.freeze({
      execute: (slug, args, options) =>
        typeof slug === 'string' && options === undefined && plain(slug)
          ? call('${EXECUTE_SLUG_FIRST}', args === undefined ? {} : args, slug)
          : call('execute', { slug, args: args === undefined ? {} : args, account: options && options.account }),
      // search(query, 5) and search(query, { limit: 5 }) alike: models write both
      search: (query, options) =>
        call('search', { query, limit: typeof options === 'object' && options !== null ? options.limit : options }),
      proxy: (request) => call('proxy', request),
      files,
    }),
    enumerable: false,
  });
  // The runner of cells, kept by the host (never on globalThis): calls the cell's function and
  // reports its JSON value or its exception, with the calls queued since the host last took them.
  // Calls an earlier cell left waiting (it returned without awaiting them; their replies are not
  // taken once it is over) are rejected as this cell starts, so that code awaiting one (kept on
  // globalThis) reads why instead of waiting for its timeout.
  // What the host reads of an exception (getters and toString of the code's own objects run here,
  // where the interrupt handler still watches): an object without a prototype whose own name,
  // message and stack? are strings, each cut to the cell's output limit (the host cuts the whole to
  // it). The host reads those three properties, which runs none of the code's functions; it is not
  // JSON text, as JSON.stringify fails for code that put a setter on Array.prototype[0].
  // a NUL as a backslash and 0 and a lone surrogate as one U+FFFD, as in a console line: the host
  // reads these strings as C strings in UTF-8 (cut first: a pair the cut splits is one U+FFFD)
  const shown = (text) => shownLine(cut(text));
  const describe = (error, lines, end) => {
    lastLine = lines === undefined ? Infinity : lines;
    lastColumn = end === undefined ? 1 : end;
    const out = create(null);
    out.name = 'Error';
    out.message = '';
    try {
      if (error !== null && (typeof error === 'object' || typeof error === 'function')) {
        try { const name = error.name; if (name !== undefined) out.name = shown(toText(name)); } catch {}
        try { const message = error.message; out.message = message === undefined || message === null ? '' : shown(toText(message)); } catch (unreadable) {
          let why = '';
          // an Error's message, or what was thrown itself (a number, a symbol): never "undefined"
          try {
            const said = unreadable !== null && typeof unreadable === 'object' ? unreadable.message : unreadable;
            if (said !== undefined && said !== null) why = toText(said);
          } catch {}
          out.message = shown('(the thrown value threw when its message was read' + (why ? ': ' + why : '') + ')');
        }
        // a thrown object that is no Error and has no message (\`throw { status: 404 }\`, \`throw [a, b]\`):
        // its JSON, where the model read only "Error:"
        if (out.message === '' && typeof error === 'object' && !(error instanceof HostError)) {
          try { const json = stringify(error, readable); if (json !== undefined) out.message = shown(json); } catch {}
        }
        try { const stack = error.stack; if (stack) out.stack = shown(ownStack(cut(toText(stack)))); } catch {}
        // a failed toolmux call's code (TOOL_ARGUMENTS_INVALID, WORKBENCH_FILE_NOT_FOUND), or the code's own
        try { const code = error.code; if (typeof code === 'string' || typeof code === 'number') out.code = shown(toText(code)); } catch {}
      } else out.message = shown(toText(error));
    } catch {}
    lastLine = Infinity;
    return out;
  };
  const promiseThen = Promise.prototype.then;
  const started = Promise.resolve();
  const run = (cell, maxChars, maxToolCalls) => {
    limit = maxChars;
    maxCalls = maxToolCalls;
    calls = 0;
    capped = 0;
    const left = fails;
    waits = create(null);
    fails = create(null);
    outbox = '';
    for (const id in left) {
      left[id](callError('This toolmux call was made by an earlier workbench call, which returned before its reply came: its result is lost (the tool may have run). Make the call again, and await the calls of a cell before it returns.', 'WORKBENCH_CODE_ERROR'));
    }
    // called from a job, which the engine runs with no function of the prelude on the stack: an error
    // the code's first steps make or throw has only the code's frames, in the \`stack\` it reads too
    // (called here, each held \`at run (toolmux-prelude.js:…)\` below them)
    apply(promiseThen, started, [cell]).then(
      (value) => {
        let json;
        try {
          json = stringify(value === undefined ? null : value, readable);
        } catch (error) {
          // what was thrown read as an exception is (describe reads it under guard): reading the
          // message of a value whose getter throws threw out of this callback, and the cell never
          // ended before its deadline; a thrown string or symbol was shown as "undefined"
          done(0, new TypeError('The returned value cannot be sent as JSON: ' + describe(error).message), take(), capped);
          return;
        }
        // a function or a symbol has no JSON: a cell that returned one (\`return toolmux.execute\`
        // uncalled, an async function not run) read as a null result, which told the model nothing
        if (json === undefined) {
          const type = typeof value;
          const what = type === 'function'
            ? 'a function, which has no JSON form: return data (call the function, or return its result).'
            : type === 'symbol'
              ? 'a symbol, which has no JSON form: return data (a string, such as its description).'
              : 'an ' + type + ' whose toJSON() gives no JSON value (undefined, a function or a symbol): return data (what toJSON() should give, or the fields of the object).';
          done(0, new TypeError('The returned value is ' + what), take(), capped);
          return;
        }
        // too long to return: the host is told only how long it is
        if (json.length > limit) done(2, json.length, take(), capped);
        else done(1, json, take(), capped);
      },
      (error) => done(0, error, take(), capped),
    );
  };
  return [run, take, settle, describe, settleNow];
})();`;

/** The cell a sandbox runs. */
interface RunningCell {
  logs: string[];
  outputChars: number;
  outputCapped: boolean;
  /** The start and length of the line that the cap cut, when its start is the last line kept. */
  cutLine: { start: string; length: number } | undefined;
  toolCalls: number;
  limits: CellLimits;
  host: SandboxRawHost;
  toolCallCapped: boolean;
  /** Calls were passed to the host since its last `flush`. */
  unflushed: boolean;
  /** How the cell ended, once it has. */
  outcome: CellResult | undefined;
  /** The exception the cell's function ended with, classified once the engine has returned. */
  failed: QuickJSHandle | undefined;
  /** Called when `outcome` is set. */
  ended: (() => void) | undefined;
  /** Told the outcome at once (before any promise of the cell's caller settles). */
  onEnd: ((outcome: CellResult) => void) | undefined;
}

/**
 * The start of a console line of `length` characters that does not fit the output cap, cut to `room`
 * characters with the mark of its length (as toolmux marks text it cuts, `quotedText`), never inside
 * a surrogate pair; `undefined` when not even one character fits beside the mark.
 */
function cutLine(start: string, length: number, room: number): string | undefined {
  const mark = `… (cut: the line had ${length} characters)`;
  if (room <= mark.length) return undefined;
  return leadingText(start, room - mark.length) + mark;
}

/**
 * What a cell stopped at its deadline is told, whichever way the deadline ended it (the host's timer,
 * or the engine's interrupt in a worker thread, which said "the time limit" without the limit).
 */
function timedOut(limits: CellLimits): string {
  return `The code did not finish within ${limits.timeoutMs} ms and was stopped; globalThis was reset (toolmux.files are kept). Do less per cell, or write intermediate results to toolmux.files.`;
}

/** Frames of a thrown error's stack shown to the model (V8's default `Error.stackTraceLimit`). */
const STACK_FRAMES = 10;
/** Frames shown with a stack overflow: where the recursion is, not thousands of lines of it. */
const STACK_OVERFLOW_FRAMES = 3;

/**
 * The first `most` frames of a QuickJS stack (one `    at …` line each) after a line break, and how
 * many more there were: QuickJS keeps every frame, so an error thrown deep in a recursion had one line
 * per level (an endless one, 70 KB of `at f (cell.js:2:18)`), which the model would read whole.
 */
function framesOf(stack: string | undefined, most: number): string {
  if (!stack) return '';
  const lines = stack.replace(/\n+$/, '').split('\n');
  if (lines.length <= most) return `\n${lines.join('\n')}`;
  return `\n${lines.slice(0, most).join('\n')}\n    … ${(lines.length - most).toLocaleString('en-US')} more frames`;
}

/** What the prelude's `describe` reads of an exception. */
interface ErrorDescription {
  name: string;
  message: string;
  stack?: string;
  /** The error's `code` (a failed `toolmux` call's), where it is a string or a number. */
  code?: string;
}

/** A gap between check-ins shorter than this (ms) is not looked into (see `Sandbox.longestHoldMs`). */
const HOLD_CHECK_MS = 10;

/** This thread's CPU time (ms); the wall clock where Node.js cannot tell (before 23.9). */
const threadCpuMs: () => number =
  typeof process.threadCpuUsage === 'function'
    ? () => {
        const usage = process.threadCpuUsage();
        return (usage.user + usage.system) / 1000;
      }
    : () => performance.now();

/** A reading of this thread's CPU time, taken at most every 5 ms of wall time (reading it costs a system call). */
let cpuSample = { wall: Number.NEGATIVE_INFINITY, cpu: 0 };
function sampleCpu(now: number): void {
  if (now - cpuSample.wall >= 5) cpuSample = { wall: now, cpu: threadCpuMs() };
}

/** Options of `Sandbox.create`. */
export interface SandboxOptions {
  /** Told when the sandbox computes, and asked whether to stop early (a worker's watchdog). */
  monitor?: SandboxMonitor;
  /**
   * Share the thread with the event loop: code that computes for long waits for its next slice
   * with its stack suspended (needs `SANDBOX_SLICING_AVAILABLE`). Without it, code runs to its end,
   * its deadline or the monitor's stop.
   */
  slicer?: SandboxSlicer;
}

/**
 * One QuickJS context in its own WebAssembly instance, whose memory has a hard maximum: a memory
 * bomb ends in this instance and never grows the process past it. Model-written code runs here with
 * no host object but `toolmux` and `console`; `globalThis` lives as long as the sandbox.
 */
export class Sandbox {
  readonly #context: QuickJSContext;
  readonly #entries: EngineEntries;
  #disposed = false;
  readonly #monitor: SandboxMonitor | undefined;
  /** Where the sandbox shares its thread in slices (the main thread); undefined in a worker. */
  readonly #slicer: SandboxSlicer | undefined;
  /** When the running (or last) cell's time ends (epoch ms); Infinity before the first cell. */
  #deadline = Number.POSITIVE_INFINITY;
  /** The running cell was stopped by the monitor, not by its own limit. */
  #preempted = false;
  /** The interrupt handler stopped the code since the cell began. */
  #interrupted = false;
  /** It stopped it because the cell's context was dropped (`CellLimits.dropped`). */
  #dropRequested = false;
  /** The prelude's cell runner, outbox taker, reply settler and error reader (live as long as the sandbox). */
  #runner: QuickJSHandle | undefined;
  #take: QuickJSHandle | undefined;
  #settle: QuickJSHandle | undefined;
  #describe: QuickJSHandle | undefined;
  /** The prelude's settler of replies that run none of the code's functions (see `#deliverSuspending`). */
  #settleNow: QuickJSHandle | undefined;
  #cell: RunningCell | null = null;
  /** Replies of the running cell's calls not yet handed to the engine: `[id, replyJson, ...]`. */
  #inbox: Array<number | string> = [];
  /** The engine is entered (or about to be) for the running cell: replies wait in the inbox. */
  #stepping = false;
  /** Settles when the engine has returned from the last cell's last entry. */
  #quiet: Promise<void> = Promise.resolve();
  /** Ends the wait of code that waits for its next slice (see `#pause`). */
  #wake: (() => void) | undefined;
  /** When (performance.now()) the engine last began computing or checked in (a sliced sandbox). */
  #checkedAt = 0;
  /** The longest the running cell's code held the thread without checking in (CPU ms). */
  #longestHold = 0;

  private constructor(context: QuickJSContext, entries: EngineEntries, options: SandboxOptions) {
    this.#context = context;
    this.#entries = entries;
    this.#monitor = options.monitor;
    this.#slicer = options.slicer;
  }

  /** A fresh sandbox whose JavaScript heap is limited to `memoryMb`. */
  static async create(memoryMb: number, options: SandboxOptions = {}): Promise<Sandbox> {
    const { slicer } = options;
    if (slicer && !SANDBOX_SLICING_AVAILABLE) {
      throw new Error('This Node.js cannot suspend WebAssembly (JSPI): run the workbench in worker threads.');
    }
    const { module: compiled, initialPages } = await quickJSEngine();
    const maxPages = Math.max(INITIAL_PAGES, Math.ceil(((memoryMb + 16) * 1024 * 1024) / WASM_PAGE));
    const memory = new WebAssembly.Memory({ initial: initialPages, maximum: maxPages });
    let sandbox: Sandbox | undefined;
    // On a shared thread the steps below take turns of their own (each is a few milliseconds).
    await slicer?.turn?.();
    const module = await newQuickJSModule(
      compiled,
      memory,
      slicer
        ? () => (sandbox && !sandbox.#disposed && slicer.due() ? sandbox.#pause(slicer) : undefined)
        : undefined,
    );
    await slicer?.turn?.();
    const runtime = module.newRuntime();
    runtime.setMemoryLimit(memoryMb * 1024 * 1024);
    runtime.setMaxStackSize(512 * 1024);
    const context = runtime.newContext();
    await slicer?.turn?.();
    // Set once: QuickJS asks it every few thousand instructions.
    runtime.setInterruptHandler(() => (sandbox ? sandbox.#interrupt() : false));
    const created = new Sandbox(
      context,
      new EngineEntries(context, memory, slicer !== undefined, memoryMb),
      options,
    );
    sandbox = created;
    created.#install(module);
    return created;
  }

  /** Waits for the next slice; the time until then is not the code's. */
  async #pause(slicer: SandboxSlicer): Promise<void> {
    // a sandbox disposed meanwhile (its deadline passed) goes on at once, to unwind
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      void slicer.next().then(resolve);
    });
    this.#wake = undefined;
    this.#checkedAt = performance.now();
    sampleCpu(this.#checkedAt);
  }

  /**
   * The code checks in (the interrupt handler, or an entry that returns): how long it held the
   * thread since the last time. Only a wall-clock gap of `HOLD_CHECK_MS` or more costs a CPU reading,
   * which then tells computing (a built-in working on a large value) from the thread being descheduled.
   */
  #checkIn(): void {
    if (!this.#slicer) return;
    const now = performance.now();
    if (now - this.#checkedAt >= HOLD_CHECK_MS) {
      const held = threadCpuMs() - cpuSample.cpu - Math.max(0, this.#checkedAt - cpuSample.wall);
      if (held > this.#longestHold) this.#longestHold = held;
    }
    this.#checkedAt = now;
    sampleCpu(now);
  }

  /**
   * The longest the last cell's code computed without checking in, in CPU ms (a sliced sandbox): a
   * built-in such as `sort` or `JSON.parse` on a large value runs to its end without the interrupt
   * handler, so it cannot be suspended.
   */
  get longestHoldMs(): number {
    return this.#longestHold;
  }

  #interrupt(): boolean {
    this.#checkIn();
    if (this.#disposed || Date.now() > this.#deadline) {
      this.#interrupted = true;
      return true;
    }
    if (this.#cell?.limits.dropped?.() && !this.#cell.outcome) {
      this.#dropRequested = true;
      this.#interrupted = true;
      return true;
    }
    if (this.#monitor?.preempt()) {
      this.#preempted = true;
      this.#interrupted = true;
      return true;
    }
    return false;
  }

  /**
   * Marks the engine as computing around `entry` (the monitor's view, the slicer's clock), with no
   * promise of its own beside the entry's.
   */
  #computing<T>(entry: () => Promise<T>): Promise<T> {
    if (this.#slicer) {
      this.#slicer.begin();
      this.#checkedAt = performance.now();
      sampleCpu(this.#checkedAt);
    }
    this.#monitor?.enter();
    let running: Promise<T>;
    try {
      running = entry();
    } catch (error) {
      this.#left();
      return Promise.reject(error);
    }
    return running.then(
      (value) => {
        this.#left();
        return value;
      },
      (error: unknown) => {
        this.#left();
        throw error;
      },
    );
  }

  /** The engine returned from an entry `#computing` marked. */
  #left(): void {
    this.#monitor?.leave();
    this.#checkIn();
  }

  readonly #returned = (): void => this.#left();

  /**
   * `#computing` of an entry that calls `returned` itself once the engine has returned (exactly
   * once, also when it throws): no promise beside the entry's own.
   */
  #computingEntry<T>(entry: (returned: () => void) => Promise<T>): Promise<T> {
    if (this.#slicer) {
      this.#slicer.begin();
      this.#checkedAt = performance.now();
      sampleCpu(this.#checkedAt);
    }
    this.#monitor?.enter();
    try {
      return entry(this.#returned);
    } catch (error) {
      this.#left();
      return Promise.reject(error);
    }
  }

  /** `#computing` of an entry that returns at once (a plain engine, in a worker). */
  #computingNow<T>(entry: () => T): T {
    this.#monitor?.enter();
    try {
      return entry();
    } finally {
      this.#monitor?.leave();
      this.#checkIn();
    }
  }

  /**
   * Runs the cell on: hands it the replies in the inbox, runs the engine's jobs, and passes the
   * calls it queued to the host; again while replies came meanwhile (no promise of its own beside
   * the loop's).
   */
  #step(): void {
    const cell = this.#cell;
    if (this.#stepping || !cell) return;
    this.#stepping = true;
    this.#quiet = this.#drive(cell);
  }

  /** `#step`'s loop (entered with `#stepping` set; clears it). */
  async #drive(cell: RunningCell): Promise<void> {
    try {
      // Each step awaits only what needs it: a suspendable engine's jobs, and failures (read by
      // running the engine again); the rest is synchronous, with no promise per step.
      for (;;) {
        if (this.#inbox.length > 0) {
          const delivered = this.#entries.suspendable ? this.#deliverSuspending() : this.#deliver();
          // awaited only when a reply had to be settled by an entry that may suspend
          const refused = delivered instanceof Promise ? await delivered : delivered;
          if (refused) await this.#fail(cell, refused);
        }
        if (this.#disposed) return;
        const jobs = this.#entries.suspendable
          ? await this.#computingEntry((returned) => this.#entries.jobs(returned))
          : this.#computingNow(() => this.#entries.jobsNow());
        if (jobs.error) await this.#jobFailed(cell, jobs.error);
        if (this.#disposed) return;
        // once the cell has ended (it told the host with the calls it queued last), nothing is taken
        const refused = cell.outcome ? undefined : this.#collect(cell);
        if (refused) await this.#fail(cell, refused);
        if (cell.failed) await this.#settleFailure(cell);
        if (this.#inbox.length === 0 || this.#disposed || cell.outcome) break;
      }
    } catch (error) {
      // The engine itself failed (its Wasm memory is at its maximum, or it aborted).
      this.#engineFailed(error);
    } finally {
      this.#stepping = false;
    }
    this.#flush(cell);
  }

  /** Tells the host that the calls passed on since the last time are all there. */
  #flush(cell: RunningCell): void {
    if (!cell.unflushed) return;
    cell.unflushed = false;
    cell.host.flush?.();
  }

  /**
   * Hands the inbox's replies to the engine's `settle`, which settles each call's promise (the code
   * waiting for it runs on in the jobs after): computing, as the code's own (a plain engine has its
   * interrupt handler on throughout). Returns the exception that stopped it, for `#fail` (the
   * replies after it are not handed in: the cell ends).
   */
  #deliver(): QuickJSHandle | undefined {
    const inbox = this.#inbox;
    this.#inbox = [];
    const context = this.#context;
    const entries = this.#entries;
    for (let index = 0; index + 1 < inbox.length; index += 2) {
      const id = entries.newNumber(inbox[index] as number);
      const text = entries.newString(inbox[index + 1] as string);
      let settled: PointerResult;
      try {
        settled = this.#computingNow(() =>
          entries.callNowPointers(this.#settle as QuickJSHandle, context.undefined, id, text),
        );
      } finally {
        entries.free(id);
        entries.free(text);
      }
      if (settled.error) return settled.error;
      entries.free(settled.value);
    }
    return undefined;
  }

  /**
   * `#deliver` on a suspendable engine: a reply whose settling runs none of the code's functions (see
   * the prelude's `settleNow`) is settled at once, without the interrupt handler and without
   * suspending (an entry that may suspend costs a promise and a switch of stacks); any other is an
   * entry that may suspend, under the interrupt handler, as the code's own. Without a promise while
   * every reply is settled at once (as a rule).
   */
  #deliverSuspending(): QuickJSHandle | undefined | Promise<QuickJSHandle | undefined> {
    const inbox = this.#inbox;
    this.#inbox = [];
    const entries = this.#entries;
    for (let index = 0; index + 1 < inbox.length; index += 2) {
      const id = entries.newNumber(inbox[index] as number);
      const text = entries.newString(inbox[index + 1] as string);
      let now: PointerResult | undefined;
      try {
        now = this.#settledNow(id, text);
      } catch (error) {
        entries.free(id);
        entries.free(text);
        throw error;
      }
      if (!now) return this.#settleSuspending(inbox, index, id, text);
      entries.free(id);
      entries.free(text);
      if (now.error) return now.error;
      entries.free(now.value);
      if (this.#disposed) return undefined;
    }
    return undefined;
  }

  /**
   * `#deliverSuspending` from the reply at `index` on, whose settling may run the code's functions
   * (`id` and `text` are its values in the engine, freed here).
   */
  async #settleSuspending(
    inbox: Array<number | string>,
    index: number,
    id: number,
    text: number,
  ): Promise<QuickJSHandle | undefined> {
    const context = this.#context;
    const entries = this.#entries;
    // the first was offered to `settleNow` already
    for (let first = true; ; first = false) {
      try {
        const now = first ? undefined : this.#settledNow(id, text);
        if (now) {
          if (now.error) return now.error;
          entries.free(now.value);
        } else {
          const settled = await this.#computing(() =>
            entries.call(this.#settle as QuickJSHandle, context.undefined, id, text),
          );
          if (settled.error) return settled.error;
          settled.value.dispose();
        }
      } finally {
        entries.free(id);
        entries.free(text);
      }
      if (this.#disposed) return undefined;
      index += 2;
      if (index + 1 >= inbox.length) return undefined;
      id = entries.newNumber(inbox[index] as number);
      text = entries.newString(inbox[index + 1] as string);
    }
  }

  /**
   * The prelude's `settleNow` of one reply: what it ended with once it settled the call, undefined
   * when it left that to `settle` (run as the code's own). Its time counts from here (not from the
   * engine's last check-in: the thread did other work since).
   */
  #settledNow(id: number, text: number): PointerResult | undefined {
    const context = this.#context;
    const entries = this.#entries;
    this.#checkedAt = performance.now();
    sampleCpu(this.#checkedAt);
    const settled = this.#computingNow(() =>
      entries.callNowPointers(this.#settleNow as QuickJSHandle, context.undefined, id, text),
    );
    if (settled.error || entries.number(settled.value) === 1) return settled;
    entries.free(settled.value);
    return undefined;
  }

  /**
   * Takes the calls the engine queued since the last time and passes them to the host; the
   * exception, for `#fail`, when taking them failed.
   */
  #collect(cell: RunningCell): QuickJSHandle | undefined {
    const context = this.#context;
    this.#monitor?.enter();
    const entries = this.#entries;
    let taken: PointerResult;
    try {
      taken = entries.callNowPointers(this.#take as QuickJSHandle, context.undefined);
    } finally {
      this.#monitor?.leave();
    }
    if (taken.error) return taken.error;
    // `take` gives a string ('' when no call was queued)
    let text: string;
    try {
      text = entries.string(taken.value, 'to hand over the toolmux calls the code made');
    } finally {
      entries.free(taken.value);
    }
    // Calls queued after the cell ended are dropped: nobody awaits them any more.
    if (text !== '' && !cell.outcome) this.#forward(cell, text);
    return undefined;
  }

  /**
   * Passes queued calls (`id<tab>operation<tab>argsJson` lines) to the cell's host. Only the prelude
   * writes the outbox: a line of another shape is skipped, and the rest is not read once a line's
   * end cannot be told.
   */
  #forward(cell: RunningCell, lines: string): void {
    let start = 0;
    while (start < lines.length) {
      const tab = lines.indexOf('\t', start);
      const tab2 = tab === -1 ? -1 : lines.indexOf('\t', tab + 1);
      if (tab2 === -1) return;
      const id = lines.slice(start, tab);
      const operation = lines.slice(tab + 1, tab2);
      // the slug written before the arguments may hold any character: its length says where it ends
      let from = tab2 + 1;
      if (operation === EXECUTE_SLUG_FIRST) {
        const tab3 = lines.indexOf('\t', from);
        const length = tab3 === -1 ? Number.NaN : Number(lines.slice(from, tab3));
        if (!Number.isSafeInteger(length) || length < 0) return;
        from = tab3 + 1 + length;
      }
      let end = lines.indexOf('\n', from);
      if (end === -1) end = lines.length;
      const argsJson = lines.slice(tab2 + 1, end);
      start = end + 1;
      if (!/^\d{1,16}$/.test(id)) continue;
      if (cell.toolCalls >= cell.limits.maxToolCalls) {
        cell.toolCallCapped = true;
        this.#inbox.push(
          Number(id),
          replyOf({
            code: 'WORKBENCH_TOOL_CALL_LIMIT',
            message: `A cell may make at most ${cell.limits.maxToolCalls} toolmux calls; split the work over several cells (keep state in globalThis or toolmux.files).`,
          }),
        );
        continue;
      }
      cell.toolCalls++;
      cell.unflushed = true;
      cell.host.call(operation, argsJson, (replyJson) => this.#reply(cell, id, replyJson));
    }
  }

  /** A reply of the host: to the inbox, and the cell runs on (at once unless the engine is busy with it). */
  #reply(cell: RunningCell, id: string, replyJson: string): void {
    if (this.#cell !== cell || cell.outcome || this.#disposed) return;
    this.#inbox.push(Number(id), replyJson);
    if (this.#stepping) return;
    if (Sandbox.#batching) Sandbox.#ready.add(this);
    else this.#step();
  }

  static #batching = false;
  static #ready = new Set<Sandbox>();

  /**
   * Runs `deliver` (which gives sandboxes replies) and then every sandbox that got one runs on
   * once: replies that come together reach the engine in one go.
   */
  static batch(deliver: () => void): void {
    if (Sandbox.#batching) {
      deliver();
      return;
    }
    Sandbox.#batching = true;
    try {
      deliver();
    } finally {
      Sandbox.#batching = false;
    }
    if (Sandbox.#ready.size === 0) return;
    const ready = [...Sandbox.#ready];
    Sandbox.#ready.clear();
    for (const sandbox of ready) sandbox.#step();
  }

  /** A run of the engine's pending jobs (the cell's code after an await) ended with `error`. */
  async #jobFailed(cell: RunningCell, error: QuickJSHandle): Promise<void> {
    // A job failed outside the cell's own promise chain: an interrupt or an out-of-memory ends
    // the cell; other errors (a rejected promise nobody awaits) are the code's own business.
    const failure = this.#classify(await this.#read(error), cell.limits);
    error.dispose();
    if (failure.code !== 'WORKBENCH_CODE_ERROR') this.#end(cell, { result: null, logs: [], error: failure });
  }

  /** Sets the cell's outcome (the first one counts). */
  #end(cell: RunningCell, outcome: CellResult): void {
    if (cell.outcome) return;
    this.#endedWithCell = this.#disposed;
    cell.outcome = { ...outcome, logs: cell.logs };
    cell.ended?.();
    cell.onEnd?.(cell.outcome);
  }

  /** An entry of the engine threw: the cell ends with what the exception says. */
  async #fail(cell: RunningCell, handle: QuickJSHandle, compiled?: string): Promise<void> {
    const failure = this.#classify(await this.#read(handle, compiled), cell.limits);
    handle.dispose();
    this.#end(cell, { result: null, logs: [], error: failure });
  }

  /**
   * The cell's function reported (on the engine's stack, from its own code): its value as JSON, or
   * the exception it ended with (read once the engine has returned), and the calls it queued last
   * (passed on first, as calls made before the cell ended).
   */
  #done(
    ok: boolean,
    failure: (() => QuickJSHandle) | undefined,
    queued: string | undefined,
    value?: string | number,
  ): void {
    const cell = this.#cell;
    if (!cell || cell.outcome || cell.failed) return;
    if (queued !== undefined && queued !== '') {
      // Replies that come at once wait in the inbox: the engine runs now.
      const stepping = this.#stepping;
      this.#stepping = true;
      try {
        this.#forward(cell, queued);
      } finally {
        this.#stepping = stepping;
      }
      this.#flush(cell);
    }
    if (!ok) {
      cell.failed = failure?.();
      return;
    }
    const json = value ?? 'null';
    const length = typeof json === 'number' ? json : json.length;
    if (typeof json === 'number' || length > cell.limits.maxOutputChars) {
      this.#end(cell, {
        result: null,
        logs: [],
        error: {
          code: 'WORKBENCH_OUTPUT_LIMIT',
          message: `The returned value is ${length} characters, more than the limit of ${cell.limits.maxOutputChars}. Return a summary, or write the data with toolmux.files.write(path, value) and return the path.`,
        },
      });
      return;
    }
    // the value and the logs share the cap: the value stays whole, the logs keep what fits beside it
    if (cell.outputChars + length > cell.limits.maxOutputChars)
      this.#cutLogs(cell, cell.limits.maxOutputChars - length);
    this.#end(cell, { result: JSON.parse(json) as unknown, logs: [] });
  }

  /**
   * Keeps the cell's first log lines that fit in `room` characters (each counts one more), the start
   * of the next one as far as it fits (marked with its length), and a note.
   */
  #cutLogs(cell: RunningCell, room: number): void {
    let used = 0;
    let kept = 0;
    const logs = cell.logs;
    // lines of the code's (a note that the logs were cut already is the last entry, not a line)
    const lines = cell.outputCapped ? logs.length - 1 : logs.length;
    while (kept < lines) {
      const cost = (logs[kept] as string).length + 1;
      if (used + cost > room) break;
      used += cost;
      kept++;
    }
    let cut: string | undefined;
    if (kept < lines) {
      // a line the cap cut already is cut again from its start, with the length it had
      const line = logs[kept] as string;
      const whole = kept === lines - 1 && cell.cutLine ? cell.cutLine : { start: line, length: line.length };
      cut = cutLine(whole.start, whole.length, room - used - 1);
      cell.cutLine = cut === undefined ? undefined : whole;
    }
    logs.length = kept;
    if (cut !== undefined) {
      logs.push(cut);
      used += cut.length + 1;
    }
    cell.outputChars = used;
    cell.outputCapped = true;
    logs.push(
      `[logs cut: more than ${cell.limits.maxOutputChars} characters of output with the returned value]`,
    );
  }

  /** Ends the cell with the exception its function threw (read by the prelude's `describe`). */
  async #settleFailure(cell: RunningCell): Promise<void> {
    const handle = cell.failed;
    if (!handle || cell.outcome) return;
    cell.failed = undefined;
    const failure = this.#classify(await this.#read(handle), cell.limits);
    handle.dispose();
    this.#end(cell, {
      result: null,
      logs: [],
      error:
        cell.toolCallCapped && failure.code === 'WORKBENCH_CODE_ERROR'
          ? { code: 'WORKBENCH_TOOL_CALL_LIMIT', message: failure.message }
          : failure,
    });
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  #endedWithCell = false;

  /**
   * Whether the engine was already gone when the last cell ended (the cell ended it, or it was
   * dropped): then its context went with that cell. The engine can also end after its last cell
   * answered, even before the runner reads `disposed` (code the cell left running, in the same
   * entry of the engine): that context lived on as far as the answer goes, and the next cell is
   * told it was stopped.
   */
  get endedWithCell(): boolean {
    return this.#endedWithCell;
  }

  /** Whether the engine still runs the last cell's code (see `idle`). */
  get busy(): boolean {
    return this.#stepping && !this.#disposed;
  }

  /**
   * Settles once the engine has returned from the last cell's code, which may run on after the cell
   * answered (promise jobs it left computing), at the latest until that cell's deadline.
   */
  idle(): Promise<void> {
    return this.#quiet;
  }

  /**
   * How many times the engine was entered in a way that may suspend (a sliced sandbox: compiling and
   * starting a cell, running its jobs, settling a reply that runs the code's functions): for tests
   * and benchmarks.
   */
  get suspendableEntries(): number {
    return this.#entries.suspendableEntries;
  }

  #hostCallsDirect = false;

  /**
   * Whether the engine calls the prelude's host functions (`console.*` lines, a cell's end) directly,
   * with its pointers, rather than through quickjs-emscripten's generic path: for tests.
   */
  get hostCallsDirect(): boolean {
    return this.#hostCallsDirect;
  }

  #install(module: QuickJSWASMModule): void {
    const context = this.#context;
    const entries = this.#entries;
    // Only the prelude calls them (the code cannot reach them). `log` gets a line (at most the
    // cell's limit and one more of its characters) and the line's length: a string unless the code
    // replaced the array methods the prelude's console uses (anything else is not logged, and its
    // `toString` does not run).
    const logLine: DirectHostFunction = (arg) => {
      try {
        if (entries.isOfType(arg(0), STRING))
          this.#log(entries.string(arg(0), 'to hand over a console line'), entries.number(arg(1)));
      } catch (error) {
        this.#engineFailed(error);
      }
    };
    // `done` gets what the cell ended with: 1 and the value's JSON text, 2 and that text's length
    // when it is over the limit, or 0 and the exception; then the calls queued since the host last
    // took them (a string), and 1 when a call was refused for the cell's call limit (else 0). So no
    // argument's type needs asking (each question is a call into the engine).
    const cellDone: DirectHostFunction = (arg) => {
      const kind = entries.number(arg(0));
      let value: string | number | undefined;
      let queued: string;
      try {
        value =
          kind === 1
            ? entries.string(arg(1), 'to hand over the returned value')
            : kind === 2
              ? entries.number(arg(1))
              : undefined;
        queued = entries.string(arg(2), 'to hand over the toolmux calls the code made');
      } catch (error) {
        // the engine ends here: its cell with it, as WORKBENCH_MEMORY_LIMIT
        this.#engineFailed(error);
        return;
      }
      if (entries.number(arg(3)) === 1 && this.#cell) this.#cell.toolCallCapped = true;
      this.#done(kind !== 0, kind === 0 ? () => entries.dup(arg(1)) : undefined, queued, value);
    };
    // The same through quickjs-emscripten's generic path (where the direct one is not available).
    const genericLog = (line: QuickJSHandle, length: QuickJSHandle) => {
      const handles = [line, length];
      logLine((index) => handles[index]?.value as number);
    };
    const genericDone = (
      kind: QuickJSHandle,
      payload: QuickJSHandle,
      queued: QuickJSHandle,
      capped: QuickJSHandle,
    ) => {
      const handles = [kind, payload, queued, capped];
      cellDone((index) => handles[index]?.value as number);
    };
    const log = context.newFunction('__toolmux_log', genericLog);
    const done = context.newFunction('__toolmux_done', genericDone);
    this.#hostCallsDirect = entries.callDirectly(
      module,
      new Map<unknown, DirectHostFunction>([
        [genericLog, logLine],
        [genericDone, cellDone],
      ]),
    );
    context.setProp(context.global, '__toolmux_log', log);
    context.setProp(context.global, '__toolmux_done', done);
    log.dispose();
    done.dispose();
    const parts = context.unwrapResult(context.evalCode(PRELUDE, 'toolmux-prelude.js'));
    this.#runner = context.getProp(parts, 0);
    this.#take = context.getProp(parts, 1);
    this.#settle = context.getProp(parts, 2);
    this.#describe = context.getProp(parts, 3);
    this.#settleNow = context.getProp(parts, 4);
    parts.dispose();
  }

  /** A console line of `length` characters, of which `line` is the start (all of it when it fits). */
  #log(line: string, length: number): void {
    const cell = this.#cell;
    // lines logged after the cell ended (by code it left running) are not its answer's
    if (!cell || cell.outputCapped || cell.outcome) return;
    // a line costs its characters and one more, its line break: empty lines are not free
    if (cell.outputChars + length + 1 > cell.limits.maxOutputChars) {
      cell.outputCapped = true;
      // the start of the line, as much as fits, is kept (the note that follows is not counted)
      const start = line.slice(0, cell.limits.maxOutputChars - cell.outputChars);
      const kept = cutLine(start, length, cell.limits.maxOutputChars - cell.outputChars - 1);
      if (kept !== undefined) {
        cell.outputChars += kept.length + 1;
        cell.logs.push(kept);
        cell.cutLine = { start, length };
      }
      cell.logs.push(`[logs cut: more than ${cell.limits.maxOutputChars} characters of output]`);
      return;
    }
    cell.outputChars += length + 1;
    cell.logs.push(line);
  }

  /**
   * Runs `code` as the body of an async function. Ends at the first limit; after a timeout or an
   * out-of-memory the sandbox is disposed (its state is gone) and the caller makes a new one.
   */
  async run(code: string, host: SandboxHostCall, limits: CellLimits): Promise<CellResult> {
    const calls = new CellCalls(limits.signal, limits.timeoutMs);
    let outcome: CellResult | undefined;
    try {
      outcome = await this.runRaw(code, rawHostOf(host, calls), limits);
      return outcome;
    } finally {
      calls.end(outcome?.error);
    }
  }

  /**
   * `run` with a host that takes and gives JSON text (see `SandboxRawHost`); `onEnd`, when given,
   * gets the outcome as soon as the code has ended, before the returned promise settles.
   */
  async runRaw(
    code: string,
    host: SandboxRawHost,
    limits: CellLimits,
    onEnd?: (outcome: CellResult) => void,
  ): Promise<CellResult> {
    if (this.#disposed) throw new Error('This sandbox was disposed.');
    const runner = this.#runner;
    if (!runner) throw new Error('This sandbox has no prelude.');
    // The engine may still be returning from the last cell (a slice of code after its end).
    await this.#quiet;
    if (this.#disposed) throw new Error('This sandbox was disposed.');
    const cell: RunningCell = {
      logs: [],
      outputChars: 0,
      outputCapped: false,
      cutLine: undefined,
      toolCalls: 0,
      limits,
      host,
      toolCallCapped: false,
      unflushed: false,
      outcome: undefined,
      failed: undefined,
      ended: undefined,
      onEnd,
    };
    this.#cell = cell;
    this.#inbox = [];
    const deadline = limits.deadline ?? Date.now() + limits.timeoutMs;
    this.#deadline = deadline;
    this.#preempted = false;
    this.#interrupted = false;
    this.#dropRequested = false;
    this.#longestHold = 0;
    let timer: NodeJS.Timeout | undefined;
    try {
      const ended = new Promise<void>((resolve) => {
        cell.ended = resolve;
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
      this.#stepping = true;
      const started = this.#start(cell, code, runner);
      this.#quiet = started;
      await Promise.race([ended, started]);
      if (!cell.outcome && !this.#disposed) {
        // It awaits host calls: their replies run it on; the deadline ends it.
        await ended;
      }
      if (cell.outcome) return cell.outcome;
      this.#drop();
      const timedOut = this.#timeout(cell);
      this.#end(cell, timedOut);
      return cell.outcome ?? timedOut;
    } finally {
      clearTimeout(timer);
      // The deadline stays: code the cell left computing after it answered (promise jobs that do not
      // end) runs on only until then, and the next cell waits for it (`#quiet`).
      if (this.#cell === cell) this.#cell = null;
    }
  }

  /** Compiles the cell and calls it; then runs it on like a reply would (entered with `#stepping` set). */
  async #start(cell: RunningCell, code: string, runner: QuickJSHandle): Promise<void> {
    const context = this.#context;
    try {
      // the code's first line on the head's: a line of cell.js in a stack is the code's own line, in
      // the \`stack\` of an error the code reads as well (on a line of its own, the head put every
      // line one further down there); the prelude takes the head's width off the first line's columns
      // where it shows a stack (its \`ownStack\`). The end on a line of its own, after a last line that
      // may be a comment.
      const source = `${CELL_HEAD}${code}\n})`;
      const evaluated = await this.#computingEntry((returned) => this.#entries.eval(source, returned));
      if (evaluated.error) await this.#fail(cell, evaluated.error, code);
      else {
        const limit = this.#entries.newNumber(cell.limits.maxOutputChars);
        const maxCalls = this.#entries.newNumber(cell.limits.maxToolCalls);
        const called = await this.#computing(() =>
          this.#entries.call(runner, context.undefined, evaluated.value, limit, maxCalls),
        );
        evaluated.value.dispose();
        this.#entries.free(limit);
        this.#entries.free(maxCalls);
        if (called.error) await this.#fail(cell, called.error);
        else called.value.dispose();
      }
    } catch (error) {
      this.#stepping = false;
      this.#engineFailed(error);
      return;
    }
    if (this.#disposed || cell.outcome) {
      this.#stepping = false;
      this.#flush(cell);
      return;
    }
    await this.#drive(cell);
  }

  #timeout(cell: RunningCell): CellResult {
    return {
      result: null,
      logs: cell.logs,
      error: { code: 'WORKBENCH_TIMEOUT', message: timedOut(cell.limits) },
    };
  }

  /** The engine itself failed (its Wasm memory is at its maximum, or it aborted): drop it. */
  #engineFailed(error: unknown): void {
    this.#drop();
    const cell = this.#cell;
    if (!cell || Date.now() > this.#deadline) return;
    // The engine's frames also take the thread's own stack, which QuickJS's stack limit does not
    // see: an endless recursion (through a built-in such as forEach or String, or JSON of a value
    // nested thousands of levels deep) can overflow it first, and the engine is stopped where it was.
    const stack = error instanceof RangeError && /call stack/i.test(error.message);
    this.#end(cell, {
      result: null,
      logs: [],
      error: {
        code: 'WORKBENCH_MEMORY_LIMIT',
        message: stack
          ? "The code nested function calls or values too deeply for the workbench's stack (an endless recursion, or a value nested thousands of levels deep) and was stopped; globalThis was reset (toolmux.files are kept). Use a loop instead of deep recursion."
          : `The code used more memory than the workbench allows and was stopped; globalThis was reset (toolmux.files are kept). ${error instanceof Error ? error.message : ''}`.trim(),
      },
    });
  }

  /**
   * What an exception says, read by the prelude's `describe` inside the engine (the code's getters
   * may run, under the interrupt handler); undefined when the engine cannot even do that.
   */
  async #read(handle: QuickJSHandle, compiled?: string): Promise<ErrorDescription | undefined> {
    if (this.#disposed || !this.#describe) return undefined;
    const context = this.#context;
    let read: EntryResult;
    if (compiled === undefined) {
      read = await this.#computing(() =>
        this.#entries.call(this.#describe as QuickJSHandle, context.undefined, handle),
      );
    } else {
      // the code failed to compile: a frame past its last line is at the end of that line
      const lastBreak = compiled.lastIndexOf('\n');
      let lines = 1;
      for (let index = compiled.indexOf('\n'); index !== -1; index = compiled.indexOf('\n', index + 1))
        lines++;
      const last = this.#entries.newNumber(lines);
      const end = this.#entries.newNumber(compiled.length - lastBreak);
      try {
        read = await this.#computing(() =>
          this.#entries.call(this.#describe as QuickJSHandle, context.undefined, handle, last, end),
        );
      } finally {
        this.#entries.free(last);
        this.#entries.free(end);
      }
    }
    if (read.error) {
      read.error.dispose();
      return undefined;
    }
    // the prelude's own object without a prototype, its properties set by the prelude: reading them
    // runs none of the code's functions
    const text = (key: string): string | undefined => {
      const value = context.getProp(read.value, key);
      try {
        return context.typeof(value) === 'string' ? context.getString(value) : undefined;
      } finally {
        value.dispose();
      }
    };
    try {
      const name = text('name');
      const message = text('message');
      if (name === undefined || message === undefined) return undefined;
      const stack = text('stack');
      const code = text('code');
      const description: ErrorDescription = { name, message };
      if (stack !== undefined) description.stack = stack;
      if (code !== undefined) description.code = code;
      return description;
    } finally {
      read.value.dispose();
    }
  }

  /** Classifies an exception; an out-of-memory or an interrupt disposes the sandbox. */
  #classify(
    error: ErrorDescription | undefined,
    limits: CellLimits,
  ): { code: CellErrorCode; message: string } {
    const maxChars = limits.maxOutputChars;
    const interrupted =
      this.#interrupted && (!error || (error.name === 'InternalError' && error.message === 'interrupted'));
    if (interrupted && this.#dropRequested) {
      this.#drop();
      return contextDropped('its context was dropped').error as { code: CellErrorCode; message: string };
    }
    if (interrupted) {
      this.#drop();
      return {
        code: 'WORKBENCH_TIMEOUT',
        message: this.#preempted ? PREEMPTED : timedOut(limits),
      };
    }
    if (!error || (error.name === 'InternalError' && error.message === 'out of memory')) {
      // The engine could not even describe the exception: it has no memory left.
      this.#drop();
      return {
        code: 'WORKBENCH_MEMORY_LIMIT',
        message:
          'The code used more memory than the workbench allows and was stopped; globalThis was reset (toolmux.files are kept). Process data in smaller pieces.',
      };
    }
    if (error.name === 'InternalError' && error.message === 'stack overflow') {
      // QuickJS's own stack limit, reached before the thread's (in a worker thread, whose stack is
      // larger than the main thread's): the same limit as the host's overflow (#engineFailed), said
      // the same way, but the engine is intact, so globalThis is kept
      return {
        code: 'WORKBENCH_MEMORY_LIMIT',
        message: `The code nested function calls or values too deeply for the workbench's stack (an endless recursion, or a value nested thousands of levels deep) and was stopped; globalThis and toolmux.files are kept. Use a loop instead of deep recursion.${framesOf(error.stack, STACK_OVERFLOW_FRAMES)}`,
      };
    }
    // as a logged error reads (the prelude's showError): the code of a failed toolmux call beside its name
    const name = error.code === undefined ? error.name : `${error.name} [${error.code}]`;
    // (an empty message, `throw new Error()`, as JavaScript shows it: the name alone)
    const message =
      `${error.message === '' ? name : `${name}: ${error.message}`}${framesOf(error.stack, STACK_FRAMES)}`.trim();
    return {
      code: 'WORKBENCH_CODE_ERROR',
      message:
        message.length > maxChars
          ? `${leadingText(message, maxChars)}… [the rest cut: more than ${maxChars} characters]`
          : message,
    };
  }

  /**
   * Frees the engine; idempotent. A cell running in it ends at once with
   * `WORKBENCH_CONTEXT_DROPPED` (nothing would run it on: its replies are no longer taken): its
   * session was deleted, its ToolMux closed (`why` says which), or the main thread gave the cell
   * up already (its result is not read).
   */
  dispose(why = 'its session was deleted'): void {
    if (this.#disposed) return;
    this.#drop();
    const cell = this.#cell;
    if (cell && !cell.outcome) this.#end(cell, contextDropped(why));
  }

  /** Frees the engine (a limit of the running cell ended it, which sets the cell's outcome itself). */
  #drop(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#wake?.();
    // The Wasm instance and its memory go with the last reference; disposing handles one by one
    // would run QuickJS's leak checks on an engine that may have just run out of memory.
    this.#inbox = [];
  }
}

/**
 * Why a cell runs in a new context when code its session's last cell left running after it answered
 * ended the engine (an endless recursion, memory running out): the cell's `notice` says so.
 */
export const LEFTOVER_STOPPED =
  'the previous context was stopped by code its last cell left running after it returned (an endless recursion, or memory running out)';

/** The result of a cell whose context was dropped while it ran, or before it started (`why`). */
export function contextDropped(why: string): CellResult {
  const error = {
    code: 'WORKBENCH_CONTEXT_DROPPED' as const,
    message: `The workbench context running this code was dropped while it ran (${why}), so the code was stopped; globalThis is gone (toolmux.files are kept).`,
  };
  droppedBecause.set(error, why);
  return { result: null, logs: [], error };
}

/** The answer to a `toolmux.*` call its cell made after its context was dropped (`why`): no tool ran. */
export function droppedReply(why: string): string {
  return replyOf({
    code: 'WORKBENCH_CONTEXT_DROPPED',
    message: `The workbench context running this code was dropped (${why}), so this call ran no tool.`,
  });
}

/**
 * What a cell's `toolmux.*` call is answered with, as the prelude's `decode` reads it: its value's
 * JSON text, `''` for a value that has none (undefined), or `!` and the JSON of `{ code, message }`
 * for a failure (no JSON text starts with `!`). The value's text is not wrapped in another object,
 * so it is neither copied into one on the host nor parsed as part of one in the engine.
 */
export const REPLY_ERROR = '!';

function replyOf(error: { code: string; message: string }): string {
  return REPLY_ERROR + JSON.stringify(error);
}

/** A host value that is JSON text already (a workbench file): it reaches the code as it is. */
export class RawJson {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }
}

/** A promise-returning host as a raw one: arguments parsed, the value or the error as reply text. */
function rawHostOf(host: SandboxHostCall, calls: CellCalls): SandboxRawHost {
  return {
    call(operation, argsJson, done) {
      void callHost(host, operation, argsJson, calls.start()).then((reply) => {
        calls.finished();
        done(reply);
      });
    },
  };
}

/**
 * The abort signal of one cell's host calls (`toolmux.*`), made when its first call starts: it
 * aborts when the caller's signal does, and when the cell ends while calls still run (their results
 * are no longer awaited). A cell whose calls have all come back when it ends, or that made none,
 * costs no abort event, and one without calls no AbortController or listener on the caller's signal.
 * The cell's end aborts them with a reason of toolmux's own that says how the cell ended (see
 * `cellEndedBecause`): the calls say that, not that their caller aborted them.
 */
export class CellCalls {
  readonly #caller: AbortSignal | undefined;
  readonly #timeoutMs: number;
  #controller: AbortController | undefined;
  #onAbort: (() => void) | undefined;
  #running = 0;
  #ended = false;
  /** How the cell ended (none: its code returned), once it has. */
  #endedWith: CellResult['error'];

  /** `timeoutMs`: the cell's limit, which a call its end stopped names. */
  constructor(caller?: AbortSignal, timeoutMs = 0) {
    this.#caller = caller;
    this.#timeoutMs = timeoutMs;
  }

  /** A call starts: the signal to give it. */
  start(): AbortSignal {
    this.#running++;
    if (this.#controller) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    const caller = this.#caller;
    if (this.#ended) controller.abort(this.#endReason());
    else if (caller?.aborted) controller.abort(caller.reason);
    else if (caller) {
      this.#onAbort = () => controller.abort(caller.reason);
      caller.addEventListener('abort', this.#onAbort, { once: true });
    }
    return controller.signal;
  }

  /** A call came back. */
  finished(): void {
    this.#running--;
  }

  /**
   * The cell ended (`error`: how; none when its code returned): the calls still running are aborted
   * (idempotent).
   */
  end(error?: CellResult['error']): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endedWith = error;
    if (this.#onAbort) this.#caller?.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
    if (this.#running > 0) this.#controller?.abort(this.#endReason());
  }

  /**
   * What the cell's end aborts its calls with: the caller's reason when the caller aborted (the cell
   * was stopped for it), else why toolmux stopped them (made only when a call is left to stop).
   */
  #endReason(): unknown {
    const caller = this.#caller;
    if (caller?.aborted) return caller.reason;
    const because = cellEndedBecause(this.#endedWith, this.#timeoutMs);
    return stoppedByToolmux(
      Object.freeze({ name: 'AbortError', message: `The call was stopped because ${because}.` }),
      because,
    );
  }
}

/**
 * One `toolmux.*` call of a cell, on the thread where the session lives: its arguments' JSON text
 * parsed (`null` when it is not JSON), the host called, and its value or error as reply text. Large
 * arguments and values (a cell that passes or gets megabytes) are parsed and serialised a slice at a
 * time, so that other requests and cells run in between.
 */
export async function callHost(
  host: SandboxHostCall,
  operation: string,
  argsJson: string,
  signal: AbortSignal,
): Promise<string> {
  let args: unknown = null;
  let json = argsJson;
  let slug: string | undefined;
  if (operation === EXECUTE_SLUG_FIRST) {
    operation = 'execute';
    const tab = argsJson.indexOf('\t');
    const length = tab === -1 ? Number.NaN : Number(argsJson.slice(0, tab));
    if (Number.isSafeInteger(length) && length >= 0 && tab + 1 + length <= argsJson.length) {
      slug = argsJson.slice(tab + 1, tab + 1 + length);
      json = argsJson.slice(tab + 1 + length);
    } else json = '';
  }
  try {
    args = json.length < SLICED_PARSE_FROM ? JSON.parse(json) : await parseJsonSliced(json, new WorkSlice());
  } catch {
    // not JSON: only the prelude writes it, so this is a value the prelude could not send
  }
  if (slug !== undefined) args = { slug, args };
  let value: unknown;
  try {
    value = await host(operation, args, signal);
  } catch (error) {
    return errorReplyJsonOf(error);
  }
  // a small value (as a rule) is written at once, without a promise and a slice of its own
  let small: string | undefined | typeof NOT_SMALL;
  try {
    small = value instanceof RawJson ? value.text : smallJsonText(value === undefined ? null : value);
  } catch (error) {
    return cannotSend(error);
  }
  return small === NOT_SMALL ? replyJsonSliced(value) : (small ?? '');
}

/** A host call's value as reply text (see `REPLY_ERROR`), a large value serialised a slice at a time (or the error it cannot be sent with). */
async function replyJsonSliced(value: unknown): Promise<string> {
  if (value instanceof RawJson) return value.text;
  try {
    return (await jsonTextSliced(value === undefined ? null : value, new WorkSlice())) ?? '';
  } catch (error) {
    return cannotSend(error);
  }
}

function cannotSend(error: unknown): string {
  return replyOf({
    code: 'WORKBENCH_CODE_ERROR',
    message: `The result cannot be sent to the code: ${quotedMessage(error)}`,
  });
}

/**
 * A host call's failure as reply text (see `REPLY_ERROR`): the code of the workbench's own errors
 * and of the session's (`ToolMuxError`: a toolkit not in the session, a search limit refused), so
 * that the code can tell them apart; `WORKBENCH_CODE_ERROR` for anything else.
 */
function errorReplyJsonOf(error: unknown): string {
  return replyOf({
    code:
      error instanceof SandboxCallError || ToolMuxError.isInstance(error)
        ? error.code
        : 'WORKBENCH_CODE_ERROR',
    message: quotedMessage(error),
  });
}
