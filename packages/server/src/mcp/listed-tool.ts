import { type Tool as McpTool, ToolSchema } from '@modelcontextprotocol/sdk/types.js';
import { argumentPath, describeZodIssue, isPlainObject, setOwn } from '@toolmux/core/internal';

/**
 * What `tools/list` may show of a tool: what MCP's `Tool` shape (the SDK's `ToolSchema`) takes. The
 * SDK client refuses a whole `tools/list` answer with one tool it does not take, and then lists none
 * of the session's tools; so each listed tool is checked here first.
 */

/** What an input or output schema shows in `tools/list`, and its stand-in for `ToolSchema`. */
interface ExaminedSchema {
  /**
   * The schema with the boolean subschemas of its `properties` (`true`: any value, `false`: none;
   * valid JSON Schema) written as the object schemas they equal, `{}` and `{ not: {} }`: MCP's `Tool`
   * takes each property schema as an object. The schema itself when it has none.
   */
  shown: unknown;
  /**
   * A stand-in that `ToolSchema` gives the verdict (and first issue) it gives `shown`, without zod
   * copying each of its properties (a schema has up to 10,000: milliseconds of one turn):
   * `properties` keeps only the entries that are not objects (zod takes any object there, and
   * reports the others by their key), `required` is left out when it is all strings. Other keys as
   * they are: the shape names only these, and takes any other.
   */
  standIn: unknown;
}

/** One pass over `schema`'s properties (listing the keys of a wide object is the costly part). */
function examined(schema: unknown): ExaminedSchema {
  if (!isPlainObject(schema)) return { shown: schema, standIn: schema };
  const standIn: Record<string, unknown> = { ...schema };
  let shown: unknown = schema;
  const { properties, required } = schema;
  if (isPlainObject(properties)) {
    const keys = Object.keys(properties);
    const refused: Record<string, unknown> = {};
    let booleans = false;
    for (const key of keys) {
      const property = properties[key];
      if (typeof property === 'boolean') booleans = true;
      else if (property === null || typeof property !== 'object') setOwn(refused, key, property);
    }
    standIn.properties = refused;
    if (booleans) {
      const written: Record<string, unknown> = {};
      for (const key of keys) {
        const property = properties[key];
        setOwn(written, key, property === true ? {} : property === false ? { not: {} } : property);
      }
      shown = { ...schema, properties: written };
    }
  }
  if (Array.isArray(required) && required.every((name) => typeof name === 'string')) {
    delete standIn.required;
  }
  return { shown, standIn };
}

/** The longest issue told about a tool, in characters. */
const MAX_ISSUE_LENGTH = 300;

/** `ToolSchema`'s first issue with a tool of these parts, or undefined when it takes the tool. */
function toolIssue(tool: McpTool, inputStandIn: unknown, outputStandIn?: unknown): string | undefined {
  const checkedTool = {
    ...tool,
    inputSchema: inputStandIn,
    ...(outputStandIn === undefined ? {} : { outputSchema: outputStandIn }),
  };
  const checked = ToolSchema.safeParse(checkedTool);
  if (checked.success) return undefined;
  const [first] = checked.error.issues;
  if (first === undefined) return 'the tool: is not an MCP tool';
  // in the words and paths of a tool's refused arguments (`outputSchema.required: is a string: send
  // an array`), not zod's ("outputSchema.required: Invalid input: expected array, received string")
  const { path, message } = describeZodIssue(ToolSchema, checkedTool, first);
  const where = path.length === 0 ? 'the tool' : argumentPath(path);
  const issue = `${where}: ${message.replace(/\.$/, '')}`;
  // a path names a property of the schema, whose name may be of any length: the log line is not
  return issue.length > MAX_ISSUE_LENGTH ? `${issue.slice(0, MAX_ISSUE_LENGTH)}…` : issue;
}

/**
 * `tool` as `tools/list` shows it: with its schemas' boolean property schemas written as objects
 * (see {@link ExaminedSchema}) when MCP's `Tool` shape takes it so; without its output schema when
 * only that is refused (as one that cannot be compiled is listed without it); else
 * undefined, for a tool left out (its input schema is not valid JSON Schema, so that a call is
 * refused as TOOL_DEFINITION_INVALID anyway). `onProblem` is told which, and why.
 */
export function mcpListedTool(
  tool: McpTool,
  onProblem: (message: string) => void,
): { tool: McpTool; withOutputSchema: boolean } | undefined {
  const input = examined(tool.inputSchema);
  const output = tool.outputSchema === undefined ? undefined : examined(tool.outputSchema);
  const { outputSchema: _output, ...without } = tool;
  const shown = { ...without, inputSchema: input.shown } as McpTool;
  const issue = toolIssue(shown, input.standIn, output?.standIn);
  if (issue === undefined) {
    if (output) shown.outputSchema = output.shown as McpTool['outputSchema'];
    return { tool: shown, withOutputSchema: output !== undefined };
  }
  if (output !== undefined && toolIssue(shown, input.standIn) === undefined) {
    onProblem(
      `toolmux server: ${tool.name} is listed over MCP without its output schema, which MCP's Tool shape does not take (${issue}).`,
    );
    return { tool: shown, withOutputSchema: false };
  }
  onProblem(
    `toolmux server: ${tool.name} is left out of the MCP tools/list, as MCP's Tool shape does not take it (${issue}); an MCP client refuses a tools/list answer with such a tool whole. Fix the tool's schema.`,
  );
  return undefined;
}

/** `ToolSchema`'s first issue with `tool` (checked over stand-ins of its schemas), or undefined. */
export function mcpToolIssue(tool: McpTool): string | undefined {
  return toolIssue(
    tool,
    examined(tool.inputSchema).standIn,
    tool.outputSchema === undefined ? undefined : examined(tool.outputSchema).standIn,
  );
}
