// The Node.js client of ballastd, from the package in clients/node (kept here under its
// first name, for the demo and its tests): Ballast is clients/node's Client.
//
//   import { Ballast } from "./ballast.mjs";
//   const b = new Ballast("http://127.0.0.1:8080");
//   (await b.weights({ counts: [100000, 100, 10] })).weights;          // [1, 1000, 10000]
//   const { indices, seed } = await b.sampleNpy(new Float64Array(1e6).fill(1), { seed: 7 });
//   // indices: BigInt64Array, seed: 7n
//
// See clients/node/index.js and its types, clients/node/index.d.ts.
export * from "../../clients/node/index.js";
