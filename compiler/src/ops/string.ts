import { CompileError, numel } from '../ir';
import { attrInt, attrString, OpDef, RUN_ERRORS } from './op';

/** A C string literal of UTF-8 text. */
export function cString(text: string): string {
  return `"${[...Buffer.from(text, 'utf8')].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c && b !== 0x3f ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`)).join('')}"`;
}

const ACTIONS = ['NONE', 'LOWER', 'UPPER'] as const;

/**
 * StringNormalizer: drops the stopwords (case-sensitive or not), then changes case. Case changes
 * and case-insensitive matching cover ASCII letters; other characters pass unchanged (locale is
 * not consulted). With stopwords the output's length depends on the values: its shape is the
 * input's as the largest, and the run reports the actual one; it must be a graph output.
 */
const stringNormalizer: OpDef = {
  type: 'StringNormalizer',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'string') throw new CompileError('invalid', `StringNormalizer ${node.name}: the input must be a string tensor, not ${x.dtype}`);
    if (!(x.shape.length === 1 || (x.shape.length === 2 && x.shape[0] === 1))) throw new CompileError('invalid', `StringNormalizer ${node.name}: the input must have shape [C] or [1, C], not [${x.shape}]`);
    const action = attrString(node, 'case_change_action', 'NONE');
    if (!(ACTIONS as readonly string[]).includes(action)) throw new CompileError('invalid', `StringNormalizer ${node.name}: case_change_action must be one of ${ACTIONS.join(', ')}, not ${action}`);
    const stopwords = (node.attrs.stopwords as string[] | undefined) ?? [];
    if (!ctx.graph.outputs.includes(node.outputs[0])) throw new CompileError('unsupported', `StringNormalizer ${node.name}: its output must be a graph output (other operators do not take string tensors)`);
    // An empty result is one empty string, as ONNX Runtime gives.
    ctx.output(node, 0, { dtype: 'string', shape: x.shape.length === 1 ? [Math.max(1, x.shape[0])] : [1, Math.max(1, x.shape[1])] });
    if (stopwords.length) ctx.graph.tensors.get(node.outputs[0])!.dynamic = true;
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const n = numel(x.shape);
    const action = attrString(node, 'case_change_action', 'NONE');
    const sensitive = attrInt(node, 'is_case_sensitive', 0) === 1;
    const stopwords = (node.attrs.stopwords as string[] | undefined) ?? [];
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    const lower = (c: string) => `(${c} >= 'A' && ${c} <= 'Z' ? ${c} + 32 : ${c})`;
    const upper = (c: string) => `(${c} >= 'a' && ${c} <= 'z' ? ${c} - 32 : ${c})`;
    const change = action === 'LOWER' ? lower('*c') : action === 'UPPER' ? upper('*c') : '*c';
    const same = sensitive ? '*a == *b' : `${lower('*a')} == ${lower('*b')}`;
    const dims = ctx.outputShape(node.outputs[0]);
    const arena = ctx.arena(node.name);
    return `static const char *const stop[${Math.max(1, stopwords.length)}] = { ${stopwords.map(cString).join(', ') || '""'} };
size_t total = 1;
for (long i = 0; i < ${n}; i++) total += strlen(${X}[i]) + 1;
free(${arena});
${arena} = (char *)malloc(total);
if (!${arena}) return ${RUN_ERRORS.outOfMemory};
char *p = ${arena};
long kept = 0;
for (long i = 0; i < ${n}; i++) {
  const char *s = ${X}[i];
  int stopped = 0;
  for (int w = 0; w < ${stopwords.length} && !stopped; w++) {
    const char *a = s, *b = stop[w];
    while (*a && *b && ${same}) { a++; b++; }
    stopped = *a == 0 && *b == 0;
  }
  if (stopped) continue;
  ${Y}[kept++] = p;
  for (const char *c = s; *c; c++) *p++ = (char)${change};
  *p++ = 0;
}
if (kept == 0) { *p = 0; ${Y}[kept++] = p; }${dims ? `\n${dims}[${x.shape.length - 1}] = kept;` : ''}`;
  },
};

export const STRING_OPS: OpDef[] = [stringNormalizer];
