# Shared by the scripts in tools/ (sourced, not run): usage from the script's header comment,
# errors with exit codes, URL redaction, and the carebook CLI of this checkout.
# shellcheck shell=bash

# The header comment of the calling script, from line 2 to `set -euo pipefail`.
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

# die CODE MESSAGE — print "<script>: MESSAGE" on stderr and exit with CODE.
die() {
  echo "$(basename "$0" .sh): $2" >&2
  exit "$1"
}

# A connection URL with its password replaced by ***.
redact() { sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$1"; }

step() { printf '==> %s\n' "$*"; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The carebook CLI from source when this is a checkout with dev dependencies, else the build.
carebook() {
  if [ -x "$root/node_modules/.bin/tsx" ] && [ -f "$root/src/cli.ts" ]; then
    "$root/node_modules/.bin/tsx" "$root/src/cli.ts" "$@"
  else
    node "$root/dist/cli.js" "$@"
  fi
}
