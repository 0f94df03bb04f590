package classify

import "testing"

// TestLocalized checks that receivers answering in other languages, and localized
// Exchange/Outlook NDRs, classify like their English counterparts. Inputs are phrased for this
// test, not copied from the rule examples, so that the rules are tested on wording they were
// not written from.
func TestLocalized(t *testing.T) {
	c := mustDefault(t)
	cases := []struct {
		lang string
		text string
		want Category
	}{
		// Relay denied: the brief's own examples first.
		{"sv", "550 5.7.1 Vidarebefordran nekades.", RelayDenied},
		{"nl", "550 5.7.1 Doorsturen geweigerd.", RelayDenied},
		{"vi", "550 5.7.1 Chuyển tiếp bị từ chối.", RelayDenied},
		{"no", "550 5.7.1 Formidling avslått", RelayDenied},
		{"da", "550 5.7.1 Videresendelse afvist", RelayDenied},
		{"de", "550 5.7.1 Relay verweigert", RelayDenied},
		{"fr", "550 5.7.1 Relais refusé", RelayDenied},
		{"es", "550 5.7.1 Retransmisión denegada", RelayDenied},
		{"it", "550 5.7.1 Inoltro negato", RelayDenied},
		{"pt", "550 5.7.1 Retransmissão negada", RelayDenied},
		{"pl", "550 5.7.1 Przekazywanie zabronione", RelayDenied},
		{"cs", "550 5.7.1 Přeposílání zakázáno", RelayDenied},
		{"ru", "550 5.7.1 Ретрансляция запрещена", RelayDenied},
		{"uk", "550 5.7.1 Ретрансляцію заборонено", RelayDenied},
		{"tr", "550 5.7.1 Aktarma reddedildi", RelayDenied},
		{"ja", "550 5.7.1 メールの中継は拒否されました", RelayDenied},
		{"zh", "550 5.7.1 拒绝中继", RelayDenied},
		{"ko", "550 5.7.1 릴레이가 거부되었습니다", RelayDenied},
		// Unknown recipient.
		{"de", "550 5.1.1 <max@example.de>: Empfänger unbekannt", UserUnknown},
		{"fr", "550 5.1.1 <marie@example.fr>: Utilisateur inconnu", UserUnknown},
		{"es", "550 5.1.1 <juan@example.es>: Usuario desconocido", UserUnknown},
		{"it", "550 5.1.1 <mario@example.it>: Utente sconosciuto", UserUnknown},
		{"pt", "550 5.1.1 <joao@example.com.br>: Usuário desconhecido", UserUnknown},
		{"nl", "550 5.1.1 <jan@example.nl>: Gebruiker onbekend", UserUnknown},
		{"ru", "550 5.1.1 <ivan@example.ru>: Пользователь не найден", UserUnknown},
		{"uk", "550 5.1.1 <ivan@example.ua>: Користувача не знайдено", UserUnknown},
		{"pl", "550 5.1.1 <jan@example.pl>: Nie ma takiego użytkownika", UserUnknown},
		{"cs", "550 5.1.1 <jan@example.cz>: Uživatel neexistuje", UserUnknown},
		{"zh", "550 5.1.1 收件人不存在", UserUnknown},
		{"ja", "550 5.1.1 宛先のユーザーは存在しません", UserUnknown},
		// Mailbox full.
		{"de", "452 4.2.2 Postfach voll", MailboxFull},
		{"fr", "452 4.2.2 Boîte aux lettres pleine", MailboxFull},
		{"es", "452 4.2.2 Buzón lleno", MailboxFull},
		{"ru", "452 4.2.2 Почтовый ящик переполнен", MailboxFull},
		{"zh", "452 4.2.2 收件人邮箱已满", MailboxFull},
		// Blocklists and spam.
		{"de", "554 5.7.1 Ihre IP-Adresse steht auf einer Sperrliste", IPBlocklisted},
		{"fr", "554 5.7.1 Votre adresse IP est sur liste noire", IPBlocklisted},
		{"ru", "554 5.7.1 Ваш IP-адрес находится в черном списке", IPBlocklisted},
		{"zh", "554 5.7.1 发件IP在黑名单中", IPBlocklisted},
		{"de", "554 5.7.1 Nachricht als Spam eingestuft", ContentSpam},
		{"ru", "554 5.7.1 Сообщение похоже на спам", ContentSpam},
		// A localized Exchange NDR wrapping an English diagnostic: the diagnostic decides.
		{"ru", "Сообщение не было доставлено из-за проблемы с разрешениями или безопасностью. Remote Server returned '550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus'", IPBlocklisted},
		{"de", "Ihre Nachricht konnte nicht zugestellt werden. Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'", UserUnknown},
	}
	langs := map[string]bool{}
	for _, tc := range cases {
		got := c.ClassifyText(tc.text)
		if got.Category != tc.want {
			t.Errorf("[%s] %q: got %s (rule %q), want %s", tc.lang, tc.text, got.Category, got.Rule, tc.want)
		}
		langs[tc.lang] = true
	}
	for _, l := range []string{"sv", "no", "da", "nl", "de", "fr", "es", "it", "pt", "pl", "cs", "ru", "uk", "tr", "vi", "ja", "zh", "ko"} {
		if !langs[l] {
			t.Errorf("no case for language %s", l)
		}
	}
}

// TestLocalizedPreamble checks that a localized NDR's own explanation decides when the quoted
// diagnostic says nothing a rule knows.
func TestLocalizedPreamble(t *testing.T) {
	c := mustDefault(t)
	got := c.ClassifyText("Vidarebefordran nekades. Remote Server returned '550 ZZZ9 opaque local code'")
	if got.Category != RelayDenied || got.Response != "550 ZZZ9 opaque local code" {
		t.Errorf("got %s (rule %q, response %q), want relay_denied from the Swedish preamble", got.Category, got.Rule, got.Response)
	}
	got = c.ClassifyText("Vidarebefordran nekades. Remote Server returned '550 5.1.1 User unknown'")
	if got.Category != UserUnknown {
		t.Errorf("got %s, want the quoted diagnostic (user_unknown) to decide", got.Category)
	}
}
