import { useState } from 'react';

/** A command to copy: selectable text and a button that copies it. */
export function CopyBox({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState<'idle' | 'done' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('done');
    } catch {
      setCopied('failed');
    }
    setTimeout(() => setCopied('idle'), 2000);
  };
  return (
    <div className="copybox">
      <pre aria-label={label} tabIndex={0}>
        <code>{text}</code>
      </pre>
      <button type="button" className="btn small" onClick={copy}>
        {copied === 'done' ? 'Copied' : copied === 'failed' ? 'Select and copy' : 'Copy'}
      </button>
      <span className="sr-only" aria-live="polite">
        {copied === 'done' ? 'Copied to the clipboard' : ''}
      </span>
    </div>
  );
}
