#!/usr/bin/env bash
# Replay dead-letter webhook events — a wrapper over `carebook replay`, for operators.
#   tools/webhook_replay.sh --dry-run --provider stripe --since 24h --reason "INC-123: handler fixed"
#   tools/webhook_replay.sh --id 6f1c…  --reason "INC-123: replay one event"
#   tools/webhook_replay.sh --help      (this text, then every option of `carebook replay`)
# Needs DATABASE_URL (and the providers' secrets, to re-verify signatures). Every run, dry runs
# included, is written to audit.audit_log with the actor (--actor, default your OS user) and reason.
# See docs/ops/runbook.md, "Dead letters and replay".
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

for arg in "$@"; do
  if [ "$arg" = --help ] || [ "$arg" = -h ]; then
    usage
    echo
    carebook replay --help
    exit 0
  fi
done
[ -n "${DATABASE_URL:-}" ] || die 2 "DATABASE_URL is not set: export the URL of the database whose events to replay"

carebook replay "$@"
