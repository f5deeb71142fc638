import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';

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
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const retryAfter = (exception as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retryAfter) res.setHeader('Retry-After', String(retryAfter));
      if (status === 503 && !res.getHeader('Retry-After')) res.setHeader('Retry-After', '5');
      const rewritten = bodyParserMessage(exception.cause);
      if (rewritten) {
        res.status(status).json({ statusCode: status, error: HttpStatus[status] ?? 'Error', message: rewritten });
        return;
      }
      const body = exception.getResponse();
      res.status(status).json(typeof body === 'string' ? { statusCode: status, message: body } : body);
      return;
    }
    const e = exception as { stack?: string; message?: string };
    const requestId = String(res.getHeader('X-Request-Id') ?? '');
    if (isUnavailable(exception)) {
      this.logger.warn(`a service is unavailable (request ${requestId}): ${e?.message ?? String(exception)}`);
      res.setHeader('Retry-After', '5');
      res.status(503).json({ statusCode: 503, error: 'Service Unavailable', message: 'a service Kiln depends on is unavailable; try again shortly' });
      return;
    }
    this.logger.error(`request ${requestId}: ${e?.message ?? String(exception)}`, e?.stack);
    // The request id lets an operator find the logged cause; nothing else is revealed.
    res.status(500).json({ statusCode: 500, error: 'Internal Server Error', message: `internal error (request ${requestId})` });
  }
}
