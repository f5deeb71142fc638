import { ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

/** Servers a test or script starts for itself, so that it can stop and restart them. */

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A Redis of this test's own (with an append-only file, as BullMQ asks of production), so it can be restarted. */
export class PrivateRedis {
  private proc: ChildProcess | null = null;
  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  async start(): Promise<void> {
    this.proc = spawn('/usr/bin/redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await this.answers())) {
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect(this.port, '127.0.0.1');
      s.once('connect', () => {
        s.write('PING\r\n');
        s.once('data', (d: Buffer) => {
          s.destroy();
          resolve(d.toString().startsWith('+PONG'));
        });
      });
      s.once('error', () => resolve(false));
    });
  }
}



/** A PostgreSQL cluster of this test's own (run as the postgres user), so it can be restarted. */
export class PrivatePostgres {
  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async init(): Promise<void> {
    const { execFileSync } = await import('node:child_process');
    const { chownSync } = await import('node:fs');
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(this.dir, uid, gid);
    execFileSync('runuser', ['-u', 'postgres', '--', `${PG_BIN}/initdb`, '-D', join(this.dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'], { stdio: 'ignore' });
  }

  async start(): Promise<void> {
    await this.pgCtl(['start', '-w', '-t', '30', '-l', join(this.dir, 'server.log'), '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`]);
  }

  /** A fast shutdown: open connections are cut, as when the server goes away. */
  async stop(): Promise<void> {
    await this.pgCtl(['stop', '-w', '-m', 'fast']).catch(() => undefined);
  }

  private async pgCtl(args: string[]): Promise<void> {
    const { execFile } = await import('node:child_process');
    await new Promise<void>((resolve, reject) =>
      execFile('runuser', ['-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', join(this.dir, 'data'), ...args], { timeout: 60_000 }, (e) => (e ? reject(e) : resolve())),
    );
  }
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

