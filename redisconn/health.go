package redisconn

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is what every command returns, at once and without touching the network, while
// Redis is known to be unreachable (see Health). Unavailable(ErrUnavailable) is true.
var ErrUnavailable = errors.New("redis unavailable")

// Unavailable reports whether err means Redis could not be reached or could not serve the request
// now (refused or reset connections, timeouts, a cluster without a master for the slot, a server
// loading its data), as opposed to an answer (redis.Nil, a script's error, a wrong type). Those
// are the errors a caller rides out: degraded answers, retries later.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"CLUSTERDOWN", "LOADING", "MASTERDOWN", "TRYAGAIN", "READONLY",
		"connection refused", "connection reset", "broken pipe", "i/o timeout", "redis: nil pipeline", "all sentinels are unreachable", "no reachable"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// Health tracks whether Redis is reachable. A command that fails with an Unavailable error
// starts a probe (one write to every place the gateway keeps data, within ProbeTimeout); if the
// probe fails too, Redis is marked down: from then on every command fails at once with
// ErrUnavailable — so that a request in an outage pays no timeout, and the conversation core
// answers from memory — while a prober retries every ProbeInterval and marks Redis up when a
// probe succeeds. Each change is logged once, with its cause.
type Health struct {
	rdb   redis.UniversalClient
	probe func(ctx context.Context) error
	log   *slog.Logger

	down     atomic.Bool
	probing  atomic.Bool
	since    atomic.Int64 // unix ms of the last change
	mu       sync.Mutex
	cause    string
	stop     chan struct{}
	stopped  sync.WaitGroup
	onChange []func(up bool)
}

// ProbeInterval is how often a down Redis is probed; ProbeTimeout bounds one probe.
var (
	ProbeInterval = 250 * time.Millisecond
	ProbeTimeout  = 500 * time.Millisecond
)

type bypassKey struct{}

// bypass marks a context whose commands go through even while Redis is down (the prober's).
func bypass(ctx context.Context) context.Context { return context.WithValue(ctx, bypassKey{}, true) }

func newHealth(rdb redis.UniversalClient, probe func(ctx context.Context) error, log *slog.Logger) *Health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Health{rdb: rdb, probe: probe, log: log, stop: make(chan struct{})}
	h.since.Store(time.Now().UnixMilli())
	return h
}

// Down reports whether Redis is known to be unreachable now.
func (h *Health) Down() bool { return h != nil && h.down.Load() }

// Cause is why Redis was last marked down ("" when it never was).
func (h *Health) Cause() string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cause
}

// Since is when Redis was last marked up or down.
func (h *Health) Since() time.Time { return time.UnixMilli(h.since.Load()) }

// OnChange calls f (in its own goroutine) each time Redis goes down (false) or comes back (true):
// spools replay on recovery.
func (h *Health) OnChange(f func(up bool)) {
	h.mu.Lock()
	h.onChange = append(h.onChange, f)
	h.mu.Unlock()
}

// Report tells the tracker about the outcome of a command; an Unavailable error starts a probe.
func (h *Health) Report(err error) {
	if h == nil || !Unavailable(err) || errors.Is(err, ErrUnavailable) || h.down.Load() {
		return
	}
	if !h.probing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer h.probing.Store(false)
		if perr := h.runProbe(); perr != nil {
			h.markDown(err, perr)
		}
	}()
}

func (h *Health) runProbe() error {
	ctx, cancel := context.WithTimeout(bypass(context.Background()), ProbeTimeout)
	defer cancel()
	return h.probe(ctx)
}

func (h *Health) markDown(cmdErr, probeErr error) {
	if !h.down.CompareAndSwap(false, true) {
		return
	}
	h.since.Store(time.Now().UnixMilli())
	h.mu.Lock()
	h.cause = probeErr.Error()
	fs := append([]func(bool){}, h.onChange...)
	h.mu.Unlock()
	h.log.Error("redis unavailable: answering from memory until it is back", "err", probeErr, "first_error", cmdErr.Error())
	for _, f := range fs {
		go f(false)
	}
	h.stopped.Add(1)
	go h.recover()
}

// recover probes until Redis answers, then marks it up.
func (h *Health) recover() {
	defer h.stopped.Done()
	t := time.NewTicker(ProbeInterval)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		if err := h.runProbe(); err != nil {
			h.mu.Lock()
			h.cause = err.Error()
			h.mu.Unlock()
			continue
		}
		h.down.Store(false)
		h.since.Store(time.Now().UnixMilli())
		h.mu.Lock()
		fs := append([]func(bool){}, h.onChange...)
		h.mu.Unlock()
		h.log.Info("redis reachable again", "down_for_ms", time.Since(start).Milliseconds())
		for _, f := range fs {
			go f(true)
		}
		return
	}
}

func (h *Health) close() {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	h.stopped.Wait()
}

// blocking commands wait on the server by design: no per-command budget for them.
var blocking = map[string]bool{
	"xread": true, "xreadgroup": true, "blpop": true, "brpop": true, "brpoplpush": true, "blmove": true,
	"bzpopmin": true, "bzpopmax": true, "bzmpop": true, "blmpop": true, "wait": true, "waitaof": true,
}

// hook gives every command a time budget (CommandBudget; pipelines PipelineBudget) unless the
// caller's deadline is nearer, fails commands at once while Redis is down, and reports failures
// to the tracker; on a cluster, a connection error also reloads the slot map (see Options).
type hook struct {
	h        *Health
	onNetErr func()
}

// CommandBudget bounds one command and PipelineBudget one pipeline or transaction, whatever the
// caller's context says: a frozen server (SIGSTOP) costs a request at most this long.
var (
	CommandBudget  = time.Second
	PipelineBudget = 5 * time.Second
)

func (k hook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil && k.onNetErr != nil {
			k.onNetErr()
		}
		return c, err
	}
}

func (k hook) gate(ctx context.Context) error {
	if k.h.Down() && ctx.Value(bypassKey{}) == nil {
		return ErrUnavailable
	}
	return nil
}

func (k hook) after(err error) {
	if err == nil {
		return
	}
	if Unavailable(err) && !errors.Is(err, ErrUnavailable) {
		if k.onNetErr != nil {
			k.onNetErr()
		}
		k.h.Report(err)
	}
}

func budget(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func (k hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := k.gate(ctx); err != nil {
			cmd.SetErr(err)
			return err
		}
		if !blocking[cmd.Name()] {
			var cancel context.CancelFunc
			ctx, cancel = budget(ctx, CommandBudget)
			defer cancel()
		}
		err := next(ctx, cmd)
		k.after(err)
		return err
	}
}

func (k hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := k.gate(ctx); err != nil {
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		ctx, cancel := budget(ctx, PipelineBudget)
		defer cancel()
		err := next(ctx, cmds)
		if err == nil {
			for _, c := range cmds {
				if cerr := c.Err(); cerr != nil && Unavailable(cerr) {
					err = cerr
					break
				}
			}
		}
		k.after(err)
		return err
	}
}
