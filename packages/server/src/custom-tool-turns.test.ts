import { declarationOf, declaredTool, declaredToolkit, type ToolDeclaration } from '@toolmux/core/internal';
import { turnsDuring } from '@toolmux/core/test';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestServer, TEST_API_KEY } from './test-helpers.js';

/**
 * A remote client's session that declares hundreds (or thousands) of custom tools is checked and
 * built a slice at a time, through REST and through the Composio-compatible API, and so is its first
 * search: other requests run between the slices. What is created, and every refusal, is what the
 * declarations made in one turn before.
 *
 * `turnsDuring` moves the clock the slices read by 1 ms at every look: sliced work then takes a turn
 * every few tools whatever the machine's load (before, a creation took a few turns for the awaits of
 * the store, however many tools it declared). The bodies stay under the size from which a body is
 * parsed in slices, which would add turns of its own.
 */

const { mux, server } = createTestServer();
afterAll(() => mux.close());

const COUNT = 120;

function declarations(count: number, prefix = 'MEMO'): ToolDeclaration[] {
  return Array.from({ length: count }, (_, n) => ({
    slug: `${prefix}_ACTION_${n}`,
    name: `Action ${n}`,
    description: `Runs action ${n} on the notes of the user`,
    toolkit: '',
    inputSchema: { type: 'object', properties: { noteId: { type: 'string', description: 'The note' } } },
    annotations: {},
    tags: ['notes'],
  }));
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  expect(text.length).toBeLessThan(64 * 1024);
  const response = await server.fetch(
    new Request(`http://localhost${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
      body: text,
    }),
  );
  return { status: response.status, json: (await response.json()) as any };
}

/** The error `run` throws, as the REST API answers it. */
function errorOf(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return { code, message };
  }
  throw new Error('expected an error');
}

describe('POST /api/v1/sessions with hundreds of declared custom tools', () => {
  const tools = declarations(COUNT);
  const toolkit = {
    slug: 'wiki',
    name: 'Wiki',
    description: 'Pages',
    categories: [],
    tools: declarations(COUNT, 'WIKI'),
  };

  it('checks and creates them a slice at a time, and so is the first search', async () => {
    const created = await turnsDuring(() =>
      post('/api/v1/sessions', {
        user_id: 'user_1',
        config: { experimental: { customTools: tools, customToolkits: [toolkit] } },
      }),
    );
    expect(created.value.status).toBe(201);
    expect(created.turns).toBeGreaterThan((2 * COUNT) / 4);
    // what declaredTool() and declaredToolkit() made of them
    const { config } = created.value.json;
    expect(config.clientTools).toEqual(
      JSON.parse(JSON.stringify(tools.map((each) => declarationOf(declaredTool(each))))),
    );
    expect(config.clientToolkits[0].tools).toEqual(
      JSON.parse(JSON.stringify(declaredToolkit(toolkit).tools.map(declarationOf))),
    );
    const searched = await turnsDuring(() =>
      post(`/api/v1/sessions/${created.value.json.session_id}/search`, { query: 'run action 9 on a note' }),
    );
    expect(searched.value.status).toBe(200);
    expect(searched.turns).toBeGreaterThan((2 * COUNT) / 4);
    expect(
      searched.value.json.results[0].tools.map((each: { tool_slug: string }) => each.tool_slug),
    ).toContain('MEMO_ACTION_9');
  });

  it('refuses a bad declaration among them with the error declaredTool() gives', async () => {
    const cases: ToolDeclaration[][] = [
      tools.map((each, n) => (n === 100 ? { ...each, description: 'rings \u0007 a bell' } : each)),
      tools.map((each, n) => (n === 110 ? { ...each, slug: 'lower_case' } : each)),
      [...tools, { ...tools[3]!, name: 'Twice' }],
    ];
    for (const customTools of cases) {
      const answer = await post('/api/v1/sessions', {
        user_id: 'user_1',
        config: { experimental: { customTools } },
      });
      expect(answer.status).toBe(400);
      const bad = customTools.find(
        (each) => each.slug === 'lower_case' || each.description.includes('\u0007'),
      );
      const expected = bad
        ? errorOf(() => declaredTool(bad))
        : {
            code: 'TOOL_DEFINITION_INVALID',
            message:
              'Tool slug MEMO_ACTION_3 is defined twice in toolkit "custom"; tool slugs must be unique.',
          };
      expect({ code: answer.json.error.code, message: answer.json.error.message }).toEqual(expected);
    }
  });
});

describe("POST /api/v3/tool_router/session (Composio's API) with hundreds of custom tools", () => {
  it('checks and creates them a slice at a time', async () => {
    const customTools = Array.from({ length: 2 * COUNT }, (_, n) => ({
      slug: `ACTION_${n}`,
      name: `Action ${n}`,
      description: `Runs action ${n} on the notes of the user`,
      input_schema: { type: 'object', properties: { noteId: { type: 'string' } } },
    }));
    const created = await turnsDuring(() =>
      post('/api/v3/tool_router/session', { user_id: 'user_1', experimental: { custom_tools: customTools } }),
    );
    expect(created.value.status).toBe(201);
    expect(created.turns).toBeGreaterThan((2 * COUNT) / 4);
    expect(created.value.json.experimental.custom_tools).toHaveLength(2 * COUNT);
  });
});

describe('a declared custom tool whose schema is too large to walk', () => {
  it('is refused when the session is created (a 2 KB schema that inlines to 2^40 leaves used to run the server out of memory at the first search)', async () => {
    const $defs: Record<string, unknown> = { L0: { type: 'string' } };
    for (let level = 1; level <= 40; level++) {
      $defs[`L${level}`] = { anyOf: [{ $ref: `#/$defs/L${level - 1}` }, { $ref: `#/$defs/L${level - 1}` }] };
    }
    const [tool] = declarations(1, 'HUGE');
    const huge = {
      ...tool!,
      inputSchema: { type: 'object', properties: { x: { $ref: '#/$defs/L40' } }, $defs },
    };
    const answer = await post('/api/v1/sessions', {
      user_id: 'user_1',
      config: { experimental: { customTools: [declarations(1)[0], huge] } },
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error.code).toBe('TOOL_DEFINITION_INVALID');
    expect(answer.json.error.message).toContain(
      'Tool HUGE_ACTION_0: its input schema has 123 subschemas as written but more than 10,000 once its $refs are inlined',
    );
    // the Composio-compatible API refuses it alike
    const composio = await post('/api/v3/tool_router/session', {
      user_id: 'user_1',
      experimental: {
        custom_tools: [{ slug: 'HUGE', name: 'Huge', description: 'Huge', input_schema: huge.inputSchema }],
      },
    });
    expect(composio.status).toBe(400);
    expect(JSON.stringify(composio.json)).toContain('more than 10,000 once its $refs are inlined');
  });
});
