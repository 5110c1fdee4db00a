// Keeps the schema distributable by clinic (Citus-style co-location, DESIGN.md "Deployment
// topology"): read from the catalogs, every table with a clinic_id column ("tenant table")
//   key      has clinic_id in its primary key, or a unique key of clinic_id plus the primary key;
//   unique   has clinic_id in every other unique key, unique index and exclusion constraint;
//   fk       pairs clinic_id with clinic_id in every foreign key to another tenant table;
//   not null has clinic_id NOT NULL (a distribution column cannot be NULL).
// Every exception is named, with its reason, in docs/ops/scaling.md; this test reads that list, so
// an unlisted exception fails, and so does a listed one that is no longer there.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

const SCALING = path.join(ROOT, 'docs', 'ops', 'scaling.md');

/** Each rule's violations, as `rule name` rows (name: a constraint, an index or table.clinic_id). */
const VIOLATIONS = `
WITH tenant AS (
  SELECT c.oid, c.oid::regclass::text AS name, a.attnum AS clinic, a.attnotnull
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'clinic_id' AND NOT a.attisdropped
   WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'audit')
), pk AS (
  SELECT t.*, con.conname, con.conkey FROM tenant t JOIN pg_constraint con ON con.conrelid = t.oid AND con.contype = 'p'
)
SELECT 'key' AS rule, pk.conname AS name FROM pk
 WHERE NOT pk.clinic = ANY (pk.conkey)
   AND NOT EXISTS (
     SELECT 1 FROM pg_constraint u
      WHERE u.conrelid = pk.oid AND u.contype = 'u'
        AND u.conkey @> (pk.conkey || pk.clinic) AND u.conkey <@ (pk.conkey || pk.clinic))
UNION ALL
SELECT 'unique', ic.relname FROM tenant t
  JOIN pg_index i ON i.indrelid = t.oid AND i.indisunique AND NOT i.indisprimary
  JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE NOT t.clinic = ANY (i.indkey::int2[])
UNION ALL
SELECT 'unique', con.conname FROM tenant t
  JOIN pg_constraint con ON con.conrelid = t.oid AND con.contype = 'x'
 WHERE NOT t.clinic = ANY (con.conkey)
UNION ALL
SELECT 'fk', con.conname FROM tenant t
  JOIN pg_constraint con ON con.conrelid = t.oid AND con.contype = 'f'
  JOIN tenant target ON target.oid = con.confrelid
 WHERE NOT EXISTS (
   SELECT 1 FROM generate_subscripts(con.conkey, 1) AS k
    WHERE con.conkey[k] = t.clinic AND con.confkey[k] = target.clinic)
UNION ALL
SELECT 'not null', t.name || '.clinic_id' FROM tenant t WHERE NOT t.attnotnull
ORDER BY 1, 2`;

type Violation = { rule: string; name: string };

/** The exceptions table of docs/ops/scaling.md: rows whose first cell is a `name`, with their rule. */
async function listedExceptions(): Promise<Violation[]> {
  const text = await readFile(SCALING, 'utf8');
  const section = text.split(/^### Exceptions/m)[1]?.split(/^#/m)[0] ?? '';
  return [...section.matchAll(/^\|\s*`([^`]+)`\s*\|\s*([a-z ]+?)\s*\|\s*(.+?)\s*\|/gm)].map((row) => {
    if ((row[3] ?? '').length < 20) throw new Error(`the exception ${row[1]} needs a reason`);
    return { rule: row[2] as string, name: row[1] as string };
  });
}

describe('the schema stays distributable by clinic', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('has no exception that docs/ops/scaling.md does not list with its reason, and lists none that is gone', async () => {
    const found = await sql<Violation>(db.pool, VIOLATIONS);
    const listed = await listedExceptions();
    const key = (v: Violation) => `${v.rule}: ${v.name}`;
    expect(found.map(key).sort(), 'unlisted exceptions (fix the schema, or list them with a reason)').toEqual(
      listed.map(key).sort(),
    );
  });

  it('finds each kind of exception (a table built to break every rule)', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `CREATE TABLE canary_parent (id uuid PRIMARY KEY, clinic_id uuid NOT NULL, UNIQUE (clinic_id, id))`,
      );
      await client.query(`CREATE TABLE canary (
        id uuid PRIMARY KEY,
        clinic_id uuid,
        parent_id uuid REFERENCES canary_parent (id),
        code text CONSTRAINT canary_code_key UNIQUE,
        CONSTRAINT canary_ok_key UNIQUE (clinic_id, code))`);
      const found = await client.query<Violation>(VIOLATIONS);
      expect(found.rows.filter((v) => v.name.startsWith('canary'))).toEqual([
        { rule: 'fk', name: 'canary_parent_id_fkey' },
        { rule: 'key', name: 'canary_pkey' },
        { rule: 'not null', name: 'canary.clinic_id' },
        { rule: 'unique', name: 'canary_code_key' },
      ]);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
