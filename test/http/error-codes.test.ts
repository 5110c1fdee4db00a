// One error vocabulary. Every domain error code raised in SQL is listed in docs/error_codes.md and
// mapped to an HTTP status in src/http/errors.ts; every code there has the status the docs give
// it; each route declares the codes its procedures and tables can raise (so its OpenAPI entry
// names them under the right status); the booking metrics' outcome labels are those codes; and
// only the HTTP layer builds problems.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedDocument } from '../../scripts/lib/openapi.js';
import { bookingOutcomeOf } from '../../src/booking/service.js';
import { NAMED_CONSTRAINTS } from '../../src/db/errors.js';
import { PROBLEMS, type ProblemCode, toProblem } from '../../src/http/errors.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const read = (file: string) => readFile(path.join(ROOT, file), 'utf8');
const sqlError = (code: string) => Object.assign(new Error('x'), { code });

/**
 * What each operation asks the database to do: the procedures it calls and the tables it writes
 * directly. The codes those can raise must be declared on the operation.
 */
const DATABASE_WORK: Record<string, { procedures?: string[]; tables?: string[] }> = {
  bookAppointment: { procedures: ['book_appointment'] },
  rescheduleAppointment: { procedures: ['reschedule_appointment'] },
  cancelAppointment: { procedures: ['cancel_appointment'] },
  createClinic: { tables: ['clinics'] },
  createPractitioner: { tables: ['users'] },
  createPatient: { tables: ['patients'] },
  createSlots: { tables: ['appointment_slots'] },
};
/** Procedures that raise codes but answer no HTTP request: the worker retries them. */
const WORKER_ONLY = new Set(['apply_payment_event']);

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
    const doc = await read('docs/error_codes.md');
    for (const code of raised) {
      expect(doc, `${code} in docs/error_codes.md`).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
      if (code === 'CB101') continue; // worker-internal: retried, never an HTTP answer
      const problem = toProblem(Object.assign(new Error('x'), { code }));
      expect(problem.status, code).toBeLessThan(500);
      expect(doc).toContain(`| ${code} | \`${problem.code}\` | ${problem.status} |`);
    }
  });

  it('are listed in docs/error_codes.md only, not in the headers of new migrations', async () => {
    const files = (await readdir(path.join(ROOT, 'migrations'))).filter((f) => Number(f.slice(0, 5)) > 15);
    for (const file of files) {
      const header = (await read(`migrations/${file}`)).split('-- Up Migration')[0] as string;
      expect(header, file).not.toMatch(/CB\d{3}\s+[a-z]+_[a-z_]+/);
    }
  });

  it('each have one status, the one docs/error_codes.md gives, and the docs name no others', async () => {
    const doc = await read('docs/error_codes.md');
    for (const [code, { status }] of Object.entries(PROBLEMS)) {
      expect(doc, `docs/error_codes.md: a row with \`${code}\` | ${status}`).toMatch(
        new RegExp(`^\\|.*\`${code}\` \\| ${status} \\|`, 'm'),
      );
    }
    const documented = [
      ...doc.matchAll(/^\|[^|\n]*\| `([a-z_]+)` \| \d{3} \||^\| `([a-z_]+)` \| \d{3} \|/gm),
    ].map((m) => m[1] ?? m[2]);
    expect(documented.length).toBeGreaterThan(30);
    expect(documented.filter((code) => !(code && code in PROBLEMS))).toEqual([]);
  });

  it('label booking metrics by the same codes, as docs/ops/booking_txn.md lists them', async () => {
    const row = (await read('docs/ops/booking_txn.md'))
      .split('\n')
      .find((line) => line.startsWith('| `booking_attempts_total{outcome}`'));
    const labels = new Set([...(row ?? '').split('|')[2]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]));
    for (const label of labels) {
      expect(
        ['created', 'replayed', 'error'].includes(label as string) || (label as string) in PROBLEMS,
        label,
      ).toBe(true);
    }
    // What book_appointment raises (00011): each becomes its own label, listed in the docs.
    for (const code of ['CB001', 'CB002', 'CB003', 'CB006', 'CB007']) {
      const outcome = bookingOutcomeOf(sqlError(code));
      expect(outcome, code).toBe(toProblem(sqlError(code)).code);
      expect(labels, `${code} → ${outcome} in docs/ops/booking_txn.md`).toContain(outcome);
    }
    expect(bookingOutcomeOf(new Error('a bug'))).toBe('error');
  });

  it('are turned into problems only in the HTTP layer, with the statuses of the map', async () => {
    const files: string[] = [];
    const visit = async (dir: string): Promise<void> => {
      for (const entry of await readdir(path.join(ROOT, dir), { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) await visit(file);
        else if (file.endsWith('.ts')) files.push(file);
      }
    };
    await visit('src');
    for (const file of files) {
      const text = await read(file);
      const imports = [...text.matchAll(/from '(\.[^']+)'/g)].map((m) =>
        path.join(path.dirname(file), m[1] as string),
      );
      if (imports.includes(path.join('src', 'http', 'errors.js')) && !file.startsWith('src/http/')) {
        // Routes speak HTTP; services, the worker and the CLI throw domain errors.
        expect(file, `${file} imports http/errors`).toMatch(/(routes|dashboard)\.ts$/);
      }
      for (const [, status, code] of text.matchAll(/new ProblemError\(\s*(\d{3}),\s*'([a-z_]+)'/g)) {
        expect(PROBLEMS[code as ProblemCode]?.status, `${file}: ${code}`).toBe(Number(status));
      }
    }
  });

  describe('declared on the routes that can raise them', () => {
    let db: TestDatabase;
    let operations: Map<string, { responses: Record<string, { description: string }> }>;
    beforeAll(async () => {
      db = await createTestDatabase();
      const document = JSON.parse(await servedDocument());
      operations = new Map(
        Object.values(document.paths as Record<string, Record<string, { operationId: string }>>)
          .flatMap((item) => Object.values(item))
          .map((operation) => [operation.operationId, operation as never]),
      );
    });
    afterAll(async () => {
      await db.drop();
    });

    /** Public functions: the CB codes each raises itself, and the functions it calls. */
    async function functions() {
      const rows = await sql<{ name: string; body: string }>(
        db.pool,
        `SELECT proname AS name, prosrc AS body FROM pg_proc WHERE pronamespace = 'public'::regnamespace`,
      );
      const raises = new Map(
        rows.map((r) => [r.name, [...r.body.matchAll(/errcode = '(CB\d{3})'/g)].map((m) => m[1] as string)]),
      );
      const calls = new Map(
        rows.map((r) => [
          r.name,
          rows.filter((o) => o.name !== r.name && r.body.includes(`${o.name}(`)).map((o) => o.name),
        ]),
      );
      /** A function and every function it calls, directly or not. */
      const reach = (name: string, seen = new Set<string>()): Set<string> => {
        if (seen.has(name)) return seen;
        seen.add(name);
        for (const callee of calls.get(name) ?? []) reach(callee, seen);
        return seen;
      };
      const raisedBy = (name: string) => new Set([...reach(name)].flatMap((f) => raises.get(f) ?? []));
      return { raises, reach, raisedBy };
    }

    const declares = (operationId: string, code: string) => {
      const { status } = PROBLEMS[code as ProblemCode];
      const response = operations.get(operationId)?.responses[String(status)];
      expect(response, `${operationId} declares ${status} for ${code}`).toBeDefined();
      expect(response?.description, `${operationId} ${status} names ${code}`).toContain(`\`${code}\``);
    };

    it('every code a procedure raises, under its status', async () => {
      const { raises, reach, raisedBy } = await functions();
      const entries = Object.values(DATABASE_WORK).flatMap((work) => work.procedures ?? []);
      for (const [operationId, work] of Object.entries(DATABASE_WORK)) {
        for (const procedure of work.procedures ?? []) {
          expect(raises.has(procedure), procedure).toBe(true);
          for (const sqlstate of raisedBy(procedure))
            declares(operationId, toProblem(sqlError(sqlstate)).code);
        }
      }
      // A procedure that raises codes is reached from an operation, or the table above is stale.
      const reached = new Set(entries.flatMap((entry) => [...reach(entry)]));
      const unreached = [...raises]
        .filter(([name, codes]) => codes.length > 0 && !WORKER_ONLY.has(name) && !reached.has(name))
        .map(([name]) => name);
      expect(unreached, 'procedures raising codes that no operation in DATABASE_WORK calls').toEqual([]);
      expect([...raisedBy('book_appointment')].sort()).toEqual([
        'CB001',
        'CB002',
        'CB003',
        'CB006',
        'CB007',
        'CB201',
        'CB202',
      ]);
    });

    it('every code a named constraint of a written table maps to, under its status', async () => {
      const constraints = await sql<{ name: string; table: string }>(
        db.pool,
        // A unique index reports its name as the constraint's, as a constraint does.
        `SELECT conname AS name, conrelid::regclass::text AS table FROM pg_constraint WHERE conname = ANY ($1)
         UNION SELECT c.relname, i.indrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indisunique AND c.relname = ANY ($1)`,
        [Object.keys(NAMED_CONSTRAINTS)],
      );
      expect(constraints.map((c) => c.name).sort()).toEqual(Object.keys(NAMED_CONSTRAINTS).sort());
      for (const [operationId, work] of Object.entries(DATABASE_WORK)) {
        for (const constraint of constraints.filter((c) => work.tables?.includes(c.table))) {
          declares(operationId, NAMED_CONSTRAINTS[constraint.name] as string);
        }
        if (work.tables)
          for (const code of ['validation_error', 'database_unavailable']) declares(operationId, code);
      }
    });
  });
});
