// npm run db:baseline — approves the current migrations' schema: migrates a throwaway database
// and writes its snapshot to schema/baseline.sql. Commit the file with the migration; the review
// of its diff is the review of the schema change.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { openCluster, uniqueDatabaseName } from '../src/db/cluster.js';
import { migrateUp } from '../src/db/migrate/runner.js';
import { snapshotSchema } from '../src/db/schema-snapshot.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const cluster = await openCluster({
  databaseUrl: process.env.DATABASE_URL,
  dataDir: path.join(ROOT, '.carebook', 'dry-run'),
});
const name = uniqueDatabaseName('carebook_baseline');
try {
  const url = await cluster.createDatabase(name);
  await migrateUp({ databaseUrl: url });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const snapshot = await snapshotSchema(client).finally(() => client.end());
  await writeFile(path.join(ROOT, 'schema', 'baseline.sql'), snapshot);
  console.log(`schema/baseline.sql written (${snapshot.split('\n').length} lines)`);
} finally {
  await cluster.dropDatabase(name).catch(() => {});
  await cluster.close();
}
