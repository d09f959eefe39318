package config

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// KannelEnabled reports whether the Kannel transport is configured: inbound SMS from the short
// code (KANNEL_MO_SECRET), outbound through sendsms (KANNEL_SENDSMS_URL), or both.
func (c Config) KannelEnabled() bool { return c.KannelMOSecret != "" || c.KannelSendSMSURL != "" }

// loadKannel reads the KANNEL_* variables and SMS_OUTBOUND, and refuses a configuration whose
// outbound transport is ambiguous or missing.
func (c *Config) loadKannel(get func(string) string, bad func(string, string, ...any)) {
	c.KannelSendSMSURL = get("KANNEL_SENDSMS_URL")
	c.KannelUsername = get("KANNEL_USERNAME")
	c.KannelPassword = get("KANNEL_PASSWORD")
	c.KannelFrom = get("KANNEL_FROM")
	c.KannelMOSecret = get("KANNEL_MO_SECRET")
	c.KannelDLRURL = get("KANNEL_DLR_URL")
	if c.KannelMOSecret != "" && !validKannelSecret(c.KannelMOSecret) {
		bad("KANNEL_MO_SECRET", "must be 16-128 characters of A-Z a-z 0-9 - _ . ~ (it travels in a URL)")
	}
	if c.KannelSendSMSURL != "" {
		if u, err := url.Parse(c.KannelSendSMSURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			bad("KANNEL_SENDSMS_URL", "must be an http(s) URL such as http://127.0.0.1:13013/cgi-bin/sendsms, not %q", c.KannelSendSMSURL)
		}
		for _, v := range []struct{ name, val string }{
			{"KANNEL_USERNAME", c.KannelUsername}, {"KANNEL_PASSWORD", c.KannelPassword}, {"KANNEL_FROM", c.KannelFrom},
		} {
			if v.val == "" {
				bad(v.name, "required with KANNEL_SENDSMS_URL")
			}
		}
		if c.KannelMOSecret == "" {
			bad("KANNEL_MO_SECRET", "required with KANNEL_SENDSMS_URL: delivery reports are authenticated with it")
		}
		if len(c.KannelFrom) > 20 {
			bad("KANNEL_FROM", "must be a short code or brandname of at most 20 characters")
		}
	} else {
		for _, name := range []string{"KANNEL_USERNAME", "KANNEL_PASSWORD", "KANNEL_FROM", "KANNEL_DLR_URL"} {
			if get(name) != "" {
				bad(name, "set without KANNEL_SENDSMS_URL")
			}
		}
	}
	if v := get("KANNEL_ALLOW_FROM"); v != "" {
		if !c.KannelEnabled() {
			bad("KANNEL_ALLOW_FROM", "set without KANNEL_MO_SECRET")
		}
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			p, err := netip.ParsePrefix(f)
			if err != nil {
				a, aerr := netip.ParseAddr(f)
				if aerr != nil {
					bad("KANNEL_ALLOW_FROM", "%q is not an IP address or CIDR range", f)
					continue
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.KannelAllowFrom = append(c.KannelAllowFrom, p.Masked())
		}
	}
	if c.KannelSendSMSURL != "" && c.KannelDLRURL == "" {
		switch {
		case c.PublicBaseURL != "":
			c.KannelDLRURL = c.PublicBaseURL + "/sms/kannel/dlr"
		default:
			port := "8080"
			if _, p, err := net.SplitHostPort(c.HTTPAddr); err == nil && p != "" {
				port = p
			}
			c.KannelDLRURL = "http://127.0.0.1:" + port + "/sms/kannel/dlr"
		}
	}
	if c.KannelDLRURL != "" {
		if u, err := url.Parse(c.KannelDLRURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" {
			bad("KANNEL_DLR_URL", "must be an http(s) URL without a query, such as http://10.0.0.5:8080/sms/kannel/dlr, not %q", c.KannelDLRURL)
		}
	}

	twilio, kannel := c.TwilioAccountSID != "", c.KannelSendSMSURL != ""
	switch out := strings.ToLower(get("SMS_OUTBOUND")); out {
	case "":
		switch {
		case twilio && kannel:
			bad("SMS_OUTBOUND", "both Twilio (TWILIO_ACCOUNT_SID) and Kannel (KANNEL_SENDSMS_URL) can send SMS: set SMS_OUTBOUND=twilio or SMS_OUTBOUND=kannel")
		case twilio:
			c.SMSOutbound = "twilio"
		case kannel:
			c.SMSOutbound = "kannel"
		case c.KannelMOSecret != "":
			bad("KANNEL_SENDSMS_URL", "Kannel's inbound SMS (KANNEL_MO_SECRET) is answered by new SMS: set KANNEL_SENDSMS_URL (or TWILIO_* and SMS_OUTBOUND=twilio)")
		}
	case "twilio":
		if !twilio {
			bad("SMS_OUTBOUND", "twilio needs TWILIO_ACCOUNT_SID (and the other TWILIO_* variables)")
		}
		c.SMSOutbound = out
	case "kannel":
		if !kannel {
			bad("SMS_OUTBOUND", "kannel needs KANNEL_SENDSMS_URL (and KANNEL_USERNAME, KANNEL_PASSWORD, KANNEL_FROM, KANNEL_MO_SECRET)")
		}
		c.SMSOutbound = out
	default:
		bad("SMS_OUTBOUND", "must be twilio or kannel, not %q", out)
	}
}

// validKannelSecret: 16-128 unreserved URL characters, so that it can stand in kannel.conf's
// get-url as it is.
func validKannelSecret(s string) bool {
	if len(s) < 16 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '~') {
			return false
		}
	}
	return true
}
