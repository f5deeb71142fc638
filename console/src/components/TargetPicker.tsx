import { useMemo } from 'react';
import { choiceWarning, groupTargets, languageConflict, modelConflict, type ModelCompilerList, toggle } from '../lib/targets';
import type { TargetCatalog } from '../lib/types';

/**
 * The live catalog as checkboxes, one fieldset per kind of target, presets first. Unavailable
 * choices stay visible, disabled, with the reason.
 */
export function TargetPicker({ catalog, selected, onChange, verify, language, models }: { catalog: TargetCatalog; selected: string[]; onChange: (s: string[]) => void; verify: boolean; language: string | null; models?: ModelCompilerList | null }) {
  const groups = useMemo(() => groupTargets(catalog), [catalog]);
  const all = useMemo(() => new Map(groups.flatMap((g) => g.choices).map((c) => [c.name, c])), [groups]);
  const warnings = selected
    .map((n) => all.get(n))
    .flatMap((c) => (c ? [models !== undefined && modelConflict(c, models ?? null) ? `${c.name} ${modelConflict(c, models ?? null)}` : choiceWarning(c, verify, language)] : []))
    .filter((w): w is string => !!w);
  return (
    <div className="picker">
      {groups.map((g) => (
        <fieldset key={g.kind} className="picker-group" data-kind={g.kind}>
          <legend>
            {g.label}{' '}
            <span className="muted">
              {verify ? `${g.choices.filter((c) => c.available && c.verifiable).length} of ${g.choices.length} can be built and verified now` : `${g.available} of ${g.choices.length} available`}
            </span>
          </legend>
          <div className="choices">
            {g.choices.map((c) => {
              const id = `target-${c.name}`;
              const checked = selected.includes(c.name);
              // A model job: only the targets a model compiler serves (AMD GPUs have none), each other one disabled with why.
              const conflict = models !== undefined ? modelConflict(c, models) : languageConflict(c, language);
              const usable = c.available && !conflict;
              return (
                <label key={c.name} htmlFor={id} className={`choice${checked ? ' checked' : ''}${usable ? '' : ' unavailable'}`} data-target={c.name}>
                  <input id={id} type="checkbox" checked={checked} disabled={!usable && !checked} onChange={() => onChange(toggle(selected, c.name))} aria-describedby={`${id}-desc`} />
                  <span className="choice-body">
                    <span className="choice-name">
                      {c.name}
                      {c.preset && <span className="tag">preset</span>}
                    </span>
                    <span className="choice-desc" id={`${id}-desc`}>
                      {c.description}
                      {c.preset ? ` · ${c.target}, ${c.detail}` : ''}
                      {c.available ? (c.toolchain ? ` · ${c.toolchain}` : '') : <span className="why"> Unavailable: {c.unavailableReason}</span>}
                      {conflict && <span className="why"> It {conflict}.</span>}
                      {c.available && verify && !c.verifiable ? <span className="why"> No runner to verify it now.</span> : null}
                    </span>
                  </span>
                </label>
              );
            })}
          </div>
        </fieldset>
      ))}
      {warnings.length > 0 && (
        <ul className="warnings" aria-live="polite">
          {warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
