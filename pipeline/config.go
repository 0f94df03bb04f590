// Package pipeline is bouncehouse's main job: consumers in a Kafka consumer group read MTA
// logs, bounce emails and ESP events, parse, correlate, classify and enrich them (ingest),
// store batches in ClickHouse exactly once (storage), optionally ship the raw lines to Loki,
// and commit offsets only after the batch is stored.
//
// Each assigned partition has its own worker: an ingest.Processor with the partition's own
// correlation state, a batch, and the partition's watermark. Producers key MTA logs by host,
// so one worker sees every line of a queue id.
package pipeline

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/bouncehouse/bouncehouse/ingest"
)

// Kind is what a topic carries.
type Kind string

// The input kinds of a topic.
const (
	KindAuto         Kind = "auto"          // decided per record: an RFC 5322 message, else log lines or ESP JSON
	KindMTALogs      Kind = "mta-logs"      // log lines (one or more per record), any supported format
	KindBounceEmails Kind = "bounce-emails" // one raw RFC 5322 message per record
	KindESPEvents    Kind = "esp-events"    // ESP event JSON (SES, SendGrid, Mailgun, SparkPost, Postmark)
)

// ParseKind validates a topic kind; "" means auto.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.TrimSpace(s)); k {
	case "":
		return KindAuto, nil
	case KindAuto, KindMTALogs, KindBounceEmails, KindESPEvents:
		return k, nil
	}
	return "", fmt.Errorf("topic kind %q: want auto, mta-logs, bounce-emails or esp-events", s)
}

// Topic is one topic to consume and what it carries.
type Topic struct {
	Name string `yaml:"name"`
	Kind Kind   `yaml:"kind"`
}

// SASL configures Kafka authentication.
type SASL struct {
	// Mechanism is plain, scram-sha-256 or scram-sha-512; "" means none.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password, or PasswordFile (a mounted secret); BOUNCEHOUSE_KAFKA_PASSWORD overrides both.
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// TLS configures Kafka connections over TLS.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Kafka says where to read from.
type Kafka struct {
	Brokers []string `yaml:"brokers"`
	Group   string   `yaml:"group"`
	Topics  []Topic  `yaml:"topics"`
	SASL    SASL     `yaml:"sasl"`
	TLS     TLS      `yaml:"tls"`
}

// Config is the pipeline's configuration.
type Config struct {
	Kafka Kafka `yaml:"kafka"`
	// BatchSize is the number of events that triggers an insert (default 20,000).
	BatchSize int `yaml:"batch_size"`
	// FlushInterval bounds how long an event waits in a batch (default 2s).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// StateInterval is how often a partition's correlation state is saved (default 30s);
	// it is also saved when the partition is given up.
	StateInterval time.Duration `yaml:"state_interval"`
	// Ingest configures parsing, correlation and enrichment (customer and sending-IP maps).
	Ingest ingest.Options `yaml:"-"`
}

// Defaults of Config.
const (
	DefaultBatchSize     = 20_000
	DefaultFlushInterval = 2 * time.Second
	DefaultStateInterval = 30 * time.Second
	DefaultGroup         = "bouncehouse"
)

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.StateInterval <= 0 {
		c.StateInterval = DefaultStateInterval
	}
	if c.Kafka.Group == "" {
		c.Kafka.Group = DefaultGroup
	}
	for i := range c.Kafka.Topics {
		if c.Kafka.Topics[i].Kind == "" {
			c.Kafka.Topics[i].Kind = KindAuto
		}
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if len(c.Kafka.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: none given"))
	}
	if len(c.Kafka.Topics) == 0 {
		errs = append(errs, errors.New("kafka.topics: none given"))
	}
	seen := map[string]bool{}
	for _, t := range c.Kafka.Topics {
		if t.Name == "" {
			errs = append(errs, errors.New("kafka.topics: a topic without a name"))
		}
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("kafka.topics: %s listed twice", t.Name))
		}
		seen[t.Name] = true
		if _, err := ParseKind(string(t.Kind)); err != nil {
			errs = append(errs, fmt.Errorf("kafka.topics %s: %w", t.Name, err))
		}
	}
	switch strings.ToLower(c.Kafka.SASL.Mechanism) {
	case "", "plain", "scram-sha-256", "scram-sha-512":
	default:
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism %q: want plain, scram-sha-256 or scram-sha-512", c.Kafka.SASL.Mechanism))
	}
	if c.BatchSize > 500_000 {
		errs = append(errs, fmt.Errorf("batch_size %d: at most 500000", c.BatchSize))
	}
	return errors.Join(errs...)
}

// dialer builds the Kafka dialer with SASL and TLS.
func (k Kafka) dialer() (*kafka.Dialer, error) {
	d := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true}
	mech, err := k.SASL.mechanism()
	if err != nil {
		return nil, err
	}
	d.SASLMechanism = mech
	if k.TLS.Enabled {
		cfg, err := k.TLS.config()
		if err != nil {
			return nil, err
		}
		d.TLS = cfg
	}
	return d, nil
}

func (s SASL) password() (string, error) {
	if p := os.Getenv("BOUNCEHOUSE_KAFKA_PASSWORD"); p != "" {
		return p, nil
	}
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("kafka.sasl.password_file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return s.Password, nil
}

func (s SASL) mechanism() (sasl.Mechanism, error) {
	if s.Mechanism == "" {
		return nil, nil
	}
	pw, err := s.password()
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(s.Mechanism) {
	case "plain":
		return plain.Mechanism{Username: s.Username, Password: pw}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, s.Username, pw)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, s.Username, pw)
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism %q: want plain, scram-sha-256 or scram-sha-512", s.Mechanism)
}

func (t TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in for test brokers
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file %s: no certificate found", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
