// queryInContext (src/db/tenant.ts) switches role and tenant inside the statement it sends. That
// protects only what is planned after the switch: a function body. Row-level security and table
// privileges of a table named in the statement itself are fixed when the statement is planned —
// before the switch, as the login (a superuser would see every clinic). So every call passes a
// function call, never a subquery; this test reads the source to keep it so, and shows the trap.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryInContext } from '../../src/db/tenant.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { createClinic } from '../helpers/fixtures.js';

const SRC = path.resolve(import.meta.dirname, '..', '..', 'src');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? sources(full) : entry.name.endsWith('.ts') ? [full] : [];
    }),
  );
  return nested.flat();
}

describe('queryInContext calls', () => {
  it('always pass a function call (whose body is planned after the role switch)', async () => {
    const calls: Array<{ file: string; call: string }> = [];
    for (const file of await sources(SRC)) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(
        /queryInContext(?:<[^>]*>)?\(\s*[\w.]+,\s*[^,]+,\s*(['`])([\s\S]*?)\1/g,
      )) {
        calls.push({ file: path.relative(SRC, file), call: match[2] ?? '' });
      }
    }
    expect(calls.length).toBeGreaterThanOrEqual(7);
    for (const { file, call } of calls) {
      expect(call, file).toMatch(/^[a-z_][a-z0-9_]*\(.*\)( AS \w+)?$/s);
      expect(call, file).not.toMatch(/\b(SELECT|FROM)\b/i);
    }
  });

  describe('the trap, shown', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(() => db?.drop());

    it('a table in the statement is read as the (superuser) login; the same read in a function obeys RLS', async () => {
      const a = await createClinic(db.pool, { patients: 2 });
      await createClinic(db.pool, { patients: 3 });
      const staffOfA = {
        dbRole: 'carebook_app',
        appRole: 'staff',
        clinicId: a.clinicId,
        userId: 'staff-a',
      } as const;
      const [inline] = await queryInContext<{ n: string }>(
        db.pool,
        staffOfA,
        '(SELECT count(*) AS n FROM patients) AS q',
        [],
      );
      const [total] = await sql<{ n: string }>(db.pool, 'SELECT count(*) AS n FROM patients');
      expect(inline?.n).toBe(total?.n); // every clinic's patients: RLS did not apply
      const [viaFunction] = await queryInContext<{ timezone: string }>(
        db.pool,
        staffOfA,
        'clinic_timezone($1)',
        [a.clinicId],
      );
      expect(viaFunction?.timezone).toBe('UTC');
      const otherClinic = (
        await sql<{ id: string }>(db.pool, 'SELECT id FROM clinics WHERE id <> $1 LIMIT 1', [a.clinicId])
      )[0]?.id;
      expect(await queryInContext(db.pool, staffOfA, 'clinic_timezone($1)', [otherClinic])).toEqual([]);
    });
  });
});
