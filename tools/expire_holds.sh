#!/usr/bin/env bash
# expire_holds.sh — expire unpaid holds whose time has passed, now, and check that none is left.
# The sweeper in every `carebook worker` does this every 30 s; run this when holds pile up anyway
# (a hold leak). See docs/ops/runbook.md, "Booking incident".
#
# usage: tools/expire_holds.sh [--dry-run] [--max-rounds N]
#   --dry-run       only report how many holds are overdue; exit 1 if any is
#   --max-rounds N  `carebook sweep` expires at most 1000 holds per call; call it again while a
#                   call expires 1000, at most N times (default 50)
#   --help          this text
#
# Each expired appointment becomes `expired`, its slot is free again and its pending payment is
# `cancelled`, with an `appointment.expire` audit row (actor `sweeper`) — exactly what the sweeper
# does (expire_unpaid_holds(), migrations/00011_booking_tx.sql). `carebook sweep` also purges
# idempotency records older than their 24-hour retention, as the sweeper does.
# "Overdue" is `carebook status`'s count: pending_payment appointments whose hold_expires_at is
# more than 2 minutes past (the sweeper's normal delay is at most 30 s).
#
# env:  DATABASE_URL (required: this script never starts the embedded development database);
#       node, to run the carebook CLI from this checkout (bin/carebook.js).
#
# exit: 0  done, no hold is overdue any more (with --dry-run: none was overdue)
#       1  holds are still overdue after sweeping — rows locked by a long transaction, see the
#          runbook (with --dry-run: some are overdue)
#       2  usage or configuration error
#       3  the carebook CLI failed (database unreachable, …): its error is printed
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

dry_run=false
max_rounds=50
while [ $# -gt 0 ]; do
  case "$1" in
  --dry-run)
    dry_run=true
    shift
    ;;
  --max-rounds)
    [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die 2 "--max-rounds takes a number from 1, e.g. --max-rounds 50"
    max_rounds="$2"
    shift 2
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) die 2 "unknown argument \"$1\" (see --help)" ;;
  esac
done
[ -n "${DATABASE_URL:-}" ] || die 2 "DATABASE_URL is not set: export the URL of the affected database"

# Overdue holds from `carebook status --json` (which exits 1 on migration problems but still reports).
overdue_holds() {
  local report
  report="$(carebook status --json)" || true
  [ "${report:0:1}" = "{" ] || die 3 "carebook status failed"
  node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => console.log(JSON.parse(s).overdueHolds));' <<<"$report"
}

before="$(overdue_holds)"
echo "holds overdue for expiry (lapsed more than 2 minutes ago): $before"
if [ "$dry_run" = true ]; then
  [ "$before" = 0 ] && exit 0
  echo "dry run: nothing changed; run without --dry-run to expire them"
  exit 1
fi

total=0
rounds=0
while [ "$rounds" -lt "$max_rounds" ]; do
  rounds=$((rounds + 1))
  line="$(carebook sweep)" || die 3 "carebook sweep failed"
  echo "  sweep $rounds: $line"
  [[ "$line" =~ ^expired\ ([0-9]+)\ hold ]] || die 3 "unexpected output from carebook sweep: $line"
  expired="${BASH_REMATCH[1]}"
  total=$((total + expired))
  [ "$expired" -ge 1000 ] || break
done

after="$(overdue_holds)"
echo "expired $total hold(s) in $rounds sweep(s); holds overdue now: $after"
if [ "$after" != 0 ]; then
  echo "expire_holds: $after hold(s) are still overdue. Either more than $((max_rounds * 1000)) were waiting (run again), or their rows are locked by another transaction (expire_unpaid_holds skips locked rows): look for long transactions with the pg_stat_activity query in the runbook" >&2
  exit 1
fi
