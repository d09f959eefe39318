package sms

import (
	"slices"
	"strings"

	"github.com/socialaid-vn/gateway/i18n"
)

// Intent labels the SMS keywords map to (INTENTS.md).
const (
	IntentStatus      = "application_status"
	IntentPayment     = "payment"
	IntentDocuments   = "documents"
	IntentSubscribe   = "subscribe"
	IntentUnsubscribe = "unsubscribe"
	IntentHelp        = "help"
	IntentComplaint   = "complaint" // KN (a new complaint) and PA (following one up)
)

// Entity keys ParseKeyword fills.
const (
	EntityApplicationCode = "application_code"
	EntityIDLast4         = "id_last4"
	EntityCommune         = "commune"
	EntityCategory        = "category"
	// EntityText is what follows KN, as the person wrote it (possibly empty: the core asks).
	EntityText = "text"
	// EntityCaseCode is the case code after PA, upper-cased ("" for a bare PA: the core lists
	// the sender's cases).
	EntityCaseCode = "case_code"
	// EntityPlace is the place a LICH or DK command named when it is not a known commune
	// ("LICH Ha Noi"): the core says it is unknown instead of using another commune.
	EntityPlace = "place"
	// EntityBadDigits is set when digits after the code are not the 4 verification digits
	// ("TT TB-2025-000123 45"): the core asks for them again, without trying them.
	EntityBadDigits = "id_last4_invalid"
)

// categories maps the HS keyword's category codes to the category entity.
var categories = map[string]string{
	"nct": "elderly",
	"nkt": "disability",
	"te":  "child",
	"dt":  "single_parent",
	"hiv": "hiv",
}

// fillers are polite words people add after a bare keyword ("HD a", "help me").
var fillers = map[string]bool{
	"a": true, "ah": true, "nhe": true, "nha": true, "voi": true, "di": true, "dum": true,
	"giup": true, "me": true, "please": true, "pls": true, "ad": true, "oi": true,
}

// communePrefixes are the words that may stand before a commune's name ("xa Vu Thu").
var communePrefixes = map[string]bool{"xa": true, "x": true, "phuong": true, "p": true, "ph": true}

// ParseKeyword recognises the SMS keyword commands of INTENTS.md, written in any case, with or
// without diacritics, with full-width characters or stray punctuation ("tt: tb-2025-000123,
// 4567"). The keyword is the first word; ok is false when the message is not a command, and the
// caller hands it to free-text understanding. The grammar:
//
//	TT | TRACUU | TRA CUU [code] [4 digits]  → application_status; TT followed by words without
//	                                           any digit ("tt ve tro cap") is free text
//	LICH [commune]                            → payment (commune when one is named)
//	HS [NCT|NKT|TE|DT|HIV]                    → documents; HS followed by anything else is free text
//	DK [commune]                              → subscribe; DK followed by words that are not a
//	                                           commune is free text ("dk nhan tien ko": "được")
//	HUY | STOP [anything]                     → unsubscribe
//	HD | TROGIUP | TRO GIUP | HELP            → help (polite words after it allowed)
//	KN [what happened]                        → complaint, with the text after KN as written
//	PA [case code]                            → complaint with case_code: follow a case up; PA
//	                                           followed by words without any digit is free text
//
// Entities: application_code upper-cased (tokens of a code typed with spaces are joined with
// "-"), id_last4 (when a full 9- or 12-digit ID number is typed, only its last four digits are
// kept), commune (the canonical name from communes, matched without diacritics, spaces or a
// "xa"/"phuong" prefix, with one typo allowed in names of six letters or more), category. A
// keyword with wrong or missing arguments is still its intent with the entities it could read.
func ParseKeyword(text string, communes []string) (intent string, entities map[string]string, ok bool) {
	words := strings.Fields(i18n.Key(text))
	if len(words) == 0 {
		return "", nil, false
	}
	first, args := words[0], words[1:]
	if len(args) > 0 && (first == "tra" && args[0] == "cuu" || first == "tro" && args[0] == "giup") {
		first, args = first+args[0], args[1:]
	}
	ent := map[string]string{}
	switch first {
	case "tt", "tracuu":
		if first == "tt" && len(args) > 0 && !anyDigit(args) {
			return "", nil, false
		}
		statusArgs(args, ent)
		return IntentStatus, ent, true
	case "lich":
		if c, found := findCommune(args, communes); found {
			ent[EntityCommune] = c
		} else if len(args) > 0 {
			ent[EntityPlace] = rawArgs(text, 1)
		}
		return IntentPayment, ent, true
	case "hs":
		switch {
		case len(args) == 0:
		case len(args) == 1 && categories[args[0]] != "":
			ent[EntityCategory] = categories[args[0]]
		default:
			return "", nil, false
		}
		return IntentDocuments, ent, true
	case "dk":
		if len(args) > 0 {
			c, found := matchCommune(args, communes)
			switch {
			case found:
				ent[EntityCommune] = c
			case len(args) <= 4 && !anyDigit(args) && !hasFunctionWord(args):
				ent[EntityPlace] = rawArgs(text, 1) // "DK Ha Noi": a place, not served
			default:
				return "", nil, false // "dk nhan tien ko": "được nhận tiền không"
			}
		}
		return IntentSubscribe, ent, true
	case "huy", "stop":
		return IntentUnsubscribe, ent, true
	case "kn":
		ent[EntityText] = afterKeyword(text)
		return IntentComplaint, ent, true
	case "pa":
		if len(args) > 0 && !anyDigit(args) {
			return "", nil, false
		}
		var code []string
		for _, a := range args {
			code = append(code, strings.ToUpper(a))
		}
		ent[EntityCaseCode] = strings.Join(code, "-")
		return IntentComplaint, ent, true
	case "hd", "trogiup", "help":
		for _, a := range args {
			if !fillers[a] {
				return "", nil, false
			}
		}
		return IntentHelp, ent, true
	}
	return "", nil, false
}

// functionWords show that what follows "DK" is a sentence ("dk nhan tien ko"), not a place.
var functionWords = map[string]bool{
	"ko": true, "khong": true, "k": true, "chua": true, "a": true, "gi": true, "j": true, "nao": true,
	"the": true, "co": true, "duoc": true, "dc": true, "nhan": true, "tien": true, "roi": true, "nhe": true,
	"cho": true, "toi": true, "em": true, "minh": true, "thong": true, "bao": true, "tin": true, "voi": true,
	"lam": true, "sao": true, "hoi": true, "muon": true, "ky": true,
}

func hasFunctionWord(words []string) bool {
	for _, w := range words {
		if functionWords[w] {
			return true
		}
	}
	return false
}

// rawArgs is the text after the first n words, as typed.
func rawArgs(text string, n int) string {
	f := strings.Fields(strings.ToValidUTF8(text, " "))
	if len(f) <= n {
		return ""
	}
	return strings.Trim(strings.Join(f[n:], " "), " .,;:!?")
}

// statusArgs reads "code 4567" (or "4567 code") into entities.
func statusArgs(args []string, ent map[string]string) {
	if len(args) == 0 {
		return
	}
	// Digits after a whole code that are not the 4 verification digits ("TT TB-2025-000123 45")
	// are a mistyped answer, not part of the code.
	if i := slices.IndexFunc(args, wholeCode); i >= 0 {
		for j := i + 1; j < len(args); j++ {
			if isDigitsOnly(args[j]) && !isIDDigits(args[j]) {
				ent[EntityBadDigits] = "1"
				args = append(slices.Clone(args[:j]), args[j+1:]...)
				j--
			}
		}
	}
	idAt := -1
	switch {
	case isIDDigits(args[len(args)-1]):
		idAt = len(args) - 1
	case len(args) > 1 && isIDDigits(args[0]):
		idAt = 0
	}
	var code []string
	for i, a := range args {
		if i == idAt {
			ent[EntityIDLast4] = a[len(a)-4:]
			continue
		}
		code = append(code, strings.ToUpper(a))
	}
	if len(code) > 0 {
		ent[EntityApplicationCode] = strings.Join(code, "-")
	}
}

// isIDDigits reports whether s is the 4 verification digits, or a whole citizen ID (12 digits) or
// old identity card number (9 digits) of which the last four are used.
func isIDDigits(s string) bool {
	if len(s) != 4 && len(s) != 9 && len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// wholeCode reports a word that is a code by itself: letters and digits, 6 characters or more.
func wholeCode(w string) bool {
	letters, digits := false, false
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters = true
		case c >= '0' && c <= '9':
			digits = true
		}
	}
	return letters && digits && len(w) >= 6
}

func isDigitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func anyDigit(words []string) bool {
	for _, w := range words {
		if strings.ContainsAny(w, "0123456789") {
			return true
		}
	}
	return false
}

// matchCommune matches the whole of words (after an optional "xa"/"phuong" prefix) to one
// commune: exactly without spaces and diacritics, else with a small typo when exactly one commune
// is that close.
func matchCommune(words []string, communes []string) (string, bool) {
	for len(words) > 1 && communePrefixes[words[0]] {
		words = words[1:]
	}
	want := strings.Join(words, "")
	if want == "" {
		return "", false
	}
	best, bestDist, ties := "", 3, 0
	for _, c := range communes {
		k := strings.ReplaceAll(i18n.Key(c), " ", "")
		if k == "" {
			continue
		}
		if k == want {
			return strings.TrimSpace(c), true
		}
		tol := 0
		switch {
		case len(k) >= 10:
			tol = 2
		case len(k) >= 6:
			tol = 1
		}
		d := editDistance(want, k, tol)
		if d > tol {
			continue
		}
		switch {
		case d < bestDist:
			best, bestDist, ties = strings.TrimSpace(c), d, 1
		case d == bestDist:
			ties++
		}
	}
	if best != "" && ties == 1 {
		return best, true
	}
	return "", false
}

// findCommune finds a commune named in words: all of them (typos allowed), else any run of up
// to four consecutive words among the first twenty naming one exactly ("lich chi tra vu phuc").
func findCommune(words []string, communes []string) (string, bool) {
	if len(words) == 0 {
		return "", false
	}
	if c, ok := matchCommune(words, communes); ok {
		return c, true
	}
	keys := make(map[string]string, len(communes))
	for _, c := range communes {
		if k := strings.ReplaceAll(i18n.Key(c), " ", ""); k != "" {
			if _, dup := keys[k]; !dup {
				keys[k] = strings.TrimSpace(c)
			}
		}
	}
	words = words[:min(len(words), 20)]
	for n := min(4, len(words)); n >= 1; n-- {
		for i := 0; i+n <= len(words); i++ {
			if c, ok := keys[strings.Join(words[i:i+n], "")]; ok {
				return c, true
			}
		}
	}
	return "", false
}

// editDistance is the Levenshtein distance of a and b in bytes, or limit+1 as soon as it is
// known to exceed limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// afterKeyword is the text after the first word, as written (for KN: the person's own words,
// diacritics kept), without the punctuation that separated it ("KN: tiền tháng 11 ...").
func afterKeyword(text string) string {
	text = strings.TrimSpace(strings.ToValidUTF8(text, " "))
	i := strings.IndexFunc(text, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == ':' || r == ',' || r == '.' || r == ';' || r == '-'
	})
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(strings.TrimLeft(text[i:], " \t\r\n:;,.-"))
}
