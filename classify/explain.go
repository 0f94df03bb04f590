package classify

// Explanation is a Result with the reasoning behind it, for `bouncehouse explain` and for
// people debugging a rule.
type Explanation struct {
	Result
	Summary     string      // what the category means
	Remediation string      // what to do about it
	Normalized  string      // the text the rules were matched against
	RuleFile    string      // file of the deciding rule
	RuleNote    string      // the deciding rule's note
	RuleLang    string      // language of the deciding rule
	Matched     []string    // the deciding rule's patterns that matched, as written in the rule file
	Delist      []DelistRef // where to request removal, per blocklist that names a page
}

// DelistRef names a blocklist and the page where a listed IP or domain requests removal.
type DelistRef struct {
	Blocklist string `json:"blocklist"`
	URL       string `json:"url"`
}

// Explain classifies in and says why.
func (c *Classifier) Explain(in Input) Explanation {
	var ex Explanation
	s := c.getScratch()
	ex.Result = c.classify(in, s, &ex)
	c.putScratch(s)
	info := c.categories[ex.Category]
	ex.Summary, ex.Remediation = info.Summary, info.Remediation
	for _, b := range ex.BlocklistProviders {
		if bl := &c.blocklists[c.blocklistBy[b]]; bl.Delist != "" {
			ex.Delist = append(ex.Delist, DelistRef{Blocklist: b, URL: bl.Delist})
		}
	}
	return ex
}

func (c *Classifier) fillExplanation(ex *Explanation, s *scratch, best int32) {
	ex.Normalized = string(s.buf)
	if best < 0 {
		return
	}
	r := &c.rules[best]
	ex.RuleFile, ex.RuleNote, ex.RuleLang = r.File, r.Note, r.Lang
	seen := map[int32]bool{}
	for _, alt := range r.alts {
		for _, p := range alt {
			if s.isMatched(p) && !seen[p] {
				seen[p] = true
				ex.Matched = append(ex.Matched, c.patterns[p].src)
			}
		}
	}
}

// RuleInfo describes one rule, for listings and tests.
type RuleInfo struct {
	ID       string
	Category Category
	File     string
	Lang     string
	Note     string
	Examples []string
}

// Rules lists every rule in evaluation order.
func (c *Classifier) Rules() []RuleInfo {
	out := make([]RuleInfo, len(c.rules))
	for i := range c.rules {
		r := &c.rules[i]
		out[i] = RuleInfo{ID: r.ID, Category: r.Category, File: r.File, Lang: r.Lang, Note: r.Note,
			Examples: r.Examples}
	}
	return out
}
