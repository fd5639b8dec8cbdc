# Fountain's container image: one static binary on an empty base, run as a
# non-root user (uid 65532), with CA certificates for AWS and GitHub.
#
#   docker build -t fountain .        (BuildKit, Docker's default builder since 23.0)
#   docker run -d -p 127.0.0.1:8000:8000 -e FOUNTAIN_API_TOKEN=... -v fountain-data:/data fountain
#
# Inside the container the server listens on 0.0.0.0:8000 (FOUNTAIN_ADDR), so
# that the published port reaches it; it warns about that at start, because
# beyond loopback the API token travels in plain HTTP: publish the port on
# 127.0.0.1 only, or put TLS in front (see docker-compose.yml).
#
# The runtime stage takes from the build stage only what is under /out and
# the CA bundle. The delivery tests (delivery/) build this very stage from a
# binary built on the test machine, so keep it that way.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/fountain ./cmd/fountain
# Empty directories for the runtime stage: the data volume, and /tmp inside
# a root to copy from (a copied directory's own mode is not kept, its
# children's are).
RUN mkdir -p /out/data /out/root/tmp && chmod 1777 /out/root/tmp

FROM scratch AS runtime
COPY deploy/docker/passwd deploy/docker/group /etc/
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/root/ /
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/fountain /fountain
USER 65532:65532
ENV FOUNTAIN_ADDR=0.0.0.0:8000 \
    FOUNTAIN_DATA_DIR=/data \
    HOME=/data
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["/fountain", "healthcheck"]
ENTRYPOINT ["/fountain"]
CMD ["serve"]
