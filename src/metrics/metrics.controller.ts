import { Controller, ForbiddenException, Get, Header, Headers, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { Public } from '../auth/auth.decorators';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { MetricsService } from './metrics.service';

/** Prometheus exposition. Open unless KILN_METRICS_TOKEN is set; then a bearer token is needed. */
@ApiExcludeController()
@Public()
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
  ) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Headers('authorization') auth: string | undefined, @Res() res: Response): Promise<void> {
    const token = this.config.metricsToken;
    if (token) {
      const given = Buffer.from(auth?.replace(/^Bearer\s+/i, '') ?? '');
      const want = Buffer.from(token);
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw new ForbiddenException('/metrics needs the token set in KILN_METRICS_TOKEN (Authorization: Bearer <token>)');
    }
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}
