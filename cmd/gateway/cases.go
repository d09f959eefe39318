package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/knowledge"
	"github.com/socialaid-vn/gateway/redisconn"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/stats"
)

// caseStaff is STAFF_TELEGRAM_IDS as the staff the cases service tells about new and overdue
// cases, each commune checked against communes.csv.
func caseStaff(cfg config.Config, kb *knowledge.Base) ([]cases.Staff, error) {
	var out []cases.Staff
	for _, id := range cfg.StaffTelegramIDs {
		st := cases.Staff{ID: "telegram:" + strconv.FormatInt(id, 10), Channel: gateway.Telegram, Address: strconv.FormatInt(id, 10)}
		for _, name := range cfg.StaffCommunes[id] {
			c, ok := kb.Commune(name)
			if !ok {
				return nil, fmt.Errorf("STAFF_TELEGRAM_IDS: %d: unknown commune %q (names are those of knowledge/communes.csv)", id, name)
			}
			st.Communes = append(st.Communes, c.Name)
		}
		out = append(out, st)
	}
	return out, nil
}

// normalizeAddress puts an address staff typed into the channel's form: a phone number into
// E.164 for SMS.
func normalizeAddress(ch gateway.Channel, addr string) (string, error) {
	if ch == gateway.SMS {
		return sms.NormalizePhone(addr)
	}
	return strings.TrimSpace(addr), nil
}

// checkPersistence logs how the Redis server keeps its data, warning when cases and
// subscriptions could be lost; /readyz shows the same.
func (a *app) checkPersistence(ctx context.Context) {
	p, err := redisconn.CheckPersistence(ctx, a.conn.Client)
	if err != nil {
		a.persistence = "unknown (" + err.Error() + ")"
		a.log.Warn("cannot read the Redis persistence settings", "err", err)
		return
	}
	a.persistence = p.String()
	if w := p.Warning(); w != "" {
		a.persistence += "\nwarning: " + w
		a.log.Warn(w, "persistence", p.String())
		return
	}
	a.log.Info("redis persistence", "persistence", p.String())
}

// casesOutbox is the broadcast service's direct messages as the cases service's outbox.
type casesOutbox struct{ bc *broadcast.Service }

func (o casesOutbox) Send(ctx context.Context, id string, out gateway.Outbound) error {
	err := o.bc.Direct(ctx, id, out)
	if errors.Is(err, broadcast.ErrNoSender) {
		return cases.ErrNoChannel
	}
	return err
}

// stopReasons are the outcomes that mean the person cannot be reached on that channel.
var stopReasons = map[string]bool{"blocked": true, "deactivated": true, "kicked": true, "not_started": true,
	"forbidden": true, "opted_out": true, "invalid_number": true, "invalid_recipient": true, "not_mobile": true,
	"unsupported_destination": true, "chat_not_found": true, "session_expired": true}

func (o casesOutbox) Outcome(ctx context.Context, id string) (cases.Delivery, error) {
	oc, err := o.bc.DirectOutcome(ctx, id)
	if errors.Is(err, broadcast.ErrNotFound) {
		return cases.Delivery{}, cases.ErrNotFound
	}
	if err != nil {
		return cases.Delivery{}, err
	}
	d := cases.Delivery{Reason: oc.Reason, At: time.Now()}
	switch {
	case oc.State == "sent":
		d.State = cases.DeliverySent
	case oc.State == "pending":
		d.State = cases.DeliveryQueued
	case stopReasons[oc.Reason]:
		d.State = cases.DeliveryUndeliverable
	default:
		d.State = cases.DeliveryFailed
	}
	return d, nil
}

// cmdCases is `gateway cases export [--from YYYY-MM-DD] [--to YYYY-MM-DD] FILE|-`: every case
// opened in the period (Vietnam dates, inclusive), with its timeline, as JSONL, for archiving.
// The file is written whole or not at all (a temporary file renamed at the end).
func cmdCases(ctx context.Context, env *environ, args []string) error {
	if len(args) == 0 || args[0] != "export" {
		return fmt.Errorf("%w: want `export [--from DATE] [--to DATE] FILE`", errUsage)
	}
	fl := flag.NewFlagSet("cases export", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	from := fl.String("from", "", "first day, YYYY-MM-DD (default: the first case)")
	to := fl.String("to", "", "last day, YYYY-MM-DD (default: today)")
	if err := fl.Parse(args[1:]); err != nil {
		return errUsage
	}
	if fl.NArg() != 1 {
		return fmt.Errorf("%w: one FILE (or - for standard output)", errUsage)
	}
	var start, end time.Time
	var err error
	if *from != "" {
		if start, err = time.ParseInLocation(time.DateOnly, *from, cases.Vietnam); err != nil {
			return fmt.Errorf("%w: --from %q is not YYYY-MM-DD", errUsage, *from)
		}
	}
	if *to != "" {
		t, err := time.ParseInLocation(time.DateOnly, *to, cases.Vietnam)
		if err != nil {
			return fmt.Errorf("%w: --to %q is not YYYY-MM-DD", errUsage, *to)
		}
		end = t.AddDate(0, 0, 1)
	}
	svc, closeConn, err := offlineCases(ctx, env)
	if err != nil {
		return err
	}
	defer closeConn()
	file := fl.Arg(0)
	if file == "-" {
		n, err := svc.Export(ctx, env.stdout, start, end)
		if err == nil {
			fmt.Fprintf(env.stderr, "%d cases exported\n", n)
		}
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".cases-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil { // personal data
		tmp.Close()
		return err
	}
	n, err := svc.Export(ctx, tmp, start, end)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%d cases exported to %s\n", n, file)
	return nil
}

// offlineCases opens the cases of REDIS_URL for a command (the embedded Redis lives only inside
// serve and chat).
func offlineCases(ctx context.Context, env *environ) (*cases.Service, func(), error) {
	cfg, conn, err := offlineRedis(ctx, env, "cases export", embeddedOnlyInServe)
	if err != nil {
		return nil, nil, err
	}
	cat, kb, err := loadTexts(cfg)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return cases.New(conn.Client, kb, cat, nil, nil, cases.Config{}, nil), func() { conn.Close() }, nil
}

// cmdStats prints the supervision figures: `gateway stats [--from DATE] [--to DATE] [--json]`
// (the last 30 days by default), per commune and in total.
func cmdStats(ctx context.Context, env *environ, args []string) error {
	fl := flag.NewFlagSet("stats", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	from := fl.String("from", "", "first day, YYYY-MM-DD (default: 29 days before --to)")
	to := fl.String("to", "", "last day, YYYY-MM-DD (default: today)")
	asJSON := fl.Bool("json", false, "print JSON, as GET /api/stats gives")
	if err := fl.Parse(args); err != nil {
		return errUsage
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fl.Arg(0))
	}
	start, end, err := stats.ParsePeriod(*from, *to, time.Now())
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	_, conn, err := offlineRedis(ctx, env, "stats", embeddedOnlyInServe+" (use GET /api/stats there)")
	if err != nil {
		return err
	}
	defer conn.Close()
	rep, err := stats.New(conn.Client, nil).Report(ctx, start, end)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	return rep.Write(env.stdout)
}

// loadTexts reads the catalog and the knowledge base only (commands that need no understanding).
func loadTexts(cfg config.Config) (*i18n.Catalog, *knowledge.Base, error) {
	fsys, err := data.Open(cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	cat, err := i18n.LoadCatalog(fsys)
	if err != nil {
		return nil, nil, err
	}
	kb, err := knowledge.Load(fsys)
	return cat, kb, err
}
