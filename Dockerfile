# vigil in a container: built with the Swift toolchain image, run on Debian slim as a non-root user.
#
#   docker build -t vigil .
#   docker run -d --name vigil -p 5514:5514/udp -p 5514:5514/tcp -p 8514:8514 \
#       -v vigil-data:/var/lib/vigil -e VIGIL_API_TOKEN="$(openssl rand -hex 32)" vigil
#
# The HTTP API listens on 0.0.0.0:8514 so that it can be reached through the published port; vigil
# refuses a non-loopback API without a token, so the container does not start without one
# (VIGIL_API_TOKEN, or --api.token_file FILE with a mounted secret; docs/install.md). Without the
# API: `docker run ... vigil serve --data-dir /var/lib/vigil --http off`.
# Messages and alerts.jsonl are in the volume; alerts also go to stdout (docker logs).
# scripts/e2e/install.sh checks that the build stage below works from a clean checkout.

ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-bookworm AS build
WORKDIR /src
# What the manifest needs to load: every target's directory exists, test targets included (only
# the vigil product is built). Manifest first so that its resolution is cached apart from the sources.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests/VigilTestSupport ./Tests/VigilTestSupport
COPY Tests/VigilCoreTests ./Tests/VigilCoreTests
COPY Tests/VigilPosixTests ./Tests/VigilPosixTests
COPY Tests/VigilBenchTests ./Tests/VigilBenchTests
# The Swift runtime linked in: the binary needs only libc, libm, libstdc++ and libgcc_s.
RUN swift build -c release --static-swift-stdlib --product vigil \
    && install -D -m 0755 "$(swift build -c release --static-swift-stdlib --product vigil --show-bin-path)/vigil" /out/vigil

FROM debian:bookworm-slim
RUN useradd --system --user-group --uid 10001 --no-create-home --home-dir /var/lib/vigil \
        --shell /usr/sbin/nologin vigil \
    && install -d -o vigil -g vigil -m 0750 /var/lib/vigil
COPY --from=build /out/vigil /usr/local/bin/vigil
USER vigil
WORKDIR /var/lib/vigil
VOLUME /var/lib/vigil
# Syslog over UDP and TCP; the HTTP API and dashboard.
EXPOSE 5514/udp 5514/tcp 8514/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/vigil"]
CMD ["serve", "--data-dir", "/var/lib/vigil", "--udp", "0.0.0.0:5514", "--tcp", "0.0.0.0:5514", "--http", "0.0.0.0:8514"]
