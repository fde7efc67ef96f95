package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leakguard/leakguard"
	"github.com/leakguard/leakguard/keyformat"
)

// ReplayResult counts what ReplayDead did.
type ReplayResult struct {
	Replayed int // put back on leaks.hits.<source> and removed from the dead letters
	Kept     int // not a valid hit: left in the dead-letter stream for a person to look at
}

// ReplayDead puts the dead-lettered hits of source (every source if empty)
// back on the hit stream, once whatever made the revoker give up on them is
// fixed. Each replayed hit gets a fresh Nats-Msg-Id derived from its dead
// letter, so it is not dropped as a duplicate of the original, while
// running ReplayDead twice (or again after a crash) republishes nothing
// twice within the duplicate window. Dead letters that are not valid hits
// stay where they are.
func (b *Bus) ReplayDead(ctx context.Context, source string) (ReplayResult, error) {
	var res ReplayResult
	stream, err := b.js.Stream(ctx, b.cfg.DeadStreamName)
	if err != nil {
		return res, fmt.Errorf("replay dead letters: stream %s: %w", b.cfg.DeadStreamName, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return res, fmt.Errorf("replay dead letters: %w", err)
	}
	if info.State.Msgs == 0 {
		return res, nil
	}
	want := ""
	if source != "" {
		want = b.subj.Dead(source)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		raw, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted: replayed before, or aged out
		}
		if err != nil {
			return res, fmt.Errorf("replay dead letters: read %d: %w", seq, err)
		}
		if want != "" && raw.Subject != want {
			continue
		}
		var hit leakguard.Hit
		if json.Unmarshal(raw.Data, &hit) != nil || hit.Validate() != nil || keyformat.ContainsKey(raw.Data) {
			res.Kept++
			continue
		}
		msg := &nats.Msg{
			Subject: b.subj.Hit(hit.Source),
			Data:    raw.Data,
			Header:  nats.Header{jetstream.MsgIDHeader: []string{hit.MsgID() + ":replay:" + strconv.FormatUint(seq, 10)}},
		}
		if _, err := b.pub.publish(ctx, msg); err != nil {
			return res, fmt.Errorf("replay dead letter %d: %w", seq, err)
		}
		if err := stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return res, fmt.Errorf("replay dead letters: remove %d: %w", seq, err)
		}
		res.Replayed++
		b.cfg.Logger.Info("dead letter replayed", "source", hit.Source, "redacted", hit.Redacted, "dead_seq", seq)
	}
	return res, nil
}
