package smstest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/socialaid-vn/gateway"
)

// Core stands in for the conversation core in tests of the SMS channel and its transports: it
// answers with what it understood ("Dạ, ý định: application_status. application_code=..."),
// offering the HD keyword. It blocks on Gate when one is set (after signalling Entered), and
// fails while Fail is set.
type Core struct {
	mu      sync.Mutex
	calls   []gateway.Inbound
	Gate    chan struct{}
	Entered chan struct{}
	Fail    error
}

// Handle implements sms.Handler.
func (f *Core) Handle(ctx context.Context, in gateway.Inbound) ([]gateway.Reply, error) {
	f.mu.Lock()
	f.calls = append(f.calls, in)
	gate, entered, fail := f.Gate, f.Entered, f.Fail
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return nil, fail
	}
	intent := in.Intent
	if intent == "" {
		intent = "out_of_scope"
	}
	keys := make([]string, 0, len(in.Entities))
	for k, v := range in.Entities {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return []gateway.Reply{{
		Text:    fmt.Sprintf("Dạ, ý định: %s. %s", intent, strings.Join(keys, " ")),
		Intent:  intent,
		Choices: []gateway.Choice{{Label: "Hướng dẫn", Keyword: "HD"}},
	}}, nil
}

// SetFail sets (or, with nil, clears) the error Handle returns.
func (f *Core) SetFail(err error) {
	f.mu.Lock()
	f.Fail = err
	f.mu.Unlock()
}

// Count is the number of messages handled so far.
func (f *Core) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// Last is the last message handled (the zero Inbound when none).
func (f *Core) Last() gateway.Inbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return gateway.Inbound{}
	}
	return f.calls[len(f.calls)-1]
}

// OptOuts is an in-memory consent store (sms.OptOuts).
type OptOuts struct {
	mu      sync.Mutex
	stopped map[string]string
	Resumed []string
}

// NewOptOuts returns an empty consent store.
func NewOptOuts() *OptOuts { return &OptOuts{stopped: map[string]string{}} }

// Stop implements sms.OptOuts.
func (f *OptOuts) Stop(_ context.Context, ch gateway.Channel, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped[string(ch)+":"+id] = reason
	return nil
}

// Resume implements sms.OptOuts.
func (f *OptOuts) Resume(_ context.Context, ch gateway.Channel, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.stopped, string(ch)+":"+id)
	f.Resumed = append(f.Resumed, id)
	return nil
}

// Stopped implements sms.OptOuts.
func (f *OptOuts) Stopped(_ context.Context, ch gateway.Channel, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.stopped[string(ch)+":"+id]
	return ok, nil
}

// Reason is the stop reason recorded for the SMS number id ("" when not stopped).
func (f *OptOuts) Reason(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stopped["sms:"+id]
}
