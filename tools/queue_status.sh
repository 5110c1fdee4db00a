#!/usr/bin/env bash
# queue_status.sh — are the workers keeping up? A wrapper over `carebook status --json` for people
# and for cron/alerting. See docs/ops/runbook.md, "Worker stuck or lagging".
#
# usage: tools/queue_status.sh [--max-age SECONDS] [--max-dead-letters N] [--max-overdue-holds N]
#   --max-age SECONDS      alert when an item waiting to be handled (status pending: a webhook event
#                          or a job of another queue kind) arrived more than SECONDS ago (default
#                          300). Items in `failed` wait for their retry on purpose and are listed,
#                          not counted.
#   --max-dead-letters N   also alert when more than N events are dead letters (default: not checked)
#   --max-overdue-holds N  also alert when more than N unpaid holds lapsed over 2 minutes ago and
#                          were not expired (a hold leak: the sweeper is not running; default: not checked)
#   --help                 this text
#
# Prints the webhook queue by provider and status (events, age of the oldest), the other queue
# kinds by state, dead letters, items of batches that did not commit, leases past their end,
# overdue holds and the migration state, then one verdict line starting with OK or ALERT.
#
# env:  DATABASE_URL (required: this script never starts the embedded development database);
#       node, to run the carebook CLI from this checkout (bin/carebook.js).
#
# exit: 0  OK
#       1  ALERT: a threshold is exceeded (the verdict line says which)
#       2  usage or configuration error
#       3  `carebook status` failed (database unreachable, …): its error is printed
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

max_age=300
max_dead=""
max_holds=""
while [ $# -gt 0 ]; do
  case "$1" in
  --max-age)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || die 2 "--max-age takes a number of seconds, e.g. --max-age 300"
    max_age="$2"
    shift 2
    ;;
  --max-dead-letters)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || die 2 "--max-dead-letters takes a number, e.g. --max-dead-letters 0"
    max_dead="$2"
    shift 2
    ;;
  --max-overdue-holds)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || die 2 "--max-overdue-holds takes a number, e.g. --max-overdue-holds 0"
    max_holds="$2"
    shift 2
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) die 2 "unknown argument \"$1\" (see --help)" ;;
  esac
done
[ -n "${DATABASE_URL:-}" ] || die 2 "DATABASE_URL is not set: export the URL of the database to inspect"

# `carebook status` exits 1 when migrations have problems but still prints its report.
errfile="$(mktemp)"
trap 'rm -f "$errfile"' EXIT
status_rc=0
report="$(carebook status --json 2>"$errfile")" || status_rc=$?
errors="$(cat "$errfile")"
if [ "${report:0:1}" != "{" ]; then
  [ -z "$errors" ] || echo "$errors" >&2
  die 3 "carebook status failed (exit $status_rc)"
fi

MAX_AGE="$max_age" MAX_DEAD="$max_dead" MAX_HOLDS="$max_holds" node -e '
let text = "";
process.stdin.on("data", (chunk) => (text += chunk));
process.stdin.on("end", () => {
  const report = JSON.parse(text);
  const maxAge = Number(process.env.MAX_AGE);
  const maxDead = process.env.MAX_DEAD === "" ? null : Number(process.env.MAX_DEAD);
  const maxHolds = process.env.MAX_HOLDS === "" ? null : Number(process.env.MAX_HOLDS);
  const rows = report.webhooks;
  console.log("webhook events not yet settled (carebook status):");
  if (rows.length === 0) console.log("  none: nothing waiting, nothing dead-lettered");
  else console.log("  provider  status        events  oldest");
  for (const row of rows) {
    const age = row.oldestSeconds === null ? "" : `${Math.round(row.oldestSeconds)} s`;
    console.log(`  ${row.provider.padEnd(9)} ${row.status.padEnd(11)} ${String(row.events).padStart(8)}  ${age}`);
  }
  const queues = report.queues;
  if (queues.length > 0) console.log("other queues:\n  kind                      state         items  oldest");
  for (const row of queues) {
    const age = row.oldestSeconds === null ? "" : `${Math.round(row.oldestSeconds)} s`;
    console.log(`  ${row.kind.padEnd(25)} ${row.state.padEnd(11)} ${String(row.items).padStart(8)}  ${age}`);
  }
  const waiting = [
    ...rows.filter((row) => row.status === "pending").map((row) => row.oldestSeconds ?? 0),
    ...queues.filter((row) => row.state === "pending").map((row) => row.oldestSeconds ?? 0),
  ];
  const oldest = Math.max(0, ...waiting);
  const depth = rows.filter((row) => row.status !== "dead_letter").reduce((n, row) => n + row.events, 0);
  const dead =
    rows.filter((row) => row.status === "dead_letter").reduce((n, row) => n + row.events, 0) +
    queues.filter((row) => row.state === "dead_letter").reduce((n, row) => n + row.items, 0);
  console.log(`webhook queue depth: ${depth}; oldest waiting (pending): ${Math.round(oldest)} s; dead letters: ${dead}`);
  console.log(`items in batches that did not commit: ${report.interruptedBatches}; leases past their end: ${report.expiredLeases}; holds overdue for expiry: ${report.overdueHolds}`);
  const m = report.migrations;
  console.log(`migrations: ${m.applied} applied, ${m.pending.length} pending, ${m.problems.length} problem(s)`);
  for (const problem of m.problems) console.log(`  problem: ${problem}`);
  const alerts = [];
  if (oldest > maxAge) alerts.push(`oldest waiting item is ${Math.round(oldest)} s old (> ${maxAge} s): the worker is down, stuck or too slow`);
  if (maxDead !== null && dead > maxDead) alerts.push(`${dead} dead letter(s) (> ${maxDead}): see "Dead letters and replay"`);
  if (maxHolds !== null && report.overdueHolds > maxHolds)
    alerts.push(`${report.overdueHolds} hold(s) overdue for expiry (> ${maxHolds}): the sweeper is not running; see "Booking incident"`);
  if (alerts.length > 0) {
    for (const alert of alerts) console.log(`ALERT: ${alert}`);
    process.exit(1);
  }
  const extra = [
    maxDead === null ? "" : `, dead letters ${dead} <= ${maxDead}`,
    maxHolds === null ? "" : `, overdue holds ${report.overdueHolds} <= ${maxHolds}`,
  ].join("");
  console.log(`OK: oldest waiting item ${Math.round(oldest)} s <= ${maxAge} s${extra}`);
});
' <<<"$report"
