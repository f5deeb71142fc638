import { Controller, ForbiddenException, Get, Header, Headers, Inject, Logger, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { Public } from '../auth/auth.decorators';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { TooManyRequestsException } from '../quotas/quotas.service';
import { AuthFailureLimiter } from '../throttle/auth-failures';
import { MetricsService } from './metrics.service';

/**
 * Prometheus exposition. Open unless KILN_METRICS_TOKEN is set; then a bearer token is needed,
 * and wrong tokens count against the address like requests without a valid API key
 * (KILN_AUTH_FAILURES_PER_MINUTE). With Redis unreachable the count cannot be kept: scrapes with
 * the right token still answer (an operator needs metrics most then), wrong ones get a 403.
 */
@ApiExcludeController()
@Public()
@Controller()
export class MetricsController {
  private readonly logger = new Logger(MetricsController.name);

  constructor(
    private readonly metrics: MetricsService,
    private readonly failures: AuthFailureLimiter,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
  ) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Headers('authorization') auth: string | undefined, @Req() req: Request, @Res() res: Response): Promise<void> {
    const token = this.config.metricsToken;
    if (token) {
      // A blocked address is refused before its token is compared, so a right guess is not told apart.
      await this.limiter(() => this.failures.check(req.ip));
      const given = Buffer.from(auth?.replace(/^Bearer\s+/i, '') ?? '');
      const want = Buffer.from(token);
      if (given.length !== want.length || !timingSafeEqual(given, want)) {
        await this.limiter(() => this.failures.failed(req.ip));
        throw new ForbiddenException('/metrics needs the token set in KILN_METRICS_TOKEN (Authorization: Bearer <token>)');
      }
    }
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }

  /** Runs a failed-token limiter step; a 429 passes through, an unreachable Redis does not stop the scrape. */
  private async limiter(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (e) {
      if (e instanceof TooManyRequestsException) throw e;
      this.logger.warn(`cannot count failed /metrics tokens: ${(e as Error).message}`);
    }
  }
}
