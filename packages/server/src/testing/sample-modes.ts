import {
  type Logger,
  type Provider,
  type SessionOf,
  SessionPreset,
  type Tool,
  type Toolkit,
  ToolMux,
} from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { startTestServer, type TestServer } from './index.js';

/** The two ways a provider's tests run a ToolMux: embedded, or remote on a live toolmux server. */
export const TOOLMUX_MODES = ['embedded', 'remote'] as const;
export type ToolMuxMode = (typeof TOOLMUX_MODES)[number];

type SampleToolkits = ReturnType<typeof createSampleToolkits>;

/** What `SampleModes.session` creates. */
export interface SampleSessionOptions {
  /** @default 'embedded' */
  mode?: ToolMuxMode;
  /** @default SessionPreset.META_TOOLS */
  preset?: SessionPreset;
  /** Tools preloaded under META_TOOLS. */
  preload?: string[];
  /** The session's toolkits (all the ToolMux has when absent). */
  toolkits?: string[];
  customTools?: Tool[];
  /** More toolkits beside the samples (embedded only: the test server serves the samples). */
  extraToolkits?: Toolkit[];
  /** The embedded ToolMux's logger (silent by default). */
  logger?: Logger;
}

/**
 * The sample toolkits (`createSampleToolkits`) in both modes, for a provider package's agent-loop
 * tests: an embedded ToolMux over fresh samples, or a remote-mode ToolMux on a test server in this
 * process, whose samples are reset for each ToolMux so that `calls` and `tasks` hold one test's work.
 * Wire its lifecycle to the test runner:
 *
 * @example
 * import { afterAll, afterEach, beforeAll } from 'vitest';
 * const samples = sampleModes({}, { beforeAll, afterEach, afterAll });
 * it.each(TOOLMUX_MODES)('… (%s)', async (mode) => {
 *   const { session, tools, calls } = await samples.session(new VercelProvider(), { mode });
 * });
 */
export interface SampleModes {
  /** Starts the test server (call in `beforeAll`). */
  start(): Promise<void>;
  /** Closes the ToolMuxes made since the last call (call in `afterEach`). */
  closeMuxes(): Promise<void>;
  /** Closes them and the server (call in `afterAll`). */
  close(): Promise<void>;
  /** The test server (after `start()`). */
  readonly server: TestServer;
  /** Closes `mux` with the others in `closeMuxes` (for a ToolMux a test makes itself). */
  track<T extends ToolMux<Provider<unknown>>>(mux: T): T;
  /** A remote-mode ToolMux on the test server, over what the server serves (not tracked). */
  remote<P extends Provider<unknown>>(provider: P): ToolMux<P>;
  /** A ToolMux with `provider` over the samples, in `mode`. */
  muxOf<P extends Provider<unknown>>(
    mode: ToolMuxMode,
    provider: P,
    options?: Pick<SampleSessionOptions, 'extraToolkits' | 'logger'>,
  ): SampleToolkits & { mux: ToolMux<P> };
  /** `muxOf`, then one session of `user_1` and its tools as the provider wraps them. */
  session<P extends Provider<unknown>>(
    provider: P,
    options?: SampleSessionOptions,
  ): Promise<
    SampleToolkits & {
      mux: ToolMux<P>;
      session: SessionOf<P>;
      tools: Awaited<ReturnType<SessionOf<P>['tools']>>;
    }
  >;
}

const silent: Logger = { debug() {}, warn() {}, error() {} };

/** The test runner's lifecycle hooks (vitest's, say), to which `sampleModes` wires itself. */
export interface LifecycleHooks {
  beforeAll(run: () => Promise<void>): void;
  afterEach(run: () => Promise<void>): void;
  afterAll(run: () => Promise<void>): void;
}

/**
 * `defaults` apply to every `session()` that does not set them (e.g. `{ toolkits: ['tasks', 'notes'] }`);
 * with `hooks`, the server starts before the file's tests, each test's ToolMuxes close after it, and
 * the server closes after the file.
 */
export function sampleModes(
  defaults: Pick<SampleSessionOptions, 'toolkits' | 'preset'> = {},
  hooks?: LifecycleHooks,
): SampleModes {
  const served = createSampleToolkits();
  let server: TestServer | undefined;
  const muxes: ToolMux<Provider<unknown>>[] = [];

  const muxOf: SampleModes['muxOf'] = (mode, provider, options = {}) => {
    if (mode === 'embedded') {
      const sample = createSampleToolkits();
      const mux = new ToolMux({
        provider,
        toolkits: [...sample.toolkits, ...(options.extraToolkits ?? [])],
        store: ':memory:',
        logger: options.logger ?? silent,
      });
      muxes.push(mux as ToolMux<Provider<unknown>>);
      return { ...sample, mux };
    }
    if (!server) throw new Error('sampleModes(): call start() (in beforeAll) before a remote ToolMux.');
    if (options.extraToolkits?.length)
      throw new Error('sampleModes(): the test server serves the sample toolkits only (extraToolkits).');
    served.calls.length = 0;
    served.tasks.clear();
    const mux = server.remote(provider);
    muxes.push(mux as ToolMux<Provider<unknown>>);
    return { ...served, mux };
  };

  const samples: SampleModes = {
    async start() {
      server ??= await startTestServer({ toolkits: served.toolkits });
    },
    async closeMuxes() {
      await Promise.all(muxes.splice(0).map((mux) => mux.close()));
    },
    async close() {
      await this.closeMuxes();
      await server?.close();
      server = undefined;
    },
    get server() {
      if (!server) throw new Error('sampleModes(): call start() (in beforeAll) before using the server.');
      return server;
    },
    track(mux) {
      muxes.push(mux);
      return mux;
    },
    remote(provider) {
      if (!server) throw new Error('sampleModes(): call start() (in beforeAll) before a remote ToolMux.');
      return server.remote(provider);
    },
    muxOf,
    async session(provider, given = {}) {
      const options = {
        ...given,
        toolkits: given.toolkits ?? defaults.toolkits,
        preset: given.preset ?? defaults.preset,
      };
      const mode = options.mode ?? 'embedded';
      const { mux, ...sample } = muxOf(mode, provider, options);
      if (mux.mode !== mode) throw new Error(`sampleModes(): expected a ${mode} ToolMux, got ${mux.mode}.`);
      const session = await mux.create('user_1', {
        sessionPreset: options.preset ?? SessionPreset.META_TOOLS,
        preload: { tools: options.preload ?? [] },
        ...(options.toolkits ? { toolkits: options.toolkits } : {}),
        ...(options.customTools ? { experimental: { customTools: options.customTools } } : {}),
      });
      const tools = await session.tools();
      return { ...sample, mux, session, tools };
    },
  };
  if (hooks) {
    hooks.beforeAll(() => samples.start());
    hooks.afterEach(() => samples.closeMuxes());
    hooks.afterAll(() => samples.close());
  }
  return samples;
}
