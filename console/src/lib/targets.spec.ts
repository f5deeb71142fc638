import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { choiceWarning, groupTargets, languageConflict, toggle } from './targets';
import type { TargetCatalog } from './types';

const target = (name: string, kind: string, available = true, extra: object = {}) => ({
  name, triple: `${name}-triple`, pool: kind, description: `${name} description`, os: 'linux', kind, available,
  reason: available ? null : `no live worker serves pool "${kind}"`, workers: available ? 1 : 0,
  toolchains: available ? [{ key: 'clang', version: '19.1.7' }] : [], cpus: [], verifyPool: `verify-${name}`, verifiable: available, runners: available ? ['native'] : [],
  languages: kind === 'gpu' ? ['cuda'] : ['c', 'c++'], liveLanguages: available ? (kind === 'gpu' ? ['cuda'] : ['c']) : [], ...extra,
});

const catalog = {
  targets: [
    target('x86_64-linux-gnu', 'cpu'),
    target('wasm32-wasi', 'wasm'),
    target('nvptx64-nvidia-cuda', 'gpu', false),
    target('aarch64-linux-gnu', 'cpu', true, { verifiable: false, runners: [] }),
    target('fpga-thing', 'fpga', false),
  ],
  presets: [
    { name: 'graviton3', target: 'aarch64-linux-gnu', cpu: 'neoverse-v1', features: [], description: 'AWS Graviton3', available: true },
    { name: 'h200', target: 'nvptx64-nvidia-cuda', cpu: null, features: [], description: 'NVIDIA H200', available: false },
  ],
} as unknown as TargetCatalog;

describe('groupTargets', () => {
  const groups = groupTargets(catalog);

  it('groups by the catalog\'s kind: CPU, WebAssembly, GPU first, then kinds it does not know by name', () => {
    assert.deepEqual(groups.map((g) => [g.kind, g.label]), [['cpu', 'CPU'], ['wasm', 'WebAssembly'], ['gpu', 'GPU'], ['fpga', 'FPGA']]);
  });

  it('puts presets first in their target\'s group, then base targets in catalog order', () => {
    assert.deepEqual(groups[0].choices.map((c) => [c.name, c.preset]), [['graviton3', true], ['x86_64-linux-gnu', false], ['aarch64-linux-gnu', false]]);
    assert.equal(groups[0].choices[0].detail, 'neoverse-v1');
    assert.equal(groups[0].choices[0].toolchain, 'clang 19.1.7');
    assert.equal(groups[0].available, 3);
  });

  it('keeps unavailable targets and presets, and says why', () => {
    const gpu = groups[2].choices;
    assert.deepEqual(gpu.map((c) => c.name), ['h200', 'nvptx64-nvidia-cuda']);
    assert.equal(gpu[1].available, false);
    assert.equal(gpu[1].unavailableReason, 'no live worker serves pool "gpu"');
    assert.equal(gpu[0].unavailableReason, 'builds for nvptx64-nvidia-cuda, which is unavailable: no live worker serves pool "gpu"');
    assert.equal(groups[2].available, 0);
  });

  it('warns about a chosen target that will wait to build or to be verified', () => {
    const byName = new Map(groups.flatMap((g) => g.choices).map((c) => [c.name, c]));
    assert.equal(choiceWarning(byName.get('x86_64-linux-gnu')!, true), null);
    assert.match(choiceWarning(byName.get('aarch64-linux-gnu')!, true)!, /no live worker can verify it now/);
    assert.equal(choiceWarning(byName.get('aarch64-linux-gnu')!, false), null);
    assert.match(choiceWarning(byName.get('h200')!, false)!, /its build will wait/);
  });

  it('says which targets do not build the job\'s language, or have no live worker for it', () => {
    const byName = new Map(groups.flatMap((g) => g.choices).map((c) => [c.name, c]));
    assert.equal(languageConflict(byName.get('x86_64-linux-gnu')!, 'c'), null);
    assert.equal(languageConflict(byName.get('x86_64-linux-gnu')!, 'cuda'), 'does not build cuda (it builds c, c++)');
    assert.equal(languageConflict(byName.get('h200')!, 'cuda'), null, 'a preset builds what its target builds');
    assert.equal(choiceWarning(byName.get('x86_64-linux-gnu')!, false, 'cuda'), 'x86_64-linux-gnu does not build cuda (it builds c, c++)');
    assert.match(choiceWarning(byName.get('x86_64-linux-gnu')!, false, 'c++')!, /no live worker builds c\+\+ for it now/);
  });

  it('toggles a selection in the order of picking', () => {
    assert.deepEqual(toggle(toggle(toggle([], 'a'), 'b'), 'a'), ['b']);
    assert.deepEqual(toggle(['b'], 'a'), ['b', 'a']);
  });
});
