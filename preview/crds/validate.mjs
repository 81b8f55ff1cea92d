// Validate custom resources against the validators kubernetes-models generates from the
// upstream CRDs' OpenAPI schemas (one package per project, pinned in package.json).
// stdin: a JSON array of objects; stdout: a JSON array, per object, of [path, message] errors,
// or null when no model is known for its apiVersion and kind (the caller reports that).
import { readFileSync } from "node:fs";

const PACKAGES = {
  "keda.sh": "@kubernetes-models/keda",
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
  "external-secrets.io": "@kubernetes-models/external-secrets",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

async function validate(obj) {
  const [group, version] = String(obj.apiVersion || "").split("/");
  const pkg = PACKAGES[group];
  if (!pkg || !version || !/^[A-Za-z]+$/.test(obj.kind || "")) return null;
  let Model;
  try {
    Model = (await import(`${pkg}/${group}/${version}/${obj.kind}`))[obj.kind];
  } catch {
    return null;
  }
  try {
    new Model(obj).validate();
    return [];
  } catch (error) {
    const errors = error.errors || [{ instancePath: "", message: String(error.message || error) }];
    return errors.map((e) => [e.instancePath || "", `${e.message}${e.params && e.params.allowedValues ? ` (${e.params.allowedValues.join(", ")})` : ""}${e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`]);
  }
}

const objects = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const obj of objects) results.push(await validate(obj));
process.stdout.write(JSON.stringify(results));
