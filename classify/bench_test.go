package classify

import "testing"

// benchResponses is a realistic mix of what an ESP's MTAs log, weighted towards the
// common cases (unknown users, Gmail/Microsoft/Yahoo deferrals, greylisting, timeouts).
func benchResponses() []string {
	return []string{
		"host gmail-smtp-in.l.google.com[142.250.1.26] said: 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. Learn more at 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a1si123456qkb.12 - gsmtp (in reply to RCPT TO command)",
		"host mx.example.net[192.0.2.10] said: 550 5.1.1 <jdoe@example.net>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)",
		"host mta7.am0.yahoodns.net[67.195.228.94] said: 421 4.7.0 [TSS04] Messages from 192.0.2.20 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)",
		"host example-com.mail.protection.outlook.com[52.101.1.1] said: 550 5.7.606 Access denied, banned sending IP [192.0.2.30]. To request removal from this list please visit https://sender.office.com/ and follow the directions. (AS16012609) (in reply to MAIL FROM command)",
		"host gmail-smtp-in.l.google.com[142.250.1.26] said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp (in reply to end of DATA command)",
		"connect to mx.example.org[192.0.2.40]:25: Connection timed out",
		"host mx.example.org[192.0.2.41] said: 450 4.2.0 <a@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html (in reply to RCPT TO command)",
		"host mx.example.org[192.0.2.42] said: 552 5.2.2 Mailbox full (in reply to RCPT TO command)",
		"host mx.example.org[192.0.2.43] said: 554 5.7.1 Service unavailable; Client host [192.0.2.99] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.99 (in reply to RCPT TO command)",
		"host mx.example.org[192.0.2.44] said: 550 5.7.26 This mail has been blocked because the sender is unauthenticated. (in reply to end of DATA command)",
		"host mx.example.org[192.0.2.45] said: 554 5.7.1 <a@example.org>: Relay access denied (in reply to RCPT TO command)",
		"host mx.example.org[192.0.2.46] said: 421 4.7.0 Too many connections from 192.0.2.99, slow down (in reply to end of DATA command)",
		"SMTP error from remote mail server after RCPT TO:<x@example.com>: 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown",
		"451 4.7.650 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)",
		"550 5.7.1 Unauthenticated email from example.com is not accepted due to domain's DMARC policy. Please contact the administrator of example.com domain.",
		"lost connection with mx.example.com[192.0.2.50] while receiving the initial server greeting",
	}
}

// BenchmarkClassify measures one core classifying the mix.
// Compare runs with: go test ./classify -run '^$' -bench Classify -benchmem -count 6 | tee new.txt; benchstat old.txt new.txt
func BenchmarkClassify(b *testing.B) {
	c := mustDefault(b)
	texts := benchResponses()
	var n int64
	for _, t := range texts {
		n += int64(len(t))
	}
	b.SetBytes(n / int64(len(texts)))
	b.ReportAllocs()
	b.ResetTimer()
	var sink Result
	for i := 0; b.Loop(); i++ {
		sink = c.ClassifyText(texts[i%len(texts)])
	}
	_ = sink
}

// BenchmarkClassifyParallel measures all cores; the scratch pool must not contend.
func BenchmarkClassifyParallel(b *testing.B) {
	c := mustDefault(b)
	texts := benchResponses()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = c.ClassifyText(texts[i%len(texts)])
			i++
		}
	})
}

// BenchmarkCompile measures start-up: compiling every built-in rule file.
func BenchmarkCompile(b *testing.B) {
	files, err := BuiltinRuleFiles()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compile(files); err != nil {
			b.Fatal(err)
		}
	}
}
