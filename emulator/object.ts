// Stripe objects are open-ended JSON; typing every field would duplicate the SDK's types
// without making the emulator safer, so objects are plain records. This module imports
// nothing, so any module (errors.ts included) can name the type without an import cycle.
// deno-lint-ignore no-explicit-any
export type StripeObject = Record<string, any>;
