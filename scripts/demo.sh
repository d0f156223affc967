#!/usr/bin/env bash
# make demo: boot a 3-node cluster and show, from node 1, every node's id, address and module
# version (asked over the cluster network from that node's test agent) and what node 1's load
# vector says about it (gossiped by the module).
. "$(dirname "$0")/lib.sh"
NODES=${OXMOSIX_DEMO_NODES:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/demo.sh" <<'EOS'
# Node K's /proc/hpc/PATH, fetched from its test agent (HTTP on port 8000).
remote() {
	printf 'GET /cgi-bin/hpc?%s HTTP/1.0\r\n\r\n' "$2" | nc "$OXNET.$1" 8000 | sed '1,/^\r*$/d' | head -1
}
sleep 2
echo "oxmosix cluster: $OXNODES nodes on $OXNET.0/24, seen from node $OXNODE ($(mosctl version))"
printf '%-5s %-12s %-8s %-22s %5s %6s %5s %10s\n' node address version "status (node 1's view)" load speed util "avail MiB"
for k in $(seq 1 "$OXNODES"); do
	v=$(remote "$k" admin/version)
	[ -n "$v" ] || { echo "node $k did not answer"; exit 1; }
	printf '%-5s %-12s %-8s %-22s %5s %6s %4s%% %10s\n' "$k" "$OXNET.$k" "$v" \
		"$(cat /proc/hpc/nodes/$k/status)" "$(cat /proc/hpc/nodes/$k/load)" \
		"$(cat /proc/hpc/nodes/$k/speed)" "$(cat /proc/hpc/nodes/$k/util)" \
		"$(($(cat /proc/hpc/nodes/$k/mem) / 1024))"
done
echo
mosctl getmap | sed 's/^/cluster map: /'
EOS
"$TOP/scripts/cluster" run --nodes "$NODES" --timeout 300 "$tmp/demo.sh"
