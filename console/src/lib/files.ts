/** What a dropped or picked file is to a job. */
export type FileRole = 'model' | 'source' | 'archive' | 'unknown';

/** Translation units by extension, as the API's language table has them; headers go with any. */
const UNITS: [RegExp, string][] = [
  [/\.c$/, 'c'],
  [/\.(cc|cpp|cxx|c\+\+|C)$/, 'c++'],
  [/\.(ll|bc)$/, 'llvm-ir'],
  [/\.(f90|f95|f03|f08|f|for)$/i, 'fortran'],
  [/\.go$/, 'go'],
  [/\.rs$/, 'rust'],
  [/\.cu$/, 'cuda'],
  [/\.hip$/, 'hip'],
];
const HEADERS = /\.(h|hh|hpp|hxx|h\+\+|inc|def|ipp|tpp|inl|cuh)$/i;
const PROJECT_FILES = /^(go\.mod|go\.sum|Cargo\.toml)$/;
const ARCHIVE = /\.(tar|tgz|tar\.gz|zip)$/i;

/** The file types the drop zone offers to pick. */
export const ACCEPT = '.onnx,.tar,.tgz,.gz,.zip,.c,.cc,.cpp,.cxx,.h,.hh,.hpp,.hxx,.inc,.def,.ll,.bc,.f90,.f95,.f03,.f08,.f,.for,.go,.rs,.cu,.cuh,.hip,.mod,.toml';

export function fileRole(name: string): FileRole {
  if (/\.onnx$/i.test(name)) return 'model';
  if (ARCHIVE.test(name)) return 'archive';
  if (UNITS.some(([re]) => re.test(name)) || HEADERS.test(name) || PROJECT_FILES.test(name)) return 'source';
  return 'unknown';
}

/** The language of a set of files, from their translation units (C++ wins over C); null when none says. */
export function languageOfFiles(names: string[]): string | null {
  const found = new Set(names.flatMap((n) => UNITS.filter(([re]) => re.test(n)).map(([, l]) => l)));
  if (found.has('c++')) return 'c++';
  return [...found][0] ?? null;
}

export interface DropPlan {
  model: string | null;
  archive: string | null;
  sources: string[];
  refused: { name: string; reason: string }[];
}

const NOT_BOTH = 'a job compiles one model, or source code, not both';

/**
 * Sorts dropped files into what a job takes: one ONNX model, or source code (files, one project
 * archive, or both); never a model with source. What does not fit is refused with a reason.
 */
export function planDrop(names: string[], current: { hasModel: boolean; hasSources: boolean; hasArchive: boolean }): DropPlan {
  const plan: DropPlan = { model: null, archive: null, sources: [], refused: [] };
  for (const name of names) {
    const role = fileRole(name);
    const sourceTaken = plan.sources.length > 0 || plan.archive !== null || current.hasSources || current.hasArchive;
    if (role === 'model') {
      if (plan.model || sourceTaken) plan.refused.push({ name, reason: plan.model ? 'a job compiles one model' : NOT_BOTH });
      else plan.model = name;
    } else if (role === 'archive') {
      if (plan.model || current.hasModel) plan.refused.push({ name, reason: NOT_BOTH });
      else if (plan.archive || current.hasArchive) plan.refused.push({ name, reason: 'a job takes one project archive' });
      else plan.archive = name;
    } else if (role === 'source') {
      if (plan.model || current.hasModel) plan.refused.push({ name, reason: NOT_BOTH });
      else plan.sources.push(name);
    } else {
      plan.refused.push({ name, reason: 'not an ONNX model, a source file Kiln compiles, or a .tar, .tar.gz or .zip archive' });
    }
  }
  return plan;
}
