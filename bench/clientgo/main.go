// Command clientgo is the client-go runner of kubeops' benchmark suite.
//
// Every client in the suite implements the same protocol:
//
//	clientgo SCENARIO PARAMS_JSON
//
// It prints one JSON object per line on stdout: for S3 first {"ready": true}
// once the watch is established (for spans, S11's trace receiver, once it
// listens), then exactly one final line, either
// {"ok": true, "seconds": ..., "count": ..., "rss_bytes": ..., ...} or
// {"ok": false, "error": "..."} with exit code 1. "seconds" covers the
// scenario only, not process start or client construction. client-go's own
// logging (klog) goes to stderr, so stdout carries nothing but the protocol.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// params is PARAMS_JSON; a scenario reads only the keys it needs.
type params struct {
	Kubeconfig    string   `json:"kubeconfig"`
	Namespace     string   `json:"namespace"`
	Size          int      `json:"size"`
	Concurrency   int      `json:"concurrency"`
	Duration      float64  `json:"duration"`
	Name          string   `json:"name"`
	LabelSelector string   `json:"label_selector"`
	File          string   `json:"file"`   // load: JSON lines of objects to create
	Rate          float64  `json:"rate"`   // load: requests a second
	Warmup        float64  `json:"warmup"` // load: seconds at the rate before measuring
	Listen        string   `json:"listen"` // spans: the OTLP/gRPC address (port 0: any)
	Out           string   `json:"out"`    // spans: where the kept spans go, JSON lines
	Names         []string `json:"names"`  // spans: the span names to keep
}

func (p params) duration() time.Duration {
	return time.Duration(p.Duration * float64(time.Second))
}

// result is what a scenario measured; extra holds scenario-specific keys
// (S3's lags_ms, for example) merged into the final line.
type result struct {
	seconds float64
	count   int
	extra   map[string]any
	// rss, when set, was measured by the scenario itself while its cache was
	// still alive (S6); otherwise VmRSS is read after the scenario returns.
	rss int64
}

type scenario func(ctx context.Context, cs kubernetes.Interface, p params, out *emitter) (result, error)

var scenarios = map[string]scenario{
	"S1":     listAll,
	"S2":     informerSync,
	"S3":     watchLag,
	"S4":     createMany,
	"S5":     getMany,
	"S6":     podMemory,
	"writer": writer,
	"load":   load,
}

func main() {
	out := &emitter{w: bufio.NewWriter(os.Stdout)}
	if err := run(out); err != nil {
		out.line(map[string]any{"ok": false, "error": err.Error()})
		os.Exit(1)
	}
}

func run(out *emitter) error {
	if len(os.Args) != 3 {
		return errors.New("usage: clientgo SCENARIO PARAMS_JSON")
	}
	sc, ok := scenarios[os.Args[1]]
	if !ok && os.Args[1] != "spans" {
		return fmt.Errorf("unknown scenario %q", os.Args[1])
	}
	// Defaults match the Python runners' (bench/runners/_protocol.py), so an
	// omitted key means the same for every client.
	p := params{Namespace: "default", Concurrency: 1}
	dec := json.NewDecoder(strings.NewReader(os.Args[2]))
	dec.DisallowUnknownFields() // a misspelt key should fail loudly, not run with a zero value
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("PARAMS_JSON: %w", err)
	}
	// SIGTERM/SIGINT cancel the scenario so it still reports an error line
	// (the span receiver, which talks to no API server, ends with its result).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var res result
	var err error
	if sc == nil {
		res, err = spans(ctx, p, out)
	} else {
		cs, cerr := newClient(p.Kubeconfig)
		if cerr != nil {
			return cerr
		}
		res, err = sc(ctx, cs, p, out)
	}
	if err != nil {
		return err
	}
	rss := res.rss
	if rss == 0 {
		if rss, err = rssBytes(); err != nil {
			return err
		}
	}
	final := map[string]any{"ok": true, "seconds": res.seconds, "count": res.count, "rss_bytes": rss}
	maps.Copy(final, res.extra)
	out.line(final)
	return nil
}

// newClient builds a typed clientset the way the suite compares clients:
// no client-side rate limiting and JSON on the wire.
func newClient(kubeconfig string) (*kubernetes.Clientset, error) {
	if kubeconfig == "" {
		return nil, errors.New("PARAMS_JSON lacks kubeconfig")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	// A negative QPS means no token-bucket limiter at all (rest.RESTClientFor
	// and kubernetes.NewForConfig only install one when QPS > 0).
	cfg.QPS = -1
	// JSON, so that every client in the suite decodes the same bytes. This must
	// be explicit: since v0.35 the generated core/v1 clients switch a request
	// to protobuf whenever ContentType is left unset.
	cfg.ContentType = "application/json"
	cfg.AcceptContentTypes = "application/json"
	cfg.UserAgent = "kubeops-bench/client-go"
	return kubernetes.NewForConfig(cfg)
}

// emitter writes protocol lines and flushes each one at once, since the
// harness reacts to them (S3's ready line) while the program runs.
type emitter struct {
	w *bufio.Writer
}

func (e *emitter) line(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"ok": false, "error": err.Error()})
	}
	e.w.Write(append(b, '\n'))
	e.w.Flush()
}

// rssBytes reads this process's resident set size (VmRSS) from procfs.
func rssBytes() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest) // e.g. ["51234", "kB"]
			if len(fields) != 2 || fields[1] != "kB" {
				break
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no VmRSS line in /proc/self/status")
}
