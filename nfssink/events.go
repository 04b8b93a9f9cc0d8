package nfssink

import (
	"sync"
	"time"
)

// Event is one thing that happened in the sink, as the control API's event
// stream delivers it. Custody-log records are events too.
type Event struct {
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	Data any       `json:"data,omitempty"`
}

// EventSubscribed is the first event of every event stream: from it on,
// the subscriber receives every event.
const EventSubscribed = "events.subscribed"

// eventBus fans events out to subscribers without ever blocking the NFS
// path: a subscriber that falls behind loses events and is told so.
type eventBus struct {
	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool
}

func newEventBus() *eventBus { return &eventBus{subs: map[chan Event]struct{}{}} }

func (b *eventBus) subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 256)
	b.mu.Lock()
	if b.closed {
		close(ch)
	} else {
		b.subs[ch] = struct{}{}
	}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}
}

func (b *eventBus) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
			select { // make room and say what was lost
			case <-ch:
			default:
			}
			select {
			case ch <- Event{Type: "events.dropped", Time: e.Time}:
			default:
			}
		}
	}
}

func (b *eventBus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		close(ch)
		delete(b.subs, ch)
	}
}
