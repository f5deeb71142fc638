import { type KeyboardEvent, useRef } from 'react';
import type { Language } from '../lib/highlight';
import { Highlighted } from './Code';

/**
 * A plain textarea over its own highlighted copy: the browser keeps editing, selection, undo and
 * accessibility; the layer below only paints colours. Tab indents; Escape then Tab leaves.
 */
export function CodeEditor({ value, onChange, lang, label, id }: { value: string; onChange: (v: string) => void; lang: Language; label: string; id: string }) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const escaped = useRef(false);
  const keyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape') {
      escaped.current = true;
      return;
    }
    if (e.key === 'Tab' && !e.shiftKey && !escaped.current) {
      e.preventDefault();
      const t = e.currentTarget;
      const { selectionStart: s, selectionEnd: end } = t;
      onChange(`${value.slice(0, s)}    ${value.slice(end)}`);
      requestAnimationFrame(() => ref.current?.setSelectionRange(s + 4, s + 4));
    }
    escaped.current = false;
  };
  return (
    <div className="editor">
      <pre className="editor-paint" aria-hidden="true">
        <code>
          <Highlighted code={value} lang={lang} />
          {'\n'}
        </code>
      </pre>
      <textarea
        id={id}
        ref={ref}
        aria-label={label}
        aria-describedby={`${id}-hint`}
        spellCheck={false}
        autoCapitalize="off"
        autoComplete="off"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onKeyDown={keyDown}
      />
      <span id={`${id}-hint`} className="sr-only">
        Tab inserts spaces; press Escape, then Tab, to move on.
      </span>
    </div>
  );
}
