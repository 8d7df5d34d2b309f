package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// replayProgress writes progress lines for a delivering replay.
type replayProgress struct {
	mu       sync.Mutex
	st       *replayState
	position uint64 // of the last event published
	started  time.Time
	// startDelivered and startPosition are where this run started.
	startDelivered uint64
	startPosition  uint64
}

func (p *replayProgress) update(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn()
}

// line is "replay: 1200 events delivered, position 5321 of 4000-9000 [=====>              ]
// 26.4%, 850 events/s, ETA 6s".
func (p *replayProgress) line() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	pos := max(p.position, st.DeliveredThrough)
	span := float64(st.ToPosition - st.FromPosition + 1)
	done := 0.0
	if pos >= st.FromPosition {
		done = min(1, float64(pos-st.FromPosition+1)/span)
	}
	const width = 20
	bar := strings.Repeat("=", int(done*width))
	if len(bar) < width {
		bar += ">" + strings.Repeat(" ", width-len(bar)-1)
	}
	elapsed := time.Since(p.started).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(st.Delivered-p.startDelivered) / elapsed
	}
	eta := "unknown"
	switch {
	case done >= 1:
		eta = "0s"
	case pos > p.startPosition && elapsed > 0:
		// From how fast this run moved through positions so far.
		perSec := float64(pos-p.startPosition) / elapsed
		eta = time.Duration(float64(st.ToPosition-pos) / perSec * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("replay: %d events delivered, position %d of %d-%d [%s] %.1f%%, %.0f events/s, ETA %s",
		st.Delivered, pos, st.FromPosition, st.ToPosition, bar, 100*done, rate, eta)
}

// report writes a progress line every interval until the returned stop is called, which writes
// the last one.
func (p *replayProgress) report(w io.Writer, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintln(w, p.line())
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		fmt.Fprintln(w, p.line())
	}
}
