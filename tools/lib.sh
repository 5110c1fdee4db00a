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

# The carebook CLI of this checkout or image (bin/carebook.js runs the source, or dist/ in the image).
carebook() { node "$root/bin/carebook.js" "$@"; }
