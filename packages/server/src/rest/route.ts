import { checkText, checkUserId, describeZodIssue } from '@toolmux/core/internal';
import type { z } from 'zod';
import { invalidRequest } from '../http-errors.js';

type Output<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a route handler receives: its validated path parameters, query and body. */
export interface RouteInput<P, Q, B> {
  params: Output<P>;
  query: Output<Q>;
  body: Output<B>;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/**
 * One REST route. The same zod schemas validate the request and write the OpenAPI document, so the
 * document cannot drift from what the server accepts.
 */
export interface Route<
  P extends z.ZodObject | undefined = z.ZodObject | undefined,
  Q extends z.ZodObject | undefined = z.ZodObject | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R extends z.ZodType = z.ZodType,
> {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Below `/api/v1`, Hono style: `/sessions/:sessionId`. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  response: R;
  /** @default 200 */
  status?: 200 | 201;
  /** @default true: needs the project API key */
  auth?: boolean;
  handle(input: RouteInput<P, Q, B>): Promise<z.input<R>>;
}

/** Declares a route with its types inferred from its schemas. */
export function route<
  P extends z.ZodObject | undefined = undefined,
  Q extends z.ZodObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  R extends z.ZodType = z.ZodType,
>(definition: Route<P, Q, B, R>): Route {
  return definition as unknown as Route;
}

/**
 * Parses one part of a request; a mismatch is a 400 that names every bad field (up to five) by its
 * REST path (`body.config.tags.0`), with the precise message of core's `describeZodIssue` (the value
 * a union came closest to, "did you mean", the known keys) rather than zod's "Invalid input".
 */
export function parseRequestPart(
  schema: z.ZodType | undefined,
  value: unknown,
  part: 'path' | 'query' | 'body',
): unknown {
  if (!schema) return undefined;
  checkRequestText(value, part);
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 5).map((issue) => {
    const { path, message } = describeZodIssue(schema, value, issue);
    const where = path.length > 0 ? `${part}.${path.join('.')}` : part;
    return `${where}: ${message.replace(/\.$/, '')}`;
  });
  const more = result.error.issues.length > 5 ? ` (and ${result.error.issues.length - 5} more)` : '';
  const text = `${issues.join('; ')}${more}`;
  throw invalidRequest(`Invalid request ${part}: ${text}${/[.?!]$/.test(text) ? '' : '.'}`);
}

/**
 * Path and query values are ids, slugs, cursors and search text: each must be text the store can
 * keep (core's rule: well-formed Unicode, no control characters), checked here before anything looks
 * them up. A `user_id` anywhere is checked as a user id (USER_ID_INVALID). Core checks the rest of a
 * body where it is used.
 */
function checkRequestText(value: unknown, part: 'path' | 'query' | 'body'): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [name, item] of Object.entries(value)) {
    if (typeof item !== 'string') continue;
    if (name === 'user_id') checkUserId(item, `${part}.user_id`);
    else if (part !== 'body') {
      checkText(item, {
        field: `${part} parameter ${name}`,
        code: 'INVALID_REQUEST',
        maxLength: 8192,
        allowEmpty: true,
        fix: 'ids, slugs and cursors are well-formed Unicode text without control characters; pass them as the API returned them',
      });
    }
  }
}
