# Sourced by .ci/run: install and start PostgreSQL on 127.0.0.1 and export
# PITOT_TEST_POSTGRES_URL for the search tests. Idempotent.
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^${version} main .* online"; then
  pg_ctlcluster "$version" main start || { pg_createcluster "$version" main && pg_ctlcluster "$version" main start; }
fi
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='pitot'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE pitot LOGIN PASSWORD 'pitot' CREATEDB\""
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='pitot'\"" | grep -q 1 \
  || su postgres -c "createdb -O pitot pitot"
export PITOT_TEST_POSTGRES_URL="postgresql://pitot:pitot@127.0.0.1:5432/pitot"
