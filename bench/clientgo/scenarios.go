package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// syncTimeout bounds an informer's initial sync, so an unreachable or
// misconfigured cluster ends in an error line instead of a hang: the
// reflector otherwise retries forever.
const syncTimeout = 10 * time.Minute

// listAll (S1) is one LIST of every ConfigMap in the namespace, unpaginated
// (no Limit), as client-go's typed List does by default.
func listAll(ctx context.Context, cs kubernetes.Interface, p params, _ *emitter) (result, error) {
	start := time.Now()
	list, err := cs.CoreV1().ConfigMaps(p.Namespace).List(ctx, metav1.ListOptions{})
	elapsed := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("list configmaps in %s: %w", p.Namespace, err)
	}
	return result{seconds: elapsed.Seconds(), count: len(list.Items)}, nil
}

// informerSync (S2) times a namespaced ConfigMap informer from Start until
// its cache has synced.
//
// client-go v0.37 fills an informer's cache with a streaming WatchList
// (watch with sendInitialEvents=true) by default, not a paginated LIST; set
// KUBE_FEATURE_WatchListClient=false in the environment to get LIST+WATCH.
func informerSync(ctx context.Context, cs kubernetes.Interface, p params, _ *emitter) (result, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, configMapOptions(p)...)
	informer := factory.Core().V1().ConfigMaps().Informer()
	ctx, cancel := context.WithCancel(ctx)
	defer factory.Shutdown() // runs after cancel: waits for the informer's goroutines
	defer cancel()

	start := time.Now()
	factory.StartWithContext(ctx)
	if err := waitForSync(ctx, factory); err != nil {
		return result{}, err
	}
	elapsed := time.Since(start)
	return result{seconds: elapsed.Seconds(), count: len(informer.GetStore().ListKeys())}, nil
}

// watchLag (S3) measures how long after the writer stamped data["ts"] each
// change reaches an event handler. Only events delivered during the
// measuring window count; the initial list's Add events are skipped.
func watchLag(ctx context.Context, cs kubernetes.Interface, p params, out *emitter) (result, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, configMapOptions(p)...)
	informer := factory.Core().V1().ConfigMaps().Informer()

	var (
		collecting atomic.Bool
		mu         sync.Mutex
		lags       = make([]float64, 0, 1<<14)
		badStamp   atomic.Int64
	)
	record := func(obj any) {
		if !collecting.Load() {
			return
		}
		now := time.Now() // first thing: the handler's arrival time is what is measured
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return
		}
		ts, err := strconv.ParseFloat(cm.Data["ts"], 64)
		if err != nil {
			badStamp.Add(1)
			return
		}
		lag := float64(now.UnixNano())/1e6 - ts*1e3
		mu.Lock()
		lags = append(lags, lag)
		mu.Unlock()
	}
	reg, err := informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if !initial {
				record(obj)
			}
		},
		UpdateFunc: func(_, obj any) { record(obj) },
	})
	if err != nil {
		return result{}, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer factory.Shutdown()
	defer cancel()
	factory.StartWithContext(ctx)
	// The handler's own checker also waits until the initial list's events
	// have been delivered to it, so none of them leak into the window.
	syncCtx, syncCancel := context.WithTimeout(ctx, syncTimeout)
	defer syncCancel()
	if !cache.WaitFor(syncCtx, "", reg.HasSyncedChecker()) {
		return result{}, fmt.Errorf("configmap informer did not sync: %w", context.Cause(syncCtx))
	}

	collecting.Store(true)
	out.line(map[string]any{"ready": true})
	start := time.Now()
	select {
	case <-time.After(p.duration()):
	case <-ctx.Done():
		return result{}, context.Cause(ctx)
	}
	collecting.Store(false)
	elapsed := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	extra := map[string]any{"lags_ms": lags}
	if n := badStamp.Load(); n > 0 {
		extra["unstamped_events"] = n // events whose data["ts"] was missing or not a number
	}
	return result{seconds: elapsed.Seconds(), count: len(lags), extra: extra}, nil
}

// createMany (S4) creates size ConfigMaps bench-s4-<i> with a 1 KiB payload,
// keeping concurrency requests in flight. The first failure stops the run.
//
// client-go speaks HTTP/2 to the API server, so concurrent requests share
// one multiplexed TLS connection.
func createMany(ctx context.Context, cs kubernetes.Interface, p params, _ *emitter) (result, error) {
	workers := max(p.Concurrency, 1)
	payload := strings.Repeat("x", 1024)
	client := cs.CoreV1().ConfigMaps(p.Namespace)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var next, created atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= p.Size || ctx.Err() != nil {
					return
				}
				cm := &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-s4-%d", i)},
					Data:       map[string]string{"payload": payload},
				}
				if _, err := client.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					cancel(fmt.Errorf("create %s: %w", cm.Name, err))
					return
				}
				created.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return result{}, err
	}
	return result{seconds: elapsed.Seconds(), count: int(created.Load())}, nil
}

// getMany (S5) is size sequential GETs of one ConfigMap.
func getMany(ctx context.Context, cs kubernetes.Interface, p params, _ *emitter) (result, error) {
	client := cs.CoreV1().ConfigMaps(p.Namespace)
	start := time.Now()
	for i := range p.Size {
		if _, err := client.Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
			return result{}, fmt.Errorf("get %s/%s (request %d): %w", p.Namespace, p.Name, i+1, err)
		}
	}
	return result{seconds: time.Since(start).Seconds(), count: p.Size}, nil
}

// podMemory (S6) caches every Pod in the cluster, managedFields dropped as a
// memory-conscious controller would, and reports the resident set once the
// cache has synced and the garbage collector has returned what it can.
// seconds is the sync time.
func podMemory(ctx context.Context, cs kubernetes.Interface, _ params, _ *emitter) (result, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTransform(stripManagedFields))
	informer := factory.Core().V1().Pods().Informer()
	ctx, cancel := context.WithCancel(ctx)
	defer factory.Shutdown()
	defer cancel()

	start := time.Now()
	factory.StartWithContext(ctx)
	if err := waitForSync(ctx, factory); err != nil {
		return result{}, err
	}
	elapsed := time.Since(start)
	count := len(informer.GetStore().ListKeys())

	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(time.Second) // let the runtime's scavenger and the kernel settle
	rss, err := rssBytes()
	if err != nil {
		return result{}, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	extra := map[string]any{"heap_inuse_bytes": ms.HeapInuse}
	runtime.KeepAlive(informer) // the cache must still be alive when RSS is read
	return result{seconds: elapsed.Seconds(), count: count, extra: extra, rss: rss}, nil
}

// stripManagedFields is the informer transform S6 uses. client-go v0.37 has
// no ready-made one; objects without metadata (tombstones) pass unchanged.
func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// writer is S3's load generator, the same for every client under test: it
// stamps data["ts"] on bench-s3-<i>, round-robin, one request at a time, for
// duration seconds.
//
// It sends a JSON merge patch rather than an Update: a patch needs no prior
// GET and carries no resourceVersion, so it can never fail with a conflict,
// and its small, constant-size body is built right after reading the clock.
func writer(ctx context.Context, cs kubernetes.Interface, p params, _ *emitter) (result, error) {
	if p.Size <= 0 {
		return result{}, errors.New("writer needs size > 0 (the number of bench-s3-<i> ConfigMaps)")
	}
	client := cs.CoreV1().ConfigMaps(p.Namespace)
	names := make([]string, p.Size)
	for i := range names {
		names[i] = fmt.Sprintf("bench-s3-%d", i)
	}
	d := p.duration()
	writes := 0
	start := time.Now()
	for time.Since(start) < d {
		name := names[writes%len(names)]
		body := fmt.Appendf(nil, `{"data":{"ts":%q}}`, stamp(time.Now()))
		if _, err := client.Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
			return result{}, fmt.Errorf("patch %s/%s: %w", p.Namespace, name, err)
		}
		writes++
	}
	return result{seconds: time.Since(start).Seconds(), count: writes}, nil
}

// stamp formats t as unix seconds with exactly six decimals, built from
// integers so no float rounding creeps into the microseconds.
func stamp(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// configMapOptions scopes a ConfigMap informer to the namespace and, when
// given, the label selector.
func configMapOptions(p params) []informers.SharedInformerOption {
	opts := []informers.SharedInformerOption{informers.WithNamespace(p.Namespace)}
	if p.LabelSelector != "" {
		opts = append(opts, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = p.LabelSelector
		}))
	}
	return opts
}

// waitForSync waits, without polling, for every started informer's cache.
func waitForSync(ctx context.Context, factory informers.SharedInformerFactory) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if err := factory.WaitForCacheSyncWithContext(ctx).AsError(); err != nil {
		return fmt.Errorf("informer did not sync: %w", err)
	}
	return nil
}
