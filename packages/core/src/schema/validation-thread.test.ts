import { resolve } from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { JSONSchema } from '../catalog/types.js';
import type { Session } from '../session.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { runScript } from '../test/run-script.js';
import { wideSchema, wideSchemaValues } from '../test/wide-schemas.js';
import { ToolMux } from '../toolmux.js';
import { WorkSlice } from '../util/slices.js';
import { compileDocument, compilesOffThread, OFF_THREAD_SUBSCHEMAS, slicedValidatorOf } from './validate.js';
import { spawnValidationThread, ValidationThread, validationOwner } from './validation-thread.js';

/**
 * A large tool schema is compiled and checked in the validation thread: Ajv writes hundreds of
 * characters of JavaScript per subschema and V8 compiles them, both in one turn, so a schema at the
 * size limit held the event loop for seconds at its tool's first call, and GitHub's largest for tens
 * of milliseconds. Answers must be those of the main thread's check, defaults included.
 */

const quiet = { debug() {}, warn() {}, error() {} };

/**
 * A schema whose check doubles with each level of the value's nesting: at each level the `anyOf`
 * checks the items below against a variant that then fails (`maxItems: 0`; every error is
 * collected), then against one that passes. Its own 60 subschemas send it to the validation thread.
 */
const doublingSchema: JSONSchema = {
  ...wideSchema(60),
  properties: {
    ...(wideSchema(60).properties as Record<string, JSONSchema>),
    tree: { $ref: '#/$defs/node' },
  },
  required: [],
  $defs: {
    node: {
      anyOf: [
        { type: 'array', maxItems: 0, items: { $ref: '#/$defs/node' } },
        { type: 'array', items: { $ref: '#/$defs/node' } },
      ],
    },
  },
};

/** `[[[…]]]`, `depth` arrays deep: 30 levels (60 bytes) are minutes of Ajv's check against {@link doublingSchema}. */
function nested(depth: number): unknown[] {
  let value: unknown[] = [];
  for (let level = 0; level < depth; level++) value = [value];
  return value;
}

/** A check of `{ p0: 'abc' }` against the wide schema `text` in `thread`. */
function ask2(thread: ValidationThread, text: string) {
  return thread.check(2, text, 'ACME_WIDE', 'input', { p0: 'abc' }, new WorkSlice());
}

/** The heap of a thread made to run out of it (MB). */
const HEAP_MB = 64;

/** A value of more JSON text (70 MB) than the whole of {@link HEAP_MB}. */
function hugeValue(): unknown {
  return Array.from({ length: 2_000_000 }, (_, index) => ({ index, text: 'abcdefghijklmnop' }));
}

/** Runs `use` with a session of a ToolMux that has `tool` (in toolkit `acme`), closed after. */
async function withSession<T>(
  tool: ReturnType<typeof wideTool>,
  use: (session: Session) => Promise<T>,
): Promise<T> {
  const mux = new ToolMux({
    toolkits: [defineToolkit({ slug: 'acme', description: 'Acme', tools: [tool] })],
    store: ':memory:',
    logger: quiet,
  });
  try {
    return await use(await mux.create('user_1', { toolkits: ['acme'] }));
  } finally {
    await mux.close();
  }
}

/**
 * Runs `use` with the sessions of two users of a ToolMux that has `tool` and `ACME_WIDE` (a large
 * schema, whose handler's inputs go to `seen`), its schema compiled in the validation thread already.
 */
async function withTwoUsers(
  tool: ReturnType<typeof wideTool>,
  seen: unknown[],
  use: (first: Session, second: Session) => Promise<void>,
): Promise<void> {
  const tools = [tool, wideTool('ACME_WIDE', wideSchema(600), seen)];
  const mux = new ToolMux({
    toolkits: [defineToolkit({ slug: 'acme', description: 'Acme', tools })],
    store: ':memory:',
    logger: quiet,
  });
  try {
    const first = await mux.create('user_1', { toolkits: ['acme'] });
    const second = await mux.create('user_2', { toolkits: ['acme'] });
    expect(await second.execute('ACME_WIDE', { p0: 'abc' })).toMatchObject({ successful: true });
    await use(first, second);
  } finally {
    await mux.close();
  }
}

function wideTool(slug: string, schema: JSONSchema, seen: unknown[] = []) {
  return defineTool({
    slug,
    description: 'A tool with a wide schema',
    inputSchema: schema,
    execute: async (input) => {
      seen.push(input);
      return { ok: true };
    },
  });
}

describe('large tool schemas in the validation thread', () => {
  it('are the schemas past OFF_THREAD_SUBSCHEMAS subschemas, as written', () => {
    expect(compilesOffThread(wideSchema(3))).toBe(false);
    // and a small one with a pattern RE2 cannot run: its tests wait for the pattern worker there
    const word = (pattern: string): JSONSchema => ({
      type: 'object',
      properties: { word: { type: 'string', pattern } },
    });
    expect(compilesOffThread(word('^[a-z]+$'))).toBe(false);
    expect(compilesOffThread(word('^(?=a)[a-z]+$'))).toBe(true);
    expect(compilesOffThread(word('^(a)\\1$'))).toBe(true);
    expect(compilesOffThread({ type: 'object', patternProperties: { '^(?!x)': { type: 'string' } } })).toBe(
      true,
    );
    expect(compilesOffThread({ type: 'object', patternProperties: { '^x': { type: 'string' } } })).toBe(
      false,
    );
    expect(compilesOffThread(wideSchema(OFF_THREAD_SUBSCHEMAS))).toBe(true);
    // a $ref's target counts once, as Ajv compiles it once
    const shared: JSONSchema = {
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: OFF_THREAD_SUBSCHEMAS }, (_, index) => [`p${index}`, { $ref: '#/$defs/item' }]),
      ),
      $defs: { item: { type: 'string' } },
    };
    expect(compilesOffThread(shared)).toBe(true);
    expect(
      compilesOffThread({
        type: 'object',
        properties: { a: { $ref: '#/$defs/big' } },
        $defs: { big: wideSchema(2) },
      }),
    ).toBe(false);
  });

  it('answer what the main thread answers, defaults, issues and all, for values that pass and fail', async () => {
    const schema = wideSchema(600);
    const tool = wideTool('ACME_WIDE', schema);
    const sliced = slicedValidatorOf(tool.validate)!;
    const local = compileDocument(schema, 'ACME_WIDE', 'input');
    for (const args of wideSchemaValues()) {
      const expected = local.check(structuredClone(args));
      const slice = { due: () => false, pause: async () => {} } as never;
      expect(await sliced(args, slice)).toEqual(expected);
      // the synchronous validate (compiled on this thread) agrees too
      expect(tool.validate(args)).toEqual(expected);
    }
  });

  it('answer a session’s calls as before: the handler gets the defaults, a failure names its issues', async () => {
    const seen: unknown[] = [];
    const tool = wideTool('ACME_WIDE', wideSchema(600), seen);
    await withSession(tool, async (session) => {
      const ok = await session.execute('ACME_WIDE', { p0: 'abc' });
      expect(ok).toMatchObject({ successful: true, data: { ok: true } });
      expect(seen).toHaveLength(1);
      expect((seen[0] as Record<string, unknown>).p1).toBe(1);
      expect((seen[0] as Record<string, unknown>).p596).toBe(596);
      const bad = await session.execute('ACME_WIDE', { p0: 'ABC', p2: 'merged' });
      expect(bad).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(bad.error).toContain('p0: does not match the pattern ^[a-z]+$: send text that matches it');
      expect(bad.error).toContain('p2: unknown value "merged"; use one of open, closed');
      expect(seen).toHaveLength(1);
    });
  });

  it('refuse a schema that is not valid JSON Schema as the main thread does', async () => {
    const broken: JSONSchema = { ...wideSchema(100), minProperties: 'three' as never };
    const tool = wideTool('ACME_BROKEN', broken);
    await withSession(tool, async (session) => {
      const result = await session.execute('ACME_BROKEN', { p0: 'abc' });
      let thrown: unknown;
      try {
        tool.validate({ p0: 'abc' });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'TOOL_DEFINITION_INVALID' });
      expect(result).toMatchObject({ successful: false });
      expect(result.error).toContain('its input schema is not valid JSON Schema');
      expect(result.error).toContain((thrown as Error).message.slice(0, 60));
    });
  });

  it('do not hold the event loop at a tool’s first call: 2,500 properties (5,500 subschemas) compile in the thread', async () => {
    let attempt = 0;
    // each attempt defines a schema not seen before: its first call is the one that compiles it
    const measured = await longestTurn(async () => {
      const salt = `a${attempt++}`;
      const tool = wideTool('ACME_WIDE', wideSchema(2_500, salt));
      return withSession(tool, (session) => session.execute('ACME_WIDE', { [`${salt}p0`]: 'abc' }));
    }, 60);
    expect(measured.value).toMatchObject({ successful: true });
    // compiled on the main thread: one turn of 1–4 s
    expect(measured.turnMs, turnReport(measured)).toBeLessThan(60);
  }, 90_000);

  it('come back to life after the thread stops: a check it had fails, the next check starts another', async () => {
    const thread = new ValidationThread();
    const schema = wideSchema(60);
    expect(
      await thread.check(1, JSON.stringify(schema), 'ACME_WIDE', 'input', { p0: 'abc' }, new WorkSlice()),
    ).toMatchObject({
      success: true,
    });
    // stopped while it compiles a schema it was not sent before
    const pending = thread.check(
      2,
      JSON.stringify(wideSchema(2_000)),
      'ACME_WIDE',
      'input',
      { p0: 'abc' },
      new WorkSlice(),
    );
    await thread.stop();
    await expect(pending).rejects.toThrow('the schema validation thread stopped');
    expect(
      await thread.check(1, JSON.stringify(schema), 'ACME_WIDE', 'input', { p0: 'ABC' }, new WorkSlice()),
    ).toMatchObject({
      success: false,
      issues: [{ path: 'p0' }],
    });
    await thread.stop();
  });

  it('give a check past its budget up, refused as not checked in time, and answer the checks behind it in a new thread', async () => {
    // 2^30 checks of the nested arrays: minutes of the thread's time
    const thread = new ValidationThread({ checkMs: 300 });
    const wide = JSON.stringify(wideSchema(60));
    const started = performance.now();
    const hostile = thread.check(
      1,
      JSON.stringify(doublingSchema),
      'ACME_DOUBLING',
      'input',
      {
        tree: nested(30),
      },
      new WorkSlice(),
    );
    // posted behind it, to be taken up once it is done; the second is sent without the schema
    const ordinary = thread.check(2, wide, 'ACME_WIDE', 'input', { p0: 'abc' }, new WorkSlice());
    const invalid = thread.check(2, wide, 'ACME_WIDE', 'input', { p0: 'ABC' }, new WorkSlice());
    const [refused, passed, failed] = await Promise.all([hostile, ordinary, invalid]);
    expect(refused).toEqual({
      success: false,
      issues: [
        {
          path: '(root)',
          message: expect.stringContaining(
            'could not be checked against the schema in time (it took more than 300 ms',
          ),
        },
      ],
    });
    // CPU time is the budget: wall time is a safety bound here (minutes before)
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(passed).toMatchObject({ success: true, value: { p0: 'abc', p1: 1, p6: 6 } });
    expect(failed).toMatchObject({ success: false, issues: [{ path: 'p0' }] });
    // the new thread answers the next checks, the hostile document's too
    expect(
      await thread.check(
        1,
        JSON.stringify(doublingSchema),
        'ACME_DOUBLING',
        'input',
        { tree: 5 },
        new WorkSlice(),
      ),
    ).toMatchObject({ success: false, issues: [{ path: 'tree' }] });
    await thread.stop();
  }, 60_000);

  it('refuse a session’s call whose check overruns its budget, and answer another user’s call waiting behind it', async () => {
    const seen: unknown[] = [];
    const doubling = defineTool({
      slug: 'ACME_DOUBLING',
      description: 'Nested arrays',
      inputSchema: doublingSchema,
      execute: async () => ({ ok: true }),
    });
    await withTwoUsers(doubling, seen, async (attacker, other) => {
      // 2^30 checks of the nested arrays (minutes); the budget is 1 s of the thread's CPU time
      const hostile = attacker.execute('ACME_DOUBLING', { tree: nested(30) });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const waiting = other.execute('ACME_WIDE', { p0: 'xyz' });
      const refused = await hostile;
      expect(refused).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(refused.error).toContain('(root): could not be checked against the schema in time');
      expect(await waiting).toMatchObject({ successful: true, data: { ok: true } });
      expect(seen.at(-1)).toMatchObject({ p0: 'xyz', p1: 1 });
    });
  }, 60_000);

  it('fail a check with the reason when the system gives no thread, crash nothing, and start one for the next', async () => {
    // Node.js's own refusal: a thread whose stack the system cannot give (ERR_WORKER_INIT_FAILED:
    // EAGAIN), as a process at its limit of threads gets it
    const unstartable = () => new Worker('', { eval: true, resourceLimits: { stackSizeMb: 1e9 } });
    expect(unstartable).toThrow(expect.objectContaining({ code: 'ERR_WORKER_INIT_FAILED' }));
    // the first thread starts, the next one cannot (once), the others start
    let spawns = 0;
    const spawn = (options: WorkerOptions) =>
      ++spawns === 2 ? unstartable() : spawnValidationThread(options);
    const thread = new ValidationThread({ checkMs: 300 }, { spawn });
    const wide = JSON.stringify(wideSchema(60));
    const ask = (owner: string, key: number, text: string, value: unknown) =>
      validationOwner.run(owner, () => thread.check(key, text, 'ACME', 'input', value, new WorkSlice()));
    // the thread is restarted after the hostile check overruns (in a timer): the check taken up next
    // finds no thread; the one behind it gets a new one
    const hostile = ask('session_a', 1, JSON.stringify(doublingSchema), { tree: nested(30) });
    const first = ask('session_b', 2, wide, { p0: 'abc' }).then(
      () => 'answered',
      (error: Error) => error.message,
    );
    const second = ask('session_c', 2, wide, { p0: 'xyz' });
    expect(await hostile).toMatchObject({ success: false, issues: [{ path: '(root)' }] });
    expect(await first).toMatch(/^the schema validation thread could not start \(.*EAGAIN/);
    expect(await second).toMatchObject({ success: true, value: { p0: 'xyz', p1: 1 } });
    expect(spawns).toBe(3);
    // a check asked of no thread, whose thread cannot start, fails the same way; the next one starts
    await thread.stop();
    let failing = true;
    const again = new ValidationThread(
      {},
      { spawn: (options) => (failing ? unstartable() : spawnValidationThread(options)) },
    );
    await expect(ask2(again, wide)).rejects.toThrow(/^the schema validation thread could not start/);
    failing = false;
    expect(await ask2(again, wide)).toMatchObject({ success: true });
    await again.stop();
  }, 60_000);

  it('take turns between sessions: one session’s calls sent at once do not hold another’s behind all of them', async () => {
    const thread = new ValidationThread({ checkMs: 300 });
    const doubling = JSON.stringify(doublingSchema);
    const wide = JSON.stringify(wideSchema(60));
    const answered: string[] = [];
    const ask = (owner: string, name: string, key: number, text: string, value: unknown) =>
      validationOwner
        .run(owner, () => thread.check(key, text, name, 'input', value, new WorkSlice()))
        .then((result) => {
          answered.push(name);
          return result;
        });
    // three checks that each overrun the budget, all asked before another session's one
    const hostile = [1, 2, 3].map((index) =>
      ask('session_a', `A${index}`, 1, doubling, { tree: nested(30) }),
    );
    const ordinary = ask('session_b', 'B', 2, wide, { p0: 'abc' });
    const later = ask('session_c', 'C', 2, wide, { p0: 'ABC' });
    expect(await ordinary).toMatchObject({ success: true, value: { p1: 1 } });
    expect(await later).toMatchObject({ success: false, issues: [{ path: 'p0' }] });
    for (const each of await Promise.all(hostile)) expect(each).toMatchObject({ success: false });
    // in the order asked, B and C would have waited for all three; they wait for the first only. (B
    // and C may settle in either order: a passing check reads its value back a slice at a time,
    // pausing, and C's answer can come in meanwhile, as it did once in CI)
    expect(answered[0]).toBe('A1');
    expect(answered.slice(1, 3).sort()).toEqual(['B', 'C']);
    expect(answered.slice(3)).toEqual(['A2', 'A3']);
    await thread.stop();
  }, 60_000);

  it('take turns between sessions’ calls: another session’s call waits for one of a session’s flood, not all', async () => {
    // each call's words are tested by a pattern RE2 cannot run, which spends its 100 ms budget
    const flooded = defineTool({
      slug: 'ACME_WORDS',
      description: 'Words',
      inputSchema: {
        type: 'object',
        properties: { words: { type: 'array', items: { type: 'string', pattern: '^(?=a)(a+)+$' } } },
      },
      execute: async () => ({ ok: true }),
    });
    await withTwoUsers(flooded, [], async (flooding, other) => {
      const order: string[] = [];
      const flood = Array.from({ length: 6 }, (_, index) =>
        flooding.execute('ACME_WORDS', { words: [`${'a'.repeat(40)}!`] }).then((result) => {
          order.push(`flood ${index}`);
          return result;
        }),
      );
      // asked while the flood's checks wait for the thread
      await new Promise((resolve) => setTimeout(resolve, 100));
      order.push('asked');
      const waiting = other.execute('ACME_WIDE', { p0: 'xyz' }).then((result) => {
        order.push('other');
        return result;
      });
      expect(await waiting).toMatchObject({ successful: true });
      for (const result of await Promise.all(flood)) {
        expect(result.error).toContain('could not be checked against pattern');
      }
      // it waits for the check the thread is on, if one of the flood's; in the order asked, it
      // waited for every one asked before it (100 ms each)
      expect(order.indexOf('other') - order.indexOf('asked') - 1, order.join(', ')).toBeLessThanOrEqual(1);
    });
  }, 60_000);

  it('keep a document’s first compile out of its check’s budget: a schema of 5,500 subschemas compiles, then checks', async () => {
    // compiling it takes seconds, its check milliseconds
    const thread = new ValidationThread({ checkMs: 300 });
    const schema = JSON.stringify(wideSchema(2_500, 'c'));
    expect(
      await thread.check(1, schema, 'ACME_WIDE', 'input', { cp0: 'abc' }, new WorkSlice()),
    ).toMatchObject({
      success: true,
      value: { cp1: 1 },
    });
    await thread.stop();
    // past a budget of its own, the call fails as a schema that cannot be compiled
    const strict = new ValidationThread({ compileMs: 50 });
    await expect(
      strict.check(1, schema, 'ACME_WIDE', 'input', { cp0: 'abc' }, new WorkSlice()),
    ).rejects.toMatchObject({
      code: 'TOOL_DEFINITION_INVALID',
      message: expect.stringContaining('Tool ACME_WIDE: its input schema could not be compiled in time'),
    });
    await strict.stop();
  }, 60_000);

  // Node.js ends a worker at its heap limit only when the limit is reached in JavaScript: reached
  // in a long native call (parsing the value's JSON text) it aborts the whole process, so the
  // thread is given no value past its share of its heap (1/128: 512 KiB of 64 MB)
  it('refuse a value of more JSON text than their share of the heap unchecked, and go on checking', async () => {
    const thread = new ValidationThread({ heapMb: HEAP_MB });
    const wide = JSON.stringify(wideSchema(60));
    const array = JSON.stringify({ type: 'array', items: { type: 'string' } });
    // 16 MB of JSON text parsed in a thread of 64 MB aborted the test process, every time
    const refused = await thread.check(1, array, 'ACME_HUGE', 'input', hugeValue(), new WorkSlice());
    expect(refused).toEqual({
      success: false,
      issues: [
        {
          path: '(root)',
          message: expect.stringMatching(
            /^is too large to be checked against this schema \(\d+\.\d MB of JSON, at most 0\.5 MB for a schema this large or costly\)/,
          ),
        },
      ],
    });
    // just under the share: a wrong item each (an issue each, the most an item costs the thread)
    const under = await thread.check(
      1,
      array,
      'ACME_HUGE',
      'input',
      new Array(262_000).fill(1),
      new WorkSlice(),
    );
    expect(under).toMatchObject({
      success: false,
      issues: expect.arrayContaining([{ path: '[0]', message: expect.any(String) }]),
    });
    expect(await thread.check(2, wide, 'ACME_WIDE', 'input', { p0: 'abc' }, new WorkSlice())).toMatchObject({
      success: true,
    });
    await thread.stop();
  }, 60_000);

  it('post the checks behind one that ended the thread (out of memory) to a new thread', async () => {
    // In a child process: Node.js ends a thread that reaches its heap limit in JavaScript, but one
    // that reaches it in an allocation it cannot interrupt (a large array's backing store, in a
    // collection) aborts the whole process, and it did once in CI, with the test runner's worker. A
    // run that aborts is tried again (up to 3); a run that answers must answer right.
    const distDirectory = resolve(import.meta.dirname, '../../dist');
    const script = `
      const { ValidationThread } = await import(${JSON.stringify(`${distDirectory}/schema/validation-thread.js`)});
      const { WorkSlice } = await import(${JSON.stringify(`${distDirectory}/util/slices.js`)});
      // a budget of a minute: the heap runs out first (about 0.7 s alone), also on a loaded machine
      const thread = new ValidationThread({ heapMb: ${HEAP_MB}, checkMs: 60_000 });
      const wide = ${JSON.stringify(JSON.stringify(wideSchema(60)))};
      const answers = [await thread.check(2, wide, 'ACME_WIDE', 'input', { p0: 'abc' }, new WorkSlice())];
      // 16 issues for each of 200,000 wrong items (400 KB of JSON) fill the heap in Ajv's JavaScript
      const amplifying = JSON.stringify({ type: 'array', items: { allOf: Array.from({ length: 16 }, () => ({ type: 'string' })) } });
      const huge = thread.check(1, amplifying, 'ACME_HUGE', 'input', new Array(200_000).fill(1), new WorkSlice()).then(
        () => 'answered',
        (error) => error.message,
      );
      const ordinary = thread.check(2, wide, 'ACME_WIDE', 'input', { p0: 'abc' }, new WorkSlice());
      const invalid = thread.check(2, wide, 'ACME_WIDE', 'input', { p0: 'ABC' }, new WorkSlice());
      answers.push(await huge, await ordinary, await invalid);
      await thread.stop();
      console.log(JSON.stringify(answers));
    `;
    const aborted: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const { code, stdout, timedOut } = await runScript(script, [], {}, 60_000);
      expect(timedOut).toBe(false);
      if (code !== 0) {
        // SIGABRT (134): the limit reached outside JavaScript
        aborted.push(`exit ${code}`);
        continue;
      }
      const [first, huge, ordinary, invalid] = JSON.parse(stdout.trim()) as unknown[];
      expect(first).toMatchObject({ success: true });
      expect(huge).toContain('the schema validation thread stopped');
      expect(ordinary).toMatchObject({ success: true, value: { p0: 'abc', p1: 1 } });
      expect(invalid).toMatchObject({ success: false, issues: [{ path: 'p0' }] });
      return;
    }
    expect.fail(`every run aborted: ${aborted.join(', ')}`);
  }, 200_000);

  it('never keep a process alive: a script that validated against a large schema ends on its own', async () => {
    const dist = resolve(import.meta.dirname, '../../dist/index.js');
    const schema = JSON.stringify(wideSchema(200));
    const script = `
      const { defineTool, defineToolkit, ToolMux } = await import(${JSON.stringify(dist)});
      const tool = defineTool({ slug: 'ACME_WIDE', description: 'Wide', inputSchema: ${schema}, execute: async () => ({ ok: true }) });
      const mux = new ToolMux({ toolkits: [defineToolkit({ slug: 'acme', description: 'Acme', tools: [tool] })], store: ':memory:', logger: { debug() {}, warn() {}, error() {} } });
      const session = await mux.create('user_1', { toolkits: ['acme'] });
      const result = await session.execute('ACME_WIDE', { p0: 'abc' });
      await mux.close();
      console.log(JSON.stringify(result.successful));
    `;
    const { code, stdout, timedOut } = await runScript(script, [], {}, 20_000);
    expect(timedOut).toBe(false);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('true');
  }, 30_000);
});
