-- soak.lua — wrk script for bench/soak.sh: valid requests of every endpoint,
-- rotating per request, each checked for status 200 (wrk counts the rest as
-- "Non-2xx or 3xx responses").
--
-- The mix (one of each in turn, per connection thread):
--   /weights  counts of 3 classes (the README's example)
--   /weights  1000 labels of 10 classes, sample_weights, balanced, mean
--   /sample   1000 weights, 1000 draws, fast generator, a fixed seed
--   /sample   1000 labels, 500 draws without replacement, torch generator
--   /sample   1000 weights, world_size 4, rank 1
--   /loss     cross_entropy, 64 x 10 logits, class weights, mean, grad
--   /loss     focal, 16 x 5 x 4 logits (K-dim), reduction none
--   /loss     bce_with_logits, 32 x 8, pos_weight

local function list(n, f)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = f(i) end
  return "[" .. table.concat(t, ",") .. "]"
end

local function nested(dims, f, prefix)
  prefix = prefix or {}
  local d = #prefix + 1
  local t = {}
  for i = 0, dims[d] - 1 do
    prefix[d] = i
    if d == #dims then t[#t + 1] = f(prefix) else t[#t + 1] = nested(dims, f, prefix) end
  end
  prefix[d] = nil
  return "[" .. table.concat(t, ",") .. "]"
end

local function real(x) return string.format("%.6g", x) end

local requests = {
  {"/weights", '{"counts": [100000, 100, 10]}'},
  {"/weights", '{"labels": ' .. list(1000, function(i) return tostring((i * 7) % 10) end) ..
               ', "scheme": "balanced", "normalize": "mean", "sample_weights": true}'},
  {"/sample", '{"weights": ' .. list(1000, function(i) return real(1 + (i % 17) * 0.5) end) ..
              ', "num_samples": 1000, "seed": 12345}'},
  {"/sample", '{"labels": ' .. list(1000, function(i) return tostring((i * 3) % 7) end) ..
              ', "num_samples": 500, "replacement": false, "seed": 99, "generator": "torch"}'},
  {"/sample", '{"weights": ' .. list(1000, function(i) return real(1 + i % 5) end) ..
              ', "num_samples": 1000, "seed": 7, "epoch": 3, "world_size": 4, "rank": 1}'},
  {"/loss", '{"logits": ' .. nested({64, 10}, function(p) return real(math.sin(p[1] * 10 + p[2])) end) ..
            ', "targets": ' .. list(64, function(i) return tostring(i % 10) end) ..
            ', "weights": ' .. list(10, function(i) return real(1 + i / 10) end) .. ', "grad": true}'},
  {"/loss", '{"loss": "focal", "logits": ' ..
            nested({16, 5, 4}, function(p) return real(math.cos(p[1] + p[2] * 3 + p[3])) end) ..
            ', "targets": ' .. nested({16, 4}, function(p) return tostring((p[1] + p[2]) % 5) end) ..
            ', "gamma": 2, "reduction": "none"}'},
  {"/loss", '{"loss": "bce_with_logits", "logits": ' ..
            nested({32, 8}, function(p) return real(math.sin(p[1] * 8 + p[2]) * 3) end) ..
            ', "targets": ' .. nested({32, 8}, function(p) return tostring((p[1] + p[2]) % 2) end) ..
            ', "pos_weight": ' .. list(8, function(i) return real(1 + i) end) .. '}'},
}

local counter = 0
local headers = {["Content-Type"] = "application/json"}

request = function()
  counter = counter + 1
  local r = requests[(counter % #requests) + 1]
  return wrk.format("POST", r[1], headers, r[2])
end
