import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import {
  type PropertyKeyRule,
  renamePropertyKeys,
  restorePropertyKeys,
  specKeyRenames,
} from './property-keys.js';

/**
 * The property keys the Messages API takes in a tool's `input_schema`: it refuses the whole request,
 * every tool with it, for one other key ("tools.N.custom.input_schema.properties: Property keys should
 * match pattern '^[a-zA-Z0-9_.-]{1,64}$'"). MCP servers and OpenAPI specs have such keys
 * (`filter[id]`, `first name`, `$.xgafv`).
 */
export const ANTHROPIC_PROPERTY_KEY = /^[a-zA-Z0-9_.-]{1,64}$/;

/**
 * Anthropic's rule on property keys, at every depth: the API's message names only the root's
 * `properties`, and whether it checks nested objects is not documented; renaming a nested key costs
 * nothing (the arguments are read back), a refused one costs the request.
 */
export const ANTHROPIC_PROPERTY_KEY_RULE: PropertyKeyRule = {
  valid: (key) => ANTHROPIC_PROPERTY_KEY.test(key),
  fix: (key) => (key.replace(/[^a-zA-Z0-9_.-]/g, '_') || '_').slice(0, 64),
  maxLength: 64,
  nested: true,
};

/**
 * The renames that give every property key of a tool a form the Messages API takes (see
 * `planPropertyKeyRenames`), alike for its non-strict and strict schemas; `undefined` when every key
 * is taken as it is. Computed once per spec.
 */
export const anthropicKeyRenamesOf = specKeyRenames(ANTHROPIC_PROPERTY_KEY_RULE);

/**
 * `schema` (one of `spec`'s) with the property keys the Messages API refuses renamed (each renamed
 * property's description says the tool's own key); `schema` itself when there are none.
 */
export function withAnthropicKeys(spec: ToolSpec, schema: JSONSchema): JSONSchema {
  return renamePropertyKeys(schema, anthropicKeyRenamesOf(spec));
}

/**
 * The arguments of a model's call of `spec` with the keys {@link withAnthropicKeys} handed out read
 * back as the tool's own keys; `args` itself when the tool has no renamed key.
 */
export function anthropicArgumentsOf(spec: ToolSpec, args: unknown): unknown {
  return restorePropertyKeys(args, anthropicKeyRenamesOf(spec));
}
