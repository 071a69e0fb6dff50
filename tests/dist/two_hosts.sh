#!/usr/bin/env bash
# Two "hosts" on one machine: two network namespaces joined by a veth pair (10.77.0.1/24 and
# 10.77.0.2/24, addresses that exist only inside them), Open MPI over TCP between them, and a
# launch agent that enters the namespace instead of ssh. Runs PROGRAM ARGS... with one rank
# per namespace and propagates its exit code. Exits 77 (ctest: skipped) and says why when
# not root or when `ip netns` does not work here. The namespaces and the veth pair are
# removed on every exit path.
#   two_hosts.sh [--expect-failure REGEX] MPIEXEC PROGRAM [ARGS...]
set -uo pipefail
expect=
if [ "${1:-}" = --expect-failure ]; then
  expect=$2
  shift 2
fi
mpiexec=$1
shift
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"

tag=$$
ns_a=rnnlab_a_$tag ns_b=rnnlab_b_$tag
veth_a=rla$tag veth_b=rlb$tag
work=$(mktemp -d)
cleanup() {
  ip netns del "$ns_a" 2>/dev/null
  ip netns del "$ns_b" 2>/dev/null  # deleting a namespace also deletes its end of the veth
  ip link del "$veth_a" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns_a" 2>/dev/null || skip "ip netns add failed (no CAP_SYS_ADMIN or no netns support)"
ip netns add "$ns_b" || exit 1
ip link add "$veth_a" type veth peer name "$veth_b" || skip "cannot create a veth pair"
ip link set "$veth_a" netns "$ns_a" && ip link set "$veth_b" netns "$ns_b" || exit 1
ip -n "$ns_a" addr add 10.77.0.1/24 dev "$veth_a" && ip -n "$ns_b" addr add 10.77.0.2/24 dev "$veth_b" || exit 1
for ns in "$ns_a" "$ns_b"; do
  ip -n "$ns" link set lo up
done
ip -n "$ns_a" link set "$veth_a" up && ip -n "$ns_b" link set "$veth_b" up || exit 1

# The launch agent: Open MPI calls it like ssh (`agent HOST COMMAND...`) to start its daemon
# on HOST; it runs COMMAND inside HOST's namespace instead.
cat >"$work/agent" <<AGENT
#!/bin/sh
host=\$1; shift
case "\$host" in
  10.77.0.1) ns=$ns_a ;;
  10.77.0.2) ns=$ns_b ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" sh -c "\$*"
AGENT
chmod +x "$work/agent"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' >"$work/hostfile"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# mpirun itself runs in the first namespace, so 10.77.0.1 is its local host.
timeout -k 5 90 ip netns exec "$ns_a" "$mpiexec" --allow-run-as-root \
  --hostfile "$work/hostfile" -np 2 --map-by node \
  --mca plm_rsh_agent "$work/agent" \
  --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
  --mca pml ob1 \
  -x OMP_NUM_THREADS=1 -x RNNLAB_TWO_HOSTS=1 \
  "$@" >"$work/log" 2>&1
rc=$?
cat "$work/log"
echo "--- two hosts: exit $rc"
if [ -n "$expect" ]; then
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { echo "FAIL: expected the job to fail by itself, exit $rc"; exit 1; }
  grep -Eq -- "$expect" "$work/log" || { echo "FAIL: output does not match /$expect/"; exit 1; }
  echo PASS
  exit 0
fi
exit $rc
