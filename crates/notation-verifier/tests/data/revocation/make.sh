#!/usr/bin/env bash
# Regenerates the revocation fixtures with openssl: a root CA that issues
# code-signing leaves naming an OCSP responder and a CRL distribution point,
# CRLs (fresh for 30 days, one signed by an impostor with the same name)
# and OCSP responses (good, revoked, unknown). Tests pass explicit times
# relative to the fixtures' own thisUpdate, so the files never go stale.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf work && mkdir work && cd work
touch index.txt && echo 1000 > serial && echo 1000 > crlnumber
cat > ca.cnf <<'CNF'
[ca]
default_ca = ca_default
[ca_default]
dir = .
database = index.txt
serial = serial
crlnumber = crlnumber
new_certs_dir = .
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
countryName = optional
stateOrProvinceName = optional
organizationName = optional
[root]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
authorityInfoAccess = OCSP;URI:http://127.0.0.1:1/ocsp
crlDistributionPoints = URI:http://127.0.0.1:1/root.crl
CNF
subj() { echo "/C=US/ST=WA/O=Revocation Test/CN=$1"; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 36500 \
  -subj "$(subj 'Revocation Root')" -config ca.cnf -extensions root 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout impostor.key -out impostor.pem -days 36500 \
  -subj "$(subj 'Revocation Root')" -config ca.cnf -extensions root 2>/dev/null
for name in good revoked unknown; do
  openssl req -new -newkey rsa:2048 -nodes -keyout $name.key -out $name.csr -subj "$(subj "leaf $name")" 2>/dev/null
done
for name in good revoked; do
  openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -extensions leaf -days 36500 \
    -in $name.csr -out $name.pem -notext 2>/dev/null
done
# "unknown" is signed by the root but not recorded in the CA database.
openssl x509 -req -in unknown.csr -CA root.pem -CAkey root.key -set_serial 0x7777 -days 36500 \
  -extfile ca.cnf -extensions leaf -out unknown.pem 2>/dev/null
openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -revoke revoked.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -gencrl -crldays 30 -out root.crl.pem 2>/dev/null
openssl crl -in root.crl.pem -outform der -out ../root.crl
# Same issuer name, another key: must not be believed.
mkdir -p imp && cp ca.cnf imp/ && (cd imp && touch index.txt && echo 1000 > crlnumber && \
  openssl ca -batch -config ca.cnf -cert ../impostor.pem -keyfile ../impostor.key -gencrl -crldays 30 -out crl.pem 2>/dev/null && \
  openssl crl -in crl.pem -outform der -out ../../impostor.crl)
for name in good revoked unknown; do
  openssl ocsp -issuer root.pem -cert $name.pem -no_nonce -reqout $name.req 2>/dev/null
  openssl ocsp -index index.txt -rsigner root.pem -rkey root.key -CA root.pem -reqin $name.req \
    -ndays 30 -respout ../ocsp-$name.der 2>/dev/null
done
for f in root good revoked unknown impostor; do cp $f.pem ../$f.pem; done
cd .. && rm -rf work
echo "fixtures written"
