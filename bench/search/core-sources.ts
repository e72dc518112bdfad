/**
 * Lets Node run `@toolmux/core`'s TypeScript sources without a build. Core imports its own files
 * the NodeNext way, `./stem.js`; when no such file exists, this resolves the import to `./stem.ts`.
 * Import this module first, then load core sources with a dynamic `import()`: static imports are
 * all resolved before any module body (and so this hook) runs.
 */
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      const missing = (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
      if (!missing || !specifier.startsWith('.') || !specifier.endsWith('.js')) throw error;
      return nextResolve(`${specifier.slice(0, -'.js'.length)}.ts`, context);
    }
  },
});
