import type { JSONSchema } from '../catalog/types.js';
import { quotedMessage, quotedText, ToolMuxError } from '../errors.js';
import type { ToolSpec } from '../provider.js';
import { forEachSubschema, transformSchemaTree } from '../schema/subschemas.js';
import { compileJsonSchemaValidator, compileValidatorNow, slicedValidatorOf } from '../schema/validate.js';
import { StringPieces } from '../util/json-slices.js';
import { kindOf } from '../util/range-words.js';
import { WorkSlice } from '../util/slices.js';
import { wantedWords } from '../util/voice.js';
import { isErrorForModel, type ToolResult } from './result.js';

/**
 * Checks a successful result against a tool's object output schema: what `structuredContent` of an
 * MCP tool result must match (MCP clients validate it against the tool's `outputSchema`). A result
 * is the tool's (megabytes of an MCP server's answer) and is checked a slice at a time, against a
 * large schema in the validation thread, as arguments are (see `slicedValidatorOf`).
 */
export type OutputValidator = (
  data: unknown,
) => Promise<{ success: true } | { success: false; problem: string }>;

/**
 * Output validators by output schema object. Schemas that are new objects each time a session is
 * resumed (custom tools declared by a remote SDK) share their compiled document all the same (see
 * `compileJsonSchemaValidator`), which goes once no tool uses it.
 */
const outputValidators = new WeakMap<object, Promise<OutputValidator | null>>();
/**
 * Slugs and texts of output schemas that could not be compiled, so that each is reported once and not
 * compiled again for each new object of it; forgotten past {@link MAX_UNCOMPILABLE_REMEMBERED}.
 */
const uncompilableTexts = new Set<string>();
const MAX_UNCOMPILABLE_REMEMBERED = 1_000;

/** The most characters of one issue a result's mismatch names (it names the first five). */
const MAX_PROBLEM_CHARS = 1_000;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The output schema an MCP server lists for a tool: its object output schema, compiled once, and the
 * validator its results are checked with; undefined for a tool without an output schema, for one whose
 * output schema is not an object schema and for one whose schema cannot be compiled (`onUncompilable`
 * is told why, the first time it is met),
 * which is then listed without it so that clients do not validate against it either. A large schema
 * (see `OFF_THREAD_SUBSCHEMAS`) is compiled in the validation thread: the schema is the tool's
 * (an MCP server's, a remote client's declared tool), and one of 2,000 properties compiled here held
 * the event loop for 0.3 s.
 */
export async function mcpOutputSchemaOf(
  spec: ToolSpec,
  onUncompilable: (reason: string) => void,
): Promise<{ outputSchema: JSONSchema & { type: 'object' }; validator: OutputValidator } | undefined> {
  const schema = spec.outputSchema;
  if (schema === undefined) return undefined;
  if (schema.type !== 'object') {
    // MCP lists only an object schema as a tool's outputSchema: one of another type (an array of
    // rows, a string) was left out without a word, where one that cannot be compiled was reported
    const text = `${spec.slug}\0${JSON.stringify(schema)}`;
    if (!uncompilableTexts.has(text)) {
      onUncompilable(
        `MCP takes an output schema of type "object" only, and this one is ${schema.type === undefined ? 'of no type' : `of type ${JSON.stringify(schema.type)}`}: its results are sent as text`,
      );
      if (uncompilableTexts.size >= MAX_UNCOMPILABLE_REMEMBERED) uncompilableTexts.clear();
      uncompilableTexts.add(text);
    }
    return undefined;
  }
  let validator = outputValidators.get(schema);
  if (validator === undefined) {
    validator = outputValidatorOf(spec.slug, schema, onUncompilable);
    // concurrent listings of the same tool share one compile (and one report of its failure); one
    // that failed for another reason (the validation thread stopped) is tried again next time
    outputValidators.set(schema, validator);
    validator.catch(() => outputValidators.delete(schema));
  }
  const compiled = await validator;
  return compiled
    ? { outputSchema: listedOutputSchema(schema) as JSONSchema & { type: 'object' }, validator: compiled }
    : undefined;
}

/**
 * Whether one node of an output schema has a keyword that the official MCP SDK client checks
 * `structuredContent` by more strictly than toolmux does (see {@link listedOutputSchema}).
 */
function hasStricterKeyword(node: JSONSchema): boolean {
  return (
    'format' in node ||
    ('items' in node && Array.isArray(node.prefixItems)) ||
    ('contains' in node && node.minContains === 0)
  );
}

/** {@link hasStricterKeyword}'s keywords left out of one node. */
function withoutStricterKeywords(node: JSONSchema): JSONSchema {
  if (!hasStricterKeyword(node)) return node;
  const { format: _format, ...rest } = node;
  if (Array.isArray(rest.prefixItems)) delete rest.items;
  if (rest.minContains === 0) {
    delete rest.contains;
    delete rest.minContains;
  }
  return rest;
}

/**
 * The output schema as `tools/list` shows it: one that the official MCP SDK client, which checks a
 * result's `structuredContent` against it before the caller sees the result (draft-07 Ajv with every
 * format of ajv-formats), never reads more strictly than toolmux's own check of the result (draft
 * 2020-12, formats not checked). The client refused, as a protocol error of a call that had run,
 * results that toolmux had checked and sent: so a copy leaves out, at any depth, `format` (`"uri"`,
 * `"email"`, `"date-time"`: hints, which APIs often break), `items` beside `prefixItems` (which
 * draft-07 applies to every item, the tuple's too, and so to a draft-07 tuple as `defineTool` writes
 * it in 2020-12) and `contains` with `minContains: 0` (draft-07: at least one item matches); and the
 * root's `$id` (which toolmux's check leaves out too: the client checks every tool of one `$id`, at
 * every later listing too, by the schema it compiled first for it). The schema itself when it has
 * none of them; the client takes no more than toolmux sends, which checked the whole schema.
 */
export function listedOutputSchema(schema: JSONSchema): JSONSchema {
  const { $id: _id, ...withoutId } = schema;
  const stack: JSONSchema[] = [withoutId];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (hasStricterKeyword(node)) return transformSchemaTree(withoutId, withoutStricterKeywords);
    forEachSubschema(node, (subschema) => stack.push(subschema));
  }
  return '$id' in schema ? withoutId : schema;
}

async function outputValidatorOf(
  slug: string,
  schema: JSONSchema,
  onUncompilable: (reason: string) => void,
): Promise<OutputValidator | null> {
  const text = `${slug}\0${JSON.stringify(schema)}`;
  if (uncompilableTexts.has(text)) return null;
  try {
    const validate = compileJsonSchemaValidator(schema, slug, 'output');
    // compiled now (a large schema in the validation thread), so that one that cannot be compiled is
    // listed without it
    await compileValidatorNow(validate);
    const sliced = slicedValidatorOf(validate)!;
    return async (data) => {
      if (!isPlainObject(data)) {
        return {
          success: false,
          problem: `(root): ${wantedWords(`is ${kindOf(data)}`, 'an object', 'output')}`,
        };
      }
      // the same answer as `validate(data)`, without holding the event loop for a large result
      const result = await sliced(data, new WorkSlice());
      if (result.success) return { success: true };
      // in the output voice (`rows[0].n: is a string where the output schema asks for an integer`):
      // the tool returned the value, no one is to send another; each cut: a path holds the result's
      // keys, which may be megabytes long
      const issues = result.issues
        .slice(0, 5)
        .map(({ path, message }) => quotedText(`${path || '(root)'}: ${message}`, [], MAX_PROBLEM_CHARS));
      if (result.issues.length > 5) issues.push(`${result.issues.length - 5} more`);
      return { success: false, problem: issues.join('; ') };
    };
  } catch (error) {
    if (!ToolMuxError.isInstance(error) || error.code !== 'TOOL_DEFINITION_INVALID') throw error;
    onUncompilable(`it cannot be compiled: ${quotedMessage(error)}`);
    if (uncompilableTexts.size >= MAX_UNCOMPILABLE_REMEMBERED) uncompilableTexts.clear();
    uncompilableTexts.add(text);
    return null;
  }
}

/** An MCP `tools/call` result of one text block (assignable to the MCP SDK's `CallToolResult`). */
export interface McpTextToolResult {
  [key: string]: unknown;
  content: Array<{ type: 'text'; text: string }>;
  structuredContent?: Record<string, unknown>;
  isError?: true;
}

/**
 * A toolmux result as an MCP tool result: `text`, the text the model reads
 * (`formatToolResultForModel`, or a long one in pieces, which is left as it is for the caller's
 * writer), plus `structuredContent` for a tool with an output schema (`validator`). A failed call is
 * `isError` without structured content (clients accept that from any tool). A successful result that
 * breaks the declared schema cannot be sent as structured content (validating clients refuse the whole
 * call), so it goes as text the model can still read, marked `isError` as the protocol requires of a
 * result without structured content; `onMismatch` is told what is wrong with it. A workbench cell
 * that failed (its code threw, or it reached a limit) is a successful toolmux result marked
 * `cellFailed`, whose data holds the cell's `{ result, logs, error }`; over MCP it is `isError` with
 * that text (see `isErrorForModel`), so that a client that looks only at `isError` sees that the call
 * failed.
 */
export async function mcpToolResultOf(
  result: ToolResult,
  text: string | StringPieces,
  validator: OutputValidator | undefined,
  slug: string,
  onMismatch: (problem: string) => void,
): Promise<McpTextToolResult> {
  const content = [{ type: 'text' as const, text: text as string }];
  if (isErrorForModel(result)) return { content, isError: true };
  if (!validator) return { content };
  const checked = await validator(result.data);
  if (checked.success) return { content, structuredContent: result.data as Record<string, unknown> };
  onMismatch(checked.problem);
  const prefix = `${slug} ran, but its result does not match the tool's declared output schema (${checked.problem}), so it is given as text. Do not run it again just because of this. The result:\n`;
  return {
    content: [
      {
        type: 'text',
        // a long text stays in pieces (never joined)
        text: (typeof text === 'string'
          ? `${prefix}${text}`
          : new StringPieces([prefix, ...text.pieces])) as string,
      },
    ],
    isError: true,
  };
}
