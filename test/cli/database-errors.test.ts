// What the CLI says when the database is not what it needs: a missing database, an unknown login,
// a schema that was never migrated. One line each, in words, with the SQLSTATE and the fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { adminUrl, createTestDatabase, type TestDatabase, urlFor } from '../helpers/db.js';

const lines = (text: string) => text.trim().split('\n');

describe('database-state errors', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await createTestDatabase({ empty: true });
  });
  afterAll(() => empty.drop());

  it('names a database that does not exist', async () => {
    const result = await runCli(['migrate', 'status'], { DATABASE_URL: urlFor('carebook_no_such_database') });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(
      /database "carebook_no_such_database" does not exist on .*create it .*\(3D000\)/,
    );
  });

  it('says when the server refuses the login', async () => {
    const url = new URL(adminUrl());
    url.username = 'carebook_no_such_login';
    url.password = 'wrong';
    const result = await runCli(['migrate', 'status'], { DATABASE_URL: url.toString() });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    // Trust authentication reports the unknown role (28000); password authentication does not
    // say whether the role exists (28P01).
    expect(result.stderr).toMatch(
      /carebook_no_such_login.*check the (user|password) in DATABASE_URL \((28000|28P01)\)/,
    );
    expect(result.stderr).not.toContain('wrong');
  });

  it('says to run `carebook migrate up` on a database that was never migrated', async () => {
    const result = await runCli(['status'], { DATABASE_URL: empty.url });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([
      expect.stringMatching(
        /does not exist \(42\w{3}\): the database is not migrated, .*run `carebook migrate up`$/,
      ),
    ]);
  });
});
