// carebook check-secrets — the smoke check after a secret rotation: for every provider secret in
// the environment (each one of a comma-separated list), a request signed with it the way the
// provider signs (its descriptor's probe) goes to a running Carebook, which must answer 200. The
// probes carry events no handler turns into an effect, so the worker settles them as ignored.
// tools/check_webhook_secrets.sh wraps it. Talks HTTP only: no database, no configuration check.
import { createHash } from 'node:crypto';
import { readSecrets } from '../config.js';
import {
  PROVIDER_NAMES,
  PROVIDER_SECRETS,
  PROVIDERS,
  type ProviderName,
  providerNamed,
} from '../webhooks/providers/index.js';
import { collect, command, InvalidArgumentError, parse } from './command.js';

/** Exit codes beside 0 (all accepted) and 2 (usage, or nothing to check). */
const REFUSED = 1;
const UNREACHABLE = 3;

const EXAMPLE_ACCOUNT = `${Object.values(PROVIDERS)[0]?.secret.name}_NORTHSIDE=northside`;

interface Account {
  provider: ProviderName;
  variable: string;
  integration: string;
}

interface Options {
  provider?: ProviderName[];
  account?: Account[];
  url?: string;
  timeout: number;
}

function checkCommand() {
  return command(
    'check-secrets',
    'after rotating a provider secret, prove that a running Carebook accepts a request signed with each configured secret (one synthetic, effect-free event per secret; a handshake per token)',
  )
    .option(
      '--provider <name>',
      `check only this provider: ${PROVIDER_NAMES.join(', ')} (repeatable)`,
      collect(providerName),
    )
    .option(
      '--account <VARIABLE=INTEGRATION>',
      `also check a further account: its secret variable and the integration id or name in its URL, e.g. --account ${EXAMPLE_ACCOUNT} (repeatable)`,
      collect(account),
    )
    .option('--url <url>', "Carebook's base URL (default: $CAREBOOK_URL, else http://127.0.0.1:3000)")
    .option('--timeout <seconds>', 'per request', seconds, 10)
    .addHelpText(
      'after',
      `
Environment: the providers' secret variables, set to the same values as the Carebook processes
(comma-separated during a rotation: every one is checked; unset ones are skipped):
  ${PROVIDER_SECRETS.map((v) => v.name).join(', ')}
CAREBOOK_URL: where to send the requests. CAREBOOK_PUBLIC_URL: the public base URL Carebook is
configured with, which providers that sign the URL sign (default: the --url).
Secrets are never printed: each is shown as the first 8 hex digits of its sha256.

Exit: 0 every configured secret was accepted (200); 1 at least one was not (its FAIL line says
which, with Carebook's answer); 2 usage error, or no secret configured for the selected
providers; 3 Carebook could not be reached.`,
    );
}

function providerName(raw: string): ProviderName {
  if (!providerNamed(raw)) throw new InvalidArgumentError(`Expected one of ${PROVIDER_NAMES.join(', ')}.`);
  return raw as ProviderName;
}

function account(raw: string): Account {
  const match = /^([A-Z0-9_]+)=([A-Za-z0-9][A-Za-z0-9_.-]{0,99})$/.exec(raw);
  const variable = match?.[1] ?? '';
  const provider = Object.values(PROVIDERS).find(
    ({ secret }) =>
      variable.startsWith(secret.name) && /^(_[A-Z0-9]+)+$/.test(variable.slice(secret.name.length)),
  );
  if (!match || !provider) {
    throw new InvalidArgumentError(`Expected VARIABLE=INTEGRATION, e.g. --account ${EXAMPLE_ACCOUNT}.`);
  }
  return { provider: provider.name, variable, integration: match[2] ?? '' };
}

function seconds(raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError('Expected seconds, e.g. 10.');
  return value;
}

interface Check {
  provider: ProviderName;
  path: string;
  label: string;
  secret: string;
  kind: 'signature' | 'handshake';
}

class Unreachable extends Error {}

async function send(url: string, init: RequestInit, timeoutSeconds: number) {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutSeconds * 1000) });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Unreachable(`${init.method} ${url}: ${cause?.code ?? cause?.message ?? String(error)}`);
  }
}

/** What Carebook answered, shortened: the problem code and detail, or the JSON counts. */
function summary(text: string): string {
  try {
    const json = JSON.parse(text) as { code?: string; detail?: string };
    if (json.code) return `${json.code}${json.detail ? `: ${json.detail}` : ''}`;
    return JSON.stringify(json);
  } catch {
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  }
}

const fingerprint = (secret: string) =>
  `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 8)}`;

/** One check per secret of each target's variable, and per token of its handshake's. */
function checksOf(
  targets: Omit<Check, 'label' | 'secret' | 'kind'>[],
  secrets: Record<string, string[]>,
  variables: string[],
): Check[] {
  return targets.flatMap((target, index) => {
    const provider = PROVIDERS[target.provider];
    const variable = variables[index] ?? '';
    const suffix = variable.slice(provider.secret.name.length);
    const kinds: [Check['kind'], string][] = [['signature', variable]];
    if (provider.handshake) kinds.push(['handshake', `${provider.handshake.token.name}${suffix}`]);
    return kinds.flatMap(([kind, name]) => {
      const list = secrets[name] ?? [];
      return list.map((secret, i) => ({
        ...target,
        kind,
        secret,
        label: `${name} #${i + 1} of ${list.length}`,
      }));
    });
  });
}

export async function run(args: string[], env = process.env): Promise<number> {
  const { options } = parse<Options>(checkCommand(), args);
  const base = (options.url ?? env.CAREBOOK_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+$/.test(base)) {
    console.error(
      `carebook check-secrets: --url must be a base URL such as http://127.0.0.1:3000, not "${base}"`,
    );
    return 2;
  }
  const publicBase = (env.CAREBOOK_PUBLIC_URL?.trim() || base).replace(/\/+$/, '');
  const selected = options.provider ?? PROVIDER_NAMES;
  const secrets = readSecrets(env);

  const targets = selected.map((name) => ({ provider: name, path: `/webhooks/${name}` }));
  const variables = selected.map((name) => PROVIDERS[name].secret.name);
  for (const extra of options.account ?? []) {
    if (!selected.includes(extra.provider)) continue;
    targets.push({ provider: extra.provider, path: `/webhooks/${extra.provider}/${extra.integration}` });
    variables.push(extra.variable);
  }
  for (const name of Object.keys(secrets)) {
    const provider = selected.find((p) => name.startsWith(`${PROVIDERS[p].secret.name}_`));
    if (provider && !variables.includes(name)) {
      console.log(
        `skip  ${provider.padEnd(9)}${name}: pass --account ${name}=<integration id or name> to check it`,
      );
    }
  }

  const checks = checksOf(targets, secrets, variables);
  if (checks.length === 0) {
    console.error(
      `carebook check-secrets: no secret is set for ${selected.join(', ')}: export the variables the Carebook processes use (see --help)`,
    );
    return 2;
  }

  let failed = 0;
  try {
    for (const check of checks) {
      const provider = PROVIDERS[check.provider];
      let method: string;
      let result: { status: number; text: string };
      let ok: boolean;
      if (check.kind === 'handshake' && provider.handshake) {
        const probe = provider.handshake.probe(check.secret);
        method = 'GET';
        result = await send(
          `${base}${check.path}?${new URLSearchParams(probe.query)}`,
          { method },
          options.timeout,
        );
        ok = result.status === 200 && result.text === probe.expect;
      } else {
        method = 'POST';
        const probe = provider.probe(check.secret, `${publicBase}${check.path}`);
        result = await send(`${base}${check.path}`, { method, ...probe }, options.timeout);
        ok = result.status === 200;
      }
      if (!ok) failed += 1;
      console.log(
        `${ok ? 'ok  ' : 'FAIL'}  ${check.provider.padEnd(9)}${check.label} (${fingerprint(check.secret)})  ${method} ${check.path} → ${result.status} ${summary(result.text)}`,
      );
    }
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    console.error(`carebook check-secrets: ${error.message}`);
    return UNREACHABLE;
  }
  console.log(
    failed === 0
      ? `all ${checks.length} secret(s) accepted by ${base}`
      : `${failed} of ${checks.length} secret(s) NOT accepted by ${base}: see the FAIL lines (401 bad_signature: the processes run with other secrets; 503: the variable is not set there)`,
  );
  return failed === 0 ? 0 : REFUSED;
}
