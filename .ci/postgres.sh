# Sourced by .ci/run: install and start PostgreSQL (Debian's package) on 127.0.0.1 and export
# PITOT_TEST_POSTGRES_URL for the multi-worker search and sweep tests. Idempotent.
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGVER=$(ls /usr/lib/postgresql | sort -n | tail -1)
pg_lsclusters -h | grep -q "^$PGVER  *main " || pg_createcluster "$PGVER" main >/dev/null
pg_ctlcluster "$PGVER" main status >/dev/null 2>&1 || pg_ctlcluster "$PGVER" main start
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='pitot'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE pitot LOGIN PASSWORD 'pitot'\""
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='pitot'\"" | grep -q 1 \
  || su postgres -c "createdb -O pitot pitot"
export PITOT_TEST_POSTGRES_URL=postgresql://pitot:pitot@127.0.0.1:5432/pitot
