# The GoReleaser convention: a static binary copied into an empty image. Nothing is pulled from a
# registry: `make image` builds bin/image/sqldr (CGO_ENABLED=0, time/tzdata compiled in) and copies the
# build host's CA bundle beside it, then runs `docker build bin/image -f Dockerfile`.
# One image runs the daemon (`sqldr run`), observers (`sqldr observe`) and lab instances (`sqldr lab`).
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY sqldr /usr/local/bin/sqldr
# A numeric non-root user: scratch has no /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/sqldr"]
CMD ["--help"]
