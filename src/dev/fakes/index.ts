// Starts any subset of the fake providers on free 127.0.0.1 ports, for tests and for `npm start`:
// each comes back with its base URL (what STRIPE_API_BASE, DAILY_API_BASE, TWILIO_API_BASE and
// WHATSAPP_API_BASE would hold), its fault hooks and its state inspectors; `stop` ends them all.
import type { ProviderName } from '../../webhooks/providers/types.js';
import { type DailyFake, type DailyFakeOptions, startDailyFake } from './daily.js';
import { type StripeFake, type StripeFakeOptions, startStripeFake } from './stripe.js';
import { startTwilioFake, type TwilioFake, type TwilioFakeOptions } from './twilio.js';
import { startWhatsAppFake, type WhatsAppFake, type WhatsAppFakeOptions } from './whatsapp.js';

export type { Fault } from './server.js';
export type { DailyFake, StripeFake, TwilioFake, WhatsAppFake };

interface FakeKinds {
  stripe: { options: StripeFakeOptions; fake: StripeFake };
  daily: { options: DailyFakeOptions; fake: DailyFake };
  twilio: { options: TwilioFakeOptions; fake: TwilioFake };
  whatsapp: { options: WhatsAppFakeOptions; fake: WhatsAppFake };
}

export type FakesOptions = { [K in ProviderName]?: FakeKinds[K]['options'] };

export type Fakes<O extends FakesOptions> = { [K in keyof O & ProviderName]: FakeKinds[K]['fake'] } & {
  urls: { [K in keyof O & ProviderName]: string };
  stop(): Promise<void>;
};

type Starter = (options: never) => Promise<{ url: string; stop(): Promise<void> }>;
const STARTERS: Record<ProviderName, Starter> = {
  stripe: startStripeFake,
  daily: startDailyFake,
  twilio: startTwilioFake,
  whatsapp: startWhatsAppFake,
};

export async function startFakes<O extends FakesOptions>(options: O): Promise<Fakes<O>> {
  const names = (Object.keys(options) as ProviderName[]).filter((name) => options[name] !== undefined);
  const started = await Promise.allSettled(names.map((name) => STARTERS[name](options[name] as never)));
  const running = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async () => {
    await Promise.all(running.map((fake) => fake.stop()));
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await stop();
    throw new Error('a fake provider failed to start', { cause: failed.reason });
  }
  const fakes: Record<string, unknown> = { stop };
  const urls: Record<string, string> = {};
  names.forEach((name, index) => {
    const fake = running[index]!;
    fakes[name] = fake;
    urls[name] = fake.url;
  });
  fakes.urls = urls;
  return fakes as Fakes<O>;
}
