#!/bin/sh
# Dump CEI's database (CEI_DATABASE_URL, from /etc/cei/cei.env) into DIRECTORY and delete
# the dumps there older than DAYS. Used by cei-backup.service; by hand:
#   sudo -u cei sh -c 'set -a && . /etc/cei/cei.env && /opt/cei/docs/deploy/cei-backup.sh /var/backups/cei 14'
set -eu
umask 077  # the dump holds every reading, user and token hash
directory=${1:-/var/backups/cei}
days=${2:-14}
: "${CEI_DATABASE_URL:?CEI_DATABASE_URL is not set}"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$directory/cei-$stamp.dump"
# Write under a temporary name: a dump cut short never looks like a finished one.
pg_dump --format=custom --file="$target.partial" "$CEI_DATABASE_URL"
mv "$target.partial" "$target"
find "$directory" -name 'cei-*.dump' -mtime "+$days" -delete
echo "wrote $target ($(wc -c < "$target") bytes)"
