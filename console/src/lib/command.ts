import type { CreateJob, Job } from './types';

const ALWAYS_WITH_MODEL = ['header', 'c-source', 'metadata', 'weights'];

/** Quotes a word for a POSIX shell: as is when it is plainly safe, else in single quotes. */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The request that made a job, rebuilt from what the API shows of it. Files uploaded to Kiln are
 * referred to by their upload id (uploads are kept, so the request runs again as it is); the
 * text of a file that was sent inline is not kept, so it is left for the user to fill in.
 */
export function requestOf(job: Job): { body: CreateJob; inlineFiles: string[] } {
  const targets = job.builds.map((b) => b.target.requested);
  const body: CreateJob = { targets } as CreateJob;
  const inlineFiles: string[] = [];
  if (job.model) {
    body.model = { uploadId: job.model.uploadId };
    if (Object.keys(job.model.inputShapes).length) body.inputShapes = job.model.inputShapes;
  } else if (job.source) {
    const own = job.source.files;
    body.source = {
      language: job.source.language,
      ...(own.length || !job.source.archive
        ? {
            files: own.map((f) => {
              if (f.uploadId) return { path: f.path, uploadId: f.uploadId };
              inlineFiles.push(f.path);
              return { path: f.path, content: `<the text of ${f.path}>` };
            }),
          }
        : {}),
      ...(job.source.archive ? { archive: { uploadId: job.source.archive.uploadId } } : {}),
      ...(job.source.options.length ? { options: job.source.options } : {}),
      ...(Object.keys(job.source.defines).length ? { defines: job.source.defines } : {}),
    };
  }
  // A model build always gives its header, C source and metadata: they are not asked for.
  body.outputs = job.outputs.filter((o) => !(job.model && ALWAYS_WITH_MODEL.includes(o))) as CreateJob['outputs'];
  if (job.verify) body.verify = verifyOf(job) as CreateJob['verify'];
  return { body, inlineFiles };
}

type Stored = Record<string, unknown>;

function tolerance(t: unknown): Stored | undefined {
  if (!t || typeof t !== 'object') return undefined;
  const { rtol, atol, maxUlp } = t as Stored;
  return { rtol, atol, ...(maxUlp !== null && maxUlp !== undefined ? { maxUlp } : {}) };
}

/**
 * The verify object as a request gives it, from the one the API stored (which has its defaults
 * filled in and a "kind"): the same check, field for field, in the request's vocabulary.
 */
export function verifyRequestOf(stored: Stored): unknown {
  const wait = stored.deviceWaitSeconds !== undefined ? { deviceWaitSeconds: stored.deviceWaitSeconds } : {};
  if (stored.kind === 'model') {
    // An atol scaled to each output's reference (atolScale) is what a request without an atol gives.
    const t = tolerance(stored.tolerance) as { rtol: number; atol?: number } | undefined;
    if (t && stored.atolScale !== undefined) delete t.atol;
    const profile = stored.profile as { runs?: number } | undefined;
    return { tolerance: t, seed: stored.seed, timeoutMs: stored.timeoutMs, ...wait, ...(profile ? { profile: profile.runs === undefined ? true : { runs: profile.runs } } : {}) };
  }
  if (stored.kind === 'program') {
    const expect = stored.expect as { stdout: string | null; exitCode: number | null } | null;
    const e = expect ? { ...(expect.stdout !== null ? { stdout: expect.stdout } : {}), ...(expect.exitCode !== null ? { exitCode: expect.exitCode } : {}) } : null;
    return { program: { args: stored.args, stdin: stored.stdin, ...(e ? { expect: e } : {}), timeoutMs: stored.timeoutMs }, ...wait };
  }
  if (stored.kind === 'kernel') {
    const args = (stored.args as Stored[]).map((a) =>
      a.kind === 'scalar' ? { name: a.name, type: a.dtype, value: a.value } : { name: a.name, type: `${a.dtype}*`, shape: a.shape, dir: a.dir, range: a.range },
    );
    return { entry: stored.entry, ...(stored.linkage ? { linkage: stored.linkage } : {}), args, tolerance: tolerance(stored.tolerance), seed: stored.seed, timeoutMs: stored.timeoutMs, ...wait };
  }
  const { kind: _kind, ...rest } = stored;
  return rest;
}

function verifyOf(job: Job): unknown {
  return verifyRequestOf(job.verify as Stored);
}

/** A curl command that sends this request again; the key is read from $KILN_API_KEY, never written out. */
export function curlCommand(baseUrl: string, body: CreateJob): string {
  const url = `${baseUrl.replace(/\/+$/, '')}/v1/jobs`;
  return [
    `curl -sS ${shellQuote(url)}`,
    `  -H "Authorization: Bearer $KILN_API_KEY"`,
    `  -H 'Content-Type: application/json'`,
    `  -d ${shellQuote(JSON.stringify(body))}`,
  ].join(' \\\n');
}

/**
 * The same build with the kiln CLI, from local files: the model or source files by name (the
 * CLI uploads them), targets, outputs, options, defines and verification.
 */
export function cliCommand(baseUrl: string, body: CreateJob, fileNames: string[]): string {
  const args = ['kiln', 'compile', ...fileNames.map(shellQuote)];
  for (const [input, dims] of Object.entries(body.inputShapes ?? {})) args.push('--shape', shellQuote(`${input}=${dims.join(',')}`));
  args.push('-t', shellQuote((body.targets as unknown[]).map((t) => (typeof t === 'string' ? t : JSON.stringify(t))).join(',')));
  if (body.outputs?.length) args.push('-o', shellQuote(body.outputs.join(',')));
  if (body.source?.language) args.push('-l', shellQuote(body.source.language));
  for (const o of body.source?.options ?? []) args.push(`--option=${shellQuote(o)}`);
  for (const [k, v] of Object.entries(body.source?.defines ?? {})) args.push('-D', shellQuote(`${k}=${v}`));
  const verify = body.verify;
  if (verify) {
    // A kernel check is a JSON file for the CLI: the job's verify object, saved as verify.json.
    args.push(...(typeof verify === 'object' && verify.entry ? ['--verify-spec', 'verify.json'] : ['--verify']));
    const tol = typeof verify === 'object' ? verify.tolerance : undefined;
    if (tol && body.model) {
      const parts = [tol.rtol !== undefined ? `rtol=${tol.rtol}` : null, tol.atol !== undefined ? `atol=${tol.atol}` : null, tol.maxUlp != null ? `maxUlp=${tol.maxUlp}` : null].filter(Boolean);
      if (parts.length) args.push('--tolerance', parts.join(','));
    }
    const profile = typeof verify === 'object' && body.model ? verify.profile : undefined;
    if (profile) args.push('--profile', ...(typeof profile === 'object' && profile.runs !== undefined ? [String(profile.runs)] : []));
  }
  args.push('--wait');
  return `KILN_URL=${shellQuote(baseUrl.replace(/\/+$/, ''))} ${args.join(' ')}`;
}
