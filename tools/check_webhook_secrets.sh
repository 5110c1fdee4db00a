#!/usr/bin/env bash
# check_webhook_secrets.sh — after rotating a provider secret, prove that a running Carebook accepts
# a request signed with each configured secret: one synthetic event per secret, signed with the
# provider's own scheme, POSTed to $CAREBOOK_URL (default http://127.0.0.1:3000), 200 expected.
# The events have no business effect (no handler, or a message Carebook never sent): the worker
# settles them with a note starting "ignored:". See docs/ops/runbook.md, "Secret rotation".
#
# usage: tools/check_webhook_secrets.sh [--provider NAME]... [--account VARIABLE=INTEGRATION]...
#                                       [--url URL] [--timeout SECONDS]
#        tools/check_webhook_secrets.sh --help     (the options, in full)
# env:   STRIPE_WEBHOOK_SECRET, TWILIO_AUTH_TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN,
#        DAILY_WEBHOOK_SECRET (the same values as the Carebook processes; unset ones are skipped),
#        CAREBOOK_URL, CAREBOOK_PUBLIC_URL (Twilio signs the public URL). Needs node 20; nothing else.
# exit:  0 all accepted; 1 at least one not accepted; 2 usage error or nothing configured;
#        3 Carebook unreachable.
# The work is done by tools/check_webhook_secrets.mjs (plain Node, node:crypto and fetch).
set -euo pipefail
exec node "$(cd "$(dirname "$0")" && pwd)/check_webhook_secrets.mjs" "$@"
