import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { Toolkit } from '../catalog/types.js';

/**
 * What a tool's code can throw that is not a plain Error, each with words the message of the failed
 * result must have: values that are no Error at all, Errors whose getters throw, proxies whose traps
 * throw, a cycle neither JSON nor `String()` can write, a ToolMuxError of another copy of the package,
 * a message of megabytes. Reading any of them must not throw: the call answers a failed result the
 * model can read, and is logged.
 */
export interface HostileThrow {
  kind: string;
  thrown: () => unknown;
  /** Words the failed result's message has. */
  words: string[];
  /** The result's code. @default 'TOOL_EXECUTION_FAILED' */
  code?: string;
}

const trapThrows = () => {
  throw new Error('the trap threw');
};

function errorWith(property: 'message' | 'name', words: string): Error {
  const error = new Error(property === 'name' ? '' : 'hidden');
  Object.defineProperty(error, property, {
    get() {
      throw new Error(words);
    },
  });
  return error;
}

/** The length of the `huge` kind's message. */
export const HUGE_THROWN_MESSAGE_CHARS = 5_000_000;

export const HOSTILE_THROWS: readonly HostileThrow[] = [
  { kind: 'string', thrown: () => 'plain words', words: ['plain words'] },
  { kind: 'null', thrown: () => null, words: ['null'] },
  { kind: 'undefined', thrown: () => undefined, words: ['undefined'] },
  { kind: 'symbol', thrown: () => Symbol('why'), words: ['Symbol(why)'] },
  { kind: 'function', thrown: () => function named() {}, words: ['a function (named)'] },
  {
    kind: 'cycle without prototype',
    thrown: () => {
      const cycle = Object.create(null) as Record<string, unknown>;
      cycle.self = cycle;
      return cycle;
    },
    words: ['an object that threw when it was read'],
  },
  {
    kind: 'proxy whose traps throw',
    thrown: () =>
      new Proxy(
        {},
        {
          get: trapThrows,
          getPrototypeOf: trapThrows,
          ownKeys: trapThrows,
          getOwnPropertyDescriptor: trapThrows,
        },
      ),
    words: ['an object that threw when it was read', 'the trap threw'],
  },
  {
    kind: 'Error proxy whose get trap throws',
    thrown: () => new Proxy(new Error('hidden'), { get: trapThrows }),
    words: ['an Error that threw when it was read', 'the trap threw'],
  },
  {
    kind: 'Error whose message getter throws',
    thrown: () => errorWith('message', 'the message getter threw'),
    words: ['the message getter threw'],
  },
  {
    kind: 'Error whose name getter throws',
    thrown: () => errorWith('name', 'the name getter threw'),
    words: ['the name getter threw'],
  },
  {
    kind: 'Error whose message is an object',
    thrown: () => Object.assign(new Error(), { message: { code: 7 } }),
    words: ['{"code":7}'],
  },
  {
    kind: 'object whose toJSON and toString throw',
    thrown: () => ({
      toJSON() {
        throw new Error('no JSON');
      },
      toString() {
        throw new Error('no string either');
      },
    }),
    words: ['no string either'],
  },
  {
    kind: 'Error with a cyclic cause',
    thrown: () => {
      const error = new Error('the cause loops');
      error.cause = error;
      return error;
    },
    words: ['the cause loops'],
  },
  {
    kind: 'AggregateError',
    thrown: () => new AggregateError([new Error('one'), 'two'], 'several failed'),
    words: ['several failed'],
  },
  {
    kind: 'ToolMuxError of another copy without messageFor',
    thrown: () => ({
      [Symbol.for('toolmux.error')]: true,
      code: 'CONNECTION_REQUIRED',
      message: 'connect it',
    }),
    words: ['connect it'],
    code: 'CONNECTION_REQUIRED',
  },
  {
    kind: 'ToolMuxError of another copy with a code this copy does not know',
    thrown: () => ({ [Symbol.for('toolmux.error')]: true, code: 'FROM_THE_FUTURE', message: 'new code' }),
    words: ['new code'],
  },
  {
    kind: 'Error of megabytes',
    thrown: () => new Error('x'.repeat(HUGE_THROWN_MESSAGE_CHARS)),
    words: ['xxxxxxxx… (cut: the message had 50000'],
  },
];

/**
 * Results whose reading throws a message of megabytes (a getter, a `toJSON`): the call fails with
 * TOOL_RESULT_INVALID, and the message quotes what was thrown cut, like a message a handler throws.
 */
export const HOSTILE_RESULTS: readonly HostileThrow[] = [
  {
    kind: 'getter that throws a string of megabytes',
    thrown: () => ({
      get rows() {
        throw 'x'.repeat(HUGE_THROWN_MESSAGE_CHARS);
      },
    }),
    words: [
      'data.rows threw when it was read: xxxxxxxx',
      'xxxxxxxx… (cut: the message had 5000000 characters)',
    ],
    code: 'TOOL_RESULT_INVALID',
  },
  {
    kind: 'toJSON that throws an Error of megabytes',
    thrown: () => ({
      at: {
        toJSON() {
          throw new Error('y'.repeat(HUGE_THROWN_MESSAGE_CHARS));
        },
      },
    }),
    words: [
      'data.at has a toJSON() that threw: yyyyyyyy',
      'yyyyyyyy… (cut: the message had 5000000 characters)',
    ],
    code: 'TOOL_RESULT_INVALID',
  },
  {
    kind: 'getter that throws an object of megabytes',
    thrown: () => ({
      get rows() {
        throw { rows: Array.from({ length: 500_000 }, (_, n) => ({ n })) };
      },
    }),
    words: ['data.rows threw when it was read: {"rows":[{"n":0},', '… (cut: the message had more than'],
    code: 'TOOL_RESULT_INVALID',
  },
];

/**
 * A toolkit (`hostile` by default) whose tool `<SLUG>_THROW` throws the {@link HOSTILE_THROWS} entry
 * named by its argument `kind`, and whose tool `<SLUG>_RETURN` returns the value of the
 * {@link HOSTILE_RESULTS} entry named by it.
 */
export function hostileThrowsToolkit(slug = 'hostile'): Toolkit {
  return defineToolkit({
    slug,
    description: 'A tool that throws what is not an Error',
    tools: [
      defineTool({
        slug: `${slug.toUpperCase()}_THROW`,
        description: 'Throw an odd value',
        inputSchema: z.object({ kind: z.string() }),
        execute: async ({ kind }) => {
          const entry = HOSTILE_THROWS.find((candidate) => candidate.kind === kind);
          if (!entry) throw new Error(`no kind ${kind}`);
          throw entry.thrown();
        },
      }),
      defineTool({
        slug: `${slug.toUpperCase()}_RETURN`,
        description: 'Return a value whose reading throws',
        inputSchema: z.object({ kind: z.string() }),
        execute: async ({ kind }) => {
          const entry = HOSTILE_RESULTS.find((candidate) => candidate.kind === kind);
          if (!entry) throw new Error(`no kind ${kind}`);
          return entry.thrown();
        },
      }),
    ],
  });
}
