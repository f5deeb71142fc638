#!/usr/bin/env bash
# Makes sure the local PostgreSQL and Redis that Kiln's embedded defaults use are running,
# starting them from their Debian packages when they are installed but stopped.
set -euo pipefail

if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  else
    echo "services: PostgreSQL is not running on 127.0.0.1:5432 and is not installed (apt-get install postgresql)" >&2
    exit 1
  fi
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if command -v redis-server >/dev/null; then
    echo "services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  else
    echo "services: Redis is not running on 127.0.0.1:6379 and is not installed (apt-get install redis-server)" >&2
    exit 1
  fi
fi
for i in $(seq 1 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then exit 0; fi
  sleep 0.2
done
echo "services: PostgreSQL or Redis did not come up" >&2
exit 1
