// Command fakezalo runs the fake Zalo of package zalotest on a local port so that a developer can
// talk to a running gateway as a Zalo user, without an OA:
//
//	go run ./zalo/zalotest/fakezalo            # prints the ZALO_* variables to start the gateway with
//	go run ./cmd/gateway serve                 # in another terminal, with those variables
//
// Then each line typed is a message from the Zalo user, posted to the gateway's webhook signed
// as Zalo signs it, and what the OA sends back is printed with its buttons. "#N" presses button N
// of the last answer, "/follow" and "/unfollow" send those events, "/expire" expires the access
// tokens (the next message makes the gateway refresh), "/forged" posts a message with a wrong
// signature and shows the status.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway/zalo/zalotest"
)

func main() {
	webhook := flag.String("webhook", "http://127.0.0.1:8080/zalo/webhook", "the gateway's Zalo webhook")
	user := flag.String("user", "5500000000000000001", "the Zalo user id to write as")
	wait := flag.Duration("wait", 3*time.Second, "how long to wait for answers after each message")
	flag.Parse()

	const app, secret, oaKey, rt = "4318000000000000001", "dev-app-secret", "dev-oa-secret-key", "RT-dev-first"
	fake := zalotest.New(app, secret, oaKey, rt)
	defer fake.Close()
	fmt.Printf("fake Zalo at %s; start the gateway with:\n\n", fake.URL)
	fmt.Printf("  ZALO_APP_ID=%s ZALO_APP_SECRET=%s ZALO_OA_SECRET_KEY=%s ZALO_REFRESH_TOKEN=%s \\\n", app, secret, oaKey, rt)
	fmt.Printf("  ZALO_API_URL=%s ZALO_OAUTH_URL=%s ZALO_ZNS_URL=%s go run ./cmd/gateway serve\n\n", fake.URL, fake.URL, fake.URL)
	fmt.Println("then type messages (#N presses button N, /follow, /unfollow, /expire, /forged):")

	var last []zalotest.Button
	seq := 0
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		before := len(fake.SentTo(*user))
		seq++
		id := fmt.Sprintf("dev-%d-%d", time.Now().Unix(), seq)
		var code int
		var err error
		switch {
		case line == "/expire":
			fake.ExpireAccessTokens()
			fmt.Println("(access tokens expired)")
			continue
		case line == "/follow" || line == "/unfollow":
			code, err = fake.Post(*webhook, fake.Event(strings.TrimPrefix(line, "/"), *user, "", "", time.Now()))
		case line == "/forged":
			body := fake.Event("user_send_text", *user, "forged", id, time.Now())
			code, err = fake.PostSigned(*webhook, body, "mac="+strings.Repeat("0", 64), nil)
		case strings.HasPrefix(line, "#"):
			n, _ := strconv.Atoi(line[1:])
			if n < 1 || n > len(last) {
				fmt.Println("(no such button)")
				continue
			}
			fmt.Printf("(pressed %q → %s)\n", last[n-1].Title, last[n-1].Payload)
			code, err = fake.Text(*webhook, *user, last[n-1].Payload, id)
		default:
			code, err = fake.Text(*webhook, *user, line, id)
		}
		if err != nil {
			fmt.Println("webhook:", err)
			continue
		}
		fmt.Printf("(webhook answered %d)\n", code)
		deadline := time.Now().Add(*wait)
		for time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			got := fake.SentTo(*user)
			if len(got) > before && time.Since(got[len(got)-1].At) > 300*time.Millisecond {
				break
			}
		}
		got := fake.SentTo(*user)[before:]
		if len(got) > 0 {
			last = nil
		}
		for _, m := range got {
			fmt.Println(m.Text)
			for _, b := range m.Buttons {
				last = append(last, b)
				fmt.Printf("  [#%d %s]\n", len(last), b.Title)
			}
		}
		fmt.Println("---")
		st := fake.Stats()
		if len(st.Reused) > 0 {
			fmt.Println("(!) refresh tokens sent twice:", st.Reused)
		}
	}
}
