import { BadRequestException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { isJsonMediaType } from './json-body.guard';

/**
 * Limits on what a JSON body may hold, for every route that takes one. Deeply nested JSON
 * parses, but validation and transformation (class-transformer) recurse through it and run
 * out of stack; text with a NUL character or a lone surrogate is valid JSON that PostgreSQL
 * refuses to store (jsonb and text alike). Either was a 500; both are 400s that say where.
 */

/** Objects and arrays within each other: far more than any request of the API needs. */
export const MAX_JSON_DEPTH = 64;

/** A body-parser `verify` error: body-parser answers it with its status, the exception filter with its message. */
class JsonBodyError extends Error {
  readonly status = 400;
  readonly statusCode = 400;
  readonly expose = true;
  readonly type = 'entity.verify.failed';
}

/**
 * How deeply a JSON text nests objects and arrays, counted on its bytes before it is parsed
 * (parsing a 4 MB body of brackets alone takes most of a second). Stops counting past `max`.
 */
export function jsonDepth(bytes: Uint8Array, max = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next byte is escaped (a quote or a backslash among them)
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** body-parser's `verify`: refuses a body nested deeper than MAX_JSON_DEPTH before it is parsed. */
export function verifyJsonDepth(_req: unknown, _res: unknown, buf: Buffer): void {
  if (jsonDepth(buf, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new JsonBodyError(`the request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep, which no request of this API needs`);
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function why(text: string): string | null {
  if (text.includes('\0')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (LONE_SURROGATE.test(text)) return 'is not valid Unicode (a lone surrogate), which cannot be stored';
  return null;
}

/**
 * The first string (value or key) in a parsed JSON value that PostgreSQL cannot store, as a
 * message that names where it is (verify.program.stdin, source.files[0].content); null if none.
 * Walks without recursion.
 */
export function unstorableText(value: unknown): string | null {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      const problem = why(v);
      if (problem) return `${path || 'the request body'} ${problem}`;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i];
        const keyProblem = why(k);
        if (keyProblem) return `a key in ${path || 'the request body'} ${keyProblem}`;
        stack.push([(v as Record<string, unknown>)[k], IDENTIFIER.test(k) ? (path ? `${path}.${k}` : k) : `${path}[${JSON.stringify(k)}]`]);
      }
    }
  }
  return null;
}

/** Express middleware, after the JSON body parser: a body with text that cannot be stored is a 400. */
export function refuseUnstorableText(req: Request, _res: Response, next: NextFunction): void {
  if (req.body && typeof req.body === 'object' && isJsonMediaType(req.headers['content-type'])) {
    const problem = unstorableText(req.body);
    if (problem) return next(new BadRequestException(problem));
  }
  next();
}
