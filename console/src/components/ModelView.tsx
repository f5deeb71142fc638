import { shape } from '../lib/format';
import { opsByCount, opSupport } from '../lib/model';
import { kindLabel } from '../lib/targets';
import type { CatalogTarget, ModelCompilers } from '../lib/types';

interface Tensor {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

/** A model's inputs and outputs, its operators, and which targets can compile them. */
export function ModelView({ inputs, outputs, ops, compilers, targets, highlight }: { inputs: Tensor[]; outputs: Tensor[]; ops: Record<string, number>; compilers: ModelCompilers | null; targets: CatalogTarget[]; highlight?: string[] }) {
  const support = compilers ? opSupport(ops, compilers, targets) : [];
  const total = Object.keys(ops).length;
  return (
    <div className="model-view" data-testid="model-view">
      <div className="grid2">
        <div className="table-wrap">
          <table>
            <caption>Inputs and outputs</caption>
            <thead>
              <tr><th scope="col">name</th><th scope="col">direction</th><th scope="col">dtype</th><th scope="col">shape</th></tr>
            </thead>
            <tbody>
              {inputs.map((t) => (
                <tr key={`in-${t.name}`}><td><code>{t.name}</code></td><td>input</td><td>{t.dtype}</td><td><code>{shape(t.shape)}</code></td></tr>
              ))}
              {outputs.map((t) => (
                <tr key={`out-${t.name}`}><td><code>{t.name}</code></td><td>output</td><td>{t.dtype}</td><td><code>{shape(t.shape)}</code></td></tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h4 className="caption-like">Operators ({total} kinds, {Object.values(ops).reduce((a, b) => a + b, 0)} nodes)</h4>
          <ul className="chips" aria-label="Operators and their counts">
            {opsByCount(ops).map(([op, n]) => (
              <li key={op} className="chip">
                {op} <span className="muted">×{n}</span>
              </li>
            ))}
          </ul>
        </div>
      </div>
      {support.length > 0 && (
        <div className="table-wrap">
          <table className="support">
            <caption>Operator support per target</caption>
            <thead>
              <tr><th scope="col">target</th><th scope="col">kind</th><th scope="col">compiler</th><th scope="col">supports</th></tr>
            </thead>
            <tbody>
              {support.map((s) => (
                <tr key={s.target} className={highlight?.includes(s.target) ? 'picked' : ''} data-target={s.target}>
                  <td><code>{s.target}</code></td>
                  <td>{kindLabel(s.kind)}</td>
                  <td>{s.compiler ?? '—'}</td>
                  <td>
                    {s.unsupported.length === 0 ? (
                      <span className="yes">✓ all {total} operators</span>
                    ) : s.compiler === null ? (
                      <span className="no">none: no model compiler for {kindLabel(s.kind)} targets yet</span>
                    ) : (
                      <span className="no">
                        {s.supported.length} of {total}; not {s.unsupported.join(', ')}
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
