// npm run openapi:check — the API description's CI gate: dumps the served /openapi.json to
// artifacts/openapi/, lints it with Redocly (redocly.yaml: any error or warning fails), and fails
// when client/schema.d.ts is not what openapi-typescript generates from it now.
// npm run openapi:generate — the same, but rewrites client/schema.d.ts instead of failing.
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CLIENT_TYPES, clientTypes, ROOT, servedDocument } from './lib/openapi.js';

const write = process.argv.includes('--write');
const out = path.join(ROOT, 'artifacts', 'openapi', 'openapi.json');
const document = await servedDocument();
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, document);
console.log(`served document: ${path.relative(ROOT, out)} (${document.length} bytes)`);

const lint = spawnSync(
  path.join(ROOT, 'node_modules', '.bin', 'redocly'),
  ['lint', out, '--config', path.join(ROOT, 'redocly.yaml'), '--format=json'],
  { encoding: 'utf8' },
);
let report: { totals: { errors: number; warnings: number }; problems: LintProblem[] };
try {
  report = JSON.parse(lint.stdout);
} catch {
  console.error(lint.stdout, lint.stderr);
  throw new Error(`redocly lint did not report (exit ${lint.status})`);
}
interface LintProblem {
  ruleId: string;
  severity: string;
  message: string;
  location: Array<{ pointer: string }>;
}
for (const problem of report.problems) {
  console.error(
    `  ${problem.severity} ${problem.ruleId}: ${problem.message} (${problem.location[0]?.pointer})`,
  );
}
console.log(`redocly lint: ${report.totals.errors} errors, ${report.totals.warnings} warnings`);

const generated = await clientTypes(document);
const committed = await readFile(CLIENT_TYPES, 'utf8').catch(() => '');
const current = committed === generated;
if (write && !current) await writeFile(CLIENT_TYPES, generated);
console.log(
  `${path.relative(ROOT, CLIENT_TYPES)}: ${current ? 'current' : write ? 'rewritten' : 'STALE: run npm run openapi:generate and commit it'}`,
);

process.exitCode = report.problems.length > 0 || (!current && !write) ? 1 : 0;
