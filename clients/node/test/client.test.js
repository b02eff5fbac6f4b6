// Tests of the ballast package against live ballastd processes (run by
// tests/http/test_client_node.py):
//   BALLAST_URL=http://127.0.0.1:8080 BALLASTD=build/ballastd node --test clients/node/test/client.test.js
// BALLAST_AUTH_URL and BALLAST_TOKEN name a server with --auth-token; BALLASTD is the binary the
// retry tests start servers of their own from.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { BallastError, Client, fromNpy, parseMultipart, randomSeed, stringify, toNpy } from "../index.js";

const URL_ = process.env.BALLAST_URL;
if (!URL_) throw new Error("set BALLAST_URL to a running ballastd, e.g. http://127.0.0.1:8080");
const BALLASTD = process.env.BALLASTD ?? new URL("../../../build/ballastd", import.meta.url).pathname;
const U64_MAX = 2n ** 64n - 1n;
const c = new Client(URL_);

function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

async function raw(path, body) {
  const res = await fetch(URL_ + path, { method: "POST", body: stringify(body), headers: { "Content-Type": "application/json" } });
  return res.json();
}

const servers = [];
after(() => servers.forEach((p) => p.kill("SIGTERM")));

/** A ballastd of our own on a free port: its URL. */
function startServer(...args) {
  return new Promise((resolve, reject) => {
    const p = spawn(BALLASTD, ["--port", "0", "--log-format", "none", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    servers.push(p);
    let buf = "";
    p.stderr.on("data", (d) => {
      buf += d;
      const m = / listening on \S+ port (\d+)/.exec(buf);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    p.on("error", reject);
    p.on("exit", (code) => reject(new Error(`ballastd exited ${code}: ${buf}`)));
  });
}

/** Takes the only connection slot of a --max-connections 1 server for ms milliseconds. */
async function hold(url, ms) {
  const s = net.connect(Number(new URL(url).port), "127.0.0.1");
  await new Promise((r) => s.on("connect", r));
  await new Promise((r) => setTimeout(r, 200));
  setTimeout(() => s.destroy(), ms);
}

test("classWeights: the API's fields, named counts in order", async () => {
  const doc = await c.classWeights({ counts: [100000, 100, 10] });
  assert.deepEqual(doc, { weights: [1, 1000, 10000], counts: [100000, 100, 10], num_classes: 3, scheme: "max_over_count", normalize: "none" });
  const named = await c.classWeights({ counts: { normal: 100000, flu: 100, rare: 10 }, scheme: "balanced", normalize: "mean" });
  assert.deepEqual(Object.keys(named.weights), ["normal", "flu", "rare"]);
  assert.equal(named.weights.rare, 2.7270248159258252);
  const sw = await c.classWeights({ labels: Int32Array.of(0, 0, 1, 2, 2, 2), sample_weights: true });
  assert.deepEqual(sw.sample_weights, [1.5, 1.5, 3, 1, 1, 1]);
  const typed = await c.classWeights({ labels: [0, 0, 1, 2, 2, 2], sample_weights: true }, { output: "typed" });
  assert.deepEqual(Array.from(typed.sample_weights.data), [1.5, 1.5, 3, 1, 1, 1]);
  // undefined and null fields are not sent (beta with the default scheme would be refused)
  assert.equal((await c.classWeights({ counts: [1, 2], beta: undefined, c: null })).scheme, "max_over_count");
  assert.deepEqual(await c.healthz(), { status: "ok" });
});

test("sample: every PyTorch fixture, seeds up to 2^64 - 1 exact as BigInt", async () => {
  const text = readFileSync(new URL("../../../tests/conformance/sample_cases.json", import.meta.url), "utf8");
  const cases = JSON.parse(text.replace(/"seed":\s*(\d+)/g, '"seed":"$1"')).cases;
  let big = 0;
  for (const k of cases) {
    const seed = BigInt(k.request.seed);
    if (seed > BigInt(Number.MAX_SAFE_INTEGER)) big++;
    const doc = await c.sample({ ...k.request, seed });
    assert.deepEqual(doc.indices, k.expected.indices, k.name);
    assert.equal(doc.seed, seed, k.name);
  }
  assert.ok(cases.length > 100 && big > 0, `${cases.length} cases, ${big} big seeds`);
});

test("sample: seeds exact, client-drawn when absent, unsafe numbers refused", async () => {
  const w = [0.1, 0.9, 0.4, 0.6];
  const doc = await c.sample({ weights: w, num_samples: 8, seed: U64_MAX, generator: "torch" });
  assert.deepEqual(doc.indices, [3, 2, 3, 1, 3, 2, 3, 1]);
  assert.equal(doc.seed, U64_MAX);
  assert.equal(doc.epoch, 0);
  const drawn = await c.sample({ weights: w, num_samples: 40 });
  assert.equal(typeof drawn.seed, "bigint");
  assert.deepEqual((await c.sample({ weights: w, num_samples: 40, seed: drawn.seed })).indices, drawn.indices);
  assert.equal((await c.sample({ weights: w, seed: "18446744073709551615" })).seed, U64_MAX, "a decimal string");
  await assert.rejects(c.sample({ weights: w, seed: 2 ** 64 + 4096 }), (e) => e instanceof BallastError &&
    e.status === null && e.code === "invalid_argument" && e.field === "seed");
  await assert.rejects(c.sample({ weights: w, seed: 2n ** 64n }), (e) => e.status === 400 && e.field === "seed");
  const ep = await c.sample({ weights: w, num_samples: 4, seed: 5n, epoch: U64_MAX, generator: "torch" });
  assert.equal(ep.epoch, U64_MAX, "an epoch beyond 2^53 comes back as a BigInt");
  const ref = await c.sample({ weights: w, num_samples: 4, seed: 4n, generator: "torch" });
  assert.deepEqual(ep.indices, ref.indices, "torch: (seed + epoch) mod 2^64");
  assert.equal(randomSeed() >= 0n && randomSeed() <= U64_MAX, true);
  // stringSeeds: a server that takes seeds as strings answers the same draw (seed a BigInt
  // again); one that does not names the field.
  const want = await c.sample({ weights: w, num_samples: 9, seed: U64_MAX, epoch: 3, generator: "torch" });
  try {
    const got = await new Client(URL_, { stringSeeds: true }).sample({ weights: w, num_samples: 9, seed: U64_MAX, epoch: 3, generator: "torch" });
    assert.deepEqual(got, want);
  } catch (e) {
    if (!(e instanceof BallastError)) throw e;
    assert.deepEqual([e.status, e.field], [400, "seed"]);
  }
  // the stringify the client sends with
  assert.equal(stringify({ seed: U64_MAX, x: [1.5] }), '{"seed":18446744073709551615,"x":[1.5]}');
});

test("sample: shards are DistributedSampler's rule over the draw", async () => {
  const w = Array.from({ length: 53 }, (_, i) => (i % 7) + 0.5);
  for (const ws of [2, 3]) {
    for (const k of [53, 20]) {
      const full = (await c.sample({ weights: w, num_samples: k, seed: 99n, epoch: 2, generator: "torch" })).indices;
      const total = Math.ceil(k / ws) * ws;
      for (let r = 0; r < ws; r++) {
        const doc = await c.sample({ weights: w, num_samples: k, seed: 99n, epoch: 2, generator: "torch", world_size: ws, rank: r });
        const want = [];
        for (let i = r; i < total; i += ws) want.push(full[i % k]);
        assert.deepEqual(doc.indices, want, `world ${ws} rank ${r} k ${k}`);
        assert.deepEqual([doc.rank, doc.world_size, doc.total_size], [r, ws, total]);
      }
    }
  }
});

// The passes of PyTorch 1.13's WeightedRandomSampler([0.1, 0.9, 0.4, 0.6, 0.3, 0.7], k,
// replacement, generator=torch.Generator().manual_seed(42)): 8 with replacement, 5 without.
const WRS_PASSES = new Map([
  [true, [[1, 1, 1, 1, 3, 3, 5, 5], [1, 1, 1, 2, 5, 5, 2, 3], [1, 4, 3, 2, 1, 4, 1, 1]]],
  [false, [[1, 3, 2, 0, 5], [2, 3, 4, 5, 1], [4, 2, 3, 5, 1]]],
]);

test("sample: the continued stream is WeightedRandomSampler's passes; windows are slices", async () => {
  const w = [0.1, 0.9, 0.4, 0.6, 0.3, 0.7];
  for (const [replacement, passes] of WRS_PASSES) {
    const k = passes[0].length;
    for (const [epoch, want] of passes.entries()) {
      const req = { weights: w, num_samples: k, replacement, seed: 42n, epoch, generator: "torch", stream: "continued" };
      assert.deepEqual((await c.sample(req)).indices, want, `replacement ${replacement} epoch ${epoch}`);
      for (let offset = 0; offset < k; offset++) {
        const count = Math.min(3, k - offset);
        const doc = await c.sample({ ...req, offset, count });
        assert.deepEqual(doc.indices, want.slice(offset, offset + count), `window (${offset}, ${count})`);
        assert.deepEqual([doc.offset, doc.count, doc.next_offset, doc.full_count, doc.stream],
                         [offset, count, offset + count, k, "continued"], `window fields (${offset}, ${count})`);
      }
      const typed = await c.sample({ ...req, weights: Float64Array.from(w), offset: 2 }, { output: "typed" });
      assert.deepEqual(Array.from(typed.indices.data, Number), want.slice(2), "typed, offset to the end");
    }
  }
  // per_epoch (the default) reseeds: (seed 41, epoch 1) is seed 42's first pass.
  assert.deepEqual((await c.sample({ weights: w, num_samples: 8, seed: 41n, epoch: 1, generator: "torch" })).indices,
                   WRS_PASSES.get(true)[0]);
  // A window of rank 1's share of 3 (the draw padded to 9: elements 1, 4, 7).
  const p = WRS_PASSES.get(true)[2];
  const doc = await c.sample({ weights: w, num_samples: 8, seed: 42n, epoch: 2, generator: "torch", stream: "continued",
                               world_size: 3, rank: 1, offset: 1, count: 2 });
  assert.deepEqual(doc.indices, [p[4], p[7]]);
  const v1 = await c.sample({ weights: w, num_samples: 20, seed: 9n, fast_version: 1 });
  const v2 = await c.sample({ weights: w, num_samples: 20, seed: 9n });
  assert.equal(v1.fast_version, 1);
  assert.notDeepEqual(v1.indices, v2.indices, "fast_version 1 is another stream");
  await assert.rejects(c.sample({ weights: w, num_samples: 8, seed: 1n, stream: "continued", generator: "fast" }),
                       (e) => e instanceof BallastError && e.status === 400 && e.field === "stream");
  await assert.rejects(c.sample({ weights: w, num_samples: 8, seed: 1n, offset: 9, count: 1 }),
                       (e) => e instanceof BallastError && e.status === 400 && e.field === "offset");
});

test("sample: undersample and oversample balance the classes as imbalanced-learn targets them", async () => {
  const doc = await c.sample({ labels: [0, 0, 0, 0, 1, 1, 2, 2, 2], strategy: "undersample", seed: 7n });
  assert.deepEqual([doc.indices, doc.strategy, doc.num_samples], [[1, 3, 4, 5, 7, 6], "undersample", 6], "README's example");
  const labels = [50, 7, 20, 3].flatMap((n, k) => Array(n).fill(k));
  const cases = [
    ["undersample", undefined, [3, 3, 3, 3]],
    ["undersample", { 0: 10, 2: 5 }, [10, 7, 5, 3]],
    ["undersample", Int32Array.of(20, 7, 3, 3), [20, 7, 3, 3]],
    ["oversample", "not majority", [50, 50, 50, 50]],
    ["oversample", [50, 60, 20, 5], [50, 60, 20, 5]],
  ];
  for (const [strategy, target, want] of cases) {
    const { indices } = await c.sample({ labels, strategy, sampling_strategy: target, seed: 123n });
    const counts = [0, 0, 0, 0];
    for (const i of indices) counts[labels[i]]++;
    assert.deepEqual(counts, want, `${strategy} ${JSON.stringify(target)}`);
    if (strategy === "oversample") assert.deepEqual(indices.slice(0, labels.length), labels.map((_, i) => i));
    else assert.equal(new Set(indices).size, indices.length, "no item twice");
  }
  // sent as a .npy part by a client whose threshold is 0: the same list
  const bulk = new Client(URL_, { bulkThreshold: 0 });
  const req = { labels: Int32Array.from(labels), strategy: "undersample", sampling_strategy: BigInt64Array.of(20n, 7n, 3n, 3n), seed: 9n };
  assert.deepEqual((await bulk.sample(req)).indices, (await c.sample({ ...req, labels, sampling_strategy: [20, 7, 3, 3] })).indices);
  await assert.rejects(c.sample({ labels, strategy: "oversample", sampling_strategy: "majority" }),
                       (e) => e instanceof BallastError && e.status === 400 && e.field === "sampling_strategy");
});

test("loss: values, nested arrays and { data, shape } in, typed out", async () => {
  const req = { logits: [[1, 2], [1, 3], [1, 3]], targets: [0, 1, 1], weights: [1, 2] };
  const none = await c.loss({ ...req, reduction: "none" });
  assert.deepEqual(none.loss, [1.3132616875182228, 0.253856022085945, 0.253856022085945]);
  assert.equal(none.total_weight, 5);
  const nd = { logits: { data: Float64Array.of(1, 2, 1, 3, 1, 3), shape: [3, 2] }, targets: BigInt64Array.of(0n, 1n, 1n), weights: Float64Array.of(1, 2) };
  assert.deepEqual(await c.loss({ ...nd, reduction: "none" }), none);
  const typed = await c.loss({ ...nd, reduction: "none", grad: true }, { output: "typed" });
  assert.ok(typed.loss.data instanceof Float64Array && typed.grad.data instanceof Float64Array);
  assert.deepEqual(typed.grad.shape, [3, 2]);
  assert.deepEqual(Array.from(typed.loss.data), none.loss);
  const nothing = await c.loss({ logits: [[1, 2], [1, 3]], targets: [-100, -100] });
  assert.equal(nothing.loss, null);
  assert.equal(nothing.warnings.length, 1);
  const nll = await c.loss({ loss: "nll", log_probs: [[-0.1, -2.4], [-3.0, -0.05]], targets: [0, 1], weights: [1, 2], reduction: "sum" });
  assert.deepEqual([nll.loss, nll.total_weight], [0.2, 3]);
});

test("bulk: typed arrays as .npy parts, bit for bit the JSON answers", async () => {
  const js = new Client(URL_, { bulkThreshold: Infinity });
  const npy = new Client(URL_, { bulkThreshold: 0 });
  const r = rng(4242);
  const w = Float64Array.from({ length: 50000 }, (_, i) => r() * (1 + (i % 10)));
  const a = await js.sample({ weights: w, num_samples: 20000, seed: 7n });
  const b = await npy.sample({ weights: w, num_samples: 20000, seed: 7n });
  assert.deepEqual(a, b);
  const tb = await npy.sample({ weights: w, num_samples: 5, seed: U64_MAX }, { output: "typed" });
  assert.ok(tb.indices.data instanceof BigInt64Array);
  assert.equal(tb.seed, U64_MAX, "the seed of a multipart answer, exact");
  const N = 300, C = 5;
  const logits = Float64Array.from({ length: N * C }, () => (r() - 0.5) * 20);
  const l32 = Float32Array.from(logits);
  const idx = Int32Array.from({ length: N }, () => Math.floor(r() * C));
  for (const input of [logits, l32]) {
    for (const targets of [idx, Float64Array.from(idx), BigInt64Array.from(idx, BigInt)]) {
      const fields = { logits: { data: input, shape: [N, C] }, targets, weights: Float64Array.of(1, 2, 3, 4, 5), reduction: "none", grad: true };
      const x = await js.loss(fields, { output: "typed" });
      const y = await npy.loss(fields, { output: "typed" });
      for (let i = 0; i < N; i++) assert.ok(Object.is(x.loss.data[i], y.loss.data[i]), `loss[${i}]`);
      for (let i = 0; i < N * C; i++) assert.ok(Object.is(x.grad.data[i], y.grad.data[i]), `grad[${i}]`);
      assert.equal(x.total_weight, y.total_weight);
    }
  }
  // the old names (examples/node): sampleNpy / lossNpy
  const s = await c.sampleNpy(w, { seed: 7n, num_samples: 20000 });
  assert.deepEqual(Array.from(s.indices, Number), a.indices);
  assert.equal(s.seed, 7n);
});

test("errors: one BallastError with status, code, detail, field, request id", async () => {
  await assert.rejects(c.classWeights({ counts: [100000, -1, 10] }, { requestId: "node-pkg-1" }), (e) => {
    assert.ok(e instanceof BallastError);
    assert.deepEqual([e.status, e.code, e.field, e.requestId], [400, "invalid_argument", "counts[1]", "node-pkg-1"]);
    assert.match(e.detail, /counts\[1\] = -1/);
    assert.match(e.message, /^400 invalid_argument: /);
    return true;
  });
  await assert.rejects(c.loss({ logits: [[1, 2]], targets: [0], reducton: "sum" }), (e) => e.field === "reducton");
  await assert.rejects(c.sample({ weights: [1, NaN] }), (e) => e.status === null && e.code === "invalid_argument" && e.field === "weights");
  if (process.env.BALLAST_AUTH_URL) {
    for (const token of [undefined, "wrong"]) {
      await assert.rejects(new Client(process.env.BALLAST_AUTH_URL, { token }).classWeights({ counts: [1, 2] }),
        (e) => e.status === 401 && e.code === "unauthorized");
    }
    const ok = new Client(process.env.BALLAST_AUTH_URL, { token: process.env.BALLAST_TOKEN });
    assert.deepEqual((await ok.classWeights({ counts: [1, 2] })).weights, [2, 1]);
  } else {
    assert.fail("BALLAST_AUTH_URL is not set");
  }
  // nothing listens: a connection error after the retries
  const srv = net.createServer();
  await new Promise((res) => srv.listen(0, "127.0.0.1", res));
  const port = srv.address().port;
  await new Promise((res) => srv.close(res));
  const tries = [];
  const dead = new Client(`http://127.0.0.1:${port}`, { retries: 2, backoff: 1, onRetry: (...a) => tries.push(a) });
  await assert.rejects(dead.classWeights({ counts: [1] }), (e) => e.status === null && e.code === "connection_error" && e.attempts === 3);
  assert.equal(tries.length, 2);
});

test("retries: 503 with Retry-After honoured; a server-seeded draw never retried", async () => {
  const busy = await startServer("--max-connections", "1");
  // While the only slot is held: the 503 itself (no retries), no retry of a server-seeded
  // draw, and an abort that ends the pause. Each 503 closes its connection.
  await hold(busy, 1600);
  const t0 = Date.now();
  await assert.rejects(new Client(busy, { retries: 0 }).classWeights({ counts: [1] }),
    (e) => e.status === 503 && e.code === "overloaded" && e.retryAfter === 1 && e.attempts === 1);
  const retried = [];
  await assert.rejects(new Client(busy, { clientSeeds: false, onRetry: (...a) => retried.push(a) }).sample({ weights: [1, 2, 3] }),
    (e) => e.status === 503 && e.attempts === 1);
  assert.equal(retried.length, 0, "no retry of a draw whose seed the server chooses");
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(new Error("enough")), 300);
  const t1 = Date.now();
  await assert.rejects(new Client(busy).classWeights({ counts: [1] }, { signal: ctl.signal }), (e) => e.code === "canceled");
  assert.ok(Date.now() - t1 < 900, "an abort ends the pause");
  await new Promise((r) => setTimeout(r, Math.max(0, 1900 - (Date.now() - t0))));
  // Held for 0.4 s: the call waits the Retry-After (1 s) and succeeds; a draw without a seed
  // (the client draws it) is retried the same way and replays from its seed.
  await hold(busy, 400);
  const seen = [];
  const t2 = Date.now();
  const doc = await new Client(busy, { onRetry: (...a) => seen.push(a) }).sample({ weights: [1, 2, 3], num_samples: 6 });
  assert.ok(Date.now() - t2 >= 1000, "waited Retry-After: 1");
  assert.ok(seen.length >= 1 && seen[0][1] === 503 && seen[0][2] >= 1000, JSON.stringify(seen));
  assert.deepEqual(doc.indices, (await c.sample({ weights: [1, 2, 3], num_samples: 6, seed: doc.seed })).indices);
});

test("a kept-alive connection the server closed while idle is replaced", async () => {
  const s = await startServer("--header-timeout", "1");
  const k = new Client(s, { retries: 0 }); // no retry of ours needed
  assert.deepEqual((await k.classWeights({ counts: [1, 2] })).weights, [2, 1]);
  await new Promise((r) => setTimeout(r, 1600)); // the server closes the idle connection
  assert.deepEqual((await k.classWeights({ counts: [1, 2] })).weights, [2, 1]);
});

test(".npy and multipart helpers", () => {
  for (const a of [Float64Array.of(1.5, -0, NaN, 1e308), Float32Array.of(1, 2), BigInt64Array.of(-1n, 2n ** 62n), Int32Array.of(7), Uint8Array.of(0, 255)]) {
    const bytes = toNpy(a);
    assert.equal((bytes[8] + bytes[9] * 256 + 10) % 64, 0, "data aligned to 64");
    const back = fromNpy(bytes);
    assert.deepEqual(back.shape, [a.length]);
    assert.deepEqual(Array.from(back.data), Array.from(a));
  }
  assert.deepEqual(fromNpy(toNpy(new Float64Array(6), [2, 3])).shape, [2, 3]);
  assert.throws(() => toNpy(new Float64Array(5), [2, 3]), RangeError);
  assert.throws(() => fromNpy(toNpy(Float64Array.of(1, 2)).subarray(0, 70)), /does not fit/);
  const body = new TextEncoder().encode('--XyZ\r\nContent-Disposition: form-data; name="response"\r\n\r\n{"a":1}\r\n--XyZ\r\nContent-Disposition: form-data; name="x"; filename="x.npy"\r\n\r\nAB\r\n--XyZ--\r\n');
  const parts = parseMultipart(body, "multipart/form-data; boundary=XyZ");
  assert.deepEqual(Object.keys(parts), ["response", "x"]);
  assert.equal(new TextDecoder().decode(parts.x), "AB");
  assert.equal(stringify({ t: BigInt64Array.of(-3n), w: Float64Array.of(0.1, 2), n: { data: Int32Array.of(1, 2, 3, 4), shape: [2, 2] } }),
    '{"t":[-3],"w":[0.1,2],"n":[[1,2],[3,4]]}');
  assert.throws(() => stringify({ w: [Infinity] }), RangeError);
});

test("keep-alive: consecutive calls share one connection", async () => {
  // A TCP relay in front of the server counts the connections the client opens.
  const target = Number(new URL(URL_).port);
  let accepted = 0;
  const relay = net.createServer((sock) => {
    accepted++;
    const up = net.connect(target, "127.0.0.1");
    sock.pipe(up);
    up.pipe(sock);
    for (const [a, b] of [[sock, up], [up, sock]]) {
      a.on("error", () => b.destroy());
      a.on("close", () => b.destroy());
    }
  });
  await new Promise((res) => relay.listen(0, "127.0.0.1", res));
  try {
    const k = new Client(`http://127.0.0.1:${relay.address().port}`);
    for (let i = 0; i < 30; i++) assert.deepEqual((await k.classWeights({ counts: [1, 2] })).weights, [2, 1]);
    for (let i = 0; i < 5; i++) await k.sample({ weights: Float64Array.from({ length: 5000 }, () => 1), num_samples: 3 });
    // Node's fetch may open a second connection while the first is being released: at most 2.
    assert.ok(accepted >= 1 && accepted <= 2, `${accepted} connections opened for 35 calls`);
  } finally {
    relay.close();
  }
});
