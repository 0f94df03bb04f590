package scenario

import (
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// generator holds the state of one Generate call.
type generator struct {
	cfg        Config
	start, end time.Time
	dur        time.Duration
	rng        *rand.Rand
	seq        int
	records    []genRecord
	transLife  time.Duration // queue lifetime of transactional mail
	bulkLife   time.Duration
	listings   []*listing
	misconfigs []*misconfig
	tss        *episode
	writers    [4]mtaWriter

	// what the records describe, as ingest will count it
	events       int
	outcomes     map[string]int
	categories   map[string]int
	custEvents   map[*customer]int
	logLines     int
	bounceEmails int

	usedIDs  map[string]bool // queue ids per host and instance, kept unique
	qmgrPIDs map[string]int
	cdfs     map[*customer]*arrivals
}

// genRecord is a record with its generation sequence, which orders records of equal time.
type genRecord struct {
	Record
	seq int
}

func newGenerator(cfg Config) *generator {
	g := &generator{
		cfg:        cfg,
		start:      cfg.Start,
		dur:        cfg.Duration,
		end:        cfg.Start.Add(cfg.Duration),
		rng:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		outcomes:   map[string]int{},
		categories: map[string]int{},
		custEvents: map[*customer]int{},
		usedIDs:    map[string]bool{},
		qmgrPIDs:   map[string]int{},
		cdfs:       map[*customer]*arrivals{},
		transLife:  min(time.Hour, cfg.Duration/2),
		bulkLife:   5 * 24 * time.Hour,
	}
	g.records = make([]genRecord, 0, cfg.Events*3)
	g.writers = [4]mtaWriter{mtaPostfix: postfixWriter{}, mtaExim: eximWriter{}, mtaPMTA: pmtaWriter{}, mtaKumo: kumoWriter{}}
	return g
}

// at returns the time at fraction x of the window, to the second.
func (g *generator) at(x float64) time.Time {
	return g.start.Add(time.Duration(x * float64(g.dur))).Truncate(time.Second)
}

func (g *generator) run() {
	g.setupIncidents()
	writePMTAHeader(g)
	for _, c := range customers {
		g.cdfs[c] = newArrivals(c)
	}
	for _, c := range customers {
		budget := int(math.Round(c.share * float64(g.cfg.Events)))
		a := g.cdfs[c]
		for n := 0; g.custEvents[c] < budget && n < 4*budget; n++ {
			x := a.sample(g)
			g.simulate(g.newMessage(c, x, g.start.Add(time.Duration(x*float64(g.dur)))))
		}
	}
}

// ---- random helpers ----

func (g *generator) intn(n int) int                 { return g.rng.IntN(n) }
func (g *generator) float() float64                 { return g.rng.Float64() }
func (g *generator) chance(p float64) bool          { return g.rng.Float64() < p }
func (g *generator) between(lo, hi float64) float64 { return lo + (hi-lo)*g.rng.Float64() }

// secs returns a random duration between lo and hi seconds.
func (g *generator) secs(lo, hi float64) time.Duration {
	return time.Duration(g.between(lo, hi) * float64(time.Second))
}

func (g *generator) pick(weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	u := g.rng.Float64() * total
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

const hexDigits = "0123456789abcdef"
const alnumDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func (g *generator) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *generator) alnum(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnumDigits[g.rng.IntN(len(alnumDigits))]
	}
	return string(b)
}

func (g *generator) pid() int { return 1000 + g.intn(60000) }

// localPart makes up a mailbox name: first.last at companies, freer forms elsewhere.
func (g *generator) localPart(corporate bool) string {
	f := firstNames[g.intn(len(firstNames))]
	l := strings.ReplaceAll(lastNames[g.intn(len(lastNames))], " ", "")
	if corporate {
		if g.intn(4) == 0 {
			return f[:1] + "." + l
		}
		return f + "." + l
	}
	switch g.intn(5) {
	case 0:
		return f + "." + l
	case 1:
		return f + l + itoa(g.intn(100))
	case 2:
		return f[:1] + "." + l + itoa(1950+g.intn(60))
	case 3:
		return f + "_" + l
	}
	return f + "." + l + itoa(g.intn(1000))
}

// ---- arrivals ----

// arrivals samples message arrival times from a customer's traffic shape.
type arrivals struct {
	c         *customer
	cdf       []float64
	peak      float64   // highest intensity: campaign peaks are above 60% of it
	receiverW []float64 // weights of receivers for the customer's recipients
}

const arrivalBins = 720

func newArrivals(c *customer) *arrivals {
	a := &arrivals{c: c, cdf: make([]float64, arrivalBins)}
	sum := 0.0
	for i := range a.cdf {
		v := intensity(c, (float64(i)+0.5)/arrivalBins)
		a.peak = max(a.peak, v)
		sum += v
		a.cdf[i] = sum
	}
	for i := range a.cdf {
		a.cdf[i] /= sum
	}
	a.receiverW = make([]float64, len(receivers))
	for i, r := range receivers {
		a.receiverW[i] = r.weight
		if r.corporate() {
			a.receiverW[i] *= c.corpBias
		}
	}
	return a
}

// sample returns an arrival as a fraction of the window.
func (a *arrivals) sample(g *generator) float64 {
	u := g.float()
	lo, hi := 0, len(a.cdf)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if a.cdf[mid] < u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return min((float64(lo)+g.float())/arrivalBins, 0.998)
}

// intensity is a customer's relative sending rate at fraction x of the window: steady and
// slowly rising for transactional mail, campaigns for the others.
func intensity(c *customer, x float64) float64 {
	if c.transactional {
		return 0.75 + 0.5*x + 0.12*math.Sin(6*math.Pi*x)
	}
	v := c.trickle
	for _, b := range c.bursts {
		v += b.weight * trapezoid(x, b.from, b.to)
	}
	return v
}

// trapezoid is a campaign's shape: a fast ramp-up, a plateau and a slower tail.
func trapezoid(x, from, to float64) float64 {
	if x < from || x > to || to <= from {
		return 0
	}
	rise, fall := 0.12*(to-from), 0.3*(to-from)
	switch {
	case x < from+rise:
		return (x - from) / rise
	case x > to-fall:
		return (to - x) / fall
	}
	return 1
}

// peak reports whether a campaign customer sends near its highest rate at x.
func (g *generator) peak(c *customer, x float64) bool {
	if c.transactional {
		return false
	}
	return intensity(c, x) >= 0.6*g.cdfs[c].peak
}

// jobAt returns the campaign running at x, or the customer's default job.
func jobAt(c *customer, x float64) string {
	best, job := 0.0, c.job
	for _, b := range c.bursts {
		if v := trapezoid(x, b.from, b.to); v > best && b.job != "" {
			best, job = v, b.job
		}
	}
	return job
}

// ---- incidents ----

// listing is a sending IP on a blocklist for a window.
type listing struct {
	eg        *egress
	list      string // blocklist_providers value
	from, to  float64
	ongoing   bool
	start     time.Time
	end       time.Time
	refuses   func(*receiver) bool
	events    int
	providers map[string]bool
}

func (l *listing) active(t time.Time) bool {
	return !t.Before(l.start) && (l.ongoing || t.Before(l.end))
}

// misconfig is a customer's broken setup for a window.
type misconfig struct {
	c        *customer
	issue    string // spf, relay, loop
	category string
	from, to float64
	ongoing  bool
	start    time.Time
	end      time.Time
	events   int
}

func (m *misconfig) active(t time.Time) bool {
	return !t.Before(m.start) && (m.ongoing || t.Before(m.end))
}

// episode is a receiver's deferral of one IP for a window (Yahoo TSS04).
type episode struct {
	eg         *egress
	start, end time.Time
	events     int
}

func (g *generator) setupIncidents() {
	g.listings = []*listing{
		{eg: egZen, list: "spamhaus_zen", from: 0.25, to: 0.60, refuses: func(r *receiver) bool { return r.zen }},
		{eg: egSpamcop, list: "spamcop", from: 0.55, ongoing: true, refuses: func(r *receiver) bool { return r.spamcop }},
		{eg: egS3150, list: "microsoft_s3150", from: 0.70, ongoing: true, refuses: func(r *receiver) bool { return r.s3150 }},
	}
	for _, l := range g.listings {
		l.start, l.end, l.providers = g.at(l.from), g.at(l.to), map[string]bool{}
	}
	g.misconfigs = []*misconfig{
		{c: custHarbor, issue: "relay", category: catRelay, from: 0.15, to: 0.50},
		{c: custBrightcart, issue: "spf", category: catSPF, from: 0.30, to: 0.65},
		{c: custSunpeak, issue: "loop", category: catLoop, from: 0.40, ongoing: true},
		{c: custPixel, issue: "spf", category: catSPF, from: 0.80, ongoing: true},
	}
	for _, m := range g.misconfigs {
		m.start, m.end = g.at(m.from), g.at(m.to)
	}
	g.tss = &episode{eg: egTSS, start: g.at(0.36), end: g.at(0.55)}
	if g.cfg.Quiet {
		g.listings, g.misconfigs = nil, nil
		g.tss.start, g.tss.end = g.end, g.end // never active
	}
}

func (g *generator) misconfigOf(c *customer, issue string, t time.Time) int {
	for i, m := range g.misconfigs {
		if m.c == c && m.issue == issue && m.active(t) {
			return i + 1
		}
	}
	return 0
}

// ---- messages ----

// trait is what a recipient's mailbox will answer, whoever sends.
type trait uint8

const (
	trNone        trait = iota
	trUnknown           // does not exist
	trFull              // over quota for good
	trFullTemp          // over quota, may clear
	trLateUnknown       // accepted, then reported unknown by a non-delivery report
	trLateFull          // accepted, then reported over quota
)

type rcpt struct {
	addr, domain string
	rcv          *receiver
	mx           mxHost
	trait        trait
	last         reply // last deferral
}

type message struct {
	c        *customer
	eg       *egress
	arrival  time.Time
	sender   string
	msgID    string
	subject  string
	job      string
	size     int
	lifetime time.Duration
	rcpts    []*rcpt
	qid      string // Postfix queue id, Exim message id, KumoMTA spool id
	envID    string // PowerMTA envelope id
	pid      int    // the process of the last delivery attempt
}

func (g *generator) newMessage(c *customer, x float64, at time.Time) *message {
	m := &message{c: c, arrival: at, eg: c.egress[g.pick(c.egressW)], job: jobAt(c, x)}
	m.sender = c.senders[g.intn(len(c.senders))] + "@" + c.domain
	m.msgID = at.UTC().Format("20060102150405") + "." + g.hex(10) + "@" + c.domain
	m.subject = c.subjects[g.intn(len(c.subjects))]
	if c.transactional {
		m.size, m.lifetime = 6000+g.intn(14000), g.transLife
	} else {
		m.size, m.lifetime = 18000+g.intn(42000), g.bulkLife
	}
	m.rcpts = append(m.rcpts, g.newRecipient(c))
	for _, e := range c.extras {
		if g.chance(e.p) {
			m.rcpts = append(m.rcpts, g.specialRecipient(e.addr))
		}
	}
	return m
}

func (g *generator) newRecipient(c *customer) *rcpt {
	rv := receivers[g.pick(g.cdfs[c].receiverW)]
	domain := rv.domains[g.pick(rv.domainW)]
	mxs := rv.mxFor(domain)
	r := &rcpt{addr: g.localPart(rv.corporate()) + "@" + domain, domain: domain, rcv: rv, mx: mxs[g.intn(len(mxs))]}
	if rv.dead {
		return r
	}
	u := g.float()
	switch {
	case u < c.unknown:
		r.trait = trUnknown
	case u < c.unknown+0.004 && hasFull(rv, false):
		r.trait = trFull
	case u < c.unknown+0.009 && hasFull(rv, true):
		r.trait = trFullTemp
	case rv.ndr != ndrNone && g.chance(0.05):
		r.trait = trLateUnknown
		if g.chance(0.3) {
			r.trait = trLateFull
		}
	}
	return r
}

func (g *generator) specialRecipient(addr string) *rcpt {
	domain := addr[strings.IndexByte(addr, '@')+1:]
	rv := receiverOfDomain(domain)
	mxs := rv.mxFor(domain)
	return &rcpt{addr: addr, domain: domain, rcv: rv, mx: mxs[g.intn(len(mxs))]}
}

// decide is the answer r gets at t in attempt k of message m, in the order a real
// session meets them: our own routing, the connection, MAIL FROM, RCPT TO, then DATA.
func (g *generator) decide(m *message, r *rcpt, t time.Time, k int) reply {
	rv := r.rcv
	if rv.dead {
		return timeoutReply(m.eg.mta, r.mx)
	}
	if rv == rcvSunpeakOwn {
		if i := g.misconfigOf(m.c, "loop", t); i > 0 {
			x := loopReply(r.domain)
			x.mis = i
			return x
		}
	}
	for i, l := range g.listings {
		if l.eg == m.eg && l.active(t) && l.refuses(rv) {
			var x reply
			switch l.list {
			case "spamhaus_zen":
				x = g.zenReply(rv, m.eg.ip, t)
			case "spamcop":
				x = g.spamcopReply(m.eg.ip)
			default:
				x = g.s3150Reply(m.eg.ip, t)
			}
			x.lst = i + 1
			l.providers[providerName(rv)] = true
			return x
		}
	}
	if rv == rcvYahoo && m.eg == g.tss.eg && !t.Before(g.tss.start) && t.Before(g.tss.end) && g.chance(0.85) {
		x := g.tssReply(m.eg.ip)
		x.tss = true
		return x
	}
	if rv.rate && g.peak(m.c, g.frac(t)) {
		p := 0.12
		switch rv.style {
		case stGmail:
			p = 0.25
		case stOutlook:
			p = 0.2
		}
		if g.chance(p) {
			return g.rateReply(rv, m.eg.ip, t)
		}
	}
	if rv == rcvHarborM365 || rv == rcvHarborArch {
		if i := g.misconfigOf(m.c, "relay", t); i > 0 {
			x := g.relayReply(r, t)
			x.mis = i
			return x
		}
	}
	if rv.greylist && k == 0 && g.chance(0.85) {
		return g.greylistReply(r)
	}
	switch r.trait {
	case trUnknown:
		return g.unknownReply(r, t)
	case trFull:
		return g.fullReply(r, false)
	case trFullTemp:
		return g.fullReply(r, true)
	}
	if rv.spf {
		if i := g.misconfigOf(m.c, "spf", t); i > 0 {
			x := g.spfReply(m, rv, t)
			x.mis = i
			return x
		}
	}
	if rv.style == stGmail && g.chance(0.004) {
		return g.tempReply()
	}
	return g.okReply(m, r, t)
}

// frac is t as a fraction of the window.
func (g *generator) frac(t time.Time) float64 { return float64(t.Sub(g.start)) / float64(g.dur) }

// Outcomes, as ingest names them.
const (
	outDelivered = "delivered"
	outDeferred  = "deferred"
	outBounced   = "bounced"
	outExpired   = "expired"
)

// outcomeOf is what an MTA makes of a reply. Postfix skips a server that greets with a 5xx
// (smtp_skip_5xx_greeting) and defers the recipient.
func outcomeOf(k mtaKind, x *reply) string {
	switch {
	case x.ok():
		return outDelivered
	case x.temporary(), k == mtaPostfix && x.phase == phConnect && !x.local:
		return outDeferred
	}
	return outBounced
}

// mtaWriter writes the records of one MTA's software.
type mtaWriter interface {
	// arrive writes the reception of m.
	arrive(g *generator, m *message)
	// attempt writes attempt k at t: rcpts[i] got res[i] at times[i].
	attempt(g *generator, m *message, k int, t time.Time, times []time.Time, rcpts []*rcpt, res []reply)
	// waiting writes what the MTA logs between two attempts of the deferred rcpts.
	waiting(g *generator, m *message, t time.Time, rcpts []*rcpt)
	// expire writes the expiry of the recipients still deferred at t.
	expire(g *generator, m *message, t time.Time, rcpts []*rcpt)
	// finish writes the removal of a message that has no recipient left.
	finish(g *generator, m *message, t time.Time)
}

// backoff is the wait before attempt k+1, as each MTA schedules retries.
func (g *generator) backoff(k mtaKind, attempt int) time.Duration {
	var base time.Duration
	switch k {
	case mtaPostfix: // minimal_backoff_time 300s, doubling up to maximal_backoff_time 4000s
		base = min(300*time.Second<<min(attempt, 8), 4000*time.Second)
	case mtaExim: // retry rule F,1h,10m
		base = 10 * time.Minute
	case mtaPMTA: // retry-after 10m, then 20m
		base = 10 * time.Minute
		if attempt >= 2 {
			base = 20 * time.Minute
		}
	default: // KumoMTA retry_interval 20m, doubling
		base = min(20*time.Minute<<min(attempt, 8), 4*time.Hour)
	}
	return base + g.secs(0, 0.1*base.Seconds())
}

func (g *generator) simulate(m *message) {
	w := g.writers[m.eg.mta]
	w.arrive(g, m)
	pending := append([]*rcpt(nil), m.rcpts...)
	t := m.arrival.Add(g.secs(0.4, 2.5))
	for k := 0; ; k++ {
		if k > 0 && t.Sub(m.arrival) >= m.lifetime {
			if !t.After(g.end) {
				w.expire(g, m, t, pending)
				for _, r := range pending {
					g.event(m, outExpired, &reply{cat: expiredCategory(m.eg.mta, &r.last)})
				}
			}
			return
		}
		times := make([]time.Time, len(pending))
		tt := t
		for i := range pending {
			tt = tt.Add(g.secs(0.3, 1.6))
			times[i] = tt
		}
		if tt.After(g.end) {
			return
		}
		res := make([]reply, len(pending))
		for i, r := range pending {
			res[i] = g.decide(m, r, times[i], k)
		}
		w.attempt(g, m, k, t, times, pending, res)
		var left []*rcpt
		for i, r := range pending {
			out := outcomeOf(m.eg.mta, &res[i])
			g.event(m, out, &res[i])
			switch out {
			case outDeferred:
				r.last = res[i]
				left = append(left, r)
			case outDelivered:
				g.lateBounce(m, r, times[i])
			}
		}
		if len(left) == 0 {
			if fin := tt.Add(g.secs(0.01, 0.2)); !fin.After(g.end) {
				w.finish(g, m, fin)
			}
			return
		}
		pending = left
		next := tt.Add(g.backoff(m.eg.mta, k))
		if mid := tt.Add(next.Sub(tt) / 2); g.chance(0.5) && !mid.After(g.end) {
			w.waiting(g, m, mid, pending)
		}
		t = next
	}
}

// event counts one delivery event the records describe.
func (g *generator) event(m *message, outcome string, x *reply) {
	g.events++
	g.outcomes[outcome]++
	g.custEvents[m.c]++
	if outcome == outDelivered {
		return
	}
	g.categories[x.cat]++
	if x.lst > 0 {
		l := g.listings[x.lst-1]
		l.events++
	}
	if x.mis > 0 {
		g.misconfigs[x.mis-1].events++
	}
	if x.tss {
		g.tss.events++
	}
}

// providerName is the receiving provider as the truth names it.
func providerName(rv *receiver) string {
	if rv.provider == "" {
		return "other"
	}
	return rv.provider
}

// ---- records ----

func (g *generator) emit(kind, key string, t time.Time, value []byte) {
	g.records = append(g.records, genRecord{Record: Record{Kind: kind, Key: key, Value: value, Time: t}, seq: g.seq})
	g.seq++
	if kind == KindLog {
		g.logLines++
	} else {
		g.bounceEmails++
	}
}

// syslog writes one RFC 3164 line: "Nov  3 08:00:01 host prog[pid]: msg".
func (g *generator) syslog(host string, t time.Time, prog string, pid int, msg string) {
	t = t.UTC().Truncate(time.Second)
	b := make([]byte, 0, 48+len(host)+len(prog)+len(msg))
	b = t.AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	b = append(b, host...)
	b = append(b, ' ')
	b = append(b, prog...)
	b = append(b, '[')
	b = appendInt(b, pid)
	b = append(b, "]: "...)
	b = append(b, msg...)
	g.emit(KindLog, host, t, b)
}

// uniqueID draws ids from fn until one is new in its namespace.
func (g *generator) uniqueID(ns string, fn func() string) string {
	for {
		id := fn()
		if k := ns + "/" + id; !g.usedIDs[k] {
			g.usedIDs[k] = true
			return id
		}
	}
}
