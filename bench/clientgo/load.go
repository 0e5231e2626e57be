package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// loadRequest is one line of the load file: the object to create and where
// its resource lives ("" for the core group, "apps" for Deployments).
type loadRequest struct {
	Group    string          `json:"group"`
	Resource string          `json:"resource"`
	Body     json.RawMessage `json:"body"`
}

// loadTimeout bounds one create; the API server's own webhook timeout is
// far below it, so a request that takes this long has gone wrong.
const loadTimeout = 30 * time.Second

// load (S11) creates the objects of p.File in p.Namespace at p.Rate a second
// for p.Duration seconds after p.Warmup seconds at the same rate, open loop:
// every request leaves at its scheduled time whatever the earlier ones are
// doing, and its latency is taken from that scheduled time (so a stalled
// server cannot hide its queue by slowing the sender). The file is used in a
// circle, each object's name suffixed with the request's number.
//
// Outcomes: "allowed" (2xx), "denied" (403 or 422 with a message: the
// admission answer), "error" (anything else, a timeout included).
func load(ctx context.Context, cs kubernetes.Interface, p params, _ *emitter) (result, error) {
	requests, err := readLoad(p.File)
	if err != nil {
		return result{}, err
	}
	if p.Rate <= 0 || p.Duration <= 0 {
		return result{}, errors.New("load needs rate and duration above 0")
	}
	clients := map[string]rest.Interface{
		"":     cs.CoreV1().RESTClient(),
		"apps": cs.AppsV1().RESTClient(),
	}
	interval := time.Duration(float64(time.Second) / p.Rate)
	warm := int(p.Warmup * p.Rate)
	total := warm + int(p.Duration*p.Rate)
	lags := make([]float64, total)
	outcomes := make([]string, total)
	errs := make([]string, 0)
	denials := make([]string, 0)
	var mu sync.Mutex
	var wg sync.WaitGroup
	// Each request carries a W3C trace context of its own: this run's random
	// prefix, then the request's number, so the API server's spans of it
	// (S11 reads its webhook calls) name the request they belong to.
	nonce := make([]byte, 8)
	rand.Read(nonce)
	prefix := hex.EncodeToString(nonce)
	start := time.Now().Add(100 * time.Millisecond)
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return result{}, ctx.Err()
			}
		}
		req := requests[i%len(requests)]
		client, ok := clients[req.Group]
		if !ok {
			return result{}, fmt.Errorf("load file: group %q is not core or apps", req.Group)
		}
		body, err := renamed(req.Body, i)
		if err != nil {
			return result{}, err
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, loadTimeout)
			defer cancel()
			err := client.Post().Namespace(p.Namespace).Resource(req.Resource).
				Body(body).SetHeader("Content-Type", "application/json").
				SetHeader("traceparent", fmt.Sprintf("00-%s%016x-%016x-01", prefix, i, i+1)).
				Do(rctx).Error()
			lags[i] = float64(time.Since(at).Microseconds()) / 1e3
			switch {
			case err == nil:
				outcomes[i] = "allowed"
			case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
				outcomes[i] = "denied"
				mu.Lock()
				if len(denials) < 3 {
					denials = append(denials, err.Error())
				}
				mu.Unlock()
			default:
				outcomes[i] = "error"
				mu.Lock()
				if len(errs) < 5 {
					errs = append(errs, err.Error())
				}
				mu.Unlock()
			}
		})
	}
	sent := time.Since(start)
	wg.Wait()
	// The measured window on the machine's clock, for what the API server timed
	// of these requests (its trace spans): from the first measured request's
	// scheduled time to the last answer.
	from, to := start.Add(time.Duration(warm)*interval), time.Now()
	measured := lags[warm:]
	kinds := outcomes[warm:]
	counts := map[string]int{"allowed": 0, "denied": 0, "error": 0}
	for _, k := range kinds {
		counts[k]++
	}
	return result{
		seconds: sent.Seconds(),
		count:   len(measured),
		extra: map[string]any{
			"lags_ms":        measured,
			"warmup_lags_ms": lags[:warm],
			"outcomes":       kinds,
			"allowed":        counts["allowed"],
			"denied":         counts["denied"],
			"errors":         counts["error"],
			"warmup":         warm,
			"samples":        errs,
			"denials":        denials, // the first few answers, to tell a policy's from a validation's
			// How late the sender itself was: its schedule against the clock.
			"send_seconds": sent.Seconds(),
			"from_unix_ns": from.UnixNano(),
			"to_unix_ns":   to.UnixNano(),
			"trace_prefix": prefix,
		},
	}, nil
}

func readLoad(path string) ([]loadRequest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load file: %w", err)
	}
	defer f.Close()
	var out []loadRequest
	scan := bufio.NewScanner(f)
	scan.Buffer(make([]byte, 1<<20), 1<<24)
	for scan.Scan() {
		var r loadRequest
		if err := json.Unmarshal(scan.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("load file %s line %d: %w", path, len(out)+1, err)
		}
		out = append(out, r)
	}
	if err := scan.Err(); err != nil {
		return nil, fmt.Errorf("load file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load file %s: no requests", path)
	}
	return out, nil
}

// renamed is the object with "-<i>" added to its name, so every create is new.
func renamed(raw json.RawMessage, i int) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("load file: %w", err)
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		return nil, errors.New("load file: an object without metadata")
	}
	meta["name"] = fmt.Sprintf("%v-%d", meta["name"], i)
	return json.Marshal(obj)
}
