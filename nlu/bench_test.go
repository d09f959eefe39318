package nlu

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

// benchMessages is a varied list: keywords, short and long sentences, with and without
// diacritics, abbreviations and typos, out of scope.
var benchMessages = []string{
	"TT TB-2025-000123 4567",
	"LICH Vu Phuc",
	"HS NKT",
	"xin chào",
	"mẹ tôi 82 tuổi không có lương hưu có được hưởng trợ cấp không ạ",
	"me toi 82 tuoi ko co luong huu co dc huong k",
	"người khuyết tật đặc biệt nặng được bao nhiêu tiền một tháng",
	"ngày mấy phát tiền ở xã Kiến Xương",
	"hồ sơ xin trợ cấp cho bố tôi cần những giấy tờ gì, nộp ở đâu",
	"hs cua toi duyet chua ad",
	"thẻ bhyt của bà tôi hết hạn thì làm thế nào",
	"bố tôi mất rồi có được hỗ trợ mai táng không",
	"chuyển hộ khẩu sang tỉnh khác thì trợ cấp thế nào",
	"tháng này bị trả thiếu 200 nghìn, tôi muốn khiếu nại",
	"cho xin số điện thoại cán bộ xã",
	"giá vàng hôm nay bao nhiêu",
	"cảm ơn nhiều",
	"English please",
}

func benchClassifier(b *testing.B) *Classifier {
	return classifier(b)
}

// BenchmarkClassify measures one Classify call, averaged over benchMessages.
func BenchmarkClassify(b *testing.B) {
	c := benchClassifier(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c.Classify(benchMessages[i%len(benchMessages)])
	}
}

func redisForBench(b *testing.B) redis.UniversalClient {
	addr, real := redistest.Addr(b)
	if !real {
		b.Skip("redis-server is not installed: the comparison needs a real server, not miniredis")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.Set(ctx, "nlu:bench", "value", 0).Err(); err != nil {
		b.Fatal(err)
	}
	return rdb
}

// BenchmarkRedisGET measures one GET round trip on loopback to the real redis-server.
func BenchmarkRedisGET(b *testing.B) {
	rdb := redisForBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := rdb.Get(ctx, "nlu:bench").Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifyVsRedis measures both in the same run, interleaved in rounds so that machine
// noise hits both alike, and reports classify/redisGET (target ≤ 0.25), ns/classify, ns/redisGET.
func BenchmarkClassifyVsRedis(b *testing.B) {
	c := benchClassifier(b)
	rdb := redisForBench(b)
	ctx := context.Background()
	var tc, tr time.Duration
	var nc, nr int
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		for i := range benchMessages {
			c.Classify(benchMessages[i])
		}
		tc += time.Since(start)
		nc += len(benchMessages)
		start = time.Now()
		for range 4 {
			if err := rdb.Get(ctx, "nlu:bench").Err(); err != nil {
				b.Fatal(err)
			}
		}
		tr += time.Since(start)
		nr += 4
	}
	perC := float64(tc.Nanoseconds()) / float64(nc)
	perR := float64(tr.Nanoseconds()) / float64(nr)
	b.ReportMetric(perC, "ns/classify")
	b.ReportMetric(perR, "ns/redisGET")
	b.ReportMetric(perC/perR, "classify/redisGET")
}
