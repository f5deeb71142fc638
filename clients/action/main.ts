import { createHash } from 'node:crypto';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import * as core from '@actions/core';
import * as glob from '@actions/glob';
import { CreateJob, Job, KilnClient, KilnError } from '../sdk';
import { collectSource, downloadArtifacts, outcomeOf, parseShapes, parseTolerance, SOURCE_LANGUAGES, uploadModel, UsageError } from '../sdk/project';
import { formatBytes } from '../../console/src/lib/format';

function list(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Lines of an input, each trimmed, blank ones dropped (options may hold commas, so only newlines split them). */
function lines(text: string): string[] {
  return text
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The Idempotency-Key of this step: the run, its attempt, the job and step, and a digest of what
 * the request is made of (each file's path and bytes, and the inputs). A re-run of the same
 * attempt gets its job back; two matrix legs, or a re-run with other files, are other requests
 * and get keys of their own.
 */
export function idempotencyKey(env: NodeJS.ProcessEnv, digest: string): string | undefined {
  if (!env.GITHUB_RUN_ID) return undefined;
  // At most 200 characters, as the API takes: the digest always fits.
  return `gh-${env.GITHUB_REPOSITORY}-${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT}-${env.GITHUB_JOB}-${env.GITHUB_ACTION}`.slice(0, 167) + `-${digest.slice(0, 32)}`;
}

async function requestDigest(files: string[], base: string, rest: unknown): Promise<string> {
  const h = createHash('sha256');
  for (const f of [...files].sort()) {
    h.update(`${relative(base, f).split(sep).join('/')}\0`);
    h.update(createHash('sha256').update(await readFile(f)).digest('hex'));
  }
  h.update(JSON.stringify(rest));
  return h.digest('hex');
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

function escapeHtml(t: string): string {
  return t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function summaryRows(job: Job, sizes: Map<string, number>): { data: string; header?: boolean }[][] {
  const header = ['Target', 'Status', 'Verification', 'Artifacts'].map((data) => ({ data, header: true }));
  return [
    header,
    ...job.builds.map((b) => {
      const v = b.verification;
      const mark = !v ? '' : v.status === 'passed' ? '✅' : v.status === 'not-run' ? '⚪' : '❌';
      const verification = !v
        ? '—'
        : `${mark} ${v.status === 'passed' ? v.runner : `${v.status} on ${v.runner}`}${v.outputs.length ? `, max abs error ${v.outputs.reduce((m, o) => Math.max(m, o.maxAbsError), 0).toPrecision(3)}` : ''}`;
      const artifacts = b.artifacts
        .filter((a) => a.kind !== 'bundle')
        .map((a) => `${a.name} (${formatBytes(sizes.get(a.id) ?? a.size)})`)
        .join('<br>');
      // A failed build says why: its reason and its first errors, not only how many there were.
      const errors = b.status === 'failed' ? b.diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal').slice(0, 3) : [];
      const detail = errors.map((d) => `<br><code>${escapeHtml(`${d.file ?? ''}${d.line ? `:${d.line}` : ''}${d.file ? ': ' : ''}${d.message}`)}</code>`).join('');
      const status = `${b.status === 'succeeded' ? '✅' : b.status === 'failed' ? '❌' : '⊘'} ${b.status}${b.statusReason ? `: ${escapeHtml(b.statusReason)}` : ''}${detail}`;
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
  const options = lines(core.getInput('options'));
  const defines = lines(core.getInput('defines'));
  const includeDirs = list(core.getInput('include-dirs'));
  const downloadDir = core.getInput('download-dir') || 'kiln-artifacts';
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();

  const kiln = new KilnClient({ url, apiKey, userAgent: 'kiln-github-action', onRetry: ({ reason, delayMs }) => core.info(`Kiln: ${reason}; retrying in ${Math.round(delayMs)} ms`) });
  let base = workspace;
  let body: CreateJob;
  let sent: string[];
  if (modelPath) {
    if (options.length || defines.length || includeDirs.length) throw new UsageError('options, defines and include-dirs apply to source files, not to a model');
    const shapes = core.getInput('input-shapes').split('\n').map((l) => l.trim()).filter(Boolean);
    sent = [resolve(workspace, modelPath)];
    body = { model: await uploadModel(kiln, sent[0]), targets, ...(shapes.length ? { inputShapes: parseShapes(shapes) } : {}), ...(outputs.length ? { outputs: outputs as CreateJob['outputs'] } : {}) };
  } else {
    // The headers of each include directory go with the files, so that -I finds them (only
    // headers: a source file there is not a unit to compile, a README not a source).
    const headerExts = new Set(Object.values(SOURCE_LANGUAGES).flatMap((l) => l.headers));
    const included = includeDirs.length ? await (await glob.create(includeDirs.map((d) => `${resolve(workspace, d)}/**`).join('\n'), { matchDirectories: false })).glob() : [];
    const named = await (await glob.create(patterns.join('\n'), { matchDirectories: false })).glob();
    const files = [...new Set([...named, ...included.filter((f) => headerExts.has(extname(f).toLowerCase()))])];
    if (files.length === 0) throw new UsageError(`no files match ${patterns.join(', ')}`);
    const collected = await collectSource(kiln, files, { language: core.getInput('language') || undefined });
    base = collected.base;
    sent = files;
    const { base: _b, ...source } = collected;
    const includes = includeDirs.map((d) => {
      const rel = relative(base, resolve(workspace, d)).split(sep).join('/');
      if (rel.startsWith('..')) throw new UsageError(`include-dirs: ${d} is outside the files sent (they are relative to ${relative(workspace, base) || '.'})`);
      return `-I${rel || '.'}`;
    });
    if (options.length || includes.length) source.options = [...options, ...includes];
    if (defines.length) {
      source.defines = {};
      for (const d of defines) {
        const i = d.indexOf('=');
        source.defines[i < 0 ? d : d.slice(0, i)] = i < 0 ? '1' : d.slice(i + 1);
      }
    }
    body = { source, targets, ...(outputs.length ? { outputs: outputs as CreateJob['outputs'] } : {}) };
  }
  const verify = modelPath ? modelVerifyInput(core.getInput('verify'), core.getInput('tolerance')) : verifyInput(core.getInput('verify'), core.getInput('tolerance'));
  if (verify !== undefined) body.verify = verify;

  const { source: _s, model: _m, ...inputs } = body;
  const key = core.getInput('idempotency-key') || idempotencyKey(process.env, await requestDigest(sent, base, { inputs, options: body.source?.options, defines: body.source?.defines, language: body.source?.language, shapes: body.inputShapes }));
  let job = await kiln.createJob(body, key);
  core.setOutput('job-id', job.id);
  core.info(`Kiln job ${job.id}: ${job.builds.map((b) => b.target.requested).join(', ')}`);
  job = await kiln.waitForJob(job.id, {
    timeoutMs: Number(core.getInput('timeout-minutes') || 60) * 60_000,
    onUpdate: (j) => core.info(j.builds.map((b) => `${b.target.requested}: ${b.status}`).join(', ')),
  });

  // Diagnostics become annotations on the files they name: one per diagnostic, naming every
  // target that gave it. With fail-on: never nothing is an error: the step does not fail.
  const error = failOn === 'never' ? core.warning : core.error;
  const seen = new Map<string, { d: Job['builds'][number]['diagnostics'][number]; targets: string[] }>();
  for (const b of job.builds) {
    for (const d of b.diagnostics) {
      if (!['error', 'fatal', 'warning'].includes(d.severity)) continue;
      const k = JSON.stringify([d.file, d.line, d.column, d.severity, d.message]);
      const entry = seen.get(k) ?? seen.set(k, { d, targets: [] }).get(k)!;
      entry.targets.push(b.target.requested);
    }
  }
  for (const { d, targets: on } of seen.values()) {
    const file = d.file ? relative(workspace, join(base, d.file)).split(sep).join('/') : undefined;
    const props = { title: `${on.join(', ')}: ${d.severity}`, file, startLine: d.line ?? undefined, startColumn: d.column ?? undefined };
    if (d.severity === 'warning') core.warning(d.message, props);
    else error(d.message, props);
  }
  const consoleUrl = `${url.replace(/\/+$/, '')}/jobs/${job.id}`;
  for (const b of job.builds) if (b.status === 'failed') error(`${b.target.requested}: ${b.statusReason ?? 'failed'} (${consoleUrl})`, { title: 'Kiln build failed' });

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
    .addRaw(`<p>Job <a href="${escapeHtml(consoleUrl)}"><code>${job.id}</code></a>; ${downloaded.length} file(s) in <code>${relative(workspace, dir) || '.'}</code>.</p>`, true)
    .write();

  core.setOutput('url', consoleUrl);
  const outcome = outcomeOf(job);
  // Artifacts that were to be verified and were not (no runner served their pool in time) are no proof.
  if (outcome === 'not-verified') {
    const why = job.builds.filter((b) => b.verification?.status === 'not-run').map((b) => `${b.target.requested}: ${b.verification!.summary}`).join('; ');
    if (failOn === 'verification') core.setFailed(`Kiln: a verification was not run (job ${job.id}): ${why}`);
    else core.warning(`Kiln: a verification was not run (job ${job.id}): ${why}`);
    return;
  }
  if (outcome === 'succeeded' || failOn === 'never') return;
  if (outcome === 'build-failed') core.setFailed(`Kiln: a build failed (job ${job.id})`);
  else if (outcome === 'verification-failed' && failOn === 'verification') core.setFailed(`Kiln: a verification failed (job ${job.id})`);
  else if (outcome === 'canceled') core.setFailed(`Kiln: the job was canceled (job ${job.id})`);
}

runAction().catch((e) => {
  if (e instanceof UsageError || e instanceof KilnError) core.setFailed(`Kiln: ${e.message}`);
  else core.setFailed(`Kiln: ${(e as Error).stack ?? e}`);
});
