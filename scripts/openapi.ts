import 'reflect-metadata';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from '../src/app.module';
import { buildOpenApiDocument } from '../src/bootstrap';
import { loadConfig } from '../src/config/config';

export const SPEC_PATH = resolve(__dirname, '../../openapi/openapi.json');
export const SDK_SCHEMA_PATH = resolve(__dirname, '../../clients/sdk/schema.ts');

/** The SDK's types, generated from the spec by openapi-typescript: no hand-written request shapes. */
export async function generateSdkSchema(spec: string): Promise<string> {
  const { default: openapiTS, astToString } = await import('openapi-typescript');
  const ast = await openapiTS(JSON.parse(spec), { alphabetize: true });
  return `/* Generated from openapi/openapi.json by \`npm run openapi\`; do not edit. */\n${astToString(ast)}`;
}

/** Sorts object keys recursively so the committed spec is stable across runs. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * The API's OpenAPI document, from the controllers and DTOs alone: the app is built in
 * preview mode, so no database, Redis or storage is touched.
 */
export async function generateSpec(): Promise<string> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(loadConfig({})), { preview: true, logger: false });
  try {
    return JSON.stringify(sortKeys(buildOpenApiDocument(app)), null, 2) + '\n';
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const spec = await generateSpec();
  const schema = await generateSdkSchema(spec);
  const check = process.argv.includes('--check');
  if (check) {
    const committed = await readFile(SPEC_PATH, 'utf8').catch(() => '');
    const committedSchema = await readFile(SDK_SCHEMA_PATH, 'utf8').catch(() => '');
    if (committed !== spec || committedSchema !== schema) {
      console.error('openapi/openapi.json or clients/sdk/schema.ts is stale: run `npm run openapi` and commit them');
      process.exit(1);
    }
    console.log('openapi/openapi.json and clients/sdk/schema.ts are current');
    return;
  }
  await mkdir(dirname(SPEC_PATH), { recursive: true });
  await writeFile(SPEC_PATH, spec);
  await writeFile(SDK_SCHEMA_PATH, schema);
  console.log(`wrote ${SPEC_PATH} and ${SDK_SCHEMA_PATH}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
