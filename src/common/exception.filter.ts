import { STATUS_CODES } from 'node:http';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';

/** A stable, machine-readable word for each status an error can have; clients branch on it, not on the message. */
export const ERROR_CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  409: 'conflict',
  410: 'gone',
  411: 'length_required',
  413: 'too_large',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  422: 'unprocessable',
  429: 'rate_limited',
  500: 'internal',
  501: 'not_implemented',
  503: 'unavailable',
};

/** The one shape of every error the API answers with, 4xx and 5xx alike (ErrorDto in the spec). */
export interface ErrorBody {
  statusCode: number;
  code: string;
  /** The status's reason phrase: "Bad Request", "Not Found", ... */
  error: string;
  /** What went wrong and what to do, as one line. */
  message: string;
  /** When several things are wrong (a request that fails validation in several fields), each one. */
  details?: string[];
  /** The request's X-Request-Id, to quote to an operator. */
  requestId?: string;
}

export function errorBody(status: number, message: unknown, requestId?: string, code?: string): ErrorBody {
  const items = Array.isArray(message) ? message.map(String) : null;
  const text = items ? items.join('; ') : typeof message === 'string' && message ? message : (STATUS_CODES[status] ?? 'Error');
  return {
    statusCode: status,
    code: code ?? ERROR_CODES[status] ?? (status >= 500 ? 'internal' : 'invalid_request'),
    error: STATUS_CODES[status] ?? 'Error',
    message: text,
    ...(items && items.length > 1 ? { details: items } : {}),
    ...(requestId ? { requestId } : {}),
  };
}

interface BodyParserError {
  type?: string;
  message?: string;
}

/** Body-parser's messages, said in words that tell the client what to do. */
function bodyParserMessage(cause: unknown): string | null {
  const e = cause as BodyParserError | undefined;
  if (!e || typeof e !== 'object') return null;
  if (e.type === 'entity.parse.failed' || cause instanceof SyntaxError) return `the request body is not valid JSON: ${e.message}`;
  // A body refused by a check of the body parser's (json-body-limits.ts): its message says why.
  if (e.type === 'entity.verify.failed' && e.message) return e.message;
  if (e.type === 'entity.too.large') return 'the request body is larger than the limit (KILN_MAX_REQUEST_BYTES); send large files as uploads';
  return null;
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/**
 * Whether an error means a service Kiln depends on (PostgreSQL, Redis, storage) is away: the
 * request may succeed later, so it is a 503 with Retry-After, not a 500.
 */
export function isUnavailable(exception: unknown): boolean {
  for (let e = exception as { code?: string; message?: string; cause?: unknown; driverError?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    const code = String(e.code ?? '');
    // PostgreSQL: 08xxx connection exceptions, 57P01-57P03 shutdown and start-up.
    if (UNAVAILABLE_CODES.has(code) || /^08/.test(code) || /^57P0[123]$/.test(code)) return true;
    if (/Connection terminated|connection.*(closed|ended)|Client has encountered a connection error|the database system is (starting up|shutting down)|Stream isn't writeable|Connection is closed/i.test(e.message ?? '')) return true;
    e = (e.driverError ?? e.cause) as typeof e;
  }
  return false;
}

/**
 * Client mistakes keep their status and message. Anything else is logged with its stack and
 * answered with a plain 500 that leaks nothing.
 */
@Catch()
export class KilnExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    const requestId = String(res.getHeader('X-Request-Id') ?? '') || undefined;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const retryAfter = (exception as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retryAfter) res.setHeader('Retry-After', String(retryAfter));
      if (status === 503 && !res.getHeader('Retry-After')) res.setHeader('Retry-After', '5');
      const rewritten = bodyParserMessage(exception.cause);
      if (rewritten) {
        res.status(status).json(errorBody(status, rewritten, requestId));
        return;
      }
      const body = exception.getResponse();
      const given = typeof body === 'object' && body !== null ? (body as { message?: unknown; code?: unknown }) : { message: body };
      // A message that is the status's own name (a bare `new NotFoundException()`) says nothing more.
      res.status(status).json(errorBody(status, given.message ?? exception.message, requestId, typeof given.code === 'string' ? given.code : undefined));
      return;
    }
    const e = exception as { stack?: string; message?: string };
    if (isUnavailable(exception)) {
      this.logger.warn(`a service is unavailable (request ${requestId}): ${e?.message ?? String(exception)}`);
      res.setHeader('Retry-After', '5');
      res.status(503).json(errorBody(503, 'a service Kiln depends on is unavailable; try again shortly', requestId));
      return;
    }
    this.logger.error(`request ${requestId}: ${e?.message ?? String(exception)}`, e?.stack);
    // The request id lets an operator find the logged cause; nothing else is revealed.
    res.status(500).json(errorBody(500, `internal error (request ${requestId})`, requestId));
  }
}
