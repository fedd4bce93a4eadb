# Stand-in for golang:<version>-bookworm: the Go toolchain at GO_VERSION from the Go module
# proxy (golang.org/toolchain, the module `go` itself downloads toolchains from) on the
# debootstrap base. Contract kept for docker/versitygw: `go` on the PATH, GOPATH=/go, CA
# certificates, module downloads through GOPROXY.
ARG BASE
FROM ${BASE}
ARG GO_VERSION
ARG GOPROXY=https://proxy.golang.org
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl unzip \
    && rm -rf /var/lib/apt/lists/* \
    && arch=$(dpkg --print-architecture) \
    && curl -fsSL -o /tmp/go.zip "${GOPROXY}/golang.org/toolchain/@v/v0.0.1-go${GO_VERSION}.linux-${arch}.zip" \
    && unzip -q /tmp/go.zip -d /tmp/go \
    && mv "/tmp/go/golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-${arch}" /usr/local/go \
    && rm -rf /tmp/go /tmp/go.zip
ENV GOPATH=/go \
    GOTOOLCHAIN=local \
    PATH=/go/bin:/usr/local/go/bin:$PATH
RUN go version
LABEL org.opencontainers.image.title="lakehouse-standin/golang" \
      org.opencontainers.image.description="stand-in for golang:*-bookworm (toolchain from the Go module proxy)"
