#!/usr/bin/env node
// check_webhook_secrets.mjs — smoke check after a secret rotation: for every provider secret in the
// environment (each one of a comma-separated list), sign a synthetic event with the provider's own
// scheme, POST it to a running Carebook and expect 200. Run through tools/check_webhook_secrets.sh;
// `--help` explains. Plain Node (node:crypto, fetch): no dependencies, no database access.
//
// The events have no business effect: their types have no handler, or they concern a message
// Carebook never sent, so the worker settles them `success` with a note starting `ignored:`.
//   stripe    event type carebook.secret_check              id evt_carebook_secret_check_<hex>
//   daily     event type carebook.secret_check              id carebook-secret-check-<hex>
//   twilio    status callback (delivered) for MessageSid SMcarebooksecretcheck<hex> (no such message)
//   whatsapp  status (delivered) for wamid.carebook-secret-check-<hex> (no such message)
//   whatsapp  verify token: the GET subscription handshake, which stores nothing
import { createHash, createHmac, randomBytes } from 'node:crypto';

const USAGE = `check_webhook_secrets — after rotating a provider secret, prove that a running Carebook
accepts a request signed with each configured secret (one synthetic, effect-free event per secret).

usage: tools/check_webhook_secrets.sh [--provider NAME]... [--account VARIABLE=INTEGRATION]...
                                      [--url URL] [--timeout SECONDS]
  --provider NAME   check only this provider (stripe, twilio, whatsapp, daily); repeatable
  --account VARIABLE=INTEGRATION
                    also check a further account: its secret variable and the integration id or
                    name in its URL, e.g. --account STRIPE_WEBHOOK_SECRET_NORTHSIDE=northside
                    (POST /webhooks/stripe/northside); repeatable. WHATSAPP_APP_SECRET_<X> brings
                    WHATSAPP_VERIFY_TOKEN_<X> with it.
  --url URL         Carebook's base URL (default: $CAREBOOK_URL, else http://127.0.0.1:3000)
  --timeout SECONDS per request (default 10)
  --help            this text

env:  STRIPE_WEBHOOK_SECRET, TWILIO_AUTH_TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN,
      DAILY_WEBHOOK_SECRET — the same values as the Carebook processes (comma-separated during a
      rotation; every one is checked). Unset variables are skipped.
      CAREBOOK_URL — where to send the requests.
      CAREBOOK_PUBLIC_URL — the public base URL Carebook is configured with: Twilio signs the full
      URL, so the check signs <CAREBOOK_PUBLIC_URL>/webhooks/twilio (default: the --url).
Secrets are never printed: each is shown as the first 8 hex digits of its sha256.

exit: 0  every configured secret was accepted (200)
      1  at least one was not (the line starting FAIL says which, with Carebook's answer)
      2  usage error, or no secret configured for the selected providers
      3  Carebook could not be reached at the URL`;

const PROVIDERS = ['stripe', 'twilio', 'whatsapp', 'daily'];
const VARIABLES = {
  stripe: 'STRIPE_WEBHOOK_SECRET',
  twilio: 'TWILIO_AUTH_TOKEN',
  whatsapp: 'WHATSAPP_APP_SECRET',
  daily: 'DAILY_WEBHOOK_SECRET',
};

class UsageError extends Error {}

function parseArgs(argv) {
  const options = { providers: [], accounts: [], url: null, timeout: 10 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value (see --help)`);
      return next;
    };
    if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg === '--provider') {
      const provider = value();
      if (!PROVIDERS.includes(provider))
        throw new UsageError(`--provider takes one of ${PROVIDERS.join(', ')}, not "${provider}"`);
      options.providers.push(provider);
    } else if (arg === '--account') {
      const match = /^([A-Z0-9_]+)=([A-Za-z0-9][A-Za-z0-9_.-]{0,99})$/.exec(value());
      const provider = match && PROVIDERS.find((p) => match[1].startsWith(`${VARIABLES[p]}_`));
      if (!match || !provider || !/^(_[A-Z0-9]+)+$/.test(match[1].slice(VARIABLES[provider].length)))
        throw new UsageError(
          '--account takes VARIABLE=INTEGRATION, e.g. --account STRIPE_WEBHOOK_SECRET_NORTHSIDE=northside',
        );
      options.accounts.push({ provider, variable: match[1], integration: match[2] });
    } else if (arg === '--url') options.url = value();
    else if (arg === '--timeout') {
      options.timeout = Number(value());
      if (!Number.isFinite(options.timeout) || options.timeout <= 0)
        throw new UsageError('--timeout takes a number of seconds, e.g. --timeout 10');
    } else throw new UsageError(`unknown argument "${arg}" (see --help)`);
  }
  return options;
}

const secretsOf = (env, name) =>
  (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const fingerprint = (secret) => `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 8)}`;
const hex = () => randomBytes(8).toString('hex');
const now = () => Math.floor(Date.now() / 1000);
const hmac = (algorithm, key, data, encoding) => createHmac(algorithm, key).update(data).digest(encoding);

/** One signed request per provider scheme: [method, path suffix, headers, body]. */
const REQUESTS = {
  stripe(secret) {
    const id = `evt_carebook_secret_check_${hex()}`;
    const body = JSON.stringify({
      id,
      object: 'event',
      type: 'carebook.secret_check',
      created: now(),
      livemode: false,
      data: { object: { id, object: 'carebook.secret_check' } },
    });
    const t = now();
    const signature = hmac('sha256', secret, `${t}.${body}`, 'hex');
    return {
      headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${signature}` },
      body,
    };
  },
  twilio(secret, signedUrl) {
    const params = {
      ApiVersion: '2010-04-01',
      MessageSid: `SMcarebooksecretcheck${hex()}`,
      MessageStatus: 'delivered',
    };
    let data = signedUrl;
    for (const name of Object.keys(params).sort()) data += name + params[name];
    return {
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': hmac('sha1', secret, data, 'base64'),
      },
      body: new URLSearchParams(params).toString(),
    };
  },
  whatsapp(secret) {
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '0',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { phone_number_id: '0' },
                statuses: [
                  {
                    id: `wamid.carebook-secret-check-${hex()}`,
                    status: 'delivered',
                    timestamp: String(now()),
                  },
                ],
              },
            },
          ],
        },
      ],
    });
    return {
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': `sha256=${hmac('sha256', secret, body, 'hex')}`,
      },
      body,
    };
  },
  daily(secret) {
    const body = JSON.stringify({
      version: '1.0.0',
      type: 'carebook.secret_check',
      id: `carebook-secret-check-${hex()}`,
      payload: {},
      event_ts: now(),
    });
    const t = String(now());
    const signature = hmac('sha256', Buffer.from(secret, 'base64'), `${t}.${body}`, 'base64');
    return {
      headers: {
        'content-type': 'application/json',
        'x-webhook-timestamp': t,
        'x-webhook-signature': signature,
      },
      body,
    };
  },
};

class Unreachable extends Error {}

async function send(url, init, timeoutSeconds) {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutSeconds * 1000) });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    const cause = error?.cause?.code ?? error?.cause?.message ?? error?.message ?? String(error);
    throw new Unreachable(`${init.method} ${url}: ${cause}`);
  }
}

/** What Carebook answered, shortened: the problem code and detail, or the JSON counts. */
function summary(text) {
  try {
    const json = JSON.parse(text);
    if (json.code) return `${json.code}${json.detail ? `: ${json.detail}` : ''}`;
    return JSON.stringify(json);
  } catch {
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  }
}

async function main(argv, env) {
  const options = parseArgs(argv);
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const base = (options.url ?? env.CAREBOOK_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+$/.test(base))
    throw new UsageError(`--url must be a base URL such as http://127.0.0.1:3000, not "${base}"`);
  const publicBase = (env.CAREBOOK_PUBLIC_URL?.trim() || base).replace(/\/+$/, '');
  const selected = options.providers.length > 0 ? options.providers : PROVIDERS;

  const targets = selected.map((provider) => ({
    provider,
    variable: VARIABLES[provider],
    path: `/webhooks/${provider}`,
  }));
  for (const account of options.accounts) {
    if (selected.includes(account.provider))
      targets.push({ ...account, path: `/webhooks/${account.provider}/${account.integration}` });
  }
  const mapped = new Set(options.accounts.map((a) => a.variable));
  for (const name of Object.keys(env).sort()) {
    const provider = selected.find((p) => name.startsWith(`${VARIABLES[p]}_`));
    if (provider && !mapped.has(name) && secretsOf(env, name).length > 0)
      console.log(
        `skip  ${provider.padEnd(9)}${name}: pass --account ${name}=<integration id or name> to check it`,
      );
  }

  const checks = [];
  for (const target of targets) {
    const secrets = secretsOf(env, target.variable);
    for (const [index, secret] of secrets.entries()) {
      checks.push({
        ...target,
        kind: 'signature',
        secret,
        label: `${target.variable} #${index + 1} of ${secrets.length}`,
      });
    }
    if (target.provider === 'whatsapp') {
      const tokenVariable = target.variable.replace('WHATSAPP_APP_SECRET', 'WHATSAPP_VERIFY_TOKEN');
      const tokens = secretsOf(env, tokenVariable);
      for (const [index, secret] of tokens.entries()) {
        checks.push({
          ...target,
          kind: 'handshake',
          secret,
          label: `${tokenVariable} #${index + 1} of ${tokens.length}`,
        });
      }
    }
  }
  if (checks.length === 0) {
    console.error(
      `check_webhook_secrets: no secret is set for ${selected.join(', ')}: export the variables the Carebook processes use (see --help)`,
    );
    return 2;
  }

  let failed = 0;
  for (const check of checks) {
    let method;
    let url;
    let result;
    let ok;
    if (check.kind === 'handshake') {
      const challenge = String(randomBytes(4).readUInt32BE());
      const query = new URLSearchParams({
        'hub.mode': 'subscribe',
        'hub.verify_token': check.secret,
        'hub.challenge': challenge,
      });
      method = 'GET';
      url = `${base}${check.path}?${query}`;
      result = await send(url, { method }, options.timeout);
      ok = result.status === 200 && result.text === challenge;
    } else {
      method = 'POST';
      url = `${base}${check.path}`;
      const request = REQUESTS[check.provider](check.secret, `${publicBase}${check.path}`);
      result = await send(url, { method, ...request }, options.timeout);
      ok = result.status === 200;
    }
    if (!ok) failed += 1;
    console.log(
      `${ok ? 'ok  ' : 'FAIL'}  ${check.provider.padEnd(9)}${check.label} (${fingerprint(check.secret)})  ${method} ${check.path} → ${result.status} ${summary(result.text)}`,
    );
  }
  console.log(
    failed === 0
      ? `all ${checks.length} secret(s) accepted by ${base}`
      : `${failed} of ${checks.length} secret(s) NOT accepted by ${base}: see the FAIL lines (401 bad_signature: the processes run with other secrets; 503: the variable is not set there)`,
  );
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`check_webhook_secrets: ${error.message}`);
    process.exit(error instanceof UsageError ? 2 : error instanceof Unreachable ? 3 : 1);
  },
);
