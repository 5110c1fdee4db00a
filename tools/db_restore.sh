#!/usr/bin/env bash
# db_restore.sh — restore a tools/db_backup.sh file into a NEW, empty database and verify it, so that
# traffic can be cut over by changing DATABASE_URL. See docs/ops/runbook.md, "Emergency rollback".
#
# usage: tools/db_restore.sh [--force] [--no-owner] <dump file> <target DATABASE_URL>
#   --force     restore into a database that already holds objects: pg_restore --clean --if-exists
#               drops each object of the dump before recreating it (objects not in the dump stay)
#   --no-owner  make the connecting role own everything, for a cluster where the original owner
#               role does not exist (connect as the role that should own the schema: the migrator)
#   --help      this text
#
# Steps, each printed as it runs:
#   1. checks: the file is a pg_dump archive, the target answers, the target is empty (no tables,
#      views, sequences or schemas besides public) unless --force, and every role the dump names
#      (owners, grantees) exists in the target cluster — roles are cluster-wide and are not in a
#      dump of one database.
#   2. creates Carebook's group roles (carebook_app, carebook_worker, carebook_readonly,
#      carebook_admin) where missing, by running the Up section of
#      migrations/00002_roles_and_service_accounts.sql: the dump's GRANTs and policies name them.
#   3. pg_restore --single-transaction --exit-on-error: all or nothing, the target is unchanged when
#      it fails. Owners and privileges are restored as they were (the app depends on the grants).
#   4. ANALYZE (planner statistics are not in a dump).
#   5. verification by tools/db_verify.sh: `carebook migrate verify`, docs/migrations/smoke_tests.sql,
#      and row counts of the key tables (counted as carebook_admin, whose policies see every clinic).
#
# The target database must exist: create it first, e.g.
#   createdb --maintenance-db="$DATABASE_URL" carebook_restore_20261103
# env:  pg_restore and psql on PATH (any version at least as new as the pg_dump that wrote the file);
#       node, to run the carebook CLI from this checkout (bin/carebook.js).
#       The target URL is passed to psql/pg_restore on their command line: prefer ~/.pgpass or
#       PGPASSWORD to a password inside it.
#
# exit: 0  restored and verified: cut over by setting DATABASE_URL to the target and restarting
#       1  restored, but verification failed: do not send traffic to the target
#       2  usage or configuration error (bad arguments, not an archive, target unreachable, a role
#          the dump needs is missing); nothing changed
#       3  the target is not empty and --force was not given; nothing changed
#       4  pg_restore failed; the transaction was rolled back (roles created in step 2 stay)
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

force=false
no_owner=false
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
  --force) force=true ;;
  --no-owner) no_owner=true ;;
  -h | --help)
    usage
    exit 0
    ;;
  -*) die 2 "unknown option \"$1\" (see --help)" ;;
  *) positional+=("$1") ;;
  esac
  shift
done
[ "${#positional[@]}" -eq 2 ] || die 2 "usage: tools/db_restore.sh [--force] [--no-owner] <dump file> <target DATABASE_URL> (see --help)"
dump="${positional[0]}"
target="${positional[1]}"
shown="$(redact "$target")"

for tool in pg_restore psql; do
  command -v "$tool" >/dev/null || die 2 "$tool is not on PATH: install the PostgreSQL client tools"
done
[[ "$target" =~ ^postgres(ql)?:// ]] || die 2 "the target must be a postgres:// URL, e.g. postgres://user@host:5432/carebook_restore"
[ -f "$dump" ] && [ -r "$dump" ] || die 2 "$dump is not a readable file"

export PGAPPNAME=carebook-restore
psql_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 --dbname="$target" "$@"; }

# 1. Checks -------------------------------------------------------------------------------------
step "checking $dump"
toc="$(pg_restore --list "$dump" 2>&1)" || die 2 "$dump is not a pg_dump archive (custom or directory format): $toc"
grep -E '^; +(dbname|Dumped from database version):' <<<"$toc" | sed -E 's/^; +/    /'

step "checking the target $shown"
objects="$(psql_q -c "SELECT
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)')
  + (SELECT count(*) FROM pg_namespace
      WHERE nspname NOT IN ('public', 'information_schema') AND nspname !~ '^pg_')" 2>&1)" ||
  die 2 "cannot reach the target $shown: $objects"
if [ "$objects" != 0 ]; then
  if [ "$force" != true ]; then
    die 3 "the target $shown is not empty ($objects tables, views, sequences or schemas): restore into a new database (createdb …), or pass --force to drop and recreate the dump's objects in it"
  fi
  echo "    not empty ($objects objects); --force: the dump's objects are dropped and recreated"
else
  echo "    empty"
fi

# Roles the dump names: owners (ALTER … OWNER TO), grantees (GRANT … TO, REVOKE … FROM) and policy
# roles. Carebook's group roles are created in step 2; any other must already exist.
needed="$(pg_restore --schema-only --file=- "$dump" | awk -v no_owner="$no_owner" '
  function emit(list,    n, parts, i, r) {
    n = split(list, parts, /, */)
    for (i = 1; i <= n; i++) {
      r = parts[i]; gsub(/^ +| +$/, "", r); gsub(/^"|"$/, "", r)
      if (r != "" && r != "PUBLIC" && r != "CURRENT_USER" && r != "SESSION_USER" && r != "CURRENT_ROLE") print r
    }
  }
  /^ALTER .* OWNER TO .*;$/ {
    if (no_owner != "true") { s = $0; sub(/.* OWNER TO /, "", s); sub(/;$/, "", s); emit(s) }
    next
  }
  /^(GRANT|REVOKE) .*;$/ {
    s = $0; sub(/ WITH GRANT OPTION/, "", s); sub(/ GRANTED BY .*/, ";", s)
    if (s ~ / TO /) sub(/.* TO /, "", s); else sub(/.* FROM /, "", s)
    sub(/;$/, "", s); emit(s); next
  }
  /^CREATE POLICY / {
    s = $0; i = index(s, " ON "); s = substr(s, i + 4); i = index(s, " TO ")
    if (i == 0) next
    s = substr(s, i + 4); sub(/ (USING|WITH CHECK) .*/, "", s); sub(/;$/, "", s); emit(s)
  }' | sort -u)"
carebook_roles=" carebook_app carebook_worker carebook_readonly carebook_admin "
missing=()
while IFS= read -r role; do
  [ -n "$role" ] || continue
  case "$carebook_roles" in *" $role "*) continue ;; esac
  exists="$(psql_q -v role="$role" <<<"SELECT count(*) FROM pg_roles WHERE rolname = :'role'")"
  [ "$exists" = 1 ] || missing+=("$role")
done <<<"$needed"
if [ "${#missing[@]}" -gt 0 ]; then
  die 2 "the dump names role(s) missing in the target cluster: ${missing[*]}
  Create them first (roles are cluster-wide, not part of a database dump), e.g.
    CREATE ROLE ${missing[0]} NOLOGIN;     -- or LOGIN PASSWORD '…' for a login role
  or, for a missing owner, rerun with --no-owner while connected as the role that should own the schema."
fi
echo "    roles named by the dump: $(tr '\n' ' ' <<<"$needed")"

# 2. Carebook's group roles ----------------------------------------------------------------------
roles_file="$(ls "$root"/migrations/00002_*.sql 2>/dev/null | head -n 1)"
[ -n "$roles_file" ] || die 2 "migrations/00002_*.sql not found under $root"
step "creating missing group roles ($(basename "$roles_file"), Up section)"
sed -n '/^-- Up Migration/,/^-- Down Migration/p' "$roles_file" |
  psql -X -q -v ON_ERROR_STOP=1 --single-transaction --dbname="$target" -f - ||
  die 2 "could not create the group roles in the target cluster (the connecting role needs CREATEROLE)"

# 3. Restore -------------------------------------------------------------------------------------
restore_args=(--exit-on-error --single-transaction)
[ "$force" = true ] && restore_args+=(--clean --if-exists)
[ "$no_owner" = true ] && restore_args+=(--no-owner)
step "pg_restore ${restore_args[*]}"
started=$SECONDS
if ! pg_restore "${restore_args[@]}" --dbname="$target" "$dump"; then
  die 4 "pg_restore failed (see above); the restore was rolled back and $shown is unchanged"
fi
echo "    restored in $((SECONDS - started)) s"

# 4. Statistics ----------------------------------------------------------------------------------
step "ANALYZE"
psql_q -c 'SET client_min_messages = error' -c 'ANALYZE' >/dev/null

# 5. Verification --------------------------------------------------------------------------------
if ! "$root/tools/db_verify.sh" "$target"; then
  echo "db_restore: restored into $shown, but verification FAILED: do not cut traffic over to it" >&2
  exit 1
fi
echo "restored and verified: $shown"
echo "cut over: set DATABASE_URL to it on every api and worker process and restart them; then check GET /readyz"
