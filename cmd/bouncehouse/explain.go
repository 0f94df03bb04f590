package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bouncehouse/bouncehouse/classify"
)

type explainOptions struct {
	json       bool
	code       int
	enhanced   string
	remoteHost string
	phase      string
}

func newExplainCommand(g *globalOptions) *cobra.Command {
	o := &explainOptions{}
	cmd := &cobra.Command{
		Use:   "explain RESPONSE...",
		Short: "Explain one receiver response: category, who must act, and what to do",
		Long: `explain classifies one SMTP response as a receiving server gave it (wrappers such as
"host X said:" or "Remote Server returned '…'" may stay on) and prints the category, bounce
class, who must act, the provider and its code, the blocklists named, the rule that decided and
the remediation. The words of RESPONSE are joined with spaces; "-" reads it from standard input.`,
		Example: `  bouncehouse explain "550 5.7.1 Relay access denied"
  bouncehouse explain "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to user complaints"
  bouncehouse explain --host mx1.example.com "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"
  pbpaste | bouncehouse explain -
  bouncehouse explain --json "#550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found ##"`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("explain needs the response text as argument (or - for standard input)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			text := strings.Join(args, " ")
			if text == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
				if err != nil {
					return fmt.Errorf("read standard input: %w", err)
				}
				text = strings.TrimSpace(string(b))
			}
			c, err := loadClassifier(g)
			if err != nil {
				return err
			}
			ex := c.Explain(classify.Input{Text: text, Code: o.code, Enhanced: o.enhanced,
				RemoteHost: o.remoteHost, Phase: o.phase})
			if o.json {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(explanationJSON(ex))
			}
			writeExplanation(cmd.OutOrStdout(), ex)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print the explanation as JSON")
	f.IntVar(&o.code, "code", 0, "SMTP reply code, when it is logged apart from the text")
	f.StringVar(&o.enhanced, "enhanced", "", "enhanced status code, when it is logged apart from the text")
	f.StringVar(&o.remoteHost, "host", "", "receiving MX host name (names the provider)")
	f.StringVar(&o.phase, "phase", "", "SMTP phase: connect, helo, mail, rcpt, data")
	return cmd
}

// partyMeaning says who an action party is.
var partyMeaning = map[classify.ActionParty]string{
	classify.PartyRecipient:       "the recipient's mailbox or domain: list hygiene",
	classify.PartyCustomerList:    "the customer's list quality",
	classify.PartyCustomerDomain:  "the customer's DNS, SPF/DKIM/DMARC or sending-domain setup",
	classify.PartyCustomerContent: "the customer's message content",
	classify.PartySenderInfra:     "our sending infrastructure: IPs, PTR, HELO, TLS, volume, shaping",
	classify.PartyRecipientInfra:  "the receiving server or its DNS",
	classify.PartyTransient:       "nobody: wait for the retry",
	classify.PartyUnknown:         "unknown: read the response",
}

// classMeaning says in words what a bounce class asks of the operator.
var classMeaning = map[classify.BounceClass]string{
	classify.Hard:  "hard: suppress or fix the recipient address",
	classify.Soft:  "soft: temporary, the queue retries",
	classify.Block: "block: refused because of the sender; fix the cause, never suppress the recipient",
}

func writeExplanation(w io.Writer, ex classify.Explanation) {
	row := func(label, value string) {
		if value != "" {
			fmt.Fprintf(w, "%-13s %s\n", label, value)
		}
	}
	row("Response", ex.Response)
	row("Category", fmt.Sprintf("%s - %s", ex.Category, ex.Summary))
	row("Bounce class", classMeaning[ex.BounceClass])
	row("Who acts", fmt.Sprintf("%s (%s)", ex.ActionParty, partyMeaning[ex.ActionParty]))
	provider := ex.Provider
	if ex.ProviderCode != "" {
		if provider == "" {
			provider = "(unknown)"
		}
		provider += ", code " + ex.ProviderCode
	}
	row("Provider", provider)
	if len(ex.BlocklistProviders) > 0 {
		parts := make([]string, 0, len(ex.BlocklistProviders))
		for _, b := range ex.BlocklistProviders {
			part := b
			for _, d := range ex.Delist {
				if d.Blocklist == b {
					part += " (delist: " + d.URL + ")"
				}
			}
			parts = append(parts, part)
		}
		row("Blocklists", strings.Join(parts, ", "))
	}
	row("Listed IP", ex.ListedIP)
	row("Throttle", ex.ThrottleScope)
	var smtp []string
	if ex.SMTPCode != 0 {
		smtp = append(smtp, fmt.Sprintf("reply %d", ex.SMTPCode))
	}
	if ex.EnhancedStatus != "" {
		smtp = append(smtp, "enhanced "+ex.EnhancedStatus)
	}
	if ex.SMTPPhase != "" {
		smtp = append(smtp, "phase "+ex.SMTPPhase)
	}
	if ex.RemoteHost != "" {
		smtp = append(smtp, "host "+ex.RemoteHost)
	}
	row("SMTP", strings.Join(smtp, ", "))
	switch {
	case ex.RuleFile != "":
		rule := fmt.Sprintf("%s (%s, %s)", ex.Rule, ex.RuleFile, ex.RuleLang)
		row("Rule", rule)
		row("", ex.RuleNote)
	case ex.Rule != "":
		row("Rule", ex.Rule+" (default for the status code: no text rule matched)")
	default:
		row("Rule", "none matched")
	}
	if len(ex.Matched) > 0 {
		q := make([]string, len(ex.Matched))
		for i, m := range ex.Matched {
			q[i] = `"` + m + `"`
		}
		row("Matched", strings.Join(q, ", "))
	}
	row("What to do", wrap(ex.Remediation, 80, 14))
}

// wrap breaks s into lines of at most width columns, indenting continuation lines.
func wrap(s string, width, indent int) string {
	var b strings.Builder
	col := indent
	for i, word := range strings.Fields(s) {
		if i > 0 {
			if col+1+len(word) > width {
				b.WriteString("\n" + strings.Repeat(" ", indent))
				col = indent
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}

// explanationOut is the JSON shape of explain --json.
type explanationOut struct {
	resultOut
	Summary     string               `json:"summary"`
	Remediation string               `json:"remediation"`
	RuleFile    string               `json:"rule_file,omitempty"`
	RuleNote    string               `json:"rule_note,omitempty"`
	Matched     []string             `json:"matched_patterns,omitempty"`
	Normalized  string               `json:"normalized_text"`
	Delist      []classify.DelistRef `json:"delist,omitempty"`
}

func explanationJSON(ex classify.Explanation) explanationOut {
	return explanationOut{resultOut: toResultOut(ex.Result), Summary: ex.Summary,
		Remediation: ex.Remediation, RuleFile: ex.RuleFile, RuleNote: ex.RuleNote,
		Matched: ex.Matched, Normalized: ex.Normalized, Delist: ex.Delist}
}
