import type { CreateJob } from './types';

export const OPT_LEVELS = ['-O0', '-O1', '-O2', '-O3', '-Os', '-Oz'] as const;
export const SOURCE_OUTPUTS = ['object', 'executable', 'shared', 'static', 'assembly', 'llvm-ir'] as const;
export const MODEL_OUTPUTS = ['object', 'shared', 'static'] as const;

export interface BuildForm {
  mode: 'source' | 'model';
  /** Source files as uploaded: their path in the project and the upload that holds them. */
  files: { path: string; uploadId: string }[];
  language: 'c' | 'c++';
  modelUploadId: string | null;
  inputShapes: Record<string, number[]>;
  targets: string[];
  outputs: string[];
  optLevel: string;
  /** Extra compiler options, space-separated, such as "-std=c11 -Wall". */
  extraOptions: string;
  verify: boolean;
  rtol: string;
  atol: string;
}

/** What stops the form from being sent, in words; an empty list when it can be sent. */
export function formProblems(f: BuildForm): string[] {
  const p: string[] = [];
  if (f.mode === 'model' && !f.modelUploadId) p.push('Add an ONNX model.');
  if (f.mode === 'source' && !f.files.length) p.push('Add a source file, or write one in the editor.');
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
      body.verify = Object.keys(tolerance).length ? { tolerance } : true;
    }
  } else {
    const options = [f.optLevel, ...f.extraOptions.split(/\s+/).filter(Boolean)].filter(Boolean);
    body.source = { language: f.language, files: f.files.map((x) => ({ path: x.path, uploadId: x.uploadId })), options };
    if (f.verify) body.verify = { program: {} };
  }
  return body;
}
