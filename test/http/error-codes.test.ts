// Every domain error code raised in SQL is listed in docs/error_codes.md, and every one that
// reaches the API is mapped to an HTTP status in src/http/errors.ts.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toProblem } from '../../src/http/errors.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

describe('error codes', () => {
  it('are raised in migrations, documented once, and mapped', async () => {
    const dir = path.join(ROOT, 'migrations');
    const sqlText = (
      await Promise.all(
        (
          await readdir(dir)
        )
          .filter((f) => f.endsWith('.sql'))
          .map((f) => readFile(path.join(dir, f), 'utf8')),
      )
    ).join('\n');
    const raised = [
      ...new Set([...sqlText.matchAll(/errcode = '(CB\d{3})'/g)].map((m) => m[1] as string)),
    ].sort();
    expect(raised.length).toBeGreaterThanOrEqual(9);
    const doc = await readFile(path.join(ROOT, 'docs', 'error_codes.md'), 'utf8');
    for (const code of raised) {
      expect(doc, `${code} in docs/error_codes.md`).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
      if (code === 'CB101') continue; // worker-internal: retried, never an HTTP answer
      const problem = toProblem(Object.assign(new Error('x'), { code }));
      expect(problem.status, code).toBeLessThan(500);
      expect(doc).toContain(`| ${code} | \`${problem.code}\` | ${problem.status} |`);
    }
  });
});
