package config

import (
	"strings"
	"testing"
)

func kannelVars(extra map[string]string) map[string]string {
	m := map[string]string{
		"KANNEL_SENDSMS_URL": "http://127.0.0.1:13013/cgi-bin/sendsms",
		"KANNEL_USERNAME":    "gateway", "KANNEL_PASSWORD": "pw", "KANNEL_FROM": "8079",
		"KANNEL_MO_SECRET": "0123456789abcdef-secret",
	}
	for k, v := range extra {
		if v == "-" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

var twilioVars = map[string]string{
	"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+84900000001", "PUBLIC_BASE_URL": "https://gw.example.org",
}

func TestKannelConfig(t *testing.T) {
	c, err := Load(env(kannelVars(map[string]string{"KANNEL_ALLOW_FROM": "127.0.0.1, 10.0.0.0/8", "HTTP_ADDR": ":9090"})))
	if err != nil {
		t.Fatal(err)
	}
	if !c.SMSEnabled() || !c.KannelEnabled() || c.TwilioEnabled() || c.SMSOutbound != "kannel" {
		t.Errorf("kannel only: %+v", c)
	}
	if c.KannelDLRURL != "http://127.0.0.1:9090/sms/kannel/dlr" || len(c.KannelAllowFrom) != 2 || c.KannelAllowFrom[0].String() != "127.0.0.1/32" {
		t.Errorf("derived: %q %v", c.KannelDLRURL, c.KannelAllowFrom)
	}
	both := kannelVars(twilioVars)
	both["SMS_OUTBOUND"] = "Twilio"
	if c, err := Load(env(both)); err != nil || c.SMSOutbound != "twilio" || c.KannelDLRURL != "https://gw.example.org/sms/kannel/dlr" {
		t.Errorf("both with SMS_OUTBOUND=twilio: %q %q %v", c.SMSOutbound, c.KannelDLRURL, err)
	}
	if c, err := Load(env(twilioVars)); err != nil || c.SMSOutbound != "twilio" || c.KannelEnabled() {
		t.Errorf("twilio only: %+v %v", c, err)
	}
	// Kannel inbound only, replies through Twilio.
	in := map[string]string{"KANNEL_MO_SECRET": "0123456789abcdef-secret", "SMS_OUTBOUND": "twilio"}
	for k, v := range twilioVars {
		in[k] = v
	}
	if c, err := Load(env(in)); err != nil || c.SMSOutbound != "twilio" || !c.KannelEnabled() {
		t.Errorf("kannel inbound, twilio outbound: %+v %v", c, err)
	}
}

func TestKannelConfigErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		vars map[string]string
		want string
	}{
		{kannelVars(twilioVars), "SMS_OUTBOUND"}, // ambiguous
		{kannelVars(map[string]string{"SMS_OUTBOUND": "zalo"}), "SMS_OUTBOUND"},
		{kannelVars(map[string]string{"SMS_OUTBOUND": "twilio"}), "SMS_OUTBOUND"},
		{map[string]string{"SMS_OUTBOUND": "kannel"}, "SMS_OUTBOUND"},
		{kannelVars(map[string]string{"KANNEL_SENDSMS_URL": "127.0.0.1:13013"}), "KANNEL_SENDSMS_URL"},
		{kannelVars(map[string]string{"KANNEL_USERNAME": "-"}), "KANNEL_USERNAME"},
		{kannelVars(map[string]string{"KANNEL_PASSWORD": "-"}), "KANNEL_PASSWORD"},
		{kannelVars(map[string]string{"KANNEL_FROM": "-"}), "KANNEL_FROM"},
		{kannelVars(map[string]string{"KANNEL_MO_SECRET": "-"}), "KANNEL_MO_SECRET"},
		{kannelVars(map[string]string{"KANNEL_MO_SECRET": "short"}), "KANNEL_MO_SECRET"},
		{kannelVars(map[string]string{"KANNEL_MO_SECRET": "has&ampersand-0123456789"}), "KANNEL_MO_SECRET"},
		{kannelVars(map[string]string{"KANNEL_ALLOW_FROM": "10.0.0.0/8,kannel.local"}), "KANNEL_ALLOW_FROM"},
		{kannelVars(map[string]string{"KANNEL_DLR_URL": "http://gw:8080/sms/kannel/dlr?x=1"}), "KANNEL_DLR_URL"},
		{map[string]string{"KANNEL_USERNAME": "gateway"}, "KANNEL_USERNAME"},
		{map[string]string{"KANNEL_MO_SECRET": "0123456789abcdef-secret"}, "KANNEL_SENDSMS_URL"}, // nothing to answer with
		{map[string]string{"KANNEL_ALLOW_FROM": "127.0.0.1"}, "KANNEL_ALLOW_FROM"},
	}
	for _, c := range cases {
		_, err := Load(env(c.vars))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want error naming %s, got %v", c.vars, c.want, err)
		}
	}
}
