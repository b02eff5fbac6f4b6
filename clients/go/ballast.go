// Package ballast is a client for ballastd: class weights, weighted sampling (bit for bit
// torch.multinomial with Generator "torch") and PyTorch-exact losses over HTTP.
//
//	c := ballast.New("http://127.0.0.1:8080")
//	res, err := c.Sample(ctx, &ballast.SampleRequest{
//		Weights: []float64{0.1, 0.9, 0.4, 0.6}, NumSamples: 8,
//		Seed: ballast.Seed(42), Generator: "torch",
//	})
//	// res.Indices: [1 1 1 1 2 1 3 3], as PyTorch draws them
//
// Standard library only. Requests and answers are typed structs whose JSON names are the
// API's (api/openapi.yaml); zero values are left out, so the server's defaults apply. Seeds
// are uint64 (U64), exact over [0, 2^64). Arrays of at least BulkThreshold elements go as
// NumPy .npy parts of a multipart request (and the answer's arrays come back as .npy): the
// results are bit for bit those of JSON.
//
// A Client keeps its connections alive and is safe for concurrent use. Every call is a
// pure function of its request, so every failure worth another try (503, 429, 502, 504, a
// failed connection) is retried, waiting at least what Retry-After says: a Sample without a
// Seed is sent with one drawn by the client (crypto/rand), so a retry replays the same
// draw; with ClientSeeds false the server draws it and such a request is never retried.
// Every failure is an *Error.
package ballast

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Version is this package's version.
const Version = "0.1.0"

// Client talks to one ballastd (or a load balancer in front of several). Create it with
// New and adjust the fields before use.
type Client struct {
	// BaseURL is the server's root, e.g. "http://127.0.0.1:8080" (a path prefix is kept).
	BaseURL string
	// Token is the server's --auth-token, sent as "Authorization: Bearer <token>".
	Token string
	// HTTPClient sends the requests; New gives one with keep-alive connections.
	HTTPClient *http.Client
	// Timeout bounds each attempt (0: only the context bounds it).
	Timeout time.Duration
	// Retries is how many further attempts a retryable failure gets (0: none).
	Retries int
	// Backoff is the first pause when the answer has no Retry-After, doubled per attempt
	// (with jitter) up to MaxWait.
	Backoff time.Duration
	// MaxWait is the longest pause; a Retry-After longer than it is not waited for: the
	// error is returned.
	MaxWait time.Duration
	// BulkThreshold: requests whose array fields hold at least this many elements in all
	// go as multipart with .npy parts; below it, JSON. Negative: always JSON.
	BulkThreshold int
	// ClientSeeds: a Sample without a Seed gets one drawn here (true, from New), so that it
	// can be retried; false leaves it to the server and never retries it.
	ClientSeeds bool
	// StringSeeds sends seeds as decimal strings (servers that accept them; JSON integers,
	// which this package writes exactly, work everywhere).
	StringSeeds bool
	// OnRetry, when set, is called before each pause: attempt (1, 2, ...), the status (0
	// for a failed connection), the pause and the failure.
	OnRetry func(attempt, status int, wait time.Duration, err error)
}

// New returns a Client for baseURL with keep-alive connections, a 30 s timeout per
// attempt, 4 retries, .npy above 4096 elements and client-drawn seeds.
func New(baseURL string) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 64
	tr.MaxIdleConnsPerHost = 64
	return &Client{
		BaseURL:       strings.TrimRight(baseURL, "/"),
		HTTPClient:    &http.Client{Transport: tr},
		Timeout:       30 * time.Second,
		Retries:       4,
		Backoff:       200 * time.Millisecond,
		MaxWait:       30 * time.Second,
		BulkThreshold: 4096,
		ClientSeeds:   true,
	}
}

// Error is every failure of a call: an error answer of the server (Status > 0, Code and
// Message from its error document, Field where the error is), or no answer at all (Status
// 0, Code "connection_error", "timeout" or "canceled", Err the cause).
type Error struct {
	Status     int
	Code       string
	Message    string
	Field      string
	RequestID  string
	RetryAfter time.Duration // what Retry-After asked (0: none)
	Attempts   int
	Err        error
}

func (e *Error) Error() string {
	head := e.Code
	if e.Status != 0 {
		head = fmt.Sprintf("%d %s", e.Status, e.Code)
	}
	s := "ballast: " + head + ": " + e.Message
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	return s
}

// Unwrap returns the cause of a failure without an answer (a net or context error).
func (e *Error) Unwrap() error { return e.Err }

type requestIDKey struct{}

// WithRequestID returns a context whose calls send id as X-Request-Id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// ClassWeights calls POST /weights.
func (c *Client) ClassWeights(ctx context.Context, req *WeightsRequest) (*WeightsResponse, error) {
	out := &WeightsResponse{}
	labels, extra := i64(req.Labels), req.Extra
	if req.LabelMatrix != nil {
		if req.Labels != nil {
			return out, &Error{Code: "invalid_argument", Field: "labels",
				Message: "give Labels (one class per sample) or LabelMatrix (multi-label), not both"}
		}
		if len(req.LabelMatrix.Dims()) != 2 {
			return out, &Error{Code: "invalid_argument", Field: "labels",
				Message: fmt.Sprintf("LabelMatrix must be N x C (samples x classes), not of shape %v", req.LabelMatrix.Dims())}
		}
		// sent as "labels": in JSON through Extra (its own field has no JSON name)
		labels, extra = req.LabelMatrix, map[string]interface{}{"labels": req.LabelMatrix}
		for k, v := range req.Extra {
			extra[k] = v
		}
	}
	arrays := []namedArray{{"counts", f64(req.Counts)}, {"labels", labels}}
	rid, err := postAs(c, ctx, "/weights", req, extra, arrays, func(r *WeightsRequest) {
		r.Counts, r.Labels = nil, nil
		if req.LabelMatrix != nil {
			delete(extra, "labels") // this call's own copy: the matrix goes as a part
		}
	}, out, true)
	out.RequestID = rid
	return out, err
}

// Sample calls POST /sample. Without a Seed (and with ClientSeeds) the request is sent
// with a seed drawn from crypto/rand, returned as the answer's Seed.
func (c *Client) Sample(ctx context.Context, req *SampleRequest) (*SampleResponse, error) {
	idempotent := true
	if req.Seed == nil {
		if c.ClientSeeds {
			r := *req
			r.Seed = Seed(RandomSeed())
			req = &r
		} else {
			idempotent = false
		}
	}
	extra := req.Extra
	if c.StringSeeds {
		extra = map[string]interface{}{}
		for k, v := range req.Extra {
			extra[k] = v
		}
		if req.Seed != nil {
			extra["seed"] = strconv.FormatUint(uint64(*req.Seed), 10)
		}
	}
	out := &SampleResponse{}
	arrays := []namedArray{{"weights", f64(req.Weights)}, {"labels", i64(req.Labels)},
		{"class_weights", f64(req.ClassWeights)}}
	rid, err := postAs(c, ctx, "/sample", req, extra, arrays, func(r *SampleRequest) {
		r.Weights, r.Labels, r.ClassWeights = nil, nil, nil
	}, out, idempotent)
	out.RequestID = rid
	return out, err
}

// Loss calls POST /loss.
func (c *Client) Loss(ctx context.Context, req *LossRequest) (*LossResponse, error) {
	out := &LossResponse{}
	targets := req.Targets
	input := req.Logits
	if input == nil {
		input = req.LogProbs
	}
	// Class indices held as float64s go as integers, as their JSON would (a .npy part of a
	// real dtype would be read as probabilities).
	if targets != nil && targets.Float64 != nil && input != nil && classLoss(req.Loss) &&
		len(targets.Dims()) == len(input.Dims())-1 {
		if ints, ok := integral(targets.Float64); ok {
			targets = &Tensor{Shape: targets.Dims(), Int64: ints}
		}
	}
	arrays := []namedArray{{"logits", req.Logits}, {"log_probs", req.LogProbs}, {"targets", targets},
		{"weights", f64(req.Weights)}, {"pos_weight", f64(req.PosWeight)},
		{"class_counts", f64(req.ClassCounts)}, {"class_priors", f64(req.ClassPriors)}}
	rid, err := postAs(c, ctx, "/loss", req, req.Extra, arrays, func(r *LossRequest) {
		r.Logits, r.LogProbs, r.Targets, r.Weights, r.PosWeight = nil, nil, nil, nil, nil
		r.ClassCounts, r.ClassPriors = nil, nil
	}, out, true)
	out.RequestID = rid
	return out, err
}

// Healthz calls GET /healthz: nil when the server answers {"status": "ok"}.
func (c *Client) Healthz(ctx context.Context) error {
	_, _, err := c.send(ctx, "GET", "/healthz", nil, "", "", true)
	return err
}

// RandomSeed is a seed in [0, 2^64) from crypto/rand, as ballastd draws its own.
func RandomSeed() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return mrand.Uint64()
	}
	return binary.LittleEndian.Uint64(b[:])
}

// ---- encoding -----------------------------------------------------------------------

type namedArray struct {
	name string
	t    *Tensor
}

func f64(v []float64) *Tensor {
	if v == nil {
		return nil
	}
	return NewFloat64(v)
}

func i64(v []int64) *Tensor {
	if v == nil {
		return nil
	}
	return NewInt64(v)
}

// classLoss: the losses whose targets may be class indices of the input's shape without
// the class dim (dice and tversky with activation "softmax"; with "sigmoid" the targets
// have the input's own shape, which the caller's rank test tells).
func classLoss(loss string) bool {
	switch loss {
	case "", "cross_entropy", "nll", "focal", "ldam", "dice", "tversky":
		return true
	}
	return false
}

func integral(v []float64) ([]int64, bool) {
	out := make([]int64, len(v))
	for i, x := range v {
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return nil, false
		}
		out[i] = int64(x)
	}
	return out, true
}

// jsonBody marshals a request with its Extra fields added (replacing fields of the same name).
func jsonBody(req interface{}, extra map[string]interface{}) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, &Error{Code: "invalid_argument", Message: err.Error(), Err: err}
	}
	if len(extra) == 0 {
		return b, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range extra {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, &Error{Code: "invalid_argument", Message: k + ": " + err.Error(), Field: k, Err: err}
		}
		m[k] = raw
	}
	return json.Marshal(m)
}

// postAs sends req as JSON, or as multipart with .npy parts when its arrays are large, and
// decodes the answer into out. strip clears the array fields of a copy of req.
func postAs[R any](c *Client, ctx context.Context, path string, req *R, extra map[string]interface{},
	arrays []namedArray, strip func(*R), out interface{}, idempotent bool) (string, error) {
	n := 0
	for _, a := range arrays {
		if a.t != nil {
			n += a.t.Len()
		}
	}
	var body []byte
	var ctype, accept string
	var err error
	if c.BulkThreshold >= 0 && n >= c.BulkThreshold && n > 0 {
		rest := *req
		strip(&rest)
		var jsonPart []byte
		if jsonPart, err = jsonBody(&rest, extra); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for _, a := range arrays {
			if a.t == nil {
				continue
			}
			npy, err := EncodeNpy(a.t)
			if err != nil {
				return "", &Error{Code: "invalid_argument", Message: a.name + ": " + err.Error(), Field: a.name, Err: err}
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s.npy"`, a.name, a.name))
			h.Set("Content-Type", "application/x-npy")
			pw, _ := w.CreatePart(h)
			pw.Write(npy)
		}
		if string(jsonPart) != "{}" {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="request"`)
			h.Set("Content-Type", "application/json")
			pw, _ := w.CreatePart(h)
			pw.Write(jsonPart)
		}
		w.Close()
		body, ctype, accept = buf.Bytes(), w.FormDataContentType(), "multipart/form-data"
	} else {
		for _, a := range arrays {
			if a.t != nil {
				if err := a.t.check(); err != nil {
					return "", &Error{Code: "invalid_argument", Message: a.name + ": " + err.Error(), Field: a.name, Err: err}
				}
			}
		}
		if body, err = jsonBody(req, extra); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				err = &Error{Code: "invalid_argument", Message: err.Error(), Err: err}
			}
			return "", err
		}
		ctype, accept = "application/json", "application/json"
	}
	headers, data, err := c.send(ctx, "POST", path, body, ctype, accept, idempotent)
	rid := headers.Get("X-Request-Id")
	if err != nil {
		return rid, err
	}
	if err := decode(headers.Get("Content-Type"), data, out); err != nil {
		return rid, &Error{Status: 200, Code: "invalid_response", Message: err.Error(), RequestID: rid, Err: err}
	}
	return rid, nil
}

// decode reads a JSON answer, or a multipart one (a "response" JSON part and .npy parts).
func decode(ctype string, data []byte, out interface{}) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return json.Unmarshal(data, out)
	}
	r := multipart.NewReader(bytes.NewReader(data), params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return err
		}
		name := p.FormName()
		if name == "response" {
			if err := json.Unmarshal(b, out); err != nil {
				return err
			}
			continue
		}
		t, err := DecodeNpy(b)
		if err != nil {
			return fmt.Errorf("part %s: %w", name, err)
		}
		if err := setArray(out, name, t); err != nil {
			return err
		}
	}
}

func setArray(out interface{}, name string, t *Tensor) error {
	switch o := out.(type) {
	case *SampleResponse:
		if name == "indices" && t.Int64 != nil {
			o.Indices = t.Int64
			return nil
		}
	case *WeightsResponse:
		v := Float64s(t.Values())
		switch name {
		case "weights":
			o.Weights = v
			return nil
		case "counts":
			o.Counts = v
			return nil
		case "sample_weights":
			o.SampleWeights = v
			return nil
		case "positives":
			o.Positives = v
			return nil
		case "pos_weight":
			o.PosWeight = v
			return nil
		case "repeat_factors":
			o.RepeatFactors = v
			return nil
		}
	case *LossResponse:
		t = &Tensor{Shape: t.Shape, Float64: t.Values()}
		switch name {
		case "loss":
			o.Loss = *t
			return nil
		case "grad":
			o.Grad = t
			return nil
		}
	}
	return fmt.Errorf("unexpected part %q", name)
}

// ---- transport ------------------------------------------------------------------------

var retryStatuses = map[int]bool{429: true, 502: true, 503: true, 504: true}

func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func ctxError(err error, attempts int) *Error {
	code := "canceled"
	if errors.Is(err, context.DeadlineExceeded) {
		code = "timeout"
	}
	return &Error{Code: code, Message: err.Error(), Attempts: attempts, Err: err}
}

// pause is the wait before another attempt, or -1 when there is none to be had.
func (c *Client) pause(attempt int, ra time.Duration) time.Duration {
	if attempt >= c.Retries {
		return -1
	}
	if ra > 0 {
		if ra > c.MaxWait {
			return -1
		}
		return ra + time.Duration(mrand.Int63n(int64(ra)/10+1))
	}
	d := c.Backoff << uint(attempt)
	if d <= 0 || d > c.MaxWait {
		d = c.MaxWait
	}
	return d/2 + time.Duration(mrand.Int63n(int64(d)/2+1))
}

func (c *Client) send(ctx context.Context, method, path string, body []byte, ctype, accept string,
	idempotent bool) (http.Header, []byte, error) {
	idemKey := ""
	if idempotent {
		var k [12]byte
		rand.Read(k[:])
		// net/http resends a request with this header at once when a kept-alive connection
		// turns out closed by the server.
		idemKey = hex.EncodeToString(k[:])
	}
	for attempt := 0; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if c.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, c.Timeout)
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(actx, method, c.BaseURL+path, rd)
		if err != nil {
			cancel()
			return nil, nil, &Error{Code: "invalid_argument", Message: err.Error(), Err: err}
		}
		req.Header.Set("User-Agent", "ballast-go/"+Version)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if c.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		if id, ok := ctx.Value(requestIDKey{}).(string); ok && id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		if idemKey != "" {
			req.Header.Set("Idempotency-Key", idemKey)
		}
		resp, err := c.HTTPClient.Do(req)
		var data []byte
		if err == nil {
			data, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctxError(ctx.Err(), attempt+1)
			}
			if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
				return nil, nil, &Error{Code: "timeout", Message: fmt.Sprintf("no answer within %v", c.Timeout),
					Attempts: attempt + 1, Err: err}
			}
			e := &Error{Code: "connection_error", Message: err.Error(), Attempts: attempt + 1, Err: err}
			if !idempotent {
				return nil, nil, e
			}
			wait := c.pause(attempt, 0)
			if wait < 0 {
				return nil, nil, e
			}
			if c.OnRetry != nil {
				c.OnRetry(attempt+1, 0, wait, e)
			}
			if err := sleep(ctx, wait); err != nil {
				return nil, nil, ctxError(err, attempt+1)
			}
			continue
		}
		if resp.StatusCode < 400 {
			return resp.Header, data, nil
		}
		e := errorFrom(resp, data, attempt+1)
		if retryStatuses[resp.StatusCode] && idempotent {
			if wait := c.pause(attempt, e.RetryAfter); wait >= 0 {
				if c.OnRetry != nil {
					c.OnRetry(attempt+1, resp.StatusCode, wait, e)
				}
				if err := sleep(ctx, wait); err != nil {
					return nil, nil, ctxError(err, attempt+1)
				}
				continue
			}
		}
		return resp.Header, nil, e
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func errorFrom(resp *http.Response, data []byte, attempts int) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id"),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After")), Attempts: attempts}
	var doc struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &doc) == nil && doc.Error != nil {
		e.Code, e.Message, e.Field = doc.Error.Code, doc.Error.Message, doc.Error.Field
		return e
	}
	e.Code = "http_error"
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200]
	}
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	e.Message = text
	return e
}
