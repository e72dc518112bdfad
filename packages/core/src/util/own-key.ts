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

/**
 * Whether `value` is an object as JSON or an object literal makes one: its prototype is
 * `Object.prototype` or null (not an array, a class instance, a Date or a Map).
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
