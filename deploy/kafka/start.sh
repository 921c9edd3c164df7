#!/bin/bash
# The broker of docker-compose.yml: deploy/kafka/server.properties with the keystore's password,
# its log formatted once with the SCRAM-SHA-512 credential of every principal (KIP-900), then the
# broker in the foreground. A password set in .env after the first start does not change the
# stored credential: rotate with kafka-configs.sh (deploy/README.md, Kafka credentials).
set -euo pipefail
kafka=${WOM_KAFKA_HOME:-/opt/kafka} config=${TMPDIR:-/tmp}/server.properties
cp "$(dirname "$0")/server.properties" "$config"
printf 'ssl.keystore.password=%s\n' "$KAFKA_KEYSTORE_PASSWORD" >>"$config"

credentials=()
for pair in $KAFKA_SCRAM_USERS; do  # <principal>=<variable holding its password>
  name=${pair%%=*} variable=${pair#*=}
  password=${!variable:?$variable is unset}
  if [[ ! $password =~ ^[A-Za-z0-9._~-]+$ ]]; then
    echo "$variable: letters, digits and ._~- only (openssl rand -hex 32)" >&2
    exit 2
  fi
  credentials+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$password]")
done
"$kafka/bin/kafka-storage.sh" format --config "$config" --cluster-id "$CLUSTER_ID" --ignore-formatted \
  "${credentials[@]}"
exec "$kafka/bin/kafka-server-start.sh" "$config"
