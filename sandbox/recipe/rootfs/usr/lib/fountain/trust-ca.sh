#!/bin/sh
# Adds the Fountain sandbox CA to the system trust store at first boot,
# exactly as update-ca-certificates would for one new local certificate
# (the link in /etc/ssl/certs, its OpenSSL hash link, the certificate at the
# end of ca-certificates.crt), in milliseconds instead of seconds: hosts
# boot in parallel on small machines. Later runs of update-ca-certificates
# keep it, since the certificate is in /usr/local/share/ca-certificates.
set -eu
c=/usr/local/share/ca-certificates/fountain-sandbox.crt
command -v openssl >/dev/null || exec update-ca-certificates
cd /etc/ssl/certs
ln -sfn "$c" fountain-sandbox.pem
h=$(openssl x509 -hash -noout -in "$c")
n=0
while [ -e "$h.$n" ] && [ "$(readlink "$h.$n")" != fountain-sandbox.pem ]; do n=$((n + 1)); done
ln -sfn fountain-sandbox.pem "$h.$n"
if ! grep -qxF "$(sed -n 2p "$c")" ca-certificates.crt; then
	cat "$c" >>ca-certificates.crt
fi
