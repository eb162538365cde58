// Runs under node inside the temporary npm project scripts/stripe_schemas.ts prepares:
// compiles the stripe SDK's own .d.ts files and writes JSON schemas of the named types.
// argv: <entry.ts> <out.json> <Root=SdkType>...
const fs = require("node:fs");
const TJS = require("typescript-json-schema");

const [entry, out, ...roots] = process.argv.slice(2);
const program = TJS.getProgramFromFiles([entry], {
  module: "nodenext",
  moduleResolution: "nodenext",
  target: "es2022",
  strict: true,
  skipLibCheck: true,
  types: [],
});
// required: non-optional properties; noExtraProps: additionalProperties false, so a field
// the SDK's type does not declare fails validation like a missing one does.
const generator = TJS.buildGenerator(program, {
  required: true,
  noExtraProps: true,
  strictNullChecks: true,
  ref: true,
  ignoreErrors: true,
});
if (!generator) throw new Error("typescript-json-schema could not build a generator");
const names = roots.map((r) => r.split("=")[0]);
const schema = generator.getSchemaForSymbols(names);
fs.writeFileSync(out, JSON.stringify(schema));
