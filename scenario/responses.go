package scenario

import (
	"strconv"
	"strings"
	"time"
)

// phase is the SMTP command a reply answered.
type phase uint8

const (
	phConnect phase = iota
	phMail
	phRcpt
	phData
)

// reply is one receiver answer (or our MTA's own verdict when local is set) with the
// category the classifier gives it.
type reply struct {
	code  int
	enh   string   // enhanced status code, "" when the receiver sends none
	lines []string // the text of each line of the reply, codes taken off
	phase phase
	cat   string // classifier category; "" for a delivery
	local bool   // no SMTP reply: our MTA's own verdict (loop, connection failure)
	// english is set on mailbox-full answers in English, which the classifier's English
	// rules decide before the message_expired rule (see expiredCategory).
	english bool
	lst     int  // 1-based index of the listing that caused it
	mis     int  // 1-based index of the misconfiguration that caused it
	tss     bool // part of the Yahoo TSS04 episode
}

func (r *reply) ok() bool        { return r.code/100 == 2 }
func (r *reply) temporary() bool { return r.code/100 == 4 }

// flat is the reply as MTA logs show it: the lines of a multi-line reply joined by spaces,
// each with its codes ("550-5.1.1 first 550 5.1.1 last").
func (r *reply) flat() string {
	if r.local {
		return strings.Join(r.lines, " ")
	}
	var b strings.Builder
	code := strconv.Itoa(r.code)
	for i, l := range r.lines {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(code)
		if i < len(r.lines)-1 {
			b.WriteByte('-')
		} else {
			b.WriteByte(' ')
		}
		if r.enh != "" {
			b.WriteString(r.enh)
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return b.String()
}

// expiredCategory is the category of an expiry event: message_expired whatever the MTA
// and whatever its last attempt said (ingest reports every expiry so).
func expiredCategory(mtaKind, *reply) string { return catExpired }

// content is the reply text without codes, lines joined with newlines (KumoMTA's content).
func (r *reply) content() string { return strings.Join(r.lines, "\n") }

// dsn is the enhanced status a Postfix dsn= field or a DSN Status field shows.
func (r *reply) dsn() string {
	if r.enh != "" {
		return r.enh
	}
	return strconv.Itoa(r.code/100) + ".0.0"
}

// Categories the scenario's answers get from the classifier.
const (
	catUserUnknown = "user_unknown"
	catMailboxFull = "mailbox_full"
	catIPListed    = "ip_blocklisted"
	catSPF         = "spf_fail"
	catRelay       = "relay_denied"
	catLoop        = "mail_loop"
	catReputation  = "reputation_block"
	catRate        = "rate_limited"
	catGreylisted  = "greylisted"
	catTimeout     = "timeout"
	catExpired     = "message_expired"
	catRemoteTemp  = "remote_temp_failure"
)

func rp(code int, enh string, ph phase, cat string, lines ...string) reply {
	return reply{code: code, enh: enh, lines: lines, phase: ph, cat: cat}
}

// gmailID is the trace token Gmail ends its replies with.
func (g *generator) gmailID() string {
	return g.hex(13) + "-" + g.hex(13) + "si" + strconv.Itoa(1000000+g.intn(9000000)) + string(rune('a'+g.intn(26))) + "." + strconv.Itoa(100+g.intn(900))
}

// eopHost names an Exchange Online Protection front end.
func (g *generator) eopHost() string {
	if g.intn(2) == 0 {
		return "AM" + strconv.Itoa(g.intn(9)) + "PEPF0000" + strings.ToUpper(g.hex(4)) + ".eurprd0" + strconv.Itoa(1+g.intn(8)) + ".prod.outlook.com"
	}
	return "BN" + strconv.Itoa(1+g.intn(8)) + "NAM" + strconv.Itoa(10+g.intn(3)) + "FT0" + strconv.Itoa(10+g.intn(90)) + ".eop-nam" + strconv.Itoa(10+g.intn(3)) + ".prod.protection.outlook.com"
}

// exHost names an Exchange Online mailbox server.
func (g *generator) exHost() string {
	return "DB" + strconv.Itoa(3+g.intn(7)) + "PR0" + strconv.Itoa(1+g.intn(8)) + "MB" + strconv.Itoa(1000+g.intn(9000)) + ".eurprd0" + strconv.Itoa(1+g.intn(8)) + ".prod.outlook.com"
}

// msTrace is the "[host time id]" trailer of Exchange Online's answers.
func (g *generator) msTrace(t time.Time) string {
	return "[" + g.eopHost() + " " + t.UTC().Format("2006-01-02T15:04:05.000Z") + " " + strings.ToUpper(g.hex(16)) + "]"
}

// okReply is the receiver's acceptance.
func (g *generator) okReply(m *message, r *rcpt, t time.Time) reply {
	switch r.rcv.style {
	case stGmail:
		return rp(250, "2.0.0", phData, "", "OK  "+strconv.FormatInt(t.Unix(), 10)+" "+g.gmailID()+" - gsmtp")
	case stOutlook, stM365:
		return rp(250, "2.6.0", phData, "", "<"+m.msgID+"> [InternalId="+strconv.FormatInt(int64(10_000_000_000_000+g.intn(90_000_000_000_000)), 10)+
			", Hostname="+g.exHost()+"] "+strconv.Itoa(m.size+2100)+" bytes in 0."+strconv.Itoa(100+g.intn(800))+
			", "+strconv.Itoa(20+g.intn(200))+"."+strconv.Itoa(100+g.intn(900))+" KB/sec Queued mail for delivery -> 250 2.1.5")
	case stYahoo:
		return rp(250, "", phData, "", "ok dirdel")
	case stGMX:
		return rp(250, "", phData, "", "Requested mail action okay, completed: id=1M"+g.alnum(4)+"-1"+g.alnum(9)+"-00"+g.alnum(4))
	case stOrange:
		return rp(250, "2.0.0", phData, "", g.alnum(14)+" mail accepted for delivery")
	case stMailru:
		return rp(250, "", phData, "", "OK id=1t"+g.alnum(4)+"-00000000"+g.alnum(3)+"-"+g.alnum(4))
	case stProofpoint:
		return rp(250, "2.0.0", phData, "", "4"+g.alnum(9)+"-1 Message accepted for delivery")
	case stMimecast:
		return rp(250, "", phData, "", "["+g.alnum(12)+"-"+g.alnum(4)+"] Message accepted")
	}
	return rp(250, "2.0.0", phData, "", "Ok: queued as "+strings.ToUpper(g.hex(11)))
}

// Localized answers of corporate mail servers (the wording their software uses).
var (
	corpUnknown = map[string][]string{
		"de": {"Benutzer unbekannt", "Empfaenger unbekannt"},
		"sv": {"Okänd mottagare"},
		"nl": {"Gebruiker onbekend"},
		"fr": {"Utilisateur inconnu"},
		"ru": {"Пользователь не найден"},
		"ja": {"宛先不明"},
	}
	corpFull = map[string]string{
		"de": "Das Postfach des Empfängers ist voll und kann momentan keine Nachrichten annehmen.",
		"sv": "Mottagarens postlåda är full och kan inte ta emot meddelanden just nu.",
		"nl": "Mailbox vol",
		"fr": "La boîte aux lettres du destinataire est pleine et ne peut pas accepter de messages pour l'instant.",
		"ru": "Превышен размер почтового ящика",
		"ja": "メールボックスが一杯です",
	}
	corpFullTemp = map[string]string{
		"de": "Postfach voll",
		"sv": "Kvoten överskriden",
		"ru": "Ящик переполнен",
		"ja": "容量オーバーのため受信できません",
	}
)

// unknownReply is the answer for a recipient that does not exist.
func (g *generator) unknownReply(r *rcpt, t time.Time) reply {
	switch r.rcv.style {
	case stGmail:
		return rp(550, "5.1.1", phRcpt, catUserUnknown,
			"The email account that you tried to reach does not exist. Please try",
			"double-checking the recipient's email address for typos or",
			"unnecessary spaces. For more information, go to",
			" https://support.google.com/mail/?p=NoSuchUser "+g.gmailID()+" - gsmtp")
	case stOutlook:
		return rp(550, "5.5.0", phRcpt, catUserUnknown, "Requested action not taken: mailbox unavailable (S2017062302). "+g.msTrace(t))
	case stM365:
		return rp(550, "5.4.1", phRcpt, catUserUnknown, "Recipient address rejected: Access denied. For more information see https://aka.ms/EXOSmtpErrors "+g.msTrace(t))
	case stYahoo:
		return rp(554, "", phData, catUserUnknown, "delivery error: dd This user doesn't have a "+r.domain+" account ("+r.addr+") [0] - mta"+strconv.Itoa(1000+g.intn(3000))+".mail.gq1.yahoo.com")
	case stGMX:
		return rp(550, "", phRcpt, catUserUnknown, "Requested action not taken: mailbox unavailable")
	case stOrange:
		return rp(550, "5.1.1", phRcpt, catUserUnknown, "Adresse d au moins un destinataire invalide. Invalid recipient. OFR004_416 [416]")
	case stMailru:
		return rp(550, "", phRcpt, catUserUnknown, "Message was not accepted -- invalid mailbox.  Local mailbox "+r.addr+" is unavailable: user not found")
	case stProofpoint:
		return rp(550, "5.1.1", phRcpt, catUserUnknown, "User Unknown")
	case stMimecast:
		return rp(550, "", phRcpt, catUserUnknown, "Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 ["+g.alnum(22)+".uk"+strconv.Itoa(100+g.intn(200))+"]")
	}
	if w, ok := corpUnknown[r.rcv.lang]; ok {
		return rp(550, "5.1.1", phRcpt, catUserUnknown, w[g.intn(len(w))])
	}
	return rp(550, "5.1.1", phRcpt, catUserUnknown, "<"+r.addr+">: Recipient address rejected: User unknown in local recipient table")
}

// hasFull reports whether the receiver answers a full mailbox at once (temp or not);
// Exchange Online accepts and reports it later.
func hasFull(rv *receiver, temp bool) bool {
	switch rv.style {
	case stGmail:
		return true
	case stOutlook, stGMX, stOrange:
		return !temp
	case stMailru:
		return temp
	case stCorp:
		if temp {
			_, ok := corpFullTemp[rv.lang]
			return ok || rv.lang == "en"
		}
		return true
	}
	return false
}

// fullReply is the answer for a mailbox over its quota.
func (g *generator) fullReply(r *rcpt, temp bool) reply {
	rv := r.rcv
	switch {
	case rv.style == stGmail && temp:
		x := rp(452, "4.2.2", phRcpt, catMailboxFull,
			"The recipient's inbox is out of storage space. Please direct the recipient to",
			" https://support.google.com/mail/?p=OverQuotaTemp "+g.gmailID()+" - gsmtp")
		x.english = true
		return x
	case rv.style == stGmail:
		return rp(552, "5.2.2", phRcpt, catMailboxFull,
			"The recipient's inbox is out of storage space and inactive. Please direct the recipient to",
			" https://support.google.com/mail/?p=OverQuotaPerm "+g.gmailID()+" - gsmtp")
	case rv.style == stOutlook:
		return rp(552, "5.2.2", phData, catMailboxFull, "STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; "+
			"Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot open mailbox "+
			"/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="+g.hex(32)+".[EndDiagnosticData] [Hostname="+g.exHost()+"]")
	case rv.style == stGMX:
		return rp(552, "", phRcpt, catMailboxFull, "Requested mail action aborted: exceeded storage allocation")
	case rv.style == stOrange:
		return rp(552, "5.1.1", phRcpt, catMailboxFull, "Boite du destinataire pleine. Recipient overquota. OFR004_417 [417]")
	case rv.style == stMailru:
		x := rp(452, "4.2.2", phRcpt, catMailboxFull, "Mailbox is full: "+r.addr)
		x.english = true
		return x
	case temp:
		if w, ok := corpFullTemp[rv.lang]; ok {
			return rp(452, "4.2.2", phRcpt, catMailboxFull, w)
		}
		x := rp(452, "4.2.2", phRcpt, catMailboxFull, "<"+r.addr+">: Recipient address rejected: Mailbox over quota, try again later")
		x.english = true
		return x
	}
	if w, ok := corpFull[rv.lang]; ok {
		return rp(552, "5.2.2", phData, catMailboxFull, w)
	}
	return rp(552, "5.2.2", phData, catMailboxFull, "<"+r.addr+">: Recipient address rejected: Mailbox full")
}

func (g *generator) greylistReply(r *rcpt) reply {
	if r.rcv.lang == "de" {
		return rp(451, "4.7.1", phRcpt, catGreylisted, "Greylisting in action, please come back later")
	}
	return rp(450, "4.2.0", phRcpt, catGreylisted, "<"+r.addr+">: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/"+r.domain+".html")
}

// zenReply is a receiver's refusal of an IP listed on Spamhaus ZEN.
func (g *generator) zenReply(rv *receiver, ip string, t time.Time) reply {
	switch rv.style {
	case stM365:
		return rp(550, "5.7.1", phMail, catIPListed, "Service unavailable, Client host ["+ip+"] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/"+ip+" (AS3130) "+g.msTrace(t))
	case stYahoo:
		return rp(553, "5.7.1", phConnect, catIPListed, "[BL21] Connections will not be accepted from "+ip+", because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes")
	}
	return rp(554, "5.7.1", phRcpt, catIPListed, "Service unavailable; Client host ["+ip+"] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/"+ip)
}

func (g *generator) spamcopReply(ip string) reply {
	return rp(554, "5.7.1", phRcpt, catIPListed, "Service unavailable; Client host ["+ip+"] blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?"+ip)
}

func (g *generator) s3150Reply(ip string, t time.Time) reply {
	return rp(550, "5.7.1", phMail, catIPListed, "Unfortunately, messages from ["+ip+"] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. "+g.msTrace(t))
}

func (g *generator) tssReply(ip string) reply {
	return rp(421, "4.7.0", phMail, catReputation, "[TSS04] Messages from "+ip+" temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes")
}

// rateReply is a receiver's throttling of a campaign peak.
func (g *generator) rateReply(rv *receiver, ip string, t time.Time) reply {
	switch rv.style {
	case stGmail:
		return rp(421, "4.7.28", phData, catRate,
			"Gmail has detected an unusual rate of mail originating from your IP address "+ip+".",
			"To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
			"For more information, go to",
			" https://support.google.com/mail/?p=UnsolicitedRateLimitError "+g.gmailID()+" - gsmtp")
	case stOutlook:
		return rp(421, "", phMail, catRate, "RP-001 ("+strings.ToUpper(g.alnum(3))+"004-MC"+strconv.Itoa(1+g.intn(6))+"F"+strconv.Itoa(10+g.intn(40))+
			") Unfortunately, some messages from "+ip+" weren't sent. Please try again. We have limits for how many messages can be sent per hour and per day. You can also refer to http://mail.live.com/mail/troubleshooting.aspx#errors.")
	}
	return rp(451, "4.7.500", phMail, catRemoteTemp, "Server busy. Please try again later from ["+ip+"]. (S77719) "+g.msTrace(t))
}

// spfReply is the refusal of a message whose SPF check failed.
func (g *generator) spfReply(m *message, rv *receiver, t time.Time) reply {
	ip, dom := m.eg.ip, m.c.domain
	if rv.style == stGmail {
		if m.c == custPixel {
			return rp(550, "5.7.27", phData, catSPF,
				"Your email has been blocked because SPF authentication didn't pass for",
				"this message. Gmail requires all bulk email senders to authenticate with SPF.",
				"Authentication results: SPF domain = "+dom+" SPF = fail. For more information, go to",
				" https://support.google.com/mail/answer/81126#authentication "+g.gmailID()+" - gsmtp")
		}
		return rp(550, "5.7.26", phData, catSPF,
			"The MAIL FROM domain ["+dom+"] has an SPF record with a hard fail",
			"policy (-all) but it fails to pass SPF checks with the ip: ["+ip+"]. To",
			"best protect our users from spam and phishing, the message has been",
			"blocked. For more information, go to",
			" https://support.google.com/mail/answer/81126#authentication "+g.gmailID()+" - gsmtp")
	}
	return rp(550, "5.7.23", phData, catSPF, "The message was rejected because of Sender Policy Framework violation: "+ip+" is not permitted to send for "+dom+" "+g.msTrace(t))
}

// relayReply is the refusal of mail for a domain the receiving server does not accept mail for.
func (g *generator) relayReply(r *rcpt, t time.Time) reply {
	if r.rcv.style == stM365 {
		return rp(550, "5.7.64", phRcpt, catRelay, "TenantAttribution; Relay Access Denied "+g.msTrace(t))
	}
	return rp(554, "5.7.1", phRcpt, catRelay, "<"+r.addr+">: Relay access denied")
}

// tempReply is a passing problem of the receiver.
func (g *generator) tempReply() reply {
	return rp(421, "4.3.0", phData, catRemoteTemp,
		"Temporary System Problem.  Try again later (10). For more information, go to",
		" https://support.google.com/a/answer/3221692 "+g.gmailID()+" - gsmtp")
}

// loopReply is Postfix's verdict when a domain's MX points back at itself.
func loopReply(domain string) reply {
	return reply{code: 554, enh: "5.4.6", lines: []string{"mail for " + domain + " loops back to myself"}, cat: catLoop, local: true}
}

// timeoutReply is a connection that timed out, in the words of each MTA.
func timeoutReply(k mtaKind, mx mxHost) reply {
	r := reply{code: 421, enh: "4.4.1", phase: phConnect, cat: catTimeout, local: true}
	switch k {
	case mtaPostfix:
		r.lines = []string{"connect to " + mx.name + "[" + mx.ip + "]:25: Connection timed out"}
	case mtaExim:
		r.lines = []string{"Connection timed out"}
	case mtaPMTA:
		r.lines = []string{"421 4.4.1 connection timed out"}
	case mtaKumo:
		r.lines = []string{"KumoMTA internal: failed to connect to any candidate hosts: connect to " + mx.ip + ":25: Connection timed out"}
	}
	return r
}
