#!/bin/sh
# Makes a self-signed TLS certificate for trying the compose cluster (deploy/compose.yaml) and
# nginx.conf on one machine: tls/cert.pem and tls/key.pem, which nginx reads as
# /etc/nginx/tls/{cert,key}.pem. Browsers warn about it, and field tablets' service workers
# (the offline app) refuse it unless the tablet trusts it: for real use put a certificate from
# your CA (or ACME) under the same two names. The key is never committed (deploy/.gitignore).
#
#   deploy/tls/make-dev-cert.sh [hostname ...]     # default: localhost
set -eu
cd "$(dirname "$0")"
[ "$#" -gt 0 ] || set -- localhost
cn=$1
san="DNS:localhost,IP:127.0.0.1"
for h in "$@"; do
  case $h in
    localhost) ;;
    *[!0-9.]*) san="$san,DNS:$h" ;;
    *) san="$san,IP:$h" ;;
  esac
done
# The key is readable by its owner only (nginx's master process, root, reads it).
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -nodes -days 90 \
  -keyout key.pem -out cert.pem -subj "/CN=$cn" \
  -addext "subjectAltName=$san" -addext "extendedKeyUsage=serverAuth"
chmod 0644 cert.pem
echo "wrote $(pwd)/cert.pem and key.pem (CN=$cn, $san, 90 days)"
