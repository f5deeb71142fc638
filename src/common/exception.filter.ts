import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';

/**
 * Client mistakes keep their status and message. Anything else is logged with its stack and
 * answered with a plain 500 that leaks nothing. Body-parser errors (malformed JSON, a body over
 * the limit) carry a status of their own and are turned into the same shape.
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
      const body = exception.getResponse();
      if (status === 503 && !res.getHeader('Retry-After')) res.setHeader('Retry-After', '5');
      res.status(status).json(typeof body === 'string' ? { statusCode: status, message: body } : body);
      return;
    }
    const e = exception as { status?: number; statusCode?: number; type?: string; message?: string; stack?: string };
    const status = e.status ?? e.statusCode;
    if (status && status >= 400 && status < 500) {
      const message =
        e.type === 'entity.parse.failed'
          ? `the request body is not valid JSON: ${e.message}`
          : e.type === 'entity.too.large'
            ? 'the request body is larger than the limit (KILN_MAX_REQUEST_BYTES); send large files as uploads'
            : (e.message ?? 'bad request');
      res.status(status).json({ statusCode: status, error: HttpStatus[status] ?? 'Error', message });
      return;
    }
    this.logger.error(e?.message ?? String(exception), e?.stack);
    res.status(500).json({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  }
}
