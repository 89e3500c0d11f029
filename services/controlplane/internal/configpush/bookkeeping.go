package configpush

import (
	"context"
	"log/slog"
	"time"
)

// recordTimeout bounds each bookkeeping write.
const recordTimeout = 5 * time.Second

// bookQueue is how many writes a stream may have waiting. ACKs come once
// per config version and keepalives every 15 s, while a write gives up
// after recordTimeout, so only a database that hangs for minutes during a
// burst of versions fills it.
const bookQueue = 32

// bookkeeping records one stream's state (connected, ACKs, NACKs, last
// seen) in the database, in order, on a goroutine of its own. The stream
// itself works from memory: a slow or unreachable database must not delay
// the next snapshot to the edge, and with a fleet ACKing every version at
// once the writes take the database far longer than the pushes take the
// network. Failed writes are logged, never fatal.
type bookkeeping struct {
	log   *slog.Logger
	queue chan bookEntry
	done  chan struct{}
}

type bookEntry struct {
	what  string
	write func(context.Context) error
}

func startBookkeeping(log *slog.Logger) *bookkeeping {
	b := &bookkeeping{log: log, queue: make(chan bookEntry, bookQueue), done: make(chan struct{})}
	go b.run()
	return b
}

func (b *bookkeeping) run() {
	defer close(b.done)
	for e := range b.queue {
		// Not the stream's context: the disconnect is written after the
		// stream has ended.
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		if err := e.write(ctx); err != nil {
			b.log.Warn(e.what, "err", err)
		}
		cancel()
	}
}

// add queues a write without waiting. When the queue is full the write is
// dropped and logged: the database then lags the stream until its next
// record of the kind, which beats stalling pushes to the edge.
func (b *bookkeeping) add(what string, write func(context.Context) error) {
	select {
	case b.queue <- bookEntry{what, write}:
	default:
		b.log.Warn("database too slow for edge bookkeeping; record dropped", "what", what)
	}
}

// finish queues the stream's last write and waits, up to recordTimeout, for
// the queue to drain, so a replica shutting down records its edges as
// disconnected before it closes the database.
func (b *bookkeeping) finish(what string, write func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	select {
	case b.queue <- bookEntry{what, write}:
	case <-ctx.Done():
		b.log.Warn("database too slow for edge bookkeeping; record dropped", "what", what)
	}
	close(b.queue)
	select {
	case <-b.done:
	case <-ctx.Done():
		b.log.Warn("edge bookkeeping still writing after the stream ended; not waiting")
	}
}
