package classify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed rules/*.yaml
var builtinRules embed.FS

// RuleFile is one rule file's content, as read by the caller (the package does no I/O).
// Name orders it among the other files and names it in errors.
type RuleFile struct {
	Name string
	Data []byte
}

// BuiltinRuleFiles returns the rule files compiled into the binary, in evaluation order.
func BuiltinRuleFiles() ([]RuleFile, error) {
	names, err := fs.Glob(builtinRules, "rules/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list built-in rules: %w", err)
	}
	sort.Strings(names)
	files := make([]RuleFile, 0, len(names))
	for _, n := range names {
		data, err := builtinRules.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("read built-in rules %s: %w", n, err)
		}
		files = append(files, RuleFile{Name: path.Base(n), Data: data})
	}
	return files, nil
}

// ---- file schema ----

type fileSpec struct {
	Lang       string          `yaml:"lang"`
	Categories []categorySpec  `yaml:"categories"`
	Providers  []providerSpec  `yaml:"providers"`
	Blocklists []blocklistSpec `yaml:"blocklists"`
	Codes      []codeSpec      `yaml:"codes"`
	Rules      []ruleSpec      `yaml:"rules"`
	Status     []statusSpec    `yaml:"status"`
}

type categorySpec struct {
	Name          Category    `yaml:"name"`
	Group         string      `yaml:"group"`
	Class         BounceClass `yaml:"class"`
	Party         ActionParty `yaml:"party"`
	ThrottleScope string      `yaml:"throttle_scope"`
	Summary       string      `yaml:"summary"`
	Remediation   string      `yaml:"remediation"`
}

// alternative is one entry of a match list: a single pattern, or a list that must all match.
type alternative []string

func (a *alternative) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*a = alternative{n.Value}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		if len(list) == 0 {
			return fmt.Errorf("line %d: empty all-of list", n.Line)
		}
		*a = list
		return nil
	}
	return fmt.Errorf("line %d: a match entry is a pattern or a list of patterns", n.Line)
}

type providerSpec struct {
	ID    string        `yaml:"id"`
	Hosts []string      `yaml:"hosts"`
	Match []alternative `yaml:"match"`
	Note  string        `yaml:"note"`
}

type blocklistSpec struct {
	ID      string        `yaml:"id"`
	Family  string        `yaml:"family"`
	Generic bool          `yaml:"generic"`
	Object  string        `yaml:"object"`
	Delist  string        `yaml:"delist"`
	Match   []alternative `yaml:"match"`
	Not     []string      `yaml:"not"`
	Note    string        `yaml:"note"`
}

type codeSpec struct {
	ID       string        `yaml:"id"`
	Provider string        `yaml:"provider"`
	Match    []alternative `yaml:"match"`
	Note     string        `yaml:"note"`
}

type whenSpec struct {
	Reply    []string `yaml:"reply"`
	Status   []string `yaml:"status"`
	Provider []string `yaml:"provider"`
	Phase    []string `yaml:"phase"`
	Listed   []string `yaml:"listed"`
}

type ruleSpec struct {
	ID        string        `yaml:"id"`
	Category  Category      `yaml:"category"`
	Match     []alternative `yaml:"match"`
	Not       []string      `yaml:"not"`
	When      whenSpec      `yaml:"when"`
	Provider  string        `yaml:"provider"`
	Code      string        `yaml:"code"`
	Blocklist []string      `yaml:"blocklist"`
	Scope     string        `yaml:"scope"`
	Class     BounceClass   `yaml:"class"`
	Party     ActionParty   `yaml:"party"`
	Lang      string        `yaml:"lang"`
	Note      string        `yaml:"note"`
	Examples  []string      `yaml:"examples"`
}

type statusSpec struct {
	Status    string      `yaml:"status"`
	Reply     string      `yaml:"reply"`
	Category  Category    `yaml:"category"`
	Blocklist []string    `yaml:"blocklist"`
	Class     BounceClass `yaml:"class"`
	Note      string      `yaml:"note"`
}

// ---- compiled form ----

// unit is anything that owns patterns: a rule, a provider signature, a blocklist or a code
// extractor. All units share one pattern space and one automaton.
type unit struct {
	alts [][]int32 // any alternative whose patterns all matched…
	not  []int32   // …and none of these
}

type rule struct {
	unit
	ID             string
	Category       Category
	when           codeCond
	providers      []string
	phases         []string
	subjects       uint64 // enhanced-code subjects the when.status list can match; bit 63: no code; 0: no status condition
	needIPList     bool   // when: {listed: [ip]}: an IP blocklist of blocklists.yaml matched
	needDomainList bool
	Provider       string
	Code           string
	capture        bool
	Blocklists     []string
	Scope          string
	Class          BounceClass
	Party          ActionParty
	Lang           string
	Note           string
	Examples       []string
	File           string
}

type provider struct {
	unit
	ID    string
	hosts []string
}

type blocklist struct {
	unit
	ID      string
	Family  string
	Generic bool
	Object  string
	Delist  string
}

type codeExtractor struct {
	unit
	ID       string
	Provider string
}

type statusDefault struct {
	status     statusMatcher
	reply      replyMatcher
	isReply    bool
	Category   Category
	Blocklists []string
	Class      BounceClass
	Note       string
	label      string
}

type compiler struct {
	patterns   []*pattern
	patternIDs map[string]int32
	c          *Classifier
}

func (cp *compiler) pattern(src string) (int32, error) {
	if id, ok := cp.patternIDs[src]; ok {
		return id, nil
	}
	p, err := parsePattern(src)
	if err != nil {
		return 0, err
	}
	id := int32(len(cp.patterns))
	cp.patterns = append(cp.patterns, p)
	cp.patternIDs[src] = id
	return id, nil
}

func (cp *compiler) unit(match []alternative, not []string) (unit, error) {
	var u unit
	for _, alt := range match {
		ids := make([]int32, 0, len(alt))
		for _, src := range alt {
			id, err := cp.pattern(src)
			if err != nil {
				return u, err
			}
			ids = append(ids, id)
		}
		u.alts = append(u.alts, ids)
	}
	for _, src := range not {
		id, err := cp.pattern(src)
		if err != nil {
			return u, err
		}
		u.not = append(u.not, id)
	}
	return u, nil
}

// compile parses and checks all files and builds the classifier.
func compile(files []RuleFile) (*Classifier, error) {
	c := &Classifier{
		categories:   map[Category]*CategoryInfo{},
		ruleByID:     map[string]int{},
		blocklistBy:  map[string]int{},
		hostSuffixes: map[string]string{},
	}
	cp := &compiler{patternIDs: map[string]int32{}, c: c}
	for _, f := range files {
		var spec fileSpec
		dec := yaml.NewDecoder(bytes.NewReader(f.Data))
		dec.KnownFields(true)
		if err := dec.Decode(&spec); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("rules %s: %w", f.Name, err)
		}
		if err := cp.addFile(f.Name, &spec); err != nil {
			return nil, fmt.Errorf("rules %s: %w", f.Name, err)
		}
	}
	for _, cat := range Categories {
		if c.categories[cat] == nil {
			return nil, fmt.Errorf("rules: category %q has no entry in categories.yaml", cat)
		}
	}
	for _, r := range c.rules {
		for _, b := range r.Blocklists {
			if _, ok := c.blocklistBy[b]; !ok {
				return nil, fmt.Errorf("rules %s: rule %s names unknown blocklist %q", r.File, r.ID, b)
			}
		}
	}
	c.patterns = make([]pattern, len(cp.patterns))
	for i, p := range cp.patterns {
		c.patterns[i] = *p
	}
	// Two automata: one for ASCII anchors, run on every response, and one for anchors in
	// other scripts, run only on responses that have non-ASCII bytes. The ASCII one has a
	// small alphabet, so its table stays small enough for the cache.
	// The automata report pattern ids directly: patterns that share an anchor share a state.
	var asciiKeys, otherKeys []string
	var asciiIDs, otherIDs []int32
	for id := range c.patterns {
		for _, k := range c.patterns[id].anchors {
			if isASCII(k) {
				asciiKeys, asciiIDs = append(asciiKeys, k), append(asciiIDs, int32(id))
			} else {
				otherKeys, otherIDs = append(otherKeys, k), append(otherIDs, int32(id))
			}
		}
	}
	c.ac = buildAutomaton(asciiKeys, asciiIDs)
	c.acOther = buildAutomaton(otherKeys, otherIDs)
	c.indexUnits()
	return c, nil
}

func (cp *compiler) addFile(name string, spec *fileSpec) error {
	c := cp.c
	for _, cs := range spec.Categories {
		if c.categories[cs.Name] != nil {
			return fmt.Errorf("category %q defined twice", cs.Name)
		}
		if !knownCategory(cs.Name) {
			return fmt.Errorf("unknown category %q", cs.Name)
		}
		if !validClass(cs.Class) || !validParty(cs.Party) {
			return fmt.Errorf("category %q: bad class %q or party %q", cs.Name, cs.Class, cs.Party)
		}
		if cs.Remediation == "" {
			return fmt.Errorf("category %q has no remediation text", cs.Name)
		}
		c.categories[cs.Name] = &CategoryInfo{Name: cs.Name, Group: cs.Group, Class: cs.Class,
			Party: cs.Party, ThrottleScope: cs.ThrottleScope, Summary: cs.Summary, Remediation: cs.Remediation}
	}
	for _, ps := range spec.Providers {
		if ps.ID == "" {
			return errors.New("provider without id")
		}
		u, err := cp.unit(ps.Match, nil)
		if err != nil {
			return fmt.Errorf("provider %s: %w", ps.ID, err)
		}
		hosts := make([]string, len(ps.Hosts))
		for i, h := range ps.Hosts {
			hosts[i] = strings.ToLower(strings.TrimPrefix(h, "."))
		}
		for _, h := range hosts {
			if prev, dup := c.hostSuffixes[h]; dup {
				return fmt.Errorf("provider %s: host %s already belongs to %s", ps.ID, h, prev)
			}
			c.hostSuffixes[h] = ps.ID
		}
		c.providers = append(c.providers, provider{unit: u, ID: ps.ID, hosts: hosts})
	}
	for _, bs := range spec.Blocklists {
		if bs.ID == "" {
			return errors.New("blocklist without id")
		}
		if _, dup := c.blocklistBy[bs.ID]; dup {
			return fmt.Errorf("blocklist %s defined twice", bs.ID)
		}
		u, err := cp.unit(bs.Match, bs.Not)
		if err != nil {
			return fmt.Errorf("blocklist %s: %w", bs.ID, err)
		}
		if bs.Object == "" {
			bs.Object = "ip"
		}
		if bs.Object != "ip" && bs.Object != "domain" {
			return fmt.Errorf("blocklist %s: object must be ip or domain, not %q", bs.ID, bs.Object)
		}
		c.blocklistBy[bs.ID] = len(c.blocklists)
		c.blocklists = append(c.blocklists, blocklist{unit: u, ID: bs.ID, Family: bs.Family,
			Generic: bs.Generic, Object: bs.Object, Delist: bs.Delist})
	}
	for _, cs := range spec.Codes {
		u, err := cp.unit(cs.Match, nil)
		if err != nil {
			return fmt.Errorf("code %s: %w", cs.ID, err)
		}
		c.codes = append(c.codes, codeExtractor{unit: u, ID: cs.ID, Provider: cs.Provider})
	}
	for _, rs := range spec.Rules {
		if err := cp.addRule(name, spec.Lang, rs); err != nil {
			return err
		}
	}
	for _, ss := range spec.Status {
		d := statusDefault{Category: ss.Category, Blocklists: ss.Blocklist, Class: ss.Class, Note: ss.Note}
		if !knownCategory(ss.Category) {
			return fmt.Errorf("status %s%s: unknown category %q", ss.Status, ss.Reply, ss.Category)
		}
		if ss.Class != "" && !validClass(ss.Class) {
			return fmt.Errorf("status %s%s: bad class %q", ss.Status, ss.Reply, ss.Class)
		}
		var err error
		switch {
		case ss.Status != "" && ss.Reply == "":
			d.status, err = parseStatusMatcher(ss.Status)
			d.label = "status:" + ss.Status
		case ss.Reply != "" && ss.Status == "":
			d.reply, err = parseReplyMatcher(ss.Reply)
			d.isReply = true
			d.label = "reply:" + ss.Reply
		default:
			err = errors.New("a status default needs exactly one of status and reply")
		}
		if err != nil {
			return err
		}
		c.statusDefaults = append(c.statusDefaults, d)
	}
	return nil
}

func (cp *compiler) addRule(file, lang string, rs ruleSpec) error {
	c := cp.c
	if rs.ID == "" {
		return fmt.Errorf("rule for %q without id", rs.Category)
	}
	if _, dup := c.ruleByID[rs.ID]; dup {
		return fmt.Errorf("rule id %s used twice", rs.ID)
	}
	if !knownCategory(rs.Category) || rs.Category == Unclassified {
		return fmt.Errorf("rule %s: unknown category %q", rs.ID, rs.Category)
	}
	if rs.Class != "" && !validClass(rs.Class) {
		return fmt.Errorf("rule %s: bad class %q", rs.ID, rs.Class)
	}
	if rs.Party != "" && !validParty(rs.Party) {
		return fmt.Errorf("rule %s: bad party %q", rs.ID, rs.Party)
	}
	u, err := cp.unit(rs.Match, rs.Not)
	if err != nil {
		return fmt.Errorf("rule %s: %w", rs.ID, err)
	}
	cond, err := parseCodeCond(rs.When.Reply, rs.When.Status)
	if err != nil {
		return fmt.Errorf("rule %s: %w", rs.ID, err)
	}
	if len(u.alts) == 0 && cond.empty() && len(rs.When.Provider) == 0 && len(rs.When.Listed) == 0 {
		return fmt.Errorf("rule %s: needs match or when", rs.ID)
	}
	if rs.Lang == "" {
		rs.Lang = lang
	}
	if rs.Lang == "" {
		rs.Lang = "en"
	}
	r := rule{unit: u, ID: rs.ID, Category: rs.Category, when: cond, providers: rs.When.Provider,
		phases: rs.When.Phase, Provider: rs.Provider, Code: rs.Code, Blocklists: rs.Blocklist,
		Scope: rs.Scope, Class: rs.Class, Party: rs.Party, Lang: rs.Lang, Note: rs.Note,
		Examples: rs.Examples, File: file}
	for _, m := range cond.statuses {
		switch {
		case m.class == -1:
			r.subjects |= 1 << 63
		case m.subject < 0:
			r.subjects |= 1<<63 - 1
		default:
			r.subjects |= subjectBit(m.subject)
		}
	}
	for _, l := range rs.When.Listed {
		switch l {
		case "ip":
			r.needIPList = true
		case "domain":
			r.needDomainList = true
		default:
			return fmt.Errorf("rule %s: when.listed takes ip or domain, not %q", rs.ID, l)
		}
	}
	if rs.Code == "$match" {
		r.Code, r.capture = "", true
	}
	c.ruleByID[rs.ID] = len(c.rules)
	c.rules = append(c.rules, r)
	return nil
}

// subjectBit maps an enhanced-code subject to its bit in rule.subjects (62 and up share one).
func subjectBit(subject int) uint64 { return 1 << uint(min(subject, 62)) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func knownCategory(cat Category) bool {
	for _, c := range Categories {
		if c == cat {
			return true
		}
	}
	return false
}

// owner ties a pattern to a unit that uses it.
type owner struct {
	kind uint8
	idx  int32
}

const (
	kindRule uint8 = iota
	kindProvider
	kindBlocklist
	kindCode
)

// indexUnits records, per pattern, the units that use it, and which rules need no pattern.
func (c *Classifier) indexUnits() {
	owners := make([][]owner, len(c.patterns))
	add := func(kind uint8, idx int, u *unit) {
		seen := map[int32]bool{}
		for _, alt := range u.alts {
			for _, p := range alt {
				if !seen[p] {
					seen[p] = true
					owners[p] = append(owners[p], owner{kind, int32(idx)})
				}
			}
		}
	}
	defer func() {
		// Flatten: one slice for all, indexed by ownerStart, keeps the hot path to one lookup.
		c.ownerStart = make([]int32, len(owners)+1)
		for p, os := range owners {
			c.ownerStart[p+1] = c.ownerStart[p] + int32(len(os))
			c.ownerList = append(c.ownerList, os...)
		}
	}()
	for i := range c.rules {
		if len(c.rules[i].alts) == 0 {
			c.codeOnlyRules = append(c.codeOnlyRules, int32(i))
		}
		add(kindRule, i, &c.rules[i].unit)
	}
	for i := range c.providers {
		add(kindProvider, i, &c.providers[i].unit)
	}
	for i := range c.blocklists {
		add(kindBlocklist, i, &c.blocklists[i].unit)
	}
	for i := range c.codes {
		add(kindCode, i, &c.codes[i].unit)
	}
}
