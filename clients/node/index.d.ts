// Types of the ballast Node.js client (index.js).

/** A typed array the client sends and reads as .npy. */
export type TypedArray = Float64Array | Float32Array | BigInt64Array | Int32Array | Uint8Array;
/** An n-dimensional array in C order. */
export interface NdArray<T extends TypedArray = TypedArray> {
  data: T;
  shape: number[];
  dtype?: "<f8" | "<f4" | "<i8" | "<i4" | "|u1";
}
/** An array field: a (nested) plain array, a typed array, or { data, shape }. */
export type ArrayLike = number[] | number[][] | unknown[] | TypedArray | NdArray;
/** A seed or an epoch in [0, 2^64): a BigInt (or a number up to 2^53, or a decimal string). */
export type U64 = bigint | number | string;

export interface ClientOptions {
  /** the server's --auth-token, sent as "Authorization: Bearer <token>" */
  token?: string | null;
  /** milliseconds per attempt (30000) */
  timeout?: number;
  /** further attempts after 429/502/503/504 or a failed connection (4) */
  retries?: number;
  /** first pause in ms when there is no Retry-After, doubled per attempt (200) */
  backoff?: number;
  /** longest pause in ms; a longer Retry-After is not waited for (30000) */
  maxWait?: number;
  /** typed-array elements from which a request goes as .npy parts (4096; Infinity: never) */
  bulkThreshold?: number;
  /** sample() without a seed sends one drawn here, so it can be retried (true) */
  clientSeeds?: boolean;
  /** send seeds as decimal strings (servers that accept them; BigInts as bare integers work everywhere) */
  stringSeeds?: boolean;
  onRetry?: ((attempt: number, status: number | null, waitMs: number, error: BallastError) => void) | null;
  fetch?: typeof fetch;
}

export interface CallOptions {
  /** sent as X-Request-Id */
  requestId?: string;
  /** "json" (default): arrays as their JSON parses; "typed": NdArray */
  output?: "json" | "typed";
  signal?: AbortSignal;
}

export type WeightsScheme = "max_over_count" | "inverse" | "balanced" | "inverse_sqrt" | "effective_number" |
  "median_frequency" | "enet" | "power" | "repeat_factor";

export interface WeightsRequest {
  counts?: ArrayLike | Record<string, number>;
  /**
   * one class id per sample; or, multi-label, an N x C matrix of 0/1 (samples x classes):
   * nested arrays, or { data, shape: [N, C] } with an integer typed array (.npy when large)
   */
  labels?: ArrayLike;
  /** multi-label, instead of counts or labels: per sample its class ids ([] for none); JSON only */
  label_sets?: (number[] | Int32Array | BigInt64Array)[];
  num_classes?: number;
  scheme?: WeightsScheme;
  /** effective_number only (0.999) */
  beta?: number;
  /** enet only (1.02) */
  c?: number;
  /** power only: q in [0, 64], w_c = n_c^-q (1) */
  exponent?: number;
  /** repeat_factor only: t in [0, 1] (0.001) */
  threshold?: number;
  /** not with repeat_factor */
  normalize?: "none" | "sum" | "mean" | "max";
  zero_counts?: "error" | "zero";
  sample_weights?: boolean;
  /** with sample_weights, multi-label: a sample's weight is the max (default) or mean of its classes' */
  sample_weight_reduce?: "max" | "mean";
  [extra: string]: unknown;
}
export interface WeightsResponse {
  weights: (number | null)[] | Record<string, number | null> | NdArray<Float64Array>;
  counts: number[] | Record<string, number> | NdArray<Float64Array>;
  num_classes: number;
  scheme: WeightsScheme;
  normalize: string;
  sample_weights?: (number | null)[] | NdArray<Float64Array>;
  /** multi-label only: N */
  num_samples?: number;
  /** multi-label only: n_pos per class (the counts the scheme was applied to) */
  positives?: number[] | NdArray<Float64Array>;
  /** multi-label only: (N - n_pos) / n_pos per class, for BCEWithLogitsLoss(pos_weight=...) */
  pos_weight?: number[] | NdArray<Float64Array>;
  /** scheme repeat_factor only: one repeat factor per sample */
  repeat_factors?: number[] | NdArray<Float64Array>;
  warnings?: string[];
}

export interface SampleRequest {
  weights?: ArrayLike;
  labels?: ArrayLike;
  class_weights?: ArrayLike;
  num_samples?: number;
  replacement?: boolean;
  /** default: drawn by the client (clientSeeds) and returned */
  seed?: U64;
  epoch?: U64;
  generator?: "fast" | "torch";
  /**
   * "per_epoch" (default): epoch e draws with a generator seeded with seed + e;
   * "continued" (generator "torch"): epoch e is the (e+1)-th consecutive draw of one
   * generator seeded with seed, the passes of PyTorch's WeightedRandomSampler with
   * generator=torch.Generator().manual_seed(seed)
   */
  stream?: "per_epoch" | "continued";
  world_size?: number;
  rank?: number;
  /** a window of the answer: indices.slice(offset, offset + count) of the request without them */
  offset?: number;
  /** the window's length (default: to the end) */
  count?: number;
  /** generator "fast" only: 2 (default) or 1 (ballast 0.1's stream) */
  fast_version?: 1 | 2;
  /**
   * "weighted" (default) or, with labels, "undersample" / "oversample": the item indices that
   * balance the classes as imbalanced-learn's RandomUnderSampler / RandomOverSampler do
   * (leave num_samples, weights, class_weights and generator out)
   */
  strategy?: "weighted" | "undersample" | "oversample";
  /**
   * with a strategy, the class targets as imbalanced-learn defines them: "auto" (default),
   * "not minority", "not majority", "majority", "minority", "all"; a ratio in (0, 1] (two
   * classes); one count per class; or { "class id": count } for the classes to resample
   */
  sampling_strategy?: "auto" | "not minority" | "not majority" | "majority" | "minority" | "all" | number | ArrayLike | Record<string, number>;
  [extra: string]: unknown;
}
export interface SampleResponse {
  indices: number[] | NdArray<BigInt64Array>;
  num_samples: number;
  /** exact, whatever its size */
  seed: bigint;
  /** a BigInt beyond 2^53 */
  epoch: number | bigint;
  generator: "fast" | "torch";
  rank?: number;
  world_size?: number;
  total_size?: number;
  /** "continued" when asked for (absent: per_epoch) */
  stream?: "continued";
  /** "undersample" or "oversample" when asked for */
  strategy?: "undersample" | "oversample";
  fast_version?: number;
  /** with offset or count in the request: the window's start */
  offset?: number;
  /** with offset or count in the request: the number of indices returned */
  count?: number;
  /** offset + count: the next window's offset (the epoch is done at full_count) */
  next_offset?: number;
  /** the answer's length without a window */
  full_count?: number;
  warnings?: string[];
}

export type LossName = "cross_entropy" | "nll" | "focal" | "bce_with_logits" | "sigmoid_focal" | "ldam" |
  "asymmetric" | "dice" | "tversky";
export type Reduction = "mean" | "sum" | "none" | "sum_over_batch_size";

export interface LossRequest {
  loss?: LossName;
  logits?: ArrayLike;
  log_probs?: ArrayLike;
  targets?: ArrayLike | number;
  weights?: ArrayLike;
  pos_weight?: ArrayLike;
  /** "sum_over_batch_size": Keras's default, the weighted sum over the number of positions */
  reduction?: Reduction;
  ignore_index?: number;
  label_smoothing?: number;
  gamma?: number;
  alpha?: number;
  grad?: boolean;
  /** cross_entropy, focal: tau; logits + tau * log(prior) (1: Balanced Softmax); needs class_counts or class_priors */
  logit_adjustment?: number;
  /** samples per class (> 0): the priors of logit_adjustment, the margins of ldam (required there) */
  class_counts?: ArrayLike;
  /** instead of class_counts: class priors (> 0, normalised) */
  class_priors?: ArrayLike;
  /** ldam: the largest margin (0.5) */
  max_margin?: number;
  /** ldam: the scale s of the adjusted logits (30) */
  scale?: number;
  /** asymmetric: focusing of positives (1) */
  gamma_pos?: number;
  /** asymmetric: focusing of negatives (4) */
  gamma_neg?: number;
  /** asymmetric: probability margin of negatives (0.05) */
  clip?: number;
  /** asymmetric: floor of probabilities under the log (1e-8) */
  eps?: number;
  /** dice, tversky: "softmax" (class-index targets, default) or "sigmoid" (targets of the logits' shape) */
  activation?: "softmax" | "sigmoid";
  /** dice, tversky: false leaves class 0 out of the scores (true) */
  include_background?: boolean;
  /** dice, tversky: one score per class over the batch (false) */
  batch?: boolean;
  /** dice, tversky: added to each score's numerator (1e-5) */
  smooth_nr?: number;
  /** dice, tversky: added to each score's denominator (1e-5) */
  smooth_dr?: number;
  /** tversky: weight of false positives (0.5) */
  tversky_alpha?: number;
  /** tversky: weight of false negatives (0.5) */
  tversky_beta?: number;
  [extra: string]: unknown;
}
export interface LossResponse {
  /** a number for mean and sum (null: the mean of nothing, see warnings); nested arrays for none */
  loss: number | null | unknown[] | NdArray<Float64Array>;
  reduction: Reduction;
  total_weight: number | null;
  grad?: unknown[] | NdArray<Float64Array>;
  warnings?: string[];
}

export interface NpyMeta {
  seed?: bigint;
  epoch?: number;
  numSamples?: number;
  generator?: string;
  rank?: number;
  worldSize?: number;
  totalSize?: number;
  reduction?: string;
  totalWeight?: number;
  [name: string]: unknown;
}

export class BallastError extends Error {
  /** the HTTP status; null when no answer came (connection_error, timeout, canceled) or the client refused the arguments */
  status: number | null;
  code: string;
  /** the server's message alone */
  detail: string;
  field: string | null;
  requestId: string | null;
  /** seconds, from Retry-After */
  retryAfter: number | null;
  attempts: number;
}

export class Client {
  constructor(baseUrl?: string, options?: ClientOptions);
  baseUrl: string;
  lastRequestId: string | null;
  classWeights(fields: WeightsRequest, opts?: CallOptions): Promise<WeightsResponse>;
  weights(fields: WeightsRequest, opts?: CallOptions): Promise<WeightsResponse>;
  sample(fields: SampleRequest, opts?: CallOptions): Promise<SampleResponse>;
  loss(fields: LossRequest, opts?: CallOptions): Promise<LossResponse>;
  sampleNpy(weights: TypedArray | number[] | NdArray, fields?: Omit<SampleRequest, "weights">, opts?: CallOptions):
    Promise<NpyMeta & { indices: BigInt64Array }>;
  lossNpy(logits: TypedArray | NdArray, targets: TypedArray | NdArray, fields?: Omit<LossRequest, "logits" | "targets">,
    opts?: CallOptions): Promise<LossResponse | (NpyMeta & { loss: NdArray })>;
  healthz(opts?: CallOptions): Promise<{ status: string }>;
  version(opts?: CallOptions): Promise<{ version: string; libmicrohttpd: string; jansson: string }>;
}
export { Client as Ballast };

export const VERSION: string;
export function stringify(value: unknown): string;
export function toNpy(data: TypedArray | number[], shape?: number[] | null): Uint8Array;
export function fromNpy(buf: ArrayBuffer | Uint8Array): NdArray;
export function parseMultipart(body: Uint8Array, contentType: string): Record<string, Uint8Array>;
export function randomSeed(): bigint;
