import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { jsonDepthAndSize } from './json-depth.js';
import {
  cloneSliced,
  JsonShapeWalk,
  JsonTextError,
  JsonTextParser,
  JsonWriter,
  jsonShapeSliced,
  jsonTextPiecesSliced,
  jsonTextSliced,
  NOT_SMALL,
  PlainClone,
  parseJsonSliced,
  StringPieces,
  smallJsonText,
  stringifyJsonSliced,
  WIDE_OBJECT_KEYS,
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

  it('refuses an object of more than maxKeys keys while parsing (a repeated key counts once), in runs or token by token', () => {
    /**
     * The most keys of one object in a JSON text (without whitespace), a repeated key once: an
     * object of a repeated key's first value counts too, though the parsed value drops it.
     */
    const widest = (text: string): number => {
      const open: Array<Set<string> | undefined> = [];
      let most = 0;
      for (let index = 0; index < text.length; index++) {
        const char = text[index];
        if (char === '{') open.push(new Set());
        else if (char === '[') open.push(undefined);
        else if (char === '}' || char === ']') open.pop();
        else if (char === '"') {
          let end = index + 1;
          while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
          const keys = open.at(-1);
          if (text[end + 1] === ':' && keys) {
            keys.add(JSON.parse(text.slice(index, end + 1)) as string);
            most = Math.max(most, keys.size);
          }
          index = end;
        }
      }
      return most;
    };
    fc.assert(
      fc.property(
        jsonText,
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom(0, 6, 16 * 1024),
        (text, maxKeys, nativeRunChars) => {
          let kind: string | undefined;
          try {
            parseAll(text, { maxKeys, nativeRunChars }, () => false);
          } catch (error) {
            kind = (error as JsonTextError).kind;
          }
          expect(kind).toBe(widest(text) > maxKeys ? 'keys' : undefined);
        },
      ),
      { numRuns: 1000 },
    );
    const members = (count: number) => Array.from({ length: count }, (_, i) => `"k${i}":${i}`).join(',');
    for (const nativeRunChars of [0, 16 * 1024]) {
      const options = { maxKeys: 100_000, nativeRunChars };
      expect(() => parseAll(`[{${members(100_001)}}]`, options, () => false)).toThrow(
        /more than 100000 keys/,
      );
      const exact = parseAll(`{${members(100_000)},"k5":"again"}`, options, () => false).value;
      expect(Object.keys(exact as object)).toHaveLength(100_000);
    }
  });

  it('gives the key count of each object of WIDE_OBJECT_KEYS keys or more longer than a run (a repeated key once), in runs or token by token', () => {
    // keys of 16 characters or more: each object is longer than a run (16 KB), which JSON.parse
    // would make whole, uncounted
    const members = (count: number, prefix = 'k') =>
      Array.from({ length: count }, (_, i) => `"${prefix}${String(i).padStart(16, '0')}":${i}`).join(',');
    for (const nativeRunChars of [0, 6, 16 * 1024]) {
      const keyCounts = new WeakMap<object, number>();
      const text = `{"a":{${members(WIDE_OBJECT_KEYS)},"k${'3'.padStart(16, '0')}":"again"},"b":[{${members(WIDE_OBJECT_KEYS - 1)}},{${members(3000, 'x')}}],${members(5)}}`;
      const { value } = parseAll(text, { maxKeys: 100_000, nativeRunChars, keyCounts }, () => true) as {
        value: { a: object; b: [object, object] };
      };
      expect(value).toEqual(JSON.parse(text));
      expect([value, value.a, ...value.b].map((object) => keyCounts.get(object))).toEqual([
        undefined,
        WIDE_OBJECT_KEYS,
        undefined,
        3000,
      ]);
    }
  });

  it('reads a long string a window at a time: a string of megabytes is many slices, not one', () => {
    const long = 'x'.repeat(1_000_000);
    for (const text of [
      JSON.stringify(long),
      JSON.stringify({ [long]: `${long}\n${long}é\u0000`, b: [long, 'y'] }),
    ]) {
      const { value, steps } = parseAll(text, {}, () => true);
      expect(value).toEqual(JSON.parse(text));
      // every window of 64 K characters may end a slice (one look at the whole held the loop)
      expect(steps).toBeGreaterThan(text.length / (128 * 1024));
    }
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
  it('writes an item whose getter serialises another value as JSON.stringify does', () => {
    // measuring the items of a batch reads their properties: a getter that writes JSON meanwhile
    // measures with its own stack, not the one the outer measure is using
    const inner = Array.from({ length: 40 }, (_, index) => ({
      index,
      tags: [`t${index}`, { deep: [index] }],
    }));
    const items = Array.from({ length: 300 }, (_, index) => ({
      index,
      // read after the outer measure has put this list on its stack
      list: [{ a: index }, { b: [index, index + 1] }],
      get nested() {
        return { text: writeAll(inner, {}), again: [index, { index }] };
      },
    }));
    expect(writeAll(items, {})).toBe(JSON.stringify(items));
  });

  it('writes what JSON.stringify writes for any value, in any slicing, batching and chunk size', () => {
    fc.assert(
      fc.property(
        anyValue,
        fc.record({
          smallEntries: fc.constantFrom(0, 1, 3, 64),
          batch: fc.constantFrom(0, 2, 3, 256),
          checkEvery: fc.integer({ min: 1, max: 4 }),
          chunkChars: fc.constantFrom(1, 7, 64 * 1024),
          // strings and keys escaped a piece at a time, cut anywhere but inside a surrogate pair
          longString: fc.constantFrom(1, 2, 5, 64 * 1024),
          stringPiece: fc.integer({ min: 1, max: 5 }),
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

  it('escapes long strings and keys a piece at a time, never between the halves of a surrogate pair', () => {
    const text = fc.string({
      unit: fc.constantFrom('a', '😀', '\ud800', '\udc00', '"', '\n'),
      maxLength: 30,
    });
    fc.assert(
      fc.property(
        fc.oneof(text, fc.array(text), fc.dictionary(text, text)),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 7 }),
        (value, longString, stringPiece) => {
          expect(writeAll(value, { longString, stringPiece, smallEntries: 0, batch: 0 })).toBe(
            JSON.stringify(value),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('writes a string in pieces as JSON.stringify writes the joined string, wherever the pieces are cut', () => {
    const piece = fc.string({
      unit: fc.constantFrom('a', '😀', '\ud800', '\udc00', '"', '\n', '\\'),
      maxLength: 12,
    });
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 6 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom(0, 64),
        (pieces, stringPiece, smallEntries) => {
          const joined = pieces.join('');
          const value = { before: 1, text: new StringPieces(pieces), list: [new StringPieces(pieces), 'x'] };
          const expected = JSON.stringify({ before: 1, text: joined, list: [joined, 'x'] });
          expect(writeAll(value, { stringPiece, smallEntries, batch: 0 })).toBe(expected);
          // what a writer that is not sliced (a template string, JSON.stringify) makes of it
          expect(JSON.stringify(value)).toBe(expected);
          expect(`${new StringPieces(pieces)}`).toBe(joined);
          expect(new StringPieces(pieces).length).toBe(joined.length);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('jsonTextPiecesSliced leaves a long text in its pieces, byte for byte JSON.stringify', async () => {
    const value = {
      rows: Array.from({ length: 20_000 }, (_, index) => ({ token: `tok_${index}`, text: 'é😀"' })),
    };
    const text = await jsonTextPiecesSliced(value, everyTime());
    expect(text).toBeInstanceOf(StringPieces);
    expect((text as StringPieces).pieces.length).toBeGreaterThan(2);
    expect((text as StringPieces).pieces.join('')).toBe(JSON.stringify(value));
    expect(await jsonTextSliced(value, everyTime())).toBe(JSON.stringify(value));
    // a small one is one string
    expect(await jsonTextPiecesSliced({ a: 1 }, everyTime())).toBe('{"a":1}');
    expect(await jsonTextPiecesSliced(undefined, everyTime())).toBeUndefined();
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
      [`long key ${'"😀\udc00'.repeat(30_000)}`]: 'x😀'.repeat(100_000),
    };
    const slice = everyTime();
    const chunks = await stringifyJsonSliced(value, slice);
    expect(chunks!.length).toBeGreaterThan(2);
    expect(chunks!.join('')).toBe(JSON.stringify(value));
    expect(slice.pauses).toBeGreaterThan(10);
  });
});

describe('smallJsonText (what jsonTextSliced writes in one JSON.stringify)', () => {
  it('writes what JSON.stringify writes for a small value, and leaves any other to the writer', async () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const native = nativeStringify(value);
        let small: ReturnType<typeof smallJsonText>;
        try {
          small = smallJsonText(value);
        } catch (error) {
          // only what JSON.stringify refuses, as it refuses it
          expect('error' in native && (native.error as Error).constructor).toBe((error as Error).constructor);
          return;
        }
        if (small !== NOT_SMALL) expect(small).toBe('error' in native ? '(refused)' : native.text);
      }),
      { numRuns: 3000 },
    );
    const wide = Object.fromEntries(Array.from({ length: 65 }, (_, index) => [`k${index}`, index]));
    const toJSON = { toJSON: (key: string) => ({ key }) };
    const cycle: Record<string, unknown> = { list: [1] };
    (cycle.list as unknown[]).push(cycle);
    const big = [1n];
    const small = { successful: true, data: { n: 1, list: [1, 'two', null], nested: toJSON }, error: null };
    for (const value of [wide, toJSON, cycle, 'x'.repeat(64 * 1024), 1n, { text: 'x'.repeat(16 * 1024 + 1) }])
      expect(smallJsonText(value)).toBe(NOT_SMALL);
    expect(() => smallJsonText(big)).toThrow(TypeError);
    expect(smallJsonText(small)).toBe(JSON.stringify(small));
    expect(smallJsonText(undefined)).toBeUndefined();
    expect(smallJsonText(Symbol('s'))).toBeUndefined();
    // what jsonTextSliced answers either way (a small value without pausing once)
    const slice = everyTime();
    for (const value of [wide, toJSON, small, 'x'.repeat(64 * 1024), undefined])
      expect(await jsonTextSliced(value, slice)).toBe(JSON.stringify(value));
    await expect(jsonTextSliced(cycle, slice)).rejects.toThrow(TypeError);
    await expect(jsonTextSliced(1n, slice)).rejects.toThrow(TypeError);
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

  it('keeps the keys it listed of wide objects, and of no others', () => {
    const wide = Object.fromEntries(
      Array.from({ length: WIDE_OBJECT_KEYS }, (_, index) => [
        index % 2 ? `k${index}` : String(index),
        index,
      ]),
    );
    const narrow = Object.fromEntries(
      Array.from({ length: WIDE_OBJECT_KEYS - 1 }, (_, index) => [`k${index}`, { index }]),
    );
    const wideArray = Array.from({ length: WIDE_OBJECT_KEYS }, () => ({}));
    const walk = new JsonShapeWalk({ nested: [{ wide }], narrow, wideArray }, 128, { checkEvery: 7 });
    while (!walk.step(() => true));
    expect([...walk.wideKeys.keys()]).toEqual([wide]);
    expect(walk.wideKeys.get(wide)).toEqual(Object.keys(wide));
  });

  it('counts the records of an array by their own keys only, and keeps the keys of a wide one among them', () => {
    // records are counted in place (for…in): an inherited enumerable key is not theirs
    const inherited = Object.create({ inherited: 'not counted' });
    Object.assign(inherited, { id: 1, name: 'own' });
    const wide = Object.fromEntries(
      Array.from({ length: WIDE_OBJECT_KEYS }, (_, index) => [`k${index}`, 'v']),
    );
    const value = {
      items: [
        { id: 0, name: 'first' },
        inherited,
        Object.assign(Object.create(null), { id: 2 }),
        { id: 3, tags: ['a', 'b'] },
        wide,
        { id: 4, name: 'after the wide one' },
      ],
    };
    const walk = new JsonShapeWalk(value, 4, { checkEvery: 5 });
    while (!walk.step(() => true));
    // what the walk counts is what the JSON of the value holds: own enumerable keys
    const expected = jsonDepthAndSize(JSON.parse(JSON.stringify(value)), 4);
    expect(walk.tooDeep).toBe(false);
    expect(walk.entries).toBe(expected.entries);
    expect(walk.chars).toBe(expected.chars);
    expect([...walk.wideKeys.keys()]).toEqual([wide]);
    expect(walk.wideKeys.get(wide)).toEqual(Object.keys(wide));
    // the same records written: only their own keys, as JSON.stringify
    const writer = new JsonWriter(value, { checkEvery: 3 });
    while (!writer.step(() => true));
    expect(writer.takeChunks().join('')).toBe(JSON.stringify(value));
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

  it('finds an array mostly of holes after its first holes, named by its path, not walked to its length', async () => {
    const ids: unknown[] = [];
    ids[123_456_789] = 'id';
    const walk = await jsonShapeSliced({ rows: [{ id: 1 }, { ids }] }, 128, everyTime(), {
      root: 'arguments',
    });
    expect(walk.sparse).toEqual({
      path: 'arguments.rows[1].ids',
      problem:
        'is a sparse array of length 123456790: 1025 of its first 1025 items are holes, which JSON writes as null each: pass a dense array, or an object of the items that are there keyed by their indexes (Object.fromEntries(Object.entries(array)))',
    });
    expect(walk.entries).toBeLessThan(2048);
    // a few holes, undefined items that are there, or holes that are not most of the array: JSON's nulls
    const few: unknown[] = [1];
    few[1000] = 2;
    const third = Array.from({ length: 4000 }, (_, index) => index);
    for (let index = 0; index < 4000; index += 3) delete third[index];
    const dense = { few, third, undefineds: new Array(5000).fill(undefined) };
    expect((await jsonShapeSliced(dense, 128, everyTime())).sparse).toBeUndefined();
  });
});

/**
 * True when `a` and `b` are copies of one another to the last detail: Object.is for primitives, the
 * same prototype, array-ness, own keys in order, property attributes, and the same sharing (an
 * object reached twice in one is one object reached twice in the other; cycles alike).
 */
function sameCopy(a: unknown, b: unknown, pairs = new Map<object, object>()): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  const paired = pairs.get(a);
  if (paired !== undefined) return paired === b;
  if ([...pairs.values()].includes(b)) return false;
  pairs.set(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b) || Array.isArray(a) !== Array.isArray(b))
    return false;
  if (Object.prototype.toString.call(a) !== Object.prototype.toString.call(b)) return false;
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime());
  if (a instanceof Map || a instanceof Set || ArrayBuffer.isView(a)) return true; // structuredClone on both sides
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
      one.configurable === other.configurable &&
      sameCopy(one.value, other.value, pairs)
    );
  });
}

/**
 * `copy` (a structuredClone's, which this changes) without its arrays' named properties: what a
 * {@link PlainClone} makes, which copies an array as JSON has it.
 */
function withoutArrayNames(copy: unknown, seen = new Set<object>()): unknown {
  if (typeof copy !== 'object' || copy === null || seen.has(copy)) return copy;
  seen.add(copy);
  if (copy instanceof Map || copy instanceof Set || ArrayBuffer.isView(copy)) return copy;
  if (Array.isArray(copy)) {
    for (const key of Object.keys(copy)) {
      if (!/^(0|[1-9][0-9]*)$/.test(key) || Number(key) >= copy.length)
        delete (copy as unknown as Record<string, unknown>)[key];
    }
  }
  for (const key of Object.keys(copy)) withoutArrayNames((copy as Record<string, unknown>)[key], seen);
  return copy;
}

/** What `structuredClone` answers, or the name of the error it throws. */
function outcomeOf(run: () => unknown): { value: unknown } | { error: string } {
  try {
    return { value: run() };
  } catch (error) {
    return { error: (error as Error).name };
  }
}

/** Values with what a copy can get wrong: plain data and every kind structuredClone knows besides. */
const cloneable = fc.oneof(
  fc.jsonValue(),
  fc.anything({
    withNullPrototype: true,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withBoxedValues: true,
    withObjectString: true,
    withUnicodeString: true,
    key: fc.oneof(fc.string(), fc.constantFrom('__proto__', '0', '10', '-0', 'constructor')),
  }),
  // arrays with named properties (and, through keys like '10', holes)
  fc
    .tuple(
      fc.array(fc.jsonValue(), { maxLength: 5 }),
      // not `length`, which Object.assign would set (a wrong one throws RangeError in the generator)
      fc.dictionary(
        fc.oneof(
          fc.string().filter((key) => key !== 'length'),
          fc.constantFrom('0', '3', '10', '-1', 'length2'),
        ),
        fc.jsonValue(),
        {
          maxKeys: 3,
        },
      ),
    )
    .map(([items, named]) => Object.assign([...items], named)),
);

/** The value, the value reached twice, the value in a cycle. */
const shared = cloneable.chain((value) =>
  fc.constantFrom(
    value,
    { first: value, again: value, list: [value, value] },
    (() => {
      const cycle: Record<string, unknown> = { value };
      cycle.self = cycle;
      cycle.items = [cycle, value];
      return cycle;
    })(),
  ),
);

describe('PlainClone', () => {
  it('copies as structuredClone does, in any slicing; gives up at anything but plain data', async () => {
    await fc.assert(
      fc.asyncProperty(shared, fc.integer({ min: 1, max: 4 }), async (value, checkEvery) => {
        const clone = new PlainClone(value, { checkEvery });
        while (!clone.step(() => true));
        // what is not plain data is copied by structuredClone, arrays' named properties and all (an
        // array whose prototype a `__proto__` key replaced is one: Object.assign sets it)
        const expected = outcomeOf(() =>
          clone.plain ? withoutArrayNames(structuredClone(value)) : structuredClone(value),
        );
        if (clone.plain) {
          expect('value' in expected).toBe(true);
          expect(sameCopy(clone.value, (expected as { value: unknown }).value)).toBe(true);
        }
        let sliced: { value: unknown } | { error: string };
        try {
          sliced = { value: await cloneSliced(value, everyTime()) };
        } catch (error) {
          sliced = { error: (error as Error).name };
        }
        if ('error' in expected) expect(sliced).toEqual(expected);
        else expect('value' in sliced && sameCopy(sliced.value, expected.value)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives up at an array whose prototype was replaced (Object.assign of a `__proto__` key), which structuredClone copies with its named properties', async () => {
    const value = Object.assign([1], JSON.parse('{"__proto__": [], "note": 2}') as object);
    expect(Object.getPrototypeOf(value)).not.toBe(Array.prototype);
    const clone = new PlainClone(value, { checkEvery: 1 });
    while (!clone.step(() => true));
    expect(clone.plain).toBe(false);
    const copy = (await cloneSliced(value, everyTime())) as unknown[] & { note?: number };
    expect(Object.getPrototypeOf(copy)).toBe(Array.prototype);
    expect([...copy]).toEqual([1]);
    expect(copy.note).toBe(2);
  });

  it('copies JSON data without giving up, sharing nothing with the original', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const value = JSON.parse(text);
        const clone = new PlainClone(value, { checkEvery: 1 });
        while (!clone.step(() => true));
        expect(clone.plain).toBe(true);
        expect(identical(clone.value, value)).toBe(true);
        if (typeof value === 'object' && value !== null) expect(clone.value).not.toBe(value);
      }),
      { numRuns: 500 },
    );
  });

  it('copies with the keys a walk listed of wide objects what it copies without them', () => {
    fc.assert(
      fc.property(shared, (value) => {
        const walk = new JsonShapeWalk(value, 1000);
        while (!walk.step(() => true));
        const listedKeys = (object: object) => walk.wideKeys.get(object) ?? Object.keys(object);
        const plain = new PlainClone(value, { checkEvery: 3 });
        const given = new PlainClone(value, { checkEvery: 3, listedKeys });
        while (!plain.step(() => true));
        while (!given.step(() => true));
        expect(given.plain).toBe(plain.plain);
        if (plain.plain) expect(sameCopy(given.value, plain.value)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('follows the keys it is given, leaving out one that is gone, without listing them', async () => {
    const value = { a: 1, b: { c: 2 }, d: 3 };
    const copy = (await cloneSliced({ value }, everyTime(), {
      listedKeys: (object) => (object === value ? ['d', 'gone', 'b'] : undefined),
    })) as { value: Record<string, unknown> };
    expect(Object.keys(copy.value)).toEqual(['d', 'b']);
    expect(copy.value).toEqual({ d: 3, b: { c: 2 } });
    expect(copy.value.b).not.toBe(value.b);
  });

  it('gives up at functions, symbols, proxies, class instances and other objects than plain ones', () => {
    class Point {
      x = 1;
    }
    class List extends Array {}
    for (const odd of [() => 1, Symbol('s'), new Proxy({}, {}), new Point(), List.of(1), new Date(0)]) {
      const clone = new PlainClone({ nested: [odd] });
      while (!clone.step(() => true));
      expect(clone.plain).toBe(false);
    }
  });

  it("copies an array's items and holes as they are, without its named properties or listing its keys", () => {
    const long = Array.from({ length: 100_000 }, (_, index) => index % 7);
    // biome-ignore lint/suspicious/noSparseArray: a hole is the point
    const holes = [1, , 3, , ,];
    const named = Object.assign([1, { b: 2 }], { extra: true });
    const listed = vi.spyOn(Object, 'keys');
    try {
      const clone = new PlainClone({ long, holes, named }, { checkEvery: 1000 });
      while (!clone.step(() => true));
      expect(clone.plain).toBe(true);
      const copy = clone.value as { long: number[]; holes: unknown[]; named: unknown[] };
      expect(listed.mock.calls.filter(([value]) => Array.isArray(value))).toEqual([]);
      expect(copy.long).toEqual(long);
      expect(copy.long).not.toBe(long);
      expect(copy.holes.length).toBe(5);
      expect(Object.keys(copy.holes)).toEqual(['0', '2']);
      expect(Object.keys(copy.named)).toEqual(['0', '1']);
      expect(copy.named).toEqual([1, { b: 2 }]);
    } finally {
      listed.mockRestore();
    }
  });

  it('reads a getter once, in key order, as structuredClone does', () => {
    const reads: string[] = [];
    const value = {
      get a() {
        reads.push('a');
        return { b: 1 };
      },
      c: 2,
      get d() {
        reads.push('d');
        return 3;
      },
    };
    const clone = new PlainClone(value);
    while (!clone.step(() => true));
    expect(reads).toEqual(['a', 'd']);
    expect(clone.value).toEqual(structuredClone(value));
    expect(Object.getOwnPropertyDescriptor(clone.value, 'a')).toHaveProperty('value');
  });

  it('copies a megabyte in many slices', async () => {
    const wide = Object.fromEntries(Array.from({ length: 26_000 }, (_, index) => [`key_${index}`, [index]]));
    const slice = everyTime();
    const copy = await cloneSliced({ wide }, slice);
    expect(copy).toEqual({ wide });
    expect(slice.pauses).toBeGreaterThan(10);
  });
});
