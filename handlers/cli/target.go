package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers/control"
	"github.com/gatehouse-panel/gatehouse/model"
)

// lockTimeout is how long a command waits for another command that holds
// the database; long enough to queue behind one, short enough to tell a
// person quickly that something else keeps it.
const lockTimeout = 3 * time.Second

// target is where the database is open: this process or the panel's.
type target interface {
	Exec(ctx context.Context, req control.Request) (control.Result, error)
	Backup(ctx context.Context, w io.Writer) (int64, error)
	Close() error
}

// localTarget runs commands on a store this process opened.
type localTarget struct{ store *model.Store }

func (l localTarget) Exec(ctx context.Context, req control.Request) (control.Result, error) {
	return Exec(ctx, l.store, req), nil
}

func (l localTarget) Backup(_ context.Context, w io.Writer) (int64, error) {
	return l.store.Backup(w)
}

func (l localTarget) Close() error { return l.store.Close() }

// connect reaches the database: through the running panel when it answers
// on the control socket, else by opening the file.
func (inv *invocation) connect(ctx context.Context) error {
	t, err := connectTarget(ctx, inv.dataDir, inv.env.open)
	if err != nil {
		return err
	}
	inv.target = t
	return nil
}

func (inv *invocation) close() {
	if inv.target != nil {
		inv.target.Close()
	}
}

// connectTarget tries the control socket in dir, then the database file.
func connectTarget(ctx context.Context, dir string, opts model.Options) (target, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var sockErr error
	c, err := control.Connect(ctx, abs)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, control.ErrNoServer):
		// Nobody listens: open the file.
	case errors.Is(err, control.ErrPermission):
		// The file may still open (then no panel runs); if not, say both.
		sockErr = err
	default:
		return nil, err
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = lockTimeout
	}
	opts.Create = false // only serve creates a database
	store, err := model.Open(abs, opts)
	if err != nil {
		if sockErr != nil {
			return nil, fmt.Errorf("%w; %v", err, sockErr)
		}
		if errors.Is(err, model.ErrNoDatabase) {
			return nil, fmt.Errorf("%w; start gatehouse serve there once, or pass --data", err)
		}
		return nil, err
	}
	return localTarget{store}, nil
}
