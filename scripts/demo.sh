#!/usr/bin/env bash
# make demo: boot a 3-node cluster and show, from node 1, each node's id, address and module
# version as that node reports it over the cluster network.
. "$(dirname "$0")/lib.sh"
NODES=${OXMOSIX_DEMO_NODES:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Every node but 1 sends one line about itself to node 1 (TCP port 7000), retrying until node 1 listens.
cat > "$tmp/report.sh" <<'EOS'
line="node $OXNODE  address $OXNET.$OXNODE  oxmosix $(cat /proc/hpc/admin/version)  ($(mosctl version))"
for i in $(seq 1 100); do
	echo "$line" | nc "$OXNET.1" 7000 2>/dev/null && exit 0
	sleep 0.2
done
exit 1
EOS
cat > "$tmp/demo.sh" <<'EOS'
echo "oxmosix cluster: $OXNODES nodes on $OXNET.0/24"
echo "node $OXNODE  address $OXNET.$OXNODE  oxmosix $(cat /proc/hpc/admin/version)  ($(mosctl version))"
for i in $(seq 2 "$OXNODES"); do
	timeout 60 nc -l -p 7000 || { echo "a node did not report"; exit 1; }
done | sort -n -k2
EOS
on=()
for k in $(seq 2 "$NODES"); do on+=(--on "$k:$tmp/report.sh"); done
"$TOP/scripts/cluster" run --nodes "$NODES" --timeout 300 "${on[@]}" "$tmp/demo.sh"
