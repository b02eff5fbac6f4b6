// A small client for ballastd: class weights, weighted sampling and PyTorch-exact losses
// over HTTP. An ES module for Node 18 or later (built-in fetch, FormData and Blob; tested on
// Node 20 and on Debian bookworm's nodejs 18.20); no npm dependencies.
//
//   import { Ballast } from "./ballast.mjs";
//   const b = new Ballast("http://127.0.0.1:8080");
//   (await b.weights({ counts: [100000, 100, 10] })).weights;          // [1, 1000, 10000]
//   (await b.sample({ weights: [100000, 100, 10], num_samples: 3, replacement: false,
//                     seed: 0, generator: "torch" })).indices;         // [0, 1, 2]
//   (await b.loss({ logits: [[1, 2], [1, 3], [1, 3]], targets: [0, 1, 1] })).loss;
//
//   // Bulk: weights as a .npy part, indices back as .npy (int64).
//   const { indices, seed } = await b.sampleNpy(new Float64Array(1e6).fill(1), { seed: 7 });
//   // indices: BigInt64Array, seed: 7n
//
// Fields are named as in api/openapi.yaml; typed arrays may stand for arrays. Seeds are integers in [0, 2^64), beyond what a JS
// number holds exactly: pass a BigInt (a number is fine up to 2^53), and read them back as
// BigInt (`seed` of sample() and sampleNpy() is always a BigInt).
//
// Errors: an error answer throws a BallastError (status, code, message, field, requestId).
// Network failures and timeouts throw fetch's own errors (TypeError, AbortError/TimeoutError).
//
// Every method takes a last argument { requestId } sent as X-Request-Id (1 to 64 visible ASCII
// characters); the id of the last response is in ballast.lastRequestId.

const BIG = "__ballast_bigint__:";

/** An error answer of ballastd: {"error": {"code", "message", "field"}}. */
export class BallastError extends Error {
  constructor(status, code, message, field = null, requestId = null) {
    super(`${status} ${code}: ${message}${field ? ` (field ${field})` : ""}`);
    this.name = "BallastError";
    this.status = status;
    this.code = code;
    this.detail = message; // the server's message alone
    this.field = field;
    this.requestId = requestId;
  }
}

/** JSON.stringify that writes BigInts as plain JSON integers and typed arrays as arrays. */
export function stringify(value) {
  const text = JSON.stringify(value, (k, v) =>
    typeof v === "bigint" ? BIG + v.toString() : ArrayBuffer.isView(v) ? Array.from(v) : v);
  return text.replace(new RegExp(`"${BIG}(-?\\d+)"`, "g"), "$1");
}

// The "seed" of a /sample answer, exactly (JSON.parse would round it above 2^53).
function exactSeed(text) {
  const m = /"seed":\s*(\d+)/.exec(text);
  return m ? BigInt(m[1]) : undefined;
}

// ---- .npy --------------------------------------------------------------------------------

const DTYPES = [
  ["<f8", Float64Array],
  ["<f4", Float32Array],
  ["<i8", BigInt64Array],
  ["<i4", Int32Array],
  ["|u1", Uint8Array],
];
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A .npy file (format 1.0, little-endian, C order) holding a typed array: Float64Array,
 * Float32Array, BigInt64Array, Int32Array or Uint8Array (a plain array of numbers is sent as
 * float64). shape defaults to 1-D; its product must be the array's length.
 */
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
    const n = data.BYTES_PER_ELEMENT; // big-endian host: swap each element
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
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(u8.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(".npy: Fortran order not supported");
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const entry = DTYPES.find(([d]) => d === descr);
  if (!entry) throw new Error(`.npy: dtype ${descr} not supported`);
  const T = entry[1];
  const n = shape.reduce((a, b) => a * b, 1);
  const off = u8.byteOffset + start + hlen;
  if (start + hlen + n * T.BYTES_PER_ELEMENT > u8.length) throw new Error(".npy: truncated");
  // slice() copies, so the typed array is aligned whatever the offset.
  const data = new T(u8.buffer.slice(off, off + n * T.BYTES_PER_ELEMENT));
  if (!LITTLE && T.BYTES_PER_ELEMENT > 1) {
    const b = new Uint8Array(data.buffer);
    for (let i = 0; i < b.length; i += T.BYTES_PER_ELEMENT) b.subarray(i, i + T.BYTES_PER_ELEMENT).reverse();
  }
  return { data, shape, dtype: descr };
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

// A { data, shape } pair from a typed array (1-D) or { data, shape }.
function asArray(x) {
  return x && x.data !== undefined ? x : { data: x, shape: null };
}

// ---- the client ----------------------------------------------------------------------------

export class Ballast {
  /**
   * @param {string} baseUrl  the server's root, e.g. "http://127.0.0.1:8080"
   * @param {{token?: string, timeout?: number}} options  token: the server's --auth-token
   *   (sent as "Authorization: Bearer <token>"); timeout: milliseconds per request (30000)
   */
  constructor(baseUrl = "http://127.0.0.1:8080", { token = null, timeout = 30000 } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = token;
    this.timeout = timeout;
    this.lastRequestId = null;
  }

  /** POST /weights: counts (array, or object {name: count}, order kept) or labels in. */
  weights(fields, opts) {
    return this.#json("/weights", fields, opts);
  }

  /** POST /sample: the response document, its `seed` a BigInt (the one used). */
  async sample(fields, opts) {
    const { doc, text } = await this.#json("/sample", fields, opts, true);
    doc.seed = exactSeed(text);
    return doc;
  }

  /** POST /loss: {loss, reduction, total_weight} (plus grad and warnings when present). */
  loss(fields, opts) {
    return this.#json("/loss", fields, opts);
  }

  /**
   * POST /sample with the weights as a .npy part and the indices back as .npy.
   * @param {Float64Array|Float32Array|number[]} weights  one weight per item
   * @param {object} fields  the other fields (num_samples, seed, epoch, generator, ...)
   * @returns {Promise<{indices: BigInt64Array, seed: bigint, epoch: number, numSamples: number,
   *   generator: string, rank?: number, worldSize?: number, totalSize?: number}>}
   */
  async sampleNpy(weights, fields = {}, opts) {
    const res = await this.#multipart("/sample", { weights: asArray(weights) }, fields, "application/x-npy", opts);
    const indices = fromNpy(await res.arrayBuffer()).data;
    return { indices, ...meta(res.headers) };
  }

  /**
   * POST /loss with logits and targets as .npy parts: each a typed array (1-D) or
   * { data, shape } (e.g. { data: Float64Array of N*C, shape: [N, C] }); integer targets
   * (BigInt64Array, Int32Array, Uint8Array) are class indices, real ones probabilities.
   * With reduction "none" (and no grad) returns { loss: {data: Float64Array, shape},
   * reduction, totalWeight }; otherwise the JSON response document.
   */
  async lossNpy(logits, targets, fields = {}, opts) {
    const key = fields.loss === "nll" ? "log_probs" : "logits";
    const none = fields.reduction === "none" && !fields.grad;
    const res = await this.#multipart("/loss", { [key]: asArray(logits), targets: asArray(targets) }, fields,
      none ? "application/x-npy" : "application/json", opts);
    if (!none) return res.json();
    return { loss: fromNpy(await res.arrayBuffer()), ...meta(res.headers) };
  }

  /** GET /healthz. */
  async healthz() {
    return (await this.#fetch("GET", "/healthz", undefined, {}, undefined)).json();
  }

  // ---- transport ----

  async #json(path, fields, opts, withText = false) {
    const res = await this.#fetch("POST", path, stringify(fields), { "Content-Type": "application/json" }, opts);
    const text = await res.text();
    const doc = JSON.parse(text);
    return withText ? { doc, text } : doc;
  }

  async #multipart(path, arrays, fields, accept, opts) {
    // Typed arrays among the other fields (class_weights, weights of /loss, ...) go as parts too.
    const rest = {};
    arrays = { ...arrays };
    for (const [k, v] of Object.entries(fields)) {
      if (ArrayBuffer.isView(v) || (v && ArrayBuffer.isView(v.data))) arrays[k] = asArray(v);
      else rest[k] = v;
    }
    const form = new FormData();
    for (const [name, { data, shape }] of Object.entries(arrays)) {
      form.append(name, new Blob([toNpy(data, shape)], { type: "application/octet-stream" }), `${name}.npy`);
    }
    if (Object.keys(rest).length) form.append("request", stringify(rest));
    return this.#fetch("POST", path, form, { Accept: accept }, opts);
  }

  async #fetch(method, path, body, headers, opts = {}) {
    const h = { ...headers };
    if (this.token != null) h.Authorization = `Bearer ${this.token}`;
    if (opts.requestId != null) h["X-Request-Id"] = opts.requestId;
    const res = await fetch(this.baseUrl + path, { method, body, headers: h, signal: AbortSignal.timeout(this.timeout) });
    this.lastRequestId = res.headers.get("x-request-id");
    if (res.ok) return res;
    const text = await res.text();
    let err;
    try {
      err = JSON.parse(text).error;
    } catch {
      err = undefined;
    }
    if (!err || typeof err !== "object") {
      // Not ballastd's error document (a proxy's page, say).
      throw new BallastError(res.status, "http_error", text.slice(0, 200).trim() || res.statusText, null, this.lastRequestId);
    }
    throw new BallastError(res.status, err.code, err.message, err.field ?? null, this.lastRequestId);
  }
}
