import { type DragEvent, useId, useRef, useState } from 'react';

/** Drag files here, or press the button to pick them: both reach onFiles. */
export function DropZone({ onFiles, accept, title, hint }: { onFiles: (files: File[]) => void; accept: string; title: string; hint: string }) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const id = useId();
  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length) onFiles(files);
  };
  return (
    <div
      className={`dropzone${over ? ' over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
      data-testid="dropzone"
    >
      <svg className="dropzone-icon" viewBox="0 0 24 24" aria-hidden="true">
        <path d="M12 16V4m0 0-4 4m4-4 4 4M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <p className="dropzone-title">{title}</p>
      <p className="dropzone-hint" id={`${id}-hint`}>
        {hint}
      </p>
      <button type="button" className="btn" onClick={() => input.current?.click()} aria-describedby={`${id}-hint`}>
        Choose files
      </button>
      <input
        ref={input}
        type="file"
        multiple
        accept={accept}
        hidden
        data-testid="file-input"
        onChange={(e) => {
          const files = [...(e.target.files ?? [])];
          e.target.value = '';
          if (files.length) onFiles(files);
        }}
      />
    </div>
  );
}

export function Progress({ sent, total, label }: { sent: number; total: number; label: string }) {
  const pct = total > 0 ? Math.round((sent / total) * 100) : 0;
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
      <div className="progress-bar" style={{ width: `${pct}%` }} />
    </div>
  );
}
