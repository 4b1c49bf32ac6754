#!/usr/bin/env bash
# Two "hosts" on one machine: network namespaces joined only by a veth pair (no route out of either), as the
# two-host job test uses them (tests/jobs/test_two_hosts.py), as shared/recipes/scaleout.md section 4 proved.
#
#   bash scripts/netns.sh up [TAG]       make sr-head[-TAG] (10.231.0.1/24) and sr-node2[-TAG] (10.231.0.2/24);
#                                        prints `export ...` lines naming them; running it twice is harmless
#   bash scripts/netns.sh down [TAG]     remove both (the veth pair goes with them); harmless when they are gone
#   bash scripts/netns.sh status [TAG]   say whether they exist and whether each reaches the other
#
# TAG (letters, digits, at most 8) keeps parallel runs apart: each gets namespaces and veth names of its own.
# The addresses may repeat across tags, since each pair of namespaces is a network of its own.
# Needs root and iproute2 (`ip netns`). Run something inside with: ip netns exec sr-node2[-TAG] COMMAND...
set -euo pipefail

HEAD_ADDRESS=10.231.0.1
NODE_ADDRESS=10.231.0.2

say() { echo "netns.sh: $*" >&2; }
die() {
    say "$*"
    exit 1
}

names() {
    local tag=${1:-}
    if [ -n "$tag" ]; then
        [[ $tag =~ ^[A-Za-z0-9]{1,8}$ ]] || die "TAG must be 1-8 letters or digits, not '$tag'."
        HEAD_NS=sr-head-$tag
        NODE_NS=sr-node2-$tag
        # Interface names are limited to 15 characters.
        HEAD_IF=srh-$tag
        NODE_IF=srn-$tag
    else
        HEAD_NS=sr-head
        NODE_NS=sr-node2
        HEAD_IF=sr-veth-h
        NODE_IF=sr-veth-n
    fi
}

check_tools() {
    [ "$(id -u)" = 0 ] || die "network namespaces need root (ip netns add); run as root."
    command -v ip >/dev/null 2>&1 || die "the ip command (iproute2) is missing. Install it with: apt-get install -y iproute2"
    ip netns list >/dev/null 2>&1 || die "ip netns does not work here (no network namespace support?)."
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

exports() {
    echo "export STRONGROOM_NETNS_HEAD=$HEAD_NS"
    echo "export STRONGROOM_NETNS_NODE=$NODE_NS"
    echo "export STRONGROOM_NETNS_HEAD_ADDRESS=$HEAD_ADDRESS"
    echo "export STRONGROOM_NETNS_NODE_ADDRESS=$NODE_ADDRESS"
}

# True when the head's end of the veth pair is up and carries its address (the last step of `up`).
configured() {
    ns_exists "$HEAD_NS" && ns_exists "$NODE_NS" &&
        ip -n "$HEAD_NS" -o addr show dev "$HEAD_IF" 2>/dev/null | grep -q "inet $HEAD_ADDRESS/" &&
        ip -n "$NODE_NS" -o addr show dev "$NODE_IF" 2>/dev/null | grep -q "inet $NODE_ADDRESS/"
}

down() {
    local ns
    for ns in "$HEAD_NS" "$NODE_NS"; do
        if ns_exists "$ns"; then
            ip netns del "$ns"
            say "removed namespace $ns"
        fi
    done
    # A veth end still in the root namespace (an `up` cut off halfway) takes its peer with it.
    if ip link show "$HEAD_IF" >/dev/null 2>&1; then ip link del "$HEAD_IF"; fi
    if ip link show "$NODE_IF" >/dev/null 2>&1; then ip link del "$NODE_IF"; fi
}

up() {
    if configured; then
        say "$HEAD_NS and $NODE_NS are already up"
        exports
        return 0
    fi
    down # a half-made pair from an interrupted run: start clean
    trap 'down; die "setting up $HEAD_NS and $NODE_NS failed (see above); nothing is left behind."' ERR
    ip netns add "$HEAD_NS"
    ip netns add "$NODE_NS"
    ip link add "$HEAD_IF" type veth peer name "$NODE_IF"
    ip link set "$HEAD_IF" netns "$HEAD_NS"
    ip link set "$NODE_IF" netns "$NODE_NS"
    ip -n "$HEAD_NS" link set lo up
    ip -n "$NODE_NS" link set lo up
    ip -n "$HEAD_NS" addr add "$HEAD_ADDRESS/24" dev "$HEAD_IF"
    ip -n "$NODE_NS" addr add "$NODE_ADDRESS/24" dev "$NODE_IF"
    ip -n "$HEAD_NS" link set "$HEAD_IF" up
    ip -n "$NODE_NS" link set "$NODE_IF" up
    trap - ERR
    say "made $HEAD_NS ($HEAD_ADDRESS) and $NODE_NS ($NODE_ADDRESS), joined by $HEAD_IF/$NODE_IF"
    exports
}

status() {
    if ! configured; then
        echo "$HEAD_NS / $NODE_NS: not set up"
        return 0
    fi
    # No ping on every machine: a TCP connection to a closed port answered by "refused" proves the path works.
    local answer
    answer=$(ip netns exec "$NODE_NS" timeout 3 bash -c "echo >/dev/tcp/$HEAD_ADDRESS/9" 2>&1 || true)
    if [ -z "$answer" ] || [[ $answer == *refused* ]]; then
        echo "$HEAD_NS ($HEAD_ADDRESS) and $NODE_NS ($NODE_ADDRESS): up, $NODE_NS reaches $HEAD_NS"
    else
        echo "$HEAD_NS ($HEAD_ADDRESS) and $NODE_NS ($NODE_ADDRESS): up, but $NODE_NS does not reach $HEAD_ADDRESS: $answer"
        return 1
    fi
}

main() {
    [ $# -ge 1 ] && [ $# -le 2 ] || {
        echo "Usage: bash scripts/netns.sh up|down|status [TAG]" >&2
        exit 2
    }
    local action=$1
    names "${2:-}"
    check_tools
    case $action in
        up) up ;;
        down) down ;;
        status) status ;;
        *) die "unknown action '$action'; use up, down or status" ;;
    esac
}

main "$@"
