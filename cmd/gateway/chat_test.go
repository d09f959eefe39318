package main

import (
	"strings"
	"testing"

	"github.com/socialaid-vn/gateway/sms"
)

// chatTurns runs a scripted chat and splits its output into the replies to each input line.
func chatTurns(t *testing.T, vars map[string]string, lines []string, args ...string) []string {
	t.Helper()
	code, out, errOut := runGateway(t, vars, strings.Join(lines, "\n")+"\n", append([]string{"chat"}, args...)...)
	if code != 0 {
		t.Fatalf("chat exit %d\nstderr: %s", code, errOut)
	}
	parts := strings.Split(out, "---\n")
	if len(parts) != len(lines)+1 || strings.TrimSpace(parts[len(parts)-1]) != "" {
		t.Fatalf("want %d replies separated by ---, got:\n%s", len(lines), out)
	}
	return parts[:len(lines)]
}

func TestChatAnswersWithNoConfiguration(t *testing.T) {
	turns := chatTurns(t, nil, []string{
		"xin chào",
		"khi nao nhan tien",
		"hồ sơ gồm những gì",
		"English please",
		"when is the money paid",
		"what documents do I need",
	})
	expect := []struct {
		turn int
		any  []string
	}{
		{0, []string{"Xin chào"}},
		{1, []string{"xã", "chi trả"}},
		{2, []string{"Mẫu", "CCCD", "căn cước"}},
		{3, []string{"English"}},
		{4, []string{"commune", "paid"}},
		{5, []string{"form", "Form", "ID"}},
	}
	for _, e := range expect {
		ok := false
		for _, s := range e.any {
			if strings.Contains(strings.ToLower(turns[e.turn]), strings.ToLower(s)) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("reply %d should mention one of %q:\n%s", e.turn, e.any, turns[e.turn])
		}
	}
	for i := 0; i < 3; i++ {
		if strings.Contains(turns[i], "!core.") || strings.Contains(turns[i], "!") && strings.Contains(turns[i], ".text!") {
			t.Errorf("reply %d shows a missing catalog key:\n%s", i, turns[i])
		}
	}
}

func TestChatSMSRepliesAreGSM7(t *testing.T) {
	turns := chatTurns(t, nil, []string{"xin chao", "menu", "hồ sơ gồm những gì", "LICH Vu Phuc"}, "--channel", "sms")
	for i, tr := range turns {
		body := strings.TrimSpace(tr)
		if body == "" {
			t.Errorf("reply %d is empty", i)
		}
		segs, enc := sms.Segments(body)
		if enc != sms.GSM7 {
			t.Errorf("reply %d is not GSM-7:\n%s", i, body)
		}
		if segs > 2 {
			t.Errorf("reply %d takes %d segments (budget 2):\n%s", i, segs, body)
		}
	}
}

// As a Zalo user sees it: at most five buttons to a message (the rest in a second one), "#N"
// presses one, a long list (the communes) is numbered and a bare number picks from it.
func TestChatAsZalo(t *testing.T) {
	turns := chatTurns(t, nil, []string{"xin chào", "#3", "1", "#1"}, "--channel", "zalo")
	if len(turns) != 4 {
		t.Fatalf("%d turns", len(turns))
	}
	if !strings.Contains(turns[0], "[#5] Xem hồ sơ của tôi\n·\n") || !strings.Contains(turns[0], "[#9] English") {
		t.Errorf("menu as Zalo buttons, five to a message:\n%s", turns[0])
	}
	if !strings.Contains(turns[1], "1. Vũ Phúc") {
		t.Errorf("payment: the communes as a numbered list:\n%s", turns[1])
	}
	if !strings.Contains(turns[2], "Các buổi chi trả sắp tới của Vũ Phúc") {
		t.Errorf("'1' picks the first commune:\n%s", turns[2])
	}
}

func TestChatRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--channel", "fax"}, {"--lang", "fr"}, {"extra"}} {
		code, _, _ := runGateway(t, nil, "", append([]string{"chat"}, args...)...)
		if code != 2 {
			t.Errorf("chat %v: exit %d, want 2", args, code)
		}
	}
}
