import { describe, expect, it } from 'vitest';
import { checkJsonDepth, jsonDepthExceeds, parsedJsonDepthExceeds } from './json-depth.js';

function nested(depth: number): unknown {
  let value: unknown = {};
  for (let i = 1; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

describe('JSON depth', () => {
  it('counts objects and arrays, scalars are depth 0', () => {
    expect(jsonDepthExceeds('text', 0)).toBe(false);
    expect(jsonDepthExceeds({}, 0)).toBe(true);
    expect(jsonDepthExceeds(nested(10), 10)).toBe(false);
    expect(jsonDepthExceeds(nested(11), 10)).toBe(true);
  });

  it('walks any depth without overflowing the stack, and a cycle is too deep, not a hang', () => {
    expect(jsonDepthExceeds(nested(1_000_000), 128)).toBe(true);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(jsonDepthExceeds(cycle, 128)).toBe(true);
  });

  it('visits a shared object again only when it is reached deeper', () => {
    // 2^40 paths through 40 shared levels: a naive walk would never end
    let shared: unknown = {};
    for (let i = 0; i < 40; i++) shared = { left: shared, right: shared };
    expect(jsonDepthExceeds(shared, 128)).toBe(false);
    expect(jsonDepthExceeds(shared, 30)).toBe(true);
  });

  it('throws the given code naming the subject and the limit', () => {
    expect(() => checkJsonDepth(nested(200), 'The arguments', 'TOOL_ARGUMENTS_INVALID', 128)).toThrow(
      /The arguments nests objects and arrays more than 128 levels deep/,
    );
  });
});

describe('parsedJsonDepthExceeds', () => {
  it('agrees with jsonDepthExceeds on parsed JSON, at the limit and past it, with objects and arrays', () => {
    for (const depth of [0, 1, 2, 127, 128, 129, 1024, 1025, 200_000]) {
      const text =
        depth === 0
          ? '"x"'
          : `${'[{"a":'.repeat(Math.floor(depth / 2))}${depth % 2 ? '[1,"s",null]' : '1'}${'}]'.repeat(Math.floor(depth / 2))}`;
      const value: unknown = JSON.parse(text);
      for (const limit of [0, 1, 128, 1024]) {
        expect(parsedJsonDepthExceeds(value, limit), `${depth} levels, limit ${limit}`).toBe(
          jsonDepthExceeds(value, limit),
        );
      }
    }
  });

  it('a cycle (never parsed JSON) is too deep, not a hang', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = [cycle];
    expect(parsedJsonDepthExceeds(cycle, 1024)).toBe(true);
  });
});

describe('jsonDepthAndSize', () => {
  it('counts properties, items and string characters as it walks', async () => {
    const { jsonDepthAndSize } = await import('./json-depth.js');
    expect(jsonDepthAndSize({ a: 'xy', b: [1, 'abc', { c: null }] }, 128)).toEqual({
      tooDeep: false,
      entries: 6,
      chars: 5,
    });
    expect(jsonDepthAndSize('hello', 128)).toEqual({ tooDeep: false, entries: 0, chars: 5 });
  });
});
