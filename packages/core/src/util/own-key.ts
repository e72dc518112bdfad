/**
 * `target[key] = value` as a data property of `target` itself, even for the key `__proto__`: an
 * assignment would set `target`'s prototype instead (and the key would be lost). For copies of
 * user data (schemas, arguments) whose keys come from JSON, where `__proto__` is an ordinary key.
 */
export function setOwn(target: object, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    (target as Record<string, unknown>)[key] = value;
  }
}
