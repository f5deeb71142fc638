import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createLogger } from '../src/common/logger';
import { ConfigError, loadConfig } from '../src/config/config';
import { WorkerModule } from './worker.module';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await NestFactory.createApplicationContext(WorkerModule.register(config), { logger: createLogger(config) });
  app.enableShutdownHooks();
  await app.init();
  Logger.log(`Kiln worker ${config.worker.id} started`, 'Main');
}

main().catch((e) => {
  if (e instanceof ConfigError) console.error(`kiln-worker: configuration error: ${e.message}`);
  else console.error(`kiln-worker: failed to start: ${(e as Error).message}`);
  process.exit(1);
});
