// The cdk8s baseline of tools/benchmarks/scale_bench.py: synthesize the given objects with cdk8s.
// stdin: a JSON array of Kubernetes objects (the preview's own manifests, so the count and
// the shapes are the same); stdout: one JSON line {objects, seconds} timed around the
// construction and synthYaml(), the same span the preview's render covers.
import { readFileSync } from "node:fs";
import { App, ApiObject, Chart } from "cdk8s";

const objects = JSON.parse(readFileSync(0, "utf8"));
const started = process.hrtime.bigint();
const app = new App();
const chart = new Chart(app, "agent-platform");
objects.forEach((obj, i) => {
  const { apiVersion, kind, metadata, ...rest } = obj;
  new ApiObject(chart, `o${i}`, { apiVersion, kind, metadata, ...rest });
});
const yaml = app.synthYaml();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(JSON.stringify({ objects: objects.length, bytes: yaml.length, seconds }) + "\n");
