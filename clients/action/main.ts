import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import * as core from '@actions/core';
import * as glob from '@actions/glob';
import { CreateJob, Job, KilnClient, KilnError } from '../sdk';
import { collectSource, downloadArtifacts, outcomeOf, parseShapes, parseTolerance, uploadModel, UsageError } from '../sdk/project';

function list(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/** The verify input: false, true (run main), or a JSON verify object. */
function verifyInput(text: string, tolerance: string): CreateJob['verify'] | undefined {
  const t = text.trim();
  if (t === '' || t === 'false') {
    if (tolerance) throw new UsageError('the tolerance input needs verify');
    return undefined;
  }
  if (t === 'true') return tolerance ? { program: {}, tolerance: parseTolerance(tolerance) } as CreateJob['verify'] : true;
  let spec: Record<string, unknown>;
  try {
    spec = JSON.parse(t) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`verify must be true, false or a JSON verify object: ${(e as Error).message}`);
  }
  if (tolerance) spec.tolerance = parseTolerance(tolerance);
  return spec as CreateJob['verify'];
}

/** A model's verify input: false, true, or true with a tolerance. */
function modelVerifyInput(text: string, tolerance: string): CreateJob['verify'] | undefined {
  const t = text.trim();
  if (t === '' || t === 'false') return undefined;
  if (t !== 'true') throw new UsageError('for a model, verify is true or false (compare with ONNX Runtime)');
  return (tolerance ? { tolerance: parseTolerance(tolerance) } : true) as CreateJob['verify'];
}

function summaryRows(job: Job, sizes: Map<string, number>): { data: string; header?: boolean }[][] {
  const header = ['Target', 'Status', 'Verification', 'Artifacts'].map((data) => ({ data, header: true }));
  return [
    header,
    ...job.builds.map((b) => {
      const v = b.verification;
      const verification = !v
        ? '—'
        : `${v.status === 'passed' ? '✅' : '❌'} ${v.runner}${v.outputs.length ? `, max abs error ${v.outputs.reduce((m, o) => Math.max(m, o.maxAbsError), 0).toPrecision(3)}` : ''}`;
      const artifacts = b.artifacts
        .filter((a) => a.kind !== 'bundle')
        .map((a) => `${a.name} (${fmtBytes(sizes.get(a.id) ?? a.size)})`)
        .join('<br>');
      const status = `${b.status === 'succeeded' ? '✅' : b.status === 'failed' ? '❌' : '⊘'} ${b.status}${b.statusReason ? `: ${b.statusReason}` : ''}`;
      return [{ data: `${b.target.requested}` }, { data: status }, { data: verification }, { data: artifacts || '—' }];
    }),
  ];
}

export async function runAction(): Promise<void> {
  const apiKey = core.getInput('api-key', { required: true });
  core.setSecret(apiKey);
  const url = core.getInput('url', { required: true });
  const failOn = core.getInput('fail-on') || 'verification';
  if (!['build', 'verification', 'never'].includes(failOn)) throw new UsageError(`fail-on must be build, verification or never, not "${failOn}"`);
  const modelPath = core.getInput('model');
  const patterns = list(core.getInput('files'));
  if (Boolean(modelPath) === patterns.length > 0) throw new UsageError('give either files (globs of C or C++ sources) or model (an .onnx file)');
  const targets = list(core.getInput('targets', { required: true }));
  const outputs = list(core.getInput('outputs'));
  const downloadDir = core.getInput('download-dir') || 'kiln-artifacts';
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();

  const kiln = new KilnClient({ url, apiKey, userAgent: 'kiln-github-action', onRetry: ({ reason, delayMs }) => core.info(`Kiln: ${reason}; retrying in ${Math.round(delayMs)} ms`) });
  let base = workspace;
  let body: CreateJob;
  if (modelPath) {
    const shapes = core.getInput('input-shapes').split('\n').map((l) => l.trim()).filter(Boolean);
    body = { model: await uploadModel(kiln, resolve(workspace, modelPath)), targets, ...(shapes.length ? { inputShapes: parseShapes(shapes) } : {}), ...(outputs.length ? { outputs: outputs as CreateJob['outputs'] } : {}) };
  } else {
    const files = await (await glob.create(patterns.join('\n'), { matchDirectories: false })).glob();
    if (files.length === 0) throw new UsageError(`no files match ${patterns.join(', ')}`);
    const collected = await collectSource(kiln, files, { language: core.getInput('language') || undefined });
    base = collected.base;
    const { base: _b, ...source } = collected;
    body = { source, targets, ...(outputs.length ? { outputs: outputs as CreateJob['outputs'] } : {}) };
  }
  const verify = modelPath ? modelVerifyInput(core.getInput('verify'), core.getInput('tolerance')) : verifyInput(core.getInput('verify'), core.getInput('tolerance'));
  if (verify !== undefined) body.verify = verify;

  // A re-run of the same workflow attempt returns the same job instead of creating another.
  const e = process.env;
  const key = e.GITHUB_RUN_ID ? `gh-${e.GITHUB_REPOSITORY}-${e.GITHUB_RUN_ID}-${e.GITHUB_RUN_ATTEMPT}-${e.GITHUB_JOB}-${e.GITHUB_ACTION}`.slice(0, 200) : undefined;
  let job = await kiln.createJob(body, key);
  core.setOutput('job-id', job.id);
  core.info(`Kiln job ${job.id}: ${job.builds.map((b) => b.target.requested).join(', ')}`);
  job = await kiln.waitForJob(job.id, {
    onUpdate: (j) => core.info(j.builds.map((b) => `${b.target.requested}: ${b.status}`).join(', ')),
  });

  // Diagnostics become annotations on the files they name.
  for (const b of job.builds) {
    for (const d of b.diagnostics) {
      const file = d.file ? relative(workspace, join(base, d.file)).split(sep).join('/') : undefined;
      const props = { title: `${b.target.requested}: ${d.severity}`, file, startLine: d.line ?? undefined, startColumn: d.column ?? undefined };
      if (d.severity === 'error' || d.severity === 'fatal') core.error(d.message, props);
      else if (d.severity === 'warning') core.warning(d.message, props);
    }
    if (b.status === 'failed') core.error(`${b.target.requested}: ${b.statusReason ?? 'failed'}`, { title: 'Kiln build failed' });
  }

  const dir = resolve(workspace, downloadDir);
  await mkdir(dir, { recursive: true });
  const downloaded = await downloadArtifacts(kiln, job, dir);
  const report = join(dir, 'kiln-job.json');
  await writeFile(report, JSON.stringify(job, null, 2));
  core.setOutput('status', job.status);
  core.setOutput('artifacts-dir', dir);
  core.setOutput('report', report);

  const sizes = new Map(job.builds.flatMap((b) => b.artifacts.map((a) => [a.id, a.size] as const)));
  await core.summary
    .addHeading(`Kiln: ${job.status}`, 3)
    .addTable(summaryRows(job, sizes))
    .addRaw(`<p>Job <code>${job.id}</code>; ${downloaded.length} file(s) in <code>${relative(workspace, dir) || '.'}</code>.</p>`, true)
    .write();

  const outcome = outcomeOf(job);
  if (outcome === 'succeeded' || failOn === 'never') return;
  if (outcome === 'build-failed') core.setFailed(`Kiln: a build failed (job ${job.id})`);
  else if (outcome === 'verification-failed' && failOn === 'verification') core.setFailed(`Kiln: a verification failed (job ${job.id})`);
  else if (outcome === 'canceled') core.setFailed(`Kiln: the job was canceled (job ${job.id})`);
}

runAction().catch((e) => {
  if (e instanceof UsageError || e instanceof KilnError) core.setFailed(`Kiln: ${e.message}`);
  else core.setFailed(`Kiln: ${(e as Error).stack ?? e}`);
});
