package configpush

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// recordTimeout bounds each bookkeeping write.
const recordTimeout = 5 * time.Second

// bookQueue is how many writes a stream may have waiting. ACKs take one
// place at most (they coalesce) and keepalives come every 15 s, while a
// write gives up after recordTimeout, so only a database that hangs for
// minutes fills it.
const bookQueue = 32

// AckRecordEvery is how often at most a stream records its edge's ACKs.
// Only the last ACK matters (what the edge applied, what it rejected), and
// a fleet ACKing a burst of versions would otherwise be a commit per edge
// per version: 100 edges under 1,000 purges a minute made 1,700 commits a
// second, whose WAL and checkpoints then slowed the writes being pushed.
// The database's record of an edge may thus lag by this much; the live
// lag (metrics, the stream itself) does not.
const AckRecordEvery = time.Second

// bookkeeping records one stream's state (connected, ACKs, NACKs, last
// seen) in the database, in order, on a goroutine of its own. The stream
// itself works from memory: a slow or unreachable database must not delay
// the next snapshot to the edge. Failed writes are logged, never fatal.
type bookkeeping struct {
	log  *slog.Logger
	wake chan struct{} // a token when the queue changed
	done chan struct{}

	mu     sync.Mutex
	queue  []bookEntry
	closed bool
}

type bookEntry struct {
	what  string
	write func(context.Context) error
	// latest: a later entry of the same what replaces this one while it
	// waits, and such entries are written AckRecordEvery apart.
	latest bool
}

func startBookkeeping(log *slog.Logger) *bookkeeping {
	b := &bookkeeping{log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go b.run()
	return b
}

func (b *bookkeeping) run() {
	defer close(b.done)
	var lastLatest time.Time
	for {
		e, closed, ok := b.next()
		if !ok {
			if closed {
				return
			}
			<-b.wake
			continue
		}
		if e.latest && !closed {
			// Wait out the interval; ACKs arriving meanwhile replace e.
			if wait := AckRecordEvery - time.Since(lastLatest); wait > 0 {
				select {
				case <-time.After(wait):
				case <-b.wake:
				}
				continue
			}
		}
		b.pop()
		if e.latest {
			lastLatest = time.Now()
		}
		// Not the stream's context: the disconnect is written after the
		// stream has ended.
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		if err := e.write(ctx); err != nil {
			b.log.Warn(e.what, "err", err)
		}
		cancel()
	}
}

// next is the entry at the head of the queue, without taking it.
func (b *bookkeeping) next() (e bookEntry, closed, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		return bookEntry{}, b.closed, false
	}
	return b.queue[0], b.closed, true
}

func (b *bookkeeping) pop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue = b.queue[1:]
}

// add queues a write without waiting. When the queue is full the write is
// dropped and logged: the database then lags the stream until its next
// record of the kind, which beats stalling pushes to the edge.
func (b *bookkeeping) add(what string, write func(context.Context) error) {
	b.push(bookEntry{what: what, write: write})
}

// addLatest queues a write that replaces a waiting one of the same what
// at the tail of the queue: only the latest is written, at most every
// AckRecordEvery.
func (b *bookkeeping) addLatest(what string, write func(context.Context) error) {
	b.push(bookEntry{what: what, write: write, latest: true})
}

func (b *bookkeeping) push(e bookEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	// Only the tail is replaced: an entry queued after the waiting one
	// (a NACK, a disconnect) must still be written after it.
	if n := len(b.queue); e.latest && n > 0 && b.queue[n-1].latest && b.queue[n-1].what == e.what {
		b.queue[n-1] = e
		return
	}
	if len(b.queue) >= bookQueue {
		b.log.Warn("database too slow for edge bookkeeping; record dropped", "what", e.what)
		return
	}
	b.queue = append(b.queue, e)
	b.signal()
}

func (b *bookkeeping) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// finish queues the stream's last write, writes what is waiting at once
// (no ACK interval), and waits, up to recordTimeout, for the queue to
// drain, so a replica shutting down records its edges as disconnected
// before it closes the database.
func (b *bookkeeping) finish(what string, write func(context.Context) error) {
	b.mu.Lock()
	b.queue = append(b.queue, bookEntry{what: what, write: write})
	b.closed = true
	b.signal()
	b.mu.Unlock()
	select {
	case <-b.done:
	case <-time.After(recordTimeout):
		b.log.Warn("edge bookkeeping still writing after the stream ended; not waiting")
	}
}
