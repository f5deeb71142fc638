import { useMemo } from 'react';
import { type Language, tokenize } from '../lib/highlight';

export function Highlighted({ code, lang }: { code: string; lang: Language }) {
  const tokens = useMemo(() => tokenize(code, lang), [code, lang]);
  return (
    <>
      {tokens.map((t, i) =>
        t.type === 'plain' ? (
          t.text
        ) : (
          <span key={i} className={`tok-${t.type}`}>
            {t.text}
          </span>
        ),
      )}
    </>
  );
}

/** Read-only code with line numbers, for generated C, assembly, IR and PTX. */
export function CodeView({ code, lang, label }: { code: string; lang: Language; label: string }) {
  const lines = useMemo(() => code.split('\n').length, [code]);
  return (
    <div className="codeview" role="region" aria-label={label} tabIndex={0}>
      <pre className="gutter" aria-hidden="true">
        {Array.from({ length: lines }, (_, i) => i + 1).join('\n')}
      </pre>
      <pre className="code">
        <code>
          <Highlighted code={code} lang={lang} />
        </code>
      </pre>
    </div>
  );
}
