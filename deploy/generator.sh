#!/bin/sh
# Feeds the compose stack's Kafka with generated traffic: two hours of history first, then
# a fresh ten-minute window every ten minutes, so the dashboards stay live.
set -eu
brokers="${BOUNCEHOUSE_KAFKA_BROKERS:-kafka:9092}"
dir="${TMPDIR:-/tmp}/scenario"
duration=2h
events="${GENERATOR_BACKFILL_EVENTS:-50000}"
seed=1
while :; do
	rm -rf "$dir"
	bouncehouse generate --out "$dir" --duration "$duration" --events "$events" --seed "$seed"
	bouncehouse send --quiet --brokers "$brokers" --topic mta-logs "$dir"/*.log "$dir"/*.csv "$dir"/*.jsonl
	bouncehouse send --quiet --brokers "$brokers" --topic bounce-emails "$dir"/bounces/*.eml
	duration=10m
	events="${GENERATOR_EVENTS:-5000}"
	seed=$((seed + 1))
	sleep 600
done
