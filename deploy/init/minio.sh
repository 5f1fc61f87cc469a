#!/bin/sh
# One-shot, idempotent MinIO setup for the lakehouse (docker compose's `minio-init`
# service and the native service manager both run this file, so the two stacks get
# the same bucket, notification, users and policies).
#
#   1. bucket LAKEHOUSE_BUCKET (default `lakehouse`);
#   2. the `put` notification for raw/ to the Kafka target LAKEHOUSE_NOTIFY_ARN
#      (the target itself, with its on-disk queue, is MinIO server configuration:
#      MINIO_NOTIFY_KAFKA_*_<ID> in its environment); the script says whether the
#      target has a queue_dir (LAKEHOUSE_EVENT_DELIVERY=queued, the default) or
#      not (direct) and warns when that is not what LAKEHOUSE_EVENT_DELIVERY asks;
#   3. a least-privilege user for the listener and one for Nessie's warehouse,
#      each with a policy of the same name (docs/deploy.md explains every grant).
#
# Credentials never appear on a command line (`ps` shows those): the admin's come
# from MC_HOST_<alias> in the environment, the users' secrets are written to mc's
# stdin by the shell's builtin printf, and mc's output (it echoes the secret) is
# discarded.
set -eu

MC=${MC:-mc}
ALIAS=${MC_ALIAS:-local}
BUCKET=${LAKEHOUSE_BUCKET:-lakehouse}
RAW=${LAKEHOUSE_RAW_PREFIX:-raw/}
QUARANTINE=${LAKEHOUSE_QUARANTINE_PREFIX:-quarantine/}
# The Iceberg warehouse may live in another bucket (Nessie's warehouse location).
WAREHOUSE_BUCKET=${LAKEHOUSE_WAREHOUSE_BUCKET:-$BUCKET}
WAREHOUSE=${LAKEHOUSE_WAREHOUSE_PREFIX:-warehouse/}
ARN=${LAKEHOUSE_NOTIFY_ARN:-arn:minio:sqs::LAKEHOUSE:kafka}
LISTENER_USER=${LAKEHOUSE_LISTENER_ACCESS_KEY:-lakehouse-listener}
NESSIE_USER=${LAKEHOUSE_NESSIE_S3_ACCESS_KEY:-lakehouse-nessie}
: "${LAKEHOUSE_LISTENER_SECRET_KEY:?set LAKEHOUSE_LISTENER_SECRET_KEY (8+ characters)}"
: "${LAKEHOUSE_NESSIE_S3_SECRET_KEY:?set LAKEHOUSE_NESSIE_S3_SECRET_KEY (8+ characters)}"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

say() { printf 'minio-init: %s\n' "$*"; }

ensure_bucket() {
    "$MC" mb --ignore-existing "$ALIAS/$BUCKET" >/dev/null
    say "bucket $BUCKET ready"
}

ensure_notification() {
    # `event ls` prints the ARN with the server's region filled in (and filters by
    # the exact string, so it is not given the ARN).
    target=${ARN#arn:minio:sqs:*:}
    rules=$("$MC" event ls "$ALIAS/$BUCKET")
    case "$rules" in
        *"arn:minio:sqs:"*":$target"*"prefix=\"$RAW\""*) say "notification $ARN for $RAW already set" ;;
        *)
            "$MC" event add "$ALIAS/$BUCKET" "$ARN" --event put --prefix "$RAW" >/dev/null
            say "notification $ARN for $RAW added" ;;
    esac
}

check_delivery() {
    id=${ARN#arn:minio:sqs:*:}
    id=${id%%:*}
    want=${LAKEHOUSE_EVENT_DELIVERY:-queued}
    config=$("$MC" admin config get "$ALIAS" "notify_kafka:$id" 2>/dev/null || true)
    case "$config" in
        *"QUEUE_DIR_$id=/"*|*"queue_dir=/"*) have=queued ;;
        *) have=direct ;;
    esac
    if [ "$have" = "$want" ]; then
        say "event delivery $have"
    else
        say "warning: Kafka target $id delivers $have but LAKEHOUSE_EVENT_DELIVERY=$want (the MinIO server decides: MINIO_NOTIFY_KAFKA_QUEUE_DIR_$id set for queued, unset for direct)"
    fi
}

# The listener: reads and lists raw/ (events, reconcile), writes quarantine/ (a
# server-side copy plus <key>.error.json; it never reads them back), and reads,
# writes and deletes objects under warehouse/ (pyiceberg writes the Iceberg data
# and manifest files itself with these keys, reads manifests for its ledger check,
# and deletes the data files of a commit that lost a conflict). It never lists
# warehouse/ (measured: loads and reconcile work without it).
listener_policy() {
    cat <<JSON
{"Version": "2012-10-17", "Statement": [
  {"Sid": "ListLanding", "Effect": "Allow", "Action": ["s3:ListBucket"],
   "Resource": ["arn:aws:s3:::$BUCKET"],
   "Condition": {"StringLike": {"s3:prefix": ["$RAW*"]}}},
  {"Sid": "ReadLanding", "Effect": "Allow", "Action": ["s3:GetObject"],
   "Resource": ["arn:aws:s3:::$BUCKET/$RAW*"]},
  {"Sid": "WriteQuarantine", "Effect": "Allow", "Action": ["s3:PutObject"],
   "Resource": ["arn:aws:s3:::$BUCKET/$QUARANTINE*"]},
  {"Sid": "IcebergFiles", "Effect": "Allow",
   "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
   "Resource": ["arn:aws:s3:::$WAREHOUSE_BUCKET/$WAREHOUSE*"]}
]}
JSON
}

# Nessie (and Dremio's Nessie source): the Iceberg warehouse and nothing else.
nessie_policy() {
    cat <<JSON
{"Version": "2012-10-17", "Statement": [
  {"Sid": "ListWarehouse", "Effect": "Allow", "Action": ["s3:ListBucket"],
   "Resource": ["arn:aws:s3:::$WAREHOUSE_BUCKET"],
   "Condition": {"StringLike": {"s3:prefix": ["$WAREHOUSE*"]}}},
  {"Sid": "IcebergFiles", "Effect": "Allow",
   "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
   "Resource": ["arn:aws:s3:::$WAREHOUSE_BUCKET/$WAREHOUSE*"]}
]}
JSON
}

# ensure_user NAME SECRET POLICY_FUNCTION: the user exists with this secret and
# policy NAME (same name as the user) is attached; re-running changes nothing
# unless the secret or the policy text changed (then it updates them).
ensure_user() {
    name=$1 secret=$2 policy=$3
    "$policy" >"$WORK/$name.json"
    "$MC" admin policy create "$ALIAS" "$name" "$WORK/$name.json" >/dev/null
    printf '%s\n' "$secret" | "$MC" admin user add "$ALIAS" "$name" >/dev/null
    info=$("$MC" admin user info "$ALIAS" "$name" --json)
    attached=""
    case "$info" in
        *'"policyName"'*) attached=${info#*\"policyName\"}; attached=${attached#*\"}; attached=${attached%%\"*} ;;
    esac
    case ",$attached," in
        *",$name,"*) say "user $name has policy $name" ;;
        *)
            "$MC" admin policy attach "$ALIAS" "$name" --user "$name" >/dev/null
            say "user $name: policy $name attached" ;;
    esac
}

ensure_bucket
ensure_notification
check_delivery
ensure_user "$LISTENER_USER" "$LAKEHOUSE_LISTENER_SECRET_KEY" listener_policy
ensure_user "$NESSIE_USER" "$LAKEHOUSE_NESSIE_S3_SECRET_KEY" nessie_policy
say "done"
