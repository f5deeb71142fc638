import type { CreateJob } from './types';

export const OPT_LEVELS = ['-O0', '-O1', '-O2', '-O3', '-Os', '-Oz'] as const;
export const MODEL_OUTPUTS = ['object', 'shared', 'static', 'assembly', 'llvm-ir'] as const;

export interface BuildForm {
  mode: 'source' | 'model';
  /** Source files as uploaded: their path in the project and the upload that holds them. */
  files: { path: string; uploadId: string }[];
  /** An uploaded project archive (tar, tar.gz or zip). */
  archiveUploadId: string | null;
  language: string;
  modelUploadId: string | null;
  inputShapes: Record<string, number[]>;
  targets: string[];
  outputs: string[];
  optLevel: string;
  /** Extra compiler options, space-separated, such as "-std=c11 -Wall". */
  extraOptions: string;
  verify: boolean;
  /** A model: also profile each verified build (CPU and WebAssembly targets). */
  profile: boolean;
  rtol: string;
  atol: string;
}

/** What stops the form from being sent, in words; an empty list when it can be sent. */
export function formProblems(f: BuildForm): string[] {
  const p: string[] = [];
  if (f.mode === 'model' && !f.modelUploadId) p.push('Add an ONNX model.');
  if (f.mode === 'source' && !f.files.length && !f.archiveUploadId) p.push('Add source files or an archive, or write a file in the editor.');
  if (!f.targets.length) p.push('Pick at least one target.');
  if (!f.outputs.length) p.push('Pick at least one output.');
  for (const [name, v] of [['rtol', f.rtol], ['atol', f.atol]] as const) {
    if (f.verify && f.mode === 'model' && v.trim() !== '' && !(Number(v) >= 0)) p.push(`${name} must be a number, 0 or more.`);
  }
  return p;
}

/** The job request the form describes, in the API's own shape. */
export function jobRequest(f: BuildForm): CreateJob {
  const body = { targets: [...f.targets], outputs: [...f.outputs] } as CreateJob;
  if (f.mode === 'model') {
    body.model = { uploadId: f.modelUploadId! };
    if (Object.keys(f.inputShapes).length) body.inputShapes = f.inputShapes;
    if (f.verify) {
      const tolerance: { rtol?: number; atol?: number } = {};
      if (f.rtol.trim() !== '') tolerance.rtol = Number(f.rtol);
      if (f.atol.trim() !== '') tolerance.atol = Number(f.atol);
      body.verify = Object.keys(tolerance).length || f.profile ? { ...(Object.keys(tolerance).length ? { tolerance } : {}), ...(f.profile ? { profile: true } : {}) } : true;
    }
  } else {
    const options = [f.optLevel, ...f.extraOptions.split(/\s+/).filter(Boolean)].filter(Boolean);
    body.source = {
      language: f.language as NonNullable<CreateJob['source']>['language'],
      ...(f.files.length ? { files: f.files.map((x) => ({ path: x.path, uploadId: x.uploadId })) } : {}),
      ...(f.archiveUploadId ? { archive: { uploadId: f.archiveUploadId } } : {}),
      options,
    };
    if (f.verify) body.verify = { program: {} };
  }
  return body;
}

/**
 * The outputs a source job can ask for, from the catalog: those the language can produce for
 * every picked target (for any target while none is picked), in the catalog's order.
 */
export function sourceOutputs(targets: { name: string; outputs: Record<string, string[]> }[], picked: string[], language: string): string[] {
  const chosen = picked.length ? targets.filter((t) => picked.includes(t.name)) : targets;
  const lists = chosen.map((t) => t.outputs[language] ?? []).filter((l) => l.length);
  if (!lists.length) return [];
  const order = [...new Set(targets.flatMap((t) => t.outputs[language] ?? []))];
  return order.filter((o) => (picked.length ? lists.every((l) => l.includes(o)) : lists.some((l) => l.includes(o))));
}

/** The languages the catalog's targets build, in the catalog's order. */
export function catalogLanguages(targets: { languages: string[] }[]): string[] {
  return [...new Set(targets.flatMap((t) => t.languages))];
}
