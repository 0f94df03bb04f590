// Package scenario generates a realistic synthetic traffic scenario for an email service
// provider, together with its ground truth: the MTA log lines and bounce emails a busy
// morning with its incidents leaves behind, in a configurable window (two hours by default).
//
// Ten customers send through five MTA hosts: mx-out1 (Postfix, one instance per sending IP,
// postfix-198.51.100.10 and postfix-198.51.100.11), mx-out2 (Postfix, instances postfix and
// postfix-out2), mta2 (Exim through syslog), pmta1 (PowerMTA accounting CSV) and kumo1
// (KumoMTA JSON records). Ten sending IPs form three pools: shared-bulk, transactional and
// dedicated. Recipients are at Gmail, Outlook.com, Microsoft 365 tenants, Yahoo and AOL,
// GMX and WEB.DE, Orange, Mail.ru and corporate domains (own gateways, Proofpoint, Mimecast),
// reached through the receivers' real MX host names and answered in their words and
// languages. About three quarters of the delivery events are deliveries.
//
// Timeline, as fractions of the window (the times are those of the default window,
// 08:00-10:00 UTC):
//
//	0.06-0.40  08:07-08:48  Nordlys newsletter on mx-out1 (mostly 198.51.100.10)
//	0.10-0.56  08:12-09:07  two Quill campaigns on pmta1 (198.51.100.13)
//	0.15-0.50  08:18-09:00  harbor's copies relayed to its Microsoft 365 tenant and old archive
//	                        server are refused: relay_denied (fixed at 09:00)
//	0.16-0.93  08:19-09:52  two Orbit campaigns on kumo1 (198.51.100.14)
//	0.25-0.60  08:30-09:12  198.51.100.10 on Spamhaus ZEN: Microsoft 365 (AS3130), Yahoo (BL21,
//	                        deferred) and corporate gateways refuse it; delivered again after
//	0.30-0.65  08:36-09:18  brightcart's SPF record fails: Gmail 5.7.26, Microsoft 5.7.23
//	0.36-0.55  08:43-09:06  Yahoo defers 198.51.100.13 with TSS04; the mail goes out later
//	0.40-end   08:48-       sunpeak's domain loops: "loops back to myself" on mx-out2, and
//	                        "Too many hops" bounce emails from its forwarder
//	0.44-0.86  08:53-09:43  Fernway campaign on mta2 (198.51.100.12)
//	0.48-0.72  08:58-09:26  Kettle & Crumb campaign on mx-out1 (mostly 198.51.100.11)
//	0.55-end   09:06-       198.51.100.12 on SpamCop: corporate gateways and Proofpoint refuse it
//	0.58-0.96  09:10-09:55  PixelForge launch on pmta1 (dedicated 192.0.2.31)
//	0.70-end   09:24-       198.51.100.14 on Microsoft's block list (S3150) at Outlook.com
//	0.80-end   09:36-       pixelforge's SPF record fails: Gmail 5.7.27, Microsoft 5.7.23
//
// Throughout: transactional mail (brightcart, sunpeak, harbor, lumen) at a slowly rising
// rate and with a one-hour queue lifetime, so that mailboxes over quota and a domain whose MX
// never answers end in expiry; Gmail (4.7.28), Outlook.com (RP-001) and Exchange Online
// (4.7.500) throttling every campaign's peak; unknown recipients and full mailboxes in English, French,
// German, Swedish, Dutch, Russian and Japanese; greylisting; and bounce emails for mail that
// was accepted and failed later: RFC 3464 reports of Postfix gateways and Exchange Online
// non-delivery reports in the tenant's language, some without a delivery-status part.
//
// The ground truth (Truth) is stated in the terms of the project's own pipeline: how many
// delivery events ingest produces from the records, per outcome and per category, and which
// listings and misconfigured customers produced which of them. The package's tests run every
// record through ingest and the classifier and hold the two to each other.
//
// Generate is deterministic: the same Config gives the same records, byte for byte.
package scenario
