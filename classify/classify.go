package classify

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
)

// Input is one receiver response and what the caller already knows about it. Only Text is
// required; a Code or Enhanced given here wins over the ones found in Text.
type Input struct {
	Text       string // the response as logged: wrappers, multi-line continuations and all
	Code       int    // SMTP reply code (550), when the source logs it apart from the text
	Enhanced   string // enhanced status code (5.7.1), when logged apart; wins over the text's
	DSN        string // enhanced code from a status field (Postfix dsn=): used when the text has none
	Phase      string // SMTP phase when known: connect, helo, mail, rcpt, data
	RemoteHost string // receiving MX host name, when known; names the provider
}

// Result is the classification record of taxonomy.md §3.1 for one response.
//
// Strings in a Result are either static rule data or substrings of Input.Text; the
// classifier keeps no reference to them.
type Result struct {
	Category           Category
	BounceClass        BounceClass
	ActionParty        ActionParty
	Provider           string   // receiving provider: gmail, microsoft365, yahoo, …; "" if unknown
	ProviderCode       string   // the provider's own code: TSS04, S3150, IB508, …
	BlocklistProviders []string // taxonomy §3.4 values, in table order; nil when none
	ListedIP           string   // the IP the receiver says is listed, when it names one
	ThrottleScope      string   // ip, netblock, domain, recipient, session, connection, account, …
	Rule               string   // id of the rule that decided; "status:5.7.1" or "reply:550" for code defaults

	SMTPCode       int    // reply code found (0 if none)
	EnhancedStatus string // enhanced status code found ("" if none)
	SMTPPhase      string // phase from the input or the wrapper ("in reply to RCPT TO command")
	Response       string // the response with wrappers stripped
	RemoteHost     string // receiving host from the input or the wrapper
}

// Classifier classifies responses with a compiled rule set. It is safe for concurrent use.
type Classifier struct {
	categories     map[Category]*CategoryInfo
	rules          []rule
	ruleByID       map[string]int
	providers      []provider
	blocklists     []blocklist
	blocklistBy    map[string]int
	codes          []codeExtractor
	statusDefaults []statusDefault
	patterns       []pattern
	ownerStart     []int32 // pattern → first index into ownerList; ownerStart[p+1] ends it
	ownerList      []owner
	codeOnlyRules  []int32
	hostSuffixes   map[string]string // MX host suffix → provider id
	ac             *automaton        // anchors in ASCII
	acOther        *automaton        // anchors with other bytes (Cyrillic, CJK, …)

	pool sync.Pool

	internMu sync.RWMutex
	interned map[string]string
}

// New compiles the built-in rules with extra files layered on top: rules in extra files are
// tried before the built-in ones, in the order given.
func New(extra ...RuleFile) (*Classifier, error) {
	builtin, err := BuiltinRuleFiles()
	if err != nil {
		return nil, err
	}
	return compile(append(append([]RuleFile(nil), extra...), builtin...))
}

var defaultClassifier = sync.OnceValues(func() (*Classifier, error) { return New() })

// Default returns the classifier of the built-in rules, compiled once per process.
func Default() (*Classifier, error) { return defaultClassifier() }

// Category returns what the rule data says about cat, or nil for an unknown category.
func (c *Classifier) Category(cat Category) *CategoryInfo { return c.categories[cat] }

// RuleCount returns the number of text and code rules, for diagnostics.
func (c *Classifier) RuleCount() int { return len(c.rules) }

// ClassifyText classifies a bare response line.
func (c *Classifier) ClassifyText(text string) Result { return c.Classify(Input{Text: text}) }

// Classify classifies one response. It never fails: a response nothing matches is
// Unclassified, with the bounce class taken from its reply code.
func (c *Classifier) Classify(in Input) Result {
	s := c.getScratch()
	r := c.classify(in, s, nil)
	c.putScratch(s)
	return r
}

// scratch is the per-call working memory, pooled so that classification does not allocate.
type scratch struct {
	buf     []byte
	matched []uint64   // bit per pattern
	hits    []int32    // patterns set in matched, to clear them again
	spans   [][2]int32 // first matching span per pattern
	seen    [4][]uint64
	cands   [4][]int32
}

func (c *Classifier) getScratch() *scratch {
	if s, ok := c.pool.Get().(*scratch); ok {
		return s
	}
	s := &scratch{
		buf:     make([]byte, 0, 512),
		matched: make([]uint64, (len(c.patterns)+63)/64),
		spans:   make([][2]int32, len(c.patterns)),
	}
	sizes := [4]int{len(c.rules), len(c.providers), len(c.blocklists), len(c.codes)}
	for k, n := range sizes {
		s.seen[k] = make([]uint64, (n+63)/64)
	}
	return s
}

func (c *Classifier) putScratch(s *scratch) {
	c.resetMatches(s)
	if cap(s.buf) > 64<<10 {
		s.buf = make([]byte, 0, 512) // do not pin a huge buffer after one huge response
	}
	c.pool.Put(s)
}

func (s *scratch) isMatched(p int32) bool { return s.matched[p>>6]&(1<<(p&63)) != 0 }

// maxTextBytes bounds the part of a response that is matched. Real responses are well under
// a kilobyte; a megabyte of garbage must not cost a megabyte of work per rule.
const maxTextBytes = 16 << 10

func (c *Classifier) classify(in Input, s *scratch, ex *Explanation) Result {
	rp := parseReply(in.Text)
	res := Result{SMTPCode: in.Code, EnhancedStatus: in.Enhanced, SMTPPhase: in.Phase,
		RemoteHost: in.RemoteHost, Response: rp.text}
	if res.SMTPCode == 0 {
		res.SMTPCode = rp.code
	}
	if res.EnhancedStatus == "" {
		res.EnhancedStatus = rp.enhanced
	}
	if res.EnhancedStatus == "" {
		res.EnhancedStatus = in.DSN
	}
	if res.SMTPPhase == "" {
		res.SMTPPhase = rp.phase
	}
	if res.RemoteHost == "" {
		res.RemoteHost = rp.host
	}
	enh, _ := parseEnhanced(res.EnhancedStatus)

	best := c.matchText(s, &res, enh, rp.body)
	if best < 0 && rp.preamble != "" {
		// The quoted diagnostic said nothing a rule knows; a localized NDR's own explanation
		// in front of it may.
		c.resetMatches(s)
		best = c.matchText(s, &res, enh, rp.preamble+" "+rp.body)
	}

	var (
		class      BounceClass
		party      ActionParty
		blocklists []string
	)
	switch {
	case best >= 0:
		r := &c.rules[best]
		res.Category, res.Rule = r.Category, r.ID
		class, party, res.ThrottleScope = r.Class, r.Party, r.Scope
		if res.Provider == "" {
			res.Provider = r.Provider
		}
		switch {
		case r.Code != "":
			res.ProviderCode = r.Code
		case r.capture:
			res.ProviderCode = c.captureFromRule(r, s)
		}
		blocklists = r.Blocklists
	default:
		if d := c.statusDefault(res.SMTPCode, enh); d != nil {
			res.Category, res.Rule = d.Category, d.label
			class = d.Class
			blocklists = d.Blocklists
		} else {
			res.Category, res.Rule = Unclassified, ""
		}
	}

	// Provider code from the extractors when the rule gave none.
	if res.ProviderCode == "" {
		for _, i := range s.cands[kindCode] {
			x := &c.codes[i]
			if c.holds(&x.unit, s) {
				res.ProviderCode = c.captureFromUnit(&x.unit, s)
				if res.Provider == "" {
					res.Provider = x.Provider
				}
				break
			}
		}
	}

	res.BlocklistProviders = c.collectBlocklists(s, blocklists)
	if res.Category == IPBlocklisted && len(res.BlocklistProviders) == 0 {
		// A list the response does not name (or names in words no entry knows): the NOC's
		// per-list panels still need a value.
		res.BlocklistProviders = internalRBL
	}

	info := c.categories[res.Category]
	if class == "" {
		class = info.Class
	}
	if party == "" {
		party = info.Party
	}
	if res.ThrottleScope == "" {
		res.ThrottleScope = info.ThrottleScope
	}
	if res.Category == Unclassified {
		class = Soft
		if res.SMTPCode/100 == 5 || (res.SMTPCode == 0 && enh.class == 5) {
			class = Hard
		}
	}
	if (class == Hard || class == Block) && isTransient(res.SMTPCode, enh) {
		class = Soft
	}
	res.BounceClass, res.ActionParty = class, party

	if res.Category == IPBlocklisted {
		res.ListedIP = findIP(s.buf)
	}
	if ex != nil {
		c.fillExplanation(ex, s, best)
	}
	return res
}

// matchText folds text into s.buf, scans it, names the provider and returns the deciding
// rule's index, or -1.
func (c *Classifier) matchText(s *scratch, res *Result, enh enhancedCode, text string) int32 {
	if len(text) > maxTextBytes {
		text = text[:maxTextBytes]
	}
	s.buf = appendFolded(s.buf[:0], text)
	s.buf = dropCodeTokens(s.buf, res.SMTPCode, res.EnhancedStatus)

	c.scan(s)
	for k := range s.cands {
		sortInt32(s.cands[k])
	}

	// Provider: the receiving host names it best, the text's signatures next.
	res.Provider = c.providerFromHost(res.RemoteHost)
	if res.Provider == "" {
		for _, i := range s.cands[kindProvider] {
			if c.holds(&c.providers[i].unit, s) {
				res.Provider = c.providers[i].ID
				break
			}
		}
	}

	// Blocklists named in the text; rules may ask for them (when: {listed: [ip]}).
	listed := c.matchedBlocklists(s)

	// Rules: the lowest index whose conditions hold wins.
	best := int32(-1)
	for _, i := range s.cands[kindRule] {
		if c.ruleHolds(i, s, res.SMTPCode, enh, res.Provider, res.SMTPPhase, listed) {
			best = i
			break
		}
	}
	subject := uint64(1) << 63 // no enhanced code
	if enh.class != 0 {
		subject = subjectBit(enh.subject)
	}
	for _, i := range c.codeOnlyRules {
		if best >= 0 && i > best {
			break
		}
		if m := c.rules[i].subjects; m != 0 && m&subject == 0 {
			continue // cheap reject on the enhanced code's subject
		}
		if c.ruleHolds(i, s, res.SMTPCode, enh, res.Provider, res.SMTPPhase, listed) {
			best = i
			break
		}
	}
	return best
}

// resetMatches forgets the patterns and candidates of the last scan.
func (c *Classifier) resetMatches(s *scratch) {
	for _, p := range s.hits {
		s.matched[p>>6] &^= 1 << (p & 63)
	}
	s.hits = s.hits[:0]
	for k := range s.cands {
		for _, u := range s.cands[k] {
			s.seen[k][u>>6] &^= 1 << (u & 63)
		}
		s.cands[k] = s.cands[k][:0]
	}
}

// scan runs the automaton over s.buf and records every pattern that matches, with the units
// that own it as candidates. The loop is the automaton's, written out here so that the
// per-hit work is not an indirect call.
func (c *Classifier) scan(s *scratch) {
	c.scanWith(c.ac, s)
	for _, b := range s.buf {
		if b >= 0x80 {
			c.scanWith(c.acOther, s)
			break
		}
	}
}

func (c *Classifier) scanWith(a *automaton, s *scratch) {
	text := s.buf
	cl := &a.classes
	// Four interleaved walks over four quarters of the text hide the latency of the table
	// loads behind each other (the walk is bound by load latency, not by work). Each walk
	// after the first starts maxKey-1 bytes before its quarter, so that it sees every key
	// that ends in its quarter; keys found twice in an overlap are recorded once.
	const walks = 4
	overlap := a.maxKey - 1
	if len(text) < walks*(overlap+1) || a.maxKey == 0 {
		c.walk(a, s, 0, 0, len(text))
		return
	}
	q := len(text) / walks
	// Walk k covers [k*q, (k+1)*q) (the last one up to the end), starting overlap early.
	i0, i1, i2, i3 := 0, q-overlap, 2*q-overlap, 3*q-overlap
	r0, r1, r2, r3 := int32(0), int32(0), int32(0), int32(0)
	steps := q // every walk takes at least q steps; walks 1-3 take overlap more, walk 3 the tail
	for k := 0; k < steps; k++ {
		r0 = a.delta[r0+int32(cl[text[i0]])]
		r1 = a.delta[r1+int32(cl[text[i1]])]
		r2 = a.delta[r2+int32(cl[text[i2]])]
		r3 = a.delta[r3+int32(cl[text[i3]])]
		i0++
		i1++
		i2++
		i3++
		if r0|r1|r2|r3 >= 0 {
			continue // no key ends here: the common case
		}
		if r0 < 0 {
			r0 = c.hit(a, s, r0, i0)
		}
		if r1 < 0 {
			r1 = c.hit(a, s, r1, i1)
		}
		if r2 < 0 {
			r2 = c.hit(a, s, r2, i2)
		}
		if r3 < 0 {
			r3 = c.hit(a, s, r3, i3)
		}
	}
	// Walks 1-3 still owe their overlap: three at a time again.
	for k := 0; k < overlap; k++ {
		r1 = a.delta[r1+int32(cl[text[i1]])]
		r2 = a.delta[r2+int32(cl[text[i2]])]
		r3 = a.delta[r3+int32(cl[text[i3]])]
		i1++
		i2++
		i3++
		if r1|r2|r3 >= 0 {
			continue
		}
		if r1 < 0 {
			r1 = c.hit(a, s, r1, i1)
		}
		if r2 < 0 {
			r2 = c.hit(a, s, r2, i2)
		}
		if r3 < 0 {
			r3 = c.hit(a, s, r3, i3)
		}
	}
	// Walk 3 owes the few bytes that the division left over.
	c.walk(a, s, r3, i3, len(text))
}

// walk continues one walk in state row from text offset i up to end.
func (c *Classifier) walk(a *automaton, s *scratch, row int32, i, end int) {
	text := s.buf
	cl := &a.classes
	for ; i < end; i++ {
		row = a.delta[row+int32(cl[text[i]])]
		if row < 0 {
			row = c.hit(a, s, row, i+1)
		}
	}
}

// hit handles a flagged table entry: it records the keys of its state, which end at offset
// end, and returns the plain row to continue the walk from.
func (c *Classifier) hit(a *automaton, s *scratch, row int32, end int) int32 {
	row &^= outputFlag
	c.emit(a, s, row/int32(a.nclasses), end)
	return row
}

// emit records the patterns whose anchor ends at state st, at byte offset end of s.buf.
func (c *Classifier) emit(a *automaton, s *scratch, st int32, end int) {
	text := s.buf
	for _, pid := range a.outs[a.outStart[st]:a.outStart[st+1]] {
		already := s.isMatched(pid)
		if already && int(s.spans[pid][1]) <= end {
			continue
		}
		start, stop, ok := c.patterns[pid].verify(text, end)
		if !ok {
			continue
		}
		if already {
			// The second walk can find a later occurrence first: keep the leftmost.
			if int32(start) < s.spans[pid][0] {
				s.spans[pid] = [2]int32{int32(start), int32(stop)}
			}
			continue
		}
		s.matched[pid>>6] |= 1 << (pid & 63)
		s.hits = append(s.hits, pid)
		s.spans[pid] = [2]int32{int32(start), int32(stop)}
		for _, o := range c.ownerList[c.ownerStart[pid]:c.ownerStart[pid+1]] {
			if s.seen[o.kind][o.idx>>6]&(1<<(o.idx&63)) == 0 {
				s.seen[o.kind][o.idx>>6] |= 1 << (o.idx & 63)
				s.cands[o.kind] = append(s.cands[o.kind], o.idx)
			}
		}
	}
}

// internalRBL is the blocklist value of an IP listing whose list is not named.
var internalRBL = []string{"internal_rbl"}

// isTransient reports a 4xx reply (or a 4.x.x code when no reply code was logged).
func isTransient(code int, enh enhancedCode) bool {
	if code != 0 {
		return code/100 == 4
	}
	return enh.class == 4
}

func (c *Classifier) holds(u *unit, s *scratch) bool {
	for _, p := range u.not {
		if s.isMatched(p) {
			return false
		}
	}
	if len(u.alts) == 0 {
		return true
	}
	for _, alt := range u.alts {
		all := true
		for _, p := range alt {
			if !s.isMatched(p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// listedObjects says which kinds of object the matched blocklists list.
type listedObjects struct{ ip, domain bool }

func (c *Classifier) matchedBlocklists(s *scratch) listedObjects {
	var l listedObjects
	for _, i := range s.cands[kindBlocklist] {
		b := &c.blocklists[i]
		if c.holds(&b.unit, s) {
			if b.Object == "domain" {
				l.domain = true
			} else {
				l.ip = true
			}
		}
	}
	return l
}

func (c *Classifier) ruleHolds(i int32, s *scratch, code int, enh enhancedCode, prov, phase string, listed listedObjects) bool {
	r := &c.rules[i]
	if r.needIPList && !listed.ip || r.needDomainList && !listed.domain {
		return false
	}
	if !r.when.match(code, enh) {
		return false
	}
	if len(r.providers) > 0 && !containsString(r.providers, prov) {
		return false
	}
	if len(r.phases) > 0 && !containsString(r.phases, phase) {
		return false
	}
	return c.holds(&r.unit, s)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Classifier) statusDefault(code int, enh enhancedCode) *statusDefault {
	if enh.class != 0 {
		for i := range c.statusDefaults {
			d := &c.statusDefaults[i]
			if !d.isReply && d.status.match(enh) {
				if d.Category == Unclassified {
					break // x.0.0, x.2.0: the reply code may still say something
				}
				return d
			}
		}
	}
	if code != 0 {
		for i := range c.statusDefaults {
			d := &c.statusDefaults[i]
			if d.isReply && d.reply.match(code) {
				return d
			}
		}
	}
	return nil
}

// ProviderOfHost names the receiving provider of an MX host name ("" when unknown), for
// events that are not classified, such as deliveries.
func (c *Classifier) ProviderOfHost(host string) string { return c.providerFromHost(host) }

// providerFromHost matches the host name against the providers' MX suffixes.
func (c *Classifier) providerFromHost(host string) string {
	if host == "" {
		return ""
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if 'A' <= host[i] && host[i] <= 'Z' {
			host = strings.ToLower(host)
			break
		}
	}
	// The longest suffix wins (mail.protection.outlook.com over outlook.com): try the whole
	// name, then drop one label at a time.
	for h := host; h != ""; {
		if id, ok := c.hostSuffixes[h]; ok {
			return id
		}
		dot := strings.IndexByte(h, '.')
		if dot < 0 {
			break
		}
		h = h[dot+1:]
	}
	return ""
}

// collectBlocklists returns the matching blocklist ids in table order, plus the extra ids a
// rule or status default names, with generic entries dropped where a specific one of the
// same family matched. It allocates only when there is something to return.
func (c *Classifier) collectBlocklists(s *scratch, extra []string) []string {
	var out []string
	for _, i := range s.cands[kindBlocklist] {
		if c.holds(&c.blocklists[i].unit, s) {
			out = append(out, c.blocklists[i].ID)
		}
	}
	for _, id := range extra {
		if !containsString(out, id) {
			out = append(out, id)
		}
	}
	if len(out) < 2 {
		return out
	}
	kept := out[:0]
	for _, id := range out {
		b := &c.blocklists[c.blocklistBy[id]]
		if b.Generic && c.hasSpecific(out, b) {
			continue
		}
		kept = append(kept, id)
	}
	sort.SliceStable(kept, func(a, b int) bool { return c.blocklistBy[kept[a]] < c.blocklistBy[kept[b]] })
	return kept
}

func (c *Classifier) hasSpecific(ids []string, generic *blocklist) bool {
	for _, id := range ids {
		b := &c.blocklists[c.blocklistBy[id]]
		if b.ID == generic.ID {
			continue
		}
		if generic.Family == "*" {
			return true // a catch-all gives way to any named list
		}
		if !b.Generic && b.Family == generic.Family {
			return true
		}
	}
	return false
}

// captureFromRule returns the text matched by the rule's first satisfied alternative.
func (c *Classifier) captureFromRule(r *rule, s *scratch) string {
	return c.captureFromUnit(&r.unit, s)
}

func (c *Classifier) captureFromUnit(u *unit, s *scratch) string {
	for _, alt := range u.alts {
		all := true
		for _, p := range alt {
			if !s.isMatched(p) {
				all = false
				break
			}
		}
		if all {
			sp := s.spans[alt[0]]
			return c.intern(trimCode(s.buf[sp[0]:sp[1]]))
		}
	}
	return ""
}

// trimCode takes brackets and punctuation off a captured code: "[tss04]" → "tss04".
func trimCode(b []byte) []byte {
	for len(b) > 0 && strings.IndexByte("[(<:;,. #", b[0]) >= 0 {
		b = b[1:]
	}
	for len(b) > 0 && strings.IndexByte("])>:;,. #", b[len(b)-1]) >= 0 {
		if b[len(b)-1] == ')' && strings.IndexByte(string(b), '(') >= 0 {
			break // keep "AS(16012609)" whole
		}
		b = b[:len(b)-1]
	}
	return b
}

// maxInterned bounds the intern table; codes past it are allocated per call.
const maxInterned = 4096

// intern returns the upper-cased form of a captured code, shared between calls.
func (c *Classifier) intern(b []byte) string {
	c.internMu.RLock()
	v, ok := c.interned[string(b)]
	c.internMu.RUnlock()
	if ok {
		return v
	}
	v = strings.ToUpper(string(b))
	c.internMu.Lock()
	if c.interned == nil {
		c.interned = map[string]string{}
	}
	if len(c.interned) < maxInterned {
		c.interned[string(b)] = v
	}
	c.internMu.Unlock()
	return v
}

// findIP returns the first IPv4 address in text (or a bracketed IPv6 one), or "".
func findIP(text []byte) string {
	for i := 0; i < len(text); i++ {
		if !isDigit(text[i]) || (i > 0 && (isWordByte(text[i-1]) || text[i-1] == '.')) {
			continue
		}
		j, dots := i, 0
		for j < len(text) && (isDigit(text[j]) || text[j] == '.') {
			if text[j] == '.' {
				dots++
			}
			j++
		}
		cand := strings.TrimRight(string(text[i:j]), ".")
		if dots >= 3 && (j >= len(text) || !isWordByte(text[j])) {
			if a, err := netip.ParseAddr(cand); err == nil && a.Is4() {
				return a.String()
			}
		}
		i = j
	}
	for i := 0; i < len(text); i++ {
		if text[i] != '[' {
			continue
		}
		end := strings.IndexByte(string(text[i:min(len(text), i+48)]), ']')
		if end < 0 {
			continue
		}
		if a, err := netip.ParseAddr(string(text[i+1 : i+end])); err == nil && a.Is6() {
			return a.String()
		}
	}
	return ""
}

func sortInt32(a []int32) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// String renders a one-line summary of the result, for logs.
func (r Result) String() string {
	return fmt.Sprintf("%s (%s, %s) rule=%s provider=%s code=%s", r.Category, r.BounceClass,
		r.ActionParty, r.Rule, r.Provider, r.ProviderCode)
}

// CategoryInfos returns what the rule data says of every category, in taxonomy order: for
// reference tables, reports and documentation.
func (c *Classifier) CategoryInfos() []CategoryInfo {
	out := make([]CategoryInfo, 0, len(c.categories))
	for _, name := range Categories {
		if ci := c.categories[name]; ci != nil {
			out = append(out, *ci)
		}
	}
	return out
}

// BlocklistInfo describes one blocklist provider value (taxonomy §3.4).
type BlocklistInfo struct {
	ID     string // the value in blocklist_providers, e.g. spamhaus_zen
	Family string // the operator, e.g. spamhaus
	Object string // what it lists: ip or domain
	Delist string // where the listed party asks for removal; "" when unknown
}

// Blocklists returns every blocklist provider of the rule data, in rule order.
func (c *Classifier) Blocklists() []BlocklistInfo {
	out := make([]BlocklistInfo, 0, len(c.blocklists))
	seen := map[string]bool{}
	for _, b := range c.blocklists {
		if seen[b.ID] {
			continue
		}
		seen[b.ID] = true
		obj := b.Object
		if obj == "" {
			obj = "ip"
		}
		out = append(out, BlocklistInfo{ID: b.ID, Family: b.Family, Object: obj, Delist: b.Delist})
	}
	return out
}
