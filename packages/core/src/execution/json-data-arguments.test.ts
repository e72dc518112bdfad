import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { turnsDuring } from '../test/turns.js';
import { ToolMux } from '../toolmux.js';

/**
 * Arguments that are not plain JSON data (a Date, a class instance, an object with `toJSON`) reach a
 * tool as JSON carries them, as from a remote session. A megabyte of them is turned into JSON and
 * back a slice at a time, as plain arguments are walked, instead of one `JSON.stringify` and one
 * `JSON.parse` that held the event loop for the whole of it.
 */

const quiet = { debug() {}, warn() {}, error() {} };

/** What the tool received, call by call. */
const received: unknown[] = [];

const echo = defineToolkit({
  slug: 'echo',
  description: 'Echo',
  tools: [
    defineTool({
      slug: 'ECHO_PAYLOAD',
      description: 'Takes a payload',
      inputSchema: z.object({ payload: z.unknown(), when: z.string() }),
      execute: async (input) => {
        received.push(input);
        return { ok: true };
      },
    }),
  ],
});

const mux = new ToolMux({ toolkits: [echo], store: ':memory:', logger: quiet });
afterAll(() => mux.close());
const session = await mux.create('user_1', { sessionPreset: 'DIRECT_TOOLS' });
const WHEN = new Date('2026-01-02T03:04:05.000Z');

/** A class instance: own fields are written, the getter on its prototype is not. */
class Point {
  x: number;
  y: number;
  constructor(x: number, y: number) {
    this.x = x;
    this.y = y;
  }
  get sum(): number {
    return this.x + this.y;
  }
}

/** An object JSON writes through its `toJSON`, which is told its key. */
class Labelled {
  readonly label: string;
  constructor(label: string) {
    this.label = label;
  }
  toJSON(key: string): unknown {
    return { label: this.label, key };
  }
}

/** Values of every kind JSON.stringify writes its own way, nested in plain data. */
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 1 }),
    fc.date({ noInvalidDate: true }),
    fc.tuple(fc.integer(), fc.integer()).map(([x, y]) => new Point(x, y)),
    fc.string().map((label) => new Labelled(label)),
    // NaN and ±Infinity are refused where they are (non-finite-arguments.test.ts), not taken as null
    fc.constantFrom(undefined, () => 1, Symbol('s'), -0),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }),
  ),
}));

/** Small, large (many entries: the writer's slices) and long (past the text parsed in slices). */
const payload = fc.oneof(
  anyValue,
  fc.array(anyValue, { minLength: 200, maxLength: 400 }),
  fc.tuple(anyValue, fc.constant('ł'.repeat(70_000))),
);

describe('arguments that are not plain JSON data', () => {
  it('reach the tool as their JSON does, small or large (property)', async () => {
    await fc.assert(
      fc.asyncProperty(payload, async (value) => {
        const args = { payload: value, when: WHEN };
        const asJson = JSON.parse(JSON.stringify(args));
        received.length = 0;
        const given = await session.execute('ECHO_PAYLOAD', args);
        const givenReceived = received.splice(0);
        const plain = await session.execute('ECHO_PAYLOAD', asJson);
        expect(given).toMatchObject({ successful: plain.successful, error: plain.error });
        expect(givenReceived).toEqual(received);
        expect(JSON.stringify(givenReceived)).toBe(JSON.stringify(received));
      }),
      { numRuns: 60 },
    );
  });

  it('are turned into JSON a slice at a time when large', async () => {
    // the turn each toJSON ran in, until the tool ran (the log's redaction writes them again after)
    const turnsOfToJson: number[] = [];
    let turnsSoFar = () => 0;
    received.length = 0;
    class Stamp {
      readonly n: number;
      constructor(n: number) {
        this.n = n;
      }
      toJSON(): unknown {
        if (received.length === 0) turnsOfToJson.push(turnsSoFar());
        return { n: this.n };
      }
    }
    const args = { payload: Array.from({ length: 5_000 }, (_, n) => new Stamp(n)), when: WHEN };
    const { value: result } = await turnsDuring(
      (turns) => {
        turnsSoFar = turns;
        return session.execute('ECHO_PAYLOAD', args);
      },
      { stepMs: 5 },
    );
    expect(result.successful).toBe(true);
    expect(received).toEqual([JSON.parse(JSON.stringify(args))]);
    expect(turnsOfToJson).toHaveLength(5_000);
    // in one JSON.stringify (before) every toJSON ran in the same turn
    expect(turnsOfToJson.at(-1)!).toBeGreaterThan(turnsOfToJson[0]!);
  });

  it('that JSON cannot carry (a BigInt) are refused naming where it is, small or large', async () => {
    // the shape walk finds it (it was the message of JSON.stringify, naming no place)
    const expected = (index: number) =>
      `The arguments of ECHO_PAYLOAD are not JSON data: arguments.payload[${index}] is a BigInt (10n), which JSON cannot carry: send it as a string, or as a number when it fits one.`;
    for (const value of [[10n], [...Array.from({ length: 500 }, (_, n) => new Point(n, n)), 10n]]) {
      const result = await session.execute('ECHO_PAYLOAD', { payload: value, when: WHEN });
      expect(result).toMatchObject({
        successful: false,
        code: 'TOOL_ARGUMENTS_INVALID',
        error: expected(value.length - 1),
      });
    }
  });
});
