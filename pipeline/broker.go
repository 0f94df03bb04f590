package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedBroker is an in-process Kafka-protocol broker on a loopback port, for the demo and
// the tests; the pipeline talks to it with the same kafka-go code as to a real cluster.
type EmbeddedBroker struct {
	c *kfake.Cluster
}

// StartEmbeddedBroker starts a one-node broker with the given topics (name → partitions).
func StartEmbeddedBroker(topics map[string]int32) (*EmbeddedBroker, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.DefaultNumPartitions(1))
	if err != nil {
		return nil, fmt.Errorf("start embedded Kafka broker: %w", err)
	}
	for name, n := range topics {
		if err := c.CreateTopic(name, n, nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("embedded Kafka broker: create topic %s: %w", name, err)
		}
	}
	return &EmbeddedBroker{c: c}, nil
}

// Addrs returns the broker's loopback addresses.
func (b *EmbeddedBroker) Addrs() []string { return b.c.ListenAddrs() }

// Close stops the broker.
func (b *EmbeddedBroker) Close() { b.c.Close() }

// Message is one record to produce: Key is the MTA host for logs (one partition sees all
// lines of a host), Value the line(s) or the raw message.
type Message struct {
	Key, Value []byte
}

// Producer writes records to a topic with kafka-go, partitioned by key hash.
type Producer struct {
	w *kafka.Writer
}

// NewProducer returns a producer for topic on brokers; kafka carries SASL and TLS.
func NewProducer(k Kafka, topic string) (*Producer, error) {
	d, err := k.dialer()
	if err != nil {
		return nil, err
	}
	tr := &kafka.Transport{SASL: d.SASLMechanism, TLS: d.TLS, DialTimeout: 10 * time.Second}
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers...), Topic: topic, Balancer: &kafka.Hash{}, Transport: tr,
		BatchSize: 1000, BatchBytes: 16 << 20, BatchTimeout: 10 * time.Millisecond, RequiredAcks: kafka.RequireAll,
		Compression: kafka.Lz4}
	return &Producer{w: w}, nil
}

// Send writes the messages, in order per key.
func (p *Producer) Send(ctx context.Context, msgs ...Message) error {
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		out[i] = kafka.Message{Key: m.Key, Value: m.Value}
	}
	if err := p.w.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("produce to %s: %w", p.w.Topic, err)
	}
	return nil
}

// Close flushes and closes the producer.
func (p *Producer) Close() error { return p.w.Close() }
