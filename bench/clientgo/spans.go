package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // an exporter may compress its batches
)

// spanSink keeps the spans whose name is wanted, one JSON line each in the
// out file, flushed after every export so a reader sees a batch as soon as
// it has arrived.
type spanSink struct {
	coltrace.UnimplementedTraceServiceServer
	names map[string]bool
	mu    sync.Mutex
	w     *bufio.Writer
	kept  int
	seen  int
}

// spanLine is what the harness reads of one span: its trace (the load
// generator's requests name theirs), when it began (Unix
// nanoseconds, the API server's clock, which is the machine's), how long it
// lasted, whether it ended in error, and its string attributes (webhook,
// resource, operation, ...).
type spanLine struct {
	Name       string            `json:"name"`
	TraceID    string            `json:"trace_id"`
	StartNs    uint64            `json:"start_unix_ns"`
	Ms         float64           `json:"ms"`
	Error      bool              `json:"error,omitempty"`
	Attributes map[string]string `json:"attributes"`
}

func (s *spanSink) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s.seen++
				if !s.names[sp.GetName()] {
					continue
				}
				line := spanLine{
					Name:       sp.GetName(),
					TraceID:    hex.EncodeToString(sp.GetTraceId()),
					StartNs:    sp.GetStartTimeUnixNano(),
					Ms:         float64(sp.GetEndTimeUnixNano()-sp.GetStartTimeUnixNano()) / 1e6,
					Error:      sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
					Attributes: map[string]string{},
				}
				for _, kv := range sp.GetAttributes() {
					switch v := kv.GetValue().GetValue().(type) {
					case *commonpb.AnyValue_StringValue:
						line.Attributes[kv.GetKey()] = v.StringValue
					case *commonpb.AnyValue_IntValue:
						line.Attributes[kv.GetKey()] = strconv.FormatInt(v.IntValue, 10)
					default:
						line.Attributes[kv.GetKey()] = fmt.Sprint(kv.GetValue())
					}
				}
				b, err := json.Marshal(line)
				if err != nil {
					return nil, err
				}
				s.w.Write(append(b, '\n'))
				s.kept++
			}
		}
	}
	if err := s.w.Flush(); err != nil {
		return nil, err
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// spans (S11) is an OTLP/gRPC trace receiver on loopback: the API server's
// tracing exports to it, and it keeps the spans named in p.Names (the API
// server's "Call validating webhook", timed around the webhook call it waits
// for) as JSON lines in p.Out. It prints {"ready": true, "address": ...} once
// listening (p.Listen may use port 0), then runs until SIGTERM or for
// p.Duration seconds if set, and ends with the usual final line.
func spans(ctx context.Context, p params, out *emitter) (result, error) {
	if p.Out == "" || len(p.Names) == 0 {
		return result{}, errors.New("spans needs out and names")
	}
	f, err := os.Create(p.Out)
	if err != nil {
		return result{}, fmt.Errorf("spans out file: %w", err)
	}
	defer f.Close()
	listen := p.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return result{}, fmt.Errorf("spans listen %s: %w", listen, err)
	}
	sink := &spanSink{names: map[string]bool{}, w: bufio.NewWriter(f)}
	for _, n := range p.Names {
		sink.names[n] = true
	}
	server := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	coltrace.RegisterTraceServiceServer(server, sink)
	served := make(chan error, 1)
	go func() { served <- server.Serve(lis) }()
	out.line(map[string]any{"ready": true, "address": lis.Addr().String()})
	began := time.Now()
	if p.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.duration())
		defer cancel()
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		return result{}, fmt.Errorf("spans server: %w", err)
	}
	server.Stop() // exports in flight are dropped: the harness reads only settled windows
	sink.mu.Lock()
	defer sink.mu.Unlock()
	return result{
		seconds: time.Since(began).Seconds(),
		count:   sink.kept,
		extra:   map[string]any{"spans_seen": sink.seen, "out": p.Out},
	}, nil
}
