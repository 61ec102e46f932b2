#!/usr/bin/env bash
# Certificates for the vns Gatekeeper provider, with openssl: a CA, the
# server certificate for the Service's DNS names, and a client certificate
# (for curl, or for the provider's --client-ca check in tests).
#   deploy/gatekeeper/certs.sh DIR [SAN ...]
# SANs in openssl form (DNS:name, IP:addr); default: the Service names of
# vns-provider in gatekeeper-system. Writes DIR/ca.crt, ca.key, tls.crt,
# tls.key, client.crt, client.key, and prints the Provider caBundle value.
# Refuses to overwrite an existing CA (rotate by using a new DIR).
set -euo pipefail
dir=${1:?usage: certs.sh DIR [SAN ...]}
shift
service=vns-provider
namespace=gatekeeper-system
if [ "$#" -eq 0 ]; then
  set -- "DNS:$service.$namespace" "DNS:$service.$namespace.svc" "DNS:$service.$namespace.svc.cluster.local"
fi
sans=$(IFS=,; echo "$*")
mkdir -p "$dir"
if [ -e "$dir/ca.key" ]; then
  echo "certs.sh: $dir/ca.key exists; use a new directory to rotate" >&2
  exit 1
fi
days=${VNS_CERT_DAYS:-365}
# P-256 keys: small, fast handshakes, accepted by Go's TLS 1.3 client.
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ec "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -days "$days" -subj "/O=vns/CN=vns provider CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$dir/ca.crt"
issue() { # name subject extensions
  ec "$dir/$1.key"
  openssl req -new -key "$dir/$1.key" -subj "$2" -out "$dir/$1.csr"
  openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days "$days" -extfile <(printf '%s\n' "$3") -out "$dir/$1.crt" 2>/dev/null
  rm -f "$dir/$1.csr"
}
issue tls "/CN=${1#*:}" "subjectAltName=$sans
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
issue client "/CN=gatekeeper" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f "$dir/ca.srl"
chmod 600 "$dir"/*.key
echo "certs.sh: wrote $dir/{ca,tls,client}.{crt,key} (server SANs: $sans)"
echo "caBundle: $(base64 -w0 < "$dir/ca.crt")"
