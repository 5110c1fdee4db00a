#!/usr/bin/env bash
# check_webhook_secrets.sh — after rotating a provider secret, prove that a running Carebook accepts
# a request signed with each configured secret: one synthetic event per secret, signed with the
# provider's own scheme, POSTed to $CAREBOOK_URL (default http://127.0.0.1:3000), 200 expected; a
# provider with a handshake (a GET check of its URL) also gets one per handshake token.
# The events have no business effect (no handler, or a message Carebook never sent): the worker
# settles them with a note starting "ignored:". See docs/ops/runbook.md, "Secret rotation".
# A wrapper over `carebook check-secrets`, which takes the providers from their descriptors.
#
# usage: tools/check_webhook_secrets.sh [--provider NAME]... [--account VARIABLE=INTEGRATION]...
#                                       [--url URL] [--timeout SECONDS]
#        tools/check_webhook_secrets.sh --help     (this text, then every option and variable)
# env:   the providers' secret variables (the same values as the Carebook processes; unset ones
#        are skipped; --help lists them), CAREBOOK_URL, CAREBOOK_PUBLIC_URL (for providers that
#        sign the public URL). Needs this checkout (npm ci) or the image; no database.
# exit:  0 all accepted; 1 at least one not accepted; 2 usage error or nothing configured;
#        3 Carebook unreachable.
set -euo pipefail
# shellcheck source=tools/lib.sh
source "$(dirname "$0")/lib.sh"

for arg in "$@"; do
  if [ "$arg" = --help ] || [ "$arg" = -h ]; then
    usage
    echo
    carebook check-secrets --help
    exit 0
  fi
done

carebook check-secrets "$@"
