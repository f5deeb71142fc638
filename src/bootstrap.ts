import { INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication, NestExpressBodyParserOptionsFor } from '@nestjs/platform-express';
import { DocumentBuilder, getSchemaPath, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';
import type { KilnConfig } from './config/config';
import { createLogger } from './common/logger';
import { assignRequestId } from './common/request-id.middleware';
import { ErrorDto } from './common/error.dto';
import { validationException } from './common/validation';
import helmet from 'helmet';
import type { NextFunction, Request, Response } from 'express';
import { serveConsole } from './console/console.static';
import { refuseUnstorableText, verifyJsonDepth } from './common/json-body-limits';
import { DASHBOARD_PATH, mountQueueDashboard } from './admin/queue-dashboard';

export const API_TITLE = 'Kiln';
export const API_VERSION = '1';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle(API_TITLE)
    .setDescription(
      'Compilation as a service: send source plus target descriptors, get one build per target, download the artifacts.',
    )
    .setVersion(API_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key' })
    .addServer('/', 'The Kiln that serves this document')
    .build();
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ErrorDto], operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}` });
  const error = { 'application/json': { schema: { $ref: getSchemaPath(ErrorDto) } } };
  for (const item of Object.values(document.paths)) {
    for (const op of [item.get, item.post, item.put, item.patch, item.delete]) {
      if (!op) continue;
      // Every operation that takes a JSON body answers 415 to a body of another type (JsonBodyGuard).
      const body = op.requestBody;
      if (body && 'content' in body && body.content['application/json']) op.responses['415'] ??= { description: 'The body was not sent with Content-Type: application/json' };
      // What any operation can answer: every one needs a key with a scope, and the tenant's rate limit applies.
      op.responses['401'] ??= { description: 'No API key, or one that is not valid (unknown or revoked)' };
      op.responses['403'] ??= { description: 'The API key lacks the scope this operation needs (read, build or admin; the message names it)' };
      op.responses['429'] ??= { description: 'Too many requests for the tenant (KILN_RATE_LIMIT_PER_MINUTE), or too many failed keys from this address; Retry-After says when to try again' };
      op.responses['500'] ??= { description: 'An internal error; the message gives the request id to quote' };
      op.responses['503'] ??= { description: 'A service Kiln depends on (PostgreSQL, Redis, storage) is away; Retry-After says when to try again' };
      // One error body for every 4xx and 5xx.
      for (const [status, r] of Object.entries(op.responses)) {
        if (r && Number(status) >= 400 && !('$ref' in r)) r.content = error;
      }
    }
  }
  return document;
}

/** Everything that makes an app the Kiln API, shared by main.ts, the tests and the spec script. */
export function configureApp(app: NestExpressApplication, config: KilnConfig): OpenAPIObject {
  app.use(assignRequestId);
  // A body nested deeper than any request needs is refused before it is parsed, and one with
  // text PostgreSQL cannot store right after: both 400s that say why (json-body-limits.ts).
  // (Nest reserves `verify` for rawBody: true, which this app does not use, and passes it on.)
  app.useBodyParser('json', { limit: config.maxRequestBytes, verify: verifyJsonDepth } as NestExpressBodyParserOptionsFor<'json'>);
  app.use(refuseUnstorableText);
  // Security headers. Scripts come only from this origin (the console's bundle has no inline
  // script); Swagger UI at /docs alone needs inline scripts.
  const headers = (scriptSrc: string[]) =>
    helmet({
      contentSecurityPolicy: { directives: { 'script-src': scriptSrc, 'img-src': ["'self'", 'data:', 'blob:'] } },
      crossOriginResourcePolicy: { policy: 'same-site' },
    });
  const strict = headers(["'self'"]);
  const docs = headers(["'self'", "'unsafe-inline'"]);
  // The queue dashboard (bull-board) also uses inline scripts.
  const inline = (path: string) => path === '/docs' || path.startsWith('/docs/') || path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`);
  app.use((req: Request, res: Response, next: NextFunction) => (inline(req.path) ? docs : strict)(req, res, next));
  if (config.corsOrigins.length) {
    app.enableCors({
      origin: config.corsOrigins.includes('*') ? true : config.corsOrigins,
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID', 'X-Request-Id'],
      exposedHeaders: ['Location', 'Retry-After', 'X-Content-SHA256', 'X-Request-Id'],
      maxAge: 600,
    });
  }
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, exceptionFactory: validationException }));
  app.enableShutdownHooks();
  app.set('trust proxy', 'loopback');
  app.disable('x-powered-by');
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', raw: ['json'] });
  mountQueueDashboard(app);
  serveConsole(app);
  return document;
}

export async function createApi(config: KilnConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), {
    bodyParser: false,
    logger: createLogger(config),
  });
  configureApp(app, config);
  return app;
}
