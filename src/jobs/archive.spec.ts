import { strict as assert } from 'node:assert';
import { existsSync, lstatSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ArchiveError, archiveFormat, cmakeRoot, extractArchive, listArchive } from './archive';
import { tarOf, zipOf } from '../../test/support/archives';

describe('archives', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-archive-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const project = [
    { name: 'proj/', type: '5' },
    { name: 'proj/src/main.c', body: 'int main(void) { return 0; }\n' },
    { name: 'proj/include/util.h', body: '#define N 3\n' },
    { name: 'proj/README.md', body: 'hello' },
  ];

  it('tells tar, tar.gz and zip apart', async () => {
    assert.equal(archiveFormat(tarOf(project)), 'tar');
    assert.equal(archiveFormat(gzipSync(tarOf(project))), 'tar.gz');
    assert.equal(archiveFormat(await zipOf([{ name: 'a.c', body: 'x' }])), 'zip');
    assert.equal(archiveFormat(Buffer.from('int main;')), null);
  });

  it('lists and extracts a tar.gz project, byte for byte', async () => {
    const files = await listArchive(gzipSync(tarOf(project)));
    assert.deepEqual(files.map((f) => f.path), ['proj/src/main.c', 'proj/include/util.h', 'proj/README.md']);
    const dest = join(dir, 'tgz');
    await extractArchive(gzipSync(tarOf(project)), dest);
    assert.equal(await readFile(join(dest, 'proj/include/util.h'), 'utf8'), '#define N 3\n');
  });

  it('extracts a zip project', async () => {
    const dest = join(dir, 'zip');
    const files = await extractArchive(await zipOf([{ name: 'src/' }, { name: 'src/a.c', body: 'int a;' }, { name: './b.c', body: 'int b;' }]), dest);
    assert.deepEqual(files, [{ path: 'src/a.c', size: 6 }, { path: 'b.c', size: 6 }]);
    assert.equal(await readFile(join(dest, 'b.c'), 'utf8'), 'int b;');
  });

  it('refuses links, devices and paths that leave the folder, and writes nothing outside', async () => {
    const cases: [Buffer | Promise<Buffer>, RegExp][] = [
      [tarOf([{ name: '../evil.c', body: 'x' }]), /contains "\.\."/],
      [tarOf([{ name: 'a/../../evil.c', body: 'x' }]), /contains "\.\."/],
      [tarOf([{ name: '/etc/evil.c', body: 'x' }]), /absolute path/],
      [tarOf([{ name: 'link.c', type: '2', link: '/etc/passwd' }]), /symbolic link; only plain files/],
      [tarOf([{ name: 'hard.c', type: '1', link: '/etc/passwd' }]), /hard link/],
      [tarOf([{ name: 'dev', type: '3' }]), /only plain files and folders/],
      [tarOf([{ name: 'a.c', body: 'x' }, { name: 'a.c', body: 'y' }]), /appears twice/],
      [tarOf([{ name: 'a', body: 'x' }, { name: 'a/b.c', body: 'y' }]), /both a file and a folder/],
      [tarOf([{ name: '-fplugin.c', body: 'x' }]), /starting with "-"/],
      // zip writers refuse such names, so the bytes are patched after writing.
      [zipOf([{ name: 'xx/evil.c', body: 'x' }]).then((b) => Buffer.from(b.toString('latin1').replaceAll('xx/evil.c', '../evil.c'), 'latin1')), /\.\.|malformed/],
      [zipOf([{ name: 'link.c', body: '/etc/passwd', mode: 0o120777 }]), /link or special file/],
      [Promise.resolve(Buffer.from('not an archive at all')), /not a tar, tar.gz or zip/],
    ];
    for (const [i, [data, message]] of cases.entries()) {
      const dest = join(dir, `bad-${i}`);
      await assert.rejects(extractArchive(await data, dest), (e: Error) => e instanceof ArchiveError && message.test(e.message), `case ${i}`);
    }
    assert.equal(existsSync(join(dir, 'evil.c')), false);
    assert.equal(existsSync(join(dir, 'bad-3', 'link.c')) && lstatSync(join(dir, 'bad-3', 'link.c')).isSymbolicLink(), false);
  });

  it('stops at the file count and at the expanded size, counting real bytes', async () => {
    const many = tarOf(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.c`, body: 'x' })));
    await assert.rejects(listArchive(many, { maxFiles: 4, maxBytes: 1 << 20 }), /more than 4 files/);
    // A gzip bomb: 64 MiB of zeros in one entry compresses to a few kilobytes.
    const bomb = gzipSync(tarOf([{ name: 'zeros.c', body: '\0'.repeat(64 * 1024 * 1024) }]));
    assert.ok(bomb.length < 1 << 20);
    await assert.rejects(listArchive(bomb, { maxFiles: 10, maxBytes: 1 << 20 }), /expands to more than 1048576 bytes/);
    const zipBomb = await zipOf([{ name: 'zeros.c', body: '\0'.repeat(8 * 1024 * 1024) }]);
    await assert.rejects(listArchive(zipBomb, { maxFiles: 10, maxBytes: 1 << 20 }), /expands to more than/);
  });

  it("skips macOS metadata: Finder's __MACOSX folder and AppleDouble ._ files, which then do not hide a CMake project's one top folder", async () => {
    // Both hold binary resource forks that would be compiled as C.
    const fork = '\0\u0005\u0016\u0007\0\u0002\0\0Mac OS X        ';
    const finder = await zipOf([
      { name: 'proj/' },
      { name: 'proj/CMakeLists.txt', body: 'project(p C)\nadd_executable(p a.c)\n' },
      { name: 'proj/a.c', body: 'int main(void) { return 0; }\n' },
      { name: '__MACOSX/' },
      { name: '__MACOSX/._proj', body: fork },
      { name: '__MACOSX/proj/' },
      { name: '__MACOSX/proj/._a.c', body: fork },
      { name: '__MACOSX/proj/._CMakeLists.txt', body: fork },
      { name: '__MACOSX/CMakeLists.txt', body: fork },
    ]);
    const dest = join(dir, 'finder');
    const files = await extractArchive(finder, dest);
    assert.deepEqual(files.map((f) => f.path), ['proj/CMakeLists.txt', 'proj/a.c']);
    assert.equal(existsSync(join(dest, '__MACOSX')), false);
    assert.equal(cmakeRoot(files.map((f) => f.path)), 'proj');
    const tar = gzipSync(tarOf([{ name: './._a.c', body: fork }, { name: './a.c', body: 'int a;' }, { name: 'src/', type: '5' }, { name: 'src/._b.c', body: fork }, { name: 'src/b.c', body: 'int b;' }]));
    assert.deepEqual((await listArchive(tar)).map((f) => f.path), ['a.c', 'src/b.c']);
    // An archive listed before metadata was skipped still finds its project.
    assert.equal(cmakeRoot(['proj/CMakeLists.txt', '__MACOSX/CMakeLists.txt', 'proj/a.c']), 'proj');
  });
});
