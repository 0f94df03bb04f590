package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bouncehouse/bouncehouse/classify"
)

// loadClassifier compiles the built-in rules with the --rules files on top.
func loadClassifier(opts *globalOptions) (*classify.Classifier, error) {
	if len(opts.rulesFiles) == 0 {
		return classify.Default()
	}
	extra := make([]classify.RuleFile, 0, len(opts.rulesFiles))
	for _, path := range opts.rulesFiles {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read rules: %w", err)
		}
		extra = append(extra, classify.RuleFile{Name: filepath.Base(path), Data: data})
	}
	c, err := classify.New(extra...)
	if err != nil {
		return nil, fmt.Errorf("compile rules: %w", err)
	}
	return c, nil
}

// isCobraUsageError recognises the argument and command errors cobra itself returns.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
