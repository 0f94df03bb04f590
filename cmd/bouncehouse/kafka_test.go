package main

import (
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

func kafkaReader(brokers []string, topic string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond})
}

func itoa(n int) string { return strconv.Itoa(n) }
