#!/bin/sh
# CPU hog for cluster_test (run with scripts/cluster run --on 2:hog.sh): waits until somebody
# connects to TCP port 7200, then keeps one CPU busy for 10 seconds.
# The hog must stay on this node: no automatic migration from here.
mosctl stay
nc -l -p 7200 < /dev/null > /dev/null
end=$(($(date +%s) + 10))
while [ "$(date +%s)" -lt "$end" ]; do
	i=0
	while [ $i -lt 2000 ]; do i=$((i + 1)); done
done
