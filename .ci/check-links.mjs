// Checks every link in every tracked Markdown file: a relative link must point at a file or folder
// that is tracked in this repository (not outside it through ../, not at something .gitignored such
// as dist/), and a #fragment must name a heading (or an id) of the Markdown file it points at.
// The documentation links to nothing outside the repository: a link with a scheme (https:, mailto:,
// …) or starting with //, an autolink (<https://…>, <a@b.c>) and a bare URL or e-mail address that
// GitHub would turn into a link are each reported. URLs inside code (fenced blocks, `spans`) are
// examples, not links, and are allowed.
// The README of a published package (a packages/* folder whose package.json is not private) is what
// npm shows: its relative links must stay inside the package folder, since ../../docs/… is not in
// the tarball; such a README names a repository page as text instead.
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

/**
 * Every link target of a Markdown file, with its line number and kind: 'link' ([text](target),
 * [id]: target, <a href>, <img src>), 'autolink' (<https://…>, <a@b.c>) or 'bare' (a URL or e-mail
 * address in the text that GitHub turns into a link).
 */
export function linksOf(text) {
  const links = [];
  withoutCode(text)
    .split('\n')
    .forEach((line, index) => {
      const add = (target, kind) => links.push({ target: target.trim(), line: index + 1, kind });
      // each construct found is blanked out, so that its target is not found again as a bare URL
      const blank = (match) => ' '.repeat(match.length);
      let rest = line;
      // [text](target "title") and ![alt](target); the target may be <wrapped>
      rest = rest.replace(
        /!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g,
        (match, target) => {
          add(target.replace(/^<|>$/g, ''), 'link');
          return blank(match);
        },
      );
      // [id]: target
      rest = rest.replace(/^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/, (match, target) => {
        add(target.replace(/^<|>$/g, ''), 'link');
        return blank(match);
      });
      // <a href="…">, <img src="…">
      rest = rest.replace(
        /<(?:a|img|source)\s[^>]*?(?:href|src)\s*=\s*"([^"]*)"[^>]*>/gi,
        (match, target) => {
          add(target, 'link');
          return blank(match);
        },
      );
      // <scheme:…> and <user@host.tld>
      rest = rest.replace(
        /<([a-z][a-z0-9+.-]{1,31}:[^\s<>]*|[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)>/gi,
        (match, target) => {
          add(target, 'autolink');
          return blank(match);
        },
      );
      // bare http(s)://…, ftp://…, www.… and user@host.tld (GitHub's extended autolinks)
      for (const match of rest.matchAll(
        /(?<![\p{L}\p{N}_./:@-])(?:(?:https?|ftp):\/\/[^\s<]*[^\s<.,:;"')\]*_~?!]|www\.[^\s<]*[^\s<.,:;"')\]*_~?!]|[a-z0-9._+-]+@[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.[a-z][a-z0-9_-]*)/giu,
      )) {
        add(match[0], 'bare');
      }
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
 * The broken links of `markdownFiles` (paths relative to `root`): external links (a scheme, //, an
 * autolink or a bare URL), targets outside the repository, missing or untracked targets, unknown
 * #fragments of Markdown targets, and links of a published package's README (`packageFolders`:
 * the folders of the packages that are published) that leave the package folder.
 */
export function findBrokenLinks({ root, markdownFiles, trackedFiles, packageFolders = [] }) {
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
    const packageFolder = packageFolders.find((folder) => file === `${folder}/README.md`);
    for (const { target, line, kind } of linksOf(text)) {
      const at = `${file}:${line}`;
      if (target === '') continue;
      if (kind !== 'link' || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) {
        const what = kind === 'bare' ? 'a bare URL, which GitHub turns into a link' : 'an external link';
        problems.push(
          `${at}: ${target} is ${what}; the docs link only to files in this repository: write the name as plain text (an example URL goes in \`code\`)`,
        );
        continue;
      }
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
        if (
          packageFolder !== undefined &&
          linked !== packageFolder &&
          !linked.startsWith(`${packageFolder}/`)
        ) {
          problems.push(
            `${at}: ${target} leaves the package folder ${packageFolder}, and npm publishes only that folder; name the page as text (\`${linked}\` in the toolmux repository)`,
          );
          continue;
        }
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
        '![ok image](docs/pic.png "Pic") `https://in.code.example/x` `<https://x.y>` ok@`a.b` @toolmux/core v1.2.3',
        '[outside](../shared/design/API.md)',
        '[missing](docs/nope.md)',
        '[ignored](dist/out.js)',
        '[bad anchor](docs/a.md#no-such-heading)',
        '[bad self anchor](#nope)',
        '`[in code](missing.md)`',
        '```md',
        '[in a fence](missing.md) https://fenced.example <https://fenced.example>',
        '```',
        '[ref]: docs/missing-ref.md',
        '<a href="../outside.md">html</a>',
        '[external](https://example.com/x.md) [mail](mailto:a@b.c) [no scheme](//cdn.example/x.js)',
        'autolinks <https://example.com/auto> and <someone@example.com>',
        'bare https://example.com/bare, www.example.org and someone@example.com.',
        '[ext ref]: https://example.com/ref',
        '<a href="https://example.com/html">html</a>',
      ].join('\n'),
    );
    write(
      'docs/a.md',
      '# A\n## Some heading\n## The `create()` method\n## Twice\n## Twice\n<a id="custom"></a>\n[up](../README.md#title)\n',
    );
    write('docs/pic.png', 'png');
    write('dist/out.js', '');
    write(
      'packages/p/README.md',
      '[own file](src/x.ts) [own anchor](#p) [repo docs](../../docs/a.md)\n# P\n',
    );
    write('packages/p/src/x.ts', '');
    write('examples/e/README.md', '[repo docs](../../docs/a.md)\n');
    const problems = findBrokenLinks({
      root,
      markdownFiles: ['README.md', 'docs/a.md', 'packages/p/README.md', 'examples/e/README.md'],
      trackedFiles: [
        'README.md',
        'docs/a.md',
        'docs/pic.png',
        'packages/p/README.md',
        'packages/p/src/x.ts',
        'examples/e/README.md',
      ],
      packageFolders: ['packages/p'],
    });
    const external = (line, target, what = 'an external link') =>
      `README.md:${line}: ${target} is ${what}; the docs link only to files in this repository: write the name as plain text (an example URL goes in \`code\`)`;
    const bare = 'a bare URL, which GitHub turns into a link';
    const expected = [
      'README.md:5: ../shared/design/API.md points outside the repository; link to a file in it',
      'README.md:6: docs/nope.md does not exist in the repository',
      'README.md:7: dist/out.js does not exist in the repository (it exists here but is not tracked by git: ignored or not added)',
      'README.md:8: docs/a.md#no-such-heading: docs/a.md has no heading or id "no-such-heading"',
      'README.md:9: #nope: README.md has no heading or id "nope"',
      'README.md:14: docs/missing-ref.md does not exist in the repository',
      'README.md:15: ../outside.md points outside the repository; link to a file in it',
      external(16, 'https://example.com/x.md'),
      external(16, 'mailto:a@b.c'),
      external(16, '//cdn.example/x.js'),
      external(17, 'https://example.com/auto'),
      external(17, 'someone@example.com'),
      external(18, 'https://example.com/bare', bare),
      external(18, 'www.example.org', bare),
      external(18, 'someone@example.com', bare),
      external(19, 'https://example.com/ref'),
      external(20, 'https://example.com/html'),
      'packages/p/README.md:1: ../../docs/a.md leaves the package folder packages/p, and npm publishes only that folder; name the page as text (`docs/a.md` in the toolmux repository)',
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
  const packageFolders = gitFiles(root, ['packages/*/package.json'])
    .filter((file) => JSON.parse(readFileSync(join(root, file), 'utf8')).private !== true)
    .map((file) => dirname(file));
  const problems = findBrokenLinks({ root, markdownFiles, trackedFiles: gitFiles(root, []), packageFolders });
  for (const problem of problems) console.error(problem);
  console.log(
    `check-links: ${markdownFiles.length} Markdown files, ${problems.length === 0 ? 'every link resolves' : `${problems.length} broken link${problems.length === 1 ? '' : 's'}`}`,
  );
  process.exit(problems.length === 0 ? 0 : 1);
}
