package scenario

import "strings"

// The world of the scenario: our sending IPs and MTA hosts, the customers and the receivers.
// Our addresses come from the documentation ranges (RFC 5737); customer and corporate
// domains end in .example; the consumer mailbox providers carry their real domains and MX
// host names, which is what the classifier recognises them by.

// mtaKind names the software of an MTA host.
type mtaKind uint8

const (
	mtaPostfix mtaKind = iota
	mtaExim
	mtaPMTA
	mtaKumo
)

func (k mtaKind) String() string {
	return [...]string{"postfix", "exim", "powermta", "kumomta"}[k]
}

// MTA hosts (the Kafka keys) and the inbound host that receives bounce emails.
const (
	hostOut1   = "mx-out1"
	hostOut2   = "mx-out2"
	hostExim   = "mta2"
	hostPMTA   = "pmta1"
	hostKumo   = "kumo1"
	hostBounce = "mx-in1"
)

// Pools.
const (
	poolShared = "shared-bulk"
	poolTrans  = "transactional"
	poolDedic  = "dedicated"
)

// egress is one sending IP and how its MTA names it.
type egress struct {
	ip, pool string
	host     string
	mta      mtaKind
	// instance is the Postfix syslog_name, transport the Exim transport, vmta the PowerMTA
	// virtual MTA and source the KumoMTA egress source.
	instance, transport, vmta, source string
	// fqdn is the IP's PTR and HELO name.
	fqdn string
}

var (
	egZen     = &egress{ip: "198.51.100.10", pool: poolShared, host: hostOut1, mta: mtaPostfix, instance: "postfix-198.51.100.10", fqdn: "o10.mx-out1.mailer.example"}
	egOut1b   = &egress{ip: "198.51.100.11", pool: poolShared, host: hostOut1, mta: mtaPostfix, instance: "postfix-198.51.100.11", fqdn: "o11.mx-out1.mailer.example"}
	egSpamcop = &egress{ip: "198.51.100.12", pool: poolShared, host: hostExim, mta: mtaExim, transport: "remote_smtp_shared", fqdn: "o12.mta2.mailer.example"}
	egTSS     = &egress{ip: "198.51.100.13", pool: poolShared, host: hostPMTA, mta: mtaPMTA, vmta: "shared-13", fqdn: "o13.pmta1.mailer.example"}
	egS3150   = &egress{ip: "198.51.100.14", pool: poolShared, host: hostKumo, mta: mtaKumo, source: "ip-14", fqdn: "o14.kumo1.mailer.example"}
	egOut2    = &egress{ip: "203.0.113.20", pool: poolTrans, host: hostOut2, mta: mtaPostfix, instance: "postfix-out2", fqdn: "t20.mx-out2.mailer.example"}
	egOut2a   = &egress{ip: "203.0.113.21", pool: poolTrans, host: hostOut2, mta: mtaPostfix, instance: "postfix", fqdn: "t21.mx-out2.mailer.example"}
	egPMTAt   = &egress{ip: "203.0.113.22", pool: poolTrans, host: hostPMTA, mta: mtaPMTA, vmta: "trans-22", fqdn: "t22.pmta1.mailer.example"}
	egHarbor  = &egress{ip: "192.0.2.30", pool: poolDedic, host: hostExim, mta: mtaExim, transport: "remote_smtp_dedicated", fqdn: "d30.mta2.mailer.example"}
	egPixel   = &egress{ip: "192.0.2.31", pool: poolDedic, host: hostPMTA, mta: mtaPMTA, vmta: "dedicated-31", fqdn: "d31.pmta1.mailer.example"}
)

// egresses lists every sending IP, in a stable order.
var egresses = []*egress{egZen, egOut1b, egSpamcop, egTSS, egS3150, egOut2, egOut2a, egPMTAt, egHarbor, egPixel}

// burst is a campaign: traffic ramps up from `from` to a plateau and falls off towards `to`
// (fractions of the window).
type burst struct {
	from, to, weight float64
	job              string // campaign or job id
}

// extraRcpt is an address a customer copies on some of its messages.
type extraRcpt struct {
	addr string
	p    float64
}

// customer is one sender of the ESP.
type customer struct {
	name, display string
	domain        string   // sender domain
	senders       []string // local parts of the sender addresses
	sasl          string   // SMTP AUTH user (Postfix, Exim)
	client        string   // the customer's submitting host
	clientIP      string
	egress        []*egress
	egressW       []float64
	transactional bool    // short queue lifetime, steady traffic
	share         float64 // share of the scenario's events
	trickle       float64 // campaign senders: weight of the traffic outside campaigns
	bursts        []burst
	corpBias      float64 // weight multiplier of corporate receivers
	unknown       float64 // share of unknown recipients on its lists
	extras        []extraRcpt
	job           string // PowerMTA job or KumoMTA campaign outside the campaigns
	subjects      []string
}

var (
	custNordlys = &customer{name: "nordlys", display: "Nordlys Media", domain: "news.nordlys.example",
		senders: []string{"newsletter", "redaksjonen"}, sasl: "nordlys", client: "web1.nordlys.example", clientIP: "10.20.1.11",
		egress: []*egress{egZen, egOut1b}, egressW: []float64{0.7, 0.3}, share: 0.14, trickle: 0.12,
		bursts: []burst{{from: 0.06, to: 0.40, weight: 1}}, corpBias: 0.6, unknown: 0.035,
		subjects: []string{"Morgenbrief: the week ahead", "Nordlys Weekend: reading list", "Breaking: northern lights forecast"}}
	custKettle = &customer{name: "kettle", display: "Kettle & Crumb", domain: "mail.kettleandcrumb.example",
		senders: []string{"recipes", "hello"}, sasl: "kettle", client: "app.kettleandcrumb.example", clientIP: "10.20.2.7",
		egress: []*egress{egOut1b, egZen}, egressW: []float64{0.75, 0.25}, share: 0.09, trickle: 0.1,
		bursts: []burst{{from: 0.48, to: 0.72, weight: 1}}, corpBias: 0.4, unknown: 0.05,
		subjects: []string{"Five soups for cold evenings", "Your weekly baking plan", "Sourdough, step by step"}}
	custBrightcart = &customer{name: "brightcart", display: "BrightCart", domain: "brightcart.example",
		senders: []string{"orders", "no-reply", "shipping"}, sasl: "brightcart", client: "checkout2.brightcart.example", clientIP: "10.30.4.21",
		egress: []*egress{egOut2}, egressW: []float64{1}, transactional: true, share: 0.09, corpBias: 0.5, unknown: 0.012,
		subjects: []string{"Your order has been received", "Your order has shipped", "Your receipt from BrightCart"}}
	custSunpeak = &customer{name: "sunpeak", display: "Sunpeak Outdoor", domain: "sunpeak-outdoor.example",
		senders: []string{"shop", "orders-noreply"}, sasl: "sunpeak", client: "shop.sunpeak-outdoor.example", clientIP: "10.30.5.9",
		egress: []*egress{egOut2a}, egressW: []float64{1}, transactional: true, share: 0.05, corpBias: 0.5, unknown: 0.015,
		extras:   []extraRcpt{{addr: "orders@sunpeak-outdoor.example", p: 0.25}, {addr: "shop@sunpeak.example", p: 0.06}},
		subjects: []string{"Order confirmation", "Your Sunpeak order is on its way", "Return label for your order"}}
	custHarbor = &customer{name: "harbor", display: "Harbor Logistics", domain: "harborlogistics.example",
		senders: []string{"dispatch", "tracking"}, sasl: "harbor", client: "tms.harborlogistics.example", clientIP: "10.40.0.12",
		egress: []*egress{egHarbor}, egressW: []float64{1}, transactional: true, share: 0.06, corpBias: 3, unknown: 0.01,
		extras:   []extraRcpt{{addr: "dispatch-desk@harborlogistics.example", p: 0.3}, {addr: "archive@harbor-archive.example", p: 0.2}},
		subjects: []string{"Shipment update", "Proof of delivery", "Pickup scheduled"}}
	custFernway = &customer{name: "fernway", display: "Fernway Travel", domain: "fernway.example",
		senders: []string{"deals", "bookings"}, sasl: "fernway", client: "crm.fernway.example", clientIP: "10.40.1.3",
		egress: []*egress{egSpamcop}, egressW: []float64{1}, share: 0.08, trickle: 0.15,
		bursts: []burst{{from: 0.44, to: 0.86, weight: 1}}, corpBias: 1, unknown: 0.04,
		subjects: []string{"Last-minute deals for the weekend", "48 hours only: city breaks", "Your booking confirmation"}}
	custQuill = &customer{name: "quill", display: "Quill & Co.", domain: "quillco.example",
		senders: []string{"news"}, client: "mailer.quillco.example", clientIP: "10.50.0.4",
		egress: []*egress{egTSS}, egressW: []float64{1}, share: 0.15, trickle: 0.08,
		bursts:   []burst{{from: 0.10, to: 0.30, weight: 1, job: "quill-autumn-sale"}, {from: 0.34, to: 0.56, weight: 0.9, job: "quill-weekly-46"}},
		corpBias: 0.3, unknown: 0.06, job: "quill-triggers",
		subjects: []string{"Autumn sale: 30% off notebooks", "New in: fountain pens", "This week at Quill & Co."}}
	custPixel = &customer{name: "pixelforge", display: "PixelForge Games", domain: "pixelforge.example",
		senders: []string{"play", "events"}, client: "events.pixelforge.example", clientIP: "10.50.1.8",
		egress: []*egress{egPixel}, egressW: []float64{1}, share: 0.10, trickle: 0.1,
		bursts:   []burst{{from: 0.58, to: 0.96, weight: 1, job: "pf-winter-launch"}},
		corpBias: 0.2, unknown: 0.03, job: "pf-account",
		subjects: []string{"Winter season is live", "Your weekly rewards", "Double XP this weekend"}}
	custLumen = &customer{name: "lumen", display: "Lumen Bank", domain: "alerts.lumenbank.example",
		senders: []string{"alerts", "statements"}, client: "notify.lumenbank.example", clientIP: "10.50.2.2",
		egress: []*egress{egPMTAt}, egressW: []float64{1}, transactional: true, share: 0.09, corpBias: 0.5, unknown: 0.006,
		job:      "lumen-alerts",
		subjects: []string{"Card payment notification", "Your monthly statement is ready", "New sign-in to your account"}}
	custOrbit = &customer{name: "orbit", display: "Orbit Fitness", domain: "orbitfit.example",
		senders: []string{"coach", "team"}, client: "campaigns.orbitfit.example", clientIP: "10.50.3.5",
		egress: []*egress{egS3150}, egressW: []float64{1}, share: 0.15, trickle: 0.1,
		bursts:   []burst{{from: 0.16, to: 0.42, weight: 1, job: "nov-challenge"}, {from: 0.66, to: 0.93, weight: 1, job: "black-week"}},
		corpBias: 0.3, unknown: 0.045, job: "orbit-onboarding",
		subjects: []string{"Your November challenge starts today", "Black Week: memberships half price", "Week 2: keep going"}}
)

// customers lists every customer, in a stable order.
var customers = []*customer{custNordlys, custKettle, custBrightcart, custSunpeak, custHarbor, custFernway,
	custQuill, custPixel, custLumen, custOrbit}

// style is how a receiver answers.
type style uint8

const (
	stGmail style = iota
	stOutlook
	stM365
	stYahoo
	stGMX
	stOrange
	stMailru
	stCorp // a corporate domain on its own Postfix gateway
	stProofpoint
	stMimecast
)

// ndrKind is how a receiver reports a failure after it accepted the message.
type ndrKind uint8

const (
	ndrNone     ndrKind = iota
	ndrExchange         // Exchange Online non-delivery report
	ndrGateway          // Postfix gateway in front of an internal mail store
)

type mxHost struct{ name, ip string }

// receiver is a receiving mail system with its domains and MX hosts.
type receiver struct {
	key      string
	style    style
	provider string // the provider as the classifier names it from the MX host; "" when none
	domains  []string
	domainW  []float64
	mx       []mxHost
	weight   float64
	lang     string // language of its answers (corporate) and of its non-delivery reports
	greylist bool
	dead     bool // its MX never answers
	// Which of our troubles it acts on: a Spamhaus ZEN listing, a SpamCop listing,
	// Microsoft's own list, a failing SPF check; bulk rate limits.
	zen, spamcop, s3150, spf, rate bool
	ndr                            ndrKind
	internal                       string // the internal mail store behind a gateway
}

func (r *receiver) corporate() bool {
	return r.style == stM365 || r.style == stCorp || r.style == stProofpoint || r.style == stMimecast
}

// m365MX is Exchange Online's MX host name for a domain.
func m365MX(domain string) string {
	return strings.ReplaceAll(domain, ".", "-") + ".mail.protection.outlook.com"
}

func m365(key, domain, lang, ip string) *receiver {
	return &receiver{key: key, style: stM365, provider: "microsoft365", domains: []string{domain}, domainW: []float64{1},
		mx: []mxHost{{m365MX(domain), ip}}, weight: 1.6, lang: lang, zen: true, spf: true, rate: true, ndr: ndrExchange}
}

func corp(key, domain, lang, mxIP string) *receiver {
	return &receiver{key: key, style: stCorp, domains: []string{domain}, domainW: []float64{1},
		mx: []mxHost{{"mx1." + domain, mxIP}}, weight: 1.4, lang: lang}
}

var (
	rcvGmail = &receiver{key: "gmail", style: stGmail, provider: "gmail",
		domains: []string{"gmail.com", "googlemail.com"}, domainW: []float64{0.97, 0.03},
		mx: []mxHost{{"gmail-smtp-in.l.google.com", "142.250.102.26"}, {"gmail-smtp-in.l.google.com", "142.250.102.27"},
			{"alt1.gmail-smtp-in.l.google.com", "142.251.9.26"}, {"gmail-smtp-in.l.google.com", "74.125.206.27"}},
		weight: 32, spf: true, rate: true}
	rcvOutlook = &receiver{key: "outlook", style: stOutlook, provider: "outlook_com",
		domains: []string{"outlook.com", "hotmail.com", "live.com", "msn.com"}, domainW: []float64{0.4, 0.4, 0.15, 0.05},
		weight: 12, spf: true, s3150: true, rate: true}
	rcvYahoo = &receiver{key: "yahoo", style: stYahoo, provider: "yahoo",
		domains: []string{"yahoo.com", "aol.com", "ymail.com", "yahoo.co.uk"}, domainW: []float64{0.7, 0.15, 0.1, 0.05},
		mx: []mxHost{{"mta5.am0.yahoodns.net", "67.195.204.72"}, {"mta6.am0.yahoodns.net", "67.195.204.77"},
			{"mta7.am0.yahoodns.net", "98.136.96.74"}, {"mta5.am0.yahoodns.net", "98.136.96.91"}},
		weight: 10, zen: true}
	rcvGMX = &receiver{key: "gmx", style: stGMX, provider: "gmx_webde",
		domains: []string{"gmx.de", "gmx.net", "web.de"}, domainW: []float64{0.45, 0.2, 0.35}, weight: 8}
	rcvOrange = &receiver{key: "orange", style: stOrange, provider: "orange",
		domains: []string{"orange.fr", "wanadoo.fr"}, domainW: []float64{0.8, 0.2},
		mx:     []mxHost{{"smtp-in.orange.fr", "80.12.242.41"}, {"smtp-in.orange.fr", "193.252.22.65"}},
		weight: 4, lang: "fr"}
	rcvMailru = &receiver{key: "mailru", style: stMailru, provider: "mailru",
		domains: []string{"mail.ru", "bk.ru", "list.ru", "inbox.ru"}, domainW: []float64{0.7, 0.1, 0.1, 0.1},
		mx:     []mxHost{{"mxs.mail.ru", "94.100.180.31"}, {"mxs.mail.ru", "217.69.139.150"}},
		weight: 4, lang: "ru"}

	rcvNorthwind = m365("northwind", "northwind-traders.example", "en", "52.101.68.12")
	rcvFabrikam  = m365("fabrikam", "fabrikam-industries.example", "en", "52.101.73.4")
	rcvBrandt    = m365("brandt", "brandt-logistik.example", "de", "52.101.68.19")
	rcvLefevre   = m365("lefevre", "maison-lefevre.example", "fr", "52.101.73.22")
	rcvFjallvik  = m365("fjallvik", "fjallvik-energi.example", "sv", "52.101.68.7")
	rcvMeer      = m365("vandermeer", "vandermeer-bouw.example", "nl", "52.101.73.9")

	rcvHansen  = corp("hansen", "hansen-maschinenbau.example", "de", "203.0.113.140")
	rcvNordk   = corp("nordkust", "nordkust-bygg.example", "sv", "203.0.113.151")
	rcvDijk    = corp("dijkstra", "dijkstra-transport.example", "nl", "203.0.113.162")
	rcvMoreau  = corp("moreau", "atelier-moreau.example", "fr", "203.0.113.173")
	rcvVolga   = corp("volga", "volga-trade.example", "ru", "192.0.2.184")
	rcvSakura  = corp("sakura", "sakura-shoji.example", "ja", "192.0.2.195")
	rcvInit    = corp("initrode", "initrode.example", "en", "192.0.2.206")
	rcvOldcorp = corp("oldcorp", "oldcorp-holdings.example", "en", "192.0.2.217")

	rcvGlobex = &receiver{key: "globex", style: stProofpoint, provider: "proofpoint",
		domains: []string{"globex-corp.example"}, domainW: []float64{1},
		mx:     []mxHost{{"mx0a-00231b01.pphosted.com", "148.163.129.51"}, {"mx0b-00231b01.pphosted.com", "148.163.137.52"}},
		weight: 1.5, lang: "en", spamcop: true}
	rcvUmbrella = &receiver{key: "umbrella", style: stMimecast, provider: "mimecast",
		domains: []string{"umbrella-health.example"}, domainW: []float64{1},
		mx:     []mxHost{{"eu-smtp-inbound-1.mimecast.com", "195.130.217.211"}, {"eu-smtp-inbound-2.mimecast.com", "91.220.42.211"}},
		weight: 1.5, lang: "en"}

	// Customers' own domains, reached only through the copies customers send themselves.
	rcvHarborM365   = &receiver{key: "harbor-m365", style: stM365, provider: "microsoft365", domains: []string{"harborlogistics.example"}, domainW: []float64{1}, mx: []mxHost{{m365MX("harborlogistics.example"), "52.101.68.30"}}, lang: "en"}
	rcvHarborArch   = &receiver{key: "harbor-archive", style: stCorp, domains: []string{"harbor-archive.example"}, domainW: []float64{1}, mx: []mxHost{{"mail.harbor-archive.example", "203.0.113.188"}}, lang: "en"}
	rcvSunpeakOwn   = &receiver{key: "sunpeak-own", style: stCorp, domains: []string{"sunpeak-outdoor.example"}, domainW: []float64{1}, mx: []mxHost{{"mail.sunpeak-outdoor.example", "192.0.2.240"}}, lang: "en"}
	rcvSunpeakAlias = &receiver{key: "sunpeak-alias", style: stCorp, domains: []string{"sunpeak.example"}, domainW: []float64{1}, mx: []mxHost{{"mail.sunpeak-outdoor.example", "192.0.2.240"}}, lang: "en"}
)

func init() {
	for _, r := range []*receiver{rcvHansen, rcvNordk, rcvDijk, rcvMoreau, rcvInit} {
		r.zen, r.spamcop = true, true
	}
	rcvHansen.greylist, rcvInit.greylist = true, true
	rcvHansen.ndr, rcvMoreau.ndr, rcvInit.ndr, rcvVolga.ndr = ndrGateway, ndrGateway, ndrGateway, ndrGateway
	rcvHansen.internal = "mailstore.hansen-maschinenbau.example[10.1.0.20]"
	rcvMoreau.internal = "zimbra.atelier-moreau.example[10.8.1.5]"
	rcvInit.internal = "exch01.initrode.example[10.0.0.25]"
	rcvVolga.internal = "mail.volga-trade.example[10.10.0.3]"
	rcvOldcorp.dead, rcvOldcorp.weight = true, 0.4
}

// receivers lists the receivers customers' recipients are drawn from, in a stable order.
var receivers = []*receiver{rcvGmail, rcvOutlook, rcvYahoo, rcvGMX, rcvOrange, rcvMailru,
	rcvNorthwind, rcvFabrikam, rcvBrandt, rcvLefevre, rcvFjallvik, rcvMeer,
	rcvHansen, rcvNordk, rcvDijk, rcvMoreau, rcvVolga, rcvSakura, rcvInit, rcvOldcorp,
	rcvGlobex, rcvUmbrella}

// specialReceivers serve the customers' own domains.
var specialReceivers = []*receiver{rcvHarborM365, rcvHarborArch, rcvSunpeakOwn, rcvSunpeakAlias}

// receiverOfDomain finds the receiver of a domain among all receivers.
func receiverOfDomain(domain string) *receiver {
	for _, list := range [][]*receiver{specialReceivers, receivers} {
		for _, r := range list {
			for _, d := range r.domains {
				if d == domain {
					return r
				}
			}
		}
	}
	return nil
}

// mxFor returns the MX hosts of a domain the receiver serves.
func (r *receiver) mxFor(domain string) []mxHost {
	switch r.style {
	case stOutlook:
		host := strings.ReplaceAll(domain, ".", "-") + ".olc.protection.outlook.com"
		return []mxHost{{host, "52.101.40.7"}, {host, "52.101.41.14"}, {host, "52.101.42.3"}}
	case stYahoo:
		if domain == "aol.com" {
			return []mxHost{{"mx-aol.mail.gm0.yahoodns.net", "67.195.228.106"}, {"mx-aol.mail.gm0.yahoodns.net", "98.136.96.74"}}
		}
	case stGMX:
		if domain == "web.de" {
			return []mxHost{{"mx-ha03.web.de", "212.227.15.17"}, {"mx-ha02.web.de", "212.227.17.8"}}
		}
		return []mxHost{{"mx00.emig.gmx.net", "212.227.15.9"}, {"mx01.emig.gmx.net", "212.227.17.5"}}
	}
	return r.mx
}

var firstNames = []string{"anna", "erik", "lena", "jonas", "marie", "lukas", "sofia", "noah", "emma", "felix",
	"olga", "dmitri", "yuki", "haruto", "camille", "louis", "sanne", "daan", "ingrid", "lars", "maria", "jose",
	"aisha", "omar", "chloe", "liam", "mia", "ben", "nora", "oskar", "paula", "tomas", "elif", "ravi", "hannah",
	"mateo", "ella", "kenji", "ines", "viktor"}

var lastNames = []string{"berg", "schulz", "lindqvist", "dubois", "jansen", "novak", "ivanova", "tanaka", "moreau",
	"fischer", "nilsson", "de vries", "garcia", "rossi", "kowalski", "smith", "okafor", "petrov", "suzuki",
	"martin", "bakker", "larsen", "weber", "costa", "hughes", "meyer", "andersson", "lambert", "sato", "kaya"}
