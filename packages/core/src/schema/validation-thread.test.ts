import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { JSONSchema } from '../catalog/types.js';
import type { Session } from '../session.js';
import { longestTurn, turnReport } from '../test/longest-turn.js';
import { runScript } from '../test/run-script.js';
import { wideSchema, wideSchemaValues } from '../test/wide-schemas.js';
import { ToolMux } from '../toolmux.js';
import { compileDocument, compilesOffThread, OFF_THREAD_SUBSCHEMAS, slicedValidatorOf } from './validate.js';
import { ValidationThread } from './validation-thread.js';

/**
 * A large tool schema is compiled and checked in the validation thread: Ajv writes hundreds of
 * characters of JavaScript per subschema and V8 compiles them, both in one turn, so a schema at the
 * size limit held the event loop for seconds at its tool's first call, and GitHub's largest for tens
 * of milliseconds. Answers must be those of the main thread's check, defaults included.
 */

const quiet = { debug() {}, warn() {}, error() {} };

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
      expect(bad.error).toContain('p0: must match pattern "^[a-z]+$"');
      expect(bad.error).toContain('p2: must be one of: open, closed');
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
    expect(await thread.check(1, JSON.stringify(schema), 'ACME_WIDE', 'input', { p0: 'abc' })).toMatchObject({
      success: true,
    });
    // stopped while it compiles a schema it was not sent before
    const pending = thread.check(2, JSON.stringify(wideSchema(2_000)), 'ACME_WIDE', 'input', { p0: 'abc' });
    await thread.stop();
    await expect(pending).rejects.toThrow('the schema validation thread stopped');
    expect(await thread.check(1, JSON.stringify(schema), 'ACME_WIDE', 'input', { p0: 'ABC' })).toMatchObject({
      success: false,
      issues: [{ path: 'p0' }],
    });
    await thread.stop();
  });

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
