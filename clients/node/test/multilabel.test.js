// The multi-label /weights fields and the long-tail and segmentation /loss fields (README
// "POST /weights", "POST /loss"; api/openapi.yaml) against a live ballastd (run by
// tests/http/test_client_node.py):
//   BALLAST_URL=http://127.0.0.1:8080 node --test clients/node/test/multilabel.test.js
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BallastError, Client } from "../index.js";

const URL_ = process.env.BALLAST_URL;
if (!URL_) throw new Error("set BALLAST_URL to a running ballastd, e.g. http://127.0.0.1:8080");
const asJson = new Client(URL_, { bulkThreshold: Infinity });
const asNpy = new Client(URL_, { bulkThreshold: 0 });

function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

test("classWeights: a multi-label matrix and label_sets give positives and pos_weight", async () => {
  const Y = [[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]];
  const want = { positives: [2, 1, 3], pos_weight: [1, 3, 1 / 3], weights: [1.5, 3, 1], sample_weights: [1.5, 1, 3, 1] };
  const inputs = [{ labels: Y }, { labels: { data: Uint8Array.from(Y.flat()), shape: [4, 3] } },
    { labels: { data: BigInt64Array.from(Y.flat(), BigInt), shape: [4, 3] } }, { label_sets: [[0, 2], [2], [0, 1, 2], []] }];
  for (const client of [asJson, asNpy]) {
    for (const input of inputs) {
      const doc = await client.classWeights({ ...input, sample_weights: true });
      assert.equal(doc.num_samples, 4);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(doc[k], v, `${k} of ${JSON.stringify(Object.keys(input))}`);
    }
  }
  const typed = await asNpy.classWeights({ labels: { data: Uint8Array.from(Y.flat()), shape: [4, 3] } }, { output: "typed" });
  assert.ok(typed.pos_weight.data instanceof Float64Array);
  assert.deepEqual(Array.from(typed.pos_weight.data), want.pos_weight);
  const mean = await asJson.classWeights({ label_sets: [[0, 2], [2], [0, 1, 2], []], sample_weights: true,
    sample_weight_reduce: "mean" });
  assert.deepEqual(mean.sample_weights, [1.25, 1, 5.5 / 3, 1]);

  // A random matrix: pos_weight = (N - n_pos) / n_pos, as computed here.
  const r = rng(23);
  const n = 2000, k = 6;
  const m = new Uint8Array(n * k).map(() => (r() < 0.25 ? 1 : 0));
  for (let j = 0; j < k; j++) { m[j] = 1; m[k + j] = 0; }
  const pos = Array.from({ length: k }, (_, j) => { let s = 0; for (let i = 0; i < n; i++) s += m[i * k + j]; return s; });
  for (const client of [asJson, asNpy]) {
    const doc = await client.classWeights({ labels: { data: m, shape: [n, k] }, scheme: "power", exponent: 0.5 });
    assert.deepEqual(doc.pos_weight, pos.map((p) => (n - p) / p));
    assert.deepEqual(doc.weights, pos.map((p) => 1 / Math.sqrt(p)));
  }
  const rf = await asJson.classWeights({ label_sets: [[0, 2], [2], [0, 1, 2], []], scheme: "repeat_factor", threshold: 0.5 });
  assert.deepEqual(rf.repeat_factors, [1, 1, Math.SQRT2, 1]);
  await assert.rejects(asJson.classWeights({ label_sets: [[0], [1]], exponent: 2 }),
    (e) => e instanceof BallastError && e.status === 400 && e.field === "exponent");
});

function close(got, want, tol, what) {
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got) && got.length === want.length, `${what}: shape`);
    want.forEach((w, i) => close(got[i], w, tol, `${what}[${i}]`));
    return;
  }
  if (want === null) return assert.ok(got === null || Number.isNaN(got), `${what}: ${got}, want null`);
  assert.ok(Math.abs(got - want) <= Math.max(tol.rel * Math.abs(want), tol.abs), `${what}: ${got}, want ${want}`);
}

function nd(value) {
  const shape = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  return { data: Float64Array.from([value].flat(Infinity)), shape };
}

test("loss: every fixture case of ldam, asymmetric, dice, tversky, logit_adjustment, sum_over_batch_size", async () => {
  const doc = JSON.parse(readFileSync(new URL("../../../tests/conformance/loss_cases.json", import.meta.url)));
  const fresh = /"(ldam|asymmetric|dice|tversky|sum_over_batch_size)"|logit_adjustment|class_counts|class_priors/;
  const cases = doc.cases.filter((c) => fresh.test(JSON.stringify(c.request)) && !("error" in c.expected));
  const losses = new Set(cases.map((c) => c.request.loss));
  for (const l of ["ldam", "asymmetric", "dice", "tversky", "cross_entropy"]) assert.ok(losses.has(l), `a ${l} case`);
  assert.ok(cases.length >= 150, `${cases.length} cases`);
  for (const c of cases) {
    const tol = c.tolerance ?? doc.tolerance;
    const typed = { ...c.request };
    for (const k of ["logits", "log_probs", "targets", "weights", "class_counts", "class_priors"]) if (k in typed) typed[k] = nd(typed[k]);
    for (const [client, req, how] of [[asJson, c.request, "JSON"], [asNpy, typed, ".npy"]]) {
      const got = await client.loss(req).catch((e) => { throw new Error(`${c.name} (${how}): ${e.message}`); });
      close(got.loss, c.expected.loss, tol, `${c.name} (${how}) loss`);
      if ("total_weight" in c.expected) close(got.total_weight, c.expected.total_weight, tol, `${c.name} total_weight`);
      if ("grad" in c.expected) close(got.grad, c.expected.grad, tol, `${c.name} (${how}) grad`);
    }
  }
});

test("loss: class indices in a Float64Array go as integers whatever form the input takes", async () => {
  const log_probs = [[-0.1, -2.4], [-3.0, -0.05]];
  for (const loss of ["nll", "ldam"]) {
    const input = loss === "nll" ? { log_probs } : { logits: log_probs, class_counts: [10, 2] };
    const want = await asJson.loss({ loss, ...input, targets: [0, 1], reduction: "sum" });
    const got = await asNpy.loss({ loss, ...input, targets: Float64Array.from([0, 1]), reduction: "sum" });
    assert.equal(got.loss, want.loss, loss);
  }
});
