import { createHash } from 'node:crypto';
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { bundleAction, ACTION_BUNDLE } from '../scripts/build-action';
import { buildCli, CLI_PACKAGE } from '../scripts/build-cli';
import { mlp } from '../compiler/test/models';
import { ELF_MACHINE, elfMachine, Kiln, startKiln } from './support/harness';

const CLI = resolve(__dirname, '../clients/cli/main.js');

function run(file: string, args: string[], env: Record<string, string>, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [file, ...args], { env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...env }, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

describe('the kiln CLI and the GitHub Action against a running Kiln', () => {
  let kiln: Kiln;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
    dir = await mkdtemp(join(tmpdir(), 'kiln-clients-'));
    env = { KILN_URL: kiln.baseUrl, KILN_API_KEY: kiln.apiKey };
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'src/hello.c'), '#include <stdio.h>\nint main(void) { printf("hello %d\\n", 6 * 7); return 0; }\n');
    await writeFile(join(dir, 'src/broken.c'), 'int f(void) {\n  int unused;\n  return missing;\n}\n');
    await writeFile(
      join(dir, 'saxpy.c'),
      'void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];\n#ifdef __aarch64__\n y[0] = 0;\n#endif\n}\n',
    );
    await writeFile(
      join(dir, 'verify.json'),
      JSON.stringify({ entry: 'saxpy', args: [{ name: 'n', type: 'int32', value: 64 }, { name: 'a', type: 'float32', value: 2 }, { name: 'x', type: 'float32*', shape: [64] }, { name: 'y', type: 'float32*', shape: [64], dir: 'inout' }] }),
    );
  });
  after(async () => {
    await kiln?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('compiles for two targets with --wait --verify --out and downloads the files', async () => {
    const out = join(dir, 'out');
    const r = await run(CLI, ['compile', join(dir, 'src/hello.c'), '-t', 'x86_64-linux-gnu', '-t', 'aarch64-linux-gnu', '-o', 'object,executable', '--verify', '--wait', '--out', out], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /job [0-9a-f-]{36}: succeeded/);
    assert.match(r.stdout, /verification passed on qemu-aarch64/);
    assert.equal(elfMachine(await readFile(join(out, 'x86_64-linux-gnu/hello.o'))), ELF_MACHINE.x86_64);
    assert.equal(elfMachine(await readFile(join(out, 'aarch64-linux-gnu/hello'))), ELF_MACHINE.aarch64);
    assert.equal(JSON.parse(await readFile(join(out, 'aarch64-linux-gnu/verify/report.json'), 'utf8')).status, 'passed');
    // The program verified is the executable delivered: the CLI names it, with the sha256 of what ran.
    const ran = [...r.stdout.matchAll(/it ran hello, sha256 ([0-9a-f]{64})/g)].map((m) => m[1]);
    assert.equal(ran.length, 2, r.stdout);
    assert.ok(ran.includes(createHash('sha256').update(await readFile(join(out, 'aarch64-linux-gnu/hello'))).digest('hex')), r.stdout);
  });

  it('prints JSON for scripts', async () => {
    const r = await run(CLI, ['--json', 'compile', join(dir, 'src/hello.c'), '-t', 'riscv64-linux-gnu', '--wait'], env);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout);
    assert.equal(job.status, 'succeeded');
    assert.equal(job.builds[0].target.triple, 'riscv64-unknown-linux-gnu');
    const list = await run(CLI, ['--json', 'jobs', '--limit', '1'], env);
    assert.equal(JSON.parse(list.stdout).items[0].id, job.id);
    // A newer job, then the page after it, with the cursor the first page printed: the older one.
    const newer = JSON.parse((await run(CLI, ['--json', 'compile', join(dir, 'src/hello.c'), '-t', 'riscv64-linux-gnu'], env)).stdout);
    const page = await run(CLI, ['jobs', '--limit', '1'], env);
    assert.match(page.stdout, new RegExp(`^${newer.id} `));
    const next = /\(more: kiln jobs --cursor (\S+) --limit 1\)/.exec(page.stdout);
    assert.ok(next, page.stdout);
    const second = await run(CLI, ['--json', 'jobs', '--limit', '1', '--cursor', next[1]], env);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(JSON.parse(second.stdout).items[0].id, job.id);
    const targets = await run(CLI, ['--json', 'targets'], env);
    assert.ok(JSON.parse(targets.stdout).targets.some((t: { name: string; available: boolean }) => t.name === 'wasm32-wasi' && t.available));
  });

  it('exits 1 on a compile error and shows the diagnostics', async () => {
    const r = await run(CLI, ['compile', join(dir, 'src/broken.c'), '-t', 'x86_64-linux-gnu', '--wait'], env);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /broken\.c:3:10: error: use of undeclared identifier 'missing'/);
  });

  it('exits 3 when verification fails', async () => {
    const r = await run(CLI, ['compile', join(dir, 'saxpy.c'), '-t', 'x86_64-linux-gnu,aarch64-linux-gnu', '--verify-spec', join(dir, 'verify.json'), '--wait'], env);
    assert.equal(r.code, 3, r.stderr + r.stdout);
    assert.match(r.stdout, /verification failed on qemu-aarch64: output y: 1 of 64 elements differ .*worst y\[0\]/);
  });

  it('exits 4 on a bad API key, 2 on a usage error, 5 when Kiln cannot be reached', async () => {
    const bad = await run(CLI, ['jobs'], { ...env, KILN_API_KEY: 'not-a-key' });
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /the API key is not valid/);
    const usage = await run(CLI, ['compile', join(dir, 'src/hello.c')], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /required option '-t, --target <target>'/);
    const missing = await run(CLI, ['compile', join(dir, 'nope.c'), '-t', 'x86_64-linux-gnu'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.c: no such file or folder/);
    const noKey = await run(CLI, ['jobs'], { KILN_URL: kiln.baseUrl });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /no API key/);
    const down = await run(CLI, ['jobs'], { ...env, KILN_URL: `http://127.0.0.1:${await freePort()}` });
    assert.equal(down.code, 5);
    assert.match(down.stderr, /retrying/);
    assert.match(down.stderr, /cannot reach Kiln at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it('compiles every language from its files and folders: Rust and a Go module guessed, a mixed folder named with --language', async () => {
    await mkdir(join(dir, 'rs'));
    await writeFile(join(dir, 'rs/main.rs'), 'fn main() {\n    println!("{}", 6 * 7);\n}\n');
    let r = await run(CLI, ['--json', 'compile', join(dir, 'rs'), '-t', 'x86_64-linux-gnu', '-o', 'executable', '--wait'], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    let job = JSON.parse(r.stdout);
    assert.equal(job.status, 'succeeded');
    assert.equal(job.source.language, 'rust');
    await mkdir(join(dir, 'gomod'));
    await writeFile(join(dir, 'gomod/go.mod'), 'module example.com/hello\n\ngo 1.19\n');
    await writeFile(join(dir, 'gomod/main.go'), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(42) }\n');
    r = await run(CLI, ['--json', 'compile', join(dir, 'gomod'), '-t', 'x86_64-linux-gnu', '-o', 'executable', '--wait'], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    job = JSON.parse(r.stdout);
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.source.files.map((f: { path: string }) => f.path), ['go.mod', 'main.go']);
    // A folder with C and Rust in it: the language must be named, and only its files go.
    await writeFile(join(dir, 'rs/helper.c'), 'int helper(void) { return 1; }\n');
    r = await run(CLI, ['compile', join(dir, 'rs'), '-t', 'x86_64-linux-gnu'], env);
    assert.equal(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /files of several languages \(c, rust\): name one with --language/);
    r = await run(CLI, ['--json', 'compile', join(dir, 'rs'), '-l', 'rs', '-t', 'x86_64-linux-gnu', '-o', 'executable', '--wait'], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(JSON.parse(r.stdout).source.files.map((f: { path: string }) => f.path), ['main.rs']);
    r = await run(CLI, ['compile', join(dir, 'rs/helper.c'), '-l', 'rust', '-t', 'x86_64-linux-gnu'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /helper\.c is not a rust source or header file/);
  });

  it('compiles an ONNX model with --shape and --verify', async () => {
    const modelPath = join(dir, 'cli-mlp.onnx');
    await writeFile(modelPath, mlp());
    const r = await run(CLI, ['compile', modelPath, '-t', 'aarch64-linux-gnu', '--shape', 'x=3,16', '--verify', '--wait', '--out', join(dir, 'model-out')], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /verification passed on qemu-aarch64: 1 output matches the reference/);
    assert.match(await readFile(join(dir, 'model-out/aarch64-linux-gnu/model.h'), 'utf8'), /model_run/);
    // --profile verifies, waits, and prints the slowest kernels.
    const prof = await run(CLI, ['compile', modelPath, '-t', 'x86_64-linux-gnu', '--shape', 'x=3,16', '--profile', '3'], env);
    assert.equal(prof.code, 0, prof.stderr + prof.stdout);
    assert.match(prof.stdout, /verification passed on native/);
    assert.match(prof.stdout, /profile: latency [\d.]+ ms, median of 3 runs; [\d.]+ GFLOP at [\d.]+ GFLOP\/s/);
    assert.match(prof.stdout, /^ +[\d.]+% +[\d.]+ +[\d.]+ +Gemm/m);
    assert.equal((await run(CLI, ['compile', modelPath, '-t', 'x86_64-linux-gnu', '--shape', 'x=3,16', '--profile', '0'], env)).code, 2);
    const unbound = await run(CLI, ['compile', modelPath, '-t', 'aarch64-linux-gnu'], env);
    assert.equal(unbound.code, 4);
    assert.match(unbound.stderr, /symbolic input dimensions: x\[batch\]/);
    // On the command line the way to bind them is a flag, not a field of the request.
    assert.match(unbound.stderr, /bind them with --shape \(for example --shape x=1,\.\.\.\)/);
    assert.doesNotMatch(unbound.stderr, /inputShapes/);

    // Deleting what the CLI made: the job, then the model upload it no longer needs.
    const json = await run(CLI, ['--json', 'compile', modelPath, '-t', 'x86_64-linux-gnu', '--shape', 'x=1,16', '--wait'], env);
    const job = JSON.parse(json.stdout);
    const del = await run(CLI, ['delete', job.id], env);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, new RegExp(`deleted job ${job.id}`));
    assert.equal((await run(CLI, ['job', job.id], env)).code, 4, 'the job is gone');
    const uploads = await run(CLI, ['uploads', '--limit', '100'], env);
    assert.equal(uploads.code, 0, uploads.stderr);
    assert.match(uploads.stdout, new RegExp(`^${job.model.uploadId}  \\S+ +\\d+  cli-mlp\\.onnx$`, 'm'));
    const upload = await run(CLI, ['delete-upload', job.model.uploadId], env);
    assert.equal(upload.code, 0, upload.stderr);
    const again = await run(CLI, ['delete-upload', job.model.uploadId], env);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /not found|no upload/i);
  });

  it('says to run kiln cancel first when a job to delete has not finished', async () => {
    // A CUDA kernel with verification waits for a GPU runner, which this machine lacks: its build does not finish.
    const cu = '__global__ void twice(int n, float *y) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] *= 2.0f; }\n';
    const created = await kiln.http().post('/v1/jobs').set(kiln.auth).send({
      source: { language: 'cuda', files: [{ path: 'twice.cu', content: cu }] },
      targets: ['h100'],
      verify: {
        entry: 'twice',
        args: [{ name: 'n', type: 'int32', value: 64 }, { name: 'y', type: 'float32*', shape: [64], dir: 'inout' }],
        launch: { grid: [1], block: [64] },
        reference: { language: 'c', files: [{ path: 'ref.c', content: 'void twice(int n, float *y) { for (int i = 0; i < n; i++) y[i] *= 2.0f; }\n' }] },
      },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;
    const del = await run(CLI, ['delete', id], env);
    assert.equal(del.code, 4, del.stderr + del.stdout);
    assert.match(del.stderr, new RegExp(`has not finished .*; run \`kiln cancel ${id}\` first, then delete it`));
    assert.doesNotMatch(del.stderr, /DELETE \/v1\/jobs/);
    // Watching it ends at --timeout, with exit 7 and how to follow it again; the job goes on.
    const watch = await run(CLI, ['watch', id, '--timeout', '1'], env);
    assert.equal(watch.code, 7, watch.stderr + watch.stdout);
    assert.match(watch.stderr, new RegExp(`job ${id} is still running after 1 s; it goes on: \`kiln watch ${id}\` follows it, ${kiln.baseUrl}/jobs/${id} shows it`));
    // The short id the console shows is enough, and the job's console page is named.
    const shown = await run(CLI, ['job', id.slice(0, 8)], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^job ${id}: running  ${kiln.baseUrl}/jobs/${id}$`, 'm'));
    // Canceling says what it canceled, in a line, not the whole job.
    const cancel = await run(CLI, ['cancel', id.slice(0, 8)], env);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, `job ${id}: canceled; canceled h100\n`);
    const after = await run(CLI, ['delete', id], env);
    assert.equal(after.code, 0, after.stderr);
  });

  it('fits daily use: --version, login to a 0600 config, whoami, short ids, and a failed job viewed exits 1', async () => {
    const version = await run(CLI, ['--version'], {});
    assert.equal(version.code, 0);
    assert.equal(version.stdout, `${JSON.parse(await readFile(join(CLI_PACKAGE, 'package.json'), 'utf8')).version}\n`);
    const config = join(dir, 'home/kiln/config.json');
    const refused = await run(CLI, ['login', '--url', kiln.baseUrl, '--api-key', 'not-a-key'], { KILN_CONFIG: config });
    assert.equal(refused.code, 4, refused.stderr);
    await assert.rejects(stat(config), 'a key that does not work is not kept');
    const login = await run(CLI, ['login', '--url', kiln.baseUrl, '--api-key', kiln.apiKey], { KILN_CONFIG: config });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, new RegExp(`logged in to ${kiln.baseUrl} as key \\S+ of tenant \\S+; saved in ${config} \\(mode 600\\)`));
    assert.equal((await stat(config)).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await readFile(config, 'utf8')), { url: kiln.baseUrl, apiKey: kiln.apiKey });
    // Later commands need nothing else.
    const me = await run(CLI, ['whoami'], { KILN_CONFIG: config });
    assert.equal(me.code, 0, me.stderr);
    assert.match(me.stdout, new RegExp(`^${kiln.baseUrl}\ntenant \\S+ \\([0-9a-f-]{36}\\)\nkey \\S+ \\(\\S+…, [a-z, ]+\\)\n$`));
    // A failed job, viewed later by its short id, exits as compile --wait did.
    const failed = JSON.parse((await run(CLI, ['--json', 'compile', join(dir, 'src/broken.c'), '-t', 'x86_64-linux-gnu', '--wait'], env)).stdout);
    assert.equal(failed.status, 'failed');
    const view = await run(CLI, ['job', failed.id.slice(0, 6)], { KILN_CONFIG: config });
    assert.equal(view.code, 1, view.stderr + view.stdout);
    assert.match(view.stdout, /use of undeclared identifier 'missing'/);
    const none = await run(CLI, ['job', 'ffff0000'], env);
    assert.equal(none.code, 4);
    assert.match(none.stderr, /no job has an id starting with ffff0000/);
    const short = await run(CLI, ['job', 'abc'], env);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /"abc" is not a job id: give the id, or its first 4 or more characters/);
  });

  it('installs as a package of its own: npm pack, npm install from the file, and kiln runs from node_modules/.bin', async () => {
    const work = await mkdtemp(join(tmpdir(), 'kiln-cli-pkg-'));
    try {
      const pkg = join(work, 'kiln-cli');
      await mkdir(pkg);
      await cp(join(CLI_PACKAGE, 'package.json'), join(pkg, 'package.json'));
      await buildCli(join(pkg, 'dist/kiln.js'));
      const exec = promisify(execFile);
      const npmEnv = { ...process.env, npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false' };
      const packed = (await exec('npm', ['pack', pkg, '--pack-destination', work, '--silent'], { cwd: work, env: npmEnv })).stdout.trim().split('\n').pop()!;
      const project = join(work, 'project');
      await mkdir(project);
      await exec('npm', ['install', '--offline', '--no-audit', '--no-fund', '--prefix', project, join(work, packed)], { cwd: work, env: npmEnv });
      const bin = join(project, 'node_modules/.bin/kiln');
      const r = await exec(bin, ['whoami'], { env: { PATH: process.env.PATH ?? '', HOME: work, ...env } });
      assert.match(r.stdout, /^tenant \S+ /m);
      // Nothing from this checkout is needed: the package is one file.
      assert.deepEqual((await exec('tar', ['-tzf', join(work, packed)])).stdout.trim().split('\n').sort(), ['package/dist/kiln.js', 'package/package.json']);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('returns the same job for a repeated idempotency key', async () => {
    const args = ['--json', 'compile', join(dir, 'src/hello.c'), '-t', 'x86_64-linux-gnu', '--idempotency-key', 'ci-run-42'];
    const a = await run(CLI, args, env);
    const b = await run(CLI, args, env);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(JSON.parse(a.stdout).id, JSON.parse(b.stdout).id);
  });

  describe('the GitHub Action', () => {
    async function runAction(inputs: Record<string, string>, extra: { env?: Record<string, string>; files?: Record<string, string> } = {}) {
      const ws = await mkdtemp(join(dir, 'ws-'));
      await mkdir(join(ws, 'src'));
      await writeFile(join(ws, 'src/hello.c'), await readFile(join(dir, 'src/hello.c')));
      await writeFile(join(ws, 'src/warn.c'), 'int g(int x) {\n  if (x = 2) return 1;\n  return 0;\n}\n');
      for (const [name, text] of Object.entries(extra.files ?? {})) {
        await mkdir(join(ws, name, '..'), { recursive: true });
        await writeFile(join(ws, name), text);
      }
      const summary = join(ws, 'summary.md');
      const output = join(ws, 'output.txt');
      await writeFile(summary, '');
      await writeFile(output, '');
      const envs: Record<string, string> = { GITHUB_WORKSPACE: ws, GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: output, RUNNER_TEMP: ws, ...extra.env };
      for (const [k, v] of Object.entries({ url: kiln.baseUrl, 'api-key': kiln.apiKey, ...inputs })) envs[`INPUT_${k.toUpperCase()}`] = v;
      const r = await run(ACTION_BUNDLE, [], envs, ws);
      return { ...r, ws, summary: await readFile(summary, 'utf8'), outputs: await readFile(output, 'utf8') };
    }

    it('builds, verifies, writes the summary, the outputs and annotations, and masks the key', async () => {
      const r = await runAction({ files: 'src/**/*.c', targets: 'x86_64-linux-gnu\naarch64-linux-gnu', verify: 'false', outputs: 'object' });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(r.stdout.includes(`::add-mask::${kiln.apiKey}`), 'the API key is masked');
      assert.match(r.outputs, /job-id<<.*\n[0-9a-f-]{36}\n/);
      assert.match(r.outputs, /status<<.*\nsucceeded\n/);
      assert.match(r.outputs, /artifacts-dir<<.*\n.*kiln-artifacts\n/);
      assert.match(r.summary, /<h3>Kiln: succeeded<\/h3>/);
      assert.match(r.summary, /<td>aarch64-linux-gnu<\/td><td>✅ succeeded<\/td>/);
      // Sizes in the console's units.
      assert.match(r.summary, /hello\.o \([\d.]+ (B|kB)\)/);
      // A warning both targets gave is annotated once, naming both.
      const warnings = r.stdout.match(/::warning title=[^:]*::using the result of an assignment/g) ?? [];
      assert.equal(warnings.length, 1, r.stdout);
      assert.match(r.stdout, /::warning title=x86_64-linux-gnu%2C aarch64-linux-gnu%3A warning,file=src\/warn\.c,line=2,col=9::using the result of an assignment as a condition without parentheses/);
      const report = JSON.parse(await readFile(join(r.ws, 'kiln-artifacts/kiln-job.json'), 'utf8'));
      assert.equal(report.status, 'succeeded');
      assert.equal(elfMachine(await readFile(join(r.ws, 'kiln-artifacts/aarch64-linux-gnu/hello.o'))), ELF_MACHINE.aarch64);
    });

    it('fails the step on a failed verification, unless told not to', async () => {
      const inputs = { files: 'src/hello.c', targets: 'riscv64-linux-gnu', verify: JSON.stringify({ program: { expect: { stdout: 'hello 41\n' } } }) };
      const strict = await runAction(inputs);
      assert.equal(strict.code, 1);
      assert.match(strict.stdout, /::error::Kiln: a verification failed/);
      assert.match(strict.summary, /❌ failed on qemu-riscv64/);
      const lenient = await runAction({ ...inputs, 'fail-on': 'build' });
      assert.equal(lenient.code, 0, lenient.stdout);
      assert.match(lenient.outputs, /status<<.*\nfailed\n/);
    });

    it('compiles and verifies an ONNX model', async () => {
      const modelPath = join(dir, 'mlp.onnx');
      await writeFile(modelPath, mlp());
      const r = await runAction({ model: modelPath, 'input-shapes': 'x=2,16', targets: 'x86_64-linux-gnu, wasm32-wasi', verify: 'true' });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.summary, /<td>wasm32-wasi<\/td><td>✅ succeeded<\/td><td>✅ wasm \(node WASI\)/);
      assert.match(r.summary, /model\.h \(/);
      const both = await runAction({ model: modelPath, files: 'src/*.c', targets: 'x86_64-linux-gnu' });
      assert.equal(both.code, 1);
      assert.match(both.stdout, /::error::Kiln: give either files .* or model/);
    });

    it('takes options, defines and include directories as the CLI does', async () => {
      const files = { 'src/app.c': '#include "util.h"\n#ifndef ANSWER\n#error ANSWER is not defined\n#endif\nint main(void) { return util() + ANSWER - 42; }\n', 'include/util.h': 'static inline int util(void) { return 0; }\n' };
      const r = await runAction({ files: 'src/app.c', 'include-dirs': 'include', defines: 'ANSWER=42', options: '-O2\n-std=c17', targets: 'x86_64-linux-gnu', outputs: 'executable', verify: JSON.stringify({ program: { expect: { exitCode: 0 } } }) }, { files });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.summary, /<td>x86_64-linux-gnu<\/td><td>✅ succeeded<\/td><td>✅ native/);
      const job = JSON.parse(await readFile(join(r.ws, 'kiln-artifacts/kiln-job.json'), 'utf8'));
      assert.deepEqual(job.source.options, ['-O2', '-std=c17', '-Iinclude']);
      assert.deepEqual(job.source.defines, { ANSWER: '42' });
    });

    it('gives each request its own Idempotency-Key: a re-run of the same request gets its job, other files or inputs a new one', async () => {
      const env = { GITHUB_RUN_ID: '7', GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'build', GITHUB_ACTION: 'kiln', GITHUB_REPOSITORY: 'o/r' };
      const jobOf = (r: { outputs: string }) => /job-id<<.*\n([0-9a-f-]{36})\n/.exec(r.outputs)?.[1];
      const a = await runAction({ files: 'src/hello.c', targets: 'x86_64-linux-gnu' }, { env });
      const again = await runAction({ files: 'src/hello.c', targets: 'x86_64-linux-gnu' }, { env });
      assert.equal(a.code, 0, a.stdout);
      assert.equal(jobOf(again), jobOf(a));
      // A matrix leg with another target, and a re-run with other file contents: no 422, jobs of their own.
      const leg = await runAction({ files: 'src/hello.c', targets: 'aarch64-linux-gnu' }, { env });
      const edited = await runAction({ files: 'src/hello.c', targets: 'x86_64-linux-gnu' }, { env, files: { 'src/hello.c': 'int main(void) { return 0; }\n' } });
      for (const r of [leg, edited]) {
        assert.equal(r.code, 0, r.stdout);
        assert.notEqual(jobOf(r), jobOf(a));
      }
    });

    it('says why a build failed in the summary, with a link to the job; fail-on: never annotates no errors', async () => {
      const files = { 'src/bad.c': 'int f(void) {\n  return missing;\n}\n' };
      const r = await runAction({ files: 'src/bad.c', targets: 'x86_64-linux-gnu\naarch64-linux-gnu', 'fail-on': 'never' }, { files });
      assert.equal(r.code, 0, r.stdout);
      assert.doesNotMatch(r.stdout, /::error/);
      assert.match(r.stdout, /::warning title=x86_64-linux-gnu%2C aarch64-linux-gnu%3A error,file=src\/bad\.c,line=2,col=10::use of undeclared identifier 'missing'/);
      assert.match(r.summary, /❌ failed: compiling bad\.c failed with 1 error<br><code>bad\.c:2: use of undeclared identifier 'missing'<\/code>/);
      assert.match(r.summary, new RegExp(`<a href="${kiln.baseUrl}/jobs/[0-9a-f-]{36}">`));
      const strict = await runAction({ files: 'src/bad.c', targets: 'x86_64-linux-gnu' }, { files });
      assert.equal(strict.code, 1);
      assert.match(strict.stdout, /::error title=x86_64-linux-gnu%3A error,file=src\/bad\.c/);
    });

    it('is bundled from its source (run `npm run build:action` when this fails)', async () => {
      assert.equal(await readFile(ACTION_BUNDLE, 'utf8'), await bundleAction());
    });
  });
});
