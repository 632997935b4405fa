#!/usr/bin/env bash
# The Debian packages the local cluster (make cluster) and its test need: nginx, Prometheus (promtool
# comes with it) and redis-server (sentinels are `redis-server --sentinel`). Installs only what is
# missing; `apt-get update` only when the install fails, as on a machine whose package lists are old.
# The packages' own services are never started: the cluster starts its own on loopback ports.
set -euo pipefail

needed=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have nginx || needed+=(nginx)
{ have prometheus && have promtool; } || needed+=(prometheus)
have redis-server || needed+=(redis-server)
[ ${#needed[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "cluster-packages: ${needed[*]} missing; install them as root: apt-get install -y ${needed[*]}" >&2
  exit 1
fi

# invoke-rc.d asks policy-rc.d whether a package may start its service; 101 means no.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi

echo "cluster-packages: installing ${needed[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -q --no-install-recommends "${needed[@]}" >/dev/null; }
install || { apt-get update -q >/dev/null && install; }
