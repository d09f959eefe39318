package lookup

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Application is what a verified citizen may see of an application: no citizen ID, no full
// name, no phone number.
type Application struct {
	Code          string // as the department writes it, e.g. "TB-2025-000123"
	MaskedName    string // "Nguyễn V. A."
	Commune       string // canonical name
	Category      string // elderly, disability, child, single_parent, hiv, social_pension
	Status        string // received, in_review, needs_documents, approved, rejected, paying, suspended, stopped
	UpdatedAt     time.Time
	MonthlyAmount int64  // VND; 0 until decided
	StartMonth    string // "YYYY-MM"; "" until decided
	Note          string // written by staff for the citizen
	PaymentMethod string // cash, bank or post when the record says how the person is paid; ""
}

// Categories and Statuses are the accepted values, in a stable order.
var (
	Categories = []string{"elderly", "disability", "child", "single_parent", "hiv", "social_pension"}
	Statuses   = []string{"received", "in_review", "needs_documents", "approved", "rejected", "paying", "suspended", "stopped"}
	Methods    = []string{"cash", "bank", "post"}
)

// Limits on field sizes; longer values are rejected, not truncated.
const (
	maxNameRunes  = 100
	maxNoteRunes  = 500
	maxPlaceRunes = 200
	maxAmount     = 100_000_000
)

// NormalizeCode returns the key an application code is matched by: upper case, without
// '-', '.', '/'. ok is false unless code is 4–32 characters of A-Z a-z 0-9 - . / with at least
// one letter or digit.
func NormalizeCode(code string) (key string, ok bool) {
	code = strings.TrimSpace(code)
	if len(code) < 4 || len(code) > 32 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z':
			b.WriteByte(c)
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c == '-' || c == '.' || c == '/':
		default:
			return "", false
		}
	}
	if b.Len() == 0 {
		return "", false
	}
	return b.String(), true
}

// CodeShape is the shape of an application code, by which the understanding tells a code from
// other words with digits ("GIO72", "COVID19"): the leading letters of its key and how many
// characters follow ("TB-2025-000123" → "TB#10"). ok is false for a string that is no code.
func CodeShape(code string) (string, bool) {
	key, ok := NormalizeCode(code)
	if !ok {
		return "", false
	}
	i := 0
	for i < len(key) && key[i] >= 'A' && key[i] <= 'Z' {
		i++
	}
	return key[:i] + "#" + strconv.Itoa(len(key)-i), true
}

// NormalizePhone returns a Vietnamese mobile number in E.164 (+84 and 9 digits) from the forms
// people and files use: "0912 345 678", "+84912345678", "84-912-345-678". ok is false for
// anything else (landlines, foreign numbers, wrong length).
func NormalizePhone(phone string) (string, bool) {
	var d strings.Builder
	for i, r := range strings.TrimSpace(phone) {
		switch {
		case r >= '0' && r <= '9':
			d.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	n := d.String()
	switch {
	case len(n) == 10 && n[0] == '0':
		n = n[1:]
	case len(n) == 11 && strings.HasPrefix(n, "84"):
		n = n[2:]
	default:
		return "", false
	}
	// Mobile ranges since the 2018 renumbering: 03x, 05x, 07x, 08x, 09x.
	if !strings.ContainsRune("35789", rune(n[0])) {
		return "", false
	}
	return "+84" + n, true
}

// MaskName keeps the family name and the initials of the other words:
// "Nguyễn Văn An" → "Nguyễn V. A.", "Đặng Thị Ánh Tuyết" → "Đặng T. Á. T.".
func MaskName(full string) string {
	words := strings.Fields(full)
	if len(words) == 0 {
		return ""
	}
	parts := []string{words[0]}
	for _, w := range words[1:] {
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsLetter(r) {
			continue
		}
		parts = append(parts, string(unicode.ToUpper(r))+".")
	}
	return strings.Join(parts, " ")
}

// appRecord is a validated application row, ready to store.
type appRecord struct {
	codeKey    string
	code       string
	maskedName string
	idHash     string
	verifier   string
	phone      string // E.164 or ""
	commune    string
	category   string
	status     string
	updated    time.Time
	amount     int64
	startMonth string
	note       string
	method     string
}

// appFields are the column names of an applications file, in the documented order.
var appFields = []string{"code", "full_name", "birth_date", "citizen_id", "phone", "commune", "category", "status", "updated_at", "monthly_amount", "start_month", "note"}

// optionalAppFields may be in an applications file too.
var optionalAppFields = []string{"payment_method"}

// scheduleFields are the column names of a schedules file.
var scheduleFields = []string{"commune", "date", "start_time", "end_time", "place", "method"}

// parseApp validates one row (values by column name) and derives what is stored.
// The error says which field is wrong and why; nothing about the row is written.
func (s *Store) parseApp(v map[string]string) (*appRecord, error) {
	var r appRecord
	var ok bool
	r.code = strings.TrimSpace(v["code"])
	if r.codeKey, ok = NormalizeCode(r.code); !ok {
		return nil, fmt.Errorf("code %q: want 4-32 of A-Z a-z 0-9 - . /", clip(r.code))
	}
	name := strings.Join(strings.Fields(v["full_name"]), " ")
	if name == "" {
		return nil, errors.New("full_name is empty")
	}
	if err := checkText("full_name", name, maxNameRunes, false); err != nil {
		return nil, err
	}
	r.maskedName = MaskName(name)
	bd := strings.TrimSpace(v["birth_date"])
	t, err := time.Parse("2006-01-02", bd)
	if err != nil {
		return nil, fmt.Errorf("birth_date %q: want YYYY-MM-DD", clip(bd))
	}
	if t.Year() < 1900 || t.After(s.now()) {
		return nil, fmt.Errorf("birth_date %s: out of range", bd)
	}
	cid := strings.TrimSpace(v["citizen_id"])
	if len(cid) != 12 || strings.Trim(cid, "0123456789") != "" {
		return nil, fmt.Errorf("citizen_id: want 12 digits, got %d characters", utf8.RuneCountInString(cid))
	}
	r.idHash = s.idHash(cid)
	r.verifier = s.verifier(r.codeKey, cid[8:])[:verifierLen]
	if p := strings.TrimSpace(v["phone"]); p != "" {
		if r.phone, ok = NormalizePhone(p); !ok {
			return nil, errors.New("phone: not a Vietnamese mobile number (0xxxxxxxxx or +84xxxxxxxxx)")
		}
	}
	cm := strings.TrimSpace(v["commune"])
	if r.commune, ok = s.Commune(cm); !ok {
		return nil, fmt.Errorf("commune %q: not in knowledge/communes.csv", clip(cm))
	}
	if r.category = strings.TrimSpace(v["category"]); !oneOf(r.category, Categories) {
		return nil, fmt.Errorf("category %q: want one of %s", clip(r.category), strings.Join(Categories, ", "))
	}
	if r.status = strings.TrimSpace(v["status"]); !oneOf(r.status, Statuses) {
		return nil, fmt.Errorf("status %q: want one of %s", clip(r.status), strings.Join(Statuses, ", "))
	}
	ua := strings.TrimSpace(v["updated_at"])
	if r.updated, err = time.Parse(time.RFC3339Nano, ua); err != nil {
		return nil, fmt.Errorf("updated_at %q: want RFC 3339 (2026-03-01T08:30:00+07:00)", clip(ua))
	}
	if r.updated.Year() < 2000 || r.updated.After(s.now().Add(24*time.Hour)) {
		// A version far in the future would block every later update of the record.
		return nil, fmt.Errorf("updated_at %s: out of range (in the future?)", ua)
	}
	if a := strings.TrimSpace(v["monthly_amount"]); a != "" {
		r.amount, err = strconv.ParseInt(a, 10, 64)
		if err != nil || r.amount < 0 || r.amount > maxAmount {
			return nil, fmt.Errorf("monthly_amount %q: want a whole number of VND", clip(a))
		}
	}
	if m := strings.TrimSpace(v["start_month"]); m != "" {
		if _, err := time.Parse("2006-01", m); err != nil {
			return nil, fmt.Errorf("start_month %q: want YYYY-MM", clip(m))
		}
		r.startMonth = m
	}
	if m := strings.TrimSpace(v["payment_method"]); m != "" {
		if !oneOf(m, Methods) {
			return nil, fmt.Errorf("payment_method %q: want cash, bank or post (or empty)", clip(m))
		}
		r.method = m
	}
	r.note = strings.TrimSpace(strings.ReplaceAll(v["note"], "\r\n", "\n"))
	if err := checkText("note", r.note, maxNoteRunes, true); err != nil {
		return nil, err
	}
	return &r, nil
}

// checkText rejects invalid UTF-8, control characters (newlines only where allowed) and
// over-long values.
func checkText(field, s string, max int, newlines bool) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s: %d characters, at most %d", field, n, max)
	}
	for _, c := range s {
		if unicode.IsControl(c) && !(newlines && c == '\n') {
			return fmt.Errorf("%s: control character %U", field, c)
		}
	}
	return nil
}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:40]) + "…"
}

// sep separates the fields of a packed application. Validation rejects control characters in
// every text field, so it never occurs inside one.
const sep = "\x1f"

// The packed application (fields separated by sep): version ("~" and the microseconds in base
// 36; older records: decimal), status, phone (the 9 digits after +84), verifier (its first
// verifierLen characters), code as written, masked name, commune, category (its letter),
// amount, start month, note, ID hash, payment method. Version, status and phone first (the write script reads them), the
// verifier fourth (the verify script compares it). New fields go at the end.
const (
	fVersion = iota
	fStatus
	fPhone
	fVerifier
	fCode
	fName
	fCommune
	fCategory
	fAmount
	fStart
	fNote
	fIDHash
	fMethod // added later: records written before it have one field less
	nFields
)

// version is the record's updated_at in microseconds: exact in a Lua number (< 2^53).
func (r *appRecord) version() int64 { return r.updated.UnixMicro() }

func (r *appRecord) encode() string {
	f := make([]string, nFields)
	f[fVersion] = "~" + strconv.FormatInt(r.version(), 36)
	f[fStatus] = r.status
	f[fPhone] = strings.TrimPrefix(r.phone, "+84")
	f[fVerifier] = r.verifier
	f[fCode] = r.code
	f[fName] = r.maskedName
	f[fCommune] = r.commune
	f[fCategory] = string(rune('a' + slices.Index(Categories, r.category)))
	if r.amount > 0 {
		f[fAmount] = strconv.FormatInt(r.amount, 10)
	}
	f[fStart] = r.startMonth
	f[fNote] = r.note
	f[fIDHash] = r.idHash
	f[fMethod] = r.method
	return strings.Join(f, sep)
}

// decodeApp unpacks a stored application; it also returns the registered phone.
func decodeApp(val string) (*Application, string, error) {
	f := strings.Split(val, sep)
	if len(f) < fMethod {
		return nil, "", fmt.Errorf("lookup: stored application has %d fields, want %d", len(f), nFields)
	}
	us, err := strconv.ParseInt(f[fVersion], 10, 64)
	if v, ok := strings.CutPrefix(f[fVersion], "~"); ok {
		us, err = strconv.ParseInt(v, 36, 64)
	}
	if err != nil {
		return nil, "", fmt.Errorf("lookup: stored application version %q", f[fVersion])
	}
	a := &Application{
		Code:       f[fCode],
		MaskedName: f[fName],
		Commune:    f[fCommune],
		Category:   unpackCategory(f[fCategory]),
		Status:     f[fStatus],
		UpdatedAt:  time.UnixMicro(us).In(vnZone),
		StartMonth: f[fStart],
		Note:       f[fNote],
	}
	if len(f) > fMethod {
		a.PaymentMethod = f[fMethod]
	}
	if f[fAmount] != "" {
		if a.MonthlyAmount, err = strconv.ParseInt(f[fAmount], 10, 64); err != nil {
			return nil, "", fmt.Errorf("lookup: stored amount %q", f[fAmount])
		}
	}
	return a, unpackPhone(f[fPhone]), nil
}

// unpackPhone returns the E.164 form of a stored phone: records keep the 9 digits after +84
// (older ones the whole number).
func unpackPhone(p string) string {
	if len(p) == 9 {
		return "+84" + p
	}
	return p
}

// unpackCategory returns a stored category: records keep its letter in Categories ("a" =
// elderly; older ones the name). New categories go at the end of Categories.
func unpackCategory(c string) string {
	if len(c) == 1 && c[0] >= 'a' && int(c[0]-'a') < len(Categories) {
		return Categories[c[0]-'a']
	}
	return c
}

// Schedule is one payment session of a commune, in Vietnam time.
type Schedule struct {
	Commune    string
	Start, End time.Time
	Place      string
	Method     string // cash, bank or post
}

// parseSchedule validates one schedule row.
func (s *Store) parseSchedule(v map[string]string) (*Schedule, error) {
	cm := strings.TrimSpace(v["commune"])
	commune, ok := s.Commune(cm)
	if !ok {
		return nil, fmt.Errorf("commune %q: not in knowledge/communes.csv", clip(cm))
	}
	date := strings.TrimSpace(v["date"])
	if _, err := time.Parse("2006-01-02", date); err != nil {
		return nil, fmt.Errorf("date %q: want YYYY-MM-DD", clip(date))
	}
	at := func(field string) (time.Time, error) {
		hm := strings.TrimSpace(v[field])
		t, err := time.ParseInLocation("2006-01-02 15:04", date+" "+hm, vnZone)
		if err != nil || len(hm) != 5 {
			return time.Time{}, fmt.Errorf("%s %q: want HH:MM", field, clip(hm))
		}
		return t, nil
	}
	start, err := at("start_time")
	if err != nil {
		return nil, err
	}
	end, err := at("end_time")
	if err != nil {
		return nil, err
	}
	if !end.After(start) {
		return nil, errors.New("end_time is not after start_time")
	}
	place := strings.Join(strings.Fields(v["place"]), " ")
	if place == "" {
		return nil, errors.New("place is empty")
	}
	if err := checkText("place", place, maxPlaceRunes, false); err != nil {
		return nil, err
	}
	method := strings.TrimSpace(v["method"])
	if !oneOf(method, Methods) {
		return nil, fmt.Errorf("method %q: want cash, bank or post", clip(method))
	}
	return &Schedule{Commune: commune, Start: start, End: end, Place: place, Method: method}, nil
}

// member packs a session for the commune's sorted set (the score is the start).
func (sc *Schedule) member() string {
	return strconv.FormatInt(sc.Start.Unix(), 10) + sep + strconv.FormatInt(sc.End.Unix(), 10) + sep + sc.Method + sep + sc.Place
}

func decodeSchedule(commune, m string) (*Schedule, error) {
	f := strings.SplitN(m, sep, 4)
	if len(f) != 4 {
		return nil, fmt.Errorf("lookup: stored schedule %q", clip(m))
	}
	st, err1 := strconv.ParseInt(f[0], 10, 64)
	en, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("lookup: stored schedule times %q", clip(m))
	}
	return &Schedule{Commune: commune, Start: time.Unix(st, 0).In(vnZone), End: time.Unix(en, 0).In(vnZone), Method: f[2], Place: f[3]}, nil
}
