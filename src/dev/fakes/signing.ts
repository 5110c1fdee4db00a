// Signs requests the way each provider does: the fake providers sign the webhooks they send with
// it, and tests sign made-up deliveries. Written from the providers' documentation and SDKs,
// independently of src/webhooks/providers: a test that signed with the verifier's own code could
// not catch a mistake in it.
import { createHash, createHmac } from 'node:crypto';

/** The `Stripe-Signature` header: `t=<timestamp>,v1=<hex HMAC-SHA256 of "t.body">`. */
export function signStripe(body: string | Buffer, secret: string, timestamp: number): string {
  const signature = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return `t=${timestamp},v1=${signature}`;
}

export type TwilioParams = Record<string, string | readonly string[]>;

/**
 * `X-Twilio-Signature` for a form post (params) or a JSON post (the raw JSON text). For JSON the
 * URL Twilio calls gains `bodySHA256=<hex>`, so the URL to request is returned with the signature.
 * Repeated names: each distinct value once, sorted (twilio-node's toFormUrlEncodedParam).
 */
export function signTwilio(
  url: string,
  paramsOrJsonBody: TwilioParams | string,
  token: string,
): { url: string; signature: string } {
  let signedUrl = url;
  let data = url;
  if (typeof paramsOrJsonBody === 'string') {
    const bodyHash = createHash('sha256').update(paramsOrJsonBody).digest('hex');
    signedUrl = `${url}${url.includes('?') ? '&' : '?'}bodySHA256=${bodyHash}`;
    data = signedUrl;
  } else {
    for (const name of Object.keys(paramsOrJsonBody).sort()) {
      const value = paramsOrJsonBody[name]!;
      const values = typeof value === 'string' ? [value] : [...new Set(value)].sort();
      for (const item of values) data += name + item;
    }
  }
  return { url: signedUrl, signature: createHmac('sha1', token).update(data, 'utf8').digest('base64') };
}

/** The form body Twilio would post for these params. */
export function twilioFormBody(params: TwilioParams): string {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of typeof value === 'string' ? [value] : value) form.append(name, item);
  }
  return form.toString();
}

/** The `X-Hub-Signature-256` header: `sha256=<hex HMAC-SHA256 of the body>`. */
export function signWhatsApp(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** `X-Webhook-Signature`: base64 HMAC-SHA256 of "timestamp.body", key = the secret base64-decoded. */
export function signDaily(body: string | Buffer, base64Secret: string, timestamp: string | number): string {
  return createHmac('sha256', Buffer.from(base64Secret, 'base64'))
    .update(`${timestamp}.`)
    .update(body)
    .digest('base64');
}
