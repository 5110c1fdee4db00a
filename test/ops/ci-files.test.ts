// The GitHub workflows run what .ci/run runs (lint, type check, workflow validation, the OpenAPI
// gate, npm test on each supported Node against PostgreSQL 15, the migration gate), on current
// Node, with every action pinned to a commit and its version; Dependabot keeps them current.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const WORKFLOWS = readdirSync(path.join(ROOT, '.github', 'workflows')).filter((f) => f.endsWith('.yml'));

type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
type Job = {
  steps: Step[];
  services?: Record<string, { image: string }>;
  strategy?: { matrix: Record<string, unknown[]> };
};
const jobs = (file: string): Record<string, Job> => parse(read(`.github/workflows/${file}`)).jobs;
const runs = (job: Job) => job.steps.map((step) => step.run ?? '').join('\n');

describe('GitHub workflows', () => {
  it('ci.yml runs every gate on pull requests and pushes to main', () => {
    const workflow = parse(read('.github/workflows/ci.yml'));
    expect(workflow.on.pull_request.branches).toEqual(['main']);
    expect(workflow.on.push.branches).toEqual(['main']);
    const all = Object.values(jobs('ci.yml')).map(runs).join('\n');
    for (const command of [
      'npm ci',
      'npm run lint',
      'npm run typecheck',
      'action-validator',
      'npm run openapi:check',
      'npm test',
      'migrate verify',
      'npm run db:dry-run',
    ]) {
      expect(all, command).toContain(command);
    }
    const scripts = JSON.parse(read('package.json')).scripts;
    for (const [, script] of all.matchAll(/npm run ([\w:-]+)/g))
      expect(scripts, script).toHaveProperty(script as string);
    // .ci/run's gates that GitHub runs too.
    const local = read('.ci/run');
    for (const command of [
      'npm run lint',
      'npm run typecheck',
      'action-validator',
      'npm test',
      'npm run db:dry-run',
    ]) {
      expect(local, command).toContain(command);
    }
  });

  it('runs npm test on Node 22 and 24 against a PostgreSQL 15 service', () => {
    const test = Object.values(jobs('ci.yml')).find((job) => runs(job).includes('npm test')) as Job;
    expect(test.strategy?.matrix.node).toEqual([22, 24]);
    expect(test.services?.postgres?.image).toBe('postgres:15');
    expect(
      test.steps.find((step) => step.uses?.startsWith('actions/setup-node'))?.with?.['node-version'],
    ).toMatch(/^\$\{\{ matrix\.node \}\}$/);
  });

  it('uses Node 24 wherever a version is fixed, and pins every action to a commit and its version', () => {
    for (const file of WORKFLOWS) {
      for (const job of Object.values(jobs(file))) {
        for (const step of job.steps) {
          const version = step.with?.['node-version'];
          if (typeof version === 'number') expect(version, file).toBe(24);
        }
      }
      for (const line of read(`.github/workflows/${file}`).split('\n')) {
        const uses = line.match(/uses:\s*(\S+)(.*)$/);
        if (!uses) continue;
        expect(uses[1], `${file}: ${line.trim()}`).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
        expect(uses[2], `${file}: ${line.trim()}`).toMatch(/^ # v\d+\.\d+\.\d+$/);
      }
    }
  });

  it('has Dependabot for npm and the GitHub Actions', () => {
    const config = parse(read('.github/dependabot.yml'));
    expect(config.version).toBe(2);
    const ecosystems = config.updates.map(
      (update: { 'package-ecosystem': string }) => update['package-ecosystem'],
    );
    expect(ecosystems).toEqual(expect.arrayContaining(['npm', 'github-actions']));
    for (const update of config.updates) expect(update.schedule.interval).toMatch(/daily|weekly|monthly/);
  });
});
