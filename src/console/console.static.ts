import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

/** Where `vite build` puts the console: console/dist at the repository root (this file runs from dist/src/console). */
export const CONSOLE_DIR = resolve(__dirname, '..', '..', '..', 'console', 'dist');

/** Paths that belong to the API, never to the console's client-side routes. */
const API_PREFIXES = ['/v1', '/docs', '/openapi.json', '/healthz', '/readyz', '/metrics', '/admin'];

export function isApiPath(path: string): boolean {
  return API_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`) || (p === '/openapi.json' && path.startsWith(p)));
}

/**
 * Serves the web console's static files at `/`, and its index.html for any other GET that is
 * not an API path, so client-side routes such as /jobs/<id> survive a reload. Hashed assets are
 * cached for a year; index.html is never cached, so a new build shows at once. Without a built
 * console the API runs as before and says so.
 */
export function serveConsole(app: NestExpressApplication, dir = CONSOLE_DIR): boolean {
  const logger = new Logger('Console');
  const index = join(dir, 'index.html');
  if (!existsSync(index)) {
    logger.warn(`the web console is not built (no ${index}); run "npm run build" to serve it at /`);
    return false;
  }
  // Each folder of the build is served under its own prefix, and its files at the top by the
  // fallback below, so that requests to the API never look for a file on disk (a static
  // handler at / would stat one for every API call).
  const files = new Set<string>();
  const folders: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) folders.push(e.name);
    else if (e.isFile() && e.name !== 'index.html') files.add(`/${e.name}`);
  }
  for (const folder of folders) {
    app.useStaticAssets(join(dir, folder), {
      prefix: `/${folder}`,
      index: false,
      redirect: false,
      setHeaders: (res) => {
        res.setHeader('Cache-Control', folder === 'assets' ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  }
  app.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || isApiPath(req.path) || folders.some((f) => req.path.startsWith(`/${f}/`))) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(files.has(req.path) ? join(dir, req.path) : index);
  });
  return true;
}
