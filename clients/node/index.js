// ballast: the Node.js client of ballastd (class weights, weighted sampling bit for bit as
// torch.multinomial with generator "torch", PyTorch-exact losses). An ES module for Node 18
// or later (built-in fetch, FormData, Blob); no npm dependencies. Types: index.d.ts.
//
//   import { Client } from "ballast";
//   const c = new Client("http://127.0.0.1:8080");
//   (await c.classWeights({ counts: [100000, 100, 10] })).weights;    // [1, 1000, 10000]
//   (await c.sample({ weights: [0.1, 0.9, 0.4, 0.6], num_samples: 8, seed: 42n,
//                     generator: "torch" })).indices;                 // [1, 1, 1, 1, 2, 1, 3, 3]
//   (await c.loss({ logits: [[1, 2], [1, 3]], targets: [0, 1] })).loss;
//
// Fields are named as in api/openapi.yaml. Seeds range over [0, 2^64): pass a BigInt (a
// number is refused above 2^53, where it would already be rounded); the answer's `seed` is
// always a BigInt, read from the answer's text (integer or decimal string), never rounded.
//
// Arrays: plain arrays, typed arrays (Float64Array, Float32Array, BigInt64Array,
// Int32Array, Uint8Array) and n-dimensional { data: typedArray, shape: [..] }. When the
// array fields of a request hold at least `bulkThreshold` elements of typed arrays, they go
// as NumPy .npy parts of a multipart request, and the answer's arrays come back as .npy:
// the numbers are bit for bit those of JSON. Answers are as their JSON parses (number
// arrays, nested arrays) unless { output: "typed" } asks for { data, shape, dtype }.
//
// Connections are kept alive (Node's fetch). Failures worth another try (503, 429, 502,
// 504, a failed connection) are retried with back-off, waiting at least what Retry-After
// says. Every call is a pure function of its request, so every retry is safe: a sample()
// without a seed is sent with one the client draws (node:crypto), so that a retry replays
// the same draw; with { clientSeeds: false } the server draws it and such a request is
// never retried. Every failure throws a BallastError (status, code, detail = the server's
// message, field, requestId, retryAfter, attempts).

import { randomBytes } from "node:crypto";

export const VERSION = "0.1.0";
const BIG = "__ballast_bigint__:";
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const ARRAY_FIELDS = {
  "/weights": ["counts", "labels"],
  "/sample": ["weights", "labels", "class_weights", "sampling_strategy"],
  "/loss": ["logits", "log_probs", "targets", "weights", "pos_weight", "class_counts", "class_priors"],
};
const REAL_ANSWERS = ["weights", "counts", "sample_weights", "positives", "pos_weight", "repeat_factors", "loss", "grad"];
// The losses whose targets may be class indices (of the input's shape without the class dim).
const INDEX_TARGET_LOSSES = ["cross_entropy", "nll", "focal", "ldam", "dice", "tversky", undefined];

/** Every failure of a call: an error answer of the server, or no answer at all (status null). */
export class BallastError extends Error {
  constructor(status, code, message, field = null, requestId = null, { retryAfter = null, attempts = 1, cause } = {}) {
    super(`${status == null ? code : `${status} ${code}`}: ${message}${field ? ` (field ${field})` : ""}`,
      cause === undefined ? undefined : { cause });
    this.name = "BallastError";
    this.status = status;
    this.code = code;
    this.detail = message; // the server's message alone
    this.field = field;
    this.requestId = requestId;
    this.retryAfter = retryAfter; // seconds, from Retry-After
    this.attempts = attempts;
  }
}

// ---- arrays --------------------------------------------------------------------------------

const DTYPES = [
  ["<f8", Float64Array],
  ["<f4", Float32Array],
  ["<i8", BigInt64Array],
  ["<i4", Int32Array],
  ["|u1", Uint8Array],
];
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isTyped(v) {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/** { data, shape } of an n-dimensional array argument, or null for a plain value. */
function asNd(v) {
  if (isTyped(v)) return { data: v, shape: [v.length] };
  if (v && typeof v === "object" && isTyped(v.data)) return { data: v.data, shape: v.shape ?? [v.data.length] };
  return null;
}

function nest(data, shape) {
  if (shape.length === 0) return data[0];
  let pos = 0;
  const walk = (d) => {
    if (d === shape.length - 1) {
      const out = Array.from(data.subarray(pos, pos + shape[d]));
      pos += shape[d];
      return out;
    }
    const out = [];
    for (let i = 0; i < shape[d]; i++) out.push(walk(d + 1));
    return out;
  };
  return walk(0);
}

function flatten(value) {
  const shape = [];
  for (let v = value; Array.isArray(v); v = v[0]) {
    shape.push(v.length);
    if (v.length === 0) break;
  }
  const flat = Array.isArray(value) ? value.flat(Infinity) : [value];
  return { data: Float64Array.from(flat, (x) => (x === null ? NaN : x)), shape, dtype: "<f8" };
}

/**
 * JSON text with BigInts as bare integers, typed arrays as arrays and { data, shape } as
 * nested arrays. Throws a RangeError for a number that is not finite (JSON has none).
 */
export function stringify(value) {
  const text = JSON.stringify(value, function (k, v) {
    if (typeof v === "bigint") return BIG + v.toString();
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new RangeError(`${k === "" ? "a value" : `"${k}"`} is ${v}, which JSON cannot carry`);
    }
    const nd = asNd(v);
    if (nd) return nest(nd.data, nd.shape);
    return v;
  });
  return text.replace(new RegExp(`"${BIG}(-?\\d+)"`, "g"), "$1");
}

/** A .npy file (format 1.0, little-endian, C order, data aligned to 64) holding a typed array. */
export function toNpy(data, shape = null) {
  if (Array.isArray(data)) data = Float64Array.from(data);
  const entry = DTYPES.find(([, T]) => data instanceof T);
  if (!entry) throw new TypeError("toNpy: a Float64Array, Float32Array, BigInt64Array, Int32Array or Uint8Array");
  shape = shape ?? [data.length];
  if (shape.reduce((a, b) => a * b, 1) !== data.length) {
    throw new RangeError(`toNpy: shape (${shape}) does not hold ${data.length} elements`);
  }
  const shp = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${entry[0]}', 'fortran_order': False, 'shape': ${shp}, }`;
  header += " ".repeat((64 - ((10 + header.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE || data.BYTES_PER_ELEMENT === 1) {
    out.set(bytes, 10 + header.length);
  } else {
    const n = data.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i++) out[10 + header.length + i] = bytes[i - (i % n) + n - 1 - (i % n)];
  }
  return out;
}

/** Reads a .npy file (ArrayBuffer or Uint8Array): { data: typed array, shape, dtype }. */
export function fromNpy(buf) {
  const u8 = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (u8.length < 10 || magic.some((b, i) => u8[i] !== b)) throw new Error("not a .npy file");
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const major = u8[6];
  if (major < 1 || major > 3) throw new Error(`.npy: format version ${major}`);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(u8.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (!/'fortran_order':\s*False/.test(header)) throw new Error(".npy: only C order is read");
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!shapeText) throw new Error(".npy: no shape");
  const shape = shapeText[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const entry = DTYPES.find(([d]) => d === descr);
  if (!entry) throw new Error(`.npy: dtype ${descr} not supported`);
  const T = entry[1];
  const n = shape.reduce((a, b) => a * b, 1);
  const off = u8.byteOffset + start + hlen;
  if (start + hlen + n * T.BYTES_PER_ELEMENT !== u8.length) throw new Error(".npy: the data does not fit the shape");
  const data = new T(u8.buffer.slice(off, off + n * T.BYTES_PER_ELEMENT)); // a copy, aligned
  if (!LITTLE && T.BYTES_PER_ELEMENT > 1) {
    const b = new Uint8Array(data.buffer);
    for (let i = 0; i < b.length; i += T.BYTES_PER_ELEMENT) b.subarray(i, i + T.BYTES_PER_ELEMENT).reverse();
  }
  return { data, shape, dtype: descr };
}

/** The multipart/form-data parts of an answer: { name: Uint8Array }. */
export function parseMultipart(body, contentType) {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m) throw new Error("multipart answer without a boundary");
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delim = Buffer.from(`--${m[1]}`);
  const parts = {};
  let pos = buf.indexOf(delim);
  if (pos < 0) throw new Error("multipart answer without its boundary");
  for (;;) {
    pos += delim.length;
    if (buf[pos] === 0x2d && buf[pos + 1] === 0x2d) return parts;
    const headEnd = buf.indexOf("\r\n\r\n", pos);
    if (headEnd < 0) throw new Error("malformed multipart answer");
    const head = buf.subarray(pos, headEnd).toString("latin1");
    const name = /name="([^"]*)"/i.exec(head)?.[1];
    const next = buf.indexOf(Buffer.concat([Buffer.from("\r\n"), delim]), headEnd + 4);
    if (next < 0 || name === undefined) throw new Error("malformed multipart answer");
    parts[name] = new Uint8Array(buf.subarray(headEnd + 4, next));
    pos = next + 2;
  }
}

// "seed" and "epoch" of an answer's text, exactly: integers or decimal strings.
function exactInts(text, doc) {
  for (const m of text.matchAll(/"(seed|epoch)":\s*("?)(\d+)\2/g)) {
    const v = BigInt(m[3]);
    doc[m[1]] = m[1] === "seed" || v > BigInt(Number.MAX_SAFE_INTEGER) ? v : Number(v);
  }
  return doc;
}

/** The number of dimensions of a number or nested plain arrays. */
function nestedDims(value) {
  let d = 0;
  for (let v = value; Array.isArray(v); v = v[0]) d++;
  return d;
}

function integerIndices(nd) {
  const out = new Int32Array(nd.data.length);
  for (let i = 0; i < out.length; i++) {
    const x = nd.data[i];
    if (!Number.isInteger(x) || x < -2147483648 || x > 2147483647) return null;
    out[i] = x;
  }
  return { data: out, shape: nd.shape };
}

/** A seed in [0, 2^64) from node:crypto, as ballastd draws its own. */
export function randomSeed() {
  return randomBytes(8).readBigUInt64LE(0);
}

function u64(name, v, stringSeeds) {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) {
      throw new BallastError(null, "invalid_argument",
        `${name} ${v} is not exact as a number: pass a BigInt (${name}: ${BigInt(Math.trunc(v))}n)`, name);
    }
    v = BigInt(v);
  }
  if (typeof v === "string" && /^\d+$/.test(v)) v = BigInt(v);
  return typeof v === "bigint" && stringSeeds ? v.toString() : v;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function anySignal(signals) {
  const c = new AbortController();
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      c.abort(s.reason);
      break;
    }
    s.addEventListener("abort", () => c.abort(s.reason), { once: true });
  }
  return c.signal;
}

function retryAfterSeconds(v) {
  if (!v) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, (t - Date.now()) / 1000);
}

// ---- the client ------------------------------------------------------------------------------

export class Client {
  /**
   * @param {string} baseUrl  the server's root, e.g. "http://127.0.0.1:8080"
   * @param {object} [options]  token: the server's --auth-token; timeout: ms per attempt
   *   (30000); retries (4); backoff: first pause in ms without Retry-After (200); maxWait:
   *   longest pause in ms (30000; a longer Retry-After is not waited for); bulkThreshold:
   *   typed-array elements from which a request goes as .npy (4096; Infinity: never, 0:
   *   always); clientSeeds (true); stringSeeds (false); onRetry(attempt, status, waitMs,
   *   error); fetch: a fetch to use instead of the global one
   */
  constructor(baseUrl = "http://127.0.0.1:8080", {
    token = null, timeout = 30000, retries = 4, backoff = 200, maxWait = 30000, bulkThreshold = 4096,
    clientSeeds = true, stringSeeds = false, onRetry = null, fetch: fetchImpl = null,
  } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    Object.assign(this, { token, timeout, retries, backoff, maxWait, bulkThreshold, clientSeeds, stringSeeds, onRetry });
    this.fetch = fetchImpl ?? globalThis.fetch;
    this.lastRequestId = null;
  }

  /**
   * POST /weights: counts (array, typed array, or {name: count}) or labels in. Multi-label:
   * `labels` as an N x C matrix of 0/1 (nested arrays, or { data: Uint8Array | Int32Array |
   * BigInt64Array, shape: [N, C] }, sent as .npy when large), or `label_sets` (per sample the
   * array of its class ids, JSON only); the answer then adds `num_samples`, `positives` and
   * `pos_weight` ((N - n_pos) / n_pos per class, for PyTorch's BCEWithLogitsLoss). Schemes
   * "power" (`exponent`) and "repeat_factor" (`threshold`; answer: `repeat_factors`);
   * `sample_weight_reduce` ("max" | "mean") for multi-label `sample_weights`.
   */
  classWeights(fields, opts = {}) {
    return this.#call("/weights", { ...fields }, opts);
  }

  /** The same as classWeights (the name of examples/node's client). */
  weights(fields, opts) {
    return this.classWeights(fields, opts);
  }

  /**
   * POST /sample. Without a seed the client draws one (see clientSeeds); the answer's
   * `seed` is a BigInt, `indices` numbers (typed: BigInt64Array in { data, shape }).
   * `stream: "continued"` (generator "torch") makes epoch e the (e+1)-th pass of PyTorch's
   * WeightedRandomSampler seeded once (default "per_epoch": reseeded with seed + epoch);
   * `offset` and `count` ask for a window of the answer, `indices.slice(offset, offset +
   * count)` of the same request without them. `strategy: "undersample" | "oversample"`
   * (with labels) answers the item indices that balance the classes as imbalanced-learn's
   * RandomUnderSampler / RandomOverSampler do, `sampling_strategy` naming the targets as
   * imbalanced-learn does (a name, a ratio, counts per class, or { "class id": count }).
   */
  async sample(fields, opts = {}) {
    const f = { ...fields };
    let idempotent = true;
    if (f.seed === undefined || f.seed === null) {
      delete f.seed;
      if (this.clientSeeds) f.seed = randomSeed();
      else idempotent = false;
    }
    for (const k of ["seed", "epoch"]) if (f[k] !== undefined && f[k] !== null) f[k] = u64(k, f[k], k === "seed" && this.stringSeeds);
    return this.#call("/sample", f, opts, idempotent);
  }

  /**
   * POST /loss: { loss, reduction, total_weight } (plus grad and warnings). Every field of
   * the API by its name: the losses "ldam" (class_counts, max_margin, scale), "asymmetric"
   * (gamma_pos, gamma_neg, clip, eps), "dice" and "tversky" (activation, include_background,
   * batch, smooth_nr, smooth_dr, tversky_alpha, tversky_beta); logit_adjustment with
   * class_counts or class_priors; reduction "sum_over_batch_size".
   */
  loss(fields, opts = {}) {
    const f = { ...fields };
    // Class indices held in a real typed array go as integers, as their JSON would.
    const input = f.logits ?? f.log_probs;
    const inputDims = asNd(input)?.shape.length ?? nestedDims(input);
    const t = asNd(f.targets);
    if (t && input != null && (t.data instanceof Float64Array || t.data instanceof Float32Array) &&
        INDEX_TARGET_LOSSES.includes(f.loss) && t.shape.length === inputDims - 1) {
      const ints = integerIndices(t);
      if (ints) f.targets = ints;
    }
    return this.#call("/loss", f, opts);
  }

  /**
   * POST /sample with weights as a .npy part, indices back as .npy (examples/node's API).
   * @returns {Promise<{indices: BigInt64Array, seed: bigint, epoch: number, numSamples: number,
   *   generator: string, rank?: number, worldSize?: number, totalSize?: number}>}
   */
  async sampleNpy(weights, fields = {}, opts = {}) {
    const f = { ...fields, weights: asNd(weights) ?? Float64Array.from(weights) };
    if (f.seed === undefined && this.clientSeeds) f.seed = randomSeed();
    for (const k of ["seed", "epoch"]) if (f[k] !== undefined && f[k] !== null) f[k] = u64(k, f[k], k === "seed" && this.stringSeeds);
    const { body, type } = this.#multipart("/sample", f);
    const res = await this.#send("POST", "/sample", body, { "Content-Type": type, Accept: "application/x-npy" }, opts,
      f.seed !== undefined);
    return { indices: fromNpy(new Uint8Array(await res.arrayBuffer())).data, ...meta(res.headers) };
  }

  /**
   * POST /loss with logits and targets as .npy parts (examples/node's API). With reduction
   * "none" (no grad): { loss: {data, shape, dtype}, reduction, totalWeight }; otherwise the
   * JSON answer.
   */
  async lossNpy(logits, targets, fields = {}, opts = {}) {
    const key = fields.loss === "nll" ? "log_probs" : "logits";
    const f = { ...fields, [key]: asNd(logits), targets: asNd(targets) };
    const none = fields.reduction === "none" && !fields.grad;
    const { body, type } = this.#multipart("/loss", f);
    const res = await this.#send("POST", "/loss", body,
      { "Content-Type": type, Accept: none ? "application/x-npy" : "application/json" }, opts, true);
    if (!none) return res.json();
    return { loss: fromNpy(new Uint8Array(await res.arrayBuffer())), ...meta(res.headers) };
  }

  /** GET /healthz: { status: "ok" }. */
  async healthz(opts = {}) {
    return (await this.#send("GET", "/healthz", undefined, {}, opts, true)).json();
  }

  /** GET /version: { version, libmicrohttpd, jansson }. */
  async version(opts = {}) {
    return (await this.#send("GET", "/version", undefined, {}, opts, true)).json();
  }

  // ---- encoding ----

  #bulk(path, fields) {
    if (!(this.bulkThreshold < Infinity)) return false;
    let n = 0;
    let any = false;
    for (const k of ARRAY_FIELDS[path] ?? []) {
      const nd = asNd(fields[k]);
      if (nd) {
        n += nd.data.length;
        any = true;
      }
    }
    return any && n >= this.bulkThreshold;
  }

  #multipart(path, fields) {
    const form = new FormData();
    const rest = {};
    for (const [k, v] of Object.entries(fields)) {
      const nd = (ARRAY_FIELDS[path] ?? []).includes(k) ? asNd(v) : null;
      if (nd) {
        form.append(k, new Blob([toNpy(nd.data, nd.shape)], { type: "application/x-npy" }), `${k}.npy`);
      } else if (v !== undefined) {
        rest[k] = v;
      }
    }
    if (Object.keys(rest).length) form.append("request", this.#stringify(rest));
    return { body: form, type: undefined };
  }

  #stringify(fields) {
    try {
      return stringify(fields);
    } catch (e) {
      let field = null;
      for (const [k, v] of Object.entries(fields)) {
        try {
          stringify(v);
        } catch {
          field = k;
          break;
        }
      }
      const what = field ? `${field} holds a value that JSON cannot carry (${e.message})` : e.message;
      throw new BallastError(null, "invalid_argument", what, field, null, { cause: e });
    }
  }

  async #call(path, fields, opts, idempotent = true) {
    for (const k of Object.keys(fields)) if (fields[k] === undefined || fields[k] === null) delete fields[k];
    const typed = opts.output === "typed";
    let body;
    let headers;
    if (this.#bulk(path, fields)) {
      body = this.#multipart(path, fields).body;
      headers = { Accept: "multipart/form-data" };
    } else {
      body = this.#stringify(fields);
      headers = { "Content-Type": "application/json", Accept: "application/json" };
    }
    const res = await this.#send("POST", path, body, headers, opts, idempotent);
    const ctype = res.headers.get("content-type") ?? "";
    let doc;
    try {
      if (/^multipart\//i.test(ctype)) {
        const parts = parseMultipart(new Uint8Array(await res.arrayBuffer()), ctype);
        const text = parts.response ? new TextDecoder().decode(parts.response) : "{}";
        doc = JSON.parse(text);
        if (path === "/sample") exactInts(text, doc);
        for (const [name, bytes] of Object.entries(parts)) {
          if (name === "response") continue;
          const a = fromNpy(bytes);
          if (name !== "indices" && !(a.data instanceof Float64Array)) a.data = Float64Array.from(a.data, Number);
          doc[name] = typed ? a : name === "indices" ? Array.from(a.data, Number) : nest(a.data, a.shape);
        }
      } else {
        const text = await res.text();
        doc = JSON.parse(text);
        if (path === "/sample") exactInts(text, doc);
        if (typed) {
          if (Array.isArray(doc.indices)) {
            doc.indices = { data: BigInt64Array.from(doc.indices, BigInt), shape: [doc.indices.length], dtype: "<i8" };
          }
          for (const k of REAL_ANSWERS) if (Array.isArray(doc[k])) doc[k] = flatten(doc[k]);
        }
      }
    } catch (e) {
      throw new BallastError(200, "invalid_response", `the answer of ${path} cannot be read: ${e.message}`, null,
        this.lastRequestId, { cause: e });
    }
    if (typed && doc.loss !== undefined && !Array.isArray(doc.loss) && typeof doc.loss !== "object") {
      doc.loss = doc.loss ?? NaN; // a mean of nothing: null in JSON
    }
    return doc;
  }

  // ---- transport ----

  #pause(attempt, retryAfter) {
    if (attempt >= this.retries) return -1;
    if (retryAfter != null) {
      const ms = retryAfter * 1000;
      return ms > this.maxWait ? -1 : ms * (1 + 0.1 * Math.random());
    }
    const d = Math.min(this.maxWait, this.backoff * 2 ** attempt);
    return d / 2 + (Math.random() * d) / 2;
  }

  async #sleep(ms, signal, attempt) {
    try {
      await sleep(ms, signal);
    } catch (e) {
      throw new BallastError(null, "canceled", String(e?.message ?? e), null, null, { attempts: attempt + 1, cause: e });
    }
  }

  async #send(method, path, body, headers, opts = {}, idempotent = true) {
    const h = { "User-Agent": `ballast-node/${VERSION}` };
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) h[k] = v;
    if (this.token != null) h.Authorization = `Bearer ${this.token}`;
    if (opts.requestId != null) h["X-Request-Id"] = opts.requestId;
    let staleRetried = false;
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(this.timeout);
      const signal = anySignal([timeout, opts.signal]);
      let res;
      try {
        res = await this.fetch(this.baseUrl + path, { method, body, headers: h, signal });
      } catch (e) {
        if (opts.signal?.aborted) {
          throw new BallastError(null, "canceled", String(opts.signal.reason?.message ?? opts.signal.reason), null, null,
            { attempts: attempt + 1, cause: e });
        }
        if (timeout.aborted) {
          throw new BallastError(null, "timeout", `no answer from ${this.baseUrl} within ${this.timeout} ms`, null, null,
            { attempts: attempt + 1, cause: e });
        }
        const err = new BallastError(null, "connection_error", `${this.baseUrl}: ${e.cause?.message ?? e.message}`,
          null, null, { attempts: attempt + 1, cause: e });
        if (!idempotent) throw err;
        if (!staleRetried && /other side closed|ECONNRESET|socket hang up/i.test(String(e.cause?.message ?? e.cause?.code ?? ""))) {
          staleRetried = true; // a kept-alive connection the server closed while idle: once more at once
          attempt--;
          continue;
        }
        const wait = this.#pause(attempt, null);
        if (wait < 0) throw err;
        this.onRetry?.(attempt + 1, null, wait, err);
        await this.#sleep(wait, opts.signal, attempt);
        continue;
      }
      this.lastRequestId = res.headers.get("x-request-id");
      if (res.ok) return res;
      const err = await errorFrom(res, attempt + 1);
      if (RETRY_STATUSES.has(res.status) && idempotent) {
        const wait = this.#pause(attempt, err.retryAfter);
        if (wait >= 0) {
          this.onRetry?.(attempt + 1, res.status, wait, err);
          await this.#sleep(wait, opts.signal, attempt);
          continue;
        }
      }
      throw err;
    }
  }
}

async function errorFrom(res, attempts) {
  const text = await res.text();
  const rid = res.headers.get("x-request-id");
  const retryAfter = retryAfterSeconds(res.headers.get("retry-after"));
  let err;
  try {
    err = JSON.parse(text).error;
  } catch {
    err = undefined;
  }
  if (!err || typeof err !== "object") {
    return new BallastError(res.status, "http_error", text.slice(0, 200).trim() || res.statusText, null, rid,
      { retryAfter, attempts });
  }
  return new BallastError(res.status, err.code, err.message, err.field ?? null, rid, { retryAfter, attempts });
}

// Ballast-* headers: the scalar fields of an .npy answer, camelCased ("numSamples").
function meta(headers) {
  const out = {};
  for (const [k, v] of headers) {
    if (!k.toLowerCase().startsWith("ballast-")) continue;
    const name = k.slice(8).toLowerCase().replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (name === "seed") out[name] = BigInt(v);
    else if (name === "totalWeight") out[name] = /^-?inf/i.test(v) ? (v[0] === "-" ? -Infinity : Infinity) : parseFloat(v);
    else if (/^-?\d+$/.test(v)) out[name] = Number(v);
    else out[name] = v;
  }
  return out;
}

/** examples/node's name for the client. */
export { Client as Ballast };
