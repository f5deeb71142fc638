/** What a dropped or picked file is to a job. */
export type FileRole = 'model' | 'source' | 'archive' | 'unknown';

const SOURCE = /\.(c|h|cc|cpp|cxx|c\+\+|hpp|hh|hxx|inl|inc|def)$/i;
const CXX = /\.(cc|cpp|cxx|c\+\+|hpp|hh|hxx)$/i;
const ARCHIVE = /\.(tar|tgz|tar\.gz|tar\.xz|tar\.zst|zip)$/i;

export function fileRole(name: string): FileRole {
  if (/\.onnx$/i.test(name)) return 'model';
  if (ARCHIVE.test(name)) return 'archive';
  if (SOURCE.test(name)) return 'source';
  return 'unknown';
}

/** c++ when any file is C++ by its extension, else c. */
export function languageOfFiles(names: string[]): 'c' | 'c++' {
  return names.some((n) => CXX.test(n)) ? 'c++' : 'c';
}

export interface DropPlan {
  model: string | null;
  sources: string[];
  refused: { name: string; reason: string }[];
}

/**
 * Sorts dropped files into what a job takes: one ONNX model, or source files; never both. Archives
 * are refused with a reason, since a job's source is a list of files.
 */
export function planDrop(names: string[], current: { hasModel: boolean; hasSources: boolean }): DropPlan {
  const plan: DropPlan = { model: null, sources: [], refused: [] };
  for (const name of names) {
    const role = fileRole(name);
    if (role === 'model') {
      if (plan.model || plan.sources.length || current.hasSources) plan.refused.push({ name, reason: 'a job compiles one model, or source files, not both' });
      else plan.model = name;
    } else if (role === 'source') {
      if (plan.model || current.hasModel) plan.refused.push({ name, reason: 'a job compiles one model, or source files, not both' });
      else plan.sources.push(name);
    } else if (role === 'archive') {
      plan.refused.push({ name, reason: 'archives are not accepted as job input yet: drop the files themselves' });
    } else {
      plan.refused.push({ name, reason: 'not an ONNX model (.onnx) or a C/C++ file (.c, .h, .cpp, ...)' });
    }
  }
  return plan;
}
