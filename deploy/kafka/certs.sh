#!/bin/sh
# The TLS of docker-compose.yml's broker, made once (the kafka-certs job): a CA of this
# deployment, the broker's key and its certificate for the name kafka signed by it. The broker
# reads /etc/kafka/certs/broker.p12; every client trusts /etc/wom/kafka-ca/ca.crt. The CA's key
# is deleted once it has signed: nothing else can be signed with it. To renew (the certificate
# holds 825 days), remove the volumes kafka-certs and kafka-ca and start again.
# It runs as root: the volumes are created owned by root.
set -eu
keys=/etc/kafka/certs ca=/etc/wom/kafka-ca/ca.crt pass=$KAFKA_KEYSTORE_PASSWORD
if [ -s "$keys/broker.p12" ] && [ -s "$ca" ]; then
  echo "kafka-certs: the broker's certificate exists"
  exit 0
fi
work=$(mktemp -d)
keytool -genkeypair -keystore "$work/ca.p12" -storetype PKCS12 -storepass "$pass" -alias ca \
  -dname "CN=wom compose CA" -keyalg RSA -keysize 3072 -validity 825 \
  -ext bc:c=ca:true,pathlen:0 -ext ku:c=keyCertSign,cRLSign
keytool -exportcert -keystore "$work/ca.p12" -storepass "$pass" -alias ca -rfc -file "$work/ca.crt"
keytool -genkeypair -keystore "$work/broker.p12" -storetype PKCS12 -storepass "$pass" -alias broker \
  -dname "CN=kafka" -keyalg RSA -keysize 3072 -validity 825
keytool -certreq -keystore "$work/broker.p12" -storepass "$pass" -alias broker -file "$work/broker.csr"
keytool -gencert -keystore "$work/ca.p12" -storepass "$pass" -alias ca -rfc -validity 825 \
  -infile "$work/broker.csr" -outfile "$work/broker.crt" \
  -ext SAN=dns:kafka -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth
keytool -importcert -keystore "$work/broker.p12" -storepass "$pass" -alias ca -file "$work/ca.crt" -noprompt
keytool -importcert -keystore "$work/broker.p12" -storepass "$pass" -alias broker -file "$work/broker.crt"
install -o appuser -g appuser -m 600 "$work/broker.p12" "$keys/broker.p12"  # the broker runs as appuser
install -m 644 "$work/ca.crt" "$ca"
rm -rf "$work"
echo "kafka-certs: a CA and the broker's certificate for kafka made"
