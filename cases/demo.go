package cases

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/socialaid-vn/gateway"
)

// DemoFile holds the demo cases the embedded demo starts with.
const DemoFile = "demo/cases.toml"

type demoEvent struct {
	After string `toml:"after"`
	Type  string `toml:"type"`
	By    string `toml:"by"`
	Text  string `toml:"text"`
	To    string `toml:"to"`
}

type demoCase struct {
	Kind    Kind        `toml:"kind"`
	Channel string      `toml:"channel"`
	Address string      `toml:"address"`
	Commune string      `toml:"commune"`
	Lang    string      `toml:"lang"`
	Text    string      `toml:"text"`
	Ago     string      `toml:"ago"`
	Event   []demoEvent `toml:"event"`
}

// LoadDemo opens the demo cases of DemoFile (fsys is the data files) as if they had been opened
// and handled at the times the file gives, before now, and returns how many it opened. It is
// for the embedded demo only. Nothing is sent to anyone and no staff member is told: a staff
// reply is recorded as undeliverable (no_channel). The whole file is checked before anything is
// written; a mistake is an error naming the file and line.
func (s *Service) LoadDemo(ctx context.Context, fsys fs.FS) (int, error) {
	raw, err := fs.ReadFile(fsys, DemoFile)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", DemoFile, err)
	}
	var f struct {
		Case []demoCase `toml:"case"`
	}
	md, err := toml.Decode(string(raw), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return 0, fmt.Errorf("%s:%d: %s", DemoFile, pe.Position.Line, pe.Message)
		}
		return 0, fmt.Errorf("%s: %w", DemoFile, err)
	}
	text := string(raw)
	if keys := md.Undecoded(); len(keys) > 0 {
		return 0, fmt.Errorf("%s:%d: unknown key %q", DemoFile, keyLine(text, keys[0][len(keys[0])-1]), keys[0].String())
	}
	now := s.now()
	type plan struct {
		n      NewCase
		opened time.Time
		events []demoEvent
		at     []time.Time
	}
	var plans []plan
	evIndex := 0
	for i, c := range f.Case {
		line := nthLine(text, "[[case]]", i+1)
		fail := func(format string, a ...any) error {
			return fmt.Errorf("%s:%d: case %d: %s", DemoFile, line, i+1, fmt.Sprintf(format, a...))
		}
		ago, err := time.ParseDuration(c.Ago)
		if err != nil || ago < 0 || ago > 60*24*time.Hour {
			return 0, fail("ago %q is not a duration between 0 and 1440h (e.g. \"50h\")", c.Ago)
		}
		if !c.Kind.Valid() {
			return 0, fail("kind %q is not one of complaint, feedback, handoff, callback", c.Kind)
		}
		ch := gateway.Channel(c.Channel)
		if !ch.Valid() || ch == gateway.Terminal {
			return 0, fail("channel %q is not one of telegram, sms, web, zalo", c.Channel)
		}
		if strings.TrimSpace(c.Address) == "" {
			return 0, fail("address is required")
		}
		commune, ok := s.commune(c.Commune)
		if !ok {
			return 0, fail("commune %q is not in knowledge/communes.csv", c.Commune)
		}
		if _, err := cleanText("text", c.Text, MaxCaseText); err != nil {
			return 0, fail("%v", err)
		}
		p := plan{n: NewCase{Kind: c.Kind, Channel: ch, Address: c.Address, Commune: commune, Lang: c.Lang, Text: c.Text},
			opened: now.Add(-ago), events: c.Event}
		for j, e := range c.Event {
			evIndex++
			eline := nthLine(text, "[[case.event]]", evIndex)
			efail := func(format string, a ...any) error {
				return fmt.Errorf("%s:%d: case %d, event %d: %s", DemoFile, eline, i+1, j+1, fmt.Sprintf(format, a...))
			}
			after, err := time.ParseDuration(e.After)
			if err != nil || after < 0 {
				return 0, efail("after %q is not a duration (e.g. \"3h\")", e.After)
			}
			if after > ago {
				return 0, efail("after %s is later than now (the case was opened %s ago)", e.After, c.Ago)
			}
			switch e.Type {
			case "message", "reply", "note", "close":
				if e.Type != "close" {
					if _, err := cleanText("text", e.Text, MaxText); err != nil {
						return 0, efail("%v", err)
					}
				}
			case "assign":
				if strings.TrimSpace(e.To) == "" {
					return 0, efail("assign needs to")
				}
			case "reopen":
			default:
				return 0, efail("type %q is not one of message, reply, note, assign, close, reopen", e.Type)
			}
			if e.Type != "message" && strings.TrimSpace(e.By) == "" {
				return 0, efail("%s needs by (a staff principal ID such as console:admin)", e.Type)
			}
			p.at = append(p.at, p.opened.Add(after))
		}
		plans = append(plans, p)
	}
	n := 0
	for _, p := range plans {
		at := p.opened
		demo := *s
		demo.out, demo.audits = nil, nil // nobody is messaged; the demo is not a staff action
		demo.cfg.Now = func() time.Time { return at }
		c, err := demo.OpenForCitizen(ctx, p.n)
		if err != nil {
			return n, fmt.Errorf("%s: %w", DemoFile, err)
		}
		n++
		for j, e := range p.events {
			at = p.at[j]
			by := Principal{ID: e.By}
			switch e.Type {
			case "message":
				_, err = demo.AddMessage(ctx, c.Channel, c.Address, c.Code, e.Text)
			case "reply":
				_, err = demo.Reply(ctx, by, c.Code, e.Text)
			case "note":
				_, err = demo.Note(ctx, by, c.Code, e.Text)
			case "assign":
				_, err = demo.Assign(ctx, by, c.Code, e.To)
			case "close":
				_, err = demo.Close(ctx, by, c.Code, e.Text)
			case "reopen":
				_, err = demo.Reopen(ctx, by, c.Code)
			}
			if err != nil {
				return n, fmt.Errorf("%s: %s, event %d: %w", DemoFile, c.Code, j+1, err)
			}
		}
	}
	return n, nil
}

// nthLine is the line number of the nth (1-based) line starting with prefix, or 0.
func nthLine(raw, prefix string, nth int) int {
	k := 0
	for i, l := range strings.Split(raw, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			if k++; k == nth {
				return i + 1
			}
		}
	}
	return 0
}

func keyLine(raw, key string) int {
	for i, l := range strings.Split(raw, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), key); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
			return i + 1
		}
	}
	return 0
}
