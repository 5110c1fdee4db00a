#!/usr/bin/env bash
# db_verify.sh — is this database a sound Carebook database? Run it on a restored database (done by
# tools/db_restore.sh), on a point-in-time clone from RDS or Cloud SQL, or after `migrate down`,
# before traffic goes to it. See docs/ops/runbook.md, "Emergency rollback".
#
# usage: tools/db_verify.sh [<DATABASE_URL>]     (default: $DATABASE_URL)
#   --help   this text
#
# Checks, each printed as it runs:
#   1. `carebook migrate verify` from this checkout: the applied migrations match the files (a
#      newer file that is not applied yet is reported, not a failure: the database may be the one
#      of the previous release).
#   2. docs/migrations/smoke_tests.sql: key tables answer, row-level security is enabled and
#      forced everywhere, the roles exist and none bypasses RLS, the booking guarantees are there.
#   3. row counts of the key tables, counted as carebook_admin (its policies see every clinic; a
#      non-superuser migrator sees nothing through FORCE ROW LEVEL SECURITY), and the last applied
#      migration. Compare them with the source: the same database before the incident, or the
#      figures you expect.
#
# env:  psql on PATH; node, to run the carebook CLI from this checkout (bin/carebook.js).
#       The connecting role must be able to SET ROLE carebook_admin (the migrator
#       and the service login are members; a superuser can).
#
# exit: 0  verified
#       1  a check failed (the lines starting FAILED say which): send no traffic to this database
#       2  usage error, or the database cannot be reached
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

target="${DATABASE_URL:-}"
case "${1:-}" in
-h | --help)
  usage
  exit 0
  ;;
-*) die 2 "unknown option \"$1\" (see --help)" ;;
"") ;;
*) target="$1" ;;
esac
[ $# -le 1 ] || die 2 "usage: tools/db_verify.sh [<DATABASE_URL>] (see --help)"
[ -n "$target" ] || die 2 "give the database URL as the argument, or set DATABASE_URL"
[[ "$target" =~ ^postgres(ql)?:// ]] || die 2 "the database must be a postgres:// URL"
command -v psql >/dev/null || die 2 "psql is not on PATH: install the PostgreSQL client tools"
shown="$(redact "$target")"

export PGAPPNAME=carebook-verify
psql_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 --dbname="$target" "$@"; }
reach="$(psql_q -c 'SELECT 1' 2>&1)" || die 2 "cannot reach $shown: $reach"

failed=0
step "carebook migrate verify ($shown)"
if verify="$(DATABASE_URL="$target" carebook migrate verify 2>&1)"; then
  sed 's/^/    /' <<<"$verify"
  if [[ "$verify" =~ ,\ ([0-9]+)\ pending ]] && [ "${BASH_REMATCH[1]}" != 0 ]; then
    echo "    note: this checkout has ${BASH_REMATCH[1]} migration(s) the database does not: run the release that matches it, or apply them deliberately (carebook migrate up)"
  fi
  if [[ "$verify" =~ ,\ 0\ applied ]]; then
    echo "    FAILED: no migration is applied: this is not a Carebook database" >&2
    failed=1
  fi
else
  sed 's/^/    /' <<<"$verify"
  echo "    FAILED: the applied migrations do not match this checkout's files" >&2
  failed=1
fi

step "smoke tests (docs/migrations/smoke_tests.sql)"
if smoke="$(psql -X -q -v ON_ERROR_STOP=1 --dbname="$target" -o /dev/null -f "$root/docs/migrations/smoke_tests.sql" 2>&1)"; then
  echo "    smoke tests passed"
else
  sed 's/^/    /' <<<"$smoke"
  echo "    FAILED: smoke tests" >&2
  failed=1
fi

step "row counts"
tables="$(psql_q -c "SELECT t FROM unnest(ARRAY['clinics', 'users', 'patients', 'appointment_slots', 'appointments',
  'payments', 'booking_requests', 'integrations', 'webhook_events', 'notifications', 'inbound_messages',
  'audit.audit_log']) WITH ORDINALITY AS u(t, i) WHERE to_regclass(t) IS NOT NULL ORDER BY i")"
if [ -n "$tables" ]; then
  query="$(sed -E "s/.*/SELECT '&' AS t, count(*) AS n FROM &/" <<<"$tables" | paste -sd'|' - | sed 's/|/ UNION ALL /g')"
  if counts="$(psql_q -F ' ' <<<"BEGIN; SET LOCAL ROLE carebook_admin; $query; COMMIT;" 2>&1)"; then
    echo "  (as carebook_admin: every clinic)"
    awk '{ printf "  %-34s %8d\n", $1, $2 }' <<<"$counts"
  else
    sed 's/^/    /' <<<"$counts"
    echo "    FAILED to count as carebook_admin" >&2
    failed=1
  fi
else
  echo "    FAILED: none of the key tables exists" >&2
  failed=1
fi
if migrations="$(psql_q -c "SELECT count(*) || ' ' || coalesce(max(name), '-') FROM carebook_migrations.pgmigrations" 2>/dev/null)"; then
  read -r applied last <<<"$migrations"
  printf '  %-34s %8d   (last: %s)\n' carebook_migrations.pgmigrations "$applied" "$last"
fi

if [ "$failed" != 0 ]; then
  echo "db_verify: $shown FAILED verification: send no traffic to it" >&2
  exit 1
fi
echo "verified: $shown"
