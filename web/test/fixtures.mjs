// Inputs of the inspector tests, built from the repository's Notation vectors
// (testdata/notation/synthetic): the synthetic trust policy and stores as
// policy settings, the artifact descriptor, the verification time and the
// expected outcomes.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const webDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = join(webDir, "..");
export const synthetic = join(repoDir, "testdata", "notation", "synthetic");

export const available = existsSync(join(synthetic, "expected.json"));

function stores(type) {
  const dir = join(synthetic, "truststore", "x509", type);
  const out = {};
  for (const name of readdirSync(dir)) {
    out[name] = readdirSync(join(dir, name)).sort()
      .map((f) => readFileSync(join(dir, name, f), "utf8")).join("\n");
  }
  return out;
}

export function settings() {
  return {
    trustPolicy: JSON.parse(readFileSync(join(synthetic, "trustpolicy.oci.json"), "utf8")),
    trustStores: { ca: stores("ca"), signingAuthority: stores("signingAuthority"), tsa: stores("tsa") },
  };
}

export const expected = available ? JSON.parse(readFileSync(join(synthetic, "expected.json"), "utf8")) : null;
export const cases = JSON.parse(readFileSync(join(webDir, "test", "cases.json"), "utf8")).cases;
export const envelopePath = (c) => join(synthetic, "envelopes", c.envelope);
export const reference = (c) => `registry.example.com/synthetic/${c.statement}`;

/** expected.json's word for a case: {pass: true} or {pass: false, validation: "integrity"}. */
export function expectation(c) {
  const word = expected.results[c.envelope][c.statement];
  if (word === "pass") return { pass: true };
  const m = /^fail:([a-zA-Z]+)/.exec(word);
  return { pass: false, validation: m && m[1] };
}
