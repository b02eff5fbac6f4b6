package ballast

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// U64 is an unsigned 64-bit integer (a seed or an epoch), exact over [0, 2^64) in JSON: it is
// written as a bare integer and read from an integer or from a decimal string (the form
// servers that take seeds as strings answer with).
type U64 uint64

// MarshalJSON writes u as a JSON integer.
func (u U64) MarshalJSON() ([]byte, error) { return strconv.AppendUint(nil, uint64(u), 10), nil }

// UnmarshalJSON reads a JSON integer or a decimal string, exactly.
func (u *U64) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("ballast: %s is not an integer in [0, 2^64)", s)
	}
	*u = U64(v)
	return nil
}

// Seed returns a pointer to a seed (or an epoch), for SampleRequest.Seed and .Epoch.
func Seed(v uint64) *U64 { u := U64(v); return &u }

// Bool, Int and Float return pointers, for the optional fields whose zero value means
// something (replacement false, ignore_index 0, gamma 0, ...).
func Bool(v bool) *bool { return &v }

// Int returns a pointer to v.
func Int(v int64) *int64 { return &v }

// Float returns a pointer to v.
func Float(v float64) *float64 { return &v }

// Float64s is a []float64 that reads JSON null (a result that is not finite) as NaN.
type Float64s []float64

// UnmarshalJSON reads an array of numbers and nulls.
func (f *Float64s) UnmarshalJSON(b []byte) error {
	var raw []*float64
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*f = nil
		return nil
	}
	out := make(Float64s, len(raw))
	for i, p := range raw {
		if p == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *p
		}
	}
	*f = out
	return nil
}

// Real is a float64 that reads JSON null as NaN.
type Real float64

// UnmarshalJSON reads a number or null.
func (r *Real) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*r = Real(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Real(v)
	return nil
}

// Tensor is an n-dimensional array in C order: exactly one of Float64, Float32 and Int64
// holds its elements, and Shape their dimensions (nil: 1-D; empty but not nil: a single
// number). In JSON it is a nested array (a number when 0-d); as a .npy part, the array
// itself.
type Tensor struct {
	Shape   []int
	Float64 []float64
	Float32 []float32
	Int64   []int64
}

// NewFloat64 wraps data (not copied) as a tensor of the given shape (default: 1-D).
func NewFloat64(data []float64, shape ...int) *Tensor {
	return &Tensor{Shape: shapeOr(shape, len(data)), Float64: data}
}

// NewFloat32 wraps data (not copied) as a tensor of the given shape (default: 1-D).
func NewFloat32(data []float32, shape ...int) *Tensor {
	return &Tensor{Shape: shapeOr(shape, len(data)), Float32: data}
}

// NewInt64 wraps data (not copied) as a tensor of the given shape (default: 1-D); class
// indices belong in an Int64 tensor.
func NewInt64(data []int64, shape ...int) *Tensor {
	return &Tensor{Shape: shapeOr(shape, len(data)), Int64: data}
}

func shapeOr(shape []int, n int) []int {
	if len(shape) == 0 {
		return []int{n}
	}
	return append([]int(nil), shape...)
}

// Len is the number of elements.
func (t *Tensor) Len() int {
	switch {
	case t.Float64 != nil:
		return len(t.Float64)
	case t.Float32 != nil:
		return len(t.Float32)
	default:
		return len(t.Int64)
	}
}

// At returns element i (in C order) as a float64.
func (t *Tensor) At(i int) float64 {
	switch {
	case t.Float64 != nil:
		return t.Float64[i]
	case t.Float32 != nil:
		return float64(t.Float32[i])
	default:
		return float64(t.Int64[i])
	}
}

// Values returns the elements as float64s (the slice itself for a Float64 tensor).
func (t *Tensor) Values() []float64 {
	if t.Float64 != nil {
		return t.Float64
	}
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.At(i)
	}
	return out
}

// Scalar returns the single element of a 0-d (or one-element) tensor; NaN otherwise.
func (t *Tensor) Scalar() float64 {
	if t == nil || t.Len() != 1 {
		return math.NaN()
	}
	return t.At(0)
}

// Dims is the shape, 1-D when Shape is nil.
func (t *Tensor) Dims() []int {
	if t.Shape == nil {
		return []int{t.Len()}
	}
	return t.Shape
}

func (t *Tensor) check() error {
	set := 0
	if t.Float64 != nil {
		set++
	}
	if t.Float32 != nil {
		set++
	}
	if t.Int64 != nil {
		set++
	}
	if set > 1 {
		return fmt.Errorf("ballast: a Tensor holds one of Float64, Float32 and Int64")
	}
	n := 1
	for _, d := range t.Dims() {
		if d < 0 {
			return fmt.Errorf("ballast: negative dimension in shape %v", t.Shape)
		}
		n *= d
	}
	if n != t.Len() {
		return fmt.Errorf("ballast: shape %v does not hold %d elements", t.Shape, t.Len())
	}
	return nil
}

// MarshalJSON writes the tensor as nested arrays; reals as the shortest decimal that reads
// back as the same float64 (float32 elements widened first, so that the server sees the
// same double as from a .npy part).
func (t *Tensor) MarshalJSON() ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	var b []byte
	var err error
	pos := 0
	shape := t.Dims()
	var walk func(dim int)
	walk = func(dim int) {
		if err != nil {
			return
		}
		if dim == len(shape) {
			switch {
			case t.Int64 != nil:
				b = strconv.AppendInt(b, t.Int64[pos], 10)
			default:
				v := t.At(pos)
				if math.IsNaN(v) || math.IsInf(v, 0) {
					err = fmt.Errorf("ballast: element %d is %v, which JSON cannot carry", pos, v)
					return
				}
				b = strconv.AppendFloat(b, v, 'g', -1, 64)
			}
			pos++
			return
		}
		b = append(b, '[')
		for i := 0; i < shape[dim]; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			walk(dim + 1)
		}
		b = append(b, ']')
	}
	walk(0)
	return b, err
}

// UnmarshalJSON reads a number, null (NaN) or rectangular nested arrays of them into a
// Float64 tensor.
func (t *Tensor) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return err
	}
	var shape []int
	for probe := v; ; {
		a, ok := probe.([]interface{})
		if !ok {
			break
		}
		shape = append(shape, len(a))
		if len(a) == 0 {
			break
		}
		probe = a[0]
	}
	data := make([]float64, 0, 16)
	var walk func(x interface{}, dim int) error
	walk = func(x interface{}, dim int) error {
		if dim == len(shape) {
			switch n := x.(type) {
			case nil:
				data = append(data, math.NaN())
			case json.Number:
				f, err := strconv.ParseFloat(string(n), 64)
				if err != nil {
					return err
				}
				data = append(data, f)
			default:
				return fmt.Errorf("ballast: %v is not a number", x)
			}
			return nil
		}
		a, ok := x.([]interface{})
		if !ok || len(a) != shape[dim] {
			return fmt.Errorf("ballast: ragged nested array")
		}
		for _, e := range a {
			if err := walk(e, dim+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(v, 0); err != nil {
		return err
	}
	if shape == nil {
		shape = []int{}
	}
	*t = Tensor{Shape: shape, Float64: data}
	return nil
}

// ---- requests and responses ----------------------------------------------------------

// LabelSets is the multi-label input of POST /weights: per sample the list of its class
// ids. A sample without classes may be nil or empty: it is sent as [] (never null).
type LabelSets [][]int64

// MarshalJSON writes the lists, nil ones as [].
func (ls LabelSets) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, set := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, c := range set {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, c, 10)
		}
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

// WeightsRequest is the body of POST /weights: Counts, Labels, LabelMatrix or LabelSets in
// (see api/openapi.yaml). Zero values are not sent, so the server's defaults apply.
type WeightsRequest struct {
	Counts []float64 `json:"counts,omitempty"`
	// Labels: one class id per sample.
	Labels []int64 `json:"labels,omitempty"`
	// LabelMatrix: multi-label, instead of Labels: an N x C Int64 tensor of 0 and 1
	// (samples x classes), e.g. NewInt64(flat, n, c); sent as the API's "labels" (nested
	// arrays in JSON, a 2-D .npy part above BulkThreshold).
	LabelMatrix *Tensor `json:"-"`
	// LabelSets: multi-label, instead of Labels: per sample its class ids (JSON only).
	LabelSets  LabelSets `json:"label_sets,omitempty"`
	NumClasses *int64    `json:"num_classes,omitempty"`
	// Scheme: "max_over_count" (default), "inverse", "balanced", "inverse_sqrt",
	// "effective_number", "median_frequency", "enet", "power" (with Exponent) or
	// "repeat_factor" (with Threshold; labels or multi-label input).
	Scheme string   `json:"scheme,omitempty"`
	Beta   *float64 `json:"beta,omitempty"`
	C      *float64 `json:"c,omitempty"`
	// Exponent: q of scheme "power", w_c = n_c^-q, in [0, 64] (default 1).
	Exponent *float64 `json:"exponent,omitempty"`
	// Threshold: t of scheme "repeat_factor", in [0, 1] (default 0.001).
	Threshold     *float64 `json:"threshold,omitempty"`
	Normalize     string   `json:"normalize,omitempty"`
	ZeroCounts    string   `json:"zero_counts,omitempty"`
	SampleWeights bool     `json:"sample_weights,omitempty"`
	// SampleWeightReduce: with SampleWeights, multi-label: a sample's weight is the "max"
	// (default) or "mean" of its classes' weights.
	SampleWeightReduce string `json:"sample_weight_reduce,omitempty"`
	// Extra fields, sent as they are (fields this package does not know yet).
	Extra map[string]interface{} `json:"-"`
}

// WeightsResponse is the answer of POST /weights; a weight that is not finite is NaN.
type WeightsResponse struct {
	Weights       Float64s `json:"weights"`
	Counts        Float64s `json:"counts"`
	NumClasses    int64    `json:"num_classes"`
	Scheme        string   `json:"scheme"`
	Normalize     string   `json:"normalize"`
	SampleWeights Float64s `json:"sample_weights,omitempty"`
	// Multi-label input (LabelMatrix, LabelSets) only: NumSamples is N, Positives n_pos per
	// class (the counts the scheme was applied to), PosWeight (N - n_pos) / n_pos per class,
	// for PyTorch's BCEWithLogitsLoss(pos_weight=...).
	NumSamples int64    `json:"num_samples,omitempty"`
	Positives  Float64s `json:"positives,omitempty"`
	PosWeight  Float64s `json:"pos_weight,omitempty"`
	// RepeatFactors: scheme "repeat_factor" only, one per sample (LVIS's r_i).
	RepeatFactors Float64s `json:"repeat_factors,omitempty"`
	Warnings      []string `json:"warnings,omitempty"`
	RequestID     string   `json:"-"`
}

// SampleRequest is the body of POST /sample. Seed nil: the client draws one (see
// Client.ClientSeeds) and the answer's Seed is it.
type SampleRequest struct {
	Weights      []float64 `json:"weights,omitempty"`
	Labels       []int64   `json:"labels,omitempty"`
	ClassWeights []float64 `json:"class_weights,omitempty"`
	NumSamples   int64     `json:"num_samples,omitempty"`
	Replacement  *bool     `json:"replacement,omitempty"`
	Seed         *U64      `json:"seed,omitempty"`
	Epoch        *U64      `json:"epoch,omitempty"`
	Generator    string    `json:"generator,omitempty"`
	// Stream: "per_epoch" (the server's default: epoch e draws with a generator seeded
	// with Seed + e) or "continued" (Generator "torch": epoch e is the (e+1)-th consecutive
	// draw of one generator seeded with Seed, as PyTorch's WeightedRandomSampler with a
	// seeded generator gives pass after pass).
	Stream    string `json:"stream,omitempty"`
	WorldSize int64  `json:"world_size,omitempty"`
	Rank      int64  `json:"rank,omitempty"`
	// Offset and Count: a window of the answer, Indices[Offset : Offset+Count] of what the
	// same request without them returns, so that a long epoch is fetched piece by piece.
	// Count nil: to the end (ballast.Int(0) asks for an empty window).
	Offset int64  `json:"offset,omitempty"`
	Count  *int64 `json:"count,omitempty"`
	// FastVersion: generator "fast" only, 2 (the server's default) or 1 (ballast 0.1's stream).
	FastVersion int64 `json:"fast_version,omitempty"`
	// Strategy: "weighted" (the default, the draw above) or, with Labels, "undersample" /
	// "oversample": the classes balanced as imbalanced-learn's RandomUnderSampler /
	// RandomOverSampler balance them; the answer is the list of item indices to train on
	// (leave NumSamples, Weights, ClassWeights and Generator out).
	Strategy string `json:"strategy,omitempty"`
	// SamplingStrategy: with a Strategy, the class targets as imbalanced-learn defines them:
	// a name (string: "auto", "not minority", "not majority", "majority", "minority",
	// "all"), a ratio in (0, 1] (float64, two classes), one count per class ([]int64), or
	// map[string]int64{"class id": count} for the classes to resample. Nil: "auto".
	SamplingStrategy interface{} `json:"sampling_strategy,omitempty"`
	// Extra fields, sent as they are (fields this package does not know yet).
	Extra map[string]interface{} `json:"-"`
}

// SampleResponse is the answer of POST /sample. With WorldSize > 1 in the request, Indices
// is this rank's share and Rank, WorldSize and TotalSize are set.
type SampleResponse struct {
	Indices    []int64 `json:"indices"`
	NumSamples int64   `json:"num_samples"`
	Seed       U64     `json:"seed"`
	Epoch      U64     `json:"epoch"`
	Generator  string  `json:"generator"`
	Rank       int64   `json:"rank,omitempty"`
	WorldSize  int64   `json:"world_size,omitempty"`
	TotalSize  int64   `json:"total_size,omitempty"`
	// Stream is "continued" when the request asked for it (empty: per_epoch).
	Stream      string `json:"stream,omitempty"`
	FastVersion int64  `json:"fast_version,omitempty"`
	// Strategy is "undersample" or "oversample" when the request asked for it.
	Strategy string `json:"strategy,omitempty"`
	// With Offset or Count in the request: the window's Offset, Count (len(Indices)),
	// NextOffset (the next window's Offset) and FullCount (the answer's length without a
	// window; the epoch is done when NextOffset reaches it).
	Offset     int64    `json:"offset,omitempty"`
	Count      int64    `json:"count,omitempty"`
	NextOffset int64    `json:"next_offset,omitempty"`
	FullCount  int64    `json:"full_count,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	RequestID  string   `json:"-"`
}

// LossRequest is the body of POST /loss. Logits (or LogProbs for "nll") of shape (C), (N,
// C) or (N, C, d1, ...); Targets: class indices (an Int64 tensor of the input's shape
// without the class dim) or probabilities (a Float64 tensor of the input's shape). Loss:
// "cross_entropy" (default), "nll", "focal", "bce_with_logits", "sigmoid_focal", "ldam",
// "asymmetric", "dice", "tversky"; Reduction: "mean" (default), "sum", "none",
// "sum_over_batch_size".
type LossRequest struct {
	Loss           string    `json:"loss,omitempty"`
	Logits         *Tensor   `json:"logits,omitempty"`
	LogProbs       *Tensor   `json:"log_probs,omitempty"`
	Targets        *Tensor   `json:"targets,omitempty"`
	Weights        []float64 `json:"weights,omitempty"`
	PosWeight      []float64 `json:"pos_weight,omitempty"`
	Reduction      string    `json:"reduction,omitempty"`
	IgnoreIndex    *int64    `json:"ignore_index,omitempty"`
	LabelSmoothing *float64  `json:"label_smoothing,omitempty"`
	Gamma          *float64  `json:"gamma,omitempty"`
	Alpha          *float64  `json:"alpha,omitempty"`
	Grad           bool      `json:"grad,omitempty"`
	// LogitAdjustment: tau ("cross_entropy", "focal"); the logits become z + tau*log(prior)
	// with the prior from ClassCounts or ClassPriors (1: Balanced Softmax).
	LogitAdjustment *float64 `json:"logit_adjustment,omitempty"`
	// ClassCounts: samples per class (> 0), the priors of LogitAdjustment and the margins of
	// "ldam" (required there). ClassPriors: instead, priors (> 0, normalised).
	ClassCounts []float64 `json:"class_counts,omitempty"`
	ClassPriors []float64 `json:"class_priors,omitempty"`
	// MaxMargin (default 0.5) and Scale (default 30): "ldam" only.
	MaxMargin *float64 `json:"max_margin,omitempty"`
	Scale     *float64 `json:"scale,omitempty"`
	// GammaPos (default 1), GammaNeg (4), Clip (0.05), Eps (1e-8): "asymmetric" only.
	GammaPos *float64 `json:"gamma_pos,omitempty"`
	GammaNeg *float64 `json:"gamma_neg,omitempty"`
	Clip     *float64 `json:"clip,omitempty"`
	Eps      *float64 `json:"eps,omitempty"`
	// "dice" and "tversky" only: Activation "softmax" (default: class-index targets) or
	// "sigmoid" (targets of the logits' shape), IncludeBackground (default true), Batch
	// (default false), SmoothNr and SmoothDr (default 1e-5); TverskyAlpha and TverskyBeta
	// (default 0.5) for "tversky".
	Activation        string   `json:"activation,omitempty"`
	IncludeBackground *bool    `json:"include_background,omitempty"`
	Batch             *bool    `json:"batch,omitempty"`
	SmoothNr          *float64 `json:"smooth_nr,omitempty"`
	SmoothDr          *float64 `json:"smooth_dr,omitempty"`
	TverskyAlpha      *float64 `json:"tversky_alpha,omitempty"`
	TverskyBeta       *float64 `json:"tversky_beta,omitempty"`
	// Extra fields, sent as they are.
	Extra map[string]interface{} `json:"-"`
}

// LossResponse is the answer of POST /loss: Loss is 0-d for "mean" and "sum" (Loss.Scalar()),
// NaN where the server answered null (see Warnings).
type LossResponse struct {
	Loss        Tensor   `json:"loss"`
	Reduction   string   `json:"reduction"`
	TotalWeight Real     `json:"total_weight"`
	Grad        *Tensor  `json:"grad,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
	RequestID   string   `json:"-"`
}
