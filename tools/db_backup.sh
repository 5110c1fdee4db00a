#!/usr/bin/env bash
# db_backup.sh — back up the Carebook database with pg_dump (custom format), before every migration
# and before any manual repair. See docs/ops/runbook.md, "Emergency rollback".
#
# usage: tools/db_backup.sh [--dir DIR] [--label TEXT]
#   --dir DIR     where to write the file (default: $CAREBOOK_BACKUP_DIR, else ./backups; created)
#   --label TEXT  a word added to the file name, e.g. the ticket: --label INC-311
#   --help        this text
#
# The file is named <database>_<UTC time>_<last applied migration>[_<label>].dump, for example
#   backups/carebook_20261103T094100Z_00013_webhook_handlers_INC-311.dump
# It is written under a temporary name and renamed when pg_dump has finished, so a file with the
# final name is always complete. The script prints the path, size and sha256 of the file and a
# summary of `pg_restore --list` (what the archive holds). Restore it with tools/db_restore.sh.
#
# env:  DATABASE_URL      the database to back up (required: this script never starts the
#                         embedded development database)
#       CAREBOOK_BACKUP_DIR  default for --dir
#       pg_dump, pg_restore and psql on PATH; pg_dump's major version must be at least the server's.
#       Prefer ~/.pgpass or PGPASSWORD to a password inside DATABASE_URL: the URL is passed to
#       pg_dump on its command line.
#
# exit: 0  backup written
#       2  usage or configuration error (bad option, DATABASE_URL unset, client tools missing or
#          older than the server, database unreachable, a role that row-level security would
#          hide rows from: it must be a superuser or have BYPASSRLS); nothing written
#       3  pg_dump failed; the partial file is removed
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

dir="${CAREBOOK_BACKUP_DIR:-./backups}"
label=""
while [ $# -gt 0 ]; do
  case "$1" in
  --dir)
    [ $# -ge 2 ] || die 2 "--dir needs a directory"
    dir="$2"
    shift 2
    ;;
  --label)
    [ $# -ge 2 ] || die 2 "--label needs a word, e.g. --label INC-311"
    label="$2"
    shift 2
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) die 2 "unknown argument \"$1\" (see --help)" ;;
  esac
done

[ -n "${DATABASE_URL:-}" ] || die 2 "DATABASE_URL is not set: export the URL of the database to back up"
for tool in pg_dump pg_restore psql; do
  command -v "$tool" >/dev/null || die 2 "$tool is not on PATH: install the PostgreSQL client tools of the server's major version"
done
if [ -n "$label" ] && ! [[ "$label" =~ ^[A-Za-z0-9._-]{1,40}$ ]]; then
  die 2 "--label takes up to 40 letters, digits, '.', '_' or '-'"
fi

export PGAPPNAME=carebook-backup
psql_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 --dbname="$DATABASE_URL" -c "$1"; }

info="$(psql_q "SELECT current_setting('server_version_num')::int / 10000, current_database(),
  (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)" 2>&1)" ||
  die 2 "cannot query $(redact "$DATABASE_URL"): $info"
IFS='|' read -r server_major database bypass <<<"$info"
# Every Carebook table has FORCE ROW LEVEL SECURITY: pg_dump run by a role that does not bypass it
# fails (or, with --enable-row-security, silently dumps only the rows a policy shows it).
if [ "$bypass" != t ]; then
  die 2 "the role in DATABASE_URL neither is a superuser nor has BYPASSRLS, so row-level security hides rows from pg_dump: back up as a superuser, or as a backup role made once with
    CREATE ROLE carebook_backup LOGIN BYPASSRLS PASSWORD '…';  GRANT pg_read_all_data TO carebook_backup;"
fi
last_migration="$(psql_q "SELECT CASE WHEN to_regclass('carebook_migrations.pgmigrations') IS NULL THEN 'no-migrations' END" 2>&1)" ||
  die 2 "cannot read the migration state: $last_migration"
if [ -z "$last_migration" ]; then
  last_migration="$(psql_q "SELECT coalesce(max(name), 'no-migrations') FROM carebook_migrations.pgmigrations" 2>&1)" ||
    die 2 "cannot read carebook_migrations.pgmigrations: $last_migration"
fi

client_major="$(pg_dump --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
if [ "$client_major" -lt "$server_major" ]; then
  die 2 "pg_dump is version $client_major but the server is PostgreSQL $server_major: use pg_dump $server_major or newer (e.g. /usr/lib/postgresql/$server_major/bin/pg_dump)"
fi

mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
name="${database}_${stamp}_${last_migration}${label:+_$label}.dump"
name="$(tr -c 'A-Za-z0-9._\n-' '_' <<<"$name")"
file="$(cd "$dir" && pwd)/$name"
partial="$(dirname "$file")/.${name}.partial"
[ ! -e "$file" ] || die 2 "$file already exists"

trap 'rm -f "$partial"' EXIT
echo "backing up $(redact "$DATABASE_URL") (PostgreSQL $server_major, last migration $last_migration) ..."
if ! pg_dump --format=custom --file="$partial" --dbname="$DATABASE_URL"; then
  die 3 "pg_dump failed; nothing was written"
fi
mv "$partial" "$file"
trap - EXIT

size="$(wc -c <"$file" | tr -d ' ')"
sha="$(sha256sum "$file" 2>/dev/null | cut -d' ' -f1 || shasum -a 256 "$file" | cut -d' ' -f1)"
echo "backup written: $file"
echo "size: $size bytes  sha256: $sha"
echo "contents (pg_restore --list):"
pg_restore --list "$file" | awk '
  /^; +(Archive created at|dbname:|TOC Entries:|Dumped from database version:|Dumped by pg_dump version:)/ {
    sub(/^; +/, ""); print "  " $0; next
  }
  /^;/ || NF == 0 { next }
  {
    line = $0
    sub(/^[0-9]+; [0-9]+ [0-9]+ /, "", line)
    kind = line
    n = split("TABLE DATA|FK CONSTRAINT|ROW SECURITY|SEQUENCE SET|SEQUENCE OWNED BY|DEFAULT ACL|MATERIALIZED VIEW", multi, "|")
    matched = 0
    for (i = 1; i <= n; i++) if (index(line, multi[i] " ") == 1) { kind = multi[i]; matched = 1; break }
    if (!matched) { split(line, words, " "); kind = words[1] }
    count[kind]++
  }
  END { for (k in count) printf "  %6d %s\n", count[k], k | "sort -k2"; }
'
echo "restore with: tools/db_restore.sh $file <target DATABASE_URL of a new, empty database>"
