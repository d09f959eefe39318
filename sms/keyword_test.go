package sms

import (
	"maps"
	"testing"
)

var testCommunes = []string{"Vũ Phúc", "Trần Lãm", "Tiền Phong", "Phố Hiến", "Kiến Xương", "Đông Hưng",
	"Đông Hợp", "Hưng Hà", "Quỳnh Phụ", "Thái Thụy", "Diêm Điền", "Tiền Hải", "Vũ Thư"}

func TestParseKeyword(t *testing.T) {
	type ents = map[string]string
	cases := []struct {
		text   string
		intent string // "" = not a keyword
		ent    ents
	}{
		// application status
		{"TT TB-2025-000123 4567", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"tt tb-2025-000123 4567", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"  Tt   TB-2025-000123    4567  ", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"TT: TB-2025-000123, 4567.", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"ＴＴ ＴＢ-２０２５-０００１２３ ４５６７", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"TT TB-2025-000123 ４５６７", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"tracuu tb2025000123 4567", IntentStatus, ents{"application_code": "TB2025000123", "id_last4": "4567"}},
		{"Tra cứu TB-2025-000123 4567", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"TRA CUU TB 2025 000123 4567", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"TT 4567 TB-2025-000123", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"TT TB-2025-000123 034567894567", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4": "4567"}},
		{"TT TB-2025-000123", IntentStatus, ents{"application_code": "TB-2025-000123"}},
		{"TT 4567", IntentStatus, ents{"id_last4": "4567"}},
		{"TT", IntentStatus, ents{}},
		{"tt.", IntentStatus, ents{}},
		{"tt ve tro cap nguoi gia", "", nil}, // "thông tin", free text
		// payment
		{"LICH", IntentPayment, ents{}},
		{"lich vu phuc", IntentPayment, ents{"commune": "Vũ Phúc"}},
		{"LỊCH Vũ Phúc", IntentPayment, ents{"commune": "Vũ Phúc"}},
		{"Lich   VUPHUC", IntentPayment, ents{"commune": "Vũ Phúc"}},
		{"lich xa Dong Hung", IntentPayment, ents{"commune": "Đông Hưng"}},
		{"LICH đông hợp", IntentPayment, ents{"commune": "Đông Hợp"}},
		{"lich Kien Xuong", IntentPayment, ents{"commune": "Kiến Xương"}},
		{"lich kien xuog", IntentPayment, ents{"commune": "Kiến Xương"}}, // one typo
		{"lich chi tra o tien hai thang nay", IntentPayment, ents{"commune": "Tiền Hải"}},
		{"lich Ha Noi", IntentPayment, ents{"place": "Ha Noi"}}, // unknown commune: said to be unknown, never replaced
		{"DK Ha Noi", IntentSubscribe, ents{"place": "Ha Noi"}},
		{"TT TB-2025-000123 45", IntentStatus, ents{"application_code": "TB-2025-000123", "id_last4_invalid": "1"}},
		// documents
		{"HS", IntentDocuments, ents{}},
		{"hs nct", IntentDocuments, ents{"category": "elderly"}},
		{"HS NKT", IntentDocuments, ents{"category": "disability"}},
		{"Hs te", IntentDocuments, ents{"category": "child"}},
		{"HS DT", IntentDocuments, ents{"category": "single_parent"}},
		{"hs hiv", IntentDocuments, ents{"category": "hiv"}},
		{"hs cua toi duyet chua", "", nil},
		{"Hồ sơ của tôi", "", nil},
		// subscribe
		{"DK", IntentSubscribe, ents{}},
		{"dk Vu Phuc", IntentSubscribe, ents{"commune": "Vũ Phúc"}},
		{"ĐK Vũ Phúc", IntentSubscribe, ents{"commune": "Vũ Phúc"}},
		{"Đk phuong tran lam", IntentSubscribe, ents{"commune": "Trần Lãm"}},
		{"dk thai thuy", IntentSubscribe, ents{"commune": "Thái Thụy"}},
		{"dk nhan tien ko", "", nil}, // "được nhận tiền không"
		{"dk chua a", "", nil},
		// unsubscribe
		{"HUY", IntentUnsubscribe, ents{}},
		{"huỷ", IntentUnsubscribe, ents{}},
		{"Hủy", IntentUnsubscribe, ents{}},
		{"STOP", IntentUnsubscribe, ents{}},
		{"stop nhan tin dum", IntentUnsubscribe, ents{}},
		{"Stop!", IntentUnsubscribe, ents{}},
		// help
		{"HD", IntentHelp, ents{}},
		{"hd", IntentHelp, ents{}},
		{"TROGIUP", IntentHelp, ents{}},
		{"trợ giúp", IntentHelp, ents{}},
		{"Help", IntentHelp, ents{}},
		{"help me", IntentHelp, ents{}},
		{"hd lam ho so the nao", "", nil},
		// complaints: KN opens one with the person's own words, PA follows one up
		{"KN tien thang 11 chua nhan duoc", IntentComplaint, ents{"text": "tien thang 11 chua nhan duoc"}},
		{"kn: Tiền tháng 11 chưa nhận được", IntentComplaint, ents{"text": "Tiền tháng 11 chưa nhận được"}},
		{"KN", IntentComplaint, ents{"text": ""}},
		{"PA PA-2026-000012", IntentComplaint, ents{"case_code": "PA-2026-000012"}},
		{"pa pa2026000012", IntentComplaint, ents{"case_code": "PA2026000012"}},
		{"PA 2026 12", IntentComplaint, ents{"case_code": "2026-12"}},
		{"PA", IntentComplaint, ents{"case_code": ""}},
		{"pa oi cho con hoi", "", nil}, // "papa": free text
		// free text and junk
		{"", "", nil},
		{"   ", "", nil},
		{"!!!", "", nil},
		{"khi nao nhan tien", "", nil},
		{"xin chao", "", nil},
		{"\xff\xfe TT", IntentStatus, ents{}}, // invalid bytes are dropped, not fatal
	}
	for _, tc := range cases {
		intent, ent, ok := ParseKeyword(tc.text, testCommunes)
		if ok != (tc.intent != "") || intent != tc.intent {
			t.Errorf("ParseKeyword(%q) = %q, ok=%v; want %q", tc.text, intent, ok, tc.intent)
			continue
		}
		if ok && !maps.Equal(ent, tc.ent) {
			t.Errorf("ParseKeyword(%q) entities = %v; want %v", tc.text, ent, tc.ent)
		}
		if !ok && ent != nil {
			t.Errorf("ParseKeyword(%q): entities %v without a keyword", tc.text, ent)
		}
	}
}

func TestMatchCommuneAmbiguousTypo(t *testing.T) {
	// A typo as close to two communes must not pick one of them at random.
	communes := []string{"Xuân An", "Xuân Ân", "Hòa Bình", "Hoà Bính"}
	if c, ok := matchCommune([]string{"hoabinx"}, communes); ok {
		t.Errorf("ambiguous typo matched %q", c)
	}
	if c, ok := matchCommune([]string{"xa", "hoa", "binh"}, communes); !ok || c != "Hòa Bình" {
		t.Errorf("got %q %v", c, ok)
	}
}
