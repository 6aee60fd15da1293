# vigil in a container: build with the Swift toolchain image, run on Debian slim.
#
#   docker build -t vigil .
#   docker run -d -p 5514:5514/udp -p 5514:5514/tcp -v vigil-data:/var/lib/vigil vigil
#
# Alerts are in the volume (alerts.jsonl) and on the container's stdout (docker logs).
# (The HTTP API, port 8514, is not in this build yet.)

ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-bookworm AS build
WORKDIR /src
# Manifest first so that dependency resolution is cached apart from the sources.
COPY Package.swift ./
COPY Sources ./Sources
RUN swift build -c release --static-swift-stdlib --product vigil \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/vigil" /out/vigil

FROM debian:bookworm-slim
RUN useradd --system --no-create-home --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil \
    && install -d -o vigil -g vigil -m 0750 /var/lib/vigil
COPY --from=build /out/vigil /usr/local/bin/vigil
USER vigil
WORKDIR /var/lib/vigil
VOLUME /var/lib/vigil
EXPOSE 5514/udp 5514/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/vigil"]
CMD ["serve", "--data-dir", "/var/lib/vigil", "--udp", "0.0.0.0:5514", "--tcp", "0.0.0.0:5514", "--http", "off"]
