// The migration files on disk and migrations/manifest.json: what the runner may apply, and the
// checks that need no database (names strictly sequential, every file in the manifest unchanged).
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** migrations/ at the package root, whether running from src/ (tsx) or dist/. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));

const FILE_NAME = /^(\d{5})_([a-z0-9]+(?:_[a-z0-9]+)*)\.(sql|js)$/;

export interface MigrationFile {
  version: number;
  /** File name without extension: the name node-pg-migrate records. */
  name: string;
  file: string;
  sha256: string;
  /** First line of the file's header comment. */
  summary: string;
}

export interface ManifestEntry {
  version: number;
  file: string;
  description: string;
  sha256: string;
}

export interface Manifest {
  migrations: ManifestEntry[];
}

export interface Problem {
  code:
    | 'bad_file_name'
    | 'not_sequential'
    | 'not_in_manifest'
    | 'manifest_file_missing'
    | 'manifest_checksum_mismatch'
    | 'applied_file_missing'
    | 'applied_file_changed'
    | 'applied_without_checksum'
    | 'applied_out_of_order';
  message: string;
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Reads migrations/ in version order. Names that do not fit NNNNN_snake_case.sql are problems. */
export async function readMigrationFiles(
  dir = MIGRATIONS_DIR,
): Promise<{ files: MigrationFile[]; problems: Problem[] }> {
  const problems: Problem[] = [];
  const files: MigrationFile[] = [];
  for (const entry of (await readdir(dir)).sort()) {
    if (entry === 'manifest.json' || entry.startsWith('.')) continue;
    const match = FILE_NAME.exec(entry);
    if (!match) {
      problems.push({
        code: 'bad_file_name',
        message: `${entry}: migration files are named NNNNN_snake_case_description.sql`,
      });
      continue;
    }
    const content = await readFile(path.join(dir, entry));
    files.push({
      version: Number(match[1]),
      name: entry.replace(/\.(sql|js)$/, ''),
      file: entry,
      sha256: sha256(content),
      summary: summaryOf(content.toString('utf8')),
    });
  }
  files.sort((a, b) => a.version - b.version);
  files.forEach((file, index) => {
    if (file.version !== index + 1) {
      problems.push({
        code: 'not_sequential',
        message: `${file.file}: expected version ${String(index + 1).padStart(5, '0')} here; versions must run 00001, 00002, … without gaps or repeats`,
      });
    }
  });
  return { files, problems };
}

function summaryOf(content: string): string {
  const first = content.split('\n').find((line) => line.startsWith('--')) ?? '';
  return first
    .replace(/^--\s*/, '')
    .replace(/^\d{5}\s*[—-]\s*/, '')
    .trim();
}

export async function readManifest(dir = MIGRATIONS_DIR): Promise<Manifest> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { migrations: [] };
    throw new Error(`migrations/manifest.json is not valid JSON: ${(error as Error).message}`);
  }
}

/** Problems between the files and the manifest (no database needed). */
export function compareWithManifest(files: MigrationFile[], manifest: Manifest): Problem[] {
  const problems: Problem[] = [];
  const byFile = new Map(manifest.migrations.map((entry) => [entry.file, entry]));
  for (const file of files) {
    const entry = byFile.get(file.file);
    if (!entry) {
      problems.push({
        code: 'not_in_manifest',
        message: `${file.file} is not in migrations/manifest.json; run \`npm run db:manifest\` and review the diff`,
      });
    } else if (entry.sha256 !== file.sha256) {
      problems.push({
        code: 'manifest_checksum_mismatch',
        message: `${file.file} differs from its manifest checksum (was it edited after review?)`,
      });
    }
  }
  const onDisk = new Set(files.map((file) => file.file));
  for (const entry of manifest.migrations) {
    if (!onDisk.has(entry.file)) {
      problems.push({
        code: 'manifest_file_missing',
        message: `${entry.file} is in the manifest but not on disk`,
      });
    }
  }
  return problems;
}

/** Rewrites the manifest from the files, keeping the descriptions people wrote. */
export async function writeManifest(dir = MIGRATIONS_DIR): Promise<Manifest> {
  const { files, problems } = await readMigrationFiles(dir);
  if (problems.length > 0) throw new Error(problems.map((problem) => problem.message).join('\n'));
  const previous = new Map((await readManifest(dir)).migrations.map((entry) => [entry.file, entry]));
  const manifest: Manifest = {
    migrations: files.map((file) => ({
      version: file.version,
      file: file.file,
      description: previous.get(file.file)?.description ?? file.summary,
      sha256: file.sha256,
    })),
  };
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
