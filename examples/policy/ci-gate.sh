#!/usr/bin/env bash
# The guide's CI gate as a pipeline step: before anything reaches the cluster, the
# manifests must stay within their namespace's quota, leak no secret, and run no
# image whose scan found a vulnerability above CVSS 7.0.
#
# In a pipeline the step is one command (the scan comes from the build before it:
# `trivy image -f json -o web.trivy.json registry.example.com/shop/web:2.4.1`):
#
#   kubeops policy test -f k8s/ --policies policy/ --scan web.trivy.json -o junit --out policy.xml
#
# exit 0: the gate passes; 2: a policy denied something (the release stops);
# 1: the gate could not run (a manifest or a policy that cannot be read).
#
# This script runs the gate twice: on the release as first written (it fails:
# a quota exceeded, a database password in a ConfigMap, an image with CVSS 8.1),
# then with the fixes in fix/ (it passes).  It exits 0 when both did what they should.
set -u
cd "$(dirname "$0")"
KUBEOPS=${KUBEOPS:-kubeops}
REPORTS=${REPORTS:-$(mktemp -d)}

gate() {  # gate NAME MANIFESTS... -- SCANS...
    local name=$1; shift
    local args=()
    while [ "$1" != "--" ]; do args+=(-f "$1"); shift; done
    shift
    for scan in "$@"; do args+=(--scan "$scan"); done
    echo "== $name: kubeops policy test ${args[*]} --policies policy/ -o junit --out $name.xml"
    "$KUBEOPS" policy test "${args[@]}" --policies policy/ -o junit --out "$REPORTS/$name.xml"
    local code=$?
    echo "== $name: exit $code"
    return $code
}

gate release k8s/ -- scans/web-2.4.1.trivy.json scans/worker-1.8.0.trivy.json
before=$?
echo
gate fixed k8s/namespace.yaml fix/ -- scans/web-2.4.2.trivy.json scans/worker-1.8.0.trivy.json
after=$?
echo
if [ "$before" -eq 2 ] && [ "$after" -eq 0 ]; then
    echo "the gate stopped the release (exit 2) and passed the fixed one (exit 0)"
    exit 0
fi
echo "unexpected: the release gave exit $before (want 2), the fixed one exit $after (want 0)" >&2
exit 1
