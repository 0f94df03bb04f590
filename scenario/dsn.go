package scenario

import (
	"bytes"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounce emails: what comes back for mail a receiver accepted and could not deliver later.
// Exchange Online tenants send non-delivery reports in their own language, as RFC 3464
// reports or as plain notifications; corporate gateways send Postfix's RFC 3464 report; a
// forwarding loop comes back as a report of the forwarder.

const rfc5322Date = "Mon, 02 Jan 2006 15:04:05 -0700"

// ndrText is the wording of Exchange's non-delivery report in one language.
type ndrText struct {
	subject, intro, unknown, full, admin, server string
}

var ndrTexts = map[string]ndrText{
	"en": {"Undeliverable", "Your message to %s couldn't be delivered.",
		"The email address you entered couldn't be found. Please check the recipient's email address and try to resend the message.",
		"The recipient's mailbox is full and can't accept messages now. Please try resending this message later, or contact the recipient directly.",
		"Diagnostic information for administrators:", "Generating server:"},
	"de": {"Unzustellbar", "Ihre Nachricht hat folgende Empfänger oder Gruppen nicht erreicht:",
		"Die E-Mail-Adresse, die Sie eingegeben haben, wurde nicht gefunden. Überprüfen Sie die E-Mail-Adresse des Empfängers und senden Sie die Nachricht erneut.",
		"Das Postfach des Empfängers ist voll und kann momentan keine Nachrichten annehmen. Senden Sie die Nachricht später erneut oder wenden Sie sich direkt an den Empfänger.",
		"Diagnoseinformationen für Administratoren:", "Generierender Server:"},
	"fr": {"Non remis", "Votre message n'a pas pu être remis à ces destinataires ou groupes :",
		"L'adresse de messagerie que vous avez entrée est introuvable. Vérifiez l'adresse de messagerie du destinataire, puis renvoyez le message.",
		"La boîte aux lettres du destinataire est pleine et ne peut pas accepter de messages pour l'instant. Renvoyez le message plus tard ou contactez directement le destinataire.",
		"Informations de diagnostic pour les administrateurs :", "Serveur de génération :"},
	"sv": {"Kan inte levereras", "Ditt meddelande nådde inte de här mottagarna eller grupperna:",
		"Det gick inte att hitta e-postadressen du angav. Kontrollera mottagarens e-postadress och skicka meddelandet igen.",
		"Mottagarens postlåda är full och kan inte ta emot meddelanden just nu. Skicka meddelandet igen senare eller kontakta mottagaren direkt.",
		"Diagnostisk information för administratörer:", "Genererande server:"},
	"nl": {"Onbestelbaar", "Uw bericht heeft deze ontvangers of groepen niet bereikt:",
		"Het e-mailadres dat u hebt ingevoerd, is niet gevonden. Controleer het e-mailadres van de ontvanger en verzend het bericht opnieuw.",
		"Het postvak van de ontvanger is vol en kan momenteel geen berichten ontvangen. Verzend het bericht later opnieuw of neem rechtstreeks contact op met de ontvanger.",
		"Diagnostische gegevens voor beheerders:", "Server die het rapport heeft gemaakt:"},
}

var contentLanguage = map[string]string{"en": "en-US", "de": "de-DE", "fr": "fr-FR", "sv": "sv-SE", "nl": "nl-NL"}

// Answers of the internal mail stores behind corporate gateways.
var (
	gatewayUnknown = map[string]string{
		"de": "Empfaenger unbekannt",
		"fr": "Utilisateur inconnu",
		"ru": "Нет такого пользователя",
	}
	gatewayFull = map[string]reply{
		"de": rp(550, "", phRcpt, catMailboxFull, "Benutzer hat das Speichervolumen ueberschritten."),
		"fr": rp(552, "5.1.1", phRcpt, catMailboxFull, "Boite du destinataire pleine."),
		"ru": rp(552, "5.2.2", phRcpt, catMailboxFull, "Превышен размер почтового ящика"),
	}
)

// lateBounce sends the bounce email of a recipient whose delivery at t fails later.
func (g *generator) lateBounce(m *message, r *rcpt, t time.Time) {
	var x reply
	var raw []byte
	at := t.Add(g.secs(20, 240))
	switch {
	case r.rcv == rcvSunpeakAlias:
		i := g.misconfigOf(m.c, "loop", t)
		if i == 0 {
			return
		}
		at = t.Add(g.secs(3, 40))
		if at.After(g.end) {
			return
		}
		x = rp(554, "5.4.6", phData, catLoop, "Too many hops 26 (25 max): from <"+m.sender+"> via fwd.sunpeak.example, to <"+r.addr+">")
		x.mis = i
		raw = g.postfixReport(m, r, t, at, "mail.sunpeak-outdoor.example", "fwd.sunpeak.example[192.0.2.241]", &x)
	case r.trait == trLateUnknown || r.trait == trLateFull:
		if at.After(g.end) {
			return
		}
		full := r.trait == trLateFull
		if r.rcv.ndr == ndrExchange {
			if full {
				x = rp(554, "5.2.2", phData, catMailboxFull, "mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; "+
					"Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot open mailbox.[EndDiagnosticData]")
			} else {
				x = rp(550, "5.1.10", phRcpt, catUserUnknown, "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup")
			}
			raw = g.exchangeNDR(m, r, t, at, &x, full)
		} else {
			lang := r.rcv.lang
			switch {
			case full && gatewayFull[lang].code != 0:
				x = gatewayFull[lang]
			case full:
				x = rp(552, "5.2.2", phRcpt, catMailboxFull, "<"+r.addr+">: Recipient address rejected: Mailbox quota exceeded")
			case gatewayUnknown[lang] != "":
				x = rp(550, "5.1.1", phRcpt, catUserUnknown, gatewayUnknown[lang])
			default:
				x = rp(550, "5.1.1", phRcpt, catUserUnknown, "<"+r.addr+">: Recipient address rejected: User unknown in virtual mailbox table")
			}
			raw = g.postfixReport(m, r, t, at, r.mx.name, r.rcv.internal, &x)
		}
	default:
		return
	}
	g.emit(KindBounceEmail, hostBounce, at.UTC().Truncate(time.Second), raw)
	g.event(m, outBounced, &x)
}

// fold writes a header field folded at about 76 columns.
func fold(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteString(":")
	col := len(name) + 1
	for i, w := range strings.Fields(value) {
		n := utf8.RuneCountInString(w)
		if i > 0 && col+1+n > 76 {
			b.WriteString("\n    ")
			col = 4
		} else {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
	}
	b.WriteByte('\n')
}

// originalHeaders writes the header of the returned message.
func (g *generator) originalHeaders(b *bytes.Buffer, m *message, r *rcpt, received string) {
	if received != "" {
		b.WriteString(received)
	}
	b.WriteString("From: " + (&mail.Address{Name: m.c.display, Address: m.sender}).String() + "\n")
	b.WriteString("To: " + r.addr + "\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", m.subject) + "\n")
	b.WriteString("Message-ID: <" + m.msgID + ">\n")
	b.WriteString("Date: " + m.arrival.UTC().Format(rfc5322Date) + "\n")
	b.WriteString("X-Customer-Id: " + m.c.name + "\n")
	b.WriteString("MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n")
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// postfixReport is the RFC 3464 report a Postfix gateway sends when the next hop refuses a
// message it accepted from us.
func (g *generator) postfixReport(m *message, r *rcpt, accepted, at time.Time, gw, next string, x *reply) []byte {
	qid := strings.ToUpper(g.hex(10))
	boundary := qid + "." + itoa(int(at.Unix())) + "/" + gw
	date := at.UTC().Format(rfc5322Date) + " (UTC)"
	arrival := accepted.UTC().Format(rfc5322Date) + " (UTC)"
	nextHost := next
	if i := strings.IndexByte(next, '['); i > 0 {
		nextHost = next[:i]
	}
	var b bytes.Buffer
	b.WriteString("Return-Path: <>\nReceived: by " + gw + " (Postfix)\n\tid " + qid + "; " + date + "\n")
	b.WriteString("Date: " + date + "\nFrom: MAILER-DAEMON@" + gw + " (Mail Delivery System)\n")
	b.WriteString("Subject: Undelivered Mail Returned to Sender\nTo: " + m.sender + "\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n")
	b.WriteString("Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"" + boundary + "\"\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\nMessage-Id: <" + at.UTC().Format("20060102150405") + "." + qid + "@" + gw + ">\n\n")
	b.WriteString("This is a MIME-encapsulated message.\n\n")

	b.WriteString("--" + boundary + "\nContent-Description: Notification\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
	b.WriteString("This is the mail system at host " + gw + ".\n\n")
	b.WriteString("I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n\n")
	b.WriteString("For further assistance, please send mail to postmaster.\n\n")
	b.WriteString("If you do so, please include this problem report. You can\ndelete your own text from the attached returned message.\n\n")
	b.WriteString("                   The mail system\n\n")
	var notice bytes.Buffer
	fold(&notice, "<"+r.addr+">", "host "+next+" said: "+x.flat()+" (in reply to "+pfCommand(x.phase)+" command)")
	b.Write(notice.Bytes())
	b.WriteString("\n")

	ctype := "message/delivery-status"
	if !ascii(x.flat()) {
		ctype = "message/global-delivery-status"
	}
	b.WriteString("--" + boundary + "\nContent-Description: Delivery report\nContent-Type: " + ctype + "\n\n")
	b.WriteString("Reporting-MTA: dns; " + gw + "\nX-Postfix-Queue-ID: " + qid + "\nX-Postfix-Sender: rfc822; " + m.sender + "\n")
	b.WriteString("Arrival-Date: " + arrival + "\n\n")
	b.WriteString("Final-Recipient: rfc822; " + r.addr + "\nOriginal-Recipient: rfc822;" + r.addr + "\nAction: failed\nStatus: " + x.dsn() + "\n")
	b.WriteString("Remote-MTA: dns; " + nextHost + "\n")
	fold(&b, "Diagnostic-Code", "smtp; "+x.flat())
	b.WriteString("Last-Attempt-Date: " + date + "\n\n")

	b.WriteString("--" + boundary + "\nContent-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n")
	g.originalHeaders(&b, m, r, "Return-Path: <"+m.sender+">\nReceived: from "+m.eg.fqdn+" ("+m.eg.fqdn+" ["+m.eg.ip+"])\n\tby "+gw+
		" (Postfix) with ESMTPS id "+qid+"\n\tfor <"+r.addr+">; "+arrival+"\n")
	b.WriteString("\n--" + boundary + "--\n")
	return b.Bytes()
}

// exchangeNDR is Exchange Online's non-delivery report, in the tenant's language: an RFC
// 3464 report, or (for some tenants' relays) the notification text alone with the returned
// header.
func (g *generator) exchangeNDR(m *message, r *rcpt, accepted, at time.Time, x *reply, full bool) []byte {
	lang := r.rcv.lang
	tx := ndrTexts[lang]
	server := g.exHost()
	tenant := strings.SplitN(r.domain, ".", 2)[0]
	boundary := "_" + g.hex(8) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(12) + "_"
	report := lang == "en" || g.chance(0.5)

	var text strings.Builder
	intro := tx.intro
	if strings.Contains(intro, "%s") {
		intro = strings.Replace(intro, "%s", r.addr, 1)
		text.WriteString(intro + "\n\n")
	} else {
		text.WriteString(intro + "\n\n" + r.addr + "\n")
	}
	if full {
		text.WriteString(tx.full + "\n\n")
	} else {
		text.WriteString(tx.unknown + "\n\n")
	}
	text.WriteString(tx.admin + "\n\n" + tx.server + " " + server + "\n\n")
	text.WriteString(r.addr + "\nRemote Server returned '" + x.flat() + "'\n")

	var b bytes.Buffer
	b.WriteString("Received: from " + server + "\n\tby " + g.exHost() + " with Microsoft SMTP Server id 15.20." + itoa(7000+g.intn(999)) + "." + itoa(10+g.intn(30)) + "; " + at.UTC().Format(rfc5322Date) + "\n")
	b.WriteString("MIME-Version: 1.0\n")
	b.WriteString("From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@" + tenant + ".onmicrosoft.com>\n")
	b.WriteString("To: <" + m.sender + ">\nDate: " + at.UTC().Format(rfc5322Date) + "\n")
	if report {
		b.WriteString("Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"" + boundary + "\"\n")
	} else {
		b.WriteString("Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\n")
	}
	b.WriteString("X-MS-Exchange-Message-Is-Ndr:\nContent-Language: " + contentLanguage[lang] + "\n")
	b.WriteString("Message-ID: <" + g.hex(8) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(12) + "@" + server + ">\n")
	b.WriteString("In-Reply-To: <" + m.msgID + ">\nReferences: <" + m.msgID + ">\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", tx.subject+": "+m.subject) + "\nAuto-Submitted: auto-replied\n\n")

	b.WriteString("--" + boundary + "\nContent-Type: text/plain; charset=\"utf-8\"\nContent-Transfer-Encoding: quoted-printable\n\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(text.String())) // to memory: cannot fail
	_ = qp.Close()
	b.WriteString("\n\n")
	if report {
		b.WriteString("--" + boundary + "\nContent-Type: message/delivery-status\n\n")
		b.WriteString("Reporting-MTA: dns;" + server + "\nReceived-From-MTA: dns;" + m.eg.fqdn + "\n")
		b.WriteString("Arrival-Date: " + accepted.UTC().Format(rfc5322Date) + "\n\n")
		b.WriteString("Final-Recipient: rfc822;" + r.addr + "\nAction: failed\nStatus: " + x.dsn() + "\n")
		b.WriteString("Diagnostic-Code: smtp;" + x.flat() + "\nX-Display-Name: " + displayName(r.addr) + "\n\n")
		b.WriteString("--" + boundary + "\nContent-Type: message/rfc822\n\n")
		g.originalHeaders(&b, m, r, "Received: from "+m.eg.fqdn+" ("+m.eg.ip+") by "+r.mx.name+" with Microsoft SMTP Server; "+
			accepted.UTC().Format(rfc5322Date)+"\n")
		b.WriteString("\n<html><body><p>" + m.subject + "</p></body></html>\n\n")
	} else {
		b.WriteString("--" + boundary + "\nContent-Type: text/rfc822-headers\n\n")
		g.originalHeaders(&b, m, r, "")
		b.WriteString("\n")
	}
	b.WriteString("--" + boundary + "--\n")
	return b.Bytes()
}

// displayName turns first.last@domain into "First Last".
func displayName(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	parts := strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' })
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, " ")
}
