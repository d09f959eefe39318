package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runNLU runs `gateway nlu ...` in-process.
func runNLU(t *testing.T, stdin string, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &environ{
		stdin:  strings.NewReader(stdin),
		stdout: &out, stderr: &errb,
		getenv: func(k string) string { return vars[k] },
	}
	code := run(context.Background(), env, append([]string{"nlu"}, args...))
	return code, out.String(), errb.String()
}

func TestNLUClassify(t *testing.T) {
	in := "TT TB-2025-000123 4567\nmẹ tôi 82 tuổi không có lương hưu có được hưởng không\r\n\nLICH Vu Phuc\ngiá vàng hôm nay"
	code, out, errOut := runNLU(t, in, nil, "classify")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []struct {
		intent string
		ents   map[string]string
	}{
		{"application_status", map[string]string{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"eligibility", map[string]string{"age": "82"}},
		{"out_of_scope", map[string]string{}},
		{"payment", map[string]string{"commune": "Vũ Phúc"}},
		{"out_of_scope", map[string]string{}},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, l := range lines {
		var r struct {
			Text       string            `json:"text"`
			Intent     string            `json:"intent"`
			Confidence *float64          `json:"confidence"`
			Entities   map[string]string `json:"entities"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		if r.Intent != want[i].intent || r.Confidence == nil || *r.Confidence < 0 || *r.Confidence > 1 || r.Entities == nil {
			t.Errorf("line %d: %s", i+1, l)
		}
		for k, v := range want[i].ents {
			if r.Entities[k] != v {
				t.Errorf("line %d: entity %s = %q, want %q", i+1, k, r.Entities[k], v)
			}
		}
		if strings.ContainsAny(r.Text, "\r\n") {
			t.Errorf("line %d: text keeps the line end: %q", i+1, r.Text)
		}
	}
}

func TestNLUEval(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "eval.jsonl")
	body := `{"text":"xin chào","intent":"greeting"}
{"text":"giá vàng hôm nay","intent":"out_of_scope"}
{"text":"kết quả xổ số","intent":"out_of_scope"}
{"text":"ngày mấy phát tiền","intent":"payment"}
{"text":"cảm ơn nhiều","intent":"greeting"}
`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runNLU(t, "", nil, "eval", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"accuracy: 80.0%", "out-of-scope false acceptance: 0.0%", "precision", "greeting → thanks"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}

	code, out, errOut = runNLU(t, "", nil, "eval", "--json", file)
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if rep.Items != 5 || rep.Correct != 4 || rep.Accuracy != 0.8 || rep.OOSFalseAcceptance != 0 ||
		len(rep.Confused) != 1 || rep.Confused[0] != (confusion{"greeting", "thanks", 1}) {
		t.Errorf("report = %+v", rep)
	}
}

func TestNLUErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"text":"a","intent":"greeting"}`+"\n"+`{"text":"b","intent":"weather"}`+"\n"), 0o600)
	cases := []struct {
		args    []string
		vars    map[string]string
		code    int
		errPart string
	}{
		{[]string{}, nil, 2, "missing classify or eval"},
		{[]string{"frobnicate"}, nil, 2, "unknown nlu command"},
		{[]string{"eval"}, nil, 2, "needs a FILE"},
		{[]string{"eval", "--xml", "f"}, nil, 2, "unknown flag"},
		{[]string{"eval", filepath.Join(dir, "missing.jsonl")}, nil, 1, "no such file"},
		{[]string{"eval", bad}, nil, 1, `bad.jsonl:2: unknown intent "weather"`},
		{[]string{"classify", "x"}, nil, 2, "no arguments"},
		{[]string{"classify"}, map[string]string{"DATA_DIR": filepath.Join(dir, "nope")}, 1, "data:"},
	}
	for _, tc := range cases {
		code, _, errOut := runNLU(t, "", tc.vars, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.errPart) {
			t.Errorf("nlu %v: exit %d, stderr %q; want exit %d with %q", tc.args, code, errOut, tc.code, tc.errPart)
		}
	}
}

func TestNLUDataDirOverride(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "knowledge"), 0o700)
	csv := "# comment\nname,kind\nXã Thử Nghiệm,xa\n"
	if err := os.WriteFile(filepath.Join(dir, "knowledge", "communes.csv"), []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runNLU(t, "LICH Thu Nghiem\n", map[string]string{"DATA_DIR": dir}, "classify")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"commune":"Xã Thử Nghiệm"`) || !strings.Contains(out, `"intent":"payment"`) {
		t.Errorf("override communes not used: %s", out)
	}
}
