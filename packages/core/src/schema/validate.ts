import { createRequire } from 'node:module';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { RegExpEngine } from 'ajv/dist/types/index.js';
import type { RE2JS } from 're2js';
import type { JSONSchema, ValidationIssue, ValidationResult } from '../catalog/types.js';
import { MAX_QUOTED_CHARS, quotedMessage, quotedText, ToolMuxError } from '../errors.js';
import { argumentPath, pathUnder } from '../util/argument-path.js';
import { MAX_JSON_DEPTH } from '../util/json-depth.js';
import { cloneSliced, type ListedKeys, type Slice } from '../util/json-slices.js';
import { workerThreadsPermitted } from '../util/module-thread.js';
import { noFormWords } from '../util/refusal-words.js';
import { runSteps, type Steps, WorkSlice } from '../util/slices.js';
import type { Voice } from '../util/voice.js';
import {
  ajvErrorWords,
  escapePointer,
  MAX_HINTS,
  manyFormsWords,
  noFormTakesWords,
  typeList,
  unknownAmong,
  type WordBudget,
} from './ajv-words.js';
import { compoundsWithDepth } from './compounding-recursion.js';
import { invalidPatternProblem, modernKeywords } from './draft-2020.js';
import { resolveLocalRef, schemaSize } from './inline-refs.js';
import { useLinearEquality } from './json-equality.js';
import {
  PatternChecks,
  patternWorkerCannotStart,
  startPatternWorker,
  testPatternInWorker,
  withPatternChecks,
} from './pattern-worker.js';
import { ajvErrorSteps, UncutPartError } from './sliced-json-validation.js';
import { isSchemaObject, transformSchemaTree } from './subschemas.js';
import { validationThread } from './validation-thread.js';

/**
 * The regular expressions of tool schemas (`pattern`, `patternProperties`), matched in time linear in
 * the text where RE2 can run them (re2js). Schemas come from MCP servers, OpenAPI documents and remote
 * clients, and the text from the model: with a backtracking engine, `^(a+)+$` against thirty `a`s and
 * a `!` held the event loop for seconds, a few more for hours. ECMAScript still says what a valid
 * pattern is (JSON Schema's dialect, and what a model API reads): one that is not fails the
 * definition as before. What RE2 cannot run (lookaround, backreferences, `\u` escapes) is matched by
 * `RegExp` on a worker thread, within a time budget per validation (see `PatternChecks`): a test
 * that takes longer is interrupted and counts as failed, and the validation fails saying the value
 * could not be checked in time.
 */
export const schemaRegExp: RegExpEngine = Object.assign(
  (pattern: string, flags: string) => {
    const native = new RegExp(pattern, flags);
    const linear = linearRegExp(pattern);
    if (linear === undefined) {
      // the thread comes up while the schema is compiled and the call goes on (tens of milliseconds)
      startPatternWorker();
      return {
        test: (text: string) => testPatternInWorker(pattern, flags, text),
        toString: () => native.toString(),
      };
    }
    return {
      test: (text: string) => linear.test(text),
      // Ajv keeps one per distinct text of this
      toString: () => native.toString(),
    };
  },
  { code: 'schemaRegExp' },
);

let re2: typeof RE2JS | undefined;

/** re2js, loaded at the first pattern: 260 KB of JavaScript that a process whose tools have none need not parse. */
function loadedRe2(): typeof RE2JS {
  re2 ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JS }).RE2JS;
  return re2;
}

export function linearRegExp(pattern: string): RE2JS | undefined {
  const source = re2Source(pattern);
  if (source === undefined) return undefined;
  try {
    return loadedRe2().compile(source);
  } catch {
    return undefined;
  }
}

/** What ECMAScript's `\s` matches (RE2's is ASCII only), as members of a class in RE2's syntax. */
const ECMASCRIPT_SPACES =
  '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';

/**
 * `pattern` (ECMAScript, `u` mode) in RE2's syntax where the two read it alike once `\s`, `\S` and
 * `.` are spelled out (ECMAScript's `\s` has Unicode's spaces, its `.` leaves out `\r`, U+2028 and
 * U+2029 as well as `\n`); `undefined` where that is not enough (`\S` inside a class).
 */
function re2Source(pattern: string): string | undefined {
  let source = '';
  let inClass = false;
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === '\\') {
      const next = pattern[index + 1] ?? '';
      index++;
      // a backreference (RE2 would read `\\1` as an octal escape)
      if (/[1-9k]/.test(next)) return undefined;
      if (next === 's') source += inClass ? ECMASCRIPT_SPACES : `[${ECMASCRIPT_SPACES}]`;
      else if (next === 'S') {
        if (inClass) return undefined;
        source += `[^${ECMASCRIPT_SPACES}]`;
      } else source += `\\${next}`;
    } else if (inClass) {
      if (char === ']') inClass = false;
      source += char;
    } else if (char === '[') {
      // `[]` matches nothing and `[^]` anything in ECMAScript; RE2 reads a `]` there as a member
      if (pattern.startsWith(']', index + 1) || pattern.startsWith('^]', index + 1)) return undefined;
      inClass = true;
      source += char;
    } else if (char === '.') source += '[^\\n\\r\\x{2028}\\x{2029}]';
    else source += char;
  }
  return source;
}

/**
 * Ajv's options for tool schemas.
 *
 * Formats (`email`, `uri`, `int64`…) are not checked. zod already puts a `pattern` beside the formats
 * it emits, which is checked; MCP and OpenAPI schemas use many formats of their own (`int64`,
 * `binary`, `password`) that a format checker would reject or warn about; and a format is a hint to
 * the model more than a contract the tool's API does not check itself. This keeps `ajv-formats` out
 * of core's dependencies.
 */
const AJV_OPTIONS = {
  // Tool schemas come from many sources: ignore keywords Ajv does not know (`discriminator`, `example`, `x-…`).
  strict: false,
  // Report every problem at once, so the model can fix them all in one retry.
  allErrors: true,
  // Fill in defaults as zod does, so a handler sees the same input whichever way the tool was defined.
  useDefaults: true,
  // `"5"` is not `5`: the model must send the declared type.
  coerceTypes: false,
  validateFormats: false,
  // A library does not write to the console: problems surface as errors.
  logger: false,
  // Errors carry their subschema and data; used to explain a value that matches no `anyOf` variant.
  verbose: true,
  code: { regExp: schemaRegExp },
} as const;

/** Checks documents against the draft 2020-12 meta-schema (which it compiled once); compiles nothing else. */
const metaSchemaChecker = new Ajv2020(AJV_OPTIONS);

/**
 * What makes `schema` invalid as draft 2020-12 JSON Schema (its meta-schema's first complaint, such
 * as `inputSchema.properties.n.minimum: is a string: write a number`), or `undefined` when it is valid. Older drafts' forms
 * are not rewritten here: see `draft2020Keywords`.
 */
export function draft2020Problem(schema: JSONSchema): string | undefined {
  if (metaSchemaChecker.validateSchema(schema) === true) return invalidPatternProblem(schema);
  const [first] = metaSchemaIssues(metaSchemaChecker.errors ?? [], schema, 'inputSchema');
  return first === undefined
    ? 'it does not match the draft 2020-12 meta-schema'
    : quotedText(`${first.path}: ${first.message}`, [], MAX_QUOTED_CHARS);
}

/**
 * The meta-schema's errors of a tool schema (`schema`, which the tool's definition holds at `root`:
 * `inputSchema`, `outputSchema`) as issues in the words and paths of argument refusals, telling the
 * schema's author what to write: `inputSchema.properties.x.type: unknown value "strng"; use one of
 * array, boolean, integer, null, number, object, string. Did you mean "string"?`,
 * `inputSchema.required: is a string: write an array`. A keyword the meta-schema takes in one of
 * several forms (`type`: a name or an array of them) is one issue, not one per form.
 */
function metaSchemaIssues(
  errors: readonly ErrorObject[],
  schema: JSONSchema,
  root: string,
): ValidationIssue[] {
  const budget: WordBudget = { hints: MAX_HINTS, voice: 'definition' };
  const unions = new Set(
    errors.filter((error) => UNION_KEYWORDS.has(error.keyword)).map((error) => error.instancePath),
  );
  // the type, enum and const errors at each failed union's place, gathered in one pass (a schema of
  // thousands of misspelt types fails thousands of unions)
  const kindsAt = new Map<string, ErrorObject[]>();
  for (const error of errors) {
    if (!unions.has(error.instancePath) || !KIND_KEYWORDS.has(error.keyword)) continue;
    const kinds = kindsAt.get(error.instancePath) ?? [];
    kinds.push({ ...error, instancePath: '' });
    kindsAt.set(error.instancePath, kinds);
  }
  const issues: ValidationIssue[] = [];
  const told = new Set<string>();
  for (const error of errors) {
    const pointer = error.instancePath;
    if (hasAncestorIn(pointer, unions)) continue;
    let message: string;
    let at = pointer;
    if (unions.has(pointer)) {
      if (told.has(pointer)) continue;
      // what the forms the meta-schema takes here allow at their top: values, then types
      const allowed = allowedAtTop(kindsAt.get(pointer) ?? []);
      const got = error.data;
      message =
        allowed === undefined
          ? noFormWords(got, undefined, 'definition')
          : typeof got === 'string' && allowed.values.length > 0
            ? unknownAmong(got, allowed.values, budget)
            : noFormTakesWords(got, allowed.values, allowed.types, 'definition');
    } else ({ pointer: at, message } = ajvErrorWords(error, budget));
    const key = `${at}\u0000${message}`;
    if (told.has(key)) continue;
    told.add(key);
    told.add(pointer);
    issues.push({ path: pathUnder(root, keysOf(at, schema)), message });
  }
  return issues;
}

/**
 * An Ajv instance for one document: Ajv keeps every schema compiled by an instance (and the values
 * its code refers to) for as long as the instance lives, so one shared instance kept every tool ever
 * defined (each declared custom tool of each session) in memory for good, tens of kilobytes each.
 * Without the meta-schema (checked by {@link metaSchemaChecker}) one costs tens of microseconds, and
 * it goes with the last tool that uses its document.
 */
function documentAjv(): Ajv2020 {
  const ajv = new Ajv2020({ ...AJV_OPTIONS, meta: false, validateSchema: false });
  useLinearEquality(ajv);
  return ajv;
}

/**
 * Compile a validator for a tool's input schema (draft 2020-12; older drafts' forms, such as draft-07
 * `definitions`, tuple `items` and draft-04's boolean `exclusiveMinimum`, and OpenAPI `nullable` are
 * accepted too: see `draft2020Keywords`). The validator works on a copy of the input, fills in
 * defaults and returns issues a model can act on, worded as a zod tool's (see `ajvErrorWords`):
 * `{ path: 'labels[0]', message: 'is a number: send a string' }`, `{ path: 'title', message: 'is
 * required: a string' }`, `{ path: 'state', message: 'unknown value "merged"; use one of open, closed' }`.
 * For a value that matches no variant of an `anyOf`/`oneOf`, the issues of the variant it was most
 * likely meant to be are reported (judged by its type, the keys it has and the number of errors).
 *
 * @throws {ToolMuxError} `TOOL_DEFINITION_INVALID`, naming the tool, when the schema is not valid JSON
 * Schema or has references that cannot be resolved.
 *
 * @example
 * const validate = compileJsonSchemaValidator(tool.inputSchema, tool.slug);
 * const result = validate(args);
 * if (!result.success) return formatValidationIssues(tool.slug, result.issues);
 */
export function compileJsonSchemaValidator(
  schema: JSONSchema,
  slug: string,
  which: 'input' | 'output' = 'input',
): (input: unknown) => ValidationResult {
  // the document is known by its key, and tools of the same schema share it whatever `$id` says
  const { $id: _id, ...withoutId } = schema;
  // held by the validator: the document stays compiled while the tool lives
  const compiled = compiledFor(withoutId, slug, which);
  // defaults are written into the value; the caller's stays as it was
  const validator = (input: unknown) => compiled.check(structuredClone(input));
  slicedValidators.set(validator, async (input, slice, listedKeys) => {
    // the thread is handed a copy (JSON text), as `check` makes one
    if (compiled.offThread) return compiled.inThread(input, slice);
    // An output schema without defaults writes nothing into the value, and a result's check is read
    // only for its verdict: the tool's result is checked as it is (the answer's value is then the
    // result itself). Its copy listed the keys of each array at once (an 8 MB result's array of
    // 140,000 records: 25–30 ms of one turn).
    const copies = which === 'input' || compiled.writesDefaults;
    const copiedKeys = new Map<object, readonly string[]>();
    let value = input;
    if (copies) {
      value = await cloneSliced(input, slice, { listedKeys, copiedKeys });
      await slice.pause();
    }
    try {
      return await compiled.checkSliced(
        value,
        slice,
        copies ? (object) => copiedKeys.get(object) : listedKeys,
      );
    } catch (error) {
      if (!(error instanceof UncutPartError)) throw error;
    }
    // a large part the sliced check cannot cut: Ajv's one call on it is off the main thread (the
    // caller's arguments, not the copy, which has some of the defaults written in), or here, in one
    // turn, in a process that may not start threads
    await slice.pause();
    if (!workerThreadsPermitted()) return compiled.check(structuredClone(input));
    return compiled.inThread(input, slice);
  });
  if (compiled.offThread) offThreadValidators.set(validator, true);
  return validator;
}

/** A document compiled (in an Ajv instance of its own), with what explains its failures. */
export interface CompiledDocument {
  check(value: unknown): ValidationResult;
  /**
   * `check` a part of the value at a time (see {@link ajvErrorSteps}), and the explanation of a
   * failure (a pass over all of Ajv's errors) a slice at a time. `listedKeys`: the keys of the
   * value's wide objects, listed already.
   */
  checkSliced(value: unknown, slice: Slice, listedKeys?: ListedKeys): Promise<ValidationResult>;
}

/** A compiled document as tools share it; a large one is compiled and checked in the validation thread. */
interface Compiled extends CompiledDocument {
  /** Whether every check is the validation thread's: a large document (see {@link compilesOffThread}). */
  offThread: boolean;
  /**
   * Whether a check may write into the value: the document has a `default` (or a property named
   * so, which is taken for one), which Ajv fills in (`useDefaults`).
   */
  writesDefaults: boolean;
  /**
   * The check in the validation thread (which compiles the document at its first one), the value
   * copied there and back as JSON text a slice at a time: for a large document, and for a value
   * with a large part the sliced check cannot cut (see {@link UncutPartError}).
   */
  inThread(value: unknown, slice: Slice): Promise<ValidationResult>;
}

/**
 * The compiled documents still in use, by whose values they check (`input`, `output`: their issues
 * are worded apart) and their JSON text: tools of the same schema share one (each session of a
 * remote client declares its custom tools anew, and each compiled them again).
 */
const compiledByText = new Map<string, WeakRef<Compiled>>();

/** Forgets a compiled document once nothing uses it (its Ajv instance goes with it). */
const forgetCompiled = new FinalizationRegistry<string>((text) => {
  if (compiledByText.get(text)?.deref() === undefined) compiledByText.delete(text);
});

/** Tells the validation thread that a document is no longer used (it drops its compiled form, if it has one). */
const forgetOffThread = new FinalizationRegistry<number>((key) => validationThread.forget(key));

/**
 * The most subschemas (as written: Ajv compiles a `$ref`'s target once) of a document compiled on
 * the main thread. Ajv writes hundreds of characters of JavaScript per subschema, and writing and
 * compiling them is one turn of about 0.1–0.4 ms per subschema: a larger document is compiled and
 * checked in the validation thread (`validationThread`), at the cost of copying each value
 * to it and its result back (tens of microseconds for ordinary arguments).
 */
export const OFF_THREAD_SUBSCHEMAS = 48;

/**
 * Whether a tool schema is compiled and checked off the main thread: a large one (see
 * {@link OFF_THREAD_SUBSCHEMAS}); one with a pattern RE2 cannot run, whose tests wait for the
 * pattern worker (see `PatternChecks`): the validation thread waits for them, not the event loop;
 * or one whose check can cost more than linear in the value (see {@link compoundsWithDepth}: a
 * recursive `anyOf` two of whose variants recurse into the same items doubles its work with each
 * level, and 30 levels of `[[…]]`, 60 bytes, held the event loop for minutes). In the thread a
 * check has a CPU budget, past which the call is refused.
 */
export function compilesOffThread(schema: JSONSchema): boolean {
  // a process that may not start threads checks every schema here, a slice at a time (the tests of
  // a pattern RE2 cannot run are then refused, see `notCheckedIn`)
  if (!workerThreadsPermitted()) return false;
  let judged = offThreadSchemas.get(schema);
  if (judged === undefined) {
    judged =
      schemaSize(schema, { subschemas: OFF_THREAD_SUBSCHEMAS, depth: MAX_JSON_DEPTH }).written >
        OFF_THREAD_SUBSCHEMAS ||
      needsThread(schema) ||
      compoundsWithDepth(schema, keyMatchesPattern);
    offThreadSchemas.set(schema, judged);
  }
  return judged;
}

/**
 * Whether `pattern` matches `key`, where RE2 can tell (a pattern it cannot run already sends the
 * schema to the validation thread): `undefined` otherwise.
 */
function keyMatchesPattern(pattern: string, key: string): boolean | undefined {
  return linearRegExp(pattern)?.test(key);
}

/**
 * {@link compilesOffThread}'s answers by schema object: a tool's validator and its null stripper ask
 * of the same schema, and the walk goes over all of it.
 */
const offThreadSchemas = new WeakMap<JSONSchema, boolean>();

/**
 * Whether anything in `schema` is checked off the main thread: a `pattern` or a `patternProperties`
 * key RE2 cannot run (see {@link schemaRegExp}); a walk of the whole schema as JSON, so one in an
 * `enum` or a default counts too (the schema is then checked off the main thread for nothing).
 * `uniqueItems`, `enum` and `const` are one pass over the value (see `useLinearEquality`): they
 * were checked off the main thread too while Ajv compared every pair of items, and the value with
 * each member of an `enum`.
 */
function needsThread(schema: JSONSchema): boolean {
  const stack: unknown[] = [schema];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === 'pattern' && typeof value === 'string' && !runsOnRe2(value)) return true;
      if (key === 'patternProperties' && isSchemaObject(value)) {
        for (const source of Object.keys(value)) if (!runsOnRe2(source)) return true;
      }
      stack.push(value);
    }
  }
  return false;
}

/** Patterns already judged by {@link runsOnRe2}, forgotten past 4,096. */
const judgedPatterns = new Map<string, boolean>();

/** Whether {@link schemaRegExp} runs `pattern` on RE2 (an invalid pattern: no). */
function runsOnRe2(pattern: string): boolean {
  let judged = judgedPatterns.get(pattern);
  if (judged === undefined) {
    judged = linearRegExp(pattern) !== undefined;
    if (judgedPatterns.size >= 4_096) judgedPatterns.clear();
    judgedPatterns.set(pattern, judged);
  }
  return judged;
}

/**
 * Validators whose document is checked in the validation thread (see {@link validatesOffThread}): known
 * (`true`), or to be judged at the first call (a tool is judged when it is first called, not when it
 * is defined: defining a catalog walks no schema for it, and loads no pattern engine).
 */
const offThreadValidators = new WeakMap<(input: unknown) => ValidationResult, boolean | (() => boolean)>();

/**
 * Whether `validate` checks its values in the validation thread: its sliced version (see
 * {@link slicedValidatorOf}) is the one to call, whatever the value's size, so that its first call
 * does not compile the schema on the main thread. `validate` itself still compiles it here.
 */
export function validatesOffThread(validate: (input: unknown) => ValidationResult): boolean {
  let judged = offThreadValidators.get(validate);
  if (typeof judged === 'function') {
    judged = judged();
    offThreadValidators.set(validate, judged);
  }
  return judged === true;
}

/**
 * Compiles the schema behind `validate` now (checking an empty value), off the main thread for a
 * large one: rejects with `TOOL_DEFINITION_INVALID` when it is not valid JSON Schema. For a caller
 * that refuses a tool at definition rather than at its first call (an MCP server's tools).
 */
export async function compileValidatorNow(validate: (input: unknown) => ValidationResult): Promise<void> {
  const sliced = validatesOffThread(validate) ? slicedValidatorOf(validate) : undefined;
  if (sliced) await sliced({}, new WorkSlice());
  else validate({});
}

/**
 * Says whether `validate` (a wrapper of a compiled validator) is {@link validatesOffThread}: `judge`
 * answers it at the first call that asks.
 */
export function setValidatesOffThread(
  validate: (input: unknown) => ValidationResult,
  judge: () => boolean,
): void {
  offThreadValidators.set(validate, judge);
}

let offThreadKeys = 0;

/** The compiled form of a tool schema (without `$id`), shared by the tools of the same schema. */
function compiledFor(schema: JSONSchema, slug: string, which: 'input' | 'output'): Compiled {
  const text = JSON.stringify(schema);
  // an input and an output schema of the same text are two documents: their issues are worded apart
  const known = `${which}\0${text}`;
  const shared = compiledByText.get(known)?.deref();
  if (shared) return shared;
  const key = ++offThreadKeys;
  const inThread = (value: unknown, slice: Slice) =>
    validationThread.check(key, text, slug, which, value, slice);
  let compiled: Compiled;
  // in JSON text, `"default":` is only ever a key
  const writesDefaults = text.includes('"default":');
  if (!workerThreadsPermitted() && compoundsWithDepth(schema, keyMatchesPattern)) {
    // only the validation thread's budget bounds such a check, and it cannot start: every value is
    // refused, saying why (the document is compiled all the same: an invalid one is refused as such)
    compileDocument(schema, slug, which);
    const refused: ValidationResult = {
      success: false,
      issues: [{ path: '(root)', message: NO_THREAD_FOR_COMPOUNDING }],
    };
    compiled = {
      check: () => refused,
      checkSliced: async () => refused,
      offThread: false,
      writesDefaults,
      inThread: async () => refused,
    };
  } else if (compilesOffThread(schema)) {
    // a synchronous check (a caller of `tool.validate`) compiles it here
    let local: CompiledDocument | undefined;
    const localDocument = () => {
      local ??= compileDocument(schema, slug, which);
      return local;
    };
    compiled = {
      check: (value) => localDocument().check(value),
      checkSliced: (value, slice, listedKeys) => localDocument().checkSliced(value, slice, listedKeys),
      offThread: true,
      writesDefaults,
      inThread,
    };
  } else compiled = { ...compileDocument(schema, slug, which), offThread: false, writesDefaults, inThread };
  // the thread keeps the document it compiled (if it did) until it is no longer used
  forgetOffThread.register(compiled, key);
  compiledByText.set(known, new WeakRef(compiled));
  forgetCompiled.register(compiled, known);
  return compiled;
}

/**
 * Compiles a tool schema (without `$id`; draft-07 and OpenAPI spellings are rewritten first) in an
 * Ajv instance of its own, here or in the validation thread.
 *
 * @throws {ToolMuxError} `TOOL_DEFINITION_INVALID` when it is not valid JSON Schema.
 */
export function compileDocument(
  schema: JSONSchema,
  slug: string,
  which: 'input' | 'output',
): CompiledDocument {
  const document = transformSchemaTree(schema, modernKeywords);
  const { ajv, validate } = compile(document, slug, which);
  // a result's issues tell what the tool returned, an argument's what to send
  const explainer = new IssueExplainer(ajv, document, which === 'output' ? 'output' : 'arguments');
  // the patterns run on a worker thread have one time budget for the check and its explanation,
  // which validates parts of the value again (a failed union's variants)
  return {
    check(value) {
      const checks = new PatternChecks();
      return withPatternChecks(checks, () => {
        if (validate(value) && checks.allFinished) return { success: true, value };
        return { success: false, issues: runSteps(explainer.explain(validate.errors ?? [], checks, value)) };
      });
    },
    async checkSliced(value, slice, listedKeys) {
      const checks = new PatternChecks();
      const checking = ajvErrorSteps(document, value, {
        validatorAt: (pointer) => (pointer === '' ? validate : ajv.getSchema(`${DOCUMENT_KEY}#${pointer}`)),
        listedKeys,
        // the issues listed are all there once the explanation of the errors so far is cut
        enough: (errors) =>
          runSteps(explainer.explain(errors, checks, value)).at(-1)?.message === MORE_ISSUES,
      });
      let errors: ErrorObject[];
      for (;;) {
        const next = withPatternChecks(checks, () => checking.next());
        if (next.done) {
          errors = next.value;
          break;
        }
        if (slice.due()) await slice.pause();
      }
      if (errors.length === 0 && checks.allFinished) return { success: true, value };
      const steps = explainer.explain(errors, checks, value);
      for (;;) {
        const next = withPatternChecks(checks, () => steps.next());
        if (next.done) return { success: false, issues: next.value };
        if (slice.due()) await slice.pause();
      }
    },
  };
}

/** How many compiled documents are in use (tests: what goes once unused). */
export function compiledDocumentCount(): number {
  return compiledByText.size;
}

/**
 * A validator that copies large arguments a slice at a time (see {@link slicedValidatorOf}), given
 * the keys of wide objects in them that a walk listed already.
 */
export type SlicedValidator = (
  input: unknown,
  slice: Slice,
  listedKeys?: ListedKeys,
) => Promise<ValidationResult>;

const slicedValidators = new WeakMap<(input: unknown) => ValidationResult, SlicedValidator>();

/**
 * The version of a tool's `validate` that lets other work run while it copies the arguments (a
 * megabyte of them is tens of milliseconds for `structuredClone`), when there is one: for JSON
 * Schema validators (Ajv). Same result as `validate`.
 */
export function slicedValidatorOf(
  validate: (input: unknown) => ValidationResult,
): SlicedValidator | undefined {
  return slicedValidators.get(validate);
}

/** Makes `sliced` the sliced version of `validate` (a wrapper that calls a compiled validator). */
export function setSlicedValidator(
  validate: (input: unknown) => ValidationResult,
  sliced: SlicedValidator,
): void {
  slicedValidators.set(validate, sliced);
}

/**
 * One readable line for a tool's validation issues, for the model and for error messages.
 *
 * @example
 * formatValidationIssues('GITHUB_CREATE_ISSUE', [{ path: 'title', message: 'is required' }]);
 * // 'Invalid arguments for GITHUB_CREATE_ISSUE: title: is required'
 */
export function formatValidationIssues(slug: string, issues: readonly ValidationIssue[]): string {
  // the arguments are the model's: a million wrong items are a million issues, and a path holds their
  // keys (a key of 50 MB). The first issues, each quoted (cut), as many as fit in one quote's length
  const shown: string[] = [];
  let chars = 0;
  for (const { path, message } of issues) {
    if (shown.length === MAX_SHOWN_ISSUES) break;
    const text = quotedText(`${path}: ${message}`);
    if (shown.length > 0 && chars + text.length > MAX_QUOTED_CHARS) break;
    shown.push(text);
    chars += text.length + 2;
  }
  const more = issues.length - shown.length;
  return `Invalid arguments for ${slug}: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/** The most issues of one call's arguments {@link formatValidationIssues} names. */
const MAX_SHOWN_ISSUES = 20;

/** The document's own Ajv instance, and its validator (the document's key there is {@link DOCUMENT_KEY}). */
function compile(
  document: JSONSchema,
  slug: string,
  which: 'input' | 'output',
): { ajv: Ajv2020; validate: ValidateFunction } {
  refuseInvalidDocument(document, slug, which);
  try {
    const ajv = documentAjv();
    ajv.addSchema(document, DOCUMENT_KEY);
    const validate = ajv.getSchema(DOCUMENT_KEY);
    if (!validate) throw new Error('the compiled schema was not found');
    return { ajv, validate };
  } catch (error) {
    throw new ToolMuxError({
      code: 'TOOL_DEFINITION_INVALID',
      message: `Tool ${slug}: its ${which} schema is not valid JSON Schema (${quotedMessage(error)}). Fix the schema or define it with zod.`,
      cause: error,
    });
  }
}

/**
 * Refuses a tool schema that is not valid JSON Schema (draft 2020-12, older drafts' forms rewritten
 * as a compile rewrites them), in the words of {@link metaSchemaIssues}, without compiling it: for an
 * entry point that registers a schema whose tool is compiled later, or elsewhere (a remote client's
 * declared custom tool, refused when its session is made rather than at its first listing or call).
 *
 * @throws {ToolMuxError} `TOOL_DEFINITION_INVALID`, naming the tool, each place and what to write there.
 */
export function checkSchemaDefinition(schema: JSONSchema, slug: string, which: 'input' | 'output'): void {
  const { $id: _id, ...withoutId } = schema;
  refuseInvalidDocument(transformSchemaTree(withoutId, modernKeywords), slug, which);
}

function refuseInvalidDocument(document: JSONSchema, slug: string, which: 'input' | 'output'): void {
  if (metaSchemaChecker.validateSchema(document) === true) return;
  throw new ToolMuxError({
    code: 'TOOL_DEFINITION_INVALID',
    message: invalidSchemaMessage(slug, which, metaSchemaChecker.errors ?? [], document),
  });
}

/**
 * A tool schema refused by the meta-schema, naming the tool, each place (as `inputSchema.properties.x.type`)
 * and what to write there (see {@link metaSchemaIssues}), the first {@link MAX_SHOWN_ISSUES} of them.
 */
function invalidSchemaMessage(
  slug: string,
  which: 'input' | 'output',
  errors: readonly ErrorObject[],
  document: JSONSchema,
): string {
  const issues = metaSchemaIssues(errors, document, `${which}Schema`);
  const shown = issues
    .slice(0, MAX_SHOWN_ISSUES)
    .map(({ path, message }) => quotedText(`${path}: ${message}`));
  const more = issues.length - shown.length;
  return `Tool ${slug}: its ${which} schema is not valid JSON Schema (${shown.join('; ') || 'it does not match the draft 2020-12 meta-schema'}${more > 0 ? `; and ${more} more` : ''}). Fix the schema or define it with zod.`;
}

/** The key of the document in its own Ajv instance. */
const DOCUMENT_KEY = 'toolmux:tool';

/**
 * Older drafts' and OpenAPI's spellings rewritten for a draft 2020-12 validator (`defineTool` did so
 * already; a schema compiled here directly, an MCP server's output schema, may still have them).
 */
const UNION_KEYWORDS = new Set(['anyOf', 'oneOf']);

/**
 * The most failed unions one validation explains by trying each variant on its own (nested ones
 * included); the rest are one issue each, that the value matches none of the forms. More than {@link MAX_SHOWN_ISSUES}, the issues
 * a message names: a value with thousands of failing union items (a few bytes each) had each one
 * validated again against every variant, in the one turn of Ajv's check (64,000 items: 0.65 s).
 */
export const MAX_EXPLAINED_UNIONS = 50;

/**
 * The most issues one validation lists: the errors past them are not looked at, and a last issue
 * ({@link MORE_ISSUES}) says so. A message names the first {@link MAX_SHOWN_ISSUES}; half a megabyte
 * of a union's failing items (`[5,5,…]`) were a million Ajv errors turned into a quarter of a
 * million issues, a second in one turn.
 */
export const MAX_LISTED_ISSUES = 1_000;

/** How many of Ajv's errors an explanation looks at between two yields (a step of its work). */
const ERRORS_PER_STEP = 256;

/** The last issue of a list cut at {@link MAX_LISTED_ISSUES}. */
export const MORE_ISSUES = `has more issues than the ${MAX_LISTED_ISSUES.toLocaleString('en')} listed; fix these first`;

/** What one explanation may still do: try unions' variants, list issues; whether it left errors out. */
interface Budget extends WordBudget {
  unions: number;
  issues: number;
  cut: boolean;
  /** The pattern tests of the validation, and the texts not checked in time that an issue named. */
  checks: PatternChecks;
  unchecked: Set<string>;
}

/** The most characters of a text not checked in time that an issue quotes. */
const MAX_UNCHECKED_CHARS = 100;

/**
 * The issue of every value of a schema whose check can grow faster than the value (see
 * {@link compoundsWithDepth}) in a process that may not start the validation thread.
 */
const NO_THREAD_FOR_COMPOUNDING =
  "could not be checked against this schema: its check can grow faster than the value (a recursive anyOf or oneOf whose variants recurse into the same items), which only the validation thread bounds in time, and this process may not start it (Node.js's permission model: start it with --allow-worker)";

/** The issue of a value whose test against `pattern` did not finish in time (a result's: not what to send). */
function notCheckedIn(pattern: string, voice: Voice): string {
  if (!workerThreadsPermitted()) {
    return `could not be checked against pattern "${pattern}": RE2 cannot run it (lookaround, a backreference), and this process may not start the worker thread that runs such patterns (Node.js's permission model: start it with --allow-worker)`;
  }
  const cannotStart = patternWorkerCannotStart();
  if (cannotStart !== undefined) {
    return `could not be checked against pattern "${pattern}": RE2 cannot run it (lookaround, a backreference), and the worker thread that runs such patterns could not start (${cannotStart}); this is the server's trouble, not the value's: try again later`;
  }
  const timedOut = `could not be checked against pattern "${pattern}" in time (its regular expression takes too long on this text)`;
  return voice === 'output' ? timedOut : `${timedOut}; send a shorter value that plainly matches it`;
}

/** Turns Ajv errors into issues; JSON Pointer paths (`/labels/0`) until the end, then `labels[0]`. */
class IssueExplainer {
  /** Where each `anyOf`/`oneOf` list sits in the document, found on the first failed union. */
  private unionPointers: Map<unknown, string> | undefined;

  /** The document's own instance, where each variant of a failed union is compiled to be tried alone. */
  private readonly ajv: Ajv2020;
  private readonly document: JSONSchema;
  private readonly voice: Voice;

  constructor(ajv: Ajv2020, document: JSONSchema, voice: Voice) {
    this.ajv = ajv;
    this.document = document;
    this.voice = voice;
  }

  /**
   * Steps that yield every {@link ERRORS_PER_STEP} errors looked at and after each variant tried;
   * each call has a budget of its own (sliced checks of concurrent calls interleave).
   */
  *explain(
    errors: readonly ErrorObject[],
    checks: PatternChecks,
    /** The value checked: where it holds an array, a path names an index (`labels[0]`). */
    value: unknown,
  ): Steps<ValidationIssue[]> {
    const budget: Budget = {
      unions: MAX_EXPLAINED_UNIONS,
      issues: MAX_LISTED_ISSUES,
      hints: MAX_HINTS,
      voice: this.voice,
      cut: false,
      checks,
      unchecked: new Set(),
    };
    // by path, then message: a message is often one string shared by many issues (an enum's list,
    // tens of kilobytes), whose hash is kept; a key joining the two was a new string to hash each
    // time. A path's first message is kept as it is, not hashed: an enum's message names the value
    // refused, a new string of the list's length for each issue (1,000 of them hashed: 1.5 ms)
    const seen = new Map<string, string | Set<string>>();
    const issues = (yield* this.issuesAt(errors, '', budget)).filter(({ path, message }) => {
      const before = seen.get(path);
      if (before === undefined) {
        seen.set(path, message);
        return true;
      }
      if (typeof before === 'string') {
        if (before === message) return false;
        seen.set(path, new Set([before, message]));
        return true;
      }
      if (before.has(message)) return false;
      before.add(message);
      return true;
    });
    // a test that did not finish where no error shows it (a `patternProperties` key, a pattern under
    // `not`): the validation fails all the same, and says which text was not checked
    for (const { pattern, text } of checks.unfinishedTests()) {
      if (budget.issues <= 0) {
        budget.cut = true;
        break;
      }
      if (budget.unchecked.has(text)) continue;
      budget.unchecked.add(text);
      budget.issues--;
      issues.push(
        issue(
          '',
          `the text ${JSON.stringify(quotedText(text, [], MAX_UNCHECKED_CHARS))} ${notCheckedIn(pattern, this.voice)}`,
        ),
      );
    }
    if (budget.cut) issues.push(issue('', MORE_ISSUES));
    for (const each of issues) each.path = readablePath(each.path, value);
    return issues;
  }

  /**
   * A failed union reports the errors of all its variants, which would bury the useful ones. The
   * outermost failed unions are explained one by one (see `explainUnion`); errors at or below their
   * path are left to that explanation.
   */
  private *issuesAt(errors: readonly ErrorObject[], base: string, budget: Budget): Steps<ValidationIssue[]> {
    // the last union error at each path, unless a union failed above it: by sets of paths, since a
    // schema of many unions can fail thousands of them at once (comparing each with each was seconds)
    const lastUnionAt = new Map<string, ErrorObject>();
    // a key's own errors (its `minLength`, `pattern`), which Ajv reports before the `propertyNames`
    // error that names the key: told as that one's words (`has a key that is too short: …`); with
    // the errors {@link toldElsewhere} leaves out
    const keyErrors = new Map<ErrorObject, ErrorObject>();
    const toldElsewhere = new Set<ErrorObject>();
    for (let index = 0; index < errors.length; index++) {
      const error = errors[index]!;
      if (UNION_KEYWORDS.has(error.keyword)) lastUnionAt.set(error.instancePath, error);
      // the errors of the items a `contains` was tried on (none is meant to match it all), and an
      // `if` whose `then` (or `else`) has its own errors just before it: nothing more to say
      if (error.keyword === 'contains') {
        const under = `${error.schemaPath}/`;
        for (let before = index - 1; before >= 0; before--) {
          const own = errors[before]!;
          if (!own.schemaPath.startsWith(under) || !own.instancePath.startsWith(`${error.instancePath}/`))
            break;
          toldElsewhere.add(own);
        }
      }
      if (
        error.keyword === 'if' &&
        errors[index - 1]?.schemaPath.startsWith(
          `${error.schemaPath.slice(0, -'if'.length)}${String(error.params.failingKeyword)}/`,
        )
      )
        toldElsewhere.add(error);
      if (error.keyword === 'propertyNames') {
        for (let before = index - 1; before >= 0; before--) {
          const own = errors[before]!;
          if (
            own.keyword === 'propertyNames' ||
            own.instancePath !== error.instancePath ||
            own.data !== error.params.propertyName ||
            !own.schemaPath.includes('/propertyNames/')
          )
            break;
          toldElsewhere.add(own);
          keyErrors.set(error, own);
        }
      }
      if (index % ERRORS_PER_STEP === 0) yield;
    }
    const outermost = new Set<ErrorObject>();
    let looked = 0;
    for (const [path, union] of lastUnionAt) {
      if (!hasAncestorIn(path, lastUnionAt)) outermost.add(union);
      if (++looked % ERRORS_PER_STEP === 0) yield;
    }
    const outermostPaths = new Set([...outermost].map((union) => union.instancePath));
    yield;
    const issues: ValidationIssue[] = [];
    for (let index = 0; index < errors.length; index++) {
      if (budget.issues <= 0) {
        budget.cut = true;
        break;
      }
      const error = errors[index]!;
      if (index % ERRORS_PER_STEP === 0) yield;
      if (outermost.has(error)) {
        const before = budget.issues;
        const explained = yield* this.explainUnion(error, base, budget);
        // the nested issues counted themselves; this counts the union's own ones too
        budget.issues = before - explained.length;
        for (const found of explained) issues.push(found);
        continue;
      }
      const path = error.instancePath;
      if (toldElsewhere.has(error) || outermostPaths.has(path) || hasAncestorIn(path, outermostPaths))
        continue;
      issues.push(issueFor(error, base, budget, keyErrors.get(error)));
      budget.issues--;
    }
    return issues;
  }

  /**
   * Validate the value against each variant on its own and report the errors of the variant it was
   * most likely meant to be (see `likeliestVariant`); when no variant stands out, one issue says what
   * the variants allow.
   */
  private *explainUnion(union: ErrorObject, base: string, budget: Budget): Steps<ValidationIssue[]> {
    const path = base + union.instancePath;
    const passing = union.params.passingSchemas;
    if (Array.isArray(passing)) {
      const variants = passing.map((index: number) => index + 1).join(' and ');
      return [issue(path, manyFormsWords(variants, budget.voice))];
    }
    // past the budget, a failed union is one issue without trying its variants: each try validates
    // the value again against every variant, tens of times Ajv's own check when thousands fail
    if (budget.unions <= 0) return [issue(path, noFormWords(union.data, undefined, budget.voice))];
    budget.unions--;
    const outcomes = yield* this.variantOutcomes(union);
    const likeliest = likeliestVariant(outcomes);
    if (likeliest) return yield* this.issuesAt(likeliest.errors, path, budget);
    return [
      summarizeVariants(
        outcomes.map((outcome) => outcome.errors),
        path,
        union.data,
        budget,
      ),
    ];
  }

  private *variantOutcomes(union: ErrorObject): Steps<VariantOutcome[]> {
    const pointer = this.pointerOf(union.schema);
    if (!Array.isArray(union.schema) || pointer === undefined) return [];
    const keys = isSchemaObject(union.data) ? Object.keys(union.data) : [];
    const outcomes: VariantOutcome[] = [];
    for (const [index, variant] of union.schema.entries()) {
      const declared = declaredProperties(variant, this.document);
      outcomes.push({
        errors: this.variantErrors(`${pointer}/${index}`, union.data),
        knownKeys: keys.filter((key) => declared.has(key)).length,
      });
      yield;
    }
    return outcomes;
  }

  private variantErrors(pointer: string, data: unknown): ErrorObject[] {
    const validate = this.ajv.getSchema(`${DOCUMENT_KEY}#${pointer}`);
    if (!validate || validate(structuredClone(data))) return [];
    return validate.errors ?? [];
  }

  private pointerOf(union: unknown): string | undefined {
    if (!this.unionPointers) {
      this.unionPointers = new Map();
      indexUnions(this.document, '', this.unionPointers);
    }
    return this.unionPointers.get(union);
  }
}

function indexUnions(node: unknown, pointer: string, index: Map<unknown, string>): void {
  if (typeof node !== 'object' || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    const child = `${pointer}/${encodeURIComponent(escapePointer(key))}`;
    if (UNION_KEYWORDS.has(key) && Array.isArray(value)) index.set(value, child);
    indexUnions(value, child, index);
  }
}

/** How a value fared against one variant of a union. */
interface VariantOutcome {
  errors: ErrorObject[];
  /** How many of the value's keys the variant declares in its properties. */
  knownKeys: number;
}

/** Keywords that, failing at a variant's top, show the value is of another kind than the variant. */
const KIND_KEYWORDS = new Set(['type', 'const', 'enum']);

/**
 * The variant the value was most likely meant to be: among the variants of the value's type, the
 * one that declares most of its keys, then the one with the fewest errors. `undefined` on a tie.
 */
function likeliestVariant(outcomes: readonly VariantOutcome[]): VariantOutcome | undefined {
  const ranked = outcomes
    .filter(
      ({ errors }) =>
        errors.length > 0 &&
        !errors.some((error) => error.instancePath === '' && KIND_KEYWORDS.has(error.keyword)),
    )
    .sort((a, b) => b.knownKeys - a.knownKeys || a.errors.length - b.errors.length);
  const [first, second] = ranked;
  if (!first || !second) return first;
  return second.knownKeys === first.knownKeys && second.errors.length === first.errors.length
    ? undefined
    : first;
}

/** The property names a schema declares, following `$ref` and `allOf` (a few levels, recursion ends). */
function declaredProperties(schema: unknown, document: JSONSchema, depth = 0): Set<string> {
  if (!isSchemaObject(schema) || depth > 8) return new Set();
  const names = new Set(isSchemaObject(schema.properties) ? Object.keys(schema.properties) : []);
  const target = typeof schema.$ref === 'string' ? resolveLocalRef(document, schema.$ref) : undefined;
  for (const part of [target, ...(Array.isArray(schema.allOf) ? schema.allOf : [])]) {
    for (const name of declaredProperties(part, document, depth + 1)) names.add(name);
  }
  return names;
}

/** A `const` failing on a direct property, such as `kind` in a discriminated union. */
function isDiscriminatorError(error: ErrorObject): boolean {
  return error.keyword === 'const' && /^\/[^/]+$/.test(error.instancePath);
}

/**
 * One issue for a value that fits no variant: the types and values the variants allow
 * (`is a boolean: send one of low, high or null`, `unknown value "mid"; use one of low, high`), the
 * allowed values of a shared discriminator (`kind: unknown value "c"; use one of a, b`), or, failing
 * both, that no variant matches.
 */
function summarizeVariants(
  variantErrors: readonly ErrorObject[][],
  path: string,
  got: unknown,
  budget: Budget,
): ValidationIssue {
  const allowed = variantErrors.map(allowedAtTop);
  if (variantErrors.length > 0 && allowed.every((entry) => entry !== undefined)) {
    const types = [...new Set(allowed.flatMap((entry) => entry!.types))];
    const values = [...new Set(allowed.flatMap((entry) => entry!.values))];
    if (types.length === 0) return issue(path, unknownAmong(got, values, budget));
    return issue(path, noFormTakesWords(got, values, types, budget.voice));
  }
  const discriminators = variantErrors.map((errors) => errors.find(isDiscriminatorError));
  const [first] = discriminators;
  if (first && discriminators.every((error) => error?.instancePath === first.instancePath)) {
    const values = discriminators.map((error) => error!.params.allowedValue);
    return issue(path + first.instancePath, unknownAmong(first.data, values, budget));
  }
  return issue(path, noFormWords(got, undefined, budget.voice));
}

/**
 * What a variant that failed at its top allows there: its values (`const`/`enum`) if it lists them,
 * else its types. `undefined` when the variant failed deeper down.
 */
function allowedAtTop(errors: readonly ErrorObject[]): { types: string[]; values: unknown[] } | undefined {
  const top = errors.filter((error) => error.instancePath === '' && KIND_KEYWORDS.has(error.keyword));
  if (top.length === 0) return undefined;
  const values = top.flatMap((error) => {
    if (error.keyword === 'const') return [error.params.allowedValue];
    return error.keyword === 'enum' ? (error.params.allowedValues as unknown[]) : [];
  });
  if (values.length > 0) return { types: [], values };
  return {
    types: top.filter((error) => error.keyword === 'type').flatMap((error) => typeList(error.params.type)),
    values: [],
  };
}

function issueFor(error: ErrorObject, base: string, budget: Budget, keyError?: ErrorObject): ValidationIssue {
  // a value's pattern, or a key's (`propertyNames`), whose test was given up: not known to fail
  const patternError =
    error.keyword === 'pattern' ? error : keyError?.keyword === 'pattern' ? keyError : undefined;
  if (patternError !== undefined) {
    const pattern = String(patternError.params.pattern);
    if (typeof patternError.data === 'string' && budget.checks.unfinished(pattern, patternError.data)) {
      budget.unchecked.add(patternError.data);
      return issue(base + error.instancePath, notCheckedIn(pattern, budget.voice));
    }
  }
  const { pointer, message } = ajvErrorWords(error, budget, keyError);
  return issue(base + pointer, message);
}

/** An issue at a JSON Pointer, made a path the model reads once explained (see {@link readablePath}). */
function issue(pointer: string, message: string): ValidationIssue {
  return { path: pointer, message };
}

/**
 * A JSON Pointer into the value as the path a model reads, as a zod tool's issues name it (see
 * `argumentPath`): `/labels/0` → `labels[0]` where the value holds an array, `/byId/0` →
 * `byId["0"]` where it holds an object; the root is `(root)`.
 */
function readablePath(pointer: string, value: unknown): string {
  if (pointer === '') return '(root)';
  return argumentPath(keysOf(pointer, value));
}

/** The keys of a JSON Pointer into `value`: an index where the value holds an array, else the key. */
function keysOf(pointer: string, value: unknown): (string | number)[] {
  if (pointer === '') return [];
  const keys: (string | number)[] = [];
  let current = value;
  for (const segment of pointer.slice(1).split('/')) {
    const key = segment.replaceAll('~1', '/').replaceAll('~0', '~');
    const index = Array.isArray(current) && /^(?:0|[1-9]\d*)$/.test(key) ? Number(key) : undefined;
    keys.push(index ?? key);
    current =
      typeof current === 'object' && current !== null && Object.hasOwn(current, key)
        ? (current as Record<string, unknown>)[key]
        : undefined;
  }
  return keys;
}

/** Whether a path above `path` (a JSON Pointer: `/a/b` is below `/a` and ``) is in `paths`. */
function hasAncestorIn(path: string, paths: { has(path: string): boolean }): boolean {
  for (let end = path.indexOf('/'); end !== -1; end = path.indexOf('/', end + 1)) {
    if (paths.has(path.slice(0, end))) return true;
  }
  return false;
}
