import { DynamicModule, Global, Module } from '@nestjs/common';
import { KILN_CONFIG, KilnConfig } from './config';

@Global()
@Module({})
export class ConfigModule {
  static register(config: KilnConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: KILN_CONFIG, useValue: config }],
      exports: [KILN_CONFIG],
    };
  }
}
