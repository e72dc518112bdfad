import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

/**
 * The TypeScript samples of the docs compile against the built packages, as a user who copies them
 * would compile them.
 *
 * Conventions (also in CONTRIBUTING.md):
 * - every ```ts / ```typescript block (also ```mts, ```cts, any case, with words after the language
 *   such as ```ts title="agent.ts") of README.md, docs/*.md and packages/*\/README.md is checked, as
 *   one ES module of its own (strict, the repository's tsconfig.base.json), in one TypeScript program;
 * - a sample uses no value of type `any` (a call, a `new` or a member of one, a literal given where
 *   `any` is expected): TypeScript checks nothing there, so a made-up option or method would pass;
 * - a block may be a fragment: names it uses without defining them (`mux`, `session`, `acme`, `model`…)
 *   are declared by the prelude below (PRELUDE for every file, FILE_PRELUDE for one file), with the
 *   type the surrounding text gives them; a name the block declares or imports itself wins;
 * - `…` in a sample is prose, not code: keep it in comments or strings;
 * - a block may also start with its own declarations, in a `<!-- prelude: declare const x: T; -->`
 *   comment just before its fence (one line of TypeScript), when one name means different things in
 *   the blocks of one file;
 * - a block that is deliberately not complete code carries `<!-- not-checked: <reason> -->` on the line
 *   just before its fence. A block is never exempted because it fails to compile: fix it.
 * - a relative import stands for the user's own file: USER_MODULES below declares what it exports;
 * - `@toolmux/*` resolve to the built packages (run `pnpm build` first); the frameworks and SDKs to the
 *   devDependencies of the provider packages.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Names every block may use without defining them: what the docs mean by them. */
const PRELUDE: Record<string, string> = {
  mux: "import('@toolmux/core').ToolMux",
  session: "import('@toolmux/core').Session",
  acme: "import('@toolmux/core').Toolkit",
  github: "import('@toolmux/core').Toolkit",
  crm: "import('@toolmux/core').Toolkit",
  toolkits: "import('@toolmux/core').Toolkit[]",
  ToolMux: "typeof import('@toolmux/core').ToolMux",
  SessionPreset: "typeof import('@toolmux/core').SessionPreset",
  lookupCustomer: "import('@toolmux/core').Tool",
  app: "import('hono').Hono",
  prompt: 'string',
  instructions: 'string',
};

/** Per file: names whose meaning differs from one doc to another (the model of each framework…). */
const FILE_PRELUDE: Record<string, Record<string, string>> = {
  'README.md': {
    // the framework blocks after the first (Vercel's) import only their own packages
    builtinToolkits: "typeof import('@toolmux/toolkits').builtinToolkits",
    model: "import('ai').LanguageModel",
    // the SDK snippets at the end: each SDK's client, model and conversation
    openai: "import('openai').OpenAI",
    anthropic: "import('@anthropic-ai/sdk').Anthropic",
    ai: "import('@google/genai').GoogleGenAI",
    max_tokens: 'number',
    contents: "import('@google/genai').Content[]",
  },
  'docs/auth.md': {
    clientId: 'string',
    clientSecret: 'string',
    scopes: 'string[]',
    id: 'string',
    apiKey: 'string',
  },
  'docs/direct-access.md': {
    cursor: 'string | undefined',
    beforeExecute: "NonNullable<import('@toolmux/core').ToolModifiers['beforeExecute']>",
    afterExecute: "NonNullable<import('@toolmux/core').ToolModifiers['afterExecute']>",
    modifySchema: "NonNullable<import('@toolmux/core').ToolModifiers['modifySchema']>",
    owner: 'string',
    repo: 'string',
    title: 'string',
  },
  'docs/providers.md': { model: "import('ai').LanguageModel" },
  'docs/sessions.md': {
    summarize: '(data: unknown) => unknown',
    sendToUser: '(url: string) => void',
    config: "import('@toolmux/core').AuthConfig",
    account: "import('@toolmux/core').ConnectedAccount",
    apiKey: 'string',
    args: 'Record<string, unknown>',
    code: 'string',
  },
  'docs/toolkits.md': {
    // the second block goes on from the first
    defineToolkit: "typeof import('@toolmux/core').defineToolkit",
    getOrder: "import('@toolmux/core').Tool",
  },
  'packages/langchain/README.md': {
    // what session.tools() returned in the first block
    tools:
      "Awaited<ReturnType<import('@toolmux/core').SessionOf<import('@toolmux/langchain').LangChainProvider>['tools']>>",
  },
  'packages/openai/README.md': {
    // the Responses API block goes on from the first
    openai: "import('openai').OpenAI",
    OpenAIProvider: "typeof import('@toolmux/openai').OpenAIProvider",
  },
};

interface Block {
  file: string;
  /** 1-based line of the first code line in the Markdown file */
  line: number;
  code: string;
  exempt?: string;
  /** declarations from a `<!-- prelude: … -->` comment just before the fence */
  prelude?: string;
}

function markdownFiles(): string[] {
  const files = ['README.md'];
  for (const name of readdirSync(join(root, 'docs')).sort())
    if (name.endsWith('.md')) files.push(`docs/${name}`);
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    try {
      readFileSync(join(root, 'packages', name, 'README.md'));
      files.push(`packages/${name}/README.md`);
    } catch {}
  }
  return files;
}

/** The opening line of a fenced block: its indent, its fence and its info string's first word. */
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/;
/**
 * The languages of a TypeScript block: ```ts, ```typescript, ```mts or ```cts (any case), with or
 * without more words after them (```ts title="agent.ts"), as Markdown renders them all as TypeScript.
 * A block whose fence the check does not take is a sample nobody compiles.
 */
const TS_LANGUAGE = /^(?:ts|typescript|mts|cts)$/i;

/** The blocks of one Markdown file (its text given, or read from the repository). */
function extractBlocks(file: string, text = readFileSync(join(root, file), 'utf8')): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (!open) continue;
    const [, indent = '', fence = '', language = ''] = open;
    // (CommonMark) the block ends at a line of the same fence character, at least as many, and
    // nothing else: a shorter fence or one with a language inside it is part of the code
    const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !close.test(lines[j] ?? ''); j++) {
      body.push(
        (lines[j] ?? '').startsWith(indent) ? (lines[j] ?? '').slice(indent.length) : (lines[j] ?? ''),
      );
    }
    // a block of another language is passed over whole: a fence inside it is its text
    const at = i;
    i = j;
    if (!TS_LANGUAGE.test(language)) continue;
    const block: Block = { file, line: at + 2, code: body.join('\n') };
    // the comments on the lines just before the fence
    for (let k = at - 1; k >= 0 && /^\s*<!--.*-->\s*$/.test(lines[k] ?? ''); k--) {
      const comment = /^\s*<!--\s*(not-checked|prelude):\s*(.+?)\s*-->\s*$/.exec(lines[k] ?? '');
      if (comment?.[1] === 'not-checked') block.exempt = comment[2];
      if (comment?.[1] === 'prelude') block.prelude = comment[2];
    }
    blocks.push(block);
  }
  return blocks;
}

/** The names a block declares or imports at its top level. */
function declaredNames(code: string): Set<string> {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const names = new Set<string>();
  const addBinding = (name: ts.BindingName) => {
    if (ts.isIdentifier(name)) names.add(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) addBinding(element.name);
  };
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && statement.importClause) {
      const clause = statement.importClause;
      if (clause.name) names.add(clause.name.text);
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings))
        for (const element of bindings.elements) names.add(element.name.text);
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) addBinding(declaration.name);
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement)) &&
      statement.name
    ) {
      names.add(statement.name.text);
    }
  }
  return names;
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.base.json');
  const config = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, undefined, configPath);
  return {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    allowImportingTsExtensions: true,
  };
}

/** Where a bare import that the docs' folder cannot resolve is looked up: the provider packages. */
const fallbackDirs = [
  'examples/run-all',
  ...readdirSync(join(root, 'packages'))
    .sort()
    .map((name) => `packages/${name}`),
];

/** A module the samples import by a relative path, standing for the user's own file. */
const USER_MODULES: Record<string, string> = {
  'acme-toolkit.ts': "export declare const acme: import('@toolmux/core').Toolkit;\n",
};

interface Failure {
  block: Block;
  message: string;
}

/**
 * Compiles the blocks in one program. What it reports of each: its compile errors, and each place it
 * uses a value of type `any`: a member, a call or a `new` of one, an object or array literal given where
 * `any` is expected. TypeScript checks nothing there, so a misspelt method or a made-up option passes;
 * in a sample it means a library's types did not load as a user's compiler loads them (with
 * `skipLibCheck`, a declaration file's import that does not resolve silently makes its names `any`).
 */
function check(blocks: Block[]): Failure[] {
  const options = compilerOptions();
  const sources = new Map<string, { block: Block; text: string; preludeLines: number }>();
  for (const block of blocks) {
    const own = new Set([...declaredNames(block.code), ...declaredNames(block.prelude ?? '')]);
    const prelude = Object.entries({ ...PRELUDE, ...FILE_PRELUDE[block.file] })
      .filter(([name]) => !own.has(name))
      .map(([name, type]) => `declare const ${name}: ${type};`);
    if (block.prelude) prelude.push(block.prelude);
    const text = `${prelude.map((line) => `${line}\n`).join('')}${block.code}\nexport {};\n`;
    sources.set(join(root, `${block.file}.${block.line}.ts`), { block, text, preludeLines: prelude.length });
  }
  const userModule = (path: string) => {
    const name = Object.keys(USER_MODULES).find((name) => path.endsWith(`/${name}`));
    return name && !ts.sys.fileExists(path) ? USER_MODULES[name] : undefined;
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (path) =>
    sources.has(path) || userModule(path) !== undefined || fileExists.call(host, path);
  host.readFile = (path) => sources.get(path)?.text ?? userModule(path) ?? readFile.call(host, path);
  host.getSourceFile = (path, language, onError, shouldCreate) => {
    const text = sources.get(path)?.text ?? userModule(path);
    return text !== undefined
      ? ts.createSourceFile(path, text, language)
      : getSourceFile.call(host, path, language, onError, shouldCreate);
  };
  const cache = ts.createModuleResolutionCache(root, (name) => name, options);
  host.resolveModuleNameLiterals = (literals, containingFile, _redirect, compilerOptions, containingSource) =>
    literals.map((literal) => {
      const name = literal.text;
      // each file's own module kind, as tsc resolves it: a CommonJS package's declaration files import
      // their siblings without an extension (`export * from './agent'`), which an ES module's
      // resolution does not find
      const mode = ts.getModeForUsageLocation(containingSource, literal, compilerOptions);
      let result = ts.resolveModuleName(name, containingFile, compilerOptions, host, cache, undefined, mode);
      if (!result.resolvedModule && sources.has(containingFile) && !name.startsWith('.')) {
        for (const dir of fallbackDirs) {
          const from = join(root, dir, '__docs_sample__.ts');
          const attempt = ts.resolveModuleName(name, from, compilerOptions, host, cache, undefined, mode);
          if (attempt.resolvedModule) {
            result = attempt;
            break;
          }
        }
      }
      return result;
    });
  const program = ts.createProgram({ rootNames: [...sources.keys()], options, host });
  const checker = program.getTypeChecker();
  const failures: Failure[] = [];
  for (const [path, { block, preludeLines }] of sources) {
    const source = program.getSourceFile(path);
    if (!source) throw new Error(`${block.file}:${block.line}: not in the program`);
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    for (const diagnostic of diagnostics) {
      const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
      let where = `${block.file}:${block.line}`;
      if (diagnostic.file && diagnostic.start !== undefined) {
        const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
        where =
          line < preludeLines
            ? `${block.file}:${block.line} (prelude)`
            : `${block.file}:${block.line + line - preludeLines}:${character + 1}`;
      }
      failures.push({ block, message: `${where} TS${diagnostic.code}: ${text}` });
    }
    // (after a compile error, what it left unknown is any too: the error says it already)
    if (diagnostics.length > 0) continue;
    for (const { line, message } of uncheckedUses(source, checker)) {
      if (line >= preludeLines)
        failures.push({ block, message: `${block.file}:${block.line + line - preludeLines}: ${message}` });
    }
  }
  return failures;
}

/**
 * The places of a source file that use a value of type `any`: a member, a call or a `new` of one, an
 * object or array literal given where `any` is expected (0-based lines).
 */
function uncheckedUses(source: ts.SourceFile, checker: ts.TypeChecker): { line: number; message: string }[] {
  const uses: { line: number; message: string }[] = [];
  const isAny = (type: ts.Type | undefined) => type !== undefined && (type.flags & ts.TypeFlags.Any) !== 0;
  const firstLine = (node: ts.Node) => node.getText(source).split('\n')[0];
  const visit = (node: ts.Node) => {
    const target =
      ts.isPropertyAccessExpression(node) ||
      ts.isElementAccessExpression(node) ||
      ts.isCallExpression(node) ||
      ts.isNewExpression(node)
        ? node.expression
        : undefined;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
    if (target !== undefined && isAny(checker.getTypeAtLocation(target))) {
      uses.push({
        line,
        message: `\`${firstLine(target)}\` is of type any: nothing done with it is checked`,
      });
    } else if (
      (ts.isObjectLiteralExpression(node) || ts.isArrayLiteralExpression(node)) &&
      isAny(checker.getContextualType(node))
    ) {
      uses.push({
        line,
        message: `the literal given to \`${firstLine(node.parent)}\` goes where any is expected: nothing in it is checked`,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return uses;
}

const blocks = markdownFiles().flatMap((file) => extractBlocks(file));
const checked = blocks.filter((block) => block.exempt === undefined);

it('finds the TypeScript samples of the docs', () => {
  expect(checked.length).toBeGreaterThan(40);
  for (const block of blocks.filter((block) => block.exempt !== undefined)) {
    expect(block.exempt, `${block.file}:${block.line}`).toMatch(/\w{4,}/);
  }
});

/** The package a bare import names: `@scope/name` or `name`, without a subpath. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * A package README is what a user reads on npm and follows as written: its `pnpm add` line installs
 * every package its samples import (a package that is only another one's dependency cannot be
 * imported under pnpm, and one not installed at all fails the sample before anything runs).
 */
it('installs, in each package README, every package its samples import', () => {
  const problems: string[] = [];
  const readmes = markdownFiles().filter((file) => file.startsWith('packages/'));
  expect(readmes.length).toBeGreaterThan(10);
  for (const file of readmes) {
    const text = readFileSync(join(root, file), 'utf8');
    const installed = new Set(
      [...text.matchAll(/^pnpm add (.+)$/gm)].flatMap((match) => match[1]!.split(/\s+/)),
    );
    if (installed.size === 0) problems.push(`${file}: no \`pnpm add\` line`);
    for (const block of extractBlocks(file)) {
      const specifiers = [...block.code.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)'([^'.][^']*)'/g)].map(
        (match) => match[1]!,
      );
      for (const specifier of specifiers) {
        if (specifier.startsWith('node:')) continue;
        if (!installed.has(packageOf(specifier)))
          problems.push(
            `${file}:${block.line}: imports ${specifier}, which its pnpm add line does not install`,
          );
      }
    }
  }
  expect(problems).toEqual([]);
});

/**
 * The `handleToolCalls(...)` calls of a sample that run whatever the model answered: neither inside an
 * `if` or a `while` nor after an `if` of its block that leaves the loop or the function (`break`, `continue`,
 * `return`, `throw`). For a response without tool calls it returns an empty reply, and Anthropic and
 * Gemini refuse the empty user turn it makes (`content: []`, `parts: []`).
 */
function unguardedToolCallHandling(code: string): number[] {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const leaves = (statement: ts.Statement): boolean =>
    ts.isBreakStatement(statement) ||
    ts.isContinueStatement(statement) ||
    ts.isReturnStatement(statement) ||
    ts.isThrowStatement(statement) ||
    (ts.isBlock(statement) && statement.statements.some(leaves));
  const guarded = (call: ts.Node): boolean => {
    for (let node: ts.Node = call; node.parent; node = node.parent) {
      const parent = node.parent;
      if (ts.isIfStatement(parent) && parent.thenStatement === node) return true;
      if (ts.isWhileStatement(parent) && parent.statement === node) return true;
      if (ts.isBlock(parent) || ts.isSourceFile(parent)) {
        const before = parent.statements.slice(0, parent.statements.indexOf(node as ts.Statement));
        if (before.some((statement) => ts.isIfStatement(statement) && leaves(statement.thenStatement)))
          return true;
      }
    }
    return false;
  };
  const lines: number[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'handleToolCalls' &&
      !guarded(node)
    ) {
      lines.push(source.getLineAndCharacterOfPosition(node.getStart()).line);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

it('runs handleToolCalls in the samples only for a response with tool calls', () => {
  const unguarded = checked.flatMap((block) =>
    unguardedToolCallHandling(block.code).map((line) => `${block.file}:${block.line + line}`),
  );
  expect(unguarded).toEqual([]);
});

/**
 * One TypeScript program over the samples and the types they reach (the packages' and the
 * frameworks' declarations): half a minute of CPU in one thread. CI runs every package's suite at
 * once on a shared 2-core machine: there, with two busy loops beside it (load 12–18), it took 87 s
 * of the 120 s it had; alone at load 10, 35 s. It runs synchronously: vitest fails it once it
 * returns past the timeout, which is so how long its work may take on a loaded machine.
 */
const COMPILE_TIMEOUT_MS = 300_000;

/**
 * Samples that must fail, compiled in the same program as the docs' (a second program would load the
 * same types again): each with what its failure names. They show that a sample using an option or a
 * method the packages do not have fails the check, for toolmux's own API and for a framework's.
 */
const PROBES: { block: Block; fails: RegExp }[] = [
  // an option of toolmux's API that does not exist
  {
    code: "await mux.create('user_123', { toolkits: ['acme'], toolkitz: ['acme'] });",
    fails: /TS\d+: .*'toolkitz'/,
  },
  // a method of toolmux's API that does not exist
  { code: "await session.serch({ query: 'where is my order' });", fails: /TS\d+: .*'serch'/ },
  // a framework whose declaration files are CommonJS ones that import their siblings without an extension
  {
    code: "import { Agent } from '@openai/agents';\nnew Agent({ name: 'Assistant', toolz: [] });",
    fails: /TS\d+: .*'toolz'/,
  },
  {
    code: "import { Agent } from '@openai/agents';\nnew Agent({ name: 'Assistant' }).cloneIt();",
    fails: /TS\d+: .*'cloneIt'/,
  },
  // a value TypeScript does not check
  {
    code: "const loose = JSON.parse('{}');\nloose.create('user_123', { toolkitz: [] });",
    fails: /`loose\.create` is of type any/,
  },
].map(({ code, fails }, index) => ({
  block: { file: 'docs/(must-fail).md', line: 1 + index * 10, code },
  fails,
}));

let compiled: Failure[] | undefined;
/** The docs' samples and the probes, compiled once for the tests below. */
const compile = () => {
  compiled ??= check([...checked, ...PROBES.map((probe) => probe.block)]);
  return compiled;
};

it('takes every TypeScript block of a page, and only those', () => {
  const page = [
    '```ts title="agent.ts"',
    'const a = 1;',
    '```',
    '<!-- prelude: declare const x: number; -->',
    '```TypeScript',
    'const b = x;',
    '```',
    '- an item of a list',
    '',
    '  ~~~mts',
    '  const c = 3;',
    '  ~~~',
    '````md',
    '```ts',
    'a page about a sample: not one',
    '```',
    '````',
    '```js',
    'const d = 4;',
    '```',
    '````ts',
    'const e = `',
    '```',
    '`;',
    '````',
  ].join('\n');
  expect(extractBlocks('page.md', page).map(({ line, code, prelude }) => ({ line, code, prelude }))).toEqual([
    { line: 2, code: 'const a = 1;' },
    { line: 6, code: 'const b = x;', prelude: 'declare const x: number;' },
    { line: 11, code: 'const c = 3;' },
    { line: 22, code: 'const e = `\n```\n`;' },
  ]);
});

it(
  'fails a sample that uses an option or a method the packages do not have',
  () => {
    const failures = compile();
    for (const probe of PROBES) {
      const messages = failures.filter((failure) => failure.block === probe.block).map((f) => f.message);
      expect(messages.join('\n'), probe.block.code).toMatch(probe.fails);
    }
  },
  COMPILE_TIMEOUT_MS,
);

it(
  `compiles the ${checked.length} TypeScript samples of the docs (strict, against the built packages)`,
  () => {
    const probes = new Set(PROBES.map((probe) => probe.block));
    const failures = compile()
      .filter((failure) => !probes.has(failure.block))
      .map((failure) => failure.message);
    expect(failures, `${failures.length} problems in the docs' samples:\n${failures.join('\n')}`).toEqual([]);
  },
  COMPILE_TIMEOUT_MS,
);
