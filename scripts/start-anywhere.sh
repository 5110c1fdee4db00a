#!/usr/bin/env bash
# start-anywhere.sh — the first hour of an adopting team, as root in a directory only root may
# enter (root's home at mode 0700, as in containers and CI runners). Run by .ci/run.
#
# Clones this repository (its committed HEAD) into a fresh directory of mode 0700, runs `npm ci`,
# then `npm start` twice, each stopped by one Ctrl-C — SIGINT to its whole process group, as a
# terminal sends it:
#   1. /readyz answers 200; the printed demo tokens work (list slots, book one);
#   2. one SIGINT stops it with exit code 0 within 20 s, its PostgreSQL stopped too;
#   3. after a restart the booking is still there; the second run stops the same way.
# Then `npm test`'s harness in the clone: test/db/embedded.test.ts (the global setup migrates a
# template on the clone's embedded server, whose binaries also sit under the 0700 directory).
#
# usage: scripts/start-anywhere.sh        (as root; exit 0 when every check passed)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "start-anywhere: run it as root: it checks what happens in root's private directories" >&2; exit 2; }
started=$SECONDS
say() { printf '[%3ss] %s\n' "$((SECONDS - started))" "$*"; }
fail() { echo "start-anywhere: FAILED: $*" >&2; exit 1; }

work="$(mktemp -d /tmp/carebook-anywhere-XXXXXX)"
chmod 700 "$work"
clone="$work/carebook"
log="$work/npm-start.log"
pid=""

cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then kill -KILL -- "-$pid" 2> /dev/null || true; fi
  # Clusters this run placed under /var/lib/carebook (each notes its data directory in <id>.source).
  for source in /var/lib/carebook/clusters/*.source; do
    [ -e "$source" ] || continue
    case "$(cat "$source")" in
      "$work"/*)
        cluster="${source%.source}"
        if [ -f "$cluster/postmaster.pid" ]; then kill -INT "$(head -1 "$cluster/postmaster.pid")" 2> /dev/null || true; fi
        for _ in $(seq 1 50); do [ -f "$cluster/postmaster.pid" ] || break; sleep 0.2; done
        rm -rf "$cluster" "$source"
        ;;
    esac
  done
  rm -rf "$work"
}
trap cleanup EXIT

# node's fetch: the checks need nothing but Node.js. Prints "<status> <body>".
http() {
  node -e '
    const [method, url, token, body] = process.argv.slice(1);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": `anywhere-${Date.now()}` };
    fetch(url, { method, headers: token ? headers : {}, body: body || undefined })
      .then(async (r) => console.log(r.status, await r.text()), (e) => { console.log(0, e.message); });
  ' "$@"
}
exported() { sed -n "s/^  export $1=\([^ ]*\).*/\1/p" "$log" | tail -1; }

start() {
  : > "$log"
  # Its own process group (setsid), as a terminal gives the command it runs.
  (cd "$clone" && exec setsid env -u DATABASE_URL PORT=0 npm start > "$log" 2>&1) &
  pid=$!
  for _ in $(seq 1 360); do
    grep -q 'ADMIN_TOKEN=' "$log" && break
    kill -0 "$pid" 2> /dev/null || { cat "$log"; fail "npm start exited before it was ready"; }
    sleep 0.5
  done
  grep -q 'ADMIN_TOKEN=' "$log" || { cat "$log"; fail "npm start was not ready within 180 s"; }
  url="$(sed -n 's/^Carebook is running at \(http:[^ ]*\).*/\1/p' "$log")"
  cluster="$(sed -n 's/.*data in \([^)]*\)).*/\1/p' "$log")"
  say "ready at $url; $(grep -o 'database: [^)]*' "$log")"
}

ctrl_c() {
  local sent=$SECONDS rc=0
  kill -INT -- "-$pid"
  for _ in $(seq 1 200); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2> /dev/null && { tail -20 "$log"; fail "still running 20 s after one SIGINT"; }
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" = 0 ] || { tail -20 "$log"; fail "npm start exited $rc after one SIGINT (0 expected)"; }
  ! grep -q 'second signal' "$log" || fail "one SIGINT was taken for two"
  [ ! -f "$cluster/postmaster.pid" ] || fail "its PostgreSQL is still running ($cluster)"
  awk 'length > 2000 { exit 1 }' "$log" || fail "a log line over 2,000 characters (an object dumped?)"
  say "one SIGINT: exit 0 in $((SECONDS - sent)) s, PostgreSQL stopped"
}

say "cloning $repo into $work (mode $(stat -c %a "$work"))"
git clone --quiet "$repo" "$clone"
(cd "$clone" && npm ci --no-audit --no-fund > "$work/npm-ci.log" 2>&1) || { cat "$work/npm-ci.log"; fail "npm ci"; }
say "npm ci done"

start
case "$cluster" in /var/lib/carebook/*) ;; *) fail "the cluster should live under /var/lib/carebook, not $cluster" ;; esac
read -r status _ <<< "$(http GET "$url/readyz")"
[ "$status" = 200 ] || fail "/readyz answered $status"
clinic="$(exported CLINIC)"
patient="$(exported PATIENT_TOKEN)"
read -r status slots <<< "$(http GET "$url/api/clinics/$clinic/slots?available=true&limit=1" "$patient")"
[ "$status" = 200 ] || fail "listing slots with the demo patient token answered $status: $slots"
slot="$(node -p 'JSON.parse(process.argv[1]).slots[0].id' "$slots")"
read -r status booked <<< "$(http POST "$url/api/appointments" "$patient" "{\"slot_id\": \"$slot\"}")"
[ "$status" = 201 ] || fail "booking with the demo patient token answered $status: $booked"
appointment="$(node -p 'JSON.parse(process.argv[1]).appointment.id' "$booked")"
say "/readyz 200; demo patient token: slots 200, booking 201 ($appointment)"
ctrl_c

start
read -r status _ <<< "$(http GET "$url/api/appointments/$appointment" "$patient")"
[ "$status" = 200 ] || fail "after a restart the booking is gone (GET answered $status)"
say "restarted: the booking is still there"
ctrl_c

say "npm test's harness in the clone (test/db/embedded.test.ts)"
(cd "$clone" && env -u DATABASE_URL npx vitest run test/db/embedded.test.ts > "$work/npm-test.log" 2>&1) \
  || { cat "$work/npm-test.log"; fail "npm test in the clone"; }
sed 's/\x1b\[[0-9;]*m//g' "$work/npm-test.log" | grep -E 'Tests +[0-9]+ passed'
say "done: start anywhere as root passed"
