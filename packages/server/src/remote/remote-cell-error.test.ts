import { MetaToolSlug, type PlainProvider } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../testing/index.js';

/**
 * A workbench cell that failed carries its error in the result (`cellError`), so that no consumer
 * reads it out of the cell's data: a remote-mode session's result has it as an embedded one's does,
 * from the REST answer's `cell_error`.
 */
const server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
afterAll(() => server.close());

describe('remote mode: a failed workbench cell', () => {
  it('has the cell’s error as cellError, as an embedded session’s result has it, and a cell that succeeded has none', async () => {
    const remote = server.remote<PlainProvider>();
    const code = "console.log('before'); throw new TypeError('bad input')";
    const [remoteResult, embeddedResult] = await Promise.all([
      remote.create('user_cell_error').then((session) => session.execute(MetaToolSlug.WORKBENCH, { code })),
      server.embedded
        .create('user_cell_error')
        .then((session) => session.execute(MetaToolSlug.WORKBENCH, { code })),
    ]);
    // before: cellFailed alone over REST; the error only in data
    expect(remoteResult).toMatchObject({ successful: true, cellFailed: true });
    if (!remoteResult.successful || !embeddedResult.successful) throw new Error('the cells ran');
    expect(remoteResult.cellError).toEqual(embeddedResult.cellError);
    expect(remoteResult.cellError).toEqual((remoteResult.data as { error: unknown }).error);
    expect(remoteResult.cellError?.code).toBe('WORKBENCH_CODE_ERROR');
    const fine = await (await remote.create('user_cell_error')).execute(MetaToolSlug.WORKBENCH, {
      code: 'return 1',
    });
    expect(fine).not.toHaveProperty('cellError');
  });
});
