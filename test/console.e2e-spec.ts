import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { mlp } from '../compiler/test/models';
import { CONSOLE_DIR } from '../src/console/console.static';
import { ELF_MACHINE, elfMachine, Kiln, startKiln } from './support/harness';

/**
 * The web console in a real browser (Debian's Chromium) against a running API and worker: sign in,
 * upload a model and a C file, pick targets, watch the builds finish live, read the artifacts and
 * the verification reports, download an artifact, and see the API's own words when it refuses.
 * Screenshots of every page go to test-output/console/ (a reviewed set is kept in docs/console/).
 */
const CHROMIUM = process.env.KILN_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve(__dirname, '..', '..', 'test-output', 'console');
const BUILD_TIMEOUT = 240_000;

const SAXPY_C = `#include <stdio.h>

static void saxpy(int n, float a, const float *x, float *y) {
    for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
    int unused = 0;
}

int main(void) {
    float x[3] = {1, 2, 3}, y[3] = {1, 1, 1};
    saxpy(3, 2.0f, x, y);
    printf("%g %g %g\\n", y[0], y[1], y[2]);
    return 0;
}
`;

/** The little of the browser's globals that code evaluated in the page uses (this file is compiled without the DOM library). */
interface Browser_ {
  DataTransfer: new () => { items: { add(f: File): void } };
  DragEvent: new (type: string, init: object) => Event;
  sessionStorage: { getItem(k: string): string | null };
  document: { documentElement: { scrollWidth: number }; activeElement: { getAttribute(n: string): string | null } | null };
  innerWidth: number;
}

const skip = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : !existsSync(join(CONSOLE_DIR, 'index.html')) ? 'the console is not built (npm run build)' : false;

describe('the web console in Chromium', { skip }, () => {
  let kiln: Kiln;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  let modelJobId = '';

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    kiln = await startKiln({ storage: 'fs' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    context = await newContext();
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await kiln?.close();
  });

  /** A fresh browser profile; console errors, CSP violations and page errors are collected. */
  async function newContext(viewport = { width: 1360, height: 900 }): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport, acceptDownloads: true, baseURL: kiln.baseUrl });
    ctx.on('page', (p) => {
      p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      p.on('console', (m) => {
        // A refused request logs its status in the console; what matters is script errors and CSP.
        if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (400|401|404|413)/.test(m.text())) problems.push(`console: ${m.text()}`);
      });
    });
    return ctx;
  }

  async function shot(p: Page, name: string): Promise<void> {
    await p.screenshot({ path: join(SHOTS, `${name}.jpg`), fullPage: true, type: 'jpeg', quality: 80 });
  }

  async function signIn(p: Page, key: string): Promise<void> {
    await p.goto('/');
    await p.getByLabel('API key').fill(key);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByTestId('tenant').waitFor();
  }

  /** Drops files on the drop zone as a drag and drop does: a DataTransfer with File objects. */
  async function drop(p: Page, files: { name: string; content: string | Uint8Array }[]): Promise<void> {
    const payload = files.map((f) => ({ name: f.name, bytes: [...(typeof f.content === 'string' ? Buffer.from(f.content) : f.content)] }));
    await p.getByTestId('dropzone').evaluate((el, fs) => {
      const w = globalThis as unknown as Browser_;
      const dt = new w.DataTransfer();
      for (const f of fs) dt.items.add(new File([new Uint8Array(f.bytes)], f.name));
      el.dispatchEvent(new w.DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      el.dispatchEvent(new w.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, payload);
  }

  async function pickTargets(p: Page, names: string[]): Promise<void> {
    for (const n of names) await p.locator(`label[data-target="${n}"]`).click();
    for (const n of names) assert.equal(await p.locator(`#target-${n}`).isChecked(), true, `${n} is picked`);
  }

  /** Waits for the job page to show the job finished, live, and says why when it did not succeed. */
  async function waitForSuccess(p: Page): Promise<void> {
    const badge = p.locator('h1 .badge[data-status="succeeded"], h1 .badge[data-status="failed"], h1 .badge[data-status="canceled"]');
    await badge.waitFor({ timeout: BUILD_TIMEOUT });
    const status = await badge.getAttribute('data-status');
    if (status !== 'succeeded') {
      const job = await apiGet(`/v1/jobs/${p.url().split('/').pop()}`);
      assert.fail(`the job ${status}: ${job.builds.map((b: { target: { name: string }; statusReason: string | null }) => `${b.target.name}: ${b.statusReason}`).join('; ')}`);
    }
  }

  async function apiGet(path: string) {
    const res = await kiln.http().get(path).set(kiln.auth);
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  it('refuses a wrong key with the API\'s message, then signs in and shows the tenant and an empty jobs list', async () => {
    await page.goto('/');
    await page.getByLabel('API key').waitFor();
    await shot(page, '01-sign-in');
    await page.getByLabel('API key').fill('kiln_not-a-key');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'the API key is not valid (unknown or revoked)' }).waitFor();
    await signIn(page, kiln.apiKey);
    assert.match(await page.getByTestId('tenant').innerText(), /default/);
    await page.getByText('No jobs yet.').waitFor();
    assert.equal(new URL(page.url()).pathname, '/jobs');
    await shot(page, '02-jobs-empty');
  });

  it('uploads an ONNX model, binds its batch size, shows the model view, and builds it for three targets', async () => {
    await page.getByRole('link', { name: 'New build' }).first().click();
    await page.getByRole('heading', { name: 'New build' }).waitFor();
    await page.getByTestId('file-input').setInputFiles({ name: 'mlp.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(mlp()) });
    await page.locator('.uploads li[data-file="mlp.onnx"] .ok-text').waitFor();
    const shapeField = page.getByLabel('Shape of x');
    await shapeField.waitFor();
    // Empty with a hint, and not marked wrong before it was touched.
    assert.equal(await shapeField.inputValue(), '');
    assert.equal(await shapeField.getAttribute('placeholder'), '1, 16');
    assert.equal(await shapeField.getAttribute('aria-invalid'), 'false');
    await shapeField.fill('2, b');
    await shapeField.blur();
    assert.equal(await shapeField.getAttribute('aria-invalid'), 'true');
    await shapeField.fill('2, 16');
    // AMD GPUs have no model compiler: disabled, saying so, before anything is sent.
    const amd = page.locator('label[data-target="gfx942"]');
    assert.equal(await page.locator('#target-gfx942').isDisabled(), true);
    assert.match(await amd.innerText(), /has no model compiler/);
    // The model view: inputs and outputs with their inferred shapes, operators, support per target.
    const view = page.getByTestId('model-view');
    await view.locator('tr', { hasText: 'output' }).filter({ hasText: '[2, 10]' }).waitFor();
    assert.match(await view.innerText(), /Gemm\s*×2/);
    assert.match(await view.locator('tr[data-target="x86_64-linux-gnu"]').innerText(), /all 3 operators/);

    // The picker: grouped by kind, presets first, with what the catalog says about each.
    const groups = await page.locator('.picker-group').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    assert.deepEqual(groups.slice(0, 2), ['cpu', 'wasm']);
    const firstCpu = await page.locator('.picker-group[data-kind="cpu"] .choice').first().innerText();
    assert.match(firstCpu, /preset/i);
    await pickTargets(page, ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'wasm32-wasi']);
    assert.equal(await page.getByRole('checkbox', { name: /Run each build on its target/ }).isChecked(), true);
    await page.getByLabel('rtol').fill('1e-3');
    await page.getByRole('checkbox', { name: /Profile each build/ }).check();
    await shot(page, '03-new-build-model');
    await page.getByRole('button', { name: 'Build for 3 targets' }).click();

    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    modelJobId = page.url().split('/').pop()!;
    // Live: the page never reloads; the builds' state changes arrive as server-sent events.
    await waitForSuccess(page);
    const job = await apiGet(`/v1/jobs/${modelJobId}`);
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.model.inputShapes, { x: [2, 16] });
    assert.equal(job.verify.tolerance.rtol, 1e-3);
    assert.deepEqual(job.verify.profile, {});
    for (const t of ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'wasm32-wasi']) {
      const row = page.locator(`[data-testid="builds-table"] tr[data-target="${t}"]`);
      assert.equal(await row.getAttribute('data-status'), 'succeeded');
      assert.match(await row.innerText(), /Pass/);
    }
    await shot(page, '04-job-model');
  });

  it('shows each target\'s timeline, artifacts and verification report with its plot, and views the generated C', async () => {
    for (const t of ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'wasm32-wasi']) {
      await page.locator(`.tab[data-target="${t}"]`).click();
      const panel = page.locator(`[data-testid="build-panel"][data-target="${t}"]`);
      await panel.waitFor();
      const steps = await panel.locator('.timeline .step').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
      assert.deepEqual(steps, ['queued', 'compiling', 'compiled', 'verifying', 'succeeded']);
      assert.match(await panel.locator('.timeline .step[data-status="compiling"] .step-time').innerText(), /\d+(\.\d+)? (ms|s)/);
      const report = panel.getByTestId('verification-report');
      assert.equal(await report.getAttribute('data-verdict'), 'passed');
      assert.match(await report.innerText(), /onnxruntime-node/);
      // What ran, by its bytes: the bundle's program, which the artifacts list holds.
      const ran = (await apiGet(`/v1/jobs/${modelJobId}`)).builds.find((b: { target: { name: string } }) => b.target.name === t).verification.ran;
      assert.equal(ran.artifact, t === 'wasm32-wasi' ? 'verify/program.wasm' : 'verify/program');
      assert.equal(await report.getByTestId('verified-file').innerText(), `It ran ${ran.artifact}, sha256 ${ran.sha256.slice(0, 16)}…`);
      const plot = report.locator('svg[data-testid^="plot-"]');
      assert.equal(await plot.count(), 1);
      const bars = await plot.locator('g.bar').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
      assert.equal(bars.reduce((a, b) => a + b, 0), 20, 'the histogram counts every element of the [2, 10] output');
      // Every label (the atol line's too) lies inside the plot: none is clipped at its edge.
      const clipped = await plot.evaluate((svg) => {
        const box = svg.getBoundingClientRect();
        return [...svg.querySelectorAll('text')].filter((t) => { const r = t.getBoundingClientRect(); return r.left < box.left - 0.5 || r.right > box.right + 0.5; }).map((t) => t.textContent);
      });
      assert.deepEqual(clipped, []);
      const sizes = await panel.locator('[data-testid="artifacts"] td.num').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-size'))));
      assert.ok(sizes.length >= 4 && sizes.every((s) => s > 0));
      // The weights are raw bytes: labelled so, and not offered as text to view.
      const weights = panel.locator('[data-testid="artifacts"] tr[data-artifact="model.weights.bin"]');
      assert.equal(await weights.locator('td').nth(1).innerText(), 'weights');
      assert.equal(await weights.getByRole('button', { name: /^View/ }).count(), 0);
      assert.equal(await weights.getByRole('button', { name: /^Download/ }).count(), 1);
      // The profile: a bar per kernel (the MLP's four fit under the chart's top), and every kernel in the table.
      const profile = report.getByTestId('profile');
      assert.match(await profile.innerText(), new RegExp(t === 'x86_64-linux-gnu' ? 'native, median of 20 runs' : t === 'wasm32-wasi' ? 'wasm, median of 3 runs' : 'emulated, median of 3 runs'));
      const shares = await profile.locator('[data-testid="profile-chart"] g.bar').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-share'))));
      const expected = (await apiGet(`/v1/jobs/${modelJobId}`)).builds.find((b: { target: { name: string } }) => b.target.name === t).verification.profile.kernels.length;
      assert.equal(shares.length, expected);
      assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-3);
      assert.equal(await profile.getByTestId('profile-kernels').locator('tbody tr').count(), expected);
    }
    await page.locator('.tab[data-target="x86_64-linux-gnu"]').click();
    const panel = page.locator('[data-testid="build-panel"][data-target="x86_64-linux-gnu"]');
    await panel.getByRole('button', { name: 'View model.c' }).click();
    const viewer = page.getByTestId('artifact-viewer');
    await viewer.locator('.codeview').waitFor();
    assert.match(await viewer.innerText(), /model_run/);
    assert.ok((await viewer.locator('.tok-keyword').count()) > 0, 'the C is highlighted');
    await viewer.scrollIntoViewIfNeeded();
    await shot(page, '05-job-model-report-and-viewer');
    await panel.getByTestId('profile').scrollIntoViewIfNeeded();
    await shot(page, '05b-job-model-profile');
  });

  it('downloads an artifact whose bytes are the build\'s, byte for byte', async () => {
    const panel = page.locator('[data-testid="build-panel"][data-target="x86_64-linux-gnu"]');
    const [download] = await Promise.all([page.waitForEvent('download'), panel.getByRole('button', { name: 'Download model.o' }).click()]);
    assert.equal(download.suggestedFilename(), 'model.o');
    const bytes = await readFile((await download.path())!);
    assert.equal(elfMachine(bytes), ELF_MACHINE.x86_64);
    const job = await apiGet(`/v1/jobs/${modelJobId}`);
    const artifact = job.builds.find((b: { target: { name: string } }) => b.target.name === 'x86_64-linux-gnu').artifacts.find((a: { name: string }) => a.name === 'model.o');
    assert.equal(bytes.length, artifact.size);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), artifact.sha256);
  });

  it('gives a curl command that sends the same request again', async () => {
    const cmd = await page.getByLabel('curl command').innerText();
    assert.doesNotMatch(cmd, new RegExp(kiln.apiKey), 'the key itself is never written out');
    // Run asynchronously: the API answering it lives in this process.
    const { stdout } = await promisify(execFile)('bash', ['-c', `${cmd} -w '\n%{http_code}'`], { env: { ...process.env, KILN_API_KEY: kiln.apiKey }, timeout: 30_000 });
    assert.equal(stdout.split('\n').pop(), '202', stdout);
    const list = await apiGet('/v1/jobs');
    const again = await apiGet(`/v1/jobs/${list.items[0].id}`);
    const first = await apiGet(`/v1/jobs/${modelJobId}`);
    assert.notEqual(again.id, first.id);
    assert.deepEqual(again.builds.map((b: { target: { requested: string } }) => b.target.requested), first.builds.map((b: { target: { requested: string } }) => b.target.requested));
    assert.deepEqual([again.model.uploadId, again.model.inputShapes, again.outputs, again.verify], [first.model.uploadId, first.model.inputShapes, first.outputs, first.verify]);
    await page.getByRole('button', { name: 'kiln CLI' }).click();
    assert.match(await page.getByLabel('kiln CLI command').innerText(), /kiln compile mlp\.onnx --shape x=2,16 -t x86_64-linux-gnu,aarch64-linux-gnu,wasm32-wasi/);
  });

  it('builds a dropped C file for three targets, with its warning at file:line, its assembly and its program check', async () => {
    await page.getByRole('link', { name: 'New build' }).first().click();
    await drop(page, [{ name: 'saxpy.c', content: SAXPY_C }]);
    await page.locator('.uploads li[data-file="saxpy.c"] .ok-text').waitFor();
    await page.getByRole('checkbox', { name: 'Include a file written here' }).uncheck();
    await pickTargets(page, ['x86_64-linux-gnu', 'riscv64-linux-gnu', 'wasm32-wasi']);
    await page.getByRole('checkbox', { name: 'executable' }).check();
    await page.getByLabel('More compiler options').fill('-Wall');
    await shot(page, '06-new-build-source');
    await page.getByRole('button', { name: 'Build for 3 targets' }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    await waitForSuccess(page);

    await page.locator('.tab[data-target="riscv64-linux-gnu"]').click();
    const panel = page.locator('[data-testid="build-panel"][data-target="riscv64-linux-gnu"]');
    const diag = panel.getByTestId('diagnostics').locator('li.warning').first();
    assert.match(await diag.innerText(), /saxpy\.c:5:\d+.*unused variable 'unused'/);
    const report = panel.getByTestId('verification-report');
    assert.equal(await report.getAttribute('data-verdict'), 'passed');
    assert.match(await report.innerText(), /3 5 7/);
    await panel.getByRole('button', { name: /^View saxpy\.s$/ }).click();
    const viewer = page.getByTestId('artifact-viewer');
    await viewer.locator('.codeview').waitFor();
    assert.match(await viewer.innerText(), /saxpy/);
    assert.ok((await viewer.locator('.tok-register, .tok-directive').count()) > 0, 'the assembly is highlighted');
    await shot(page, '07-job-source');
  });

  it('builds a project archive dropped with a loose file, and shows what the archive held', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-console-'));
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'src', 'dot.h'), 'float dot(const float *a, const float *b, int n);\n');
    await writeFile(join(dir, 'src', 'dot.c'), '#include "dot.h"\nfloat dot(const float *a, const float *b, int n) { float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n');
    await promisify(execFile)('tar', ['czf', join(dir, 'project.tar.gz'), '-C', dir, 'src']);
    const tgz = await readFile(join(dir, 'project.tar.gz'));
    await rm(dir, { recursive: true, force: true });

    await page.getByRole('link', { name: 'New build' }).first().click();
    await drop(page, [{ name: 'project.tar.gz', content: tgz }, { name: 'twice.c', content: 'int twice(int x) { return 2 * x; }\n' }]);
    await page.locator('.uploads li[data-file="project.tar.gz"] .ok-text').waitFor();
    await page.locator('.uploads li[data-file="twice.c"] .ok-text').waitFor();
    await page.getByRole('checkbox', { name: 'Include a file written here' }).uncheck();
    await page.getByLabel('Language').selectOption('c');
    await pickTargets(page, ['aarch64-linux-gnu']);
    await page.getByRole('checkbox', { name: 'Run main on each target' }).uncheck();
    await page.getByRole('button', { name: 'Build for 1 target' }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    await waitForSuccess(page);
    assert.match(await page.locator('section', { has: page.getByRole('heading', { name: 'Source' }) }).innerText(), /Archive project\.tar\.gz \(2 files/);
    for (const o of ['dot.o', 'twice.o']) assert.equal(await page.locator(`[data-testid="artifacts"] tr[data-artifact$="${o}"]`).count(), 1, `${o} was built`);
    const id = page.url().split('/').pop()!;
    const job = await apiGet(`/v1/jobs/${id}`);
    assert.deepEqual([...job.source.archive.files].sort(), ['src/dot.c', 'src/dot.h']);
    assert.deepEqual(job.source.files.map((f: { path: string }) => f.path), ['twice.c']);
  });

  it('lists the jobs, filters them by status, and updates a running job live', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
    await page.getByTestId('jobs-table').waitFor();
    assert.equal(await page.locator('[data-testid="jobs-table"] tbody tr').count(), 4);
    await page.getByRole('button', { name: 'Failed' }).click();
    await page.getByText('No failed jobs.').waitFor();
    await page.getByRole('button', { name: 'Succeeded' }).click();
    await page.waitForURL(/status=succeeded/);
    await page.getByRole('button', { name: 'All', exact: true }).click();
    await page.getByTestId('jobs-table').waitFor();

    // A job created elsewhere appears, then reaches its end, with no reload by anyone.
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'k.c', content: 'int k(int x) { return x * 3; }\n' }] }, targets: ['x86_64-linux-gnu', 'armv7-linux-gnueabihf'] });
    assert.equal(res.status, 202);
    const row = page.locator(`tr[data-job="${res.body.id}"]`);
    await row.waitFor({ timeout: 20_000 });
    await row.locator('.badge[data-status="succeeded"]').first().waitFor({ timeout: BUILD_TIMEOUT });
    assert.equal(await row.locator('li.pill[data-build-status="succeeded"]').count(), 2);
    await shot(page, '08-jobs');
  });

  it('deletes a finished job, after asking, with everything it made', async () => {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'gone.c', content: 'int gone(void) { return 7; }\n' }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202);
    await page.goto(`/jobs/${res.body.id}`);
    await waitForSuccess(page);
    const artifact = (await apiGet(`/v1/jobs/${res.body.id}`)).builds[0].artifacts[0].id;
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await page.getByRole('button', { name: 'Delete job' }).click();
    await page.waitForTimeout(200);
    assert.match(asked, /cannot be undone/);
    assert.equal((await kiln.http().get(`/v1/jobs/${res.body.id}`).set(kiln.auth)).status, 200, 'dismissing the question keeps the job');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete job' }).click();
    await page.waitForURL(/\/jobs$/);
    assert.equal((await kiln.http().get(`/v1/jobs/${res.body.id}`).set(kiln.auth)).status, 404);
    assert.equal((await kiln.http().get(`/v1/artifacts/${artifact}`).set(kiln.auth)).status, 404);
  });

  it('shows the API\'s message for a model it cannot read, refuses an archive, and shows a refused job\'s 4xx as written', async () => {
    await page.getByRole('link', { name: 'New build' }).first().click();
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]);
    await drop(page, [{ name: 'broken.onnx', content: garbage }, { name: 'project.tar.gz', content: 'x' }]);
    await page.getByRole('alert').filter({ hasText: 'project.tar.gz' }).waitFor();
    const up = await kiln.http().post('/v1/uploads?filename=broken.onnx').set(kiln.auth).set('Content-Type', 'application/octet-stream').send(Buffer.from(garbage));
    const refused = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId: up.body.id });
    assert.equal(refused.status, 400);
    const problem = page.locator('.problem', { hasText: 'Kiln cannot use this model' });
    await problem.waitFor();
    assert.equal(await problem.locator('.problem-message').innerText(), refused.body.message);
    await shot(page, '09-invalid-upload');

    await page.getByRole('button', { name: 'C / C++ source' }).click();
    await pickTargets(page, ['x86_64-linux-gnu']);
    await page.getByLabel('More compiler options').fill('-fplugin=evil.so');
    await page.getByRole('button', { name: 'Build for 1 target' }).click();
    const message = await page.locator('.problem', { hasText: 'Kiln refused the job' }).locator('.problem-message').innerText();
    assert.match(message, /-fplugin/);
    const direct = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', options: ['-O2', '-fplugin=evil.so'], files: [{ path: 'main.c', content: 'int main(void){return 0;}' }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(direct.status, 400);
    assert.equal(message, Array.isArray(direct.body.message) ? direct.body.message.join('; ') : direct.body.message);
    await shot(page, '10-refused-job');
  });

  it('signs out when the key is revoked, saying why', async () => {
    const created = await kiln.http().post('/v1/keys').set(kiln.auth).send({ name: 'console-test' });
    assert.equal(created.status, 201);
    const ctx = await newContext();
    const p = await ctx.newPage();
    await signIn(p, created.body.secret);
    assert.equal((await kiln.http().delete(`/v1/keys/${created.body.id}`).set(kiln.auth)).status, 204);
    // The open jobs list refreshes itself; its next request with the key is a 401.
    await p.getByRole('alert').filter({ hasText: 'Your API key no longer works: the API key is not valid (unknown or revoked)' }).waitFor();
    await p.getByLabel('API key').waitFor();
    assert.equal(await p.evaluate(() => (globalThis as unknown as Browser_).sessionStorage.getItem('kiln.apiKey')), null, 'the dead key is forgotten');
    await shot(p, '11-expired-key');
    await ctx.close();
  });

  it('opens a job link in a new tab: after sign-in the linked page, and with "Remember this browser" no sign-in at all', async () => {
    const ctx = await newContext();
    const first = await ctx.newPage();
    await first.goto(`/jobs/${modelJobId}`);
    await first.getByLabel('API key').fill(kiln.apiKey);
    await first.getByRole('button', { name: 'Sign in' }).click();
    await first.locator('h1 .badge[data-status="succeeded"]').waitFor();
    assert.equal(new URL(first.url()).pathname, `/jobs/${modelJobId}`, 'the linked page, not the jobs list');
    // Not remembered: another tab asks again.
    const second = await ctx.newPage();
    await second.goto(`/jobs/${modelJobId}`);
    await second.getByLabel('API key').waitFor();
    await second.getByLabel('API key').fill(kiln.apiKey);
    await second.getByLabel('Remember this browser').check();
    await second.getByRole('button', { name: 'Sign in' }).click();
    await second.locator('h1 .badge[data-status="succeeded"]').waitFor();
    // Remembered: a third tab opens the job at once.
    const third = await ctx.newPage();
    await third.goto(`/jobs/${modelJobId}`);
    await third.locator('h1 .badge[data-status="succeeded"]').waitFor();
    assert.equal(await third.getByLabel('API key').count(), 0);
    // Signing out forgets it everywhere.
    await third.getByRole('button', { name: 'Sign out' }).click();
    const fourth = await ctx.newPage();
    await fourth.goto(`/jobs/${modelJobId}`);
    await fourth.getByLabel('API key').waitFor();
    await ctx.close();
  });

  it('fits a phone and works from the keyboard', async () => {
    const ctx = await newContext({ width: 390, height: 844 });
    const p = await ctx.newPage();
    await signIn(p, kiln.apiKey);
    await p.goto(`/jobs/${modelJobId}`);
    await p.locator('h1 .badge[data-status="succeeded"]').waitFor();
    const overflow = await p.evaluate(() => {
      const w = globalThis as unknown as Browser_;
      return w.document.documentElement.scrollWidth - w.innerWidth;
    });
    // What sticks out of the page (scrolling containers such as tables may hold wider content).
    const wide = await p.locator('main *').evaluateAll(
      (els, width) => els.filter((e) => e.getBoundingClientRect().right > width + 1 && !e.closest('.table-wrap, .tabs, .codeview, .copybox, .editor')).slice(0, 8).map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
      390,
    );
    assert.ok(overflow <= 0, `the job page is ${overflow}px wider than the phone: ${wide.join(', ')}`);
    // Every artifact's actions are on screen without scrolling sideways.
    const actions = await p.locator('[data-testid="artifacts"] td.actions .btn').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().right));
    assert.ok(actions.length > 0);
    assert.ok(actions.every((r) => r <= 390), `artifact buttons end at ${actions.join(', ')} px`);
    // The error plot's labels are drawn at a readable size.
    const ticks = await p.locator('.plot .tick').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
    assert.ok(ticks.length > 0 && Math.min(...ticks) >= 10, `plot labels ${Math.min(...ticks).toFixed(1)} px high`);
    await shot(p, '12-phone-job');
    // Tabs: arrow keys move between targets.
    await p.locator('.tab[aria-selected="true"]').focus();
    await p.keyboard.press('ArrowRight');
    assert.equal(await p.locator('.tab[aria-selected="true"]').getAttribute('data-target'), 'aarch64-linux-gnu');
    assert.equal(await p.evaluate(() => (globalThis as unknown as Browser_).document.activeElement?.getAttribute('data-target')), 'aarch64-linux-gnu');
    await p.goto('/new');
    await p.getByRole('heading', { name: 'New build' }).waitFor();
    assert.ok((await p.evaluate(() => {
      const w = globalThis as unknown as Browser_;
      return w.document.documentElement.scrollWidth - w.innerWidth;
    })) <= 0, 'the new build page fits');
    // The target picker from the keyboard: Tab reaches a checkbox, Space ticks it.
    await p.locator('#target-wasm32-wasi').focus();
    await p.keyboard.press('Space');
    assert.equal(await p.locator('#target-wasm32-wasi').isChecked(), true);
    await shot(p, '13-phone-new-build');
    await ctx.close();
  });

  it('logged no script error and no CSP violation', () => {
    assert.deepEqual(problems, []);
  });
});
