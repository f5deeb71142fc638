import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/** Times every HTTP request for kiln_http_request_duration_seconds. */
@Injectable()
export class MetricsMiddleware implements NestMiddleware {
  private readonly handler: (req: Request, res: Response, next: NextFunction) => void;
  constructor(metrics: MetricsService) {
    this.handler = metrics.middleware();
  }
  use(req: Request, res: Response, next: NextFunction): void {
    this.handler(req, res, next);
  }
}
