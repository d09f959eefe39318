// Package config reads the gateway's configuration from environment variables (12-factor) and
// validates it, so that a bad value stops start-up with a message naming the variable.
// Every variable is listed in Vars, which the README's configuration table mirrors.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway/i18n"
)

// Config is the validated configuration.
type Config struct {
	HTTPAddr string
	LogLevel string

	RedisURL      string // "" means: start an embedded in-memory Redis with demo data
	LookupHashKey string // keyed-hash secret for citizen IDs; required with RedisURL
	DataDir       string // overrides embedded data files; "" = embedded only

	TelegramToken         string
	TelegramAPIURL        string
	TelegramWebhookURL    string
	TelegramWebhookSecret string
	TelegramMPS           int
	StaffTelegramIDs      []int64
	// StaffCommunes ties staff ids to communes (STAFF_TELEGRAM_IDS "123:Vũ Phúc|Trần Lãm");
	// an id without communes is absent: it sees every commune.
	StaffCommunes map[int64][]string

	TwilioAccountSID          string
	TwilioAuthToken           string
	TwilioFrom                string
	TwilioMessagingServiceSID string
	TwilioAPIURL              string
	SMSMaxSegments            int
	SMSUnicode                bool
	SMSMPS                    int

	// Kannel (carrier short code over SMPP) and the outbound transport choice: see kannel.go.
	KannelSendSMSURL string
	KannelUsername   string
	KannelPassword   string
	KannelFrom       string
	KannelMOSecret   string
	KannelAllowFrom  []netip.Prefix
	KannelDLRURL     string
	SMSOutbound      string // "twilio", "kannel", or "" when no transport can send

	PublicBaseURL string
	AdminToken    string
	DefaultLang   string

	StateTTL           time.Duration
	ReminderDaysBefore int

	ZaloAppID               string
	ZaloAppSecret           string
	ZaloOASecretKey         string
	ZaloRefreshToken        string
	ZaloAPIURL              string
	ZaloOAuthURL            string
	ZaloZNSURL              string
	ZaloMPS                 int
	ZaloZNSNotificationTmpl string
	ZaloZNSReminderTemplate string

	// Web chat and staff console.
	WebchatOrigins     []string
	SMSPriceVND        int
	ConsoleSessionIdle time.Duration
	ConsoleSessionMax  time.Duration

	CaseFirstResponseDays int
	CaseResolveDays       int
	CaseRetentionDays     int

	// ApplicationCodePattern, when set, is what an application code looks like (a regular
	// expression matched whole, case-insensitively); unset, the shapes of the imported codes.
	ApplicationCodePattern *regexp.Regexp
}

// Var documents one environment variable.
type Var struct {
	Name, Default, Doc string
}

// Vars lists every variable the gateway reads, with its default and meaning.
var Vars = []Var{
	{"HTTP_ADDR", ":8080", "Address the HTTP server listens on (health, metrics, webhooks, staff API)."},
	{"LOG_LEVEL", "info", "debug, info, warn or error."},
	{"REDIS_URL", "(unset: embedded Redis with demo data)", "redis:// or rediss:// URL. Several hosts separated by commas make a Redis Cluster (redis://h1:6379,h2:6379); add ?master_name=NAME to name a Sentinel master, the hosts then being the sentinels."},
	{"LOOKUP_HASH_KEY", "(generated for the embedded demo)", "Secret key (at least 32 characters) for the keyed hash of citizen ID numbers. Required when REDIS_URL is set; keep it stable, or imported records can no longer be verified."},
	{"DATA_DIR", "(unset: embedded data)", "Directory whose files override the embedded data files (i18n/, nlu/, knowledge/, console/, demo/) file by file."},
	{"TELEGRAM_TOKEN", "", "Bot token from BotFather. Unset: no Telegram channel."},
	{"TELEGRAM_API_URL", "https://api.telegram.org", "Base URL of the Bot API (tests point it at a local server; a self-hosted Bot API server works too)."},
	{"TELEGRAM_WEBHOOK_URL", "", "Public HTTPS URL Telegram posts updates to (ending in /telegram/webhook). Unset: long polling."},
	{"TELEGRAM_WEBHOOK_SECRET", "(required with TELEGRAM_WEBHOOK_URL)", "Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token: 1-256 of A-Z a-z 0-9 _ -."},
	{"TELEGRAM_MPS", "30", "Telegram messages per second in total, shared by all replicas (1 per second per chat always applies)."},
	{"STAFF_TELEGRAM_IDS", "", "Comma-separated Telegram user ids of staff (may use /broadcast, /stats, /cases). An id may be tied to communes, separated by |: 123:Vũ Phúc|Trần Lãm,456 — 123 hears of and handles the cases of those two communes, 456 of every commune."},
	{"TWILIO_ACCOUNT_SID", "", "Twilio account SID (AC...). Unset: no Twilio transport (Twilio cannot receive SMS in Vietnam: use Kannel for the short code)."},
	{"TWILIO_AUTH_TOKEN", "", "Twilio auth token: signs webhooks and authenticates REST calls."},
	{"TWILIO_FROM", "", "Sender of outbound SMS through Twilio: a number in E.164 or a registered alphanumeric sender ID (or use TWILIO_MESSAGING_SERVICE_SID)."},
	{"TWILIO_MESSAGING_SERVICE_SID", "", "Messaging service SID (MG...) for outbound SMS, instead of TWILIO_FROM."},
	{"TWILIO_API_URL", "https://api.twilio.com", "Base URL of the Twilio REST API (tests point it at a local server)."},
	{"KANNEL_SENDSMS_URL", "", "Kannel's sendsms URL (http://127.0.0.1:13013/cgi-bin/sendsms): outbound SMS from the department's short code or brandname through the carrier's SMPP link. Set with KANNEL_USERNAME, KANNEL_PASSWORD, KANNEL_FROM and KANNEL_MO_SECRET."},
	{"KANNEL_USERNAME", "", "The sendsms-user username in kannel.conf."},
	{"KANNEL_PASSWORD", "", "The sendsms-user password in kannel.conf."},
	{"KANNEL_FROM", "", "Sender of outbound SMS through Kannel: the short code (8079) or brandname the carrier registered."},
	{"KANNEL_MO_SECRET", "", "Secret (16-128 of A-Z a-z 0-9 - _ . ~) that Kannel's get-url and the delivery-report URL carry as secret=...; other requests to /sms/kannel get 403. Setting it turns Kannel's inbound SMS on."},
	{"KANNEL_ALLOW_FROM", "(any address)", "Comma-separated IP addresses or CIDR ranges Kannel calls from (127.0.0.1,10.0.0.0/8); requests to /sms/kannel from elsewhere get 403."},
	{"KANNEL_DLR_URL", "(PUBLIC_BASE_URL/sms/kannel/dlr, else http://127.0.0.1:<HTTP_ADDR port>/sms/kannel/dlr)", "URL at which Kannel reaches this gateway's delivery-report endpoint /sms/kannel/dlr."},
	{"SMS_OUTBOUND", "(the one configured)", "twilio or kannel: the transport outbound SMS (replies through Kannel, broadcasts, notifications) go through. Required when both are configured."},
	{"SMS_MAX_SEGMENTS", "2", "Longest SMS reply, in segments (1-10)."},
	{"SMS_UNICODE", "false", "true keeps Vietnamese diacritics in SMS (UCS-2: 70 characters a segment instead of 160)."},
	{"SMS_MPS", "10", "Outbound SMS per second, shared by all replicas."},
	{"PUBLIC_BASE_URL", "", "Externally visible base URL (https://gw.example.gov.vn): Twilio webhook signatures are checked against it and callback URLs built from it. Required with Twilio."},
	{"ADMIN_TOKEN", "", "Bearer token for machines calling the staff API (/api/...), acting as an admin. Unset: /api/broadcasts, /api/cases and /api/stats take console sessions only, and POST /api/applications is off."},
	{"DEFAULT_LANG", "vi", "Language for people who have not chosen one: vi or en."},
	{"STATE_TTL", "30m", "How long an unfinished conversation (e.g. waiting for verification digits) is remembered."},
	{"REMINDER_DAYS_BEFORE", "2", "Days before the first session of a payment round that subscribers of the commune get its reminder (every method's session of the round in one message)."},
	{"ZALO_APP_ID", "", "Zalo app id (developers.zalo.me → your app). Unset: no Zalo channel."},
	{"ZALO_APP_SECRET", "(required with ZALO_APP_ID)", "The Zalo app's secret key: authenticates token refreshes."},
	{"ZALO_OA_SECRET_KEY", "(required with ZALO_APP_ID)", "The OA secret key that signs webhooks (X-ZEvent-Signature); not the app secret."},
	{"ZALO_REFRESH_TOKEN", "(required with ZALO_APP_ID)", "The first OA refresh token, from authorising the OA; later ones live in Redis. A new value (after authorising again) replaces the chain."},
	{"ZALO_API_URL", "https://openapi.zalo.me", "Base URL of the Zalo OA API (tests point it at a local server)."},
	{"ZALO_OAUTH_URL", "https://oauth.zaloapp.com", "Base URL of Zalo's OAuth v4 token endpoint."},
	{"ZALO_ZNS_URL", "https://business.openapi.zalo.me", "Base URL of the ZNS template message API."},
	{"ZALO_MPS", "10", "Zalo API calls per second, shared by all replicas."},
	{"ZALO_ZNS_NOTIFICATION_TEMPLATE", "", "Approved ZNS template id for status-change notifications outside the reply window (parameters code, status). Unset: no ZNS."},
	{"ZALO_ZNS_REMINDER_TEMPLATE", "", "Approved ZNS template id for payment reminders outside the reply window (parameters commune, date, time, place). Unset: no ZNS."},
	{"WEBCHAT_ORIGINS", "", "Comma-separated origins of other sites that embed the web chat (https://portal.example.gov.vn): their pages may call the chat API with credentials. The gateway's own page needs nothing."},
	{"SMS_PRICE_VND", "800", "Estimated price of one SMS segment in VND, for the cost the console shows before sending (0 hides it). Set your contract's price."},
	{"CONSOLE_SESSION_IDLE", "30m", "A console session unused this long ends (5m-24h)."},
	{"CONSOLE_SESSION_MAX", "12h", "Every console session ends this long after sign-in, however active (1h-720h)."},
	{"CASE_FIRST_RESPONSE_DAYS", "2", "Working days (weekends and knowledge/holidays.csv skipped) within which a complaint or request gets a first staff response (1-60)."},
	{"CASE_RESOLVE_DAYS", "10", "Working days within which a case is to be settled (1-120, at least CASE_FIRST_RESPONSE_DAYS)."},
	{"CASE_RETENTION_DAYS", "1095", "Days a case (its texts are personal data) is kept after its last activity, then deleted; the anonymous counts stay (30-3650)."},
	{"APPLICATION_CODE_PATTERN", "(unset: the shapes of the imported codes)", "Regular expression an application code matches, whole and case-insensitively (e.g. TB-?\\d{4}-?\\d{6}). Unset: a word is taken for a code only when it has the prefix and length of codes already imported."},
}

// Load reads and validates the configuration through getenv (os.Getenv in main).
func Load(getenv func(string) string) (Config, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...)))
	}
	c := Config{
		HTTPAddr:                  orDefault(get("HTTP_ADDR"), ":8080"),
		LogLevel:                  strings.ToLower(orDefault(get("LOG_LEVEL"), "info")),
		RedisURL:                  get("REDIS_URL"),
		LookupHashKey:             getenv("LOOKUP_HASH_KEY"),
		DataDir:                   get("DATA_DIR"),
		TelegramToken:             get("TELEGRAM_TOKEN"),
		TelegramAPIURL:            strings.TrimRight(orDefault(get("TELEGRAM_API_URL"), "https://api.telegram.org"), "/"),
		TelegramWebhookURL:        get("TELEGRAM_WEBHOOK_URL"),
		TelegramWebhookSecret:     get("TELEGRAM_WEBHOOK_SECRET"),
		TwilioAccountSID:          get("TWILIO_ACCOUNT_SID"),
		TwilioAuthToken:           get("TWILIO_AUTH_TOKEN"),
		TwilioFrom:                get("TWILIO_FROM"),
		TwilioMessagingServiceSID: get("TWILIO_MESSAGING_SERVICE_SID"),
		TwilioAPIURL:              strings.TrimRight(orDefault(get("TWILIO_API_URL"), "https://api.twilio.com"), "/"),
		PublicBaseURL:             strings.TrimRight(get("PUBLIC_BASE_URL"), "/"),
		AdminToken:                get("ADMIN_TOKEN"),
		DefaultLang:               orDefault(get("DEFAULT_LANG"), "vi"),
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.RedisURL != "" {
		if _, err := RedisOptions(c.RedisURL); err != nil {
			bad("REDIS_URL", "%v", err)
		}
		if len(c.LookupHashKey) < 32 {
			bad("LOOKUP_HASH_KEY", "required when REDIS_URL is set, at least 32 characters (e.g. `openssl rand -hex 32`)")
		}
	} else if c.LookupHashKey != "" && len(c.LookupHashKey) < 32 {
		bad("LOOKUP_HASH_KEY", "at least 32 characters")
	}
	if i18n.Lang(c.DefaultLang) != strings.ToLower(c.DefaultLang) {
		bad("DEFAULT_LANG", "must be vi or en, not %q", c.DefaultLang)
	}
	c.DefaultLang = strings.ToLower(c.DefaultLang)
	checkURL := func(name, v string, httpsOnly bool) {
		if v == "" {
			return
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && (httpsOnly || u.Scheme != "http")) {
			want := "an http(s) URL"
			if httpsOnly {
				want = "an https URL"
			}
			bad(name, "must be %s, not %q", want, v)
		}
	}
	checkURL("TELEGRAM_API_URL", c.TelegramAPIURL, false)
	checkURL("TWILIO_API_URL", c.TwilioAPIURL, false)
	checkURL("PUBLIC_BASE_URL", c.PublicBaseURL, false)
	checkURL("TELEGRAM_WEBHOOK_URL", c.TelegramWebhookURL, true)
	if c.TelegramWebhookURL != "" {
		if c.TelegramToken == "" {
			bad("TELEGRAM_WEBHOOK_URL", "set without TELEGRAM_TOKEN")
		}
		if !validSecretToken(c.TelegramWebhookSecret) {
			bad("TELEGRAM_WEBHOOK_SECRET", "required with TELEGRAM_WEBHOOK_URL: 1-256 characters of A-Z a-z 0-9 _ -")
		}
	}
	if c.TelegramToken != "" && !strings.Contains(c.TelegramToken, ":") {
		bad("TELEGRAM_TOKEN", "does not look like a bot token (123456:ABC...)")
	}
	for _, f := range strings.Split(get("STAFF_TELEGRAM_IDS"), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		f, communes, tied := strings.Cut(f, ":")
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || id <= 0 {
			bad("STAFF_TELEGRAM_IDS", "%q is not a Telegram user id", f)
			continue
		}
		c.StaffTelegramIDs = append(c.StaffTelegramIDs, id)
		if tied {
			var names []string
			for _, n := range strings.Split(communes, "|") {
				if n = strings.TrimSpace(n); n != "" {
					names = append(names, n)
				}
			}
			if len(names) == 0 {
				bad("STAFF_TELEGRAM_IDS", "%d: no commune after the colon (write 123:Vũ Phúc|Trần Lãm, or just 123 for every commune)", id)
				continue
			}
			if c.StaffCommunes == nil {
				c.StaffCommunes = map[int64][]string{}
			}
			c.StaffCommunes[id] = names
		}
	}
	if c.TwilioAccountSID != "" {
		if !strings.HasPrefix(c.TwilioAccountSID, "AC") {
			bad("TWILIO_ACCOUNT_SID", "must start with AC")
		}
		if c.TwilioAuthToken == "" {
			bad("TWILIO_AUTH_TOKEN", "required with TWILIO_ACCOUNT_SID")
		}
		if c.TwilioFrom == "" && c.TwilioMessagingServiceSID == "" {
			bad("TWILIO_FROM", "set TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID for outbound SMS")
		}
		if c.PublicBaseURL == "" {
			bad("PUBLIC_BASE_URL", "required with TWILIO_ACCOUNT_SID: webhook signatures are checked against it")
		}
	}
	c.loadKannel(get, bad)
	c.ZaloAppID = get("ZALO_APP_ID")
	c.ZaloAppSecret = get("ZALO_APP_SECRET")
	c.ZaloOASecretKey = get("ZALO_OA_SECRET_KEY")
	c.ZaloRefreshToken = get("ZALO_REFRESH_TOKEN")
	c.ZaloAPIURL = strings.TrimRight(orDefault(get("ZALO_API_URL"), "https://openapi.zalo.me"), "/")
	c.ZaloOAuthURL = strings.TrimRight(orDefault(get("ZALO_OAUTH_URL"), "https://oauth.zaloapp.com"), "/")
	c.ZaloZNSURL = strings.TrimRight(orDefault(get("ZALO_ZNS_URL"), "https://business.openapi.zalo.me"), "/")
	c.ZaloZNSNotificationTmpl = get("ZALO_ZNS_NOTIFICATION_TEMPLATE")
	c.ZaloZNSReminderTemplate = get("ZALO_ZNS_REMINDER_TEMPLATE")
	checkURL("ZALO_API_URL", c.ZaloAPIURL, false)
	checkURL("ZALO_OAUTH_URL", c.ZaloOAuthURL, false)
	checkURL("ZALO_ZNS_URL", c.ZaloZNSURL, false)
	if c.ZaloAppID != "" {
		for _, v := range []struct{ name, val string }{
			{"ZALO_APP_SECRET", c.ZaloAppSecret}, {"ZALO_OA_SECRET_KEY", c.ZaloOASecretKey}, {"ZALO_REFRESH_TOKEN", c.ZaloRefreshToken},
		} {
			if v.val == "" {
				bad(v.name, "required with ZALO_APP_ID")
			}
		}
		if strings.Trim(c.ZaloAppID, "0123456789") != "" {
			bad("ZALO_APP_ID", "must be the numeric app id, not %q", c.ZaloAppID)
		}
	}
	c.ZaloMPS = intVar(get, "ZALO_MPS", 10, 1, 1000, bad)
	c.TelegramMPS = intVar(get, "TELEGRAM_MPS", 30, 1, 1000, bad)
	c.SMSMaxSegments = intVar(get, "SMS_MAX_SEGMENTS", 2, 1, 10, bad)
	c.SMSMPS = intVar(get, "SMS_MPS", 10, 1, 10000, bad)
	c.ReminderDaysBefore = intVar(get, "REMINDER_DAYS_BEFORE", 2, 0, 30, bad)
	c.CaseFirstResponseDays = intVar(get, "CASE_FIRST_RESPONSE_DAYS", 2, 1, 60, bad)
	c.CaseResolveDays = intVar(get, "CASE_RESOLVE_DAYS", 10, 1, 120, bad)
	if c.CaseResolveDays < c.CaseFirstResponseDays {
		bad("CASE_RESOLVE_DAYS", "%d is less than CASE_FIRST_RESPONSE_DAYS (%d)", c.CaseResolveDays, c.CaseFirstResponseDays)
	}
	c.CaseRetentionDays = intVar(get, "CASE_RETENTION_DAYS", 1095, 30, 3650, bad)
	if v := get("SMS_UNICODE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("SMS_UNICODE", "must be true or false, not %q", v)
		}
		c.SMSUnicode = b
	}
	for _, o := range strings.Split(get("WEBCHAT_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("WEBCHAT_ORIGINS", "%q is not an origin like https://portal.example.gov.vn", o)
			continue
		}
		c.WebchatOrigins = append(c.WebchatOrigins, strings.TrimRight(o, "/"))
	}
	c.SMSPriceVND = intVar(get, "SMS_PRICE_VND", 800, 0, 100000, bad)
	durVar := func(name string, def, lo, hi time.Duration) time.Duration {
		v := get(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			bad(name, "must be a duration between %s and %s, not %q", lo, hi, v)
			return def
		}
		return d
	}
	c.ConsoleSessionIdle = durVar("CONSOLE_SESSION_IDLE", 30*time.Minute, 5*time.Minute, 24*time.Hour)
	c.ConsoleSessionMax = durVar("CONSOLE_SESSION_MAX", 12*time.Hour, time.Hour, 720*time.Hour)
	if v := get("APPLICATION_CODE_PATTERN"); v != "" {
		re, err := regexp.Compile(`(?i)^(?:` + v + `)$`)
		if err != nil {
			bad("APPLICATION_CODE_PATTERN", "not a regular expression: %v", err)
		}
		c.ApplicationCodePattern = re
	}
	c.StateTTL = 30 * time.Minute
	if v := get("STATE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > 7*24*time.Hour {
			bad("STATE_TTL", "must be a duration between 1m and 168h, not %q", v)
		}
		c.StateTTL = d
	}
	return c, errors.Join(errs...)
}

func intVar(get func(string) string, name string, def, lo, hi int, bad func(string, string, ...any)) int {
	v := get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		bad(name, "must be a whole number from %d to %d, not %q", lo, hi, v)
		return def
	}
	return n
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func validSecretToken(s string) bool {
	if len(s) < 1 || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// TelegramEnabled reports whether the Telegram channel is configured.
func (c Config) TelegramEnabled() bool { return c.TelegramToken != "" }

// SMSEnabled reports whether the SMS channel is configured (through Twilio, Kannel or both).
func (c Config) SMSEnabled() bool { return c.TwilioEnabled() || c.KannelEnabled() }

// TwilioEnabled reports whether the Twilio transport is configured.
func (c Config) TwilioEnabled() bool { return c.TwilioAccountSID != "" }

// ZaloEnabled reports whether the Zalo OA channel is configured.
func (c Config) ZaloEnabled() bool { return c.ZaloAppID != "" }

// Secure reports whether the gateway is served over https (PUBLIC_BASE_URL), so cookies are
// marked Secure.
func (c Config) Secure() bool { return strings.HasPrefix(c.PublicBaseURL, "https://") }

// Embedded reports whether the gateway runs on its in-process Redis with demo data.
func (c Config) Embedded() bool { return c.RedisURL == "" }
