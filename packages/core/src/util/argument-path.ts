type Key = PropertyKey;

/** A key written after a dot (`options.deep`); any other is quoted in brackets (`["a.b"]`, `["0"]`). */
const PLAIN_KEY = /^(?!\d+$)[^\s.[\]"'\\]+$/u;

/**
 * A path in a tool's arguments as a model reads it: `tags[0]`, `options.deep`, `headers["x.y"]`,
 * `(root)` for the arguments themselves. An array's index is in brackets; a key that looks like an
 * index (`"0"`) or holds a dot, a bracket, a quote or a space is quoted in them.
 */
export function argumentPath(path: readonly (Key | { readonly key: Key })[] | undefined): string {
  if (!path || path.length === 0) return '(root)';
  let text = '';
  for (const segment of path) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    if (typeof key === 'number') text += `[${key}]`;
    else if (typeof key === 'string' && PLAIN_KEY.test(key)) text += text === '' ? key : `.${key}`;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text;
}

/**
 * `path` under `root` (`body`, `params`): `body.config.tags[0]`, `body["a.b"]`, `root` alone for an
 * empty path.
 */
export function pathUnder(root: string, path: readonly (Key | { readonly key: Key })[]): string {
  if (path.length === 0) return root;
  const rest = argumentPath(path);
  return rest.startsWith('[') ? `${root}${rest}` : `${root}.${rest}`;
}
