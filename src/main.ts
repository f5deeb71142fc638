import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApi } from './bootstrap';
import { ConfigError, loadConfig } from './config/config';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApi(config);
  await app.listen(config.port, config.host);
  Logger.log(`Kiln API listening on http://${config.host}:${config.port} (docs at /docs)`, 'Main');
}

main().catch((e) => {
  if (e instanceof ConfigError) console.error(`kiln: configuration error: ${e.message}`);
  else console.error('kiln: the API failed to start:', e);
  process.exit(1);
});
