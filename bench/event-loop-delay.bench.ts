/**
 * Issue 15, item 2: a call with a 1 MB argument and a 1 MB result must not hold the event loop that
 * other requests wait for. Goal: the event-loop delay (perf_hooks.monitorEventLoopDelay) stays
 * ≤ 20 ms, for every shape, embedded and over REST.
 *
 * 1. Stages: what each step of a call costs on one megabyte of each shape, measured on the built
 *    functions: the native call (what it cost before) against the sliced one the call path runs now
 *    (parsing, the depth walk and serialising work `SLICE_MS` at a time), whose longest turn (in
 *    CPU time, which a loaded machine inflates less than wall time) is the floor of the
 *    event-loop delay, and whose total is the cost of slicing.
 * 2. Embedded: `session.execute` (SQLite file) with each payload while a tiny HTTP server in the same
 *    process answers a concurrent client; event-loop delay of the process.
 * 3. REST: a real toolmux server in a child process (SQLite file); the bench process posts the calls
 *    and probes `GET /healthz` meanwhile; the event-loop delay is measured inside the server process
 *    (the client's own JSON parsing of the answer is not the server's).
 *
 * Every line shows the small-payload noise floor of the same run: on a shared machine the process
 * can lose the CPU for tens of milliseconds whatever it runs (say the load average with the figures).
 * Run: `node --experimental-strip-types --no-warnings bench/event-loop-delay.bench.ts` (after `pnpm build`).
 * BENCH_CALLS=10 (calls per payload), BENCH_MODES=stages,embedded,rest, BENCH_TOOL=zod|json (see TOOL).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  constants,
  type IntervalHistogram,
  monitorEventLoopDelay,
  PerformanceObserver,
} from 'node:perf_hooks';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { z } from 'zod';
// not part of the public API: the built modules themselves
import {
  JsonShapeWalk,
  JsonTextParser,
  JsonWriter,
  jsonDepthExceeds,
  MAX_JSON_DEPTH,
  PlainClone,
  SLICE_MS,
} from '../packages/core/dist/internal.js';
import { redactForLog } from '../packages/core/dist/util/redact.js';
import { payloadsOf } from './payloads.ts';

const MB = 1024 * 1024;
/** The slice of the stages (BENCH_SLICE_MS: what another SLICE_MS would give). */
const STAGE_SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? SLICE_MS);
const GOAL_MS = 20;
const CALLS = Number(process.env.BENCH_CALLS ?? 10);
const MODES = (process.env.BENCH_MODES ?? 'stages,embedded,rest').split(',');
const API_KEY = 'bench-api-key-0123456789abcdef';
const silent = { debug() {}, warn() {}, error() {} };

const shapes: Record<string, () => unknown> = {
  'small payload (noise floor)': () => ({ title: 'hello' }),
  ...payloadsOf(MB),
};

/**
 * The tool the calls run: BENCH_TOOL=zod (a zod input schema, checked by zod) or json (a JSON
 * Schema, checked by Ajv on a copy of the arguments, as the tools of OpenAPI and MCP toolkits are).
 */
const TOOL = process.env.BENCH_TOOL === 'json' ? 'BENCH_ECHO_JSON' : 'BENCH_ECHO';

function echoToolkit() {
  return defineToolkit({
    slug: 'bench',
    description: 'Bench',
    tools: [
      defineTool({
        slug: 'BENCH_ECHO',
        description: 'Returns its payload',
        inputSchema: z.object({ payload: z.unknown() }),
        execute: async ({ payload }) => ({ echoed: payload }),
      }),
      defineTool({
        slug: 'BENCH_ECHO_JSON',
        description: 'Returns its payload',
        inputSchema: { type: 'object', properties: { payload: {} }, required: ['payload'] },
        execute: async (input: { payload: unknown }) => ({ echoed: input.payload }),
      }),
    ],
  });
}

const ms = (value: number) => value.toFixed(1).padStart(6);
const load = () => `load average ${loadavg()[0]!.toFixed(2)}`;

function median(run: () => unknown): number {
  const times: number[] = [];
  for (let round = 0; round < 7; round++) {
    const started = performance.now();
    run();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[3]!;
}

/**
 * CPU time in ms (not the time the process waited for a core: load-independent-ish). The process's
 * (`getrusage(RUSAGE_SELF)`, which Linux brings up to date when read, to the microsecond): the
 * thread's own (`process.threadCpuUsage`, /proc/thread-self/schedstat) moves in steps of a scheduler
 * tick (4 ms here), as coarse as the turns measured. It counts the GC's helper threads too.
 */
function cpu(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * Runs a sliced stage (`step(due)` until true) as the server does, a slice ending after SLICE_MS of
 * wall time: the longest single turn in CPU ms, and the total wall ms.
 */
function sliced(make: () => { step(due: () => boolean): boolean }): { longest: number; total: number } {
  const work = make();
  const started = performance.now();
  let sliceStart = performance.now();
  let turnCpu = cpu();
  let longest = 0;
  const due = () => performance.now() - sliceStart >= STAGE_SLICE_MS;
  for (;;) {
    const done = work.step(due);
    const now = cpu();
    longest = Math.max(longest, now - turnCpu);
    if (done) break;
    turnCpu = now;
    sliceStart = performance.now();
  }
  return { longest, total: performance.now() - started };
}

/** The median of 7 runs of `run()`: its longest turn and its total. */
function medianSliced(run: () => { longest: number; total: number }): { longest: number; total: number } {
  const runs = Array.from({ length: 7 }, run);
  const at = (key: 'longest' | 'total') => runs.map((r) => r[key]).sort((a, b) => a - b)[3]!;
  return { longest: at('longest'), total: at('total') };
}

function stages() {
  console.log(
    `\n## stages of one call on 1 MB — ${load()}\n` +
      `native: one call, ms (median of 7). sliced: what the call path runs now (a turn ends once it has worked ${STAGE_SLICE_MS} ms): ` +
      'longest single turn in CPU ms / total wall ms (median of 7). The copy and the redaction go by the keys the depth walk listed of wide objects, as the call path does (BENCH_LIST=again: they list them again). Redaction is one bounded call (4 KB of output).',
  );
  const names = ['parse', 'depth check', 'copy (JSON Schema tool)', 'stringify'];
  console.log(
    `${'payload'.padEnd(36)} ${names.map((name) => `${name}: native | sliced turn / total`.padStart(34)).join(' ')} ${'redact args'.padStart(12)} ${'redact result'.padStart(14)}`,
  );
  for (const [name, make] of Object.entries(shapes).slice(1)) {
    const payload = make();
    const body = JSON.stringify({ tool_slug: 'BENCH_ECHO', arguments: { payload } });
    const result = { successful: true, data: { echoed: payload }, error: null, log_id: 'log_x' };
    // as the call path: the copy and the redaction go by the keys of wide objects the depth walk
    // listed (BENCH_LIST=again: they list them again)
    const walk = new JsonShapeWalk({ payload }, MAX_JSON_DEPTH);
    while (!walk.step(() => false));
    const listed =
      process.env.BENCH_LIST === 'again' ? {} : { listedKeys: (object: object) => walk.wideKeys.get(object) };
    const native = [
      median(() => JSON.parse(body)),
      median(() => jsonDepthExceeds({ payload }, MAX_JSON_DEPTH)),
      median(() => structuredClone({ payload })),
      median(() => JSON.stringify(result)),
    ];
    const slicedRuns = [
      medianSliced(() => sliced(() => new JsonTextParser(body, { maxDepth: MAX_JSON_DEPTH + 16 }))),
      medianSliced(() => sliced(() => new JsonShapeWalk({ payload }, MAX_JSON_DEPTH))),
      medianSliced(() => sliced(() => new PlainClone({ payload }, listed))),
      medianSliced(() => sliced(() => new JsonWriter(result))),
    ];
    const redact = [
      median(() => redactForLog({ payload }, ['sk_live_0123456789'], listed)),
      median(() => redactForLog(result.data, ['sk_live_0123456789'], listed)),
    ];
    const cells = native.map(
      (time, index) =>
        `${time.toFixed(1)} | ${slicedRuns[index]!.longest.toFixed(1)} / ${slicedRuns[index]!.total.toFixed(1)} (${(slicedRuns[index]!.total / time).toFixed(1)}×)`,
    );
    console.log(
      `${name.padEnd(36)} ${cells.map((cell) => cell.padStart(34)).join(' ')} ${redact[0]!.toFixed(1).padStart(12)} ${redact[1]!.toFixed(1).padStart(14)}`,
    );
  }
}

function report(
  name: string,
  histogram: IntervalHistogram,
  slowest: number,
  probes: number,
  turns: {
    longestCpu: number;
    longestCpuLessGc: number;
    longestGc: number;
    gcKinds: string;
    parts: TurnParts;
  },
) {
  const max = histogram.max / 1e6;
  const { parts } = turns;
  // The histogram samples the delay of its own 1 ms timer only, so a block before its first tick or
  // after its last one goes unseen; the longest turn between ticks of the LoopTurns timer (wall time,
  // where Linux gives the main thread's times) is judged too.
  const worst = Math.max(max, parts.wall);
  const main =
    parts.wall > 0
      ? ` longest turn ${ms(parts.wall)} ms: main thread on a CPU ${ms(parts.onCpu)}, waiting for one ${ms(parts.waiting)}; most main-thread CPU in a turn ${ms(parts.mostOnCpu)} ms;`
      : '';
  console.log(
    `${name.padEnd(36)} event-loop delay max ${ms(max)} ms, p99 ${ms(histogram.percentile(99) / 1e6)} ms, p50 ${ms(histogram.percentile(50) / 1e6)} ms;  longest turn ${ms(turns.longestCpu)} CPU ms (${ms(turns.longestCpuLessGc)} without GC), longest GC pause ${ms(turns.longestGc)} ms [${turns.gcKinds}];${main}  slowest concurrent request ${ms(slowest)} ms (${probes})  ${worst <= GOAL_MS ? 'goal met' : `over the ${GOAL_MS} ms goal`}`,
  );
}

/** The kinds of GC pauses (PerformanceObserver's `detail.kind`), as `--trace-gc` names them. */
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MINOR_MARK_SWEEP]: 'minor mark-sweep',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

/** Runs `call` CALLS times in a row while a client keeps requesting `probeUrl`; the slowest probe. */
async function withProbe(
  probeUrl: string,
  call: () => Promise<void>,
): Promise<{ slowest: number; probes: number }> {
  let done = false;
  let slowest = 0;
  let probes = 0;
  const probe = (async () => {
    while (!done) {
      const started = performance.now();
      await (await fetch(probeUrl)).arrayBuffer();
      slowest = Math.max(slowest, performance.now() - started);
      probes++;
    }
  })();
  for (let index = 0; index < CALLS; index++) await call();
  done = true;
  await probe;
  return { slowest, probes };
}

async function embedded() {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-'));
  const mux = new ToolMux({
    toolkits: [echoToolkit()],
    store: `sqlite:${join(dir, 'bench.db')}`,
    logger: silent,
  });
  const session = await mux.create('user_1', { toolkits: ['bench'] });
  const tiny = createHttpServer((_, response) => response.end('ok'));
  await new Promise<void>((resolve) => tiny.listen(0, '127.0.0.1', resolve));
  const probeUrl = `http://127.0.0.1:${(tiny.address() as { port: number }).port}/`;
  console.log(
    `\n## embedded session.execute of ${TOOL}, 1 MB argument and 1 MB result (goal: max ≤ ${GOAL_MS} ms) — ${load()}`,
  );
  for (const [name, make] of [Object.entries(shapes)[0]!, ...Object.entries(shapes)]) {
    const payload = make();
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const turns = new LoopTurns();
    // the histogram's first tick, before the call (it cannot see a block before that tick)
    await new Promise((resolve) => setTimeout(resolve, 3));
    const { slowest, probes } = await withProbe(probeUrl, async () => {
      const result = await session.execute(TOOL, { payload });
      if (!result.successful) throw new Error(`${name}: ${result.error}`);
    });
    histogram.disable();
    report(name, histogram, slowest, probes, turns.stop());
  }
  tiny.close();
  await mux.close();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The main thread's time on a CPU and waiting for one (in a run queue), in ms, from Linux's
 * `/proc/thread-self/schedstat` (nanoseconds, brought up to date when read); undefined elsewhere.
 */
const mainThreadTimes = (() => {
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return undefined;
  }
  const buffer = Buffer.alloc(128);
  return (): [number, number] => {
    const text = buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0));
    const [onCpu, waiting] = text.split(' ');
    return [Number(onCpu) / 1e6, Number(waiting) / 1e6];
  };
})();

/** What the longest turn (by wall time) was made of; the most main-thread CPU time of one turn. */
interface TurnParts {
  /** Wall ms of the longest turn, and of it: the main thread on a CPU, waiting for one (load). */
  wall: number;
  onCpu: number;
  waiting: number;
  /** The most CPU time the main thread worked in one turn (what no load inflates). */
  mostOnCpu: number;
}

/**
 * The longest stretch of CPU time between two runs of a 1 ms timer (what one turn of
 * the event loop worked, whether the process had a core meanwhile or not: less sensitive to load
 * than the delay), and the longest garbage-collection pause. On Linux also the main thread's own
 * share: of the longest turn, how long it was on a CPU and how long it waited for one (a turn the
 * machine's load stretched waited; one toolmux's work stretched was on the CPU), and the most
 * main-thread CPU of any turn. (`process.cpuUsage` counts every thread: the GC's helpers,
 * concurrent marking and the compiler's background threads too.)
 */
class LoopTurns {
  readonly parts: TurnParts = { wall: 0, onCpu: 0, waiting: 0, mostOnCpu: 0 };
  #lastMain = mainThreadTimes?.();
  longestGc = 0;
  /** With BENCH_PROF: the turns over 5 CPU ms, [start, end] in µs of the CPU profile's clock, and their CPU ms. */
  readonly long: Array<[number, number, number]> = [];
  /** Turns over 1 CPU ms: [start, end] in performance.now() ms, CPU ms. */
  readonly #turns: Array<[number, number, number]> = [];
  /** GC pauses: [start, duration] in performance.now() ms. */
  readonly #pauses: Array<[number, number]> = [];
  /** Per kind of GC: how many pauses, the longest, and their sum. */
  readonly #kinds = new Map<string, { count: number; longest: number; total: number }>();
  #last = cpu();
  #lastNow = performance.now();
  #lastAt = process.hrtime.bigint();
  #timer = setInterval(() => {
    const now = cpu();
    const at = process.hrtime.bigint();
    const wall = performance.now();
    const spent = now - this.#last;
    if (spent > 1) this.#turns.push([this.#lastNow, wall, spent]);
    const main = mainThreadTimes?.();
    if (main !== undefined && this.#lastMain !== undefined) {
      const onCpu = main[0] - this.#lastMain[0];
      if (wall - this.#lastNow > this.parts.wall) {
        this.parts.wall = wall - this.#lastNow;
        this.parts.onCpu = onCpu;
        this.parts.waiting = main[1] - this.#lastMain[1];
      }
      this.parts.mostOnCpu = Math.max(this.parts.mostOnCpu, onCpu);
    }
    this.#lastMain = main;
    if (spent > 5) this.long.push([Number(this.#lastAt / 1000n), Number(at / 1000n), spent]);
    this.#last = now;
    this.#lastNow = wall;
    this.#lastAt = at;
  }, 1);
  #gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      this.longestGc = Math.max(this.longestGc, entry.duration);
      this.#pauses.push([entry.startTime, entry.duration]);
      const code = (entry.detail as { kind?: number } | undefined)?.kind ?? 0;
      const kind = GC_KINDS[code] ?? `kind ${code}`;
      const seen = this.#kinds.get(kind) ?? { count: 0, longest: 0, total: 0 };
      seen.count++;
      seen.longest = Math.max(seen.longest, entry.duration);
      seen.total += entry.duration;
      this.#kinds.set(kind, seen);
    }
  });

  constructor() {
    this.#gc.observe({ entryTypes: ['gc'] });
  }

  /**
   * The longest turn in CPU ms, and the longest once the GC pauses in it are taken out
   * (their wall time, an upper bound of their CPU time: what toolmux's own code worked in one turn).
   */
  stop(): {
    longestCpu: number;
    longestCpuLessGc: number;
    longestGc: number;
    gcKinds: string;
    parts: TurnParts;
  } {
    clearInterval(this.#timer);
    this.#gc.disconnect();
    let longestCpu = 0;
    let longestCpuLessGc = 0;
    for (const [start, end, spent] of this.#turns) {
      let gc = 0;
      for (const [at, duration] of this.#pauses) if (at >= start && at < end) gc += duration;
      longestCpu = Math.max(longestCpu, spent);
      longestCpuLessGc = Math.max(longestCpuLessGc, spent - gc);
    }
    // e.g. "3 scavenge ≤ 12.1 Σ 20.4, 1 mark-compact ≤ 4.0 Σ 4.0": what the pauses were
    const gcKinds =
      [...this.#kinds]
        .map(
          ([kind, { count, longest, total }]) =>
            `${count} ${kind} ≤ ${longest.toFixed(1)} Σ ${total.toFixed(1)}`,
        )
        .join(', ') || 'none';
    return { longestCpu, longestCpuLessGc, longestGc: this.longestGc, gcKinds, parts: this.parts };
  }
}

/** In the child: a toolmux server on an SQLite file that measures its own event-loop delay on request. */
async function serveChild(dir: string) {
  const { createServer } = await import('../packages/server/dist/index.js');
  const mux = new ToolMux({
    toolkits: [echoToolkit()],
    store: `sqlite:${join(dir, 'bench.db')}`,
    logger: silent,
  });
  const session = await mux.create('user_1', { toolkits: ['bench'] });
  const running = await createServer({
    toolmux: mux,
    apiKey: API_KEY,
    bodyLimit: 8 * MB,
    logger: silent,
  }).serve({
    port: 0,
    hostname: '127.0.0.1',
  });
  let histogram: IntervalHistogram | undefined;
  let turns: LoopTurns | undefined;
  const longTurns: Array<[number, number, number]> = [];
  process.on('message', async (message: string) => {
    if (message === 'start') {
      histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      turns = new LoopTurns();
      process.send!({ started: true });
    } else if (message === 'stop') {
      histogram!.disable();
      const { longestCpu, longestCpuLessGc, longestGc, gcKinds, parts } = turns!.stop();
      longTurns.push(...turns!.long);
      process.send!({
        max: histogram!.max,
        p99: histogram!.percentile(99),
        p50: histogram!.percentile(50),
        longestCpu,
        longestCpuLessGc,
        longestGc,
        gcKinds,
        parts,
      });
    } else if (message === 'exit') {
      if (process.env.BENCH_PROF) {
        writeFileSync(join(process.env.BENCH_PROF, `turns-${process.pid}.json`), JSON.stringify(longTurns));
      }
      await running.close();
      await mux.close();
      process.exit(0);
    }
  });
  process.send!({ url: running.url, sessionId: session.sessionId });
}

async function rest() {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-'));
  const child = fork(new URL(import.meta.url), ['server', dir], {
    stdio: 'inherit',
    execArgv: [
      '--experimental-strip-types',
      '--no-warnings',
      ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []),
      ...(process.env.BENCH_SERVER_FLAGS ? process.env.BENCH_SERVER_FLAGS.split(' ') : []),
    ],
  });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve) => child.once('message', resolve as never));
  const { url, sessionId } = (await next()) as { url: string; sessionId: string };
  const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
  console.log(
    `\n## REST POST /sessions/:id/execute of ${TOOL} to a toolmux server in a child process, 1 MB argument and 1 MB result; delay inside the server (goal: max ≤ ${GOAL_MS} ms) — ${load()}`,
  );
  for (const [name, make] of [Object.entries(shapes)[0]!, ...Object.entries(shapes)]) {
    const body = JSON.stringify({ tool_slug: TOOL, arguments: { payload: make() } });
    child.send('start');
    await next();
    const { slowest, probes } = await withProbe(`${url}/healthz`, async () => {
      const response = await fetch(`${url}/api/v1/sessions/${sessionId}/execute`, {
        method: 'POST',
        headers,
        body,
      });
      const text = await response.text();
      if (response.status !== 200 || !text.startsWith('{"successful":true')) {
        throw new Error(`${name}: ${response.status} ${text.slice(0, 300)}`);
      }
    });
    child.send('stop');
    const figures = (await next()) as {
      max: number;
      p99: number;
      p50: number;
      longestCpu: number;
      longestCpuLessGc: number;
      longestGc: number;
      gcKinds: string;
      parts: TurnParts;
    };
    report(
      name,
      {
        max: figures.max,
        percentile: (p: number) => (p === 99 ? figures.p99 : figures.p50),
      } as IntervalHistogram,
      slowest,
      probes,
      figures,
    );
  }
  child.send('exit');
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === 'server') {
  await serveChild(process.argv[3]!);
} else {
  if (MODES.includes('stages')) stages();
  if (MODES.includes('embedded')) await embedded();
  if (MODES.includes('rest')) await rest();
}
