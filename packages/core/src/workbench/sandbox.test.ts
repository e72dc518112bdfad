import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import {
  type CellLimits,
  callHost,
  EngineEntries,
  EXECUTE_SLUG_FIRST,
  RawJson,
  SANDBOX_SLICING_AVAILABLE,
  Sandbox,
  SandboxCallError,
  type SandboxHostCall,
  type SandboxRawHost,
  withSmallerInitialMemory,
} from './sandbox.js';
import { mainThreadSlices } from './slices.js';

// no test here is bounded by the clock unless it says so: a loaded machine takes seconds for work that
// takes milliseconds alone (a cell that builds a 10 MB string timed out at 2 s in CI)
const limits: CellLimits = { timeoutMs: 30_000, maxOutputChars: 10_000, maxToolCalls: 5 };
const noHost: SandboxHostCall = async () => null;
/** Each case runs on a plain sandbox (as in a worker) and, where JSPI is there, on a time-sliced one. */
const MODES = SANDBOX_SLICING_AVAILABLE ? ['plain', 'sliced on the main thread'] : ['plain'];

describe.each(MODES)('Sandbox (%s)', (mode) => {
  const create = (memoryMb: number) =>
    Sandbox.create(memoryMb, mode === 'sliced on the main thread' ? { slicer: mainThreadSlices() } : {});
  it('runs code as an async function body: return, console.log, state in globalThis', async () => {
    const sandbox = await create(32);
    const first = await sandbox.run(
      'globalThis.count = 41; console.log("hi", { a: 1 }); return count + 1;',
      noHost,
      limits,
    );
    expect(first).toEqual({ result: 42, logs: ['hi {"a":1}'] });
    const second = await sandbox.run('return ++globalThis.count;', noHost, limits);
    expect(second.result).toBe(42);
    const failed = await sandbox.run('throw new TypeError("bad " + count)', noHost, limits);
    expect(failed.error?.code).toBe('WORKBENCH_CODE_ERROR');
    expect(failed.error?.message).toContain('TypeError: bad 42');
    const syntax = await sandbox.run('return (', noHost, limits);
    expect(syntax.error?.code).toBe('WORKBENCH_CODE_ERROR');
    expect((await sandbox.run('return count', noHost, limits)).result).toBe(42);
    // a thrown value whose message cannot be read says so (it said only "Error:")
    for (const code of [
      'throw new Proxy({}, { get() { throw new Error("the trap threw"); } })',
      'const e = new Error("x"); Object.defineProperty(e, "message", { get() { throw new Error("the trap threw"); } }); throw e',
    ]) {
      const unreadable = await sandbox.run(code, noHost, limits);
      expect(unreadable.error?.code).toBe('WORKBENCH_CODE_ERROR');
      expect(unreadable.error?.message).toContain(
        '(the thrown value threw when its message was read: the trap threw)',
      );
    }
  });

  it("names the cell's own line and column in a stack: thrown, nested, a syntax error, console.log, a function of an earlier cell", async () => {
    const sandbox = await create(32);
    // (shown one line up from where the code was compiled; a syntax error at the end of the code is at
    // the end of its last line)
    const at = async (code: string) =>
      (await sandbox.run(code, noHost, limits)).error?.message.split('\n')[1];
    expect(await at('throw new Error("one")')).toBe('    at <anonymous> (cell.js:1:16)');
    expect(await at('const a = 1;\nconst b = 2;\nnull.x')).toBe('    at <anonymous> (cell.js:3:5)');
    expect(await at('const f = () => {\n  throw new Error("in f");\n};\nf()')).toBe(
      '    at f (cell.js:2:18)',
    );
    // a syntax error at the end of the code: the end of its last line (8 characters)
    expect(await at('return {')).toBe('    at cell.js:1:9');
    expect(await at('const a = 1;\nreturn {\n')).toBe('    at cell.js:3:1');
    expect(await at('const a = 1;\nconst = 2;')).toBe('    at cell.js:2:7');
    // a function an earlier cell kept, longer than this cell: its own line
    await sandbox.run('\n\n\nglobalThis.g = () => { throw new Error("in g") }', noHost, limits);
    expect(await at('g()')).toBe('    at <anonymous> (cell.js:4:39)');
    const logged = await sandbox.run('\nconsole.log(new Error("x"))', noHost, limits);
    expect(logged.logs[0]).toBe('Error: x\n    at <anonymous> (cell.js:2:22)');
  });

  it("names the cell's own lines in the stack the code reads: an error it made, one the engine threw, a failed toolmux call's where the code awaits it", async () => {
    const sandbox = await create(32);
    const missing: SandboxHostCall = async () => {
      throw new SandboxCallError('WORKBENCH_FILE_NOT_FOUND', 'There is no workbench file missing');
    };
    // (the code was compiled one line below its start: each line read one further down; a failed
    // call's stack was the prelude's, \`at settle (toolmux-prelude.js:…)\`, whatever line made it)
    const read = await sandbox.run(
      `const stacks = [];
try { null.x } catch (error) { stacks.push(error.stack) }
stacks.push(new Error('made').stack);
try {
  await toolmux.files.read('missing');
} catch (error) { stacks.push(error.stack) }
const readIt = async () => {
  await toolmux.files.read('missing');
};
try { await readIt() } catch (error) { stacks.push(error.stack) }
try { await Promise.all([toolmux.files.read('missing')]) } catch (error) { stacks.push(error.stack) }
try { await toolmux.execute('X', 1n) } catch (error) { stacks.push(error.stack) }
return stacks.map((stack) => stack.split('\\n')[0]);`,
      missing,
      limits,
    );
    expect(read.error).toBeUndefined();
    expect(read.result).toEqual([
      '    at <anonymous> (cell.js:2:11)',
      '    at <anonymous> (cell.js:3:22)',
      '    at <anonymous> (cell.js:5:27)',
      '    at readIt (cell.js:8:27)',
      '    at <anonymous> (cell.js:11:24)',
      '    at <anonymous> (cell.js:12:28)',
    ]);
    // the same lines in what the model reads: a call's error left uncaught, a logged one
    const uncaught = await sandbox.run(
      "const a = 1;\n\nawait toolmux.files.read('missing');",
      missing,
      limits,
    );
    expect(uncaught.error?.message.split('\n')).toEqual([
      'Error [WORKBENCH_FILE_NOT_FOUND]: There is no workbench file missing',
      '    at <anonymous> (cell.js:3:25)',
    ]);
    const logged = await sandbox.run(
      "const a = 1;\ntry { await toolmux.files.read('missing') } catch (error) { console.log(error) }",
      missing,
      limits,
    );
    expect(logged.logs[0]?.split('\n')[1]).toBe('    at <anonymous> (cell.js:2:31)');
    // on the first line, a column the code reads counts the function's head before the code; the
    // model reads the code's own column
    const first = await sandbox.run('try { null.x } catch (error) { return error.stack }', noHost, limits);
    expect(first.result).toMatch(/^ {4}at <anonymous> \(cell\.js:1:25\)\n/);
    expect((await sandbox.run('null.x', noHost, limits)).error?.message.split('\n')[1]).toBe(
      '    at <anonymous> (cell.js:1:5)',
    );
  });

  it("shows only the code's own frames, never the prelude's: an error of the cell's first steps, a toJSON of a call's arguments that threw, as thrown, logged or read by the code", async () => {
    const sandbox = await create(32);
    const host: SandboxHostCall = async () => ({ ok: true });
    const frames = (text: string | undefined) =>
      (text ?? '').split('\n').filter((line) => line.startsWith('    at '));
    // each held `at run (toolmux-prelude.js:…)` (an error before the first await), or `at call` and
    // `at execute (toolmux-prelude.js:…)` (a toJSON of the arguments)
    const thrown = await sandbox.run('const a = 1;\nnull.x', host, limits);
    expect(frames(thrown.error?.message)).toEqual(['    at <anonymous> (cell.js:2:5)']);
    const inFunction = await sandbox.run('const f = () => null.x;\nf()', host, limits);
    expect(frames(inFunction.error?.message)).toEqual([
      '    at f (cell.js:1:21)',
      '    at <anonymous> (cell.js:2:2)',
    ]);
    const viaToJson = await sandbox.run(
      "const args = { toJSON() { throw new Error('in toJSON') } };\nawait toolmux.execute('X', args)",
      host,
      limits,
    );
    expect(viaToJson.error?.message.split('\n')[0]).toBe('Error: in toJSON');
    expect(frames(viaToJson.error?.message)).toEqual([
      expect.stringMatching(/^ {4}at toJSON \(cell\.js:1:\d+\)$/),
      '    at stringify (native)',
      expect.stringMatching(/^ {4}at <anonymous> \(cell\.js:2:\d+\)$/),
    ]);
    const logged = await sandbox.run(
      "try { null.x } catch (error) { console.log(error) }\ntry { await toolmux.execute('X', { toJSON() { throw new Error('j') } }) } catch (error) { console.log(error) }",
      host,
      limits,
    );
    const read = await sandbox.run(
      "const stacks = [];\ntry { null.x } catch (error) { stacks.push(error.stack) }\nstacks.push(new Error('made').stack);\ntry { await toolmux.execute('X', { toJSON() { throw new Error('j') } }) } catch (error) { stacks.push(error.stack) }\nreturn stacks",
      host,
      limits,
    );
    for (const text of [...logged.logs, ...(read.result as string[])]) {
      expect(text).not.toContain('toolmux-prelude');
      expect(frames(text).length).toBeGreaterThan(0);
      expect(frames(text).every((line) => /\(cell\.js:\d+:\d+\)$|\(native\)$/.test(line))).toBe(true);
    }
    expect(frames((read.result as string[])[1])).toEqual(['    at <anonymous> (cell.js:3:22)']);
  });

  it("logs an error with its name, code and message, then its frames (QuickJS's stack holds only the frames)", async () => {
    const sandbox = await create(32);
    const out = await sandbox.run(
      `console.log(new Error("the message"));
       console.error("failed:", new TypeError("bad type"));
       try { await toolmux.files.read("missing") } catch (e) { console.warn(e) }
       const empty = new RangeError(); console.log(empty, { a: 1 });`,
      async () => {
        throw new SandboxCallError('WORKBENCH_FILE_NOT_FOUND', 'There is no workbench file missing');
      },
      limits,
    );
    expect(out.error).toBeUndefined();
    const [first, second, third, fourth] = out.logs.map((line) => line.split('\n'));
    expect(first?.slice(0, 2)).toEqual(['Error: the message', '    at <anonymous> (cell.js:1:22)']);
    expect(second?.slice(0, 2)).toEqual(['failed: TypeError: bad type', '    at <anonymous> (cell.js:2:46)']);
    expect(third?.[0]).toBe('Error [WORKBENCH_FILE_NOT_FOUND]: There is no workbench file missing');
    expect(third?.length).toBeGreaterThan(1);
    expect(fourth?.[0]).toBe('RangeError');
    expect(fourth?.at(-1)).toMatch(/^ {4}at .*\) \{"a":1\}$/);
  });

  // `generic`: quickjs-emscripten's own path, taken where its internals are not as the direct path
  // expects (an upgrade that changes them); the test of `direct` also flags such an upgrade
  it.each([
    ['directly', true],
    ['through the generic path where the library is not as expected', false],
  ])(
    "calls the prelude's host functions %s: lines, values, exceptions and calls come through whole",
    async (_path, direct) => {
      const spy = direct
        ? undefined
        : vi.spyOn(EngineEntries.prototype, 'callDirectly').mockReturnValue(false);
      let sandbox: Sandbox;
      try {
        sandbox = await create(32);
      } finally {
        spy?.mockRestore();
      }
      expect(sandbox.hostCallsDirect).toBe(direct);
      const logged = await sandbox.run(
        'console.log(""); console.log("héllo ✓ 😀", [1, "ü"]); console.error("near", 2); return "ünï 😀";',
        noHost,
        limits,
      );
      expect(logged).toEqual({ result: 'ünï 😀', logs: ['', 'héllo ✓ 😀 [1,"ü"]', 'near 2'] });
      const thrown = await sandbox.run(
        'throw Object.assign(new Error("nö"), { name: "Custom" })',
        noHost,
        limits,
      );
      expect(thrown.error?.code).toBe('WORKBENCH_CODE_ERROR');
      expect(thrown.error?.message).toContain('Custom: nö');
      const host: SandboxHostCall = async (_operation, args) => ({
        data: { twice: (args as { args: { n: number } }).args.n * 2 },
      });
      const called = await sandbox.run(
        "let s = 0; for (let n = 1; n <= 3; n++) s += (await toolmux.execute('X', { n })).data.twice; console.log(s); return s;",
        host,
        limits,
      );
      expect(called).toEqual({ result: 12, logs: ['12'] });
      // a line that is not a string (the code replaced the array methods the console uses) is not
      // logged, and nothing of it runs
      const replaced = await sandbox.run(
        'Array.prototype.map = function () { return { join: () => ({ toString() { globalThis.ran = true; return "x"; } }) }; }; console.log(1); return globalThis.ran === undefined;',
        noHost,
        limits,
      );
      expect(replaced).toEqual({ result: true, logs: [] });
    },
  );

  it('passes megabytes of arguments and results between the code and the host intact', async () => {
    const sandbox = await create(256);
    let received: unknown;
    const host: SandboxHostCall = async (_operation, args) => {
      received = args;
      const items = (args as { args: { items: Array<{ id: number; text: string }> } }).args.items;
      return { data: items.map((item) => ({ ...item, text: `${item.text}!` })) };
    };
    const out = await sandbox.run(
      `const items = Array.from({ length: 30000 }, (_, id) => ({ id, text: 'é✓👋 "q" \\\\ ' + 'x'.repeat(100) + id }));
       const back = (await toolmux.execute('X', { items })).data;
       return { n: back.length, same: back.every((item, i) => item.id === i && item.text === items[i].text + '!') };`,
      host,
      { ...limits, timeoutMs: 30_000 },
    );
    expect(out).toEqual({ result: { n: 30000, same: true }, logs: [] });
    const items = (received as { args: { items: Array<{ id: number; text: string }> } }).args.items;
    expect(items[29999]).toEqual({ id: 29999, text: `é✓👋 "q" \\ ${'x'.repeat(100)}29999` });
    // more than the cell’s own 30 s: on a loaded machine a slow cell ends with its WORKBENCH_TIMEOUT,
    // not with a bare test timeout at the default 20 s (as the test did in CI)
  }, 60_000);

  it('calls the host with JSON arguments and gives back its value or its error code', async () => {
    const sandbox = await create(32);
    const seen: unknown[] = [];
    const host: SandboxHostCall = async (operation, args) => {
      seen.push([operation, args]);
      if ((args as { slug: string }).slug === 'BAD') throw new SandboxCallError('TOOL_NOT_FOUND', 'no BAD');
      return { successful: true, data: { n: (args as { args: { n: number } }).args.n * 2 } };
    };
    const out = await sandbox.run(
      `const a = await toolmux.execute('X', { n: 2 });
       const b = await Promise.all([1, 2].map((n) => toolmux.execute('X', { n })));
       let code; try { await toolmux.execute('BAD') } catch (e) { code = e.code }
       return { a: a.data.n, b: b.map((r) => r.data.n), code };`,
      host,
      limits,
    );
    expect(out).toEqual({ result: { a: 4, b: [2, 4], code: 'TOOL_NOT_FOUND' }, logs: [] });
    expect(seen[0]).toEqual(['execute', { slug: 'X', args: { n: 2 } }]);
  });

  it('passes any slug and arguments to the host as the code gave them, with or without options', async () => {
    const sandbox = await create(32);
    const seen: unknown[] = [];
    const host: SandboxHostCall = async (operation, args) => {
      seen.push([operation, args]);
      const { slug } = args as { slug: unknown };
      if (slug === 'UNDEFINED') return undefined;
      if (slug === 'FAIL\t!') throw new SandboxCallError('TOOL_NOT_FOUND', 'no "FAIL" \n here');
      return { slug, text: '!not an error', args: (args as { args: unknown }).args };
    };
    // slugs with the characters that separate the calls the engine queues, and replies that start with them
    const out = await sandbox.run(
      `const slugs = ['A\\tB', 'line\\nbreak', '3\\t{"n":1}', '', 'é✓👋\\u0000'];
       const got = await Promise.all(slugs.map((slug, n) => toolmux.execute(slug, { n, s: '\\t\\n!' })));
       const plain = await toolmux.execute('P');
       const nulls = await toolmux.execute('N', null);
       const withAccount = await toolmux.execute('A\\tB', { n: 9 }, { account: 'ca_1' });
       const undef = await toolmux.execute('UNDEFINED', {});
       let failure; try { await toolmux.execute('FAIL\\t!', {}) } catch (e) { failure = [e.code, e.message] }
       await toolmux.execute(7, {});
       return { got, plain, nulls, withAccount, undef, failure };`,
      host,
      { ...limits, maxToolCalls: 20 },
    );
    expect(out.error).toBeUndefined();
    const result = out.result as Record<string, unknown>;
    const slugs = ['A\tB', 'line\nbreak', '3\t{"n":1}', '', 'é✓👋\u0000'];
    expect(result.got).toEqual(
      slugs.map((slug, n) => ({ slug, text: '!not an error', args: { n, s: '\t\n!' } })),
    );
    expect(result.plain).toEqual({ slug: 'P', text: '!not an error', args: {} });
    expect(result.nulls).toEqual({ slug: 'N', text: '!not an error', args: null });
    expect(result.withAccount).toEqual({ slug: 'A\tB', text: '!not an error', args: { n: 9 } });
    expect(result.undef).toBeNull();
    expect(result.failure).toEqual(['TOOL_NOT_FOUND', 'no "FAIL" \n here']);
    expect(seen).toContainEqual(['execute', { slug: 'A\tB', args: { n: 9 }, account: 'ca_1' }]);
    expect(seen).toContainEqual(['execute', { slug: 7, args: {} }]);
    expect(seen.slice(0, 5)).toEqual(slugs.map((slug, n) => ['execute', { slug, args: { n, s: '\t\n!' } }]));
  });

  it("gives a failed call's error its code as its own property, whatever the code did to Error.prototype", async () => {
    const sandbox = await create(32);
    const out = await sandbox.run(
      `Object.defineProperty(Error.prototype, 'code', {
         set() { globalThis.setterRan = true; }, get() { return 'from the prototype'; }, configurable: true,
       });
       try { await toolmux.execute('X', {}); } catch (e) {
         return [e instanceof Error, e.code, e.message, globalThis.setterRan === true, Object.keys(e)];
       }`,
      async () => {
        throw new SandboxCallError('TOOL_NOT_FOUND', 'no X');
      },
      limits,
    );
    expect(out).toEqual({ result: [true, 'TOOL_NOT_FOUND', 'no X', false, ['code']], logs: [] });
  });

  it("refuses a call whose arguments hold a BigInt or a cycle with the call's toolmux code, naming where, and sends nothing", async () => {
    const sandbox = await create(32);
    const seen: unknown[] = [];
    const host: SandboxHostCall = async (operation, args) => {
      seen.push([operation, args]);
      return null;
    };
    const out = await sandbox.run(
      `const failed = async (call) => { try { await call(); return 'made'; } catch (e) { return [e.code ?? '(no code)', e.message]; } };
       const a = { list: [1, 2] }; a.list.push(a);
       const b = { inner: { ok: true } }; b.inner.back = b.inner;
       return [
         await failed(() => toolmux.files.write('f', { n: 1n })),
         await failed(() => toolmux.files.write('f', a)),
         await failed(() => toolmux.execute('SLOW', { ms: [0, 12345678901234567890123456789n] })),
         await failed(() => toolmux.execute('SLOW', b, { account: 'x' })),
         await failed(() => toolmux.execute('SLOW', { "first name": 2n })),
         await failed(() => toolmux.search('tasks', { limit: 1n })),
         await failed(() => toolmux.files.write('f', { toJSON() { throw new RangeError('own') } })),
       ];`,
      host,
      limits,
    );
    expect(out.error).toBeUndefined();
    expect(out.result).toEqual([
      [
        'INVALID_REQUEST',
        'toolmux.files.write: value.n is a BigInt (1n), which JSON has no form for; send it as a number or a string.',
      ],
      [
        'INVALID_REQUEST',
        'toolmux.files.write: value.list[2] is value itself (a circular reference), which JSON cannot write; send the data without the cycle.',
      ],
      [
        'TOOL_ARGUMENTS_INVALID',
        'toolmux.execute: arguments.ms[1] is a BigInt (12345678901234567890…n), which JSON has no form for; send it as a number or a string.',
      ],
      [
        'TOOL_ARGUMENTS_INVALID',
        'toolmux.execute: arguments.inner.back is arguments.inner itself (a circular reference), which JSON cannot write; send the data without the cycle.',
      ],
      [
        'TOOL_ARGUMENTS_INVALID',
        'toolmux.execute: arguments["first name"] is a BigInt (2n), which JSON has no form for; send it as a number or a string.',
      ],
      [
        'INVALID_REQUEST',
        'toolmux.search: limit is a BigInt (1n), which JSON has no form for; send it as a number or a string.',
      ],
      // the code's own exception, as it threw it
      ['(no code)', 'own'],
    ]);
    expect(seen).toEqual([]);
    // left uncaught, a failed call's code is in the cell's error
    const uncaught = await sandbox.run('await toolmux.files.write("f", 1n)', host, limits);
    expect(uncaught.error?.message.split('\n')[0]).toBe(
      'Error [INVALID_REQUEST]: toolmux.files.write: value is a BigInt (1n), which JSON has no form for; send it as a number or a string.',
    );
    const notFound = await sandbox.run(
      'await toolmux.files.read("f")',
      async () => {
        throw new SandboxCallError('WORKBENCH_FILE_NOT_FOUND', 'There is no workbench file f');
      },
      limits,
    );
    expect(notFound.error?.code).toBe('WORKBENCH_CODE_ERROR');
    expect(notFound.error?.message.split('\n')[0]).toBe(
      'Error [WORKBENCH_FILE_NOT_FOUND]: There is no workbench file f',
    );
  });

  it('refuses a file value JSON would write as another value (a function, undefined, NaN, a Map) with INVALID_REQUEST naming where, and writes none of them', async () => {
    const sandbox = await create(32);
    const seen: unknown[] = [];
    const host: SandboxHostCall = async (operation, args) => {
      seen.push([operation, args]);
      return null;
    };
    const out = await sandbox.run(
      `const failed = async (value) => { try { await toolmux.files.write('f', value); return 'written'; } catch (e) { return [e.code, e.message]; } };
       return [
         await failed(() => 1),
         await failed(undefined),
         await failed({ x: NaN, y: Infinity }),
         await failed(new Map([['k', 1]])),
         await failed({ list: [1, undefined] }),
         await failed({ tags: new Set(['a']), f() {} }),
         await failed({ report: { run() {} } }),
         await failed([Symbol('s')]),
         await failed({ ok: 1, missing: undefined, at: new Date(0) }),
       ];`,
      host,
      limits,
    );
    expect(out.error).toBeUndefined();
    const refused = (text: string) => ['INVALID_REQUEST', `toolmux.files.write: ${text}`];
    expect(out.result).toEqual([
      refused(
        'value is a function, which JSON has no form for; write data: call the function, or write what it gives.',
      ),
      refused('value is undefined, which JSON has no form for; write null, or leave it out.'),
      refused('value.x is NaN, which JSON has no form for; write a finite number, null or a string.'),
      refused('value is a Map, which JSON has no form for; write Object.fromEntries(map) or [...map].'),
      refused('value.list[1] is undefined, which JSON has no form for; write null, or leave it out.'),
      refused('value.tags is a Set, which JSON has no form for; write [...set].'),
      refused(
        'value.report.run is a function, which JSON has no form for; write data: call the function, or write what it gives.',
      ),
      refused('value[0] is a symbol, which JSON has no form for; write a string.'),
      // a property left undefined is left out, as JSON does; a Date is its toJSON's string
      'written',
    ]);
    expect(seen).toEqual([['files.write', { path: 'f', value: { ok: 1, at: '1970-01-01T00:00:00.000Z' } }]]);
    // a returned object whose toJSON gives nothing says so, in English
    const returned = await sandbox.run('return { toJSON() { return undefined } }', noHost, limits);
    expect(returned.error?.message.split('\n')[0]).toBe(
      'TypeError: The returned value is an object whose toJSON() gives no JSON value (undefined, a function or a symbol): return data (what toJSON() should give, or the fields of the object).',
    );
  });

  it('passes the slugs of 300 different tools intact (more than the prelude remembers as plain)', async () => {
    const sandbox = await create(32);
    const host: SandboxHostCall = async (_operation, args) => (args as { slug: string }).slug;
    const out = await sandbox.run(
      `const slugs = Array.from({ length: 300 }, (_, n) => 'T' + n + (n % 2 ? '\\n' : '\\u0000'));
       const got = [];
       for (const slug of [...slugs, ...slugs.slice(0, 10)]) got.push(await toolmux.execute(slug, {}));
       return got.every((slug, n) => slug === slugs[n % 300]) && got.length;`,
      host,
      { ...limits, maxToolCalls: 400 },
    );
    expect(out).toEqual({ result: 310, logs: [] });
  });

  it('has no host objects: process, require, import(), fetch, timers, the Function escape', async () => {
    const sandbox = await create(32);
    const probe = await sandbox.run(
      `return {
         process: typeof process, require: typeof require, fetch: typeof fetch, setTimeout: typeof setTimeout,
         setInterval: typeof setInterval, Buffer: typeof Buffer, globalKeys: Object.getOwnPropertyNames(globalThis).filter((k) => /host|log|std|os/i.test(k)),
         escaped: (() => { try { return typeof this.constructor.constructor('return process')() } catch (e) { return 'threw ' + e.name } })(),
         viaFunction: typeof Function('return globalThis.process')(),
       };`,
      noHost,
      limits,
    );
    expect(probe.result).toEqual({
      process: 'undefined',
      require: 'undefined',
      fetch: 'undefined',
      setTimeout: 'undefined',
      setInterval: 'undefined',
      Buffer: 'undefined',
      globalKeys: [],
      escaped: 'threw ReferenceError',
      viaFunction: 'undefined',
    });
    const imported = await sandbox.run(
      "const fs = await import('fs'); return typeof fs.readFileSync",
      noHost,
      limits,
    );
    expect(imported.error?.code).toBe('WORKBENCH_CODE_ERROR');
    expect(imported.result).toBeNull();
  });

  it('stops an endless loop with WORKBENCH_TIMEOUT within the limit + 1 s; a new sandbox works', async () => {
    const sandbox = await create(32);
    const started = Date.now();
    const out = await sandbox.run('while (true) {}', noHost, { ...limits, timeoutMs: 300 });
    expect(out.error?.code).toBe('WORKBENCH_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1_300);
    expect(sandbox.disposed).toBe(true);
    const waiting = await (await create(32)).run(
      'await toolmux.execute("SLOW", {}); return 1',
      (_op, _args, signal) =>
        new Promise((resolve) => signal.addEventListener('abort', () => resolve('late'))),
      { ...limits, timeoutMs: 200 },
    );
    expect(waiting.error?.code).toBe('WORKBENCH_TIMEOUT');
    expect((await (await create(32)).run('return 2', noHost, limits)).result).toBe(2);
  });

  it.each([
    ['an async loop', '(async () => { for (;;) await null; })(); return 1'],
    [
      'a loop in a later promise job',
      'let p = Promise.resolve(); for (let i = 0; i < 5; i++) p = p.then(() => {}); p.then(() => { for (;;) {} }); return 1',
    ],
  ])(
    'code that %s leaves running after it returned stops at the cell’s deadline; the next cell runs',
    async (_what, code) => {
      const sandbox = await create(32);
      const started = Date.now();
      const out = await sandbox.run(code, noHost, { ...limits, timeoutMs: 300 });
      expect(out.result).toBe(1);
      // what the code left running ends by the cell's deadline (not never, computing in the background)
      await sandbox.idle();
      expect(Date.now() - started).toBeLessThan(1_300);
      const next = sandbox.disposed ? await create(32) : sandbox;
      expect((await next.run('return 2', noHost, limits)).result).toBe(2);
    },
  );

  it("aborts its calls' signal when the cell ends while a call runs or the caller aborts, not after calls that came back", async () => {
    const sandbox = await create(32);
    const signals: AbortSignal[] = [];
    const host: SandboxHostCall = (_operation, args, signal) => {
      signals.push(signal);
      return (args as { slug: string }).slug === 'SLOW' ? new Promise(() => {}) : Promise.resolve(1);
    };
    // every call came back: nothing is left to abort
    const caller = new AbortController();
    const done = await sandbox.run("return await toolmux.execute('FAST', {})", host, {
      ...limits,
      signal: caller.signal,
    });
    expect(done.result).toBe(1);
    expect(signals[0]?.aborted).toBe(false);
    caller.abort(new Error('too late'));
    expect(signals[0]?.aborted).toBe(false);
    // a call still running when the cell returns is aborted
    const left = await sandbox.run("toolmux.execute('SLOW', {}); return 2", host, limits);
    expect(left.result).toBe(2);
    expect(signals[1]?.aborted).toBe(true);
    expect((signals[1]!.reason as { name: string }).name).toBe('AbortError');
    // the caller's abort reaches a running call, with the caller's reason
    const stop = new AbortController();
    const running = sandbox.run("await toolmux.execute('SLOW', {}); return 3", host, {
      ...limits,
      timeoutMs: 300,
      signal: stop.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    stop.abort(new Error('caller gave up'));
    expect(signals[2]?.aborted).toBe(true);
    expect((signals[2]!.reason as Error).message).toBe('caller gave up');
    expect((await running).error?.code).toBe('WORKBENCH_TIMEOUT');
  });

  it('ends a memory bomb with WORKBENCH_MEMORY_LIMIT without growing the process past the limit', async () => {
    const sandbox = await create(16);
    const before = process.memoryUsage().rss;
    const out = await sandbox.run('const a = []; while (true) a.push("x".repeat(1000) + a.length);', noHost, {
      ...limits,
      timeoutMs: 10_000,
    });
    expect(out.error?.code).toBe('WORKBENCH_MEMORY_LIMIT');
    // 16 MB heap + 16 MB of Wasm headroom at most; 200 MB is far below the unbounded growth (GBs).
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    const buffers = await (await create(16)).run(
      'const b = []; while (true) b.push(new ArrayBuffer(1 << 20));',
      noHost,
      limits,
    );
    expect(buffers.error?.code).toBe('WORKBENCH_MEMORY_LIMIT');
    expect((await (await create(16)).run('return "ok"', noHost, limits)).result).toBe('ok');
  });

  it('caps output, returned size and tool calls per cell', async () => {
    const sandbox = await create(32);
    const logs = await sandbox.run(
      'for (let i = 0; i < 5000; i++) console.log("line " + i); return 1',
      noHost,
      {
        ...limits,
        timeoutMs: 20_000,
        maxOutputChars: 100,
      },
    );
    expect(logs.error).toBeUndefined();
    expect(logs.result).toBe(1);
    expect(logs.logs.join('').length).toBeLessThan(200);
    expect(logs.logs.at(-1)).toContain('logs cut');
    const big = await sandbox.run('return "x".repeat(5000)', noHost, { ...limits, maxOutputChars: 1000 });
    expect(big.error?.code).toBe('WORKBENCH_OUTPUT_LIMIT');
    expect(big.error?.message).toContain('toolmux.files.write');
    // a large reply reaches the code whole (its JSON is parsed inside the engine, in a job)
    const large = await sandbox.run(
      'const r = await toolmux.execute("BIG", {}); return [r.text.length, r.text.slice(-3)]',
      async () => ({ text: `${'z'.repeat(2_000_000)}end` }),
      limits,
    );
    expect(large.result).toEqual([2_000_003, 'end']);
    // a huge line or value is cut or measured in the sandbox: only its length crosses to the host
    const huge = await sandbox.run('console.log("y".repeat(5e6)); return "x".repeat(1e7)', noHost, {
      ...limits,
      maxOutputChars: 1000,
    });
    expect(huge.error?.code).toBe('WORKBENCH_OUTPUT_LIMIT');
    expect(huge.error?.message).toContain('10000002 characters');
    expect(huge.logs.join('').length).toBeLessThan(2000);
    expect(huge.logs.at(-1)).toContain('logs cut');
    const calls = await sandbox.run(
      'for (let i = 0; i < 10; i++) await toolmux.execute("X", {}); return 1',
      noHost,
      {
        ...limits,
        maxToolCalls: 3,
      },
    );
    expect(calls.error?.code).toBe('WORKBENCH_TOOL_CALL_LIMIT');
    expect((await sandbox.run('return 3', noHost, limits)).result).toBe(3);
    // more than its first cell's own 20 s: a slow cell ends with its own error, not a test timeout
  }, 60_000);

  it('an endless recursion that overflows the engine’s stack says so (not that memory ran out)', async () => {
    for (const code of [
      'const f = () => f(); f()',
      'const f = function () { [1].forEach(f) }; f()',
      'const o = { toString() { return String(o) } }; String(o)',
      'let a = 1; for (let i = 0; i < 1e5; i++) a = [a]; return a',
    ]) {
      const sandbox = await create(32);
      // the overflow ends it, not the clock: a loaded machine may take seconds to get that deep
      const out = await sandbox.run(code, noHost, { ...limits, timeoutMs: 30_000 });
      expect(out.error?.code).toBe('WORKBENCH_MEMORY_LIMIT');
      expect(out.error?.message).toContain('nested function calls or values too deeply');
      expect(out.error?.message).not.toContain('used more memory');
      expect((await (await create(32)).run('return 1', noHost, limits)).result).toBe(1);
    }
  }, 120_000);

  it('logs a line with a NUL whole (the NUL shown as \\0), not cut at it, and a lone surrogate as one U+FFFD', async () => {
    const sandbox = await create(32);
    const out = await sandbox.run(
      'console.log("a\\0b", "c"); console.log("\\0"); return "x\\0y"',
      noHost,
      limits,
    );
    expect(out).toEqual({ result: 'x\0y', logs: ['a\\0b c', '\\0'] });
    // its UTF-8 bytes read as invalid showed three
    const lone = await sandbox.run(
      'console.log("a\\ud800b", "\\udfffc"); console.log("😀 \\ud83d"); return "x\\ud800"',
      noHost,
      limits,
    );
    expect(lone).toEqual({ result: 'x\ud800', logs: ['a\ufffdb \ufffdc', '😀 \ufffd'] });
    // shown with the engine's own String.prototype.replace, whatever the code made of it
    const replaced = await sandbox.run(
      'String.prototype.replace = function () { return "forged" }; console.log("d\\0e"); return 1',
      noHost,
      limits,
    );
    expect(replaced).toEqual({ result: 1, logs: ['d\\0e'] });
  });

  it('keeps the start of a console line that does not fit the output cap, marked with its length', async () => {
    const sandbox = await create(32);
    // (room for a loaded machine: making and cutting 5 MB of text is no test of the time limit)
    const capped = { ...limits, timeoutMs: 15_000, maxOutputChars: 1_000 };
    // the logs' characters, each line with its line break (the note after a cut is not counted)
    const counted = (logs: string[]) => logs.slice(0, -1).reduce((sum, line) => sum + line.length + 1, 0);
    // one line longer than the cap, alone: it was the note alone
    const alone = await sandbox.run('console.log("a".repeat(5e6)); return null', noHost, capped);
    expect(alone.logs).toHaveLength(2);
    expect(alone.logs[0]).toMatch(/^a{900,}… \(cut: the line had 5000000 characters\)$/);
    expect(alone.logs[1]).toContain('logs cut');
    expect(counted(alone.logs) + 'null'.length).toBeLessThanOrEqual(1_000);
    // after other lines, in what is left of the cap; lines after it are dropped
    const after = await sandbox.run(
      'console.log("first"); console.log("b".repeat(3000)); console.log("later"); return null',
      noHost,
      capped,
    );
    expect(after.logs[0]).toBe('first');
    expect(after.logs[1]).toMatch(/^b{900,}… \(cut: the line had 3000 characters\)$/);
    expect(after.logs).toHaveLength(3);
    // all of the room is used: the line and the returned value's JSON (null) make the cap
    expect(counted(after.logs) + 'null'.length).toBe(1_000);
    // beside a returned value, cut again to what the value leaves, with the length it had
    const beside = await sandbox.run('console.log("c".repeat(3000)); return "r".repeat(498)', noHost, capped);
    expect(beside.result).toBe('r'.repeat(498));
    expect(beside.logs[0]).toMatch(/^c{400,}… \(cut: the line had 3000 characters\)$/);
    expect(counted(beside.logs) + 500).toBeLessThanOrEqual(1_000);
    // the length is the line's as shown (a NUL as \0), and a surrogate pair is never split
    const shown = await sandbox.run('console.log("\\0" + "😀".repeat(2000)); return null', noHost, capped);
    expect(shown.logs[0]).toMatch(/^\\0(😀)+… \(cut: the line had 4002 characters\)$/u);
    const nulBeside = await sandbox.run(
      'console.log("d".repeat(400) + "\\0".repeat(200)); return "r".repeat(598)',
      noHost,
      capped,
    );
    expect(nulBeside.logs[0]).toMatch(/^d{300,}… \(cut: the line had 800 characters\)$/);
    // a room too small for the mark keeps no start: the note alone, as before
    const small = await sandbox.run(
      'console.log("e".repeat(990)); console.log("f".repeat(50)); return null',
      noHost,
      capped,
    );
    expect(small.logs).toEqual(['e'.repeat(990), expect.stringContaining('logs cut')]);
  });

  it('caps empty log lines and the message of what the code threw as it caps other output', async () => {
    const sandbox = await create(32);
    const capped = { ...limits, timeoutMs: 20_000, maxOutputChars: 1_000 };
    // an empty line is not free: 100,000 of them were 100,000 entries (300 KB of JSON) past a 1,000 cap
    const empty = await sandbox.run('for (let i = 0; i < 1e5; i++) console.log(); return 1', noHost, capped);
    expect(empty.result).toBe(1);
    expect(empty.logs.length).toBeLessThanOrEqual(1_001);
    expect(empty.logs.at(-1)).toContain('logs cut');
    for (const code of [
      'throw new Error("e".repeat(5e6))',
      'const error = new Error("short"); error.stack = "s".repeat(5e6); throw error',
      'throw { name: "n".repeat(5e6), message: "m".repeat(5e6) }',
      'throw "q".repeat(5e6)',
    ]) {
      const thrown = await sandbox.run(code, noHost, capped);
      expect(thrown.error?.code).toBe('WORKBENCH_CODE_ERROR');
      expect(thrown.error?.message.length).toBeLessThan(1_200);
      expect(thrown.error?.message).toContain('[the rest cut: more than 1000 characters]');
    }
    // logs and the returned value share the cap: the value stays whole, the logs are cut to the rest
    const shared = await sandbox.run(
      'for (let i = 0; i < 10; i++) console.log(String(i).repeat(89)); return "r".repeat(498)',
      noHost,
      capped,
    );
    expect(shared.error).toBeUndefined();
    expect(shared.result).toBe('r'.repeat(498));
    expect(
      shared.logs.slice(0, -1).join('\n').length + JSON.stringify(shared.result).length,
    ).toBeLessThanOrEqual(1_000);
    expect(shared.logs.slice(0, 5)).toEqual(['0', '1', '2', '3', '4'].map((digit) => digit.repeat(89)));
    expect(shared.logs.at(-1)).toContain('logs cut');
    // a short one is whole
    const short = await sandbox.run('throw new RangeError("bad")', noHost, capped);
    expect(short.error?.message).toMatch(/^RangeError: bad\n/);
    expect(short.error?.message).not.toContain('cut');
    // more than a cell's own 20 s: a slow cell ends with its own error, not a test timeout
  }, 60_000);

  it('a returned value JSON cannot hold (a cycle, a BigInt) ends the cell with WORKBENCH_CODE_ERROR, not a timeout', async () => {
    const sandbox = await create(32);
    const cyclic = await sandbox.run('const a = {}; a.self = a; return a', noHost, {
      ...limits,
      timeoutMs: 30_000,
    });
    expect(cyclic.error?.code).toBe('WORKBENCH_CODE_ERROR');
    expect(cyclic.error?.message).toContain('cannot be sent as JSON');
    const big = await sandbox.run('return 10n', noHost, { ...limits, timeoutMs: 30_000 });
    expect(big.error?.code).toBe('WORKBENCH_CODE_ERROR');
    expect(sandbox.disposed).toBe(false);
    expect((await sandbox.run('return 4', noHost, limits)).result).toBe(4);
  });

  it('an Error, a Map or a Set (JSON writes each as {}) reaches the model as the data it holds, in the value and in console lines', async () => {
    const sandbox = await create(32);
    const value = async (code: string) => {
      const out = await sandbox.run(code, noHost, limits);
      expect(out.error, code).toBeUndefined();
      return out.result;
    };
    // what a cell that catches errors returns: their name, message and own fields (a toolmux code)
    expect(await value("return new Error('boom')")).toEqual({ name: 'Error', message: 'boom' });
    expect(
      await value("const e = new RangeError('out'); e.code = 'E_RANGE'; e.status = 404; return [e, 1]"),
    ).toEqual([{ name: 'RangeError', message: 'out', code: 'E_RANGE', status: 404 }, 1]);
    expect(
      await value(
        "class NotFound extends Error { constructor(id) { super('no ' + id); this.name = 'NotFound'; this.id = id } } return { failed: [new NotFound(7)] }",
      ),
    ).toEqual({ failed: [{ name: 'NotFound', message: 'no 7', id: 7 }] });
    // a Map of string keys as an object, of other keys as its [key, value] pairs; a Set as an array,
    // nested as deep as they are
    expect(await value("return new Map([['a', 1], ['b', new Set([2, 3])]])")).toEqual({ a: 1, b: [2, 3] });
    expect(await value("return { byId: new Map([[1, 'x'], [2, new Map([['k', true]])]]) }")).toEqual({
      byId: [
        [1, 'x'],
        [2, { k: true }],
      ],
    });
    expect(await value('return [new Set(), new Map()]')).toEqual([[], {}]);
    // an Error's own field named like Object.prototype's is its data, not the written object's prototype
    expect(
      await value(
        "const e = new Error('p'); Object.defineProperty(e, '__proto__', { value: { x: 1 }, enumerable: true }); return e",
      ),
    ).toEqual(JSON.parse('{"name":"Error","message":"p","__proto__":{"x":1}}'));
    // a key of a Map named like one of Object.prototype's is the Map's own data
    expect(await value("return new Map([['__proto__', 1], ['toString', 2]])")).toEqual(
      JSON.parse('{"__proto__":1,"toString":2}'),
    );
    // the same in console lines
    const logged = await sandbox.run(
      "console.log({ error: new TypeError('bad') }, new Map([['k', 1]]), new Set(['s'])); return 1",
      noHost,
      limits,
    );
    expect(logged.logs).toEqual(['{"error":{"name":"TypeError","message":"bad"}} {"k":1} ["s"]']);
    // JSON the code writes itself is JavaScript's own
    expect(await value('return JSON.stringify([new Map([[1, 2]]), new Error("e")])')).toBe('[{},{}]');
    expect(sandbox.disposed).toBe(false);
  });

  it('a thrown object that is no Error and has no message is shown as its JSON, and an Error without a message by its name alone', async () => {
    const sandbox = await create(32);
    for (const [code, shown] of [
      ['throw { status: 404, reason: "gone" }', 'Error: {"status":404,"reason":"gone"}'],
      ['throw [1, new Map([["k", 2]])]', 'Error: [1,{"k":2}]'],
      ['throw { message: "said", status: 500 }', 'Error: said'],
    ] as const) {
      const out = await sandbox.run(code, noHost, limits);
      expect(out.error?.code, code).toBe('WORKBENCH_CODE_ERROR');
      expect(out.error?.message.split('\n')[0], code).toBe(shown);
    }
    const bare = await sandbox.run('throw new TypeError()', noHost, limits);
    expect(bare.error?.message).toMatch(/^TypeError\n {4}at /);
    expect(sandbox.disposed).toBe(false);
  });

  it('a returned function or symbol (no JSON form) ends the cell with WORKBENCH_CODE_ERROR naming its type, not a null result', async () => {
    const sandbox = await create(32);
    for (const [code, type] of [
      ['return toolmux.execute', 'function'],
      ['return async () => 1', 'function'],
      ['return class Report {}', 'function'],
      ["return Symbol('s')", 'symbol'],
    ] as const) {
      const out = await sandbox.run(code, noHost, limits);
      expect(out.error?.code, code).toBe('WORKBENCH_CODE_ERROR');
      expect(out.error?.message, code).toContain(`The returned value is a ${type}, which has no JSON form`);
      expect(out.result, code).toBeNull();
    }
    // nothing returned, undefined, and a function inside a value are JSON's as ever: null, and left out
    expect((await sandbox.run('return', noHost, limits)).error).toBeUndefined();
    expect((await sandbox.run('return undefined', noHost, limits)).result).toBeNull();
    expect((await sandbox.run('return { a: 1, f() {} }', noHost, limits)).result).toEqual({ a: 1 });
    expect(sandbox.disposed).toBe(false);
  });

  it('a returned value whose JSON throws something that is no Error (a string, a symbol, a value whose message throws) ends the cell at once with WORKBENCH_CODE_ERROR naming it, not at the deadline with the context lost', async () => {
    const sandbox = await create(32);
    // 30 s: on the old code, a thrown value whose message threw when read ended these cells at this
    // deadline (WORKBENCH_TIMEOUT, the context reset), and a string or a symbol was shown as "undefined"
    const slow = { ...limits, timeoutMs: 30_000 };
    await sandbox.run('globalThis.kept = 7', noHost, limits);
    for (const [code, shown] of [
      [
        'return { get x() { throw new Proxy({}, { get() { throw 1 } }) } }',
        'threw when its message was read',
      ],
      ["return { toJSON() { throw { get message() { throw 'unreadable' } } } }", 'unreadable'],
      ["return { get x() { throw 'a string of its own' } }", 'a string of its own'],
      ["return { toJSON() { throw Symbol('its symbol') } }", 'Symbol(its symbol)'],
    ] as const) {
      const out = await sandbox.run(code, noHost, slow);
      expect(out.error?.code, code).toBe('WORKBENCH_CODE_ERROR');
      expect(out.error?.message, code).toContain('cannot be sent as JSON');
      expect(out.error?.message, code).toContain(shown);
      expect(out.error?.message, code).not.toContain('undefined');
    }
    expect(sandbox.disposed).toBe(false);
    expect((await sandbox.run('return globalThis.kept', noHost, limits)).result).toBe(7);
  }, 60_000);

  it('hands a raw host the calls made in one go together, then one flush; replies given together run the code on once', async () => {
    const sandbox = await create(32);
    const events: string[] = [];
    const pending: Array<{ operation: string; argsJson: string; done: (replyJson: string) => void }> = [];
    const host: SandboxRawHost = {
      call(operation, argsJson, done) {
        events.push(operation);
        pending.push({ operation, argsJson, done });
      },
      flush() {
        events.push('flush');
        // Every reply at once, after this turn: the engine runs on once for all of them.
        const replies = pending.splice(0);
        setImmediate(() =>
          Sandbox.batch(() => {
            for (const { operation, argsJson, done } of replies) {
              // `toolmux.execute('X', { n })`: the slug's length, a tab, the slug, the arguments' JSON
              const args =
                operation === EXECUTE_SLUG_FIRST
                  ? (JSON.parse(argsJson.slice('1\tX'.length)) as { n: number })
                  : undefined;
              if (args) expect(argsJson).toBe(`1\tX${JSON.stringify(args)}`);
              // the reply is the value's JSON text
              done(JSON.stringify(args ? args.n * 10 : 7));
            }
          }),
        );
      },
    };
    const out = await sandbox.runRaw(
      `const all = await Promise.all(Array.from({ length: 20 }, (_, n) => toolmux.execute('X', { n })));
       const one = await toolmux.files.read('p');
       return all.reduce((sum, value) => sum + value, 0) + one;`,
      host,
      { ...limits, maxToolCalls: 100 },
    );
    expect(out).toEqual({ result: 1900 + 7, logs: [] });
    // The 20 calls of Promise.all, one flush; then files.read and its flush.
    expect(events.slice(0, 21)).toEqual([...Array.from({ length: 20 }, () => EXECUTE_SLUG_FIRST), 'flush']);
    expect(events.slice(21)).toEqual(['files.read', 'flush']);
  });

  it('passes on calls made just before the cell returned, and drops calls queued after it ended', async () => {
    const sandbox = await create(32);
    const seen: unknown[] = [];
    const host: SandboxHostCall = async (operation, args) => {
      seen.push([operation, args]);
      return null;
    };
    const out = await sandbox.run(
      `toolmux.files.write('last', 1);
       Promise.resolve().then(() => Promise.resolve()).then(() => toolmux.files.write('after', 2));
       return 'ok';`,
      host,
      limits,
    );
    expect(out.result).toBe('ok');
    expect(seen).toEqual([['files.write', { path: 'last', value: 1 }]]);
    expect((await sandbox.run('return 5', host, limits)).result).toBe(5);
    expect(seen).toHaveLength(1);
  });

  it('calls or a reply too large for what is left of the engine end the cell as WORKBENCH_MEMORY_LIMIT, not lost until the timeout', async () => {
    const seen: string[] = [];
    const host: SandboxHostCall = async (operation) => {
      seen.push(operation);
      return operation === 'files.read' ? new RawJson(JSON.stringify('z'.repeat(20e6))) : null;
    };
    const slow = { ...limits, timeoutMs: 20_000, maxToolCalls: 100 };
    for (const code of [
      // 15 × 3 MB queued at once: the engine has no room to hand them over as one text
      `const big = 'x'.repeat(3e6);
       await Promise.all(Array.from({ length: 15 }, (_, i) => toolmux.files.write('f' + i, big)));
       return 'written'`,
      // the same queued as the cell returns: not dropped while the cell answers 'written'
      `const big = 'x'.repeat(3e6);
       for (let i = 0; i < 15; i++) toolmux.files.write('f' + i, big);
       return 'written'`,
      // a 20 MB reply beside 28 MB of the code's own: never written into the engine at address 0
      `globalThis.keep = 'y'.repeat(28e6); const r = await toolmux.files.read('x'); return r.length`,
    ]) {
      seen.length = 0;
      const sandbox = await create(code.includes('keep') ? 32 : 64);
      const out = await sandbox.run(code, host, slow);
      expect(out.error?.code).toBe('WORKBENCH_MEMORY_LIMIT');
      expect(out.error?.message).toContain('The engine had no memory left');
      expect(seen).toEqual(code.includes('keep') ? ['files.read'] : []);
      expect(sandbox.disposed).toBe(true);
    }
    // three cells of up to 20 s each on a loaded machine
  }, 70_000);

  it('an error is read as the code threw it, whatever the code did to Array.prototype or String (not as memory running out)', async () => {
    const sandbox = await create(32);
    const host: SandboxHostCall = async () => ({ ok: true });
    for (const [code, says] of [
      // JSON.stringify of any object sets index 0 of an array of its own, which finds this setter
      [
        `Object.defineProperty(Array.prototype, '0', { set() { throw new Error('my setter') }, configurable: true });
         try { await toolmux.files.list() } finally { delete Array.prototype[0] }`,
        'Error: my setter',
      ],
      [
        `Object.defineProperty(Array.prototype, '0', { get() { return 1 }, configurable: true });
         throw new RangeError('mine')`,
        'RangeError: mine',
      ],
      [
        `String = () => ({ toString() { return 'forged' } }); throw new TypeError('mine too')`,
        'TypeError: mine too',
      ],
      // a NUL is shown as in a console line, and what follows it is kept
      ["throw new Error('before\\u0000after')", 'Error: before\\0after'],
      // a lone surrogate too: one U+FFFD (it showed three), in the name, message and stack alike
      ['throw new Error("a\\ud800b")', 'Error: a\ufffdb'],
      ['throw new TypeError("\\udc00 😀")', 'TypeError: \ufffd 😀'],
      ['throw { name: "N\\ud800", message: "m\\udfff", stack: "s\\ud83d" }', 'N\ufffd: m\ufffd\ns\ufffd'],
      ['throw "s\\ud83d"', 'Error: s\ufffd'],
    ] as const) {
      const out = await sandbox.run(code, host, limits);
      expect(out.error?.code).toBe('WORKBENCH_CODE_ERROR');
      expect(out.error?.message).toContain(says);
      expect(out.error?.message).not.toContain('\ufffd\ufffd');
      expect(sandbox.disposed).toBe(false);
    }
  });

  it('a call an earlier cell left waiting rejects with a readable error in the next cell, instead of holding it until its timeout', async () => {
    const sandbox = await create(32);
    const host: SandboxHostCall = async () => ({ ok: true });
    const slow = { ...limits, timeoutMs: 10_000 };
    // returned without awaiting them: one call taken by the host, one queued after the cell ended
    const first = await sandbox.run(
      `globalThis.left = toolmux.execute('X', {});
       Promise.resolve().then(() => Promise.resolve()).then(() => { globalThis.late = toolmux.files.list(); });
       return 1`,
      host,
      slow,
    );
    expect(first.result).toBe(1);
    const second = await sandbox.run(
      `const why = (p) => p.then(() => 'settled', (e) => e.code + ': ' + e.message);
       return [await why(globalThis.left), await why(globalThis.late), (await toolmux.execute('X', {})).ok]`,
      host,
      slow,
    );
    expect(second.error).toBeUndefined();
    const [left, late, again] = second.result as [string, string, boolean];
    for (const text of [left, late]) {
      expect(text).toMatch(/^WORKBENCH_CODE_ERROR: This toolmux call was made by an earlier workbench call/);
    }
    expect(again).toBe(true);
  });

  it('calls past the limit made at once are refused in the engine, not queued and refused by the host one by one', async () => {
    const sandbox = await create(64);
    let seen = 0;
    const host: SandboxHostCall = async () => {
      seen++;
      return 1;
    };
    const before = sandbox.suspendableEntries;
    const out = await sandbox.run(
      `const all = await Promise.allSettled(Array.from({ length: 20000 }, () => toolmux.files.list()));
       const refused = all.filter((r) => r.status === 'rejected');
       return [all.length - refused.length, refused.length, refused.every((r) => r.reason.code === 'WORKBENCH_TOOL_CALL_LIMIT'), refused[0].reason.message]`,
      host,
      { ...limits, timeoutMs: 30_000 },
    );
    expect(out.error).toBeUndefined();
    expect(out.result).toEqual([5, 19_995, true, expect.stringContaining('at most 5 toolmux calls')]);
    expect(seen).toBe(5);
    // on the main thread, each refusal the host handed in was an entry into the engine (a promise
    // and a switch of stacks, in one run of microtasks that held the event loop): now a few in all
    if (sandbox.suspendableEntries > 0) expect(sandbox.suspendableEntries - before).toBeLessThan(50);
    // a cell that does not catch the refusal still ends with the limit's code
    const uncaught = await sandbox.run(
      'await Promise.all(Array.from({ length: 10 }, () => toolmux.files.list()))',
      host,
      limits,
    );
    expect(uncaught.error?.code).toBe('WORKBENCH_TOOL_CALL_LIMIT');
    expect(seen).toBe(10);
  });

  it("a new sandbox's first run of jobs that finds none is not taken for a failed job (its exception described)", async () => {
    const sandbox = await create(16);
    const host: SandboxHostCall = async () => 1;
    const entries: number[] = [];
    for (let cell = 0; cell < 2; cell++) {
      const before = sandbox.suspendableEntries;
      expect((await sandbox.run('await toolmux.files.list(); return 1', host, limits)).result).toBe(1);
      entries.push(sandbox.suspendableEntries - before);
    }
    // on the main thread, where entries are counted: the first cell took one more (describing a
    // number read as an exception), as the job context's slot held a fresh block's garbage
    if (sandbox.suspendableEntries > 0) expect(entries[0]).toBe(entries[1]);
  });

  it('code that replaces JSON or pollutes prototypes breaks only its own values, never the calls the host gets', async () => {
    const sandbox = await create(32);
    const seen: unknown[] = [];
    const host: SandboxHostCall = async (operation, args) => {
      seen.push([operation, args]);
      return { ok: true };
    };
    const out = await sandbox.run(
      `JSON.stringify = () => '9\\tfiles.delete\\t{"path":"x"}';
       JSON.parse = () => [[1, { value: 'forged' }]];
       Array.prototype.join = () => 'forged';
       const r = await toolmux.execute('X', { a: 1 });
       return r;`,
      host,
      limits,
    );
    expect(out.error).toBeUndefined();
    expect(out.result).toEqual({ ok: true });
    expect(seen).toEqual([['execute', { slug: 'X', args: { a: 1 } }]]);
  });
});

/** About 30 MB of ArrayBuffers: far more than the initial memory of a sandbox. */
const THIRTY_MB_CODE =
  'const all = []; for (let i = 0; i < 30; i++) all.push(new ArrayBuffer(1 << 20)); return all.length;';

describe('the QuickJS module with a smaller initial memory', () => {
  it('lowers only the memory import minimum, and a sandbox grows its memory as its heap needs', async () => {
    const path = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    const bytes = new Uint8Array(await readFile(path));
    const smaller = withSmallerInitialMemory(bytes);
    expect(smaller).toBeDefined();
    expect(smaller!.pages).toBeLessThan(256);
    expect(smaller!.bytes.length).toBe(bytes.length);
    expect(smaller!.bytes.filter((byte, index) => byte !== bytes[index]).length).toBeLessThanOrEqual(2);
    // A memory of that many pages links to the changed module, not to the original one.
    const imports = (module: WebAssembly.Module, memory: WebAssembly.Memory) => {
      const table: Record<string, Record<string, unknown>> = {};
      for (const each of WebAssembly.Module.imports(module)) {
        table[each.module] ??= {};
        table[each.module]![each.name] = each.kind === 'memory' ? memory : () => 0;
      }
      return table as WebAssembly.Imports;
    };
    const memory = () => new WebAssembly.Memory({ initial: smaller!.pages, maximum: 1024 });
    const changed = await WebAssembly.compile(smaller!.bytes);
    expect(new WebAssembly.Instance(changed, imports(changed, memory()))).toBeDefined();
    const original = await WebAssembly.compile(bytes);
    expect(() => new WebAssembly.Instance(original, imports(original, memory()))).toThrow(
      WebAssembly.LinkError,
    );
    // Not a Wasm binary, or truncated: left alone.
    expect(withSmallerInitialMemory(new Uint8Array([1, 2, 3]))).toBeUndefined();
    expect(withSmallerInitialMemory(bytes.slice(0, 1000))).toBeUndefined();
    const sandbox = await Sandbox.create(64);
    expect((await sandbox.run(THIRTY_MB_CODE, noHost, limits)).result).toBe(30);
    expect((await sandbox.run('return typeof all', noHost, limits)).result).toBe('undefined');
  });
});

describe("callHost (a cell's call, on the thread of its session)", () => {
  /** Turns of the event loop counted while `run` runs, and when `mark` was called. */
  async function countTurns<T>(
    run: (mark: () => number) => Promise<T>,
  ): Promise<{ value: T; marks: number[] }> {
    let turns = 0;
    let counting = true;
    const tick = () => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const marks: number[] = [];
    try {
      const value = await run(() => marks.push(turns));
      return { value, marks: [...marks, turns] };
    } finally {
      counting = false;
    }
  }
  const big = { items: Array.from({ length: 40_000 }, (_, id) => ({ id, text: `é✓👋 ${'x'.repeat(90)}` })) };
  const signal = new AbortController().signal;

  it("calls the host in the same turn with small arguments, and answers with the value's JSON or ! and the error's", async () => {
    const { value, marks } = await countTurns((mark) =>
      callHost(
        async (operation, args) => {
          mark();
          return { operation, args };
        },
        'execute',
        '{"slug":"X","args":{"n":1}}',
        signal,
      ),
    );
    expect(marks[0]).toBe(0);
    expect(JSON.parse(value)).toEqual({ operation: 'execute', args: { slug: 'X', args: { n: 1 } } });
    // the slug before the arguments (any characters, its length first): the host gets execute with { slug, args }
    const slugFirst = await callHost(
      async (operation, args) => ({ operation, args }),
      EXECUTE_SLUG_FIRST,
      `4\ta\tb\n{"n":1}`,
      signal,
    );
    expect(JSON.parse(slugFirst)).toEqual({ operation: 'execute', args: { slug: 'a\tb\n', args: { n: 1 } } });
    expect(await callHost(async () => undefined, 'execute', '{}', signal)).toBe('null');
    expect(await callHost(async () => () => 1, 'execute', '{}', signal)).toBe('');
    const failed = await callHost(
      async () => {
        throw new SandboxCallError('TOOL_NOT_FOUND', 'no X');
      },
      'execute',
      'not json',
      signal,
    );
    expect(failed[0]).toBe('!');
    expect(JSON.parse(failed.slice(1))).toEqual({ code: 'TOOL_NOT_FOUND', message: 'no X' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cannot = await callHost(async () => cyclic, 'execute', '{}', signal);
    expect(cannot[0]).toBe('!');
    expect(JSON.parse(cannot.slice(1)).code).toBe('WORKBENCH_CODE_ERROR');
  });

  it('parses megabytes of arguments and writes megabytes of value with the event loop turning meanwhile', async () => {
    const text = JSON.stringify(big);
    let seen: unknown;
    const { value, marks } = await countTurns((mark) =>
      callHost(
        async (_operation, args) => {
          seen = args;
          mark();
          return args;
        },
        'execute',
        text,
        signal,
      ),
    );
    expect(seen).toEqual(big);
    expect(value).toBe(JSON.stringify(big));
    // other work ran while the arguments were parsed, and while the value was written
    expect(marks[0]).toBeGreaterThan(0);
    expect(marks[1]!).toBeGreaterThan(marks[0]!);
  });
});
