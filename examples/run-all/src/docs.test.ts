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
 * - every ```ts / ```typescript block of README.md, docs/*.md and packages/*\/README.md is checked, as
 *   one ES module of its own (strict, the repository's tsconfig.base.json), in one TypeScript program;
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

function extractBlocks(file: string): Block[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const [, indent = '', fence = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !(lines[j] ?? '').trim().startsWith(fence); j++) {
      body.push(
        (lines[j] ?? '').startsWith(indent) ? (lines[j] ?? '').slice(indent.length) : (lines[j] ?? ''),
      );
    }
    const block: Block = { file, line: i + 2, code: body.join('\n') };
    // the comments on the lines just before the fence
    for (let k = i - 1; k >= 0 && /^\s*<!--.*-->\s*$/.test(lines[k] ?? ''); k--) {
      const comment = /^\s*<!--\s*(not-checked|prelude):\s*(.+?)\s*-->\s*$/.exec(lines[k] ?? '');
      if (comment?.[1] === 'not-checked') block.exempt = comment[2];
      if (comment?.[1] === 'prelude') block.prelude = comment[2];
    }
    blocks.push(block);
    i = j;
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

function check(blocks: Block[]): { block: Block; message: string }[] {
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
  host.resolveModuleNameLiterals = (literals, containingFile, _redirect, compilerOptions) =>
    literals.map((literal) => {
      const name = literal.text;
      const mode = ts.ModuleKind.ESNext;
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
  const failures: { block: Block; message: string }[] = [];
  for (const [path, { block, preludeLines }] of sources) {
    const source = program.getSourceFile(path);
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
  }
  return failures;
}

const blocks = markdownFiles().flatMap(extractBlocks);
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

it(
  `compiles the ${checked.length} TypeScript samples of the docs (strict, against the built packages)`,
  () => {
    const failures = check(checked).map((failure) => failure.message);
    expect(
      failures,
      `${failures.length} compile errors in the docs' samples:\n${failures.join('\n')}`,
    ).toEqual([]);
  },
  COMPILE_TIMEOUT_MS,
);
