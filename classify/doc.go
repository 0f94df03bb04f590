// Package classify turns one receiver response ("550 5.7.1 Relay access denied", a Gmail
// deferral, a localized Exchange NDR line) into the classification record of the bouncehouse
// taxonomy: category, bounce class, who must act, receiving provider and its code, blocklists,
// listed IP, throttle scope, and the id of the rule that decided.
//
// The knowledge is data: the YAML files under rules/ are embedded, compiled once into an
// Aho-Corasick automaton and matched in one pass over the folded text, first rule wins
// (see rules/README.md). The package is pure: no I/O, no globals that change after start-up.
//
// Typical use:
//
//	c, err := classify.Default()
//	…
//	r := c.Classify(classify.Input{Text: line})
package classify
