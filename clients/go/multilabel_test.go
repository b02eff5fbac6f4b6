package ballast

// The multi-label /weights fields and the long-tail and segmentation /loss fields (README
// "POST /weights", "POST /loss"; api/openapi.yaml), against the live ballastd of TestMain.

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// multiHot is a deterministic N x C 0/1 matrix (every class has positives and negatives).
func multiHot(n, c int, seed uint64) []int64 {
	x := xorshift(seed)
	m := make([]int64, n*c)
	for i := range m {
		if x.next() < 0.3 {
			m[i] = 1
		}
	}
	for j := 0; j < c; j++ {
		m[j], m[c+j] = 1, 0 // sample 0 holds every class, sample 1 none
	}
	return m
}

func TestMultiLabelWeights(t *testing.T) {
	// The README's example: 4 samples, 3 classes.
	matrix := NewInt64([]int64{1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0}, 4, 3)
	sets := LabelSets{{0, 2}, {2}, {0, 1, 2}, nil}
	for _, bulk := range []int{-1, 0} {
		c := New(baseURL)
		c.BulkThreshold = bulk
		for _, req := range []*WeightsRequest{{LabelMatrix: matrix, SampleWeights: true},
			{LabelSets: sets, SampleWeights: true}} {
			res, err := c.ClassWeights(ctx(), req)
			if err != nil {
				t.Fatalf("bulk %d: %v", bulk, err)
			}
			if !reflect.DeepEqual([]float64(res.PosWeight), []float64{1, 3, 1.0 / 3}) ||
				!reflect.DeepEqual([]float64(res.Positives), []float64{2, 1, 3}) ||
				!reflect.DeepEqual([]float64(res.Weights), []float64{1.5, 3, 1}) ||
				!reflect.DeepEqual([]float64(res.SampleWeights), []float64{1.5, 1, 3, 1}) ||
				res.NumSamples != 4 || res.NumClasses != 3 {
				t.Fatalf("bulk %d, %+v: %+v", bulk, req, res)
			}
		}
	}
	c := New(baseURL)
	res, err := c.ClassWeights(ctx(), &WeightsRequest{LabelSets: sets, SampleWeights: true, SampleWeightReduce: "mean"})
	if err != nil || !reflect.DeepEqual([]float64(res.SampleWeights), []float64{1.25, 1, 5.5 / 3, 1}) {
		t.Fatalf("sample_weight_reduce mean: %+v %v", res, err)
	}
	// pos_weight of a random matrix: (N - n_pos) / n_pos, as computed here, JSON and .npy.
	const n, k = 3000, 7
	m := multiHot(n, k, 17)
	want := make([]float64, k)
	for j := 0; j < k; j++ {
		pos := 0.0
		for i := 0; i < n; i++ {
			pos += float64(m[i*k+j])
		}
		want[j] = (n - pos) / pos
	}
	for _, bulk := range []int{-1, 0} {
		c.BulkThreshold = bulk
		res, err := c.ClassWeights(ctx(), &WeightsRequest{LabelMatrix: NewInt64(m, n, k), Scheme: "balanced"})
		if err != nil || !reflect.DeepEqual([]float64(res.PosWeight), want) || res.NumSamples != n {
			t.Fatalf("pos_weight (bulk %d): %v want %v (%v)", bulk, res.PosWeight, want, err)
		}
	}
	// power and repeat_factor
	c.BulkThreshold = 4096
	res, err = c.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{1, 4, 100}, Scheme: "power", Exponent: Float(0.5)})
	if err != nil || !reflect.DeepEqual([]float64(res.Weights), []float64{1, 0.5, 0.1}) {
		t.Fatalf("power: %+v %v", res, err)
	}
	res, err = c.ClassWeights(ctx(), &WeightsRequest{LabelSets: sets, Scheme: "repeat_factor", Threshold: Float(0.5)})
	if err != nil || !reflect.DeepEqual([]float64(res.RepeatFactors), []float64{1, 1, math.Sqrt(2), 1}) ||
		!reflect.DeepEqual([]float64(res.Weights), []float64{1, math.Sqrt(2), 1}) {
		t.Fatalf("repeat_factor: %+v %v", res, err)
	}
	// Client-side and server-side refusals name the field.
	_, err = c.ClassWeights(ctx(), &WeightsRequest{Labels: []int64{0, 1}, LabelMatrix: matrix})
	if e := mustErr(t, err); e.Field != "labels" || e.Status != 0 {
		t.Fatalf("both labels: %+v", e)
	}
	_, err = c.ClassWeights(ctx(), &WeightsRequest{LabelMatrix: NewInt64([]int64{0, 1, 1})})
	if e := mustErr(t, err); e.Field != "labels" || !strings.Contains(e.Message, "N x C") {
		t.Fatalf("1-D matrix: %+v", e)
	}
	_, err = c.ClassWeights(ctx(), &WeightsRequest{LabelSets: LabelSets{{0}, {1}}, Threshold: Float(0.1)})
	if e := mustErr(t, err); e.Status != 400 || e.Field != "threshold" {
		t.Fatalf("threshold without repeat_factor: %+v", e)
	}
	// LabelSets writes [] for a sample without classes, never null.
	b, _ := json.Marshal(LabelSets{{1, 2}, nil, {}})
	if string(b) != "[[1,2],[],[]]" {
		t.Fatalf("LabelSets JSON: %s", b)
	}
}

type lossFixture struct {
	Name     string          `json:"name"`
	Request  json.RawMessage `json:"request"`
	Expected struct {
		Loss        Tensor   `json:"loss"` // a value: null reads as NaN
		TotalWeight *float64 `json:"total_weight"`
		Grad        *Tensor  `json:"grad"`
		Error       any      `json:"error"`
	} `json:"expected"`
}

func closeTo(got, want, rel, abs float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	if math.IsInf(want, 0) || math.IsInf(got, 0) {
		return got == want
	}
	return math.Abs(got-want) <= math.Max(rel*math.Abs(want), abs)
}

func tensorsClose(t *testing.T, what string, got, want *Tensor, rel, abs float64) {
	t.Helper()
	if got == nil || !reflect.DeepEqual(got.Dims(), want.Dims()) {
		t.Fatalf("%s: shape %v, want %v", what, got, want.Dims())
	}
	for i := 0; i < want.Len(); i++ {
		if !closeTo(got.At(i), want.At(i), rel, abs) {
			t.Fatalf("%s[%d]: %v, want %v", what, i, got.At(i), want.At(i))
		}
	}
}

// TestNewLossesReplayFixtures sends every fixture case of the new losses and fields
// (tests/conformance/loss_cases.json) decoded into a typed LossRequest, with unknown fields
// refused (so every field of the fixtures is a typed field here), as JSON and as .npy.
func TestNewLossesReplayFixtures(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "conformance", "loss_cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tolerance struct{ Rel, Abs float64 } `json:"tolerance"`
		Cases     []lossFixture              `json:"cases"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	newFields := []string{"logit_adjustment", "class_counts", "class_priors", "max_margin", "scale", "gamma_pos",
		"gamma_neg", "clip", "eps", "activation", "include_background", "batch", "smooth_nr", "smooth_dr",
		"tversky_alpha", "tversky_beta", "sum_over_batch_size", "\"ldam\"", "\"asymmetric\"", "\"dice\"", "\"tversky\""}
	seen := map[string]int{}
	clients := []*Client{New(baseURL), New(baseURL)} // JSON, .npy (one keep-alive pool each)
	clients[0].BulkThreshold, clients[1].BulkThreshold = -1, 0
	for _, fx := range doc.Cases {
		raw := string(fx.Request)
		relevant := false
		for _, f := range newFields {
			if strings.Contains(raw, f) {
				relevant = true
				seen[f]++
			}
		}
		if !relevant || fx.Expected.Error != nil {
			continue
		}
		var req LossRequest
		dec := json.NewDecoder(bytes.NewReader(fx.Request))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			t.Fatalf("%s: the request does not decode into LossRequest: %v", fx.Name, err)
		}
		for _, bulk := range []int{-1, 0} {
			c := clients[bulk+1]
			res, err := c.Loss(ctx(), &req)
			if err != nil {
				t.Fatalf("%s (bulk %d): %v", fx.Name, bulk, err)
			}
			what := fx.Name
			if bulk == 0 {
				what += " (.npy)"
			}
			tensorsClose(t, what+" loss", &res.Loss, &fx.Expected.Loss, doc.Tolerance.Rel, doc.Tolerance.Abs)
			if fx.Expected.TotalWeight != nil &&
				!closeTo(float64(res.TotalWeight), *fx.Expected.TotalWeight, doc.Tolerance.Rel, doc.Tolerance.Abs) {
				t.Fatalf("%s total_weight: %v, want %v", what, res.TotalWeight, *fx.Expected.TotalWeight)
			}
			if fx.Expected.Grad != nil {
				tensorsClose(t, what+" grad", res.Grad, fx.Expected.Grad, doc.Tolerance.Rel, doc.Tolerance.Abs)
			}
		}
	}
	for _, f := range newFields {
		if seen[f] == 0 {
			t.Errorf("no fixture case uses %s", f)
		}
	}
}

// TestNewLossFieldsByHand: a few typed requests with values computed here.
func TestNewLossFieldsByHand(t *testing.T) {
	c := New(baseURL)
	logits := NewFloat64([]float64{1, 2, 3, 0, 1, 0}, 2, 3)
	targets := NewInt64([]int64{0, 2})
	counts := []float64{100, 10, 1}
	// logit adjustment with tau 1 (Balanced Softmax): cross entropy of z + log(prior).
	res, err := c.Loss(ctx(), &LossRequest{Logits: logits, Targets: targets, LogitAdjustment: Float(1),
		ClassCounts: counts, Reduction: "sum"})
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for i, y := range targets.Int64 {
		z := make([]float64, 3)
		lse := 0.0
		for j := range z {
			z[j] = logits.Float64[i*3+j] + math.Log(counts[j]/111)
			lse += math.Exp(z[j])
		}
		want += math.Log(lse) - z[y]
	}
	if !closeTo(res.Loss.Scalar(), want, 1e-12, 1e-15) {
		t.Fatalf("logit_adjustment: %v want %v", res.Loss.Scalar(), want)
	}
	// ldam: cross entropy of s(z - Δ_y e_y), Δ ∝ n^-1/4, max Δ = MaxMargin; also sum_over_batch_size.
	res, err = c.Loss(ctx(), &LossRequest{Loss: "ldam", Logits: logits, Targets: targets, ClassCounts: counts,
		MaxMargin: Float(0.4), Scale: Float(10), Reduction: "sum_over_batch_size"})
	if err != nil {
		t.Fatal(err)
	}
	want = 0.0
	for i, y := range targets.Int64 {
		z := make([]float64, 3)
		lse := 0.0
		for j := range z {
			z[j] = logits.Float64[i*3+j]
			if int64(j) == y {
				z[j] -= 0.4 * math.Pow(counts[j], -0.25) / math.Pow(1, -0.25)
			}
			z[j] *= 10
			lse += math.Exp(z[j])
		}
		want += math.Log(lse) - z[y]
	}
	if !closeTo(res.Loss.Scalar(), want/2, 1e-12, 1e-15) || res.Reduction != "sum_over_batch_size" {
		t.Fatalf("ldam: %v want %v", res.Loss.Scalar(), want/2)
	}
	// dice with include_background false, explicitly sent (a pointer), and batch false.
	seg := NewFloat64([]float64{2, 0, 1, 0, 0, 3, 1, 1}, 1, 2, 4)
	res, err = c.Loss(ctx(), &LossRequest{Loss: "dice", Logits: seg, Targets: NewInt64([]int64{0, 1, 1, 0}, 1, 4),
		IncludeBackground: Bool(false), Batch: Bool(false), SmoothNr: Float(0), SmoothDr: Float(0), Reduction: "none"})
	if err != nil {
		t.Fatal(err)
	}
	inter, psum := 0.0, 0.0
	for d, y := range []int64{0, 1, 1, 0} {
		p1 := 1 / (1 + math.Exp(seg.Float64[d]-seg.Float64[4+d]))
		psum += p1
		if y == 1 {
			inter += p1
		}
	}
	if !reflect.DeepEqual(res.Loss.Dims(), []int{1, 1}) || !closeTo(res.Loss.At(0), 1-2*inter/(psum+2), 1e-12, 1e-15) {
		t.Fatalf("dice: %+v want %v", res.Loss, 1-2*inter/(psum+2))
	}
	// an option of another loss is refused, naming it
	_, err = c.Loss(ctx(), &LossRequest{Logits: logits, Targets: targets, GammaPos: Float(1)})
	if e := mustErr(t, err); e.Status != 400 || e.Field != "gamma_pos" {
		t.Fatalf("gamma_pos with cross_entropy: %+v", e)
	}
}
