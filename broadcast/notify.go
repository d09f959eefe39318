package broadcast

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/partition"
)

// vnZone is Vietnam time (UTC+7, no daylight saving): reminder days and quiet hours use it.
var vnZone = time.FixedZone("ICT", 7*3600)

// Reminders go out between these hours, Vietnam time. One reminder announces a round: the
// sessions within roundDays of the first; the last day it announced is remembered for
// reminderMarkerTTL.
const (
	reminderFromHour  = 7
	reminderUntilHour = 20
	roundDays         = 14
	reminderMarkerTTL = 60 * 24 * time.Hour
)

// reminders checks the payment schedules every ReminderEvery and queues the reminders due; after
// an error (Redis away) it checks again within a minute instead of waiting the whole interval
// (a reminder's id makes a repeated check create nothing twice).
func (s *Service) reminders(ctx context.Context) {
	for {
		every := s.cfg.ReminderEvery
		if _, err := s.RemindDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("broadcast reminders", "err", err)
			every = min(every, time.Minute)
		}
		if !sleep(ctx, every) {
			return
		}
	}
}

// RemindDue queues the payment-day reminders due now and returns how many it created. A commune's
// reminder is due from 07:00 (Vietnam time) ReminderDaysBefore days before the session's day
// until the session starts, between 07:00 and 20:00; it goes to the commune's subscribers on
// every channel, once: its id is made of the day and the commune, so replicas and restarts
// cannot repeat it. Run calls it every ReminderEvery.
func (s *Service) RemindDue(ctx context.Context) (int, error) {
	if s.schedules == nil || s.cat == nil {
		return 0, nil
	}
	now := s.now()
	local := now.In(vnZone)
	if local.Hour() < reminderFromHour || local.Hour() >= reminderUntilHour {
		return 0, nil
	}
	var errs []error
	created := 0
	for _, commune := range s.cfg.Communes {
		sessions, err := s.schedules.Payments(ctx, commune, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var coming []Schedule
		for _, sc := range sessions {
			if sc.Start.After(now) {
				coming = append(coming, sc)
			}
		}
		if len(coming) == 0 {
			continue
		}
		day := dayOf(coming[0].Start)
		from := day.AddDate(0, 0, -s.cfg.ReminderDaysBefore).Add(reminderFromHour * time.Hour)
		if now.Before(from) {
			continue
		}
		// One reminder for the round: every method's session within roundDays of the first
		// (the bank transfer, the cash session and the post office of the same month), so that
		// nobody gets three messages or reads a session of another method as theirs alone.
		round := coming[:1]
		for _, sc := range coming[1:] {
			if sc.Start.Before(day.AddDate(0, 0, roundDays)) {
				round = append(round, sc)
			}
		}
		ck := strings.ReplaceAll(audience.CommuneKey(commune), " ", "_")
		// Sessions an earlier reminder listed are not announced again when their turn comes.
		marker := s.p + "reminded:" + ck
		if last, err := s.rdb.Get(ctx, marker).Result(); err == nil && day.Format("20060102") <= last {
			continue
		} else if err != nil && !errors.Is(err, redis.Nil) {
			errs = append(errs, err)
			continue
		}
		id := "r-" + day.Format("20060102") + "-" + ck
		p := &plan{
			filter: audience.Filter{Communes: []string{commune}, Channels: s.channels()},
			msgs:   map[string]gateway.Reply{},
		}
		for _, lang := range i18n.Langs {
			p.msgs[lang] = s.reminderReply(lang, round)
		}
		ok, err := s.create(ctx, id, KindReminder, laneBulk, checkSubscribed, p, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lastDay := dayOf(round[len(round)-1].Start).Format("20060102")
		if err := s.rdb.Set(ctx, marker, lastDay, reminderMarkerTTL).Err(); err != nil {
			s.log.Warn("payment reminder: round not remembered (a later session of it may be announced again)", "id", id, "err", err)
		}
		if ok {
			created++
			s.log.Info("payment reminder queued", "id", id, "commune", commune, "sessions", len(round))
		}
	}
	return created, errors.Join(errs...)
}

// reminderReply announces a round of payment sessions: each method's day (with the hour and
// place where people go), and what to bring when someone has to go.
func (s *Service) reminderReply(lang string, round []Schedule) gateway.Reply {
	var lines, shorts []string
	goes := false
	for _, sc := range round {
		start := sc.Start.In(vnZone)
		args := []string{"date", start.Format("02/01/2006"), "short_date", start.Format("02/01"), "time", start.Format("15:04"), "place", sc.Place}
		line := "broadcast.reminder.line." + sc.Method
		if !s.cat.Has(lang, line+".text") {
			line = "broadcast.reminder.line.other"
		}
		if sc.Method != "bank" {
			goes = true
		}
		lines = append(lines, s.cat.T(lang, line+".text", args...))
		shorts = append(shorts, s.cat.T(lang, line+".short", args...))
	}
	tail := "broadcast.reminder.bank_only"
	if goes {
		tail = "broadcast.reminder.bring"
	}
	commune := round[0].Commune
	text := s.cat.T(lang, "broadcast.reminder.text", "commune", commune, "sessions", strings.Join(lines, "\n")) + "\n" + s.cat.T(lang, tail+".text")
	short, _ := s.smsText(s.cat.T(lang, "broadcast.reminder.short", "commune", commune, "sessions", strings.Join(shorts, "; ")) + " " + s.cat.T(lang, tail+".short"))
	first := round[0].Start.In(vnZone)
	return gateway.Reply{
		Text:   text,
		Short:  short,
		Intent: KindReminder,
		// For template channels (Zalo ZNS): the first session's facts, one value a parameter.
		Params: map[string]string{"commune": commune, "date": first.Format("02/01/2006"), "time": first.Format("15:04"), "place": round[0].Place},
	}
}

// dayOf is the day (Vietnam time) t falls on.
func dayOf(t time.Time) time.Time {
	t = t.In(vnZone)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, vnZone)
}

// notifier turns each status change appended by lookup into notifications: one to each Telegram
// watcher of the application, and one by SMS to its registered phone when that phone opted in
// (subscribed on SMS) and is not stopped. The notification's id comes from the change's
// partition and stream id, so processing a change twice (after a crash) queues nobody twice.
// Every Poll it reads the new changes of every partition (one pipelined round trip), and every
// ClaimIdle/2 takes over the changes left pending (a replica that died, or a step that failed
// while Redis was away).
func (s *Service) notifier(ctx context.Context) {
	lastClaim := time.Now()
	for ctx.Err() == nil {
		type got struct {
			p    int
			msgs []redis.XMessage
		}
		var work []got
		if time.Since(lastClaim) > s.cfg.ClaimIdle/2 {
			lastClaim = time.Now()
			for p := range partition.N {
				ms, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
					Stream: ChangesStream(p), Group: groupNotify, Consumer: s.consumer, MinIdle: s.cfg.ClaimIdle, Start: "0-0", Count: 50,
				}).Result()
				if err == nil && len(ms) > 0 {
					work = append(work, got{p, ms})
				}
			}
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.XStreamSliceCmd, partition.N)
		for p := range partition.N {
			cmds[p] = pipe.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: groupNotify, Consumer: s.consumer, Streams: []string{ChangesStream(p), ">"}, Count: 50, Block: -1,
			})
		}
		_, _ = pipe.Exec(ctx)
		var readErr error
		for p, c := range cmds {
			res, err := c.Result()
			if err != nil {
				if !errors.Is(err, redis.Nil) {
					if isNoGroup(err) {
						_ = createGroup(ctx, s.rdb, ChangesStream(p), groupNotify, "$")
					}
					readErr = err
				}
				continue
			}
			for _, st := range res {
				if len(st.Messages) > 0 {
					work = append(work, got{p, st.Messages})
				}
			}
		}
		if readErr != nil && ctx.Err() == nil {
			s.log.Warn("notifier read", "err", readErr)
		}
		n := 0
		for _, w := range work {
			for _, m := range w.msgs {
				n++
				if err := s.notify(ctx, w.p, m); err != nil {
					if ctx.Err() == nil {
						s.log.Warn("notifier", "partition", w.p, "entry", m.ID, "err", err)
					}
					continue // stays pending; retried after ClaimIdle
				}
				s.rdb.XAck(context.WithoutCancel(ctx), ChangesStream(w.p), groupNotify, m.ID)
			}
		}
		if n == 0 {
			sleep(ctx, s.cfg.Poll)
		}
	}
}

// notify queues the notifications of one change event.
func (s *Service) notify(ctx context.Context, part int, m redis.XMessage) error {
	code, status := str(m.Values["code"]), str(m.Values["status"])
	if code == "" || status == "" {
		s.log.Error("notifier: change without code or status dropped", "entry", m.ID)
		return nil
	}
	id := fmt.Sprintf("n-%02d-%s", part, m.ID)
	var rcpts []gateway.Outbound
	seen := map[string]bool{}
	add := func(ch gateway.Channel, to, lang string) {
		if to == "" || s.senders[ch] == nil || seen[string(ch)+":"+to] {
			return
		}
		seen[string(ch)+":"+to] = true
		if i18n.Lang(lang) == "" {
			lang = i18n.Langs[0]
		}
		rcpts = append(rcpts, gateway.Outbound{Channel: ch, To: to, Lang: i18n.Lang(lang)})
	}
	watchers, err := s.changes.Watchers(ctx, code)
	if err != nil {
		return err
	}
	for _, w := range watchers {
		add(w.Channel, w.ChatID, w.Lang)
	}
	phone, err := s.changes.Phone(ctx, code)
	if err != nil {
		return err
	}
	if phone != "" && s.senders[gateway.SMS] != nil && s.aud != nil {
		sub, err := s.aud.Get(ctx, gateway.SMS, phone)
		if err != nil {
			return err
		}
		if sub != nil {
			if st, err := s.aud.Status(ctx, gateway.SMS, phone); err != nil {
				return err
			} else if st == "" {
				add(gateway.SMS, phone, sub.Lang)
			}
		}
	}
	p := &plan{msgs: map[string]gateway.Reply{}}
	for _, lang := range i18n.Langs {
		r := s.changes.Render(lang, code, status)
		if r.Intent == "" {
			r.Intent = KindNotification
		}
		p.msgs[lang] = r
	}
	if _, err := s.create(ctx, id, KindNotification, laneNotify, checkNotStopped, p, nil); err != nil {
		return err
	}
	return s.enqueueDirect(ctx, id, laneNotify, rcpts)
}
