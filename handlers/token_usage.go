package handlers

import (
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// tokenUseInterval is how often last-use times of access tokens are
// written: one write transaction every few seconds at most, however many
// API requests arrive.
const tokenUseInterval = 5 * time.Second

// tokenUseFlusher writes the last uses of access tokens in batches. The
// writer goroutine starts with the first recorded use, so an app that
// never sees a token runs none; close stops it and writes what is left.
type tokenUseFlusher struct {
	buf      *model.TokenUseBuffer
	interval time.Duration
	start    sync.Once
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func newTokenUseFlusher(store *model.Store, interval time.Duration) *tokenUseFlusher {
	return &tokenUseFlusher{buf: model.NewTokenUseBuffer(store), interval: interval,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// record notes a use of the token with hash.
func (f *tokenUseFlusher) record(hash string, at time.Time, ip string) {
	f.buf.Record(hash, at, ip)
	f.start.Do(func() { go f.run() })
}

// latest applies a pending use to t.
func (f *tokenUseFlusher) latest(t model.Token) model.Token { return f.buf.Latest(t) }

func (f *tokenUseFlusher) run() {
	defer close(f.done)
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-tick.C:
			if err := f.buf.Flush(); err != nil {
				slog.Error("writing token last-use times failed", "err", err)
			}
		}
	}
}

// flush writes the pending uses now.
func (f *tokenUseFlusher) flush() error { return f.buf.Flush() }

// close stops the writer and writes the pending uses.
func (f *tokenUseFlusher) close() error {
	f.stopOnce.Do(func() {
		close(f.stop)
		// Never started: mark it done, which also keeps it from starting.
		f.start.Do(func() { close(f.done) })
		<-f.done
	})
	return f.buf.Flush()
}

// Close writes what the handler keeps in memory for later (last-use times
// of access tokens) and stops its background writer. Call it after the
// app has shut down and before the store closes.
func (h *Handler) Close() error { return h.tokenUses.close() }
