import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { slicedValidatorOf } from '../schema/validate.js';
import { ToolMux } from '../toolmux.js';
import { defineTool, defineToolkit } from './define.js';

/**
 * A required argument the model left out of a zod-defined tool's call read zod's default
 * ("queries: Invalid input: expected array, received undefined"), while a JSON Schema tool's reads
 * "queries: is required". Every kind of field left out now says it is required and what to give,
 * whether the arguments are checked in one call or a part at a time (large arguments), and in the
 * result the model reads.
 */
const inputSchema = z.object({
  queries: z.array(z.string()),
  title: z.string(),
  count: z.number().int(),
  options: z.object({ deep: z.boolean() }),
  state: z.enum(['open', 'closed']),
  id: z.union([z.string(), z.number()]),
  note: z.string().optional(),
});

const tool = defineTool({
  slug: 'MISSING_SEARCH',
  description: 'Searches.',
  inputSchema,
  execute: () => 'done',
});

const EXPECTED = [
  { path: 'queries', message: 'is required: an array' },
  { path: 'title', message: 'is required: a string' },
  { path: 'count', message: 'is required: a number' },
  { path: 'options', message: 'is required: an object' },
  { path: 'state', message: 'is required: one of open, closed' },
  { path: 'id', message: 'is required: a string or a number' },
];

const mux = new ToolMux({
  toolkits: [defineToolkit({ slug: 'missing', description: 'Missing arguments.', tools: [tool] })],
  store: ':memory:',
  logger: { debug() {}, warn() {}, error() {} },
});
afterAll(() => mux.close());

const everyPart = { due: () => true, pause: () => Promise.resolve() };

describe('a zod tool called without its required arguments', () => {
  it('says each one is required and what to give, in one call', () => {
    expect(tool.validate({})).toEqual({ success: false, issues: EXPECTED });
    expect(
      tool.validate({ title: undefined, queries: [], count: 1, options: {}, state: 'open', id: 1 }),
    ).toEqual({
      success: false,
      issues: [
        { path: 'title', message: 'is required: a string' },
        { path: 'options.deep', message: 'is required: a boolean' },
      ],
    });
  });

  it('says the same when large arguments are checked a part at a time', async () => {
    const large = { note: 'x'.repeat(10), extra: Array.from({ length: 5000 }, (_, n) => n) };
    expect(await slicedValidatorOf(tool.validate)!(large, everyPart)).toEqual({
      success: false,
      issues: EXPECTED,
    });
  });

  it('reads so in the result the model gets, and says what to send for a value of the wrong type', async () => {
    const session = await mux.create('missing_user', { toolkits: ['missing'] });
    const result = await session.execute('MISSING_SEARCH', {
      title: 5,
      count: 1,
      options: { deep: true },
      state: 'open',
      id: 'a',
    });
    expect(result.successful).toBe(false);
    expect(result.error).toBe(
      'Invalid arguments for MISSING_SEARCH: queries: is required: an array; title: is a number: send a string',
    );
  });
});
