package staff

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

var communes = []string{"Vũ Phúc", "Trần Lãm", "Tiền Phong"}

func newStore(t *testing.T, now func() time.Time) *Store {
	t.Helper()
	return NewStore(redistest.New(t), Options{Communes: communes, Now: now, argon: argonParams{memory: 64, time: 1, threads: 1}})
}

func TestPasswordHashes(t *testing.T) {
	h, err := hashPassword("mật khẩu rất dài", defaultArgon)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "mật") {
		t.Fatalf("hash %q", h)
	}
	if !verifyPassword(h, "mật khẩu rất dài") || verifyPassword(h, "mật khẩu rất dàI") || verifyPassword("garbage", "x") {
		t.Fatal("verify")
	}
	for _, bad := range []string{"short", "thanhhoa2025thanhhoa", strings.Repeat("x", 300), "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6"} {
		if CheckPassword("thanhhoa", bad) == nil {
			t.Errorf("password %q accepted", bad)
		}
	}
}

func TestAccounts(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	if _, err := s.Add(ctx, "Lan.Nguyen", Officer, []string{"Vu Phuc"}, "correct horse battery", false); err != nil {
		t.Fatal(err)
	}
	a, err := s.Get(ctx, "lan.nguyen")
	if err != nil || a.Role != Officer || len(a.Communes) != 1 || a.Communes[0] != "Vũ Phúc" {
		t.Fatalf("account %+v %v: want officer of the canonical Vũ Phúc", a, err)
	}
	for _, tc := range []struct {
		user     string
		role     Role
		communes []string
		want     error
	}{
		{"lan.nguyen", Viewer, nil, ErrExists},
		{"x", Viewer, nil, ErrInvalid},
		{"kim", "boss", nil, ErrInvalid},
		{"kim", Officer, nil, ErrInvalid},                        // an officer needs communes
		{"kim", Officer, []string{"Atlantis"}, ErrInvalid},       // unknown commune
		{"kim có dấu", Officer, []string{"Vũ Phúc"}, ErrInvalid}, // bad username
	} {
		if _, err := s.Add(ctx, tc.user, tc.role, tc.communes, "correct horse battery", false); !errors.Is(err, tc.want) {
			t.Errorf("Add(%q, %s, %v) = %v, want %v", tc.user, tc.role, tc.communes, err, tc.want)
		}
	}
	s.Add(ctx, "boss", Admin, []string{"Vũ Phúc"}, "another long secret", false)
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].Username != "boss" || list[0].Communes != nil {
		t.Fatalf("list = %+v %v (an admin covers every commune)", list, err)
	}
}

func TestLoginLockoutAndSessions(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	s := newStore(t, func() time.Time { return now })
	ctx := context.Background()
	s.Add(ctx, "lan", Officer, []string{"Vũ Phúc"}, "correct horse battery", false)

	if _, err := s.Authenticate(ctx, "lan", "wrong", "10.0.0.1"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "nobody", "wrong", "10.0.0.1"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("unknown user: %v, want the same answer as a wrong password", err)
	}
	a, err := s.Authenticate(ctx, "LAN", "correct horse battery", "10.0.0.1")
	if err != nil || a.Username != "lan" {
		t.Fatalf("right password: %v", err)
	}
	for i := 0; i < 4; i++ {
		s.Authenticate(ctx, "lan", "wrong", "10.0.0.2")
	}
	_, err = s.Authenticate(ctx, "lan", "wrong", "10.0.0.2")
	var locked *LockedError
	if !errors.As(err, &locked) || !locked.Until.After(now) {
		t.Fatalf("5th failure: %v, want locked", err)
	}
	if _, err := s.Authenticate(ctx, "lan", "correct horse battery", "10.0.0.3"); !errors.As(err, &locked) {
		t.Fatalf("right password while locked: %v, want still locked", err)
	}
	if err := s.Unlock(ctx, "lan"); err != nil {
		t.Fatal(err)
	}

	sess, err := s.StartSession(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, sess.Token)
	if err != nil || got.Account.Username != "lan" || got.CSRF == "" || got.CSRF != sess.CSRF {
		t.Fatalf("session: %+v %v", got, err)
	}
	ttl := s.rdb.TTL(ctx, sessionKey(tokenHash(sess.Token))).Val()
	if ttl <= 0 || ttl > s.opts.SessionIdle {
		t.Fatalf("session TTL %v, want the idle timeout %v", ttl, s.opts.SessionIdle)
	}
	if keys := s.rdb.Keys(ctx, "*"+sess.Token+"*").Val(); len(keys) != 0 {
		t.Fatalf("the cookie value is stored in clear: %v", keys)
	}
	now = now.Add(13 * time.Hour) // past the absolute timeout, however active
	if _, err := s.Session(ctx, sess.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after 13 h: %v", err)
	}
	now = now.Add(-13 * time.Hour)
	sess, _ = s.StartSession(ctx, a)
	if err := s.SetDisabled(ctx, "lan", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, sess.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session of a disabled account: %v", err)
	}
	if _, err := s.Authenticate(ctx, "lan", "correct horse battery", "10.0.0.4"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("disabled account login: %v", err)
	}
}

func TestPrincipals(t *testing.T) {
	officer := &Principal{Username: "lan", Role: Officer, Communes: []string{"Vũ Phúc"}}
	viewer := &Principal{Username: "v", Role: Viewer}
	admin := &Principal{Username: "a", Role: Admin}
	if !officer.Can(Broadcast) || officer.Can(Manage) || viewer.Can(Broadcast) || !viewer.Can(Figures) || !admin.Can(Manage) {
		t.Fatal("role permissions")
	}
	if !officer.CoversAll([]string{"Vu Phuc"}) || officer.CoversAll([]string{"Vũ Phúc", "Trần Lãm"}) || officer.CoversAll(nil) {
		t.Fatal("an officer covers only its communes, and not 'everyone'")
	}
	if !admin.CoversAll(nil) || !viewer.Everywhere() {
		t.Fatal("admins and viewers without communes cover all")
	}
	if err := officer.Allow(Broadcast, []string{"Trần Lãm"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Allow = %v", err)
	}
	var nobody *Principal
	if nobody.Can(Figures) || nobody.Covers("Vũ Phúc") {
		t.Fatal("a nil principal may do nothing")
	}
}

func TestAPIAuthentication(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	a, _ := s.Add(ctx, "lan", Officer, []string{"Vũ Phúc"}, "correct horse battery", false)
	sess, _ := s.StartSession(ctx, a)
	h := s.API("tok3n", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := FromContext(r.Context())
		w.Write([]byte(p.Username))
	}))
	do := func(method, auth, cookie, secFetch string) (int, string) {
		req := httptest.NewRequest(method, "http://gw.test/api/broadcasts", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: CookieName, Value: cookie})
		}
		if secFetch != "" {
			req.Header.Set("Sec-Fetch-Site", secFetch)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if c, b := do("GET", "Bearer tok3n", "", ""); c != 200 || b != "admin-token" {
		t.Errorf("bearer: %d %s", c, b)
	}
	if c, _ := do("GET", "Bearer wrong", "", ""); c != 401 {
		t.Errorf("wrong bearer: %d", c)
	}
	if c, _ := do("GET", "", "", ""); c != 401 {
		t.Errorf("nothing: %d", c)
	}
	if c, b := do("POST", "", sess.Token, "same-origin"); c != 200 || b != "lan" {
		t.Errorf("session, same origin: %d %s", c, b)
	}
	if c, _ := do("POST", "", sess.Token, "cross-site"); c != 403 {
		t.Errorf("session, cross-site post: %d, want 403", c)
	}
}
