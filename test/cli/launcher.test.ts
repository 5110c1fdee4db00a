// bin/carebook.js — what `npx carebook` and `npm start` run — never runs code older than the
// source beside it: in a checkout it runs src/ (through tsx) even when an older dist/ is there;
// without tsx it refuses in one line; without src/ (the Docker image) it runs dist/.
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

describe('bin/carebook.js', () => {
  let dir: string;
  const launch = () =>
    spawnSync(process.execPath, [path.join(dir, 'bin', 'carebook.js')], { encoding: 'utf8' });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'carebook-launcher-'));
    await mkdir(path.join(dir, 'bin'));
    await mkdir(path.join(dir, 'dist'));
    await copyFile(path.join(ROOT, 'bin', 'carebook.js'), path.join(dir, 'bin', 'carebook.js'));
    await writeFile(path.join(dir, 'package.json'), '{"type": "module"}\n');
    await writeFile(path.join(dir, 'dist', 'cli.js'), "console.log('the build from install time');\n");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs dist/ where there is no source (the image)', () => {
    expect(launch()).toMatchObject({ status: 0, stdout: 'the build from install time\n' });
  });

  it('runs the source in a checkout, not the older build beside it', async () => {
    await mkdir(path.join(dir, 'src'));
    await writeFile(
      path.join(dir, 'src', 'cli.ts'),
      "const edited: string = 'the source as edited';\nconsole.log(edited);\n",
    );
    await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    expect(launch()).toMatchObject({ status: 0, stdout: 'the source as edited\n' });
  });

  it('refuses in one line when the source cannot run (no tsx)', async () => {
    await rm(path.join(dir, 'node_modules'));
    const result = launch();
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringContaining('run `npm ci`, or `npm run build`'),
    ]);
  });
});
