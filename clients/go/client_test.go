package ballast

// Tests against a live ballastd. The servers come from BALLAST_URL (a plain one) and
// BALLAST_AUTH_URL with BALLAST_TOKEN (one with --auth-token), as tests/http/test_client_go.py
// sets them; those not given are started here from $BALLASTD (default ../../build/ballastd),
// which the retry tests also use for a server of their own.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	baseURL, authURL, token string
)

const u64Max = ^uint64(0)

func ballastd() string {
	if p := os.Getenv("BALLASTD"); p != "" {
		return p
	}
	return filepath.Join("..", "..", "build", "ballastd")
}

// startServer runs ballastd on a free port; stop it with the returned function.
func startServer(args ...string) (string, func(), error) {
	cmd := exec.Command(ballastd(), append([]string{"--port", "0", "--log-format", "none"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	// If this test binary dies (a panic), the server goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, " listening on "); i >= 0 && !sent {
				f := strings.Fields(line[strings.Index(line, " port ")+6:])
				port <- f[0]
				sent = true
			}
		}
		if !sent {
			close(port)
		}
	}()
	select {
	case p, ok := <-port:
		if !ok {
			cmd.Wait()
			return "", nil, fmt.Errorf("ballastd did not start")
		}
		stop := func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
		return "http://127.0.0.1:" + p, stop, nil
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return "", nil, fmt.Errorf("ballastd did not start within 10 s")
	}
}

func TestMain(m *testing.M) {
	var stops []func()
	baseURL, authURL, token = os.Getenv("BALLAST_URL"), os.Getenv("BALLAST_AUTH_URL"), os.Getenv("BALLAST_TOKEN")
	if baseURL == "" {
		u, stop, err := startServer()
		if err != nil {
			fmt.Fprintln(os.Stderr, "set BALLAST_URL, or BALLASTD to a built ballastd:", err)
			os.Exit(1)
		}
		baseURL, stops = u, append(stops, stop)
	}
	if authURL == "" {
		token = "client-go-s3cret"
		u, stop, err := startServer("--auth-token", token)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		authURL, stops = u, append(stops, stop)
	}
	code := m.Run()
	for _, s := range stops {
		s()
	}
	os.Exit(code)
}

func ctx() context.Context { return context.Background() }

func mustErr(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *ballast.Error, got %v", err)
	}
	return e
}

func TestClassWeights(t *testing.T) {
	c := New(baseURL)
	res, err := c.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{100000, 100, 10}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual([]float64(res.Weights), []float64{1, 1000, 10000}) || res.NumClasses != 3 ||
		res.Scheme != "max_over_count" || res.Normalize != "none" {
		t.Fatalf("seed example: %+v", res)
	}
	res, err = c.ClassWeights(ctx(), &WeightsRequest{Labels: []int64{0, 0, 1, 2, 2, 2}, SampleWeights: true})
	if err != nil || !reflect.DeepEqual([]float64(res.SampleWeights), []float64{1.5, 1.5, 3, 1, 1, 1}) {
		t.Fatalf("sample_weights: %+v %v", res, err)
	}
	res, err = c.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{100000, 100, 10}, Scheme: "balanced",
		Normalize: "mean"})
	if err != nil || res.Weights[2] != 2.7270248159258252 {
		t.Fatalf("balanced: %+v %v", res, err)
	}
	res, err = c.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{100000, 100, 10},
		Scheme: "effective_number", Beta: Float(0.999), Normalize: "mean"})
	if err != nil || res.Weights[0] != 0.026796681619659653 {
		t.Fatalf("effective_number: %+v %v", res, err)
	}
	// A weight beyond the double range is null in JSON: NaN here, with a warning.
	res, err = c.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{1e-320, 2}})
	if err != nil || !math.IsNaN(res.Weights[0]) || res.Weights[1] != 1 || len(res.Warnings) != 1 {
		t.Fatalf("not finite: %+v %v", res, err)
	}
}

type fixture struct {
	Name    string `json:"name"`
	Request struct {
		Weights     []float64   `json:"weights"`
		NumSamples  int64       `json:"num_samples"`
		Replacement *bool       `json:"replacement"`
		Seed        json.Number `json:"seed"`
		Epoch       json.Number `json:"epoch"`
		Generator   string      `json:"generator"`
		Stream      string      `json:"stream"`
		WorldSize   int64       `json:"world_size"`
		Rank        int64       `json:"rank"`
		Offset      int64       `json:"offset"`
		Count       *int64      `json:"count"`
	} `json:"request"`
	Expected struct {
		Indices []int64 `json:"indices"`
	} `json:"expected"`
}

func fixtures(t *testing.T) []fixture {
	f, err := os.Open(filepath.Join("..", "..", "tests", "conformance", "sample_cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.UseNumber()
	var doc struct {
		Cases []fixture `json:"cases"`
	}
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Cases
}

func TestSampleReplaysPyTorchFixtures(t *testing.T) {
	c := New(baseURL)
	big := 0
	cases := fixtures(t)
	for _, fx := range cases {
		seed, err := strconv.ParseUint(string(fx.Request.Seed), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		epoch, _ := strconv.ParseUint(string(fx.Request.Epoch), 10, 64)
		if seed > 1<<53 {
			big++
		}
		res, err := c.Sample(ctx(), &SampleRequest{Weights: fx.Request.Weights, NumSamples: fx.Request.NumSamples,
			Replacement: fx.Request.Replacement, Seed: Seed(seed), Epoch: Seed(epoch),
			Generator: fx.Request.Generator, Stream: fx.Request.Stream, WorldSize: fx.Request.WorldSize,
			Rank: fx.Request.Rank, Offset: fx.Request.Offset, Count: fx.Request.Count})
		if err != nil {
			t.Fatalf("%s: %v", fx.Name, err)
		}
		if !reflect.DeepEqual(res.Indices, fx.Expected.Indices) || uint64(res.Seed) != seed || uint64(res.Epoch) != epoch {
			t.Fatalf("%s: got %v seed %d, want %v seed %d", fx.Name, res.Indices, res.Seed, fx.Expected.Indices, seed)
		}
	}
	if len(cases) < 100 || big == 0 {
		t.Fatalf("%d fixtures, %d with seeds beyond 2^53", len(cases), big)
	}
	t.Logf("%d PyTorch fixtures replayed, %d seeds beyond 2^53", len(cases), big)
}

func TestSeedsExact(t *testing.T) {
	c := New(baseURL)
	w := []float64{0.1, 0.9, 0.4, 0.6}
	res, err := c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 8, Seed: Seed(u64Max), Generator: "torch"})
	if err != nil || uint64(res.Seed) != u64Max || !reflect.DeepEqual(res.Indices, []int64{3, 2, 3, 1, 3, 2, 3, 1}) {
		t.Fatalf("seed 2^64-1: %+v %v", res, err)
	}
	// No seed: the client draws one, which replays the draw.
	res, err = c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 30})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 30, Seed: Seed(uint64(res.Seed))})
	if err != nil || !reflect.DeepEqual(again.Indices, res.Indices) {
		t.Fatalf("replay of the drawn seed %d: %v %v", res.Seed, again, err)
	}
	// 2^64 does not fit a uint64; through Extra it reaches the server, which refuses it.
	_, err = c.Sample(ctx(), &SampleRequest{Weights: w, Extra: map[string]interface{}{"seed": json.Number("18446744073709551616")}})
	if e := mustErr(t, err); e.Status != 400 || e.Field != "seed" || e.Code != "invalid_argument" {
		t.Fatalf("seed 2^64: %+v", e)
	}
	// Answers with seeds as decimal strings (later servers) read exactly too.
	var r SampleResponse
	if err := json.Unmarshal([]byte(`{"indices":[1],"num_samples":1,"seed":"18446744073709551615","epoch":"3","generator":"fast"}`), &r); err != nil ||
		uint64(r.Seed) != u64Max || r.Epoch != 3 {
		t.Fatalf("string seed: %+v %v", r, err)
	}
	// StringSeeds: a server that takes seeds as strings answers the same draw; one that does
	// not names the field.
	want, err := c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 9, Seed: Seed(u64Max), Epoch: Seed(3), Generator: "torch"})
	if err != nil {
		t.Fatal(err)
	}
	ss := New(baseURL)
	ss.StringSeeds = true
	got, err := ss.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 9, Seed: Seed(u64Max), Epoch: Seed(3), Generator: "torch"})
	if err != nil {
		if e := mustErr(t, err); e.Status != 400 || e.Field != "seed" {
			t.Fatalf("string seeds refused, but not by name: %+v", e)
		}
		t.Log("string seeds: not served (400, field seed)")
	} else if !reflect.DeepEqual(got.Indices, want.Indices) || uint64(got.Seed) != u64Max || got.Epoch != 3 {
		t.Fatalf("string seeds: %+v, want %+v", got, want)
	} else {
		t.Log("string seeds: served, same draw")
	}
	if err := json.Unmarshal([]byte(`{"seed":-1}`), &r); err == nil {
		t.Fatal("a negative seed was read")
	}
	if b, _ := json.Marshal(&SampleRequest{Seed: Seed(u64Max)}); string(b) != `{"seed":18446744073709551615}` {
		t.Fatalf("seed marshalled as %s", b)
	}
	// The seed of a bulk (.npy) answer is exact too.
	big := make([]float64, 5000)
	for i := range big {
		big[i] = 1
	}
	res, err = c.Sample(ctx(), &SampleRequest{Weights: big, NumSamples: 3, Seed: Seed(u64Max - 1)})
	if err != nil || uint64(res.Seed) != u64Max-1 || len(res.Indices) != 3 {
		t.Fatalf("bulk seed: %+v %v", res, err)
	}
}

func TestSampleShards(t *testing.T) {
	c := New(baseURL)
	w := make([]float64, 53)
	for i := range w {
		w[i] = float64(i%7) + 0.5
	}
	for _, ws := range []int64{2, 3} {
		for _, k := range []int64{53, 20} {
			full, err := c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: k, Seed: Seed(99), Epoch: Seed(2), Generator: "torch"})
			if err != nil {
				t.Fatal(err)
			}
			total := (k + ws - 1) / ws * ws
			for r := int64(0); r < ws; r++ {
				res, err := c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: k, Seed: Seed(99), Epoch: Seed(2),
					Generator: "torch", WorldSize: ws, Rank: r})
				if err != nil {
					t.Fatal(err)
				}
				var want []int64
				for i := r; i < total; i += ws {
					want = append(want, full.Indices[i%k])
				}
				if !reflect.DeepEqual(res.Indices, want) || res.Rank != r || res.WorldSize != ws || res.TotalSize != total {
					t.Fatalf("world %d rank %d k %d: got %+v, want %v", ws, r, k, res, want)
				}
			}
		}
	}
}

func TestLoss(t *testing.T) {
	c := New(baseURL)
	logits := NewFloat64([]float64{1, 2, 1, 3, 1, 3}, 3, 2)
	targets := NewInt64([]int64{0, 1, 1})
	res, err := c.Loss(ctx(), &LossRequest{Logits: logits, Targets: targets, Weights: []float64{1, 2}, Reduction: "none"})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1.3132616875182228, 0.253856022085945, 0.253856022085945}
	if !reflect.DeepEqual(res.Loss.Float64, want) || !reflect.DeepEqual(res.Loss.Shape, []int{3}) || res.TotalWeight != 5 {
		t.Fatalf("README loss: %+v", res)
	}
	mean, err := c.Loss(ctx(), &LossRequest{Logits: logits, Targets: targets})
	if err != nil || math.Abs(mean.Loss.Scalar()-0.522372569868056) > 1e-15 || len(mean.Loss.Shape) != 0 || mean.Reduction != "mean" {
		t.Fatalf("mean: %+v %v", mean, err)
	}
	g, err := c.Loss(ctx(), &LossRequest{Logits: logits, Targets: targets, Reduction: "none", Grad: true})
	if err != nil || g.Grad == nil || !reflect.DeepEqual(g.Grad.Shape, []int{3, 2}) ||
		g.Grad.Float64[0] != -0.7310585786300048 || g.Grad.Float64[1] != 0.7310585786300049 {
		t.Fatalf("grad: %+v %v", g, err)
	}
	nll, err := c.Loss(ctx(), &LossRequest{Loss: "nll", LogProbs: NewFloat64([]float64{-0.1, -2.4, -3.0, -0.05}, 2, 2),
		Targets: NewInt64([]int64{0, 1}), Weights: []float64{1, 2}, Reduction: "sum"})
	if err != nil || nll.Loss.Scalar() != 0.2 || nll.TotalWeight != 3 {
		t.Fatalf("nll: %+v %v", nll, err)
	}
	// The mean of nothing: null in JSON, NaN here, with a warning.
	none, err := c.Loss(ctx(), &LossRequest{Logits: NewFloat64([]float64{1, 2, 1, 3}, 2, 2),
		Targets: NewInt64([]int64{-100, -100})})
	if err != nil || !math.IsNaN(none.Loss.Scalar()) || len(none.Warnings) != 1 {
		t.Fatalf("all ignored: %+v %v", none, err)
	}
	// Focal with gamma 0 is cross entropy; ignore_index 0 is sent (a pointer).
	f0, err := c.Loss(ctx(), &LossRequest{Loss: "focal", Gamma: Float(0), Logits: logits, Targets: targets})
	if err != nil || math.Abs(f0.Loss.Scalar()-mean.Loss.Scalar()) > 1e-15 {
		t.Fatalf("focal gamma 0: %+v %v", f0, err)
	}
	ig, err := c.Loss(ctx(), &LossRequest{Logits: logits, Targets: targets, IgnoreIndex: Int(0), Reduction: "sum"})
	if err != nil || math.Abs(ig.Loss.Scalar()-2*0.12692801104297263) > 1e-15 || ig.TotalWeight != 2 {
		t.Fatalf("ignore_index 0: %+v %v", ig, err)
	}
}

func bitsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// A small deterministic generator for test data.
type xorshift uint64

func (x *xorshift) next() float64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return float64(uint64(*x)>>11) / (1 << 53)
}

func TestBulkEqualsJSON(t *testing.T) {
	js := New(baseURL)
	js.BulkThreshold = -1
	npy := New(baseURL)
	npy.BulkThreshold = 0
	r := xorshift(88172645463325252)
	w := make([]float64, 50000)
	for i := range w {
		w[i] = r.next() * float64(1+i%10)
	}
	a, err := js.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 20000, Seed: Seed(7)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := npy.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 20000, Seed: Seed(7)})
	if err != nil || !reflect.DeepEqual(a.Indices, b.Indices) || a.Seed != b.Seed || b.NumSamples != 20000 {
		t.Fatalf("sample: JSON and .npy differ (%v)", err)
	}
	lb, err := npy.Sample(ctx(), &SampleRequest{Labels: []int64{0, 1, 1, 2, 2, 2}, ClassWeights: []float64{1, 2, 3}, NumSamples: 9, Seed: Seed(3)})
	la, err2 := js.Sample(ctx(), &SampleRequest{Labels: []int64{0, 1, 1, 2, 2, 2}, ClassWeights: []float64{1, 2, 3}, NumSamples: 9, Seed: Seed(3)})
	if err != nil || err2 != nil || !reflect.DeepEqual(la.Indices, lb.Indices) {
		t.Fatalf("labels: %v %v %v %v", la, lb, err, err2)
	}
	const N, C = 400, 6
	logits := make([]float64, N*C)
	logits32 := make([]float32, N*C)
	for i := range logits {
		logits[i] = (r.next() - 0.5) * 20
		logits32[i] = float32(logits[i])
	}
	idx := make([]int64, N)
	idxF := make([]float64, N)
	for i := range idx {
		idx[i] = int64(r.next() * C)
		idxF[i] = float64(idx[i])
	}
	weights := []float64{1, 2, 3, 4, 5, 6}
	for _, in := range []*Tensor{NewFloat64(logits, N, C), NewFloat32(logits32, N, C)} {
		for _, tg := range []*Tensor{NewInt64(idx), NewFloat64(idxF)} {
			req := &LossRequest{Logits: in, Targets: tg, Weights: weights, Reduction: "none", Grad: true}
			x, err := js.Loss(ctx(), req)
			if err != nil {
				t.Fatal(err)
			}
			y, err := npy.Loss(ctx(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !bitsEqual(x.Loss.Float64, y.Loss.Float64) || !bitsEqual(x.Grad.Float64, y.Grad.Float64) ||
				!reflect.DeepEqual(y.Grad.Shape, []int{N, C}) || x.TotalWeight != y.TotalWeight {
				t.Fatalf("loss (%v input, %v targets): JSON and .npy differ", in.Float32 != nil, tg.Float64 != nil)
			}
		}
	}
	// Probability targets (the input's shape, reals) stay reals.
	probs := make([]float64, 2*3)
	for i := range probs {
		probs[i] = 1.0 / 3
	}
	p1, err := js.Loss(ctx(), &LossRequest{Logits: NewFloat64(logits[:6], 2, 3), Targets: NewFloat64(probs, 2, 3)})
	p2, err2 := npy.Loss(ctx(), &LossRequest{Logits: NewFloat64(logits[:6], 2, 3), Targets: NewFloat64(probs, 2, 3)})
	if err != nil || err2 != nil || p1.Loss.Scalar() != p2.Loss.Scalar() || p1.TotalWeight != 2 {
		t.Fatalf("probabilities: %+v %+v %v %v", p1, p2, err, err2)
	}
	// /weights through .npy, sample_weights back as .npy
	wa, err := npy.ClassWeights(ctx(), &WeightsRequest{Labels: []int64{0, 0, 1, 2, 2, 2}, SampleWeights: true})
	if err != nil || !reflect.DeepEqual([]float64(wa.SampleWeights), []float64{1.5, 1.5, 3, 1, 1, 1}) ||
		!reflect.DeepEqual([]float64(wa.Counts), []float64{2, 1, 3}) {
		t.Fatalf("weights through .npy: %+v %v", wa, err)
	}
}

func TestErrors(t *testing.T) {
	c := New(baseURL)
	_, err := c.ClassWeights(WithRequestID(ctx(), "go-err-1"), &WeightsRequest{Counts: []float64{100000, -1, 10}})
	e := mustErr(t, err)
	if e.Status != 400 || e.Code != "invalid_argument" || e.Field != "counts[1]" || e.RequestID != "go-err-1" ||
		!strings.Contains(e.Message, "counts[1] = -1") || !strings.Contains(e.Error(), "400 invalid_argument") {
		t.Fatalf("error fields: %+v", e)
	}
	_, err = c.Loss(ctx(), &LossRequest{Logits: NewFloat64([]float64{1, 2}, 1, 2), Targets: NewInt64([]int64{0}),
		Extra: map[string]interface{}{"reducton": "sum"}})
	if e := mustErr(t, err); e.Field != "reducton" {
		t.Fatalf("typo: %+v", e)
	}
	_, err = c.Loss(ctx(), &LossRequest{Logits: NewFloat64([]float64{1, 2}, 1, 2), Targets: NewInt64([]int64{5})})
	if e := mustErr(t, err); e.Field != "targets[0]" || e.Status != 400 {
		t.Fatalf("target out of bounds: %+v", e)
	}
	// Refused before sending: a NaN in JSON, a shape that does not fit.
	_, err = c.Sample(ctx(), &SampleRequest{Weights: []float64{1, math.NaN()}})
	if e := mustErr(t, err); e.Status != 0 || e.Code != "invalid_argument" {
		t.Fatalf("NaN: %+v", e)
	}
	_, err = c.Loss(ctx(), &LossRequest{Logits: NewFloat64([]float64{1, 2, 3}, 2, 2), Targets: NewInt64([]int64{0, 1})})
	if e := mustErr(t, err); e.Code != "invalid_argument" || e.Field != "logits" {
		t.Fatalf("bad shape: %+v", e)
	}
	// Authentication.
	for _, tok := range []string{"", "wrong"} {
		a := New(authURL)
		a.Token = tok
		_, err = a.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{1, 2}})
		if e := mustErr(t, err); e.Status != 401 || e.Code != "unauthorized" {
			t.Fatalf("token %q: %+v", tok, e)
		}
	}
	a := New(authURL)
	a.Token = token
	if res, err := a.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{1, 2}}); err != nil || res.Weights[0] != 2 {
		t.Fatalf("with the token: %v", err)
	}
	// Nothing listens: a connection error after the retries.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	d := New(dead)
	d.Backoff = time.Millisecond
	d.Retries = 2
	tries := 0
	d.OnRetry = func(int, int, time.Duration, error) { tries++ }
	_, err = d.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{1}})
	if e := mustErr(t, err); e.Status != 0 || e.Code != "connection_error" || e.Attempts != 3 || tries != 2 || e.Unwrap() == nil {
		t.Fatalf("connection refused: %+v (%d retries)", e, tries)
	}
	if err := c.Healthz(ctx()); err != nil {
		t.Fatal(err)
	}
}

func TestRetry503HonoursRetryAfter(t *testing.T) {
	busy, stop, err := startServer("--max-connections", "1")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	hold := func(d time.Duration) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(busy, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		time.AfterFunc(d, func() { conn.Close() })
	}
	hold(400 * time.Millisecond)
	c := New(busy)
	var seen []int
	var waits []time.Duration
	c.OnRetry = func(_ int, status int, wait time.Duration, _ error) {
		seen, waits = append(seen, status), append(waits, wait)
	}
	t0 := time.Now()
	res, err := c.Sample(ctx(), &SampleRequest{Weights: []float64{1, 2, 3}, NumSamples: 4, Seed: Seed(9)})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := New(baseURL).Sample(ctx(), &SampleRequest{Weights: []float64{1, 2, 3}, NumSamples: 4, Seed: Seed(9)})
	if !reflect.DeepEqual(res.Indices, ref.Indices) || len(seen) == 0 || seen[0] != 503 || waits[0] < time.Second ||
		time.Since(t0) < time.Second {
		t.Fatalf("retried answer %v (want %v), retries %v %v after %v", res.Indices, ref.Indices, seen, waits, time.Since(t0))
	}
	c.HTTPClient.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	// No retries: the 503 itself, with its Retry-After.
	hold(1500 * time.Millisecond)
	n := New(busy)
	n.Retries = 0
	_, err = n.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{1}})
	if e := mustErr(t, err); e.Status != 503 || e.Code != "overloaded" || e.RetryAfter != time.Second || e.Attempts != 1 {
		t.Fatalf("503: %+v", e)
	}
	// A context that ends during the pause ends the call.
	cx, cancel := context.WithTimeout(ctx(), 300*time.Millisecond)
	defer cancel()
	t0 = time.Now()
	_, err = New(busy).ClassWeights(cx, &WeightsRequest{Counts: []float64{1}})
	if e := mustErr(t, err); e.Code != "timeout" || !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > time.Second {
		t.Fatalf("context: %+v after %v", e, time.Since(t0))
	}
	// The server draws the seed (ClientSeeds false): never retried.
	s := New(busy)
	s.ClientSeeds = false
	retried := false
	s.OnRetry = func(int, int, time.Duration, error) { retried = true }
	_, err = s.Sample(ctx(), &SampleRequest{Weights: []float64{1, 2, 3}})
	if e := mustErr(t, err); e.Status != 503 || retried {
		t.Fatalf("server-seeded draw: %+v retried %v", e, retried)
	}
	time.Sleep(1600 * time.Millisecond)
	// The client draws the seed: retried, and the answer replays from its seed.
	hold(400 * time.Millisecond)
	cs := New(busy)
	res, err = cs.Sample(ctx(), &SampleRequest{Weights: []float64{1, 2, 3}, NumSamples: 6})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ = New(baseURL).Sample(ctx(), &SampleRequest{Weights: []float64{1, 2, 3}, NumSamples: 6, Seed: Seed(uint64(res.Seed))})
	if !reflect.DeepEqual(res.Indices, ref.Indices) {
		t.Fatalf("client-seeded retry: %v, replay %v", res.Indices, ref.Indices)
	}
	cs.HTTPClient.CloseIdleConnections()
}

func TestKeepAliveAndConcurrency(t *testing.T) {
	c := New(baseURL)
	reused := 0
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused++
		}
	}}
	cx := httptrace.WithClientTrace(ctx(), trace)
	for i := 0; i < 20; i++ {
		if _, err := c.ClassWeights(cx, &WeightsRequest{Counts: []float64{1, 2}}); err != nil {
			t.Fatal(err)
		}
	}
	if reused != 19 {
		t.Fatalf("%d of 20 calls reused the connection", reused)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 10; k++ {
				seed := uint64(g*100 + k)
				res, err := c.Sample(ctx(), &SampleRequest{Weights: []float64{1, 2, 3}, Seed: Seed(seed)})
				if err == nil && uint64(res.Seed) != seed {
					err = fmt.Errorf("seed %d came back as %d", seed, res.Seed)
				}
				if err != nil {
					errs <- err
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestStaleKeepAliveConnection(t *testing.T) {
	s, stop, err := startServer("--header-timeout", "1")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c := New(s)
	c.Retries = 0 // the stale connection is replaced without a retry of ours
	if _, err := c.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{1, 2}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1600 * time.Millisecond) // the server closes the idle connection
	if res, err := c.ClassWeights(ctx(), &WeightsRequest{Counts: []float64{1, 2}}); err != nil || res.Weights[0] != 2 {
		t.Fatalf("after the idle close: %v", err)
	}
}

// The passes of PyTorch 1.13's WeightedRandomSampler([0.1, 0.9, 0.4, 0.6, 0.3, 0.7], k,
// replacement, generator=torch.Generator().manual_seed(42)): 8 with replacement, 5 without.
var wrsPasses = map[bool][][]int64{
	true:  {{1, 1, 1, 1, 3, 3, 5, 5}, {1, 1, 1, 2, 5, 5, 2, 3}, {1, 4, 3, 2, 1, 4, 1, 1}},
	false: {{1, 3, 2, 0, 5}, {2, 3, 4, 5, 1}, {4, 2, 3, 5, 1}},
}

func TestSampleContinuedStreamAndWindows(t *testing.T) {
	c := New(baseURL)
	w := []float64{0.1, 0.9, 0.4, 0.6, 0.3, 0.7}
	for _, rep := range []bool{true, false} {
		k := int64(len(wrsPasses[rep][0]))
		for epoch, want := range wrsPasses[rep] {
			req := SampleRequest{Weights: w, NumSamples: k, Replacement: Bool(rep), Seed: Seed(42),
				Epoch: Seed(uint64(epoch)), Generator: "torch", Stream: "continued"}
			full, err := c.Sample(ctx(), &req)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(full.Indices, want) {
				t.Fatalf("continued, replacement %v, epoch %d: %v, PyTorch %v", rep, epoch, full.Indices, want)
			}
			// Every window is the slice of the whole answer.
			for off := int64(0); off < k; off++ {
				for cnt := int64(1); off+cnt <= k; cnt += 2 {
					r := req
					r.Offset, r.Count = off, Int(cnt)
					part, err := c.Sample(ctx(), &r)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(part.Indices, want[off:off+cnt]) {
						t.Fatalf("epoch %d window (%d, %d): %v, want %v", epoch, off, cnt, part.Indices, want[off:off+cnt])
					}
					if part.Offset != off || part.Count != cnt || part.NextOffset != off+cnt || part.FullCount != k ||
						part.Stream != "continued" {
						t.Fatalf("epoch %d window (%d, %d): fields %+v", epoch, off, cnt, part)
					}
				}
			}
		}
	}
	// The default stream is per_epoch: epoch e draws with a generator seeded with seed + e,
	// so (seed 41, epoch 1) is the first pass of seed 42, and (seed 42, epoch 1) is not its
	// second.
	per, err := c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 8, Seed: Seed(41), Epoch: Seed(1), Generator: "torch"})
	if err != nil {
		t.Fatal(err)
	}
	next, err := c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 8, Seed: Seed(42), Epoch: Seed(1),
		Generator: "torch", Stream: "per_epoch"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(per.Indices, wrsPasses[true][0]) || reflect.DeepEqual(next.Indices, wrsPasses[true][1]) {
		t.Fatalf("per_epoch: seed 41 epoch 1 %v, seed 42 epoch 1 %v", per.Indices, next.Indices)
	}
	// A window of a rank's share.
	shard, err := c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 8, Seed: Seed(42), Epoch: Seed(2),
		Generator: "torch", Stream: "continued", WorldSize: 3, Rank: 1, Offset: 1, Count: Int(2)})
	if err != nil {
		t.Fatal(err)
	}
	p := wrsPasses[true][2] // padded to 9: rank 1 gets elements 1, 4, 7
	if want := []int64{p[4], p[7]}; !reflect.DeepEqual(shard.Indices, want) {
		t.Fatalf("window of rank 1 of 3: %v, want %v", shard.Indices, want)
	}
	// The same window through .npy (a client that always sends arrays as .npy parts).
	bulk := New(baseURL)
	bulk.BulkThreshold = 0
	big := make([]float64, 5000)
	for i := range big {
		big[i] = float64(i%13) + 0.25
	}
	whole, err := c.Sample(ctx(), &SampleRequest{Weights: big, NumSamples: 3000, Seed: Seed(u64Max), Epoch: Seed(2),
		Generator: "torch", Stream: "continued"})
	if err != nil {
		t.Fatal(err)
	}
	part, err := bulk.Sample(ctx(), &SampleRequest{Weights: big, NumSamples: 3000, Seed: Seed(u64Max), Epoch: Seed(2),
		Generator: "torch", Stream: "continued", Offset: 2500, Count: Int(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(part.Indices, whole.Indices[2500:]) || part.Count != 500 || part.NextOffset != 3000 ||
		part.FullCount != 3000 {
		t.Fatalf(".npy window: %d indices, fields %+v", len(part.Indices), part.FullCount)
	}
	// FastVersion 1 is ballast 0.1's fast stream, 2 the default.
	var fast [3][]int64
	for v := int64(0); v <= 2; v++ {
		res, err := c.Sample(ctx(), &SampleRequest{Weights: big, NumSamples: 20, Seed: Seed(9), FastVersion: v})
		if err != nil {
			t.Fatal(err)
		}
		if res.FastVersion != v {
			t.Fatalf("FastVersion %d answered %d", v, res.FastVersion)
		}
		fast[v] = res.Indices
	}
	if !reflect.DeepEqual(fast[0], fast[2]) || reflect.DeepEqual(fast[1], fast[2]) {
		t.Fatalf("fast versions: default %v, 1 %v, 2 %v", fast[0], fast[1], fast[2])
	}
	// A window beyond the answer, or a continued fast stream, is refused, naming the field.
	_, err = c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 8, Seed: Seed(1), Offset: 9, Count: Int(1)})
	if e := mustErr(t, err); e.Status != 400 || e.Field != "offset" {
		t.Fatalf("offset beyond the answer: %+v", e)
	}
	_, err = c.Sample(ctx(), &SampleRequest{Weights: w, NumSamples: 8, Seed: Seed(1), Generator: "fast", Stream: "continued"})
	if e := mustErr(t, err); e.Status != 400 || e.Field != "stream" {
		t.Fatalf("continued fast stream: %+v", e)
	}
}

func TestSampleUndersampleOversample(t *testing.T) {
	c := New(baseURL)
	res, err := c.Sample(ctx(), &SampleRequest{Labels: []int64{0, 0, 0, 0, 1, 1, 2, 2, 2}, Strategy: "undersample", Seed: Seed(7)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Indices, []int64{1, 3, 4, 5, 7, 6}) || res.Strategy != "undersample" || res.NumSamples != 6 {
		t.Fatalf("README's example: %+v", res)
	}
	var labels []int64
	for class, n := range []int{50, 7, 20, 3} {
		for i := 0; i < n; i++ {
			labels = append(labels, int64(class))
		}
	}
	two := append(append([]int64{}, labels[:40]...), labels[50:57]...) // 40 of class 0, 7 of class 1
	// The class counts each target asks for (imbalanced-learn's definitions).
	cases := []struct {
		strategy string
		labels   []int64
		target   interface{}
		counts   []int64
	}{
		{"undersample", labels, nil, []int64{3, 3, 3, 3}},
		{"undersample", labels, "majority", []int64{3, 7, 20, 3}},
		{"undersample", labels, map[string]int64{"0": 10, "2": 5}, []int64{10, 7, 5, 3}},
		{"undersample", labels, []int64{20, 7, 3, 3}, []int64{20, 7, 3, 3}},
		{"undersample", two, 0.5, []int64{14, 7}},
		{"oversample", labels, nil, []int64{50, 50, 50, 50}},
		{"oversample", labels, "minority", []int64{50, 7, 20, 50}},
		{"oversample", labels, map[string]int64{"3": 30}, []int64{50, 7, 20, 30}},
		{"oversample", two, 0.75, []int64{40, 30}},
	}
	for _, tc := range cases {
		res, err := c.Sample(ctx(), &SampleRequest{Labels: tc.labels, Strategy: tc.strategy, SamplingStrategy: tc.target,
			Seed: Seed(123)})
		if err != nil {
			t.Fatalf("%s %v: %v", tc.strategy, tc.target, err)
		}
		counts := make([]int64, len(tc.counts))
		seen := map[int64]bool{}
		for i, idx := range res.Indices {
			counts[tc.labels[idx]]++
			if tc.strategy == "undersample" && seen[idx] {
				t.Fatalf("%s %v: item %d twice", tc.strategy, tc.target, idx)
			}
			if tc.strategy == "oversample" && i < len(tc.labels) && idx != int64(i) {
				t.Fatalf("%s %v: index %d is %d, not every index once first", tc.strategy, tc.target, i, idx)
			}
			seen[idx] = true
		}
		if !reflect.DeepEqual(counts, tc.counts) || res.NumSamples != int64(len(res.Indices)) {
			t.Fatalf("%s %v: class counts %v, want %v", tc.strategy, tc.target, counts, tc.counts)
		}
	}
	// A window of the list is its slice.
	full, err := c.Sample(ctx(), &SampleRequest{Labels: labels, Strategy: "oversample", Seed: Seed(5)})
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.Sample(ctx(), &SampleRequest{Labels: labels, Strategy: "oversample", Seed: Seed(5), Offset: 30, Count: Int(40)})
	if err != nil || !reflect.DeepEqual(part.Indices, full.Indices[30:70]) {
		t.Fatalf("window: %v %v", part, err)
	}
	_, err = c.Sample(ctx(), &SampleRequest{Labels: labels, Strategy: "undersample", SamplingStrategy: "minority"})
	if e := mustErr(t, err); e.Status != 400 || e.Field != "sampling_strategy" {
		t.Fatalf("undersample minority: %+v", e)
	}
}
