// Validates Kubernetes manifests against the Kubernetes API's OpenAPI
// schemas, which the kubernetes-models package carries compiled (ajv): no
// schema is fetched at run time. It reports missing required fields, wrong
// types, values outside an enum and bad formats. It does not report unknown
// fields (the API's schemas allow them): deploy's Go tests decode every
// manifest strictly into the Go API types for that.
//
//   node validate.mjs FILE.yaml...
//
// Prints one line per invalid resource; exits 0 when all are valid, 1 when
// one is not (or has a kind without a schema), 2 on bad usage.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs FILE.yaml...");
  process.exit(2);
}

let invalid = 0;
let checked = 0;
for (const file of files) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length > 0) {
      console.log(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
      invalid++;
      continue;
    }
    const obj = doc.toJS();
    if (obj == null) continue;
    const id = `${file}: ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name ?? "(no name)"}`;
    const model = modelFor(obj.apiVersion, obj.kind);
    if (!model) {
      console.log(`${id}: no schema for this kind`);
      invalid++;
      continue;
    }
    try {
      new model(obj).validate();
      checked++;
    } catch (err) {
      console.log(`${id}: ${err.message}`);
      invalid++;
    }
  }
}
console.log(`${checked} valid, ${invalid} invalid`);
process.exit(invalid > 0 ? 1 : 0);

// modelFor finds the model class of a built-in kind: the package mirrors
// apiVersion (kubernetes-models/v1 for the core group,
// kubernetes-models/<group>/<version> for the others).
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return undefined;
  try {
    return require(`kubernetes-models/${apiVersion}`)[kind];
  } catch {
    return undefined;
  }
}
