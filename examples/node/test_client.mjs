// Tests of the Node client against a live ballastd (run by tests/http/test_examples.py):
//   BALLAST_URL=http://127.0.0.1:8080 node --test examples/node/test_client.mjs
// Optional: BALLAST_AUTH_URL and BALLAST_TOKEN, a second server started with --auth-token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Ballast, BallastError, fromNpy, stringify, toNpy } from "./ballast.mjs";

const URL_ = process.env.BALLAST_URL;
if (!URL_) throw new Error("set BALLAST_URL to a running ballastd, e.g. http://127.0.0.1:8080");
const b = new Ballast(URL_);

// A small deterministic generator (xorshift32) for test data.
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

test("weights: the seed example and counts by name", async () => {
  const doc = await b.weights({ counts: [100000, 100, 10] });
  assert.deepEqual(doc.weights, [1, 1000, 10000]);
  assert.equal(doc.num_classes, 3);
  const named = await b.weights({ counts: { normal: 100000, flu: 100, rare: 10 }, scheme: "balanced", normalize: "mean" });
  assert.deepEqual(Object.keys(named.weights), ["normal", "flu", "rare"]);
  assert.deepEqual(named.weights, { normal: 0.00027270248159258254, flu: 0.2727024815925825, rare: 2.7270248159258252 });
});

test("sample: the seed example, torch generator", async () => {
  const doc = await b.sample({ weights: [100000, 100, 10], num_samples: 3, replacement: false, seed: 0, generator: "torch" });
  assert.deepEqual(doc.indices, [0, 1, 2]);
  assert.equal(doc.seed, 0n);
});

test("sample: replays every PyTorch fixture, seeds up to 2^64-1 as BigInt", async () => {
  const text = readFileSync(new URL("../../tests/conformance/sample_cases.json", import.meta.url), "utf8");
  // Seeds beyond 2^53 must not go through JSON.parse as numbers.
  const cases = JSON.parse(text.replace(/"seed":\s*(\d+)/g, '"seed":"$1"')).cases;
  let n = 0;
  let big = 0;
  for (const c of cases) {
    const req = { ...c.request, seed: BigInt(c.request.seed) };
    if (req.seed > BigInt(Number.MAX_SAFE_INTEGER)) big++;
    const doc = await b.sample(req);
    assert.deepEqual(doc.indices, c.expected.indices, c.name);
    assert.equal(doc.seed, req.seed, c.name);
    n++;
  }
  assert.ok(n > 100 && big > 0, `${n} cases, ${big} with big seeds`);
});

test("loss: the seed example, none / sum / mean", async () => {
  const req = { logits: [[1, 2], [1, 3], [1, 3]], targets: [0, 1, 1], weights: [1, 2] };
  const none = await b.loss({ ...req, reduction: "none" });
  assert.deepEqual(none.loss, [1.3132616875182228, 0.253856022085945, 0.253856022085945]);
  assert.equal(none.total_weight, 5);
  const sum = await b.loss({ ...req, reduction: "sum" });
  const mean = await b.loss(req);
  assert.ok(Math.abs(sum.loss - none.loss.reduce((a, x) => a + x, 0)) < 1e-15);
  assert.ok(Math.abs(mean.loss - sum.loss / 5) < 1e-16);
  assert.equal(mean.reduction, "mean");
  assert.ok(String(mean.loss).startsWith("0.3641"));
});

test("errors: BallastError with status, code, field and request id", async () => {
  await assert.rejects(b.weights({ counts: [100000, -1, 10] }, { requestId: "node-err-1" }), (e) => {
    assert.ok(e instanceof BallastError);
    assert.equal(e.status, 400);
    assert.equal(e.code, "invalid_argument");
    assert.equal(e.field, "counts[1]");
    assert.match(e.detail, /counts\[1\] = -1/);
    assert.equal(e.requestId, "node-err-1");
    return true;
  });
  await assert.rejects(b.loss({ logits: [[1, 2]], targets: [0], reducton: "sum" }), (e) => e.code === "invalid_argument" && e.field === "reducton");
  await assert.rejects(b.sample({ weights: [1, 2], seed: 2n ** 64n }), (e) => e.status === 400 && e.field === "seed");
  await b.weights({ counts: [1, 2] }, { requestId: "node-ok-1" });
  assert.equal(b.lastRequestId, "node-ok-1");
});

test("sampleNpy: 1e5 weights, the same indices as the JSON call", async () => {
  const r = rng(12345);
  const w = new Float64Array(100000);
  for (let i = 0; i < w.length; i++) w[i] = r() * (i % 10 === 0 ? 100 : 1);
  const fields = { seed: 20240601n, num_samples: 50000 };
  const bulk = await b.sampleNpy(w, fields);
  const json = await b.sample({ weights: w, ...fields }); // a typed array goes as a JSON array
  assert.ok(bulk.indices instanceof BigInt64Array);
  assert.equal(bulk.indices.length, 50000);
  assert.deepEqual(Array.from(bulk.indices, Number), json.indices);
  assert.equal(bulk.seed, 20240601n);
  assert.equal(bulk.numSamples, 50000);
  assert.equal(bulk.epoch, 0);
  assert.equal(bulk.generator, "fast");
  // A seed drawn by the server comes back exactly and replays the draw.
  const drawn = await b.sampleNpy(w, { num_samples: 1000 });
  assert.equal(typeof drawn.seed, "bigint");
  const replay = await b.sample({ weights: Array.from(w), num_samples: 1000, seed: drawn.seed });
  assert.deepEqual(Array.from(drawn.indices, Number), replay.indices);
  // Sharded: rank and world size in the answer.
  const shard = await b.sampleNpy(w, { seed: 1, num_samples: 10, world_size: 3, rank: 2, generator: "torch" });
  assert.equal(shard.indices.length, 4);
  assert.deepEqual([shard.rank, shard.worldSize, shard.totalSize], [2, 3, 12]);
});

test("lossNpy: reduction none bit for bit equal to JSON", async () => {
  const r = rng(777);
  const N = 500, C = 6;
  const logits = new Float64Array(N * C).map(() => (r() - 0.5) * 20);
  const targets = new BigInt64Array(N).map(() => BigInt(Math.floor(r() * C)));
  const weights = Float64Array.from({ length: C }, (_, i) => 1 + i);
  const bulk = await b.lossNpy({ data: logits, shape: [N, C] }, targets, { weights, reduction: "none" });
  const rows = Array.from({ length: N }, (_, i) => Array.from(logits.subarray(i * C, (i + 1) * C)));
  const json = await b.loss({ logits: rows, targets: Array.from(targets, Number), weights: Array.from(weights), reduction: "none" });
  assert.deepEqual(bulk.loss.shape, [N]);
  assert.equal(bulk.reduction, "none");
  assert.equal(bulk.totalWeight, json.total_weight);
  for (let i = 0; i < N; i++) assert.ok(Object.is(bulk.loss.data[i], json.loss[i]), `loss[${i}]`);
  const sum = await b.lossNpy({ data: logits, shape: [N, C] }, new Int32Array(Array.from(targets, Number)), { weights, reduction: "sum" });
  const jsum = await b.loss({ logits: rows, targets: Array.from(targets, Number), weights: Array.from(weights), reduction: "sum" });
  assert.deepEqual(sum, jsum);
});

test(".npy writer and reader round trip", () => {
  for (const a of [Float64Array.of(1.5, -0, NaN, 1e308), Float32Array.of(1, 2), BigInt64Array.of(-1n, 2n ** 62n), Int32Array.of(7), Uint8Array.of(0, 255)]) {
    const bytes = toNpy(a);
    assert.equal((bytes[8] + bytes[9] * 256 + 10) % 64, 0, "data aligned to 64");
    const back = fromNpy(bytes);
    assert.deepEqual(back.shape, [a.length]);
    assert.deepEqual(Array.from(back.data), Array.from(a));
  }
  assert.deepEqual(fromNpy(toNpy(new Float64Array(6), [2, 3])).shape, [2, 3]);
  assert.throws(() => toNpy(new Float64Array(5), [2, 3]), RangeError);
  assert.equal(stringify({ seed: 18446744073709551615n, x: [1.5] }), '{"seed":18446744073709551615,"x":[1.5]}');
  assert.equal(stringify({ t: BigInt64Array.of(-3n), w: Float64Array.of(0.1, 2) }), '{"t":[-3],"w":[0.1,2]}');
});

test("auth: a server with --auth-token", { skip: !process.env.BALLAST_AUTH_URL && "BALLAST_AUTH_URL not set" }, async () => {
  const url = process.env.BALLAST_AUTH_URL;
  await assert.rejects(new Ballast(url).weights({ counts: [1, 2] }), (e) => e.status === 401 && e.code === "unauthorized");
  await assert.rejects(new Ballast(url, { token: "wrong" }).weights({ counts: [1, 2] }), (e) => e.status === 401);
  const ok = new Ballast(url, { token: process.env.BALLAST_TOKEN });
  assert.deepEqual((await ok.weights({ counts: [100000, 100, 10] })).weights, [1, 1000, 10000]);
  const { indices } = await ok.sampleNpy(Float64Array.of(0, 1), { seed: 3, num_samples: 4 });
  assert.deepEqual(Array.from(indices), [1n, 1n, 1n, 1n]);
});
