import fc from 'fast-check';
import type { z } from 'zod';

/**
 * Edge values for request bodies and query strings, derived from the REST API's zod schemas: the
 * values a schema ACCEPTS that a store may not hold (strings at their max length in every Unicode
 * plane, U+FFFE/U+FFFF, U+2028, combining marks, astral characters; numbers at their bounds, 1e308,
 * 5e-324, -0, integers past 2^31 and 2^53; ISO times at the ends of the years a schema takes; arrays
 * at max items; record keys such as `__proto__`, `constructor`, the empty key and very long keys).
 * Test-only (not built): fast-check is a dev dependency.
 */

/** Pieces of text: one per plane and per character class that stores, drivers and JSON treat apart. */
export const EDGE_PIECES: readonly string[] = [
  'a',
  'Z9',
  ' ',
  '\t',
  '\n',
  '\r\n',
  '"',
  '\\',
  "'",
  '%',
  '%00',
  '<',
  '\u00a0',
  '\u0085',
  'ß',
  'İ',
  'ǅ',
  'e\u0301',
  '\u0301',
  '\u0300\u0301\u0302',
  '\u200b',
  '\u200d',
  '\u202e',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ufffd',
  '\ufffe',
  '\uffff',
  '\u{10000}',
  '😀',
  '👩‍👩‍👧',
  '\u{1f3fb}',
  '\u{20000}',
  '\u{e0001}',
  '\u{f0000}',
  '\u{10fffd}',
  '\u{10ffff}',
];

/** Text every schema string accepts but the stores' rules refuse (NUL, other C0 controls, lone surrogates). */
export const HOSTILE_PIECES: readonly string[] = ['\u0000', '\u001b', '\u007f', '\ud800', '\udc00', '\udbff'];

const KEYS: readonly string[] = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '',
  ' ',
  'k'.repeat(128),
  'k'.repeat(129),
  'k'.repeat(5000),
  '😀',
  '\u{10ffff}',
  '\uffff',
  'a.b',
  '$ref',
  '0',
  '-1',
  'e\u0301',
  '\u2028',
];

/** A string of `min` to `max` UTF-16 units built from the edge pieces (never a split pair). */
export function edgeString(min = 0, max = 512, { hostile = true } = {}): fc.Arbitrary<string> {
  const pieces = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...EDGE_PIECES) },
    { weight: hostile ? 1 : 0, arbitrary: fc.constantFrom(...HOSTILE_PIECES) },
  );
  const cap = Math.min(max, 20_000);
  const short = fc.array(pieces, { maxLength: 12 }).map((parts) => parts.join(''));
  const random = fc.string({ unit: 'binary', maxLength: Math.min(cap, 64) });
  // filled to the very limit with one piece (astral pieces count two units)
  const full = fc.constantFrom(...EDGE_PIECES).map((piece) => fill(piece, cap));
  // one piece first, then filled: what a store treats apart at the start of a long text (a BOM)
  const led = fc
    .constantFrom(...EDGE_PIECES)
    .map((piece) => piece + fill('x', Math.max(0, cap - piece.length)));
  return fc
    .oneof(
      { weight: 5, arbitrary: short },
      { weight: 2, arbitrary: random },
      { weight: 3, arbitrary: full },
      { weight: 2, arbitrary: led },
    )
    .map((text) => fitLength(text, min, max));
}

function fill(piece: string, length: number): string {
  let text = piece.repeat(Math.floor(length / piece.length));
  while (text.length < length) text += 'a';
  return text;
}

/** Pads with `a` or cuts to the bounds, keeping surrogate pairs whole. */
function fitLength(text: string, min: number, max: number): string {
  let out = text;
  if (out.length > max) {
    out = out.slice(0, max);
    if (/[\ud800-\udbff]$/.test(out) && !/[\ud800-\udbff]$/.test(text.slice(0, max - 1))) {
      out = `${out.slice(0, -1)}a`;
    }
  }
  while (out.length < min) out += 'a';
  return out;
}

/** Numbers at and around a schema's bounds, and the doubles databases and drivers round. */
export function edgeNumber(min = -Infinity, max = Infinity, int = false): fc.Arbitrary<number> {
  const lo = Number.isFinite(min) ? min : -Number.MAX_VALUE;
  const hi = Number.isFinite(max) ? max : Number.MAX_VALUE;
  const candidates = [
    min,
    max,
    min + 1,
    max - 1,
    0,
    -0,
    1,
    -1,
    0.5,
    1.5,
    0.1 + 0.2,
    1e-7,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1e21,
    1e308,
    -1e308,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31),
    -(2 ** 31) - 1,
    2 ** 32,
    2 ** 53 - 1,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 53 - 1),
    2 ** 63,
    2 ** 64,
    123456789.12345679,
  ].filter(
    (value) => Number.isFinite(value) && value >= lo && value <= hi && (!int || Number.isSafeInteger(value)),
  );
  const random = int
    ? fc.integer({ min: Math.max(lo, Number.MIN_SAFE_INTEGER), max: Math.min(hi, Number.MAX_SAFE_INTEGER) })
    : fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true });
  return candidates.length > 0
    ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...candidates) }, { weight: 1, arbitrary: random })
    : random;
}

const pad = (value: number, width: number) => String(Math.abs(value)).padStart(width, '0');

/**
 * ISO 8601 times with an offset: the ends of the years 0001–9999 in and out of UTC, offsets up to
 * ±23:59, 0 to 9 fraction digits, leap days, and random ones across the whole range.
 */
export function edgeTime(): fc.Arbitrary<string> {
  const fixed = fc.constantFrom(
    '0001-01-01T00:00:00Z',
    '0001-01-01T00:00:00.000+00:00',
    '0001-01-01T23:59:00+23:59',
    '0000-12-31T23:59:59.999-00:01',
    '9999-12-31T23:59:59.999Z',
    '9999-12-31T23:59:59.999999999Z',
    '9999-12-31T00:00:00-23:59',
    '1970-01-01T00:00:00Z',
    '1969-12-31T23:59:59.999Z',
    '2000-02-29T12:00:00.5+05:45',
    '2038-01-19T03:14:08Z',
    '2262-04-11T23:47:16.854775807Z',
    '1582-10-10T00:00:00Z',
    '0099-01-01T00:00:00Z',
  );
  const random = fc
    .record({
      time: fc.integer({
        min: Date.parse('0000-01-02T00:00:00Z'),
        max: Date.parse('9999-12-31T23:59:59.999Z'),
      }),
      offset: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
      digits: fc.integer({ min: 0, max: 9 }),
      extra: fc.integer({ min: 0, max: 999_999 }),
      zulu: fc.boolean(),
    })
    .map(({ time, offset, digits, extra, zulu }) => {
      const local = new Date(time + (zulu ? 0 : offset) * 60_000);
      const year = local.getUTCFullYear();
      if (year < 0 || year > 9999) return '2001-01-01T00:00:00Z';
      const fraction = `${pad(local.getUTCMilliseconds(), 3)}${pad(extra, 6)}`.slice(0, digits);
      const zone = zulu
        ? 'Z'
        : `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60), 2)}:${pad(Math.abs(offset) % 60, 2)}`;
      return `${pad(year, 4)}-${pad(local.getUTCMonth() + 1, 2)}-${pad(local.getUTCDate(), 2)}T${pad(local.getUTCHours(), 2)}:${pad(local.getUTCMinutes(), 2)}:${pad(local.getUTCSeconds(), 2)}${digits > 0 ? `.${fraction}` : ''}${zone}`;
    });
  return fc.oneof(fixed, random);
}

/** Any JSON value with the edge strings, numbers and keys, nested up to `depth`. */
export function edgeJson(depth = 4): fc.Arbitrary<unknown> {
  const { json } = fc.letrec((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', maxDepth: depth },
      edgeString(0, 64),
      edgeNumber(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('json'), { maxLength: 4 }),
      fc.array(fc.tuple(edgeKey(), tie('json')), { maxLength: 4 }).map(ownObject),
    ),
  }));
  return json;
}

export function edgeKey(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...KEYS) },
    { weight: 2, arbitrary: edgeString(0, 24) },
  );
}

/** An object with these own keys, `__proto__` included (an object literal would set the prototype). */
export function ownObject(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  return Object.fromEntries(entries);
}

/** A field left out of its object. */
export const ABSENT: unique symbol = Symbol('absent');

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string>;
  values?: unknown[];
  coerce?: boolean;
  checks?: Array<{
    _zod: { def: { check: string; minimum?: number; maximum?: number; format?: string; pattern?: RegExp } };
  }>;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Per field path (`config.metadata`, `items.*.tool_slug`): the values to use instead of the derived ones. */
export type Overrides = Record<string, fc.Arbitrary<unknown>>;

/**
 * Values for `schema` with edge values in every field: optional fields are often left out (so that
 * a body reaches the handler with one odd field rather than always failing on the first), records
 * get the edge keys. `overrides` fixes fields that must name something that exists.
 */
export function arbitraryFor(
  schema: z.ZodType,
  overrides: Overrides = {},
  path = '',
  /** Strings of at most 64 characters (where the schema allows): the item of a full-length array. */
  small = false,
): fc.Arbitrary<unknown> {
  if (path in overrides) return overrides[path]!;
  const def = defOf(schema);
  const child = (name: string) => (path ? `${path}.${name}` : name);
  const inner = (type: z.ZodType, at = path) => arbitraryFor(type, overrides, at, small);
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
      return fc.oneof(
        { weight: 3, arbitrary: fc.constant(ABSENT) },
        { weight: 2, arbitrary: inner(def.innerType!) },
      );
    case 'nullable':
      return fc.oneof(fc.constant(null), inner(def.innerType!));
    case 'readonly':
      return inner(def.innerType!);
    case 'pipe':
      return inner(def.in!);
    case 'string': {
      const s = schema as z.ZodString;
      const checks = (def.checks ?? []).map((check) => check._zod.def);
      const pattern = checks.find((check) => check.format === 'regex')?.pattern;
      if (pattern) return fc.stringMatching(pattern);
      if (s.format === 'datetime') return edgeTime();
      const longest = s.maxLength ?? 4096;
      const text = edgeString(
        s.minLength ?? 0,
        small ? Math.min(longest, Math.max(64, s.minLength ?? 0)) : longest,
      );
      return def.coerce ? text : text;
    }
    case 'number': {
      const n = schema as z.ZodNumber;
      const value = edgeNumber(n.minValue ?? -Infinity, n.maxValue ?? Infinity, n.isInt ?? false);
      // a query string: the number as text, as clients write it
      return def.coerce
        ? fc.oneof(
            value.map(String),
            value.map((v) => v.toExponential()),
            value.map((v) => ` ${v} `),
            fc.constantFrom('0x10', '1e3', '5.0', '-0', '', 'Infinity'),
          )
        : value;
    }
    case 'boolean':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries!));
    case 'literal':
      return fc.constantFrom(...def.values!);
    case 'object': {
      const fields = Object.entries(def.shape!).map(
        ([name, field]) => [name, inner(field, child(name))] as const,
      );
      return fc
        .tuple(...fields.map(([, arbitrary]) => arbitrary))
        .map((values) =>
          ownObject(fields.map(([name], i) => [name, values[i]] as const).filter(([, v]) => v !== ABSENT)),
        );
    }
    case 'array': {
      const checks = (def.checks ?? []).map((check) => check._zod.def);
      const min = checks.find((check) => check.check === 'min_length')?.minimum ?? 0;
      const max = checks.find((check) => check.check === 'max_length')?.maximum;
      const item = inner(def.element!, child('*'));
      const few = fc.array(item, { minLength: min, maxLength: Math.max(min, Math.min(max ?? 4, 4)) });
      if (max === undefined || max <= 4) return few;
      // the most items the schema takes, all the same small one (with long strings, 500 items made
      // bodies of 4-12 MB that every run refused as too large)
      const smallItem = arbitraryFor(def.element!, overrides, child('*'), true);
      return fc.oneof(
        { weight: 4, arbitrary: few },
        { weight: 1, arbitrary: smallItem.map((one) => Array(max).fill(one)) },
      );
    }
    case 'record': {
      const key = overrides[child('{key}')] ?? edgeKey();
      const value = inner(def.valueType!, child('*'));
      return fc.array(fc.tuple(key as fc.Arbitrary<string>, value), { maxLength: 4 }).map(ownObject);
    }
    case 'union':
      return fc.oneof(...def.options!.map((option) => inner(option)));
    case 'unknown':
    case 'any':
      return edgeJson(small ? 1 : 4);
    default:
      throw new Error(`arbitraryFor: no values for a zod ${def.type} at ${path || '(root)'}`);
  }
}

/** Every field path the values of `schema` can have (for the coverage report). */
export function fieldPaths(schema: z.ZodType, path = ''): string[] {
  const def = defOf(schema);
  const child = (name: string) => (path ? `${path}.${name}` : name);
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
      return fieldPaths(def.innerType!, path);
    case 'pipe':
      return fieldPaths(def.in!, path);
    case 'object':
      return Object.entries(def.shape!).flatMap(([name, field]) => fieldPaths(field, child(name)));
    case 'array':
      return fieldPaths(def.element!, child('*'));
    case 'record':
      return [child('{key}'), ...fieldPaths(def.valueType!, child('*'))];
    case 'union':
      return [...new Set(def.options!.flatMap((option) => fieldPaths(option, path)))];
    default:
      return [path];
  }
}
