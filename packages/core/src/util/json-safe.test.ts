import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from './json-depth.js';
import { JsonSafeWalk, jsonSafeResult } from './json-safe.js';
import { WorkSlice } from './slices.js';

function walked(value: unknown, options: { checkEvery?: number } = {}): JsonSafeWalk {
  const walk = new JsonSafeWalk(value, MAX_JSON_DEPTH, options);
  while (!walk.step(() => true)) {}
  return walk;
}

function problemOf(value: unknown): string | undefined {
  const { problem } = walked(value);
  return problem && `${problem.path} ${problem.problem}`;
}

function nested(levels: number, bottom: unknown = 1): unknown {
  let value = bottom;
  for (let level = 0; level < levels; level++) value = { inner: value };
  return value;
}

describe('JsonSafeWalk: what JSON cannot represent, and where', () => {
  it.each([
    ['a BigInt', { rows: [{ id: 1 }, { id: 2, size: 3n }] }, /^data\.rows\[1\]\.size is a BigInt/],
    ['a BigInt result', 7n, /^data is a BigInt/],
    ['a boxed BigInt', { n: Object(1n) }, /^data\.n is a BigInt/],
    ['a Map', { byId: new Map() }, /^data\.byId is a Map, .*Object\.fromEntries/],
    ['a Set', [new Set([1])], /^data\[0\] is a Set, .*\[\.\.\.set\]/],
    ['a WeakMap', { w: new WeakMap() }, /is a WeakMap/],
    ['a Promise', { items: Promise.resolve(1) }, /^data\.items is a Promise, .*await it/],
    ['a typed array', { pixels: new Uint8Array(2) }, /is a binary Uint8Array, .*base64/],
    ['an ArrayBuffer', { raw: new ArrayBuffer(2) }, /is a binary ArrayBuffer/],
    ['a DataView', { raw: new DataView(new ArrayBuffer(2)) }, /is a DataView/],
    ['an iterator', { keys: new Map([[1, 2]]).keys() }, /is an iterator/],
    ['a generator', { g: (function* () {})() }, /is an iterator/],
    ['a RegExp', { pattern: /a/ }, /is a RegExp/],
    ['an Error', { failure: new TypeError('x') }, /^data\.failure is an Error, .*throw it/],
    ['a key that is no identifier', { 'a b\n': 1n }, /^data\["a b\\n"\] is a BigInt/],
  ])('%s', (_name, value, expected) => {
    expect(problemOf(value)).toMatch(expected);
  });

  it('a sparse array mostly of holes: refused after its first holes, not walked to its length', () => {
    const rows: unknown[] = [];
    rows[123_456_789] = { id: 123_456_789 };
    const walk = walked({ rows });
    expect(walk.problem?.path).toBe('data.rows');
    expect(walk.problem?.problem).toMatch(
      /^is a sparse array of length 123456790: 1025 of its first 1025 items are holes, .*Object\.fromEntries\(Object\.entries\(array\)\)/,
    );
    expect(walk.entries).toBeLessThan(2048);
    // a few holes, or undefined items that are there, are what JSON writes as null
    const few: unknown[] = [1];
    few[1000] = 2;
    expect(problemOf({ few, undefineds: new Array(5000).fill(undefined) })).toBeUndefined();
    // holes that are not most of what was walked: written as null
    const half = Array.from({ length: 4000 }, (_, index) => index);
    for (let index = 0; index < 4000; index += 3) delete half[index];
    expect(problemOf(half)).toBeUndefined();
  });

  it('an object of more than 100,000 keys: refused where it is, its keys listed once and not walked', () => {
    const keyed = (count: number) => {
      const object: Record<string, number> = {};
      for (let n = 0; n < count; n++) object[`id_${n}`] = n;
      return object;
    };
    const walk = walked({ rows: [{ id: 1 }], byId: keyed(100_001) });
    expect(walk.problem).toEqual({
      path: 'data.byId',
      problem:
        "is an object of 100001 keys, more than 100000: listing the keys of one object is a step that cannot be split, which every stage writing it (the log, the answer, a multi-execute's result) would take again, holding every other call meanwhile: return its entries as an array ([{ key, value }, …]), or fewer keys",
    });
    expect(walk.entries).toBeLessThan(10);
    // at the limit: walked as before; in an array, named by its index
    expect(problemOf({ byId: keyed(100_000) })).toBeUndefined();
    expect(problemOf([1, keyed(100_001)])).toMatch(/^data\[1\] is an object of 100001 keys/);
  });

  it('a cycle, named where it closes', () => {
    const node: Record<string, unknown> = { name: 'a', children: [] };
    (node.children as unknown[]).push({ parent: node });
    expect(problemOf({ node })).toMatch(
      /^data\.node\.children\[0\]\.parent is a cycle: it holds itself \(data\.node again\)/,
    );
    const self: unknown[] = [];
    self.push(self);
    expect(problemOf(self)).toMatch(/^data\[0\] is a cycle: it holds itself \(data again\)/);
  });

  it('a toJSON, a getter or a proxy trap that throws', () => {
    const when = {
      toJSON() {
        throw new Error('no clock');
      },
    };
    expect(problemOf({ at: [when] })).toMatch(/^data\.at\[0\] has a toJSON\(\) that threw: no clock/);
    const record = {
      id: 1,
      get total(): number {
        throw new Error('not yet');
      },
    };
    expect(problemOf({ list: [record] })).toMatch(/^data\.list\[0\]\.total threw when it was read: not yet/);
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    expect(problemOf({ gone: revoked.proxy })).toMatch(/^data\.gone threw when it was read/);
  });

  it('nesting: 128 levels are fine, 129 are not; a shared part counts where it is reached', () => {
    expect(problemOf(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(problemOf(nested(MAX_JSON_DEPTH + 1))).toMatch(
      /^data\.inner\.inner.*… nests .* more than 128 levels/,
    );
    expect(problemOf(nested(MAX_JSON_DEPTH, { leaf: 1 }))).toMatch(/more than 128 levels/);
    // fine at level 2, too deep once reached again at level 100
    const shared = nested(100);
    expect(problemOf({ first: shared, deeper: nested(50, shared) })).toMatch(/more than 128 levels/);
    expect(problemOf({ first: shared, deeper: nested(20, shared) })).toBeUndefined();
  });

  it('a shared part is walked once: a DAG that writes out to 2^60 entries is checked at once', () => {
    let value: unknown = { leaf: 1 };
    for (let level = 0; level < 60; level++) value = [value, value];
    // counted in the walk's own units of work (one per step with checkEvery 1), not timed: the 61
    // distinct arrays take a few hundred; walking every path would take 2^61
    const walk = new JsonSafeWalk(value, MAX_JSON_DEPTH, { checkEvery: 1 });
    let steps = 1;
    while (!walk.step(() => true) && steps < 10_000) steps++;
    expect(steps).toBeLessThan(1_000);
    expect(walk.problem).toBeUndefined();
  });

  it('plain JSON data needs no rewrite; what JSON writes differently does', () => {
    expect(walked({ a: [1, 'x', null, true, { b: {} }], c: '\ud800' }).rewrite).toBe(false);
    expect(walked(Object.assign(Object.create(null), { a: 1 })).rewrite).toBe(false);
    for (const value of [
      { a: undefined },
      [() => 1],
      { s: Symbol('s') },
      { n: Number.NaN },
      [Number.NEGATIVE_INFINITY],
      { z: -0 },
      { d: new Date(0) },
      { b: Buffer.from('a') },
      { s: new String('s') },
      {
        p: new (class Point {
          x = 1;
        })(),
      },
      // a hole
      // biome-ignore lint/suspicious/noSparseArray: the hole is what is tested
      [1, , 3],
    ]) {
      const walk = walked(value);
      expect(walk.problem, JSON.stringify(value)).toBeUndefined();
      expect(walk.rewrite, String(value)).toBe(true);
    }
  });

  it('a large value is walked a stretch at a time', () => {
    const rows = Array.from({ length: 20_000 }, (_, id) => ({ id, tags: [String(id)] }));
    const walk = new JsonSafeWalk({ rows }, MAX_JSON_DEPTH, { checkEvery: 64 });
    let stretches = 1;
    while (!walk.step(() => true)) stretches++;
    expect(stretches).toBeGreaterThan(100);
    expect(walk.problem).toBeUndefined();
  });
});

describe('jsonSafeResult', () => {
  it('plain data is the same value, not a copy', async () => {
    const value = { items: [{ id: 1 }] };
    expect((await jsonSafeResult(value, MAX_JSON_DEPTH, new WorkSlice())).value).toBe(value);
  });

  it('anything else is what JSON makes of it', async () => {
    const value = {
      at: new Date(0),
      gone: undefined,
      n: Number.NaN,
      z: -0,
      list: [undefined, 1n.constructor],
    };
    const safe = await jsonSafeResult(value, MAX_JSON_DEPTH, new WorkSlice());
    expect(safe.value).toEqual(JSON.parse(JSON.stringify(value)));
    expect(Object.is((safe.value as { z: number }).z, 0)).toBe(true);
    expect(
      (await jsonSafeResult({ d: new Date(Number.NaN) }, MAX_JSON_DEPTH, new WorkSlice())).value,
    ).toEqual({
      d: null,
    });
    expect((await jsonSafeResult(undefined, MAX_JSON_DEPTH, new WorkSlice())).value).toBeNull();
    expect((await jsonSafeResult(() => 1, MAX_JSON_DEPTH, new WorkSlice())).value).toBeNull();
  });

  it('a BigInt with a toJSON of its own is written by it, as JSON.stringify does', async () => {
    const prototype = BigInt.prototype as unknown as { toJSON?: () => string };
    prototype.toJSON = function (this: bigint) {
      return this.toString();
    };
    try {
      expect((await jsonSafeResult({ n: 12n }, MAX_JSON_DEPTH, new WorkSlice())).value).toEqual({ n: '12' });
    } finally {
      delete prototype.toJSON;
    }
  });

  it('a Date whose toISOString throws is a problem, as in JSON.stringify', async () => {
    class Moment extends Date {
      override toISOString(): string {
        throw new Error('no calendar');
      }
    }
    expect((await jsonSafeResult({ at: new Moment(0) }, MAX_JSON_DEPTH, new WorkSlice())).problem).toEqual({
      path: 'data.at',
      problem: 'has a toJSON() that threw: no calendar',
    });
  });

  it('a large value to rewrite is written and read back a slice at a time, the same', async () => {
    const rows = Array.from({ length: 5000 }, (_, id) => ({ id, at: new Date(id), gone: undefined }));
    const safe = await jsonSafeResult(rows, MAX_JSON_DEPTH, new WorkSlice());
    expect(safe.value).toEqual(JSON.parse(JSON.stringify(rows)));
  });

  it('a toJSON is told its key, as JSON.stringify tells it', async () => {
    const named = { toJSON: (key: unknown) => ({ key, type: typeof key }) };
    const value = { a: named, list: [named, named] };
    const safe = await jsonSafeResult(value, MAX_JSON_DEPTH, new WorkSlice());
    expect(safe.value).toEqual(JSON.parse(JSON.stringify(value)));
    expect(safe.value).toEqual({
      a: { key: 'a', type: 'string' },
      list: [
        { key: '0', type: 'string' },
        { key: '1', type: 'string' },
      ],
    });
    expect((await jsonSafeResult(named, MAX_JSON_DEPTH, new WorkSlice())).value).toEqual({
      key: '',
      type: 'string',
    });
  });

  it('a problem comes back with its path', async () => {
    expect(await jsonSafeResult({ n: 1n }, MAX_JSON_DEPTH, new WorkSlice())).toEqual({
      problem: { path: 'data.n', problem: expect.stringContaining('BigInt') },
    });
  });
});
