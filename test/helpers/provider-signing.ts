// The providers' signing lives with the fake providers (src/dev/fakes), which sign the webhooks
// they send; tests import it from here as before.
export * from '../../src/dev/fakes/signing.js';
