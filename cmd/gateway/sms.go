package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/socialaid-vn/gateway/config"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/sms/kannel"
	"github.com/socialaid-vn/gateway/sms/twilio"
)

// smsParts is the SMS channel and the transports configured under it.
type smsParts struct {
	ch     *sms.Channel
	twilio *twilio.Transport // nil unless TWILIO_* is set
	kannel *kannel.Transport // nil unless KANNEL_* is set
}

// newSMS builds the configured transports and the one SMS channel above them; outbound messages
// go through SMS_OUTBOUND's transport.
func newSMS(cfg config.Config, a *app, log *slog.Logger) (*smsParts, error) {
	p := &smsParts{}
	var err error
	if cfg.TwilioEnabled() {
		p.twilio, err = twilio.New(twilio.Config{
			AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken, From: cfg.TwilioFrom,
			MessagingServiceSID: cfg.TwilioMessagingServiceSID, APIURL: cfg.TwilioAPIURL, PublicBaseURL: cfg.PublicBaseURL,
		})
		if err != nil {
			return nil, err
		}
	}
	if cfg.KannelEnabled() {
		p.kannel, err = kannel.New(kannel.Config{
			SendSMSURL: cfg.KannelSendSMSURL, Username: cfg.KannelUsername, Password: cfg.KannelPassword,
			From: cfg.KannelFrom, Secret: cfg.KannelMOSecret, AllowFrom: cfg.KannelAllowFrom, DLRURL: cfg.KannelDLRURL,
		})
		if err != nil {
			return nil, err
		}
	}
	var out sms.Transport
	switch cfg.SMSOutbound {
	case "twilio":
		out = p.twilio
	case "kannel":
		out = p.kannel
	}
	if out == nil {
		return nil, fmt.Errorf("SMS_OUTBOUND: no transport to send SMS with")
	}
	p.ch, err = sms.New(sms.Config{
		Outbound: out, MaxSegments: cfg.SMSMaxSegments, Unicode: cfg.SMSUnicode, MPS: cfg.SMSMPS,
		Catalog: a.cat, Lang: cfg.DefaultLang,
	}, a.conn.Client, a.engine, a.aud, a.communes, log)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// routes mounts the transports' webhooks.
func (p *smsParts) routes(mux *http.ServeMux, log *slog.Logger) {
	if p.twilio != nil {
		l := log.With("transport", "twilio")
		mux.Handle("POST /sms/twilio", p.twilio.InboundHandler(p.ch, l))
		mux.Handle("POST /sms/twilio/status", p.twilio.StatusHandler(p.ch, l))
	}
	if p.kannel != nil {
		l := log.With("transport", "kannel")
		mux.Handle("/sms/kannel", p.kannel.MOHandler(p.ch, l))
		mux.Handle("/sms/kannel/dlr", p.kannel.DLRHandler(p.ch, l))
	}
}

// names lists the transports for the start-up log line: "sms (twilio, kannel; outbound kannel)".
func (p *smsParts) names(outbound string) string {
	s := "sms ("
	if p.twilio != nil {
		s += "twilio"
	}
	if p.kannel != nil {
		if p.twilio != nil {
			s += ", "
		}
		s += "kannel"
	}
	return s + "; outbound " + outbound + ")"
}
