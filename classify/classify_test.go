package classify

import (
	"slices"
	"strings"
	"testing"
)

// want is the part of a Result a case checks; empty fields are not checked.
type want struct {
	category  Category
	class     BounceClass
	party     ActionParty
	provider  string
	code      string
	blocklist []string
	listedIP  string
	scope     string
	rule      string
}

func check(t *testing.T, c *Classifier, in Input, w want) {
	t.Helper()
	got := c.Classify(in)
	fail := func(field string, g, wv any) {
		t.Helper()
		t.Errorf("%.100q\n  %s = %v, want %v (rule %s)", in.Text, field, g, wv, got.Rule)
	}
	if got.Category != w.category {
		fail("category", got.Category, w.category)
	}
	if w.class != "" && got.BounceClass != w.class {
		fail("bounce_class", got.BounceClass, w.class)
	}
	if w.party != "" && got.ActionParty != w.party {
		fail("action_party", got.ActionParty, w.party)
	}
	if w.provider != "" && got.Provider != w.provider {
		fail("provider", got.Provider, w.provider)
	}
	if w.code != "" && got.ProviderCode != w.code {
		fail("provider_code", got.ProviderCode, w.code)
	}
	if w.blocklist != nil && !slices.Equal(got.BlocklistProviders, w.blocklist) {
		fail("blocklist_providers", got.BlocklistProviders, w.blocklist)
	}
	if w.listedIP != "" && got.ListedIP != w.listedIP {
		fail("listed_ip", got.ListedIP, w.listedIP)
	}
	if w.scope != "" && got.ThrottleScope != w.scope {
		fail("throttle_scope", got.ThrottleScope, w.scope)
	}
	if w.rule != "" && got.Rule != w.rule {
		fail("rule", got.Rule, w.rule)
	}
}

// TestMostQuoted covers the responses users of this product quote most: each must get a
// right and useful answer.
func TestMostQuoted(t *testing.T) {
	c := mustDefault(t)
	cases := []struct {
		text string
		want want
	}{
		{"550 relay denied", want{category: RelayDenied, class: Block}},
		{"554 5.7.1 <bob@example.org>: Relay access denied", want{category: RelayDenied, class: Block, party: PartyCustomerDomain}},
		{"553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", want{category: RelayDenied, class: Block}},
		{"5.7.1 Service unavailable; Client host [198.51.100.23] blocked using Blocklist 1; To request removal from this list please forward this message to delist@example.net",
			want{category: IPBlocklisted, class: Block, party: PartySenderInfra, blocklist: []string{"internal_rbl"}, listedIP: "198.51.100.23"}},
		{"#550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found ##", want{category: UserUnknown, class: Hard, party: PartyRecipient, provider: "microsoft365", code: "RESOLVER.ADR.ExRecipNotFound"}},
		{"#550 5.7.1 RESOLVER.RST.AuthRequired; authentication required ##", want{category: PolicyRejected, class: Block, provider: "microsoft365", code: "RESOLVER.RST.AuthRequired"}},
		{"This message is looping: it already has my Delivered-To line. (#5.4.6)", want{category: MailLoop, class: Hard}},
	}
	for _, tc := range cases {
		check(t, c, Input{Text: tc.text}, tc.want)
	}
}

// TestGoDaddyCodes covers the secureserver.net IB codes users quote.
func TestGoDaddyCodes(t *testing.T) {
	c := mustDefault(t)
	cases := map[string]want{
		"421 Connection refused, too many sessions from This IP. Lower the number of concurrent sessions. IB007":                                                                                                          {category: TooManyConnections, class: Soft},
		"421 Server temporarily unavailable. Try again later. IB101":                                                                                                                                                      {category: RemoteTempFailure},
		"554 Connection refused. This IP has a poor reputation on Cloudmark Sender Intelligence (CSI). IB103":                                                                                                             {category: IPBlocklisted, blocklist: []string{"cloudmark_csi"}},
		"554 Connection refused. This IP address is listed on the Spamhaus Block List (SBL). IB104":                                                                                                                       {category: IPBlocklisted, blocklist: []string{"spamhaus_sbl"}},
		"554 Connection refused. This IP address is listed on the Exploits Block List (XBL). IB105":                                                                                                                       {category: IPBlocklisted, blocklist: []string{"spamhaus_xbl"}},
		"554 Connection refused. This IP address is listed on the Policy Block List (PBL). IB106":                                                                                                                         {category: IPBlocklisted, blocklist: []string{"spamhaus_pbl"}},
		"421 Temporarily rejected. Reverse DNS for this IP failed. IB108":                                                                                                                                                 {category: RDNSMissing, class: Soft},
		"554 This IP has been temporarily blocked for attempting to send too many messages containing content judged to be spam by the Internet community. IB110":                                                         {category: ReputationBlock},
		"554 This IP has been blocked for the day, for attempting to send too many messages containing content judged to be spam by the Internet community. IB111":                                                        {category: ReputationBlock},
		"554 This IP has been temporarily blocked for attempting to mail too many invalid recipients. IB112":                                                                                                              {category: ReputationBlock, party: PartyCustomerList},
		"554 This IP has been blocked for the day, for attempting to mail too many invalid recipients. IB113":                                                                                                             {category: ReputationBlock, party: PartyCustomerList},
		"552 This message has been rejected due to content judged to be spam by the internet community. IB212":                                                                                                            {category: ContentSpam},
		"535 Authentication not allowed on IBSMTP Servers. IB401":                                                                                                                                                         {category: RelayDenied},
		"550 jane@coolexample.com Blank From: addresses are not allowed. Provide a valid From. IB501":                                                                                                                     {category: ContentMalformed, code: "IB501"},
		"550 jane@coolexample.com IP addresses are not allowed as a From: Address. Provide a valid From. IB502":                                                                                                           {category: ContentMalformed, code: "IB502"},
		"550 This IP has sent too many messages this hour. IB504":                                                                                                                                                         {category: RateLimited, class: Soft},
		"550 coolexample.com From: Domain is invalid. Provide a valid From: IB506":                                                                                                                                        {category: SenderInvalid},
		"550 jane@coolexample.com Invalid SPF record. Inspect your SPF settings, and try again. IB508":                                                                                                                    {category: SPFFail},
		"550 This message has exceeded the max number of messages per session. Open a new session and try again. IB510":                                                                                                   {category: TooManyMessagesPerSession, class: Soft},
		"452 This message contains too many recipients. Reduce the number of recipients and retry. IB605":                                                                                                                 {category: TooManyRecipients},
		"550 This IP has sent too many to too many recipients this hour. IB607":                                                                                                                                           {category: RateLimited, class: Soft},
		"552 Virus infected message rejected. IB705":                                                                                                                                                                      {category: Virus},
		"p3plibsmtp02-15.prod.phx3.secureserver.net #550 5.1.1 192.0.2.203 is not allowed to send from <example.me> per its SPF Record. Please inspect your SPF settings, and try again. IB508 <http://x.co/srbounce> ##": {category: SPFFail, provider: "godaddy", code: "IB508"},
	}
	for text, w := range cases {
		if w.provider == "" {
			w.provider = "godaddy"
		}
		check(t, c, Input{Text: text}, w)
	}
}

// TestCategories has at least one realistic response per category, written for this test.
func TestCategories(t *testing.T) {
	c := mustDefault(t)
	cases := []struct {
		text string
		want want
	}{
		{"550 5.1.1 <jdoe@example.net>: Recipient address rejected: User unknown in virtual mailbox table", want{category: UserUnknown, class: Hard, party: PartyRecipient}},
		{"450 4.1.1 <jdoe@example.net>: Recipient address rejected: User unknown in local recipient table", want{category: UserUnknown, class: Soft}},
		{"550 5.2.1 The email account that you tried to reach is disabled.", want{category: MailboxDisabled, class: Hard}},
		{"452 4.2.2 The email account that you tried to reach is over quota.", want{category: MailboxFull, class: Soft}},
		{"Host or domain name not found. Name service error for name=exmaple.com type=MX: Host not found", want{category: DomainNotFound, class: Hard}},
		{"550 5.7.1 Unable to relay for jdoe@example.org", want{category: RelayDenied}},
		{"550 5.7.23 SPF validation failed for example.com: 192.0.2.4 not permitted", want{category: SPFFail, party: PartyCustomerDomain}},
		{"550 5.7.20 No passing DKIM signature found", want{category: DKIMFail}},
		{"550 5.7.1 Email rejected per DMARC policy for example.com", want{category: DMARCFail}},
		{"550 5.7.26 Multiple authentication checks failed", want{category: AuthUnauthenticated}},
		{"553 5.1.8 <noreply@nonexistent.example>... Domain of sender address noreply@nonexistent.example does not exist", want{category: SenderInvalid}},
		{"554 5.7.1 Service unavailable; Client host [192.0.2.77] blocked using bl.spamcop.net", want{category: IPBlocklisted, blocklist: []string{"spamcop"}, listedIP: "192.0.2.77"}},
		{"554 5.7.1 Message rejected: URL in body listed at multi.surbl.org", want{category: DomainBlocklisted, blocklist: []string{"surbl"}}},
		{"421 4.7.0 [TSS04] Messages from 192.0.2.5 temporarily deferred due to unexpected volume or user complaints", want{category: ReputationBlock, class: Soft, provider: "yahoo", code: "TSS04"}},
		{"451 4.7.1 Throttled - try again later. RL000003", want{category: RateLimited, class: Soft, provider: "comcast", code: "RL000003"}},
		{"421 4.7.0 Too many concurrent connections from this IP", want{category: TooManyConnections, class: Soft, scope: "connection"}},
		{"421 4.7.0 Too many messages in this session, reconnect", want{category: TooManyMessagesPerSession, scope: "session"}},
		{"552 5.5.3 Too many recipients", want{category: TooManyRecipients, class: Soft}},
		{"550 5.7.25 The IP address sending this message does not have a PTR record", want{category: RDNSMissing}},
		{"501 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname", want{category: HELOInvalid}},
		{"530 5.7.0 Must issue a STARTTLS command first", want{category: TLSRequired}},
		{"554 5.7.1 Message rejected: classified as spam", want{category: ContentSpam, party: PartyCustomerContent}},
		{"554 5.7.1 Message rejected: infected with Win.Trojan.Agent", want{category: Virus}},
		{"552 5.7.0 This message was blocked because its content presents a potential security issue.", want{category: AttachmentBlocked}},
		{"552 5.3.4 Message size exceeds fixed maximum message size", want{category: MessageTooLarge, class: Hard}},
		{"550 5.6.0 Message is not RFC 5322 compliant: duplicate headers", want{category: ContentMalformed}},
		{"550 Administrative prohibition", want{category: PolicyRejected}},
		{"554 5.4.6 Too many hops", want{category: MailLoop}},
		{"450 4.7.1 <jdoe@example.com>: Recipient address rejected: Greylisted, see http://postgrey.example/", want{category: Greylisted, class: Soft, party: PartyTransient}},
		{"421 4.3.2 Service not available, closing transmission channel", want{category: RemoteTempFailure, class: Soft}},
		{"connect to mx.example.com[192.0.2.9]:25: Connection refused", want{category: ConnectionFailed}},
		{"conversation with mx.example.com[192.0.2.9] timed out while receiving the initial server greeting", want{category: Timeout}},
		{"Host or domain name not found. Name service error for name=example.com type=MX: Host not found, try again", want{category: DNSFailure, class: Soft}},
		{"message expired after 5 days in the queue: retry timeout exceeded", want{category: MessageExpired}},
		{"500 5.5.1 Command unrecognized", want{category: ProtocolError}},
		{"550 5.0.0 something nobody has ever said before", want{category: Unclassified, class: Hard}},
		{"450 something temporary nobody has ever said before", want{category: RemoteTempFailure, class: Soft, rule: "reply:450"}},
		{"completely meaningless words", want{category: Unclassified, class: Soft, rule: ""}},
	}
	seen := map[Category]bool{}
	for _, tc := range cases {
		check(t, c, Input{Text: tc.text}, tc.want)
		seen[tc.want.category] = true
	}
	for _, cat := range Categories {
		if !seen[cat] {
			t.Errorf("no test case for category %s", cat)
		}
	}
}

// TestPrecedence pins the rules of taxonomy §3.3 that labelled the corpus.
func TestPrecedence(t *testing.T) {
	c := mustDefault(t)
	cases := []struct {
		name string
		text string
		want want
	}{
		{"text beats the enhanced code", "550 5.1.1 user@example.com has sent to too many recipients this hour", want{category: RateLimited, class: Soft}},
		{"text beats 5.7.1", "550 5.7.1 No such user!", want{category: UserUnknown}},
		{"over quota with a 5.1.1 code", "552 sorry, mailbox jdoe is over quota (#5.1.1)", want{category: MailboxFull}},
		{"provider code beats text", "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list", want{category: IPBlocklisted, code: "BL21"}},
		{"named list beats reputation words", "550 csi.mimecast.org Poor Reputation Sender.", want{category: IPBlocklisted, blocklist: []string{"mimecast_csi"}}},
		{"reputation without a list", "554 Your access to this mail system has been rejected due to the sending MTA's poor reputation.", want{category: ReputationBlock}},
		{"unsolicited rate is reputation", "421 4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address.", want{category: ReputationBlock, scope: "ip"}},
		{"plain rate is a rate limit", "421 4.7.28 Gmail has detected an unusual rate of mail originating from your IP address.", want{category: RateLimited}},
		{"DMARC beats SPF and DKIM", "550 5.7.1 Message failed DMARC: SPF fail, DKIM none", want{category: DMARCFail}},
		{"SPF or DKIM is unauthenticated", "550 5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.", want{category: AuthUnauthenticated}},
		{"SPF only", "550 5.7.1 SPF check failed", want{category: SPFFail}},
		{"GMX mailbox unavailable is policy", "550-Requested action not taken: mailbox unavailable 550-Reject due to policy restrictions.", want{category: PolicyRejected}},
		{"DBEB access denied is unknown user", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", want{category: UserUnknown}},
		{"relay access denied on 5.4.1", "550 5.4.1 Relay Access Denied", want{category: RelayDenied}},
		{"4xx downgrades block to soft", "454 4.7.1 Service unavailable; Client host [192.0.2.3] blocked using bl.spamcop.net", want{category: IPBlocklisted, class: Soft}},
		{"5xx rate limit stays soft", "550 5.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.", want{category: RateLimited, class: Soft, scope: "recipient"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { check(t, c, Input{Text: tc.text}, tc.want) })
	}
}

// TestBlocklistExtraction checks §3.4: every named list, the generic ones dropped when a
// specific one matched, and the listed IP.
func TestBlocklistExtraction(t *testing.T) {
	c := mustDefault(t)
	cases := []struct {
		text      string
		blocklist []string
		ip        string
	}{
		{"554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/sbl/query/SBL468702", []string{"spamhaus_sbl"}, "192.0.2.10"},
		{"554 5.7.1 Service unavailable; Client host [192.0.2.11] blocked using zen.spamhaus.org", []string{"spamhaus_zen"}, "192.0.2.11"},
		{"550 5.7.1 Service unavailable; client [192.0.2.12] blocked using b.barracudacentral.org", []string{"barracuda_brbl"}, "192.0.2.12"},
		{"554 5.7.1 Service unavailable; Client host [192.0.2.13] blocked using dnsbl.sorbs.net; see http://www.sorbs.net/lookup.shtml?192.0.2.13", []string{"sorbs"}, "192.0.2.13"},
		{"550 5.7.1 Rejected: 192.0.2.14 listed at dnsbl-1.uceprotect.net", []string{"uceprotect"}, "192.0.2.14"},
		{"554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.15", []string{"proofpoint_pdr"}, "192.0.2.15"},
		{"550 5.7.1 Mail from 192.0.2.16 refused, see https://www.spamhaus.org/query/bl?ip=192.0.2.16 and http://cbl.abuseat.org/lookup.cgi?ip=192.0.2.16", []string{"spamhaus_xbl"}, "192.0.2.16"},
		{"550 5.7.1 Unfortunately, messages from [192.0.2.17] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", []string{"microsoft_s3150"}, "192.0.2.17"},
		{"550 5.7.1 JunkMail rejected - mail.example.net [192.0.2.18]:40598 is in an RBL on csi.cloudmark.com/reset-request/?ip=192.0.2.18", []string{"cloudmark_csi"}, "192.0.2.18"},
		{"554 5.7.1 Client host [192.0.2.19] blocked using ix.dnsbl.manitu.net; Your e-mail service was detected by NiX Spam", []string{"manitu_nixspam"}, "192.0.2.19"},
		{"550 5.7.1 Client host [2001:db8::25] blocked using zen.spamhaus.org", []string{"spamhaus_zen"}, "2001:db8::25"},
		{"554 5.7.1 rejected: blocked using bl.spamcop.net and zen.spamhaus.org", []string{"spamhaus_zen", "spamcop"}, ""},
	}
	for _, tc := range cases {
		got := c.ClassifyText(tc.text)
		if !slices.Equal(got.BlocklistProviders, tc.blocklist) {
			t.Errorf("%.90q\n  blocklists = %v, want %v", tc.text, got.BlocklistProviders, tc.blocklist)
		}
		if got.ListedIP != tc.ip {
			t.Errorf("%.90q\n  listed_ip = %q, want %q", tc.text, got.ListedIP, tc.ip)
		}
	}
}

// TestWrappersAndCodes checks wrapper stripping, multi-line joining and code extraction.
func TestWrappersAndCodes(t *testing.T) {
	c := mustDefault(t)
	cases := []struct {
		in       Input
		code     int
		enhanced string
		phase    string
		host     string
		response string
		category Category
	}{
		{Input{Text: "host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)"},
			550, "5.1.1", "rcpt", "mx.example.com", "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown", UserUnknown},
		{Input{Text: "SMTP error from remote mail server after RCPT TO:<a@example.com>: 550 5.7.1 Unable to relay"},
			550, "5.7.1", "rcpt", "", "550 5.7.1 Unable to relay", RelayDenied},
		{Input{Text: "Remote Server returned '550 5.7.1 Unable to relay'"}, 550, "5.7.1", "", "", "550 5.7.1 Unable to relay", RelayDenied},
		{Input{Text: "smtp; 550 5.2.2 Mailbox full"}, 550, "5.2.2", "", "", "550 5.2.2 Mailbox full", MailboxFull},
		{Input{Text: "550-5.7.1 [192.0.2.1 12] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, 550 5.7.1 this message has been blocked."},
			550, "5.7.1", "", "", "", ContentSpam},
		{Input{Text: "Mailbox full", Code: 552, Enhanced: "5.2.2", Phase: "data", RemoteHost: "gmail-smtp-in.l.google.com"}, 552, "5.2.2", "data", "gmail-smtp-in.l.google.com", "Mailbox full", MailboxFull},
		{Input{Text: "Sorry, no mailbox here by that name. (#5.1.1)"}, 0, "5.1.1", "", "", "", UserUnknown},
		{Input{Text: "5.7.705 Access denied, tenant has exceeded threshold"}, 0, "5.7.705", "", "", "", ReputationBlock},
	}
	for _, tc := range cases {
		got := c.Classify(tc.in)
		if got.SMTPCode != tc.code || got.EnhancedStatus != tc.enhanced || got.SMTPPhase != tc.phase ||
			got.RemoteHost != tc.host || got.Category != tc.category {
			t.Errorf("%.80q\n  got code=%d enhanced=%q phase=%q host=%q category=%s\n want code=%d enhanced=%q phase=%q host=%q category=%s",
				tc.in.Text, got.SMTPCode, got.EnhancedStatus, got.SMTPPhase, got.RemoteHost, got.Category,
				tc.code, tc.enhanced, tc.phase, tc.host, tc.category)
		}
		if tc.response != "" && got.Response != tc.response {
			t.Errorf("%.80q\n  response = %q, want %q", tc.in.Text, got.Response, tc.response)
		}
	}
}

// TestProviderFromHost checks that the MX host names the provider even when the text does not.
func TestProviderFromHost(t *testing.T) {
	c := mustDefault(t)
	cases := map[string]string{
		"gmail-smtp-in.l.google.com":              "gmail",
		"example-com.mail.protection.outlook.com": "microsoft365",
		"eur.olc.protection.outlook.com":          "outlook_com",
		"mta7.am0.yahoodns.net":                   "yahoo",
		"mx01.mail.icloud.com.":                   "icloud",
		"mx1.notgoogle.com.example":               "",
		"smtp.secureserver.net":                   "godaddy",
		"mxa-00123456.gslb.pphosted.com":          "proofpoint",
	}
	for host, wantProv := range cases {
		got := c.Classify(Input{Text: "550 5.1.1 User unknown", RemoteHost: host})
		if got.Provider != wantProv {
			t.Errorf("host %s: provider = %q, want %q", host, got.Provider, wantProv)
		}
	}
}

// TestExplain checks that an explanation carries what `bouncehouse explain` prints.
func TestExplain(t *testing.T) {
	c := mustDefault(t)
	ex := c.Explain(Input{Text: "550 5.7.606 Access denied, banned sending IP [192.0.2.44]. To request removal from this list please visit https://sender.office.com/ (AS16012609)"})
	if ex.Category != IPBlocklisted || ex.Rule == "" || ex.RuleFile == "" || ex.Remediation == "" || ex.Summary == "" {
		t.Fatalf("incomplete explanation: %+v", ex)
	}
	if len(ex.Matched) == 0 || !strings.Contains(ex.Normalized, "banned sending ip") {
		t.Errorf("explanation lacks the matched patterns or the normalized text: %+v", ex)
	}
	if len(ex.Delist) == 0 || ex.Delist[0].URL != "https://sender.office.com/" {
		t.Errorf("delist = %+v, want the sender.office.com page", ex.Delist)
	}
}

// TestClassifyConcurrent classifies from several goroutines (run with -race).
func TestClassifyConcurrent(t *testing.T) {
	c := mustDefault(t)
	texts := benchResponses()
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				r := c.ClassifyText(texts[i%len(texts)])
				if r.Category == "" {
					t.Error("empty category")
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

// TestReferenceData checks the category and blocklist listings that the storage reference
// tables are filled from.
func TestReferenceData(t *testing.T) {
	c := mustDefault(t)
	infos := c.CategoryInfos()
	if len(infos) != len(Categories) {
		t.Fatalf("CategoryInfos: %d entries, want %d", len(infos), len(Categories))
	}
	for i, ci := range infos {
		if ci.Name != Categories[i] || ci.Group == "" || ci.Remediation == "" {
			t.Errorf("category %d: %+v", i, ci)
		}
	}
	var zen *BlocklistInfo
	bls := c.Blocklists()
	for i := range bls {
		if bls[i].ID == "spamhaus_zen" {
			zen = &bls[i]
		}
		if bls[i].Object != "ip" && bls[i].Object != "domain" {
			t.Errorf("blocklist %s: object %q", bls[i].ID, bls[i].Object)
		}
	}
	if zen == nil || zen.Family != "spamhaus" || zen.Delist == "" {
		t.Errorf("spamhaus_zen: %+v", zen)
	}
}
