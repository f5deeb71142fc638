import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createLogger } from '../src/common/logger';
import { ConfigError, loadConfig } from '../src/config/config';
import { useHelper } from './sandbox/host';
import { PrivilegedHelper } from './sandbox/privileged';
import { WorkerModule } from './worker.module';

/** A user's ids, from the system's user database. */
function userIds(name: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('/usr/bin/id', [flag, '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new ConfigError('KILN_WORKER_USER', `there is no user "${name}" on this machine (scripts/start.sh makes the user kiln)`);
  }
}

/**
 * With KILN_WORKER_USER, a worker started as root keeps root only in a small helper process
 * (build folders' mounts and cgroup folders) and runs as that user from here on: everything that
 * touches a tenant's files, the sandbox launcher included, never runs as root.
 */
function dropRoot(user: string): void {
  const ids = userIds(user);
  if (ids.uid === 0) throw new ConfigError('KILN_WORKER_USER', `"${user}" is root; name an unprivileged user`);
  if (process.getuid!() !== 0) {
    if (process.getuid!() === ids.uid) return; // started as that user already
    throw new ConfigError('KILN_WORKER_USER', `the worker runs as uid ${process.getuid!()}; start it as root (to keep its helper) or as "${user}"`);
  }
  useHelper(PrivilegedHelper.start(), ids);
  process.setgroups!([]);
  process.setgid!(ids.gid);
  process.setuid!(ids.uid);
  process.env.HOME = '/nonexistent';
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.worker.user) dropRoot(config.worker.user);
  else if (process.getuid?.() === 0) Logger.warn('the worker runs as root: set KILN_WORKER_USER (scripts/start.sh and the Dockerfile set kiln)', 'Main');
  const app = await NestFactory.createApplicationContext(WorkerModule.register(config), { logger: createLogger(config) });
  app.enableShutdownHooks();
  await app.init();
  Logger.log(`Kiln worker ${config.worker.id} started as uid ${process.getuid?.()}`, 'Main');
}

main().catch((e) => {
  if (e instanceof ConfigError) console.error(`kiln-worker: configuration error: ${e.message}`);
  else console.error(`kiln-worker: failed to start: ${(e as Error).message}`);
  process.exit(1);
});
