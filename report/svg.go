package report

import (
	"fmt"
	"html/template"
	"strings"
)

// Colours of the charts; they print legibly in grey too.
const (
	colDelivered = "#2f7d4f"
	colDeferred  = "#e0a526"
	colFailed    = "#c0392b"
	colBar       = "#34617d"
)

func esc(s string) string { return template.HTMLEscapeString(s) }

// dailyChart draws the attempts per day stacked by outcome, as inline SVG.
func dailyChart(days []Day) template.HTML {
	const w, h, left, bottom, top = 640, 200, 56, 28, 10
	var maxV int64 = 1
	for _, d := range days {
		maxV = max(maxV, d.Delivered+d.Deferred+d.Failed)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="Attempts per day by outcome" xmlns="http://www.w3.org/2000/svg">`, w, h+20)
	plotH := float64(h - bottom - top)
	for i := 0; i <= 4; i++ { // grid and scale
		y := float64(top) + plotH*float64(i)/4
		v := maxV * int64(4-i) / 4
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" font-size="10" text-anchor="end" fill="#555">%s</text>`,
			left, y, w, y, left-4, y+3, thousands(v))
	}
	n := max(len(days), 1)
	slot := float64(w-left) / float64(n)
	barW := slot * 0.6
	for i, d := range days {
		x := float64(left) + slot*float64(i) + (slot-barW)/2
		y := float64(top) + plotH
		for _, part := range []struct {
			v     int64
			color string
			name  string
		}{{d.Delivered, colDelivered, "delivered"}, {d.Deferred, colDeferred, "deferred"}, {d.Failed, colFailed, "bounced"}} {
			bh := plotH * float64(part.v) / float64(maxV)
			y -= bh
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				x, y, barW, bh, part.color, esc(d.Date), part.name, thousands(part.v))
		}
		label := d.Date
		if len(label) == 10 {
			label = label[5:]
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle" fill="#333">%s</text>`, x+barW/2, h-bottom+14, esc(label))
	}
	lx := left
	for _, l := range []struct{ name, color string }{{"delivered", colDelivered}, {"deferred", colDeferred}, {"bounced or expired", colFailed}} {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="11" fill="#333">%s</text>`,
			lx, h+4, l.color, lx+14, h+13, esc(l.name))
		lx += 24 + 7*len(l.name)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text in it is escaped above
}

// partiesChart draws the failures per party that must act, as horizontal bars.
func partiesChart(parties []PartyCount) template.HTML {
	const w, rowH, left = 640, 22, 150
	h := rowH*len(parties) + 8
	var maxV int64 = 1
	for _, p := range parties {
		maxV = max(maxV, p.Failures, p.Previous)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="Failures by who must act" xmlns="http://www.w3.org/2000/svg">`, w, h)
	for i, p := range parties {
		y := 4 + i*rowH
		bw := float64(w-left-90) * float64(p.Failures) / float64(maxV)
		pw := float64(w-left-90) * float64(p.Previous) / float64(maxV)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end" fill="#333">%s</text>`, left-6, y+13, esc(p.ActionParty))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="14" fill="%s"><title>%s: %s (before: %s)</title></rect>`,
			left, y+2, bw, colBar, esc(p.ActionParty), thousands(p.Failures), thousands(p.Previous))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#111" stroke-width="2"><title>before: %s</title></line>`,
			float64(left)+pw, y, float64(left)+pw, y+18, thousands(p.Previous))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="#333">%s (%s)</text>`, float64(left)+bw+6, y+13,
			thousands(p.Failures), esc(change(p.Failures, p.Previous)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
