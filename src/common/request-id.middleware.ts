import { randomUUID } from 'node:crypto';
import { Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Gives the request its id (the client's X-Request-Id when it sends a sane one) and returns it
 * in the X-Request-Id header. Mounted first, before the body parser, so that every answer has
 * one, a refused body's too.
 */
export function assignRequestId(req: Request & { id?: string }, res: Response, next: NextFunction): void {
  if (!req.id) {
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && ID_RE.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.id);
  }
  next();
}

/**
 * Gives every request an id (the client's X-Request-Id when it sends a sane one), returns it in
 * the X-Request-Id header, and logs one line per request: at debug level normally, as a warning
 * for 4xx and an error for 5xx, with the method, route, status, time and tenant key.
 */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  private readonly logger = new Logger('HTTP');

  use(req: Request & { id?: string; caller?: { tenantName?: string; keyId?: string } }, res: Response, next: NextFunction): void {
    assignRequestId(req, res, () => undefined);
    const id = req.id!;
    const start = performance.now();
    res.on('finish', () => {
      const ms = Math.round((performance.now() - start) * 10) / 10;
      const line = `${req.method} ${req.originalUrl.split('?')[0]} ${res.statusCode} ${ms} ms request=${id}${req.caller ? ` tenant=${req.caller.tenantName} key=${req.caller.keyId}` : ''}`;
      if (res.statusCode >= 500) this.logger.error(line);
      else if (res.statusCode >= 400) this.logger.warn(line);
      else this.logger.debug(line);
    });
    next();
  }
}
