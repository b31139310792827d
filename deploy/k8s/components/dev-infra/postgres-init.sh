#!/bin/sh
# PostgreSQL's entrypoint runs this once, when the data volume is new: one login role and one
# database per ten99 service, each database owned by its service's role and closed to the others
# (a service never reads another service's database). All six roles get TEN99_DB_PASSWORD.
# (The entrypoint sources a script that is not executable: so no `set -u` here.)
set -e
: "${TEN99_DB_PASSWORD:?TEN99_DB_PASSWORD must be set}"
for svc in contractor enrollment policy billing notification gateway; do
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
       -v svc="$svc" -v pw="$TEN99_DB_PASSWORD" <<'SQL'
CREATE ROLE :"svc" LOGIN PASSWORD :'pw';
CREATE DATABASE :"svc" OWNER :"svc";
REVOKE ALL ON DATABASE :"svc" FROM PUBLIC;
SQL
done
