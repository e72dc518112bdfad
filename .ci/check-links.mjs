// Checks every link in every tracked Markdown file: a relative link must point at a file or folder
// that is tracked in this repository (not outside it through ../, not at something .gitignored such
// as dist/), and a #fragment must name a heading (or an id) of the Markdown file it points at.
// Links with a scheme (https:, mailto:, …) are not fetched.
//
// usage: node .ci/check-links.mjs               check the repository; exit 1 and one line per broken link
//        node .ci/check-links.mjs --self-test   check the checker against fixtures it writes to a temp dir
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** The text of a Markdown file with fenced code blocks and inline code spans blanked out (lines kept). */
function withoutCode(text) {
  const lines = text.split('\n');
  let fence;
  const kept = lines.map((line) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (marker && marker[1][0] === fence[0] && marker[1].length >= fence.length) fence = undefined;
      return '';
    }
    if (marker) {
      fence = marker[1];
      return '';
    }
    return line.replace(/(`+)(?:(?!\1).)+?\1/g, (span) => ' '.repeat(span.length));
  });
  return kept.join('\n');
}

/** Every link target of a Markdown file, with its line number. */
export function linksOf(text) {
  const links = [];
  withoutCode(text)
    .split('\n')
    .forEach((line, index) => {
      const add = (target) => links.push({ target: target.trim(), line: index + 1 });
      // [text](target "title") and ![alt](target); the target may be <wrapped>
      for (const match of line.matchAll(
        /!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g,
      )) {
        add(match[1].replace(/^<|>$/g, ''));
      }
      // [id]: target
      const definition = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
      if (definition) add(definition[1].replace(/^<|>$/g, ''));
      // <a href="…">, <img src="…">
      for (const match of line.matchAll(/<(?:a|img|source)\s[^>]*?(?:href|src)\s*=\s*"([^"]*)"/gi))
        add(match[1]);
    });
  return links;
}

/** GitHub's anchor for a heading text. */
export function slugOf(heading) {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // HTML tags
    .toLowerCase()
    .trim()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a Markdown file offers: its headings (GitHub's slugs, -1, -2 for repeats) and ids. */
export function anchorsOf(text) {
  const anchors = new Set();
  const seen = new Map();
  const plain = withoutCode(text.replace(/`([^`]*)`/g, '$1'));
  for (const line of plain.split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slugOf(heading[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const match of line.matchAll(/<[a-z]+\s[^>]*?(?:id|name)\s*=\s*"([^"]+)"/gi)) anchors.add(match[1]);
  }
  return anchors;
}

/**
 * The broken links of `markdownFiles` (paths relative to `root`): targets outside the repository,
 * missing or untracked targets, and unknown #fragments of Markdown targets.
 */
export function findBrokenLinks({ root, markdownFiles, trackedFiles }) {
  const tracked = new Set(trackedFiles.map((file) => file.split(sep).join('/')));
  const trackedFolders = new Set();
  for (const file of tracked) {
    for (let folder = dirname(file); folder !== '.' && folder !== ''; folder = dirname(folder))
      trackedFolders.add(folder);
  }
  const anchorCache = new Map();
  const anchorsOfFile = (file) => {
    if (!anchorCache.has(file)) anchorCache.set(file, anchorsOf(readFileSync(join(root, file), 'utf8')));
    return anchorCache.get(file);
  };
  const problems = [];
  for (const file of markdownFiles) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const { target, line } of linksOf(text)) {
      const at = `${file}:${line}`;
      if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      const hashIndex = target.indexOf('#');
      const pathPart = hashIndex === -1 ? target : target.slice(0, hashIndex);
      const fragment = hashIndex === -1 ? undefined : target.slice(hashIndex + 1);
      let linked = file;
      if (pathPart !== '') {
        let decoded;
        try {
          decoded = decodeURIComponent(pathPart.split('?')[0]);
        } catch {
          problems.push(`${at}: ${target} is not a valid URL path`);
          continue;
        }
        const absolute = decoded.startsWith('/')
          ? join(root, decoded)
          : resolve(root, dirname(file), decoded);
        const inside = relative(root, absolute);
        if (inside.startsWith('..') || isAbsolute(inside)) {
          problems.push(`${at}: ${target} points outside the repository; link to a file in it`);
          continue;
        }
        linked = inside.split(sep).join('/').replace(/\/$/, '');
        const isFolder = linked === '' || trackedFolders.has(linked);
        if (!tracked.has(linked) && !isFolder) {
          problems.push(
            `${at}: ${target} does not exist in the repository${existsSync(absolute) ? ' (it exists here but is not tracked by git: ignored or not added)' : ''}`,
          );
          continue;
        }
        if (isFolder) continue;
      }
      if (fragment !== undefined && fragment !== '' && linked.endsWith('.md')) {
        const anchor = decodeURIComponent(fragment).toLowerCase();
        if (!anchorsOfFile(linked).has(anchor)) {
          problems.push(`${at}: ${target}: ${linked} has no heading or id "${anchor}"`);
        }
      }
    }
  }
  return problems;
}

function gitFiles(root, patterns) {
  const output = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard', ...patterns],
    {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return output.split('\0').filter((file) => file !== '' && existsSync(join(root, file)));
}

function selfTest() {
  const root = mkdtempSync(join(tmpdir(), 'toolmux-links-'));
  const write = (file, text) => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  try {
    write(
      'README.md',
      [
        '# Title',
        '[ok](docs/a.md) [ok folder](docs/) [ok anchor](docs/a.md#some-heading) [ok self](#title)',
        '[ok code heading](docs/a.md#the-create-method) [ok repeat](docs/a.md#twice-1) [ok id](docs/a.md#custom)',
        '[ok external](https://example.com/x.md) [ok mail](mailto:a@b.c) ![ok image](docs/pic.png "Pic")',
        '[outside](../shared/design/API.md)',
        '[missing](docs/nope.md)',
        '[ignored](dist/out.js)',
        '[bad anchor](docs/a.md#no-such-heading)',
        '[bad self anchor](#nope)',
        '`[in code](missing.md)`',
        '```md',
        '[in a fence](missing.md)',
        '```',
        '[ref]: docs/missing-ref.md',
        '<a href="../outside.md">html</a>',
      ].join('\n'),
    );
    write(
      'docs/a.md',
      '# A\n## Some heading\n## The `create()` method\n## Twice\n## Twice\n<a id="custom"></a>\n[up](../README.md#title)\n',
    );
    write('docs/pic.png', 'png');
    write('dist/out.js', '');
    const problems = findBrokenLinks({
      root,
      markdownFiles: ['README.md', 'docs/a.md'],
      trackedFiles: ['README.md', 'docs/a.md', 'docs/pic.png'],
    });
    const expected = [
      'README.md:5: ../shared/design/API.md points outside the repository; link to a file in it',
      'README.md:6: docs/nope.md does not exist in the repository',
      'README.md:7: dist/out.js does not exist in the repository (it exists here but is not tracked by git: ignored or not added)',
      'README.md:8: docs/a.md#no-such-heading: docs/a.md has no heading or id "no-such-heading"',
      'README.md:9: #nope: README.md has no heading or id "nope"',
      'README.md:14: docs/missing-ref.md does not exist in the repository',
      'README.md:15: ../outside.md points outside the repository; link to a file in it',
    ];
    const same =
      problems.length === expected.length && problems.every((problem, index) => problem === expected[index]);
    if (!same) {
      console.error(
        `check-links self-test failed.\nexpected:\n  ${expected.join('\n  ')}\ngot:\n  ${problems.join('\n  ')}`,
      );
      return 1;
    }
    console.log(`check-links self-test: the ${expected.length} broken links found, no false alarm`);
    return 0;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--self-test')) process.exit(selfTest());
  const root = resolve(import.meta.dirname, '..');
  const markdownFiles = gitFiles(root, ['*.md', '**/*.md']).filter((file) => !file.includes('node_modules/'));
  const problems = findBrokenLinks({ root, markdownFiles, trackedFiles: gitFiles(root, []) });
  for (const problem of problems) console.error(problem);
  console.log(
    `check-links: ${markdownFiles.length} Markdown files, ${problems.length === 0 ? 'every link resolves' : `${problems.length} broken link${problems.length === 1 ? '' : 's'}`}`,
  );
  process.exit(problems.length === 0 ? 0 : 1);
}
