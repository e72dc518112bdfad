import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { ANTHROPIC_PROPERTY_KEY_RULE } from './anthropic-keys.js';
import { GEMINI_PARAMETER_NAME_RULE } from './gemini.js';
import {
  type PropertyKeyRule,
  renamePropertyKeys,
  restorePropertyKeys,
  specKeyRenames,
} from './property-keys.js';

/**
 * How a provider whose tools may reach any vendor's model (the Vercel AI SDK, LangChain, Mastra,
 * LlamaIndex, the MCP endpoint) hands out property keys: `'portable'` renames the keys a major
 * vendor refuses (see {@link PORTABLE_PROPERTY_KEY_RULE}), `'unchanged'` hands them out as the tool
 * has them.
 */
export type PropertyKeysMode = 'portable' | 'unchanged';

/**
 * The property keys every major model API takes: Anthropic's rule at every depth
 * (`^[a-zA-Z0-9_.-]{1,64}$`, whose refusal fails the whole request), and Gemini's rule on parameter
 * names at the root (`^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`). OpenAI takes any key, so a rename costs it
 * nothing: the renamed property's description names the tool's own key, and the arguments are read
 * back.
 */
export const PORTABLE_PROPERTY_KEY_RULE: PropertyKeyRule = {
  ...ANTHROPIC_PROPERTY_KEY_RULE,
  root: GEMINI_PARAMETER_NAME_RULE,
};

/**
 * The renames that give every property key of a tool a form every major model API takes (see
 * `planPropertyKeyRenames`), alike for its non-strict and strict schemas; `undefined` when every key
 * is taken as it is. Computed once per spec.
 */
export const portableKeyRenamesOf = specKeyRenames(PORTABLE_PROPERTY_KEY_RULE);

/**
 * `schema` (one of `spec`'s) with the property keys a major model API refuses renamed (each renamed
 * property's description says the tool's own key); `schema` itself when there are none or `mode` is
 * `'unchanged'`.
 */
export function withPortableKeys(spec: ToolSpec, schema: JSONSchema, mode: PropertyKeysMode): JSONSchema {
  if (mode !== 'portable') return schema;
  // one renamed object per schema of a spec: providers copy each schema they hand out once
  let renamed = renamedSchemas.get(spec);
  if (!renamed) {
    renamed = new WeakMap();
    renamedSchemas.set(spec, renamed);
  }
  let shown = renamed.get(schema);
  if (!shown) {
    shown = renamePropertyKeys(schema, portableKeyRenamesOf(spec));
    renamed.set(schema, shown);
  }
  return shown;
}

const renamedSchemas = new WeakMap<ToolSpec, WeakMap<JSONSchema, JSONSchema>>();

/**
 * The arguments of a model's call of `spec` with the keys {@link withPortableKeys} handed out read
 * back as the tool's own keys; `args` itself when the tool has no renamed key or `mode` is
 * `'unchanged'`.
 */
export function portableArgumentsOf(spec: ToolSpec, args: unknown, mode: PropertyKeysMode): unknown {
  return mode === 'portable' ? restorePropertyKeys(args, portableKeyRenamesOf(spec)) : args;
}
