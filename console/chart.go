package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Charts drawn on the server as SVG (no library, no script): bars are rects whose colours come
// from console.css classes (c0, c1, ...), so the page's Content-Security-Policy (no inline
// style) holds. Every bar has a <title> with its figure, and every chart a table of the same
// figures beside it on the page, for people who cannot see the colours.

// series is one kind of bar in a chart.
type series struct {
	Name  string
	Class string // c0 ... c6, ok, bad, muted
}

// column is one day (or any x) of a column chart: a value per series, stacked.
type column struct {
	Label  string // under the axis ("02/03"); shown for some columns only when they are many
	Title  string // the full name in tooltips ("02/03/2026")
	Values []float64
}

// hrow is one row of a horizontal bar chart: a label and a value per series.
type hrow struct {
	Label  string
	Values []float64
	Note   string   // written after the bars ("12 · 3 quá hạn"); default the values
	Titles []string // each value as its tooltip says it; default the values
}

const chartW = 960

func esc(s string) string { return template.HTMLEscapeString(s) }

// niceMax rounds a maximum up to four steps of 1, 2 or 5 times a power of ten (a whole number
// when the values are: 4 for 3, 8 for 5, 400 for 310).
func niceMax(v float64) float64 {
	if v <= 0 {
		return 4
	}
	step := v / 4
	p := math.Pow(10, math.Floor(math.Log10(step)))
	if p < 1 && v >= 1 {
		p = 1
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if step <= m*p {
			return 4 * m * p
		}
	}
	return 40 * p
}

func fmtValue(v float64) string {
	if v == math.Trunc(v) {
		return formatNum(int64(v))
	}
	return strings.Replace(fmt.Sprintf("%.1f", v), ".", ",", 1)
}

// columnsSVG draws stacked columns, one per x, with a y axis of four steps.
func columnsSVG(label string, ss []series, cols []column) template.HTML {
	const h, left, bottom, top = 240, 44, 26, 10
	plotW, plotH := float64(chartW-left-8), float64(h-bottom-top)
	maxV := 0.0
	for _, c := range cols {
		t := 0.0
		for _, v := range c.Values {
			t += v
		}
		maxV = math.Max(maxV, t)
	}
	top1 := niceMax(maxV)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, h, esc(label))
	for i := 0; i <= 4; i++ {
		y := float64(top) + plotH - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, chartW-8, y, y)
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`, left-6, y+4, fmtValue(top1*float64(i)/4))
	}
	if len(cols) > 0 {
		band := plotW / float64(len(cols))
		bw := math.Max(1, band*0.72)
		step := int(math.Ceil(float64(len(cols)) / 12))
		for i, c := range cols {
			x := float64(left) + band*float64(i) + (band-bw)/2
			y := float64(top) + plotH
			for j, v := range c.Values {
				if v <= 0 {
					continue
				}
				bh := plotH * v / top1
				y -= bh
				fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s — %s: %s</title></rect>`,
					ss[j].Class, x, y, bw, bh, esc(c.Title), esc(ss[j].Name), fmtValue(v))
			}
			if i%step == 0 {
				fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+bw/2, h-8, esc(c.Label))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hbarsSVG draws one row per label: the series side by side (stacked) or one under the other
// (grouped), from zero to the largest value.
func hbarsSVG(label string, ss []series, rows []hrow, stacked bool) template.HTML {
	const left, right = 170, 150
	barH, gap := 18.0, 10.0
	rowH := barH + gap
	if !stacked {
		rowH = barH*float64(len(ss)) + gap
	}
	h := int(rowH*float64(len(rows))) + 8
	plotW := float64(chartW - left - right)
	maxV := 0.0
	for _, r := range rows {
		t := 0.0
		for _, v := range r.Values {
			if stacked {
				t += v
			} else {
				t = math.Max(t, v)
			}
		}
		maxV = math.Max(maxV, t)
	}
	top1 := niceMax(maxV)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, h, esc(label))
	for i, r := range rows {
		y0 := 4 + rowH*float64(i)
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%.1f" text-anchor="end">%s</text>`, left-8, y0+rowH/2-gap/2+4, esc(r.Label))
		x := float64(left)
		end := x
		var notes []string
		for j, v := range r.Values {
			y := y0
			if !stacked {
				y, x = y0+barH*float64(j), float64(left)
			}
			w := plotW * v / top1
			if v > 0 {
				title := fmtValue(v)
				if j < len(r.Titles) {
					title = r.Titles[j]
				}
				fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s — %s: %s</title></rect>`,
					ss[j].Class, x, y, math.Max(w, 1.5), barH-2, esc(r.Label), esc(ss[j].Name), esc(title))
			}
			if stacked {
				x += w
				end = x
			} else {
				end = math.Max(end, x+w)
			}
			notes = append(notes, fmtValue(v))
		}
		note := r.Note
		if note == "" {
			note = strings.Join(notes, " · ")
		}
		fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%.1f">%s</text>`, end+6, y0+rowH/2-gap/2+4, esc(note))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
