# bouncehouse in a container: the pipeline against a ClickHouse server (the embedded engine
# is not in the image; mount libchdb.so and set CHDB_LIB to use it).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/bouncehouse ./cmd/bouncehouse

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/bouncehouse --create-home bouncehouse
COPY --from=build /out/bouncehouse /usr/local/bin/bouncehouse
COPY deploy/bouncehouse.yaml /etc/bouncehouse/bouncehouse.yaml
COPY deploy/generator.sh /usr/local/bin/bouncehouse-generator
USER bouncehouse
WORKDIR /var/lib/bouncehouse
EXPOSE 9108
ENTRYPOINT ["bouncehouse"]
CMD ["run", "--config", "/etc/bouncehouse/bouncehouse.yaml"]
