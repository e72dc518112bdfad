import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './testing/index.js';

/**
 * `session.execute()` with a slug that is not a non-empty string (from JavaScript, or code that
 * passes a model's value on) is a refused request in both modes: a failed result with the code
 * INVALID_REQUEST and no log entry, as the server answers a remote session; never a TypeError. And
 * an unknown slug of any length is named, cut, in a message the model can read.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(async () => {
  await server.close();
});

describe.each(['embedded', 'remote'] as const)('execute() with a slug that is not one (%s)', (mode) => {
  const muxOf = () => (mode === 'embedded' ? server.embedded : server.remote());

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', { slug: 'TASKS_LIST_TASKS' }],
    ['an empty string', ''],
  ])('refuses %s with INVALID_REQUEST and writes no log entry', async (_, slug) => {
    const session = await muxOf().create('slug-user', { toolkits: ['tasks'] });
    const result = await session.execute(slug as unknown as string, {});
    expect(result).toMatchObject({ successful: false, data: null, code: 'INVALID_REQUEST', logId: '' });
    expect(result.error).toMatch(/tool_slug|slug/);
    expect((await session.logs()).items).toEqual([]);
  });

  it('names an unknown slug of 100,000 characters cut, with no hint', async () => {
    const session = await muxOf().create('slug-user', { toolkits: ['tasks'] });
    const slug = `TASKS_LIST_TASKS${'X'.repeat(100_000)}`;
    const result = await session.execute(slug, {});
    expect(result).toMatchObject({ successful: false, code: 'TOOL_NOT_FOUND' });
    expect(result.error!.length).toBeLessThan(400);
    expect(result.error).toContain('TASKS_LIST_TASKSXXX');
    expect(result.error).not.toContain('Did you mean');
  });
});
