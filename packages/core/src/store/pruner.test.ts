import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../test/recording-logger.js';
import { PRUNE_BATCH, Pruner, type PruneTask } from './pruner.js';

/** A task over `rows` rows that deletes a batch at a time, or throws `failure` when given. */
function task(name: string, rows: number, failure?: Error): PruneTask & { batches: number[] } {
  let left = rows;
  const batches: number[] = [];
  return {
    batches,
    batch: async (limit) => {
      if (failure) throw failure;
      const count = Math.min(limit, left);
      left -= count;
      batches.push(count);
      return count;
    },
    doing: `delete the ${name}`,
    done: (count) => `deleted ${count} ${name}`,
  };
}

describe('Pruner', () => {
  it('runs each task a batch at a time until a batch is not full, in order; a failed task is logged and the next still runs', async () => {
    const logger = recordingLogger();
    const debug: string[] = [];
    logger.debug = (message) => debug.push(message);
    const first = task('first rows', PRUNE_BATCH * 2 + 3);
    const failing = task('failing rows', 10, new Error('the database is gone'));
    const last = task('last rows', PRUNE_BATCH);
    const pruner = new Pruner([first, failing, last], logger, 10 * 60_000);
    expect(await pruner.run()).toBe(PRUNE_BATCH * 3 + 3);
    expect(first.batches).toEqual([PRUNE_BATCH, PRUNE_BATCH, 3]);
    // a full batch is followed by one more look, which finds nothing
    expect(last.batches).toEqual([PRUNE_BATCH, 0]);
    expect(logger.warnings).toEqual([
      'toolmux: could not delete the failing rows: the database is gone. Trying again within 10 minutes.',
    ]);
    expect(debug).toEqual([
      `toolmux: deleted ${PRUNE_BATCH * 2 + 3} first rows`,
      `toolmux: deleted ${PRUNE_BATCH} last rows`,
    ]);
    // nothing left: nothing said
    expect(await pruner.run()).toBe(0);
    expect(debug).toHaveLength(2);
  });

  it('a run asked for while one goes on is that run; stop() waits for it and ends the batches', async () => {
    let release: () => void = () => {};
    let batches = 0;
    const slow: PruneTask = {
      batch: async () => {
        batches++;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return PRUNE_BATCH;
      },
      doing: 'delete slowly',
      done: (count) => `deleted ${count} slowly`,
    };
    const pruner = new Pruner([slow], recordingLogger(), 60 * 60_000);
    const running = pruner.run();
    expect(pruner.run()).toBe(running);
    await new Promise((resolve) => setImmediate(resolve));
    const stopped = pruner.stop();
    release();
    await stopped;
    // the batch going on ended, and no other began
    expect(await running).toBe(PRUNE_BATCH);
    expect(batches).toBe(1);
  });
});
