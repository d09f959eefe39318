package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/zalo"
)

// cmdChat talks to the gateway in a terminal, rendering replies as the chosen channel would.
// With a terminal on stdin it prompts; otherwise each input line is one message, and the replies
// to it are followed by a line "---", so that scripts and tests can drive it.
func cmdChat(ctx context.Context, env *environ, args []string) error {
	fl := flag.NewFlagSet("chat", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	lang := fl.String("lang", "", "language: vi or en (default: DEFAULT_LANG, or what the conversation chose)")
	channel := fl.String("channel", "telegram", "render replies as this channel would: telegram, sms or zalo")
	from := fl.String("from", "", "sender id (Telegram user id, or phone number for sms)")
	if err := fl.Parse(args); err != nil {
		return errUsage
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fl.Arg(0))
	}
	if *lang != "" && *lang != "vi" && *lang != "en" {
		return fmt.Errorf("%w: --lang must be vi or en", errUsage)
	}
	cfg, err := config.Load(env.getenv)
	if err != nil {
		return err
	}
	interactive := isTerminal(env.stdin)
	level := "warn"
	if cfg.LogLevel == "debug" {
		level = "debug"
	}
	log := newLogger(env.stderr, level)
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.conn.Embedded {
		fmt.Fprintln(env.stderr, "(embedded in-memory Redis with demo data: set REDIS_URL to use a real server)")
	}

	var reply func(ctx context.Context, text string) ([]gateway.Reply, string, error)
	var ch gateway.Channel
	switch *channel {
	case "telegram":
		ch = gateway.Terminal
		if *from == "" {
			*from = "terminal"
		}
		reply = func(ctx context.Context, text string) ([]gateway.Reply, string, error) {
			rs, err := a.engine.Handle(ctx, gateway.Inbound{Channel: gateway.Terminal, SenderID: *from, Text: text, Received: time.Now()})
			return rs, renderTerminal(rs), err
		}
	case "sms":
		ch = gateway.SMS
		if *from == "" {
			*from = "+84900000001"
		}
		smsc, err := sms.New(sms.Config{MaxSegments: cfg.SMSMaxSegments, Unicode: cfg.SMSUnicode, Catalog: a.cat, Lang: cfg.DefaultLang},
			a.conn.Client, a.engine, a.aud, a.communes, log)
		if err != nil {
			return err
		}
		n := 0
		reply = func(ctx context.Context, text string) ([]gateway.Reply, string, error) {
			n++
			out, err := smsc.Reply(ctx, *from, text, fmt.Sprintf("SMchat%d%d", time.Now().UnixNano(), n))
			return nil, out, err
		}
	case "zalo":
		ch = gateway.Zalo
		if *from == "" {
			*from = "zalo-terminal"
		}
		var picks, numbered []string
		reply = func(ctx context.Context, text string) ([]gateway.Reply, string, error) {
			// "#N" presses button N; a bare number picks from a numbered list, as on Zalo.
			if n, err := strconv.Atoi(strings.TrimPrefix(text, "#")); err == nil && n >= 1 {
				switch {
				case strings.HasPrefix(text, "#") && n <= len(picks):
					text = picks[n-1]
				case !strings.HasPrefix(text, "#") && n <= len(numbered):
					text = numbered[n-1]
				}
			}
			rs, err := a.engine.Handle(ctx, gateway.Inbound{Channel: gateway.Zalo, SenderID: *from, Text: text, Received: time.Now()})
			var out string
			out, picks, numbered = zalo.Preview(a.cat, replyLang(rs, cfg.DefaultLang), rs)
			return nil, out, err
		}
	default:
		return fmt.Errorf("%w: --channel must be telegram, sms or zalo", errUsage)
	}
	if *lang != "" {
		id := *from
		if ch == gateway.SMS {
			if id, err = sms.NormalizePhone(id); err != nil {
				return fmt.Errorf("%w: --from: %v", errUsage, err)
			}
		}
		if err := a.engine.SetLanguage(ctx, ch, id, *lang); err != nil {
			return err
		}
	}

	in := bufio.NewScanner(env.stdin)
	in.Buffer(make([]byte, 64*1024), 64*1024)
	var last []gateway.Reply
	if interactive {
		fmt.Fprintln(env.stdout, "Gõ câu hỏi rồi nhấn Enter; #số để chọn một nút; Ctrl-D để thoát. (Type a question; #N picks an option; Ctrl-D quits.)")
		fmt.Fprint(env.stdout, "> ")
	}
	for in.Scan() {
		if ctx.Err() != nil {
			return nil
		}
		text := strings.TrimSpace(in.Text())
		if p, ok := pickChoice(text, last); ok {
			text = p
		}
		rs, out, err := reply(ctx, text)
		if err != nil {
			fmt.Fprintf(env.stderr, "error: %v\n", err)
		}
		last = rs
		fmt.Fprintln(env.stdout, out)
		if interactive {
			fmt.Fprint(env.stdout, "\n> ")
		} else {
			fmt.Fprintln(env.stdout, "---")
		}
	}
	return in.Err()
}

// replyLang is the language the replies are in (the core sets it), else def.
func replyLang(rs []gateway.Reply, def string) string {
	for _, r := range rs {
		if r.Lang != "" {
			return r.Lang
		}
	}
	return def
}

// pickChoice maps "#N" to the payload of the N-th option of the last replies.
func pickChoice(text string, last []gateway.Reply) (string, bool) {
	if !strings.HasPrefix(text, "#") {
		return "", false
	}
	n, err := strconv.Atoi(strings.TrimSpace(text[1:]))
	if err != nil || n < 1 {
		return "", false
	}
	for _, r := range last {
		if n <= len(r.Choices) {
			return r.Choices[n-1].Payload, true
		}
		n -= len(r.Choices)
	}
	return "", false
}

// renderTerminal shows replies as a Telegram user would see them: the full text, then the
// buttons, numbered so that "#N" picks one.
func renderTerminal(rs []gateway.Reply) string {
	var b strings.Builder
	n := 0
	for i, r := range rs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(r.Text)
		for _, c := range r.Choices {
			n++
			fmt.Fprintf(&b, "\n  [#%d] %s", n, c.Label)
		}
		if r.RequestContact {
			b.WriteString("\n  [request_contact]")
		}
	}
	return b.String()
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
