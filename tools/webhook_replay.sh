#!/usr/bin/env bash
# Replay dead-letter webhook events — a wrapper over `carebook replay`, for operators.
#   tools/webhook_replay.sh --dry-run --provider stripe --since 24h --reason "INC-123: handler fixed"
#   tools/webhook_replay.sh --id 6f1c…  --reason "INC-123: replay one event"
# Needs DATABASE_URL (and the providers' secrets, to re-verify signatures). Every run, dry runs
# included, is written to audit.audit_log with the actor (--actor, default your OS user) and reason.
# See docs/ops/runbook.md, "Dead letters and replay".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -x "$root/node_modules/.bin/tsx" ] && [ -f "$root/src/cli.ts" ]; then
  exec "$root/node_modules/.bin/tsx" "$root/src/cli.ts" replay "$@"
fi
exec node "$root/dist/cli.js" replay "$@"
