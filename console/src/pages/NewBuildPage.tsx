import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, unwrap, uploadFile } from '../api';
import { CodeEditor } from '../components/CodeEditor';
import { DropZone, Progress } from '../components/DropZone';
import { ModelView } from '../components/ModelView';
import { Loading, Problem } from '../components/States';
import { TargetPicker } from '../components/TargetPicker';
import { useAsync, useTitle } from '../hooks';
import { ACCEPT, languageOfFiles, planDrop } from '../lib/files';
import { formatBytes, shape } from '../lib/format';
import { languageOf } from '../lib/highlight';
import { parseShape } from '../lib/model';
import { type BuildForm, catalogLanguages, formProblems, jobRequest, MODEL_OUTPUTS, OPT_LEVELS, sourceOutputs } from '../lib/request';
import type { ModelCompilers, ModelInspection, TargetCatalog } from '../lib/types';
import { navigate } from '../router';
import { useSession } from '../session';

interface UploadState {
  key: string;
  name: string;
  size: number;
  sent: number;
  uploadId: string | null;
  error: string | null;
}

const EXAMPLE = `#include <stdio.h>

/* y = a * x + y, element by element */
static void saxpy(int n, float a, const float *x, float *y) {
    for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

int main(void) {
    float x[4] = {1, 2, 3, 4}, y[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    saxpy(4, 2.0f, x, y);
    printf("%g %g %g %g\\n", y[0], y[1], y[2], y[3]);
    return 0;
}
`;

let uploadSeq = 0;

export function NewBuildPage() {
  useTitle('New build');
  const { api } = useSession();
  const [catalog, reloadCatalog] = useAsync<TargetCatalog>(() => unwrap(api.GET('/v1/targets')), [api]);
  const [compilers] = useAsync<ModelCompilers>(() => unwrap(api.GET('/v1/models/compilers')), [api]);
  const [mode, setMode] = useState<'source' | 'model'>('source');
  const [model, setModel] = useState<UploadState | null>(null);
  const [sources, setSources] = useState<UploadState[]>([]);
  const [archive, setArchive] = useState<UploadState | null>(null);
  const [languageChoice, setLanguageChoice] = useState('auto');
  const [refused, setRefused] = useState<{ name: string; reason: string }[]>([]);
  const [editorPath, setEditorPath] = useState('main.c');
  const [editorCode, setEditorCode] = useState(EXAMPLE);
  const [useEditor, setUseEditor] = useState(true);
  const [shapeText, setShapeText] = useState<Record<string, string>>({});
  const [inspection, setInspection] = useState<{ state: 'idle' } | { state: 'loading' } | { state: 'ready'; data: ModelInspection } | { state: 'error'; message: string }>({ state: 'idle' });
  const [targets, setTargets] = useState<string[]>([]);
  const [outputs, setOutputs] = useState<string[]>(['object', 'assembly']);
  const [optLevel, setOptLevel] = useState('-O2');
  const [extraOptions, setExtraOptions] = useState('');
  const [verify, setVerify] = useState(true);
  const [profile, setProfile] = useState(false);
  const [rtol, setRtol] = useState('');
  const [atol, setAtol] = useState('');
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<string | null>(null);
  const [attempted, setAttempted] = useState(false);
  const [openInputs, setOpenInputs] = useState<string[]>([]);
  const idempotencyKey = useRef(crypto.randomUUID());

  // Availability changes as workers come and go: the catalog refreshes while the page is open.
  useEffect(() => {
    const t = setInterval(() => document.visibilityState === 'visible' && reloadCatalog(), 15_000);
    return () => clearInterval(t);
  }, [reloadCatalog]);

  const upload = async (file: File, onDone: (s: UploadState) => void, onUpdate: (s: UploadState) => void) => {
    let s: UploadState = { key: `u${++uploadSeq}`, name: file.name, size: file.size, sent: 0, uploadId: null, error: null };
    onUpdate(s);
    try {
      const up = await uploadFile(api, file, file.name, (sent) => onUpdate((s = { ...s, sent })));
      s = { ...s, sent: file.size, uploadId: up.id };
    } catch (e) {
      s = { ...s, error: (e as Error).message };
    }
    onUpdate(s);
    onDone(s);
  };

  const onFiles = (files: File[]) => {
    const plan = planDrop(files.map((f) => f.name), { hasModel: mode === 'model' && !!model, hasSources: mode === 'source' && sources.length > 0, hasArchive: mode === 'source' && !!archive });
    setRefused(plan.refused);
    if (plan.model) {
      const file = files.find((f) => f.name === plan.model)!;
      setMode('model');
      setOutputs((o) => o.filter((x) => (MODEL_OUTPUTS as readonly string[]).includes(x)));
      setInspection({ state: 'idle' });
      setShapeText({});
      setOpenInputs([]);
      void upload(file, (s) => s.uploadId && inspect(s.uploadId, {}), setModel);
    }
    if (plan.archive) {
      setMode('source');
      void upload(files.find((f) => f.name === plan.archive)!, () => undefined, setArchive);
    }
    for (const name of plan.sources) {
      const file = files.find((f) => f.name === name)!;
      setMode('source');
      let key = '';
      void upload(
        file,
        () => undefined,
        (s) => {
          key = s.key;
          setSources((list) => (list.some((x) => x.key === key) ? list.map((x) => (x.key === key ? s : x)) : [...list, s]));
        },
      );
    }
  };

  const inspect = async (uploadId: string, shapes: Record<string, number[]>) => {
    setInspection({ state: 'loading' });
    try {
      const data = await unwrap(api.POST('/v1/models/inspect', { body: { uploadId, inputShapes: shapes } }));
      setInspection({ state: 'ready', data });
      if (!Object.keys(shapes).length) setOpenInputs(data.inputs.filter((t) => t.shape.some((d) => typeof d === 'string')).map((t) => t.name));
    } catch (e) {
      setInspection({ state: 'error', message: (e as Error).message });
    }
  };

  // Symbolic dimensions: the shapes typed so far, for the inputs the model leaves open.
  const parsedShapes = useMemo(() => {
    const shapes: Record<string, number[]> = {};
    const errors: Record<string, string> = {};
    for (const name of openInputs) {
      const r = parseShape(shapeText[name] ?? '');
      if ('dims' in r) shapes[name] = r.dims;
      else errors[name] = r.error;
    }
    return { shapes, errors };
  }, [shapeText, openInputs]);
  const shapesKey = JSON.stringify(parsedShapes.shapes);
  useEffect(() => {
    if (mode !== 'model' || !model?.uploadId || !openInputs.length) return;
    const t = setTimeout(() => void inspect(model.uploadId!, parsedShapes.shapes), 400);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shapesKey]);

  const editorIncluded = mode === 'source' && useEditor && editorCode.trim() !== '';
  const allSources = sources.filter((s) => s.uploadId).map((s) => ({ path: s.name, uploadId: s.uploadId! }));
  const detected = languageOfFiles([...sources.map((s) => s.name), ...(editorIncluded ? [editorPath] : [])]);
  const language = languageChoice === 'auto' ? (detected ?? 'c') : languageChoice;
  const catalogTargets = catalog.state === 'ready' ? catalog.data.targets : [];
  const basePicked = catalog.state === 'ready' ? targets.map((n) => catalog.data.presets.find((p) => p.name === n)?.target ?? n) : [];
  const outputChoices = mode === 'model' ? [...MODEL_OUTPUTS] : sourceOutputs(catalogTargets, basePicked, language);
  const form: BuildForm = {
    mode,
    files: [...allSources, ...(editorIncluded ? [{ path: editorPath, uploadId: 'editor' }] : [])],
    archiveUploadId: mode === 'source' ? (archive?.uploadId ?? null) : null,
    language,
    modelUploadId: model?.uploadId ?? null,
    inputShapes: parsedShapes.shapes,
    targets,
    outputs: outputs.filter((o) => outputChoices.includes(o)),
    optLevel,
    extraOptions,
    verify,
    profile: mode === 'model' && verify && profile,
    rtol,
    atol,
  };
  const problems = formProblems(form);
  if (mode === 'model' && Object.keys(parsedShapes.errors).length) problems.push(`Give the shape of ${Object.keys(parsedShapes.errors).join(', ')}.`);
  if (editorIncluded && sources.some((s) => s.name === editorPath)) problems.push(`Two files are called ${editorPath}: rename the editor's file.`);
  const uploading = (mode === 'model' ? (model ? [model] : []) : [...sources, ...(archive ? [archive] : [])]).some((s) => !s.uploadId && !s.error);

  const submit = async () => {
    setAttempted(true);
    setSubmitError(null);
    if (problems.length || uploading) return;
    setSubmitting(true);
    try {
      const files = [...form.files];
      if (editorIncluded) {
        const up = await uploadFile(api, new Blob([editorCode], { type: 'text/plain' }), editorPath, () => undefined);
        files[files.length - 1] = { path: editorPath, uploadId: up.id };
      }
      const body = jobRequest({ ...form, files });
      const job = await unwrap(api.POST('/v1/jobs', { body, params: { header: { 'Idempotency-Key': idempotencyKey.current } } }));
      navigate(`/jobs/${job.id}`);
    } catch (e) {
      setSubmitError(e instanceof ApiError ? e.message : (e as Error).message);
      setSubmitting(false);
      idempotencyKey.current = crypto.randomUUID();
    }
  };

  const languages = catalogLanguages(catalogTargets);
  return (
    <div className="page">
      <div className="page-head">
        <h1>New build</h1>
      </div>
      <ol className="steps">
        <li className="card">
          <h2><span className="step-no">1</span> What to build</h2>
          <div className="segmented" role="group" aria-label="Input">
            <button type="button" aria-pressed={mode === 'source'} onClick={() => setMode('source')}>C / C++ source</button>
            <button type="button" aria-pressed={mode === 'model'} onClick={() => setMode('model')}>ONNX model</button>
          </div>
          <DropZone
            onFiles={onFiles}
            accept={ACCEPT}
            title="Drop an ONNX model, source files or a project archive here"
            hint="A .onnx file; or C, C++, CUDA, HIP, Fortran, Go, Rust or LLVM IR files with their headers, and/or one .tar, .tar.gz or .zip of the project."
          />
          {refused.length > 0 && (
            <div className="problem" role="alert">
              <strong>Some files were not added</strong>
              <ul>{refused.map((r) => <li key={r.name}><code>{r.name}</code>: {r.reason}</li>)}</ul>
            </div>
          )}
          {mode === 'model' ? (
            <ModelInput model={model} onRemove={() => { setModel(null); setInspection({ state: 'idle' }); }} inspection={inspection} compilers={compilers.state === 'ready' ? compilers.data : null} catalog={catalog.state === 'ready' ? catalog.data : null} targets={targets} shapeText={shapeText} setShapeText={setShapeText} openInputs={openInputs} shapeErrors={parsedShapes.errors} attempted={attempted} />
          ) : (
            <>
              {(sources.length > 0 || archive) && (
                <UploadList
                  items={[...(archive ? [archive] : []), ...sources]}
                  onRemove={(key) => (archive?.key === key ? setArchive(null) : setSources((l) => l.filter((s) => s.key !== key)))}
                />
              )}
              <label className="field language">
                <span>Language</span>
                <select value={languageChoice} onChange={(e) => setLanguageChoice(e.target.value)}>
                  <option value="auto">From the file names{detected ? ` (${detected})` : archive ? ' (say which for an archive)' : ''}</option>
                  {(languages.length ? languages : ['c', 'c++']).map((l) => <option key={l} value={l}>{l}</option>)}
                </select>
              </label>
              <div className="editor-head">
                <label className="check">
                  <input type="checkbox" checked={useEditor} onChange={(e) => setUseEditor(e.target.checked)} /> Include a file written here
                </label>
                <label className="inline">
                  <span>File name</span>
                  <input value={editorPath} onChange={(e) => setEditorPath(e.target.value)} disabled={!useEditor} aria-label="Editor file name" />
                </label>
              </div>
              {useEditor && <CodeEditor id="source-editor" value={editorCode} onChange={setEditorCode} lang={languageOf(editorPath)} label={`Source of ${editorPath}`} />}
            </>
          )}
        </li>

        <li className="card">
          <h2><span className="step-no">2</span> Targets</h2>
          {catalog.state === 'loading' && <Loading label="Loading the target catalog…" />}
          {catalog.state === 'error' && <Problem title="The target catalog could not be loaded" message={catalog.error.message} onRetry={reloadCatalog} />}
          {catalog.state === 'ready' && <TargetPicker catalog={catalog.data} selected={targets} onChange={setTargets} verify={verify} language={mode === 'source' ? language : null} {...(mode === 'model' ? { models: compilers.state === 'ready' ? compilers.data : null } : {})} />}
        </li>

        <li className="card">
          <h2><span className="step-no">3</span> Options</h2>
          <div className="options">
            {mode === 'source' && (
              <>
                <label className="field">
                  <span>Optimisation</span>
                  <select value={optLevel} onChange={(e) => setOptLevel(e.target.value)}>
                    {OPT_LEVELS.map((o) => <option key={o} value={o}>{o}</option>)}
                  </select>
                </label>
                <label className="field grow">
                  <span>More compiler options</span>
                  <input value={extraOptions} onChange={(e) => setExtraOptions(e.target.value)} placeholder="-std=c11 -Wall" spellCheck={false} />
                </label>
              </>
            )}
            <fieldset className="field">
              <legend>Outputs</legend>
              {outputChoices.length === 0 && <p className="muted small">None of the picked targets builds {language}.</p>}
              <div className="inline-checks">
                {outputChoices.map((o) => (
                  <label key={o} className="check">
                    <input type="checkbox" checked={outputs.includes(o)} onChange={() => setOutputs((l) => (l.includes(o) ? l.filter((x) => x !== o) : [...l, o]))} /> {o}
                  </label>
                ))}
              </div>
            </fieldset>
            <fieldset className="field">
              <legend>Verification</legend>
              <label className="check">
                <input type="checkbox" checked={verify} onChange={(e) => setVerify(e.target.checked)} />{' '}
                {mode === 'model' ? 'Run each build on its target and compare its outputs with ONNX Runtime' : 'Run main on each target and compare its output with a reference build'}
              </label>
              {verify && mode === 'model' && (
                <div className="inline-checks">
                  <label className="inline"><span>rtol</span><input inputMode="decimal" value={rtol} onChange={(e) => setRtol(e.target.value)} placeholder="1e-3" size={8} /></label>
                  <label className="inline"><span>atol</span><input inputMode="decimal" value={atol} onChange={(e) => setAtol(e.target.value)} placeholder="1e-5" size={8} /></label>
                </div>
              )}
              {verify && mode === 'model' && (
                <label className="check">
                  <input type="checkbox" checked={profile} onChange={(e) => setProfile(e.target.checked)} /> Profile each build: time every kernel on its runner (CPU and WebAssembly targets)
                </label>
              )}
            </fieldset>
          </div>
        </li>
      </ol>
      <div className="submit-bar">
        {attempted && problems.length > 0 && (
          <ul className="warnings" role="alert">{problems.map((p) => <li key={p}>{p}</li>)}</ul>
        )}
        {submitError && <Problem title="Kiln refused the job" message={submitError} />}
        <button type="button" className="btn primary big" onClick={submit} disabled={submitting || uploading}>
          {submitting ? 'Submitting…' : uploading ? 'Uploading…' : targets.length ? `Build for ${targets.length} target${targets.length === 1 ? '' : 's'}` : 'Build'}
        </button>
      </div>
    </div>
  );
}

function UploadList({ items, onRemove }: { items: UploadState[]; onRemove: (key: string) => void }) {
  return (
    <ul className="uploads" aria-label="Files">
      {items.map((s) => (
        <li key={s.key} className={s.error ? 'failed' : s.uploadId ? 'done' : 'busy'} data-file={s.name}>
          <code>{s.name}</code> <span className="muted">{formatBytes(s.size)}</span>
          {!s.uploadId && !s.error && <Progress sent={s.sent} total={s.size} label={`Uploading ${s.name}`} />}
          {s.uploadId && <span className="ok-text">uploaded</span>}
          {s.error && <span className="problem-inline" role="alert">Upload failed: {s.error}</span>}
          <button type="button" className="btn small ghost" onClick={() => onRemove(s.key)} aria-label={`Remove ${s.name}`}>Remove</button>
        </li>
      ))}
    </ul>
  );
}

function ModelInput(props: {
  model: UploadState | null;
  onRemove: () => void;
  inspection: { state: 'idle' } | { state: 'loading' } | { state: 'ready'; data: ModelInspection } | { state: 'error'; message: string };
  compilers: ModelCompilers | null;
  catalog: TargetCatalog | null;
  targets: string[];
  shapeText: Record<string, string>;
  setShapeText: (f: (p: Record<string, string>) => Record<string, string>) => void;
  openInputs: string[];
  shapeErrors: Record<string, string>;
  /** The form was sent: every field says what is wrong with it. */
  attempted: boolean;
}) {
  const { model, inspection } = props;
  // A field says what is wrong with it only once it has been typed in and left (or the form was sent).
  const [touched, setTouched] = useState<Set<string>>(new Set());
  if (!model) return <p className="muted">No model yet: drop a <code>.onnx</code> file above.</p>;
  return (
    <div className="model-input">
      <UploadList items={[model]} onRemove={props.onRemove} />
      {inspection.state === 'loading' && <Loading label="Reading the model…" />}
      {inspection.state === 'error' && <Problem title="Kiln cannot use this model" message={inspection.message} />}
      {inspection.state === 'ready' && (
        <>
          {props.openInputs.length > 0 && (
            <fieldset className="shapes">
              <legend>Input shapes</legend>
              <p className="muted small">The model leaves some dimensions open; give each input's whole shape.</p>
              {props.openInputs.map((name) => {
                const declared = inspection.data.inputs.find((t) => t.name === name);
                return (
                  <label key={name} className="field">
                    <span><code>{name}</code> <span className="muted">declared {declared ? shape(declared.shape) : ''}</span></span>
                    <input
                      value={props.shapeText[name] ?? ''}
                      placeholder={declared ? declared.shape.map((d) => (typeof d === 'string' ? 1 : d)).join(', ') : ''}
                      onChange={(e) => props.setShapeText((p) => ({ ...p, [name]: e.target.value }))}
                      onBlur={() => setTouched((t) => new Set(t).add(name))}
                      aria-invalid={(props.attempted || touched.has(name)) && !!props.shapeErrors[name]}
                      aria-label={`Shape of ${name}`}
                      spellCheck={false}
                    />
                    {(props.attempted || touched.has(name)) && props.shapeErrors[name] && <span className="field-error">{props.shapeErrors[name]}</span>}
                  </label>
                );
              })}
            </fieldset>
          )}
          {inspection.data.problem && !(props.openInputs.length && Object.keys(props.shapeErrors).length) && <Problem title="A job with this model would be refused" message={inspection.data.problem} />}
          <ModelView inputs={inspection.data.inputs} outputs={inspection.data.outputs} ops={inspection.data.ops} compilers={props.compilers} targets={props.catalog?.targets ?? []} highlight={props.targets} />
        </>
      )}
    </div>
  );
}
