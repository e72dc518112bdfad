import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import { checkSchemaDefinition } from '../schema/validate.js';
import { jsonDepthError, MAX_JSON_DEPTH } from '../util/json-depth.js';
import { JsonShapeWalk } from '../util/json-slices.js';
import { runSteps, runStepsSliced, type Steps, type WorkSlice } from '../util/slices.js';
import { shownValue, unstorableStringSteps } from '../util/stored-text.js';
import { defineTool, defineToolkit } from './define.js';
import type { JSONSchema, Tool, ToolAnnotations, Toolkit } from './types.js';

/**
 * A custom tool without its code: what a remote-mode client tells the server about a tool that runs
 * in the client's process. The server lists it, searches it and describes it (REST, MCP); calling it
 * anywhere but in the client answers that it runs there.
 */
export interface ToolDeclaration {
  slug: string;
  name: string;
  description: string;
  /** Empty when the tool names no toolkit (it then joins `custom`, or the toolkit of its prefix). */
  toolkit: string;
  inputSchema: JSONSchema;
  outputSchema?: JSONSchema;
  annotations: ToolAnnotations;
  /** Free-form tags of the tool. */
  tags: string[];
}

/** A custom toolkit without its code. Client toolkits have no auth: credentials stay on the server. */
export interface ToolkitDeclaration {
  slug: string;
  name: string;
  description: string;
  categories: string[];
  /** Words for what the toolkit handles (see `defineToolkit`); sent only when there are some. */
  keywords?: string[];
  tools: ToolDeclaration[];
}

const declared = new WeakSet<Tool>();

/** The declaration of a custom tool, as plain JSON. */
export function declarationOf(tool: Tool): ToolDeclaration {
  return {
    slug: tool.slug,
    name: tool.name,
    description: tool.description,
    toolkit: tool.toolkit,
    inputSchema: tool.inputSchema,
    ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
    annotations: { ...tool.annotations },
    tags: [...tool.tags],
  };
}

/** The declaration of a custom toolkit; refuses one with auth (its accounts would need credentials here). */
export function toolkitDeclarationOf(toolkit: Toolkit): ToolkitDeclaration {
  if (!toolkit.noAuth) {
    throw new ToolMuxError({
      code: 'NOT_SUPPORTED',
      message: `Custom toolkit "${toolkit.slug}" has auth (${toolkit.auth.map((scheme) => scheme.type).join(', ')}). In remote mode custom tools run in your process and credentials never leave the server, so a custom toolkit cannot have accounts: drop its auth and call ${apiRef('session.proxyExecute')} from its tools, or run toolmux embedded.`,
    });
  }
  return {
    slug: toolkit.slug,
    name: toolkit.name,
    description: toolkit.description,
    categories: [...toolkit.categories],
    ...(toolkit.keywords.length > 0 ? { keywords: [...toolkit.keywords] } : {}),
    tools: toolkit.tools.map(declarationOf),
  };
}

/**
 * A catalog tool made from a declaration: described like the real one, but its handler runs in the
 * client that declared it, so running it here answers NOT_SUPPORTED with that hint.
 */
export function declaredTool(declaration: ToolDeclaration): Tool {
  return runSteps(declaredToolSteps(declaration));
}

/**
 * {@link declaredTool} for each declaration, a slice at a time: thousands of them (a remote client's
 * session) are tens of milliseconds of checks. The same tools, and the same error for the same
 * declaration.
 */
export function declaredToolsSliced(
  declarations: readonly ToolDeclaration[],
  slice: WorkSlice,
): Promise<Tool[]> {
  return runStepsSliced(eachSteps(declarations, declaredToolSteps), slice);
}

/** {@link declaredToolkit} for each declaration, a slice at a time (see {@link declaredToolsSliced}). */
export function declaredToolkitsSliced(
  declarations: readonly ToolkitDeclaration[],
  slice: WorkSlice,
): Promise<Toolkit[]> {
  return runStepsSliced(eachSteps(declarations, declaredToolkitSteps), slice);
}

/** What `steps` makes of each of `items`, in order. */
function* eachSteps<I, T>(items: readonly I[], steps: (item: I) => Steps<T>): Steps<T[]> {
  const made: T[] = [];
  for (const item of items) made.push(yield* steps(item));
  return made;
}

function* declaredToolSteps(declaration: ToolDeclaration): Steps<Tool> {
  yield* storableSteps(declaration, `Custom tool ${shownValue(declaration?.slug)}`);
  const tool = defineTool({
    slug: declaration.slug,
    name: declaration.name,
    description: declaration.description,
    ...(declaration.toolkit ? { toolkit: declaration.toolkit } : {}),
    inputSchema: declaration.inputSchema,
    ...(declaration.outputSchema ? { outputSchema: declaration.outputSchema } : {}),
    annotations: declaration.annotations,
    tags: declaration.tags,
    execute: () => {
      throw new ToolMuxError({
        code: 'NOT_SUPPORTED',
        message: `${declaration.slug} is a custom tool of the application: it runs in the application's own process (its toolmux SDK session), not on the toolmux server or over MCP. Use another tool, or ask the user to run this from the application.`,
      });
    },
  });
  // its schemas are refused now, in words that name each place, not at its first listing or call
  checkSchemaDefinition(tool.inputSchema, tool.slug, 'input');
  if (tool.outputSchema !== undefined) checkSchemaDefinition(tool.outputSchema, tool.slug, 'output');
  declared.add(tool);
  return tool;
}

/** Always: a walk run by steps works its share, then the step ends (see `runStepsSliced`). */
const stepDone = () => true;

/**
 * Declarations are stored with the session (its config), so every string in them must be storable
 * text, and they must not nest deeper than a tool schema may. Both walks a share at a time.
 */
function* storableSteps(declaration: ToolDeclaration | ToolkitDeclaration, subject: string): Steps<void> {
  // a toolkit's tools and their schemas sit 3 levels below the toolkit
  const maxDepth = MAX_JSON_DEPTH + 4;
  const depth = new JsonShapeWalk(declaration, maxDepth);
  while (!depth.step(stepDone)) yield;
  if (depth.tooDeep) throw jsonDepthError(`${subject}'s declaration`, 'TOOL_DEFINITION_INVALID', maxDepth);
  const bad = yield* unstorableStringSteps(declaration, {
    maxLength: 65_536,
    allowEmpty: true,
    freeText: true,
  });
  if (bad) {
    throw new ToolMuxError({
      code: 'TOOL_DEFINITION_INVALID',
      message: `${subject}: the ${bad.isKey ? 'key' : 'string'} ${shownValue(bad.value)} at ${bad.path} ${bad.problem}; use well-formed Unicode text without control characters (but tab and line breaks).`,
    });
  }
}

/** A catalog toolkit (without auth) made from a declaration. */
export function declaredToolkit(declaration: ToolkitDeclaration): Toolkit {
  return runSteps(declaredToolkitSteps(declaration));
}

function* declaredToolkitSteps(declaration: ToolkitDeclaration): Steps<Toolkit> {
  yield* storableSteps(declaration, `Custom toolkit ${shownValue(declaration?.slug)}`);
  const slug = declaration.slug;
  const name = declaration.name;
  const description = declaration.description;
  const categories = declaration.categories;
  const keywords = declaration.keywords;
  const tools = yield* eachSteps(
    declaration.tools.map((tool) => ({ ...tool, toolkit: declaration.slug })),
    declaredToolSteps,
  );
  const toolkit = defineToolkit({ slug, name, description, categories, keywords, tools });
  for (const tool of toolkit.tools) declared.add(tool);
  return toolkit;
}

/** True for a tool made by {@link declaredTool}: its code lives in a remote client. */
export function isDeclaredTool(tool: Tool): boolean {
  return declared.has(tool);
}
