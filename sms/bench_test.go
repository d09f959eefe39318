package sms

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const benchText = "Nhan tin: TT <ma ho so> <4 so cuoi CCCD> de xem ho so. LICH <ten xa>: lich chi tra. " +
	"HS: giay to can nop. DK <ten xa>: nhan thong bao. HUY: ngung nhan tin. {x} [y] €"

// BenchmarkSegments measures the GSM 03.38 segment counter against counting the runes of the
// same text (the least any counter must do), and reports the ratio.
func BenchmarkSegments(b *testing.B) {
	text := strings.Repeat(benchText, 3)
	start := time.Now()
	n := 0
	for i := 0; i < b.N; i++ {
		n += utf8.RuneCountInString(text)
	}
	base := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, _ := Segments(text)
		n += s
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(base), "x-runecount")
	if n == 0 {
		b.Fatal("nothing counted")
	}
}
