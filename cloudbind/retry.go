package cloudbind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Retry bounds the retries of one API call. 429 answers wait for their
// Retry-After; 5xx answers, timeouts and connection errors back off
// exponentially with jitter.
type Retry struct {
	// Attempts is the most tries of one call (default 5).
	Attempts int
	// Base is the first backoff (default 500ms), doubled each time up
	// to Max (default 8s).
	Base, Max time.Duration
	// MaxRetryAfter caps a server's Retry-After (default 60s).
	MaxRetryAfter time.Duration
}

func (r *Retry) fill() {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Base <= 0 {
		r.Base = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 8 * time.Second
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = time.Minute
	}
}

// backoff is the wait before try n+1 (n from 1): exponential, with the
// upper half jittered.
func (r Retry) backoff(n int) time.Duration {
	d := r.Base << (n - 1)
	if d > r.Max || d <= 0 {
		d = r.Max
	}
	return d/2 + rand.N(d/2+1)
}

// APIError is an unexpected answer of a cloud API. It carries the
// method, path and status, and the error code and message of the body;
// never a request header.
type APIError struct {
	Method, Path string
	Status       int
	Code, Msg    string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// IsStatus reports whether err is an APIError with one of the codes.
func IsStatus(err error, codes ...int) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.Status == c {
			return true
		}
	}
	return false
}

// caller sends JSON requests with a timeout per attempt and retries.
type caller struct {
	client  *http.Client
	timeout time.Duration
	retry   Retry
	calls   *counter
	// prepare adds authentication to each attempt (nil: none).
	prepare func(ctx context.Context, r *http.Request) error
	// sleep waits, or returns early when ctx is done.
	sleep func(ctx context.Context, d time.Duration) error
	// throttle, when set, is shared by every call to the same API.
	throttle *throttle
}

// throttle holds every call to one API back until the Retry-After of
// the last 429 has passed, whichever goroutine received it: a binder
// must not call while another one was told to wait.
type throttle struct {
	mu    sync.Mutex
	until time.Time
}

// hold makes calls wait for d from now.
func (t *throttle) hold(d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if u := time.Now().Add(d); u.After(t.until) {
		t.until = u
	}
}

// wait waits until calls may go out again.
func (t *throttle) wait(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	d := time.Until(t.until)
	t.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return sleepCtx(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do sends method url with body in (nil: none) and decodes a 2xx answer
// into out (nil: discard; a *[]byte takes the body as it is), retrying
// as the policy allows. The error is that of the last attempt.
func (c *caller) do(ctx context.Context, method, url string, in, out any) error {
	return c.doWith(ctx, method, url, nil, in, out)
}

// doWith is do with extra request headers.
func (c *caller) doWith(ctx context.Context, method, url string, hdr http.Header, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	sleep := c.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	path := url
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.Index(url[i+3:], "/"); j >= 0 {
			path = url[i+3+j:]
		}
	}
	var last error
	for n := 1; ; n++ {
		if err := c.throttle.wait(ctx); err != nil {
			if last == nil {
				last = fmt.Errorf("%s %s: waiting for the API's Retry-After: %w", method, path, err)
			}
			return last
		}
		wait, err := c.once(ctx, method, url, path, hdr, body, out)
		if err == nil {
			return nil
		}
		last = err
		if wait < 0 || n >= c.retry.Attempts || ctx.Err() != nil {
			break
		}
		if wait == 0 {
			wait = c.retry.backoff(n)
		}
		if err := sleep(ctx, wait); err != nil {
			break
		}
	}
	return last
}

// once makes one attempt. wait < 0: do not retry; 0: back off; > 0:
// the server asked for that wait.
func (c *caller) once(ctx context.Context, method, url, path string, hdr http.Header, body []byte, out any) (time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, url, rd)
	if err != nil {
		return -1, err
	}
	req.Header.Set("Accept", "application/json")
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.prepare != nil {
		if err := c.prepare(actx, req); err != nil {
			if errors.Is(err, errNoAgency) || IsStatus(err, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound) {
				return -1, err
			}
			return 0, err
		}
	}
	if c.calls != nil {
		c.calls.n.Add(1)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		// Timeouts and connection errors: retry. The URL is in the
		// error, the headers never are.
		return 0, fmt.Errorf("%s %s: %w", method, path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 == 2 {
		if raw, ok := out.(*[]byte); ok {
			*raw = data
			return 0, nil
		}
		if out != nil && len(data) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return -1, fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
			}
		}
		return 0, nil
	}
	ae := &APIError{Method: method, Path: path, Status: resp.StatusCode}
	ae.Code, ae.Msg = errorBody(data)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			d = min(d, c.retry.MaxRetryAfter)
			c.throttle.hold(d)
			return d, ae
		}
		return 0, ae
	case resp.StatusCode >= 500:
		return 0, ae
	}
	return -1, ae
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return max(time.Duration(s)*time.Second, time.Millisecond), true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), time.Millisecond), true
	}
	return 0, false
}

// errorBody finds an error code and message in the answers of Huawei's
// API gateway ({"error_code","error_msg"}), its VPC service ({"code",
// "message"}), Neutron ({"NeutronError":{"type","message"}}) and
// Keystone ({"error":{"code","title","message"}}); an answer that is not
// JSON (the metadata service's) gives its text as the message.
func errorBody(data []byte) (code, msg string) {
	var b struct {
		ErrorCode string `json:"error_code"`
		ErrorMsg  string `json:"error_msg"`
		Code      any    `json:"code"`
		Message   string `json:"message"`
		Neutron   *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"NeutronError"`
		Keystone *struct {
			Title   string `json:"title"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		msg = strings.Join(strings.Fields(string(data)), " ")
		if !json.Valid(data) && utf8.ValidString(msg) {
			return "", shorten(msg)
		}
		return "", ""
	}
	switch {
	case b.ErrorCode != "":
		code, msg = b.ErrorCode, b.ErrorMsg
	case b.Neutron != nil:
		code, msg = b.Neutron.Type, b.Neutron.Message
	case b.Keystone != nil:
		code, msg = b.Keystone.Title, b.Keystone.Message
	default:
		if s, ok := b.Code.(string); ok {
			code = s
		}
		msg = b.Message
	}
	return code, shorten(msg)
}

func shorten(msg string) string {
	if len(msg) > 200 {
		return strings.ToValidUTF8(msg[:200], "") + "…"
	}
	return msg
}
