// README's "Architecture at a glance" names every folder of src/, so the map cannot fall behind the
// tree (src/queue and src/outbound were missing from it once).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

describe('README architecture at a glance', () => {
  it('describes every folder of src/', async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('## Architecture at a glance');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const folders = (await readdir(path.join(ROOT, 'src'), { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect(folders).toEqual(expect.arrayContaining(['queue', 'outbound', 'dev']));
    expect(folders.filter((folder) => !section.includes(`\`src/${folder}/\``))).toEqual([]);
  });
});
