package model

import (
	"context"
	"log/slog"
	"time"
)

// runBatches is the loop of the batching writers (the audit buffer, the
// token last-use buffer): it calls flush every interval and once more when
// ctx ends, calls each of the hourly jobs once at the start and then every
// hour, and closes done when it returns. A failed flush is logged with
// what it writes; the writer keeps its data for the next try.
func runBatches(ctx context.Context, done chan struct{}, interval time.Duration, what string, flush func() error, hourly ...func()) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	hour := time.NewTicker(time.Hour)
	defer hour.Stop()
	for _, job := range hourly {
		job()
	}
	write := func() {
		if err := flush(); err != nil {
			slog.Error("writing "+what+" failed", "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			write()
			return
		case <-t.C:
			write()
		case <-hour.C:
			for _, job := range hourly {
				job()
			}
		}
	}
}
