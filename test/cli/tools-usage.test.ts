// The runbook's promise about tools/*.sh: every script answers --help (exit 0), and each one that
// works on a database refuses to run without DATABASE_URL (exit 2) rather than starting the
// embedded development database.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childEnv, ROOT } from '../helpers/cli.js';

const TOOLS = path.join(ROOT, 'tools');
// check_webhook_secrets.sh talks to a running Carebook over HTTP, never to the database.
const WITHOUT_DATABASE = ['check_webhook_secrets.sh'];

function runTool(
  script: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(TOOLS, script), ...args], { cwd: ROOT, env: childEnv({}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tools/*.sh', async () => {
  const scripts = (await readdir(TOOLS)).filter((name) => name.endsWith('.sh') && name !== 'lib.sh');

  it('lists the scripts the runbook documents', () => {
    expect(scripts).toEqual(expect.arrayContaining(['webhook_replay.sh', 'queue_status.sh', 'db_backup.sh']));
  });

  it.each(scripts)('%s answers --help with exit 0', async (script) => {
    const result = await runTool(script, ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/usage:|tools\//);
    expect(result.stderr).toBe('');
  });

  it.each(scripts.filter((name) => !WITHOUT_DATABASE.includes(name)))(
    '%s refuses to run without DATABASE_URL',
    async (script) => {
      // Arguments that would be enough if DATABASE_URL were set (db_restore.sh takes the target URL).
      const args = { 'webhook_replay.sh': ['--reason', 'INC-1: a test'], 'db_restore.sh': ['backup.dump'] }[
        script
      ];
      const result = await runTool(script, args ?? []);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/DATABASE_URL|target DATABASE_URL/);
    },
  );
});
