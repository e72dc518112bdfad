import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonDepthAndSize } from './json-depth.js';
import {
  JsonShapeWalk,
  JsonTextError,
  JsonTextParser,
  JsonWriter,
  jsonShapeSliced,
  parseJsonSliced,
  stringifyJsonSliced,
} from './json-slices.js';

/** A slice that is always due: the sliced functions pause at every look at the clock. */
function everyTime() {
  let pauses = 0;
  return {
    due: () => true,
    pause: async () => {
      pauses++;
    },
    get pauses() {
      return pauses;
    },
  };
}

/**
 * True when `a` and `b` are the same JSON value to the last detail: Object.is for primitives (so -0
 * is not 0), the same prototype, the same own keys in the same order, all of them data properties.
 */
function identical(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keysA = Reflect.ownKeys(a);
  const keysB = Reflect.ownKeys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key, index) => {
    if (key !== keysB[index]) return false;
    const one = Object.getOwnPropertyDescriptor(a, key)!;
    const other = Object.getOwnPropertyDescriptor(b, key)!;
    return (
      one.enumerable === other.enumerable &&
      one.writable === other.writable &&
      'value' in one &&
      'value' in other &&
      identical(one.value, other.value)
    );
  });
}

/** Runs a parser to the end, asking `due` at every look. */
function parseAll(
  text: string,
  options: ConstructorParameters<typeof JsonTextParser>[1],
  due: () => boolean,
) {
  const parser = new JsonTextParser(text, options);
  let steps = 0;
  while (!parser.step(due)) steps++;
  return { value: parser.value, steps };
}

/** How deep brackets nest in a JSON text, outside strings. */
function textDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (const token of text.matchAll(/"(?:[^"\\]|\\.)*"|[[\]{}]/g)) {
    if (token[0] === '[' || token[0] === '{') deepest = Math.max(deepest, ++depth);
    else if (token[0] === ']' || token[0] === '}') depth--;
  }
  return deepest;
}

/** What `JSON.parse` answers, or the error it throws. */
function nativeParse(text: string): { value: unknown } | { error: unknown } {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error };
  }
}

/** Any UTF-16 unit, lone surrogates included. */
const unit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
const anyString = fc.oneof(
  fc.string({ unit, maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'toJSON', '0', '1', '10', '-1', '4294967295', ''),
);

/** Numbers JSON text can hold, in every spelling the grammar allows. */
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.constantFrom(
    '-0',
    '0.0',
    '1e400',
    '-1e400',
    '1E-400',
    '12345678901234567890123',
    '0.1e1',
    '-0.0e-0',
    '5e-324',
  ),
  fc.bigInt().map(String),
);

/** JSON text with every detail JSON.parse must get right: escapes, whitespace, repeated and odd keys. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberText,
    fc.constantFrom('true', 'false', 'null'),
    anyString.map((text) => JSON.stringify(text)),
    // strings with escapes as they may be written: \u of lone surrogates, \/, upper-case hex
    fc
      .array(
        fc.oneof(
          unit.map((char) => JSON.stringify(char).slice(1, -1)),
          fc.constantFrom('\\/', '\\uD83D\\uDE00', '\\udc00', '\\u00E9'),
        ),
      )
      .map((parts) => `"${parts.join('')}"`),
    fc.array(tie('value'), { maxLength: 6 }).map((items) => `[${items.join(',')}]`),
    fc
      .array(fc.tuple(anyString, tie('value')), { maxLength: 6 })
      .chain((members) =>
        // a repeated key now and then
        fc
          .boolean()
          .map((repeat) =>
            repeat && members.length > 1 ? [...members, [members[0]![0], members[1]![1]] as const] : members,
          ),
      )
      .map((members) => `{${members.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`),
  ),
})).value;

/** The same text with whitespace between tokens (not inside strings). */
const spaced = fc
  .tuple(jsonText, fc.constantFrom(' ', '\n', '\t', '\r\n  '))
  .map(([text, space]) =>
    text.replace(/("(?:[^"\\]|\\.)*")|([,:[\]{}])/g, (match, string) =>
      string ? match : `${space}${match}${space}`,
    ),
  );

describe('JsonTextParser', () => {
  it('gives what JSON.parse gives on any JSON text, in any slicing, through JSON.parse runs or token by token', () => {
    fc.assert(
      fc.property(
        fc.oneof(jsonText, spaced),
        fc.constantFrom(0, 8, 40, 16 * 1024),
        fc.integer({ min: 1, max: 8 }),
        (text, nativeRunChars, checkEvery) => {
          const expected = JSON.parse(text);
          const { value } = parseAll(text, { nativeRunChars, checkEvery }, () => true);
          expect(identical(value, expected)).toBe(true);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('makes __proto__ an own property, keeps the first place and last value of a repeated key', () => {
    const text = '{"b":1,"__proto__":{"polluted":true},"a":2,"b":3,"10":4,"2":5}';
    for (const nativeRunChars of [0, 1024]) {
      const { value } = parseAll(text, { nativeRunChars, checkEvery: 1 }, () => true);
      expect(identical(value, JSON.parse(text))).toBe(true);
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.keys(value as object)).toEqual(['2', '10', 'b', '__proto__', 'a']);
      expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    }
  });

  it('refuses what JSON.parse refuses (broken and cut texts), with a SyntaxError', () => {
    const broken = fc.oneof(
      // a valid text with one character removed, replaced or added
      fc
        .tuple(
          jsonText,
          fc.nat(),
          fc.constantFrom('', ',', ']', '}', '"', ':', '\\', '\u0001', '-', '.', 'e', '0', ' ', 'x'),
        )
        .map(([text, at, char]) => {
          const index = at % (text.length + 1);
          return text.slice(0, index) + char + text.slice(index + (char === '' || at % 2 ? 1 : 0));
        }),
      fc.string({
        unit: fc.constantFrom(
          '[',
          ']',
          '{',
          '}',
          ',',
          ':',
          '"',
          '1',
          '-',
          'e',
          '.',
          'n',
          'u',
          'l',
          't',
          ' ',
          '\\',
        ),
      }),
      fc.constantFrom(
        '',
        ' ',
        '[1,]',
        '[,1]',
        '[1,,2]',
        '{"a":1,}',
        '{,}',
        '{"a"}',
        '01',
        '1.',
        '.5',
        '+1',
        '"\\x"',
        '"\\u12"',
        '"a\nb"',
        'nul',
        '\ufeff{}',
        '{} {}',
        '[1] x',
      ),
    );
    fc.assert(
      fc.property(broken, fc.constantFrom(0, 6, 16 * 1024), (text, nativeRunChars) => {
        const native = nativeParse(text);
        let ours: { value: unknown } | { error: unknown };
        try {
          ours = { value: parseAll(text, { nativeRunChars, checkEvery: 2 }, () => true).value };
        } catch (error) {
          ours = { error };
        }
        if ('error' in native) {
          expect('error' in ours).toBe(true);
          expect((ours as { error: unknown }).error).toBeInstanceOf(JsonTextError);
          expect((ours as { error: JsonTextError }).error.kind).toBe('syntax');
        } else {
          expect('value' in ours && identical(ours.value, native.value)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses nesting past maxDepth in the text while parsing, at any depth without overflowing', () => {
    fc.assert(
      fc.property(
        jsonText,
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom(0, 16 * 1024),
        (text, maxDepth, nativeRunChars) => {
          // the text's nesting (a repeated key's first value counts too, though the parsed value drops it)
          const tooDeep = textDepth(text) > maxDepth;
          if (!tooDeep) expect(jsonDepthAndSize(JSON.parse(text), maxDepth).tooDeep).toBe(false);
          let kind: string | undefined;
          try {
            parseAll(text, { maxDepth, nativeRunChars }, () => false);
          } catch (error) {
            kind = (error as JsonTextError).kind;
          }
          expect(kind).toBe(tooDeep ? 'depth' : undefined);
        },
      ),
      { numRuns: 1000 },
    );
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(() => parseAll(deep, { maxDepth: 144 }, () => false)).toThrow(/more than 144 levels/);
    const { value } = parseAll(deep, {}, () => false);
    const walk = new JsonShapeWalk(value, 100_000);
    walk.step(() => false);
    expect([walk.tooDeep, walk.entries]).toEqual([false, 99_999]);
  });

  it('parses a megabyte in many slices to the value JSON.parse gives', async () => {
    const wide = Object.fromEntries(
      Array.from({ length: 26_000 }, (_, index) => [`author_${index}_x`, `auth value ${index} auth`]),
    );
    const text = JSON.stringify({
      tool_slug: 'X',
      arguments: { payload: wide, long: 'auth\n\u2028'.repeat(50_000) },
    });
    const slice = everyTime();
    const value = await parseJsonSliced(text, slice, { maxDepth: 144 });
    expect(identical(value, JSON.parse(text))).toBe(true);
    expect(slice.pauses).toBeGreaterThan(10);
  });
});

/** JSON.stringify's answer, or the error it throws. */
function nativeStringify(value: unknown): { text: string | undefined } | { error: unknown } {
  try {
    return { text: JSON.stringify(value) };
  } catch (error) {
    return { error };
  }
}

function writeAll(value: unknown, options: ConstructorParameters<typeof JsonWriter>[1]) {
  const writer = new JsonWriter(value, options);
  const chunks: string[] = [];
  while (!writer.step(() => true)) chunks.push(...writer.takeChunks());
  chunks.push(...writer.takeChunks());
  return writer.written ? chunks.join('') : undefined;
}

/** Values JSON.stringify treats in every way it can: toJSON (told its key), boxed, skipped, odd numbers. */
const anyValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    anyString,
    fc.double(),
    fc.constantFrom(
      -0,
      0,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      1e21,
      1e-7,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53 + 1,
    ),
    fc.boolean(),
    fc.constantFrom(null, undefined, () => 1, Symbol('s')),
    fc.date({ noInvalidDate: false }),
    fc.oneof(fc.double(), anyString, fc.boolean()).map((primitive) => Object(primitive) as unknown),
    tie('value').map((inner) => ({ toJSON: (key: string) => ({ key, inner }) })),
    tie('value').map((inner) => ({ toJSON: () => inner })),
    fc.array(tie('value'), { maxLength: 8 }),
    fc.array(fc.tuple(anyString, tie('value')), { maxLength: 8 }).map((members) => {
      const object: Record<string, unknown> = {};
      for (const [key, value] of members) {
        Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
      }
      return object;
    }),
  ),
})).value;

describe('JsonWriter', () => {
  it('writes what JSON.stringify writes for any value, in any slicing, batching and chunk size', () => {
    fc.assert(
      fc.property(
        anyValue,
        fc.record({
          smallEntries: fc.constantFrom(0, 1, 3, 64),
          batch: fc.constantFrom(0, 2, 3, 256),
          checkEvery: fc.integer({ min: 1, max: 4 }),
          chunkChars: fc.constantFrom(1, 7, 64 * 1024),
        }),
        (value, options) => {
          const native = nativeStringify(value);
          if ('error' in native) {
            expect(() => writeAll(value, options)).toThrow(TypeError);
          } else {
            expect(writeAll(value, options)).toBe(native.text);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('throws TypeError for a cycle and for a BigInt, as JSON.stringify', () => {
    const cycle: Record<string, unknown> = { a: [1, 2] };
    (cycle.a as unknown[]).push({ back: cycle });
    for (const smallEntries of [0, 64]) {
      expect(() => writeAll(cycle, { smallEntries })).toThrow(TypeError);
      expect(() => writeAll({ n: 1n }, { smallEntries })).toThrow(TypeError);
    }
    expect(writeAll(undefined, {})).toBeUndefined();
    expect(writeAll(() => 1, {})).toBeUndefined();
  });

  it('writes a megabyte in many slices, byte for byte JSON.stringify, in chunks', async () => {
    const value = {
      wide: Object.fromEntries(
        Array.from({ length: 26_000 }, (_, index) => [`author_${index}_x`, `auth ${index}`]),
      ),
      list: Array.from({ length: 17_000 }, (_, index) => ({ token: `tok_${index}`, at: new Date(index) })),
      text: 'a\u0000\ud800😀'.repeat(10_000),
    };
    const slice = everyTime();
    const chunks = await stringifyJsonSliced(value, slice);
    expect(chunks!.length).toBeGreaterThan(2);
    expect(chunks!.join('')).toBe(JSON.stringify(value));
    expect(slice.pauses).toBeGreaterThan(10);
  });
});

describe('JsonShapeWalk', () => {
  it('finds what jsonDepthAndSize finds, in any slicing', () => {
    fc.assert(
      fc.property(
        jsonText,
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        (text, maxDepth, checkEvery) => {
          const value = JSON.parse(text);
          const walk = new JsonShapeWalk(value, maxDepth, { checkEvery });
          while (!walk.step(() => true));
          const expected = jsonDepthAndSize(value, maxDepth);
          expect(walk.tooDeep).toBe(expected.tooDeep);
          if (!expected.tooDeep) {
            expect(walk.entries).toBe(expected.entries);
            expect(walk.chars).toBe(expected.chars);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('counts a cycle as too deep and walks a million levels without overflowing', async () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = { again: cycle };
    expect((await jsonShapeSliced(cycle, 128, everyTime())).tooDeep).toBe(true);
    let deep: unknown = {};
    for (let level = 0; level < 1_000_000; level++) deep = [deep];
    expect((await jsonShapeSliced(deep, 128, everyTime())).tooDeep).toBe(true);
    expect((await jsonShapeSliced(deep, 2_000_000, everyTime())).tooDeep).toBe(false);
  });
});
