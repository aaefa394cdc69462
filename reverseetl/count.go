package reverseetl

import (
	"context"
	"fmt"

	"github.com/retl-go/retl/sink"
)

// sendCounted serves a sink.Counter: records wait in the buffer until the
// source is read, then a sink.CountChecker checks them all and the sink's
// Hint gets the total with Final set, and only when both accept are the
// records handed to the writers, in batches. A refusal leaves every
// record unsent, with the sink's reason.
func (t *transformStage) sendCounted(final bool) error {
	if !final {
		return nil
	}
	t.hinted = true
	// Records the sink holds back are not counted: they are never sent.
	var kept []sink.Record
	for start := 0; start < len(t.buf); start += t.batch {
		recs, err := t.screen(t.buf[start:min(start+t.batch, len(t.buf))])
		if err != nil {
			t.rec.skipAll(kept, errStopped)
			t.rec.skipAll(t.buf[min(start+t.batch, len(t.buf)):], errStopped)
			t.buf = nil
			return err
		}
		kept = append(kept, recs...)
	}
	t.buf = kept
	if cc, ok := t.sink.(sink.CountChecker); ok {
		if err := cc.CheckCount(t.ctx, t.buf); err != nil {
			t.rec.skipAll(t.buf, notSent(err.Error()))
			t.buf = nil
			return fmt.Errorf("count: %w", err)
		}
	}
	if h, ok := t.sink.(sink.Hinter); ok {
		if err := h.Hint(t.ctx, sink.Hint{Records: len(t.buf), Final: true}); err != nil {
			t.rec.skipAll(t.buf, notSent(err.Error()))
			t.buf = nil
			return fmt.Errorf("hint: %w", err)
		}
	}
	held := t.buf
	t.buf = nil
	for start := 0; start < len(held); start += t.batch {
		recs := held[start:min(start+t.batch, len(held))]
		select {
		case t.out <- recs:
		case <-t.ctx.Done():
			t.rec.skipAll(held[start:], stopReason(t.parent, context.Cause(t.ctx)))
			return nil
		}
	}
	return nil
}
