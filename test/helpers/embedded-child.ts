// Child process for test/db/embedded.test.ts: starts the embedded server in argv[2], prints its
// URL, then waits to be killed (SIGKILL leaves the postmaster orphaned, as a crash would).
import { startEmbeddedPostgres } from '../../src/db/embedded.js';

const server = await startEmbeddedPostgres({ dataDir: process.argv[2] ?? '', ephemeralDurability: true });
process.stdout.write(`${server.adminUrl}\n`);
setInterval(() => {}, 1_000);
