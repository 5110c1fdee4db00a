// The PgBouncer suite fronts a PostgreSQL server: say so at once when there is none to front.
import { pgbouncerInstalled } from '../../src/dev/pgbouncer.js';

export default function requireServer(): void {
  if (!process.env.DATABASE_URL) {
    throw new Error('npm run test:pgbouncer needs DATABASE_URL: the PostgreSQL server PgBouncer fronts');
  }
  if (!pgbouncerInstalled()) {
    throw new Error('npm run test:pgbouncer needs PgBouncer: apt-get install -y pgbouncer');
  }
}
