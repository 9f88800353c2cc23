package httpserve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Defaults of the options. The servers answer small requests on a unix
// socket or a trusted address; the bounds keep slow or idle clients, and
// many of them, from holding the daemon's memory and file descriptors.
const (
	// DefaultReadHeaderTimeout bounds how long a client may take to send
	// its request headers, so that idle connections cannot pile up.
	DefaultReadHeaderTimeout = 5 * time.Second
	// DefaultReadTimeout bounds how long a client may take to send a
	// whole request, body included.
	DefaultReadTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds how long a client may take to receive a
	// reply (a control request waits for the election, a scrape for
	// the metrics).
	DefaultWriteTimeout = 30 * time.Second
	// DefaultIdleTimeout closes a kept-alive connection that has carried
	// no request for this long, so that idle connections do not hold
	// the places of DefaultMaxConns for long.
	DefaultIdleTimeout = 10 * time.Second
	// DefaultMaxConns is how many connections are open at once; more
	// wait in the listen backlog until one closes.
	DefaultMaxConns = 16
	// DefaultShutdownGrace is how long Serve waits for requests in
	// flight once the context ends.
	DefaultShutdownGrace = 2 * time.Second
)

// An Option changes how Serve runs its server.
type Option func(*options)

type options struct {
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxConns          int
	shutdownGrace     time.Duration
	log               *slog.Logger
}

// WithReadHeaderTimeout sets the server's ReadHeaderTimeout
// (DefaultReadHeaderTimeout if not given).
func WithReadHeaderTimeout(d time.Duration) Option {
	return func(o *options) { o.readHeaderTimeout = d }
}

// WithReadTimeout sets the server's ReadTimeout (DefaultReadTimeout if
// not given).
func WithReadTimeout(d time.Duration) Option {
	return func(o *options) { o.readTimeout = d }
}

// WithWriteTimeout sets the server's WriteTimeout (DefaultWriteTimeout
// if not given).
func WithWriteTimeout(d time.Duration) Option {
	return func(o *options) { o.writeTimeout = d }
}

// WithIdleTimeout sets the server's IdleTimeout (DefaultIdleTimeout if
// not given).
func WithIdleTimeout(d time.Duration) Option {
	return func(o *options) { o.idleTimeout = d }
}

// WithMaxConns sets how many connections are served at once
// (DefaultMaxConns if not given).
func WithMaxConns(n int) Option {
	return func(o *options) { o.maxConns = n }
}

// WithShutdownGrace sets how long Serve waits for requests in flight
// once the context ends (DefaultShutdownGrace if not given).
func WithShutdownGrace(d time.Duration) Option {
	return func(o *options) { o.shutdownGrace = d }
}

// WithLogger routes the server's own error messages (failed accepts,
// panics in handlers) into l, at level warn. Without it they are
// discarded rather than written to the standard library's global logger.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// Serve answers HTTP requests on ln with h until ctx is done, then shuts
// the server down (waiting up to the shutdown grace for requests in
// flight) and returns nil. It returns the error of the listener if serving fails
// first. Either way ln is closed when Serve returns.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ...Option) error {
	o := options{
		readHeaderTimeout: DefaultReadHeaderTimeout,
		readTimeout:       DefaultReadTimeout,
		writeTimeout:      DefaultWriteTimeout,
		idleTimeout:       DefaultIdleTimeout,
		maxConns:          DefaultMaxConns,
		shutdownGrace:     DefaultShutdownGrace,
	}
	for _, opt := range opts {
		opt(&o)
	}
	log := o.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.readHeaderTimeout,
		ReadTimeout:       o.readTimeout,
		WriteTimeout:      o.writeTimeout,
		IdleTimeout:       o.idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if o.maxConns > 0 {
		ln = netutil.LimitListener(ln, o.maxConns)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), o.shutdownGrace)
		defer cancel()
		// After the grace, requests still running are left to finish on
		// their own: the listener is closed either way, and the caller
		// is stopping.
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	case err := <-errc:
		// ErrServerClosed only follows Shutdown or Close, which nothing
		// else calls; it is a clean stop all the same.
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
