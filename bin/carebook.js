#!/usr/bin/env node
// What `npx carebook` and `npm start` run. In a checkout (src/ is here) it runs the source through
// tsx, so that it is never older than the code you have; a build made at install time would go
// stale with the next pull or edit. Where there is no src/ (the Docker image) it runs dist/.
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url);
if (existsSync(new URL('src/cli.ts', root))) {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    console.error(
      'carebook: tsx (a dev dependency) is missing, so the source cannot run: run `npm ci`, or `npm run build` and then `node dist/cli.js`',
    );
    process.exit(1);
  }
  tsx.register();
  await import(new URL('src/cli.ts', root).href);
} else {
  await import(new URL('dist/cli.js', root).href);
}
