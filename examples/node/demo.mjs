// Runs the README's examples against a ballastd with the Node client.
//   node examples/node/demo.mjs [BASE_URL]          (or BALLAST_URL=..., BALLAST_TOKEN=...)
import { Ballast, BallastError } from "./ballast.mjs";

const url = process.argv[2] ?? process.env.BALLAST_URL ?? "http://127.0.0.1:8080";
const b = new Ballast(url, { token: process.env.BALLAST_TOKEN });

console.log("server:", url, await b.healthz());

let doc = await b.weights({ counts: [100000, 100, 10] });
console.log("weights [100000, 100, 10] ->", doc.weights);
doc = await b.weights({ counts: { normal: 100000, flu: 100, rare: 10 }, scheme: "balanced", normalize: "mean" });
console.log("balanced, mean-normalised  ->", doc.weights);

doc = await b.sample({ weights: [100000, 100, 10], num_samples: 3, replacement: false, seed: 0, generator: "torch" });
console.log("torch-exact draw, seed 0   ->", doc.indices);

const req = { logits: [[1, 2], [1, 3], [1, 3]], targets: [0, 1, 1], weights: [1, 2] };
for (const reduction of ["none", "sum", "mean"]) {
  doc = await b.loss({ ...req, reduction });
  console.log(`cross_entropy ${reduction.padEnd(4)}         ->`, doc.loss, `(total_weight ${doc.total_weight})`);
}

try {
  await b.weights({ counts: [100000, -1, 10] });
} catch (e) {
  if (!(e instanceof BallastError)) throw e;
  console.log(`an error                   -> ${e.status} ${e.code}, field ${e.field}`);
}

// Bulk: a million weights as .npy, a million int64 indices back; the seed is the server's.
const w = new Float64Array(1_000_000);
for (let i = 0; i < w.length; i++) w[i] = 1 + (i % 7);
const { indices, seed, numSamples } = await b.sampleNpy(w);
console.log(`sampleNpy: 1e6 weights    -> ${numSamples} indices, first [${indices.slice(0, 5).join(", ")}], seed ${seed}n`);
const again = await b.sampleNpy(w, { seed });
console.log("replayed with that seed    ->", again.indices.every((v, i) => v === indices[i]) ? "identical" : "DIFFERENT");
