import { ConsoleLogger, LoggerService, LogLevel } from '@nestjs/common';
import type { KilnConfig } from '../config/config';

const ORDER: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];

export function createLogger(config: Pick<KilnConfig, 'logLevel' | 'logFormat'>): LoggerService {
  const levels = ORDER.slice(0, ORDER.indexOf(config.logLevel) + 1);
  return new ConsoleLogger({ logLevels: levels, json: config.logFormat === 'json', colors: false, prefix: 'kiln' });
}
