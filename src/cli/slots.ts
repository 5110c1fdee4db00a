// carebook slots generate [--clinic ID] [--days N] — regenerate slots from schedules now (the
// worker does it nightly). A progress bar on a terminal, then one summary line.
import cliProgress from 'cli-progress';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { createPool } from '../db/pool.js';
import { regenerateAll } from '../schedules/generate-all.js';
import { command, integer, parse, subcommand, uuid } from './command.js';

function slotsCommand() {
  const slots = command('slots', 'slots from schedules: `slots generate` regenerates them now');
  subcommand(slots, 'generate', 'regenerate future slots from the schedules (the worker does it nightly)')
    .option('--clinic <uuid>', 'only this clinic', uuid)
    .option(
      '--days <N>',
      "how far ahead, in days (default: each schedule's horizon)",
      integer(1, 366, '--days 90'),
    );
  return slots;
}

export async function run(args: string[]): Promise<number> {
  const { options } = parse<{ clinic?: string; days?: number }>(slotsCommand(), args);
  const days = options.days ?? null;

  const config = loadConfig();
  const database = await openDatabase(config);
  const pool = createPool(database.url, { max: 3, applicationName: 'carebook-slots' });
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: 'slots [{bar}] {value}/{total} practitioners', stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const started = Date.now();
  try {
    const result = await regenerateAll(pool, {
      clinicId: options.clinic ?? null,
      days,
      actor: 'cli:slots-generate',
      onProgress: (done, total) => (done === 0 ? bar?.start(total, 0) : bar?.update(done)),
    });
    bar?.stop(); // before the summary line, so the two do not share a line
    console.log(
      `slots: ${result.practitioners} practitioner(s): created ${result.created}, unchanged ${result.unchanged}, ` +
        `withdrawn ${result.withdrawn}, needs_review ${result.needs_review} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    return 0;
  } finally {
    bar?.stop(); // when the run failed half way (a second stop is a no-op)
    await pool.end();
    await database.close();
  }
}
