// Package kanneltest runs the real Kannel for tests: bearerbox and smsbox from Debian's kannel
// package, with Kannel's own fake SMSC client (fakesmsc, from kannel-extras) playing the
// carrier and the phones. A test takes a kannel.conf (the shipped deploy/kannel/kannel.conf),
// which New rewrites onto free ports, a temporary store and the gateway's address, then sends
// MO messages as a phone would and reads the messages the phones received.
//
// When Kannel is not installed the test is skipped, saying why — or fails when the CI
// environment variable is set, so CI always exercises the real Kannel. Every process started is
// killed when the test ends.
//
// fakesmsc speaks a line protocol: "sender receiver text words..." (or "ucs2 <url-encoded
// UTF-16BE>"). It sends its MO messages when it connects, and bearerbox serves one fakesmsc at a
// time, so each MO starts a new fakesmsc (the previous one is stopped first); messages to the
// phones are printed by whichever is connected, and Received gathers them from all.
package kanneltest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"
)

// The Debian paths of Kannel's programs.
var (
	Bearerbox = "/usr/sbin/bearerbox"
	Smsbox    = "/usr/sbin/smsbox"
	Fakesmsc  = "/usr/lib/kannel/test/fakesmsc"
)

// Require skips the test when Kannel is not installed (fails under CI).
func Require(t testing.TB) {
	t.Helper()
	for _, bin := range []string{Bearerbox, Smsbox, Fakesmsc} {
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("kanneltest: %s missing and CI is set: install kannel and kannel-extras (apt-get install kannel kannel-extras)", bin)
			}
			t.Skipf("kanneltest: %s not installed (apt-get install kannel kannel-extras to run the tests against the real Kannel)", bin)
		}
	}
}

// Kannel is one Kannel (bearerbox + smsbox) with its fake SMSC, on free loopback ports.
type Kannel struct {
	// SendSMSURL is smsbox's sendsms URL (KANNEL_SENDSMS_URL).
	SendSMSURL string
	// Ports chosen: admin, smsbox (box connections), fake SMSC, sendsms.
	AdminPort, BoxPort, FakePort, SendSMSPort int

	t    testing.TB
	dir  string
	conf string

	mu       sync.Mutex
	bb, sb   *exec.Cmd
	phone    *exec.Cmd
	phoneOut []*syncBuffer // fakesmsc outputs, in order
	runs     int
	allCmds  []*exec.Cmd
	exited   map[*exec.Cmd]chan struct{}
}

// New picks free ports; Start writes the configuration and starts Kannel. It calls Require.
func New(t testing.TB) *Kannel {
	t.Helper()
	Require(t)
	k := &Kannel{t: t, dir: t.TempDir(), exited: map[*exec.Cmd]chan struct{}{}}
	k.AdminPort, k.BoxPort, k.FakePort, k.SendSMSPort = freePort(t), freePort(t), freePort(t), freePort(t)
	k.SendSMSURL = fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", k.SendSMSPort)
	t.Cleanup(k.killAll)
	return k
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	rePort     = regexp.MustCompile(`(?m)^(admin-port|smsbox-port|bearerbox-port|sendsms-port|port)\s*=\s*\d+\s*$`)
	reStore    = regexp.MustCompile(`(?m)^store-location\s*=.*$`)
	reLog      = regexp.MustCompile(`(?m)^log-level\s*=.*$`)
	reGateway  = regexp.MustCompile(`http://127\.0\.0\.1:8080/`)
	reAdminPwd = regexp.MustCompile(`(?m)^admin-password\s*=\s*(.*)$`)
)

// Configure rewrites conf (a kannel.conf like deploy/kannel/kannel.conf) onto this Kannel's
// ports and temporary store, with the gateway at gatewayURL (instead of http://127.0.0.1:8080),
// and writes it. Nothing else is changed. It returns the text written.
func (k *Kannel) Configure(conf []byte, gatewayURL string) string {
	s := string(conf)
	inSMSC := false
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "group") {
			inSMSC = strings.Contains(l, "smsc")
		}
		if m := rePort.FindStringSubmatch(l); m != nil {
			switch {
			case m[1] == "admin-port":
				l = fmt.Sprintf("admin-port = %d", k.AdminPort)
			case m[1] == "smsbox-port" || m[1] == "bearerbox-port":
				l = fmt.Sprintf("%s = %d", m[1], k.BoxPort)
			case m[1] == "sendsms-port":
				l = fmt.Sprintf("sendsms-port = %d", k.SendSMSPort)
			case m[1] == "port" && inSMSC:
				l = fmt.Sprintf("port = %d", k.FakePort)
			}
		}
		lines = append(lines, l)
	}
	s = strings.Join(lines, "\n")
	s = reStore.ReplaceAllString(s, fmt.Sprintf("store-location = %q", filepath.Join(k.dir, "kannel.store")))
	s = reLog.ReplaceAllString(s, "log-level = 0")
	s = reGateway.ReplaceAllString(s, strings.TrimRight(gatewayURL, "/")+"/")
	k.conf = filepath.Join(k.dir, "kannel.conf")
	if err := os.WriteFile(k.conf, []byte(s), 0o600); err != nil {
		k.t.Fatal(err)
	}
	return s
}

// Start starts bearerbox and smsbox on the configuration Configure wrote, and waits until
// smsbox is connected and sendsms answers.
func (k *Kannel) Start() {
	k.t.Helper()
	if k.conf == "" {
		k.t.Fatal("kanneltest: Configure before Start")
	}
	k.mu.Lock()
	k.runs++
	run := k.runs
	k.mu.Unlock()
	k.bb = k.spawn(Bearerbox, fmt.Sprintf("bearerbox-%d.log", run), k.conf)
	k.waitPort(k.BoxPort, "bearerbox")
	k.sb = k.spawn(Smsbox, fmt.Sprintf("smsbox-%d.log", run), k.conf)
	k.waitPort(k.SendSMSPort, "smsbox")
	// smsbox opens sendsms before it is identified to bearerbox: wait for bearerbox to list it.
	k.waitFor(15*time.Second, "smsbox connected to bearerbox", func() bool {
		return strings.Contains(k.status(), "smsbox:")
	})
}

// status is bearerbox's status page (status.txt), or "" when it does not answer.
func (k *Kannel) status() string {
	pw := "CHANGE-ME-admin-password"
	if raw, err := os.ReadFile(k.conf); err == nil {
		if m := reAdminPwd.FindSubmatch(raw); m != nil {
			pw = strings.Trim(strings.TrimSpace(string(m[1])), `"`)
		}
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/status.txt?password=%s", k.AdminPort, url.QueryEscape(pw)))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// Status is bearerbox's status page, for a test that checks the SMSC links.
func (k *Kannel) Status() string { return k.status() }

// Stop stops smsbox, bearerbox and the connected phone with SIGTERM (as `systemctl stop` does)
// and waits until they have exited.
func (k *Kannel) Stop() {
	k.t.Helper()
	k.stopPhone()
	for _, c := range []*exec.Cmd{k.bb, k.sb} {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, c := range []*exec.Cmd{k.sb, k.bb} {
		if c != nil {
			k.waitExit(c, 20*time.Second)
		}
	}
	k.bb, k.sb = nil, nil
}

// Restart stops Kannel and starts it again on the same configuration and store.
func (k *Kannel) Restart() {
	k.t.Helper()
	k.Stop()
	k.Start()
}

// SendMO makes a phone send text to the short code to, as GSM-7 text (ucs2 false) or UCS-2.
// The phone that sent the previous MO is disconnected first; the new one stays connected to
// receive messages until the next SendMO, Listen or Stop.
func (k *Kannel) SendMO(from, to, text string, ucs2 bool) {
	k.t.Helper()
	var msg string
	if ucs2 {
		units := utf16.Encode([]rune(text))
		b := make([]byte, 0, 2*len(units))
		for _, u := range units {
			b = append(b, byte(u>>8), byte(u))
		}
		msg = fmt.Sprintf("%s %s ucs2 %s", from, to, url.PathEscape(string(b)))
	} else {
		if strings.ContainsAny(text, "\n") {
			k.t.Fatal("kanneltest: fakesmsc cannot send a line break as text")
		}
		msg = fmt.Sprintf("%s %s text %s", from, to, text)
	}
	k.startPhone("-m", "1", msg)
}

// Listen connects a phone that sends nothing and receives (for broadcasts).
func (k *Kannel) Listen() {
	k.t.Helper()
	k.startPhone("-m", "0", "0 0 text -")
}

func (k *Kannel) startPhone(args ...string) {
	k.stopPhone()
	out := &syncBuffer{}
	cmd := exec.Command(Fakesmsc, append([]string{"-H", "127.0.0.1", "-r", strconv.Itoa(k.FakePort), "-i", "0.01"}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		k.t.Fatalf("kanneltest: start fakesmsc: %v", err)
	}
	done := make(chan struct{})
	k.mu.Lock()
	k.phone = cmd
	k.allCmds = append(k.allCmds, cmd)
	k.phoneOut = append(k.phoneOut, out)
	k.exited[cmd] = done
	k.mu.Unlock()
	go func() { cmd.Wait(); close(done) }()
	k.waitFor(10*time.Second, "fakesmsc connected", func() bool {
		return strings.Contains(out.String(), "fakesmsc starting") && (strings.Contains(out.String(), "sent message") || len(args) > 1 && args[1] == "0") &&
			strings.Contains(k.status(), "online")
	})
}

func (k *Kannel) stopPhone() {
	k.mu.Lock()
	p := k.phone
	k.phone = nil
	k.mu.Unlock()
	if p != nil && p.Process != nil {
		p.Process.Kill()
		k.waitExit(p, 10*time.Second)
	}
}

// MT is one message a phone received (concatenated parts joined).
type MT struct {
	From, To string
	Text     string
	UCS2     bool // sent in UCS-2 (else GSM-7 text)
	Parts    int
}

var reGot = regexp.MustCompile(`Got message \d+: <(.*)>$`)

// Received parses every message the phones received so far.
func (k *Kannel) Received() []MT {
	k.mu.Lock()
	outs := append([]*syncBuffer(nil), k.phoneOut...)
	k.mu.Unlock()
	var got []string
	for _, o := range outs {
		sc := bufio.NewScanner(strings.NewReader(o.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := reGot.FindStringSubmatch(sc.Text()); m != nil {
				got = append(got, m[1])
			}
		}
	}
	return parseMT(got)
}

// parseMT reads fakesmsc's lines. A text message with a line break arrives as several lines
// (the fake protocol is line-based): a line that is not "sender receiver type ..." continues
// the previous text message.
func parseMT(lines []string) []MT {
	type partKey struct {
		from, to string
		ref      byte
	}
	type partial struct {
		mt    MT
		parts map[byte][]byte
		total byte
	}
	var out []MT
	pending := map[partKey]*partial{}
	var order []partKey
	lastText := -1
	for _, l := range lines {
		f := strings.SplitN(l, " ", 4)
		if len(f) < 3 || (f[2] != "text" && f[2] != "ucs-2" && f[2] != "udh" && f[2] != "data") {
			if lastText >= 0 {
				out[lastText].Text += "\n" + l
			}
			continue
		}
		rest := ""
		if len(f) == 4 {
			rest = f[3]
		}
		lastText = -1
		switch f[2] {
		case "text":
			out = append(out, MT{From: f[0], To: f[1], Text: rest, Parts: 1})
			lastText = len(out) - 1
		case "ucs-2":
			b, _ := url.QueryUnescape(rest)
			out = append(out, MT{From: f[0], To: f[1], Text: utf16be([]byte(b)), UCS2: true, Parts: 1})
		case "data":
			b, _ := url.QueryUnescape(rest)
			out = append(out, MT{From: f[0], To: f[1], Text: b, Parts: 1})
		case "udh":
			u, d, _ := strings.Cut(rest, " data ")
			udh, _ := url.QueryUnescape(u)
			data, _ := url.QueryUnescape(d)
			// 05 00 03 ref total seq (8-bit reference concatenation).
			if len(udh) < 6 || udh[1] != 0 {
				out = append(out, MT{From: f[0], To: f[1], Text: data, Parts: 1})
				continue
			}
			key := partKey{f[0], f[1], udh[3]}
			p := pending[key]
			if p == nil {
				p = &partial{mt: MT{From: f[0], To: f[1]}, parts: map[byte][]byte{}, total: udh[4]}
				pending[key] = p
				order = append(order, key)
			}
			p.parts[udh[5]] = []byte(data)
			if len(p.parts) == int(p.total) {
				var all []byte
				for i := byte(1); i <= p.total; i++ {
					all = append(all, p.parts[i]...)
				}
				p.mt.Parts = int(p.total)
				if bytes.IndexByte(all, 0) >= 0 && len(all)%2 == 0 {
					p.mt.Text, p.mt.UCS2 = utf16be(all), true
				} else {
					p.mt.Text = string(all)
				}
				out = append(out, p.mt)
				delete(pending, key)
			}
		}
	}
	return out
}

func utf16be(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
}

// ReceivedBy returns the messages received by phone (To == phone).
func (k *Kannel) ReceivedBy(phone string) []MT {
	var out []MT
	for _, m := range k.Received() {
		if m.To == phone {
			out = append(out, m)
		}
	}
	return out
}

// WaitReceivedBy waits until phone has received n messages and returns them.
func (k *Kannel) WaitReceivedBy(phone string, n int, timeout time.Duration) []MT {
	k.t.Helper()
	var got []MT
	k.waitFor(timeout, fmt.Sprintf("%d message(s) to %s", n, phone), func() bool {
		got = k.ReceivedBy(phone)
		return len(got) >= n
	})
	return got
}

func (k *Kannel) spawn(bin, logName, conf string) *exec.Cmd {
	k.t.Helper()
	f, err := os.Create(filepath.Join(k.dir, logName))
	if err != nil {
		k.t.Fatal(err)
	}
	cmd := exec.Command(bin, conf)
	cmd.Dir = k.dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		k.t.Fatalf("kanneltest: start %s: %v", bin, err)
	}
	k.mu.Lock()
	k.allCmds = append(k.allCmds, cmd)
	k.mu.Unlock()
	done := make(chan struct{})
	k.mu.Lock()
	k.exited[cmd] = done
	k.mu.Unlock()
	go func() { cmd.Wait(); f.Close(); close(done) }()
	return cmd
}

// Log returns the log of the last bearerbox and smsbox run, for a failing test's message.
func (k *Kannel) Log() string {
	var b strings.Builder
	for _, name := range []string{"bearerbox", "smsbox"} {
		raw, _ := os.ReadFile(filepath.Join(k.dir, fmt.Sprintf("%s-%d.log", name, k.runs)))
		lines := strings.Split(string(raw), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", name, strings.Join(lines, "\n"))
	}
	return b.String()
}

func (k *Kannel) waitPort(port int, what string) {
	k.t.Helper()
	k.waitFor(15*time.Second, what+" listening on "+strconv.Itoa(port), func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

func (k *Kannel) waitExit(c *exec.Cmd, timeout time.Duration) {
	k.mu.Lock()
	done := k.exited[c]
	k.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-time.After(timeout):
		c.Process.Kill()
		<-done
	}
}

func (k *Kannel) waitFor(timeout time.Duration, what string, cond func() bool) {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			k.t.Fatalf("kanneltest: timed out after %s waiting for %s\n%s", timeout, what, k.Log())
		}
		time.Sleep(20 * time.Millisecond) // polling a process's state with a deadline
	}
}

func (k *Kannel) killAll() {
	k.mu.Lock()
	cmds := append([]*exec.Cmd(nil), k.allCmds...)
	k.mu.Unlock()
	for _, c := range cmds {
		if c.Process != nil {
			c.Process.Kill()
		}
	}
	for _, c := range cmds {
		k.waitExit(c, 5*time.Second)
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
