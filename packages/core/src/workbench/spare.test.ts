import { describe, expect, it } from 'vitest';
import type { ToolResult } from '../execution/result.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { type CellLimits, Sandbox, type SandboxHostCall } from './sandbox.js';
import { SpareSandbox } from './spare.js';

// One worker thread: every new context takes that worker's spare.
process.env.TOOLMUX_WORKBENCH_WORKERS = '1';
process.env.TOOLMUX_WORKBENCH_MAX_WORKERS = '1';

// no test here is bounded by the clock unless it says so: a loaded machine takes seconds for work that
// takes milliseconds alone (a cell that builds a 10 MB string timed out at 2 s in CI)
const limits: CellLimits = { timeoutMs: 30_000, maxOutputChars: 10_000, maxToolCalls: 5 };
const noHost: SandboxHostCall = async () => null;
const quiet = { debug() {}, warn() {}, error() {} };
type Cell = { result: unknown; logs: string[]; error?: { code: string; message: string }; notice?: string };
const cellOf = (result: ToolResult) => result.data as Cell;
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
/** About 30 MB of live strings: more than a 16 MB context holds, well within a 64 MB one. */
const THIRTY_MB =
  'const all = []; for (let i = 0; i < 30; i++) all.push(new ArrayBuffer(1 << 20)); return all.length;';
/** Leaves state a later context must not see: a global, a prototype property, a changed built-in. */
const LEAVE_STATE =
  'globalThis.secret = "s"; Object.prototype.leaked = "p"; Array.prototype.push = () => "hijacked"; Math.max = () => "hijacked"; return 1;';
const READ_STATE =
  'const a = []; a.push(1); return [typeof globalThis.secret, ({}).leaked === undefined, a.length, Math.max(1, 2)];';

describe('SpareSandbox', () => {
  it('gives a spare to one new context only: the next gets another, with none of the first one’s state', async () => {
    const made: Sandbox[] = [];
    const spare = new SpareSandbox(
      async (memoryMb) => {
        const sandbox = await Sandbox.create(memoryMb);
        made.push(sandbox);
        return sandbox;
      },
      () => true,
    );
    spare.want(16);
    await nextTurn();
    const first = await spare.take(16);
    expect(first).toBeDefined();
    expect(first).toBe(made[0]);
    expect((await first!.run(LEAVE_STATE, noHost, limits)).result).toBe(1);
    // Taking it asked for the next one, made on a later turn.
    await nextTurn();
    const second = await spare.take(16);
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect((await second!.run(READ_STATE, noHost, limits)).result).toEqual(['undefined', true, 1, 2]);
    expect(spare.taken).toBe(2);
    // Taken twice in a row without a turn between: the second caller makes its own.
    expect(await spare.take(16)).toBeUndefined();
  });

  it('never gives a spare of another memoryMb; the one it gives holds the session’s limit', async () => {
    const spare = new SpareSandbox(
      (memoryMb) => Sandbox.create(memoryMb),
      () => true,
    );
    spare.want(64);
    await nextTurn();
    expect(await spare.take(16)).toBeUndefined();
    // The 64 MB spare was dropped for a 16 MB one.
    await nextTurn();
    const small = await spare.take(16);
    expect(small).toBeDefined();
    const bomb = await small!.run(THIRTY_MB, noHost, limits);
    expect(bomb.error?.code).toBe('WORKBENCH_MEMORY_LIMIT');
    spare.want(64);
    await nextTurn();
    const large = await spare.take(64);
    expect((await large!.run(THIRTY_MB, noHost, limits)).result).toBe(30);
    expect(spare.made).toBe(3);
  });

  it('is not made while a cell runs (it would delay that cell’s tool replies); refill makes it later', async () => {
    let idle = false;
    const spare = new SpareSandbox(
      (memoryMb) => Sandbox.create(memoryMb),
      () => idle,
    );
    spare.want(16);
    await nextTurn();
    expect(spare.made).toBe(0);
    idle = true;
    spare.refill();
    await nextTurn();
    expect(spare.made).toBe(1);
    expect(await spare.take(16)).toBeDefined();
  });
});

describe('spare sandboxes in the workbench', () => {
  it('a session’s first cell never sees state another session’s cells left, and honours its memoryMb', async () => {
    const sample = createSampleToolkits();
    const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
    const pause = () => new Promise((resolve) => setTimeout(resolve, 50));
    for (let round = 0; round < 4; round++) {
      const writer = await mux.create('user_1', { workbench: {} });
      expect(cellOf(await writer.execute(MetaToolSlug.WORKBENCH, { code: LEAVE_STATE })).result).toBe(1);
      await pause();
      const reader = await mux.create('user_2', { workbench: {} });
      const read = cellOf(await reader.execute(MetaToolSlug.WORKBENCH, { code: READ_STATE }));
      expect(read.error).toBeUndefined();
      expect(read.result).toEqual(['undefined', true, 1, 2]);
      await pause();
    }
    // The worker's spare is for 64 MB contexts now: a 16 MB session gets a 16 MB context.
    const small = await mux.create('user_1', { workbench: { memoryMb: 16 } });
    expect(cellOf(await small.execute(MetaToolSlug.WORKBENCH, { code: THIRTY_MB })).error?.code).toBe(
      'WORKBENCH_MEMORY_LIMIT',
    );
    await pause();
    // And the next 16 MB session, whose context may be a spare made for 16 MB, too.
    const next = await mux.create('user_1', { workbench: { memoryMb: 16 } });
    expect(cellOf(await next.execute(MetaToolSlug.WORKBENCH, { code: THIRTY_MB })).error?.code).toBe(
      'WORKBENCH_MEMORY_LIMIT',
    );
    await pause();
    const large = await mux.create('user_1', { workbench: { memoryMb: 64 } });
    expect(cellOf(await large.execute(MetaToolSlug.WORKBENCH, { code: THIRTY_MB })).result).toBe(30);
    await mux.close();
  });
});
