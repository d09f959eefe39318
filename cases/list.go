package cases

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// Filter selects cases to list. Empty fields select everything.
type Filter struct {
	Status  Status
	Kind    Kind
	Commune string // one commune (the principal's own restriction applies as well)
	// Overdue lists only cases past a deadline, the most overdue first; otherwise cases come
	// newest first.
	Overdue bool
	// NotClosed lists only cases not closed, the nearest deadline first (the overdue ones
	// first of all): the work waiting, as an inbox shows it.
	NotClosed bool
	// Assignee keeps only the cases assigned to that principal ID; Unassigned only those
	// assigned to nobody.
	Assignee   string
	Unassigned bool
	Cursor     string // from the previous Page's Next
	Limit      int    // 1-200, default 50
}

// Summary is a case in a list: the address masked, a preview of the text, no timeline.
type Summary struct {
	Code        string          `json:"code"`
	Kind        Kind            `json:"kind"`
	Status      Status          `json:"status"`
	Channel     gateway.Channel `json:"channel,omitempty"`
	Address     string          `json:"address,omitempty"` // masked: +849*******01
	Commune     string          `json:"commune,omitempty"`
	Application string          `json:"application_code,omitempty"`
	Assignee    string          `json:"assignee,omitempty"`
	Preview     string          `json:"preview"`
	Created     time.Time       `json:"created_at"`
	Updated     time.Time       `json:"updated_at"`
	FirstDue    time.Time       `json:"first_response_due"`
	ResolveDue  time.Time       `json:"resolve_due"`
	// Due is the deadline that matters now: the first response's until there is one, then
	// the resolution's.
	Due     time.Time `json:"due"`
	Overdue bool      `json:"overdue"`
	Live    bool      `json:"live,omitempty"`
	// LastMessage is the citizen's latest message after the first (clipped), and when it came:
	// what an inbox shows of a conversation going on.
	LastMessage   string     `json:"last_message,omitempty"`
	LastMessageAt *time.Time `json:"last_message_at,omitempty"`
}

// Page is one page of a list; Next, when not empty, gives the following page.
type Page struct {
	Cases []Summary `json:"cases"`
	Next  string    `json:"next"`
}

// maxScan bounds the index entries one page reads when filters leave most of them out; the
// page then ends early with a Next to go on from.
const maxScan = 2000

// List returns the cases the principal may see that match f, one page at a time. The cursor is
// a position in the index (a time and a code), so pages stay consistent while cases are added.
func (s *Service) List(ctx context.Context, p Principal, f Filter) (*Page, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, invalid("status %q is not one of open, assigned, answered, closed", f.Status)
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return nil, invalid("kind %q is not one of complaint, feedback, handoff, callback", f.Kind)
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 0 || f.Limit > 200 {
		return nil, invalid("limit must be 1-200")
	}
	if f.Assignee != "" && f.Unassigned {
		return nil, invalid("assignee and unassigned exclude each other")
	}
	if f.NotClosed && f.Status == Closed {
		return &Page{Cases: []Summary{}}, nil
	}
	if f.Commune != "" && !p.Sees(f.Commune) {
		return &Page{Cases: []Summary{}}, nil
	}
	pos, err := parseCursor(f.Cursor)
	if err != nil {
		return nil, err
	}
	// The index to walk: the narrowest one the filter names. The due index holds every case
	// not closed, by the deadline that matters now.
	key, asc, upToNow := s.allKey(), false, false
	switch {
	case f.Overdue:
		key, asc, upToNow = s.dueKey(), true, true
	case f.NotClosed && f.Status == "":
		key, asc = s.dueKey(), true
	case f.Status != "":
		key = s.indexKey("s", string(f.Status))
	case f.Commune != "":
		key = s.indexKey("m", communeKey(f.Commune))
	case f.Kind != "":
		key = s.indexKey("k", string(f.Kind))
	case p.Communes != nil && len(p.Communes) == 1:
		key = s.indexKey("m", communeKey(p.Communes[0]))
	}
	page := &Page{Cases: []Summary{}}
	now := s.now()
	scanned := 0
	for scanned < maxScan {
		want := int64(min(f.Limit*2, 200)) + 16 // a few more for ties at the cursor's score
		rng := &redis.ZRangeBy{Min: "-inf", Max: "+inf", Count: want}
		if asc {
			if upToNow {
				rng.Max = strconv.FormatInt(ms(now), 10)
			}
			if pos != nil {
				rng.Min = strconv.FormatFloat(pos.score, 'f', 0, 64)
			}
		} else if pos != nil {
			rng.Max = strconv.FormatFloat(pos.score, 'f', 0, 64)
		}
		var zs []redis.Z
		if asc {
			zs, err = s.rdb.ZRangeByScoreWithScores(ctx, key, rng).Result()
		} else {
			zs, err = s.rdb.ZRevRangeByScoreWithScores(ctx, key, rng).Result()
		}
		if err != nil {
			return nil, fmt.Errorf("cases: list: %w", err)
		}
		var todo []cursor
		for _, z := range zs {
			code, _ := z.Member.(string)
			if pos != nil && z.Score == pos.score && (asc && code <= pos.code || !asc && code >= pos.code) {
				continue // at or before the cursor
			}
			todo = append(todo, cursor{score: z.Score, code: code})
		}
		if len(todo) == 0 {
			return page, nil
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(todo))
		for i, c := range todo {
			cmds[i] = pipe.HGetAll(ctx, s.caseKey(c.code))
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, fmt.Errorf("cases: list: %w", err)
		}
		for i, cmd := range cmds {
			scanned++
			pos = &todo[i]
			h := cmd.Val()
			if len(h) == 0 {
				continue // deleted meanwhile
			}
			c := s.fromHash(h)
			if f.Status != "" && c.Status != f.Status || f.Kind != "" && c.Kind != f.Kind ||
				f.Commune != "" && i18n.Key(c.Commune) != i18n.Key(f.Commune) || !p.Sees(c.Commune) || f.Overdue && !c.Overdue ||
				f.NotClosed && c.Status == Closed || f.Assignee != "" && c.Assignee != f.Assignee || f.Unassigned && c.Assignee != "" {
				continue
			}
			page.Cases = append(page.Cases, summary(c))
			if len(page.Cases) == f.Limit {
				page.Next = pos.String()
				return page, s.lastMessages(ctx, page)
			}
		}
		if int64(len(zs)) < want {
			return page, s.lastMessages(ctx, page) // the index is exhausted
		}
	}
	page.Next = pos.String() // read maxScan entries: the caller goes on from here
	return page, s.lastMessages(ctx, page)
}

// lastMessages fills in each listed case's latest citizen message after the first, from the
// end of its timeline (one pipelined read for the page).
func (s *Service) lastMessages(ctx context.Context, page *Page) error {
	if len(page.Cases) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(page.Cases))
	lens := make([]*redis.IntCmd, len(page.Cases))
	for i, c := range page.Cases {
		lens[i] = pipe.LLen(ctx, s.timelineKey(c.Code))
		cmds[i] = pipe.LRange(ctx, s.timelineKey(c.Code), -lastScan, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return fmt.Errorf("cases: list: %w", err)
	}
	for i, cmd := range cmds {
		raw := cmd.Val()
		first := len(raw) - int(lens[i].Val()) // the index in raw of the timeline's first event
		for j := len(raw) - 1; j > first && j >= 0; j-- {
			var e Event
			if json.Unmarshal([]byte(raw[j]), &e) != nil || e.Type != EventMessage || e.Author != "citizen" {
				continue
			}
			at := e.At.In(Vietnam)
			page.Cases[i].LastMessage, page.Cases[i].LastMessageAt = Clip(e.Text, 140), &at
			break
		}
	}
	return nil
}

// lastScan is how many of the latest events a list reads to find the latest citizen message.
const lastScan = 20

func summary(c *Case) Summary {
	return Summary{
		Code: c.Code, Kind: c.Kind, Status: c.Status, Channel: c.Channel, Address: maskedAddress(c),
		Commune: c.Commune, Application: c.Application, Assignee: c.Assignee, Preview: Clip(c.Text, 140),
		Created: c.Created, Updated: c.Updated, FirstDue: c.FirstDue, ResolveDue: c.ResolveDue,
		Due: c.Due(), Overdue: c.Overdue, Live: c.Live,
	}
}

// cursor is a position in an index: the score and code of the last case returned.
type cursor struct {
	score float64
	code  string
}

func (c *cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatFloat(c.score, 'f', 0, 64) + ":" + c.code))
}

func parseCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid("cursor is not one this API gave")
	}
	score, code, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseFloat(score, 64)
	if _, valid := ParseCode(code); !ok || err != nil || !valid {
		return nil, invalid("cursor is not one this API gave")
	}
	return &cursor{score: n, code: code}, nil
}
