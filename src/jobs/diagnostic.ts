export type DiagnosticSeverity = 'error' | 'warning' | 'note' | 'remark' | 'fatal';

/** One compiler message, parsed out of the toolchain's output. */
export interface Diagnostic {
  file: string | null;
  line: number | null;
  column: number | null;
  severity: DiagnosticSeverity;
  message: string;
  /** The warning flag or option that controls it, when the compiler names one (e.g. -Wunused-variable). */
  option?: string;
}
