"""A real Kubernetes control plane for checking plans: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler built from the pinned Kubernetes release (``controlplane/``), started on loopback ports.

``binaries`` builds and finds them, ``pki`` makes the certificates, ``harness`` starts and stops the processes,
``client`` talks to the API server, ``nodes`` adds nodes shaped like the stack's pools, ``apply`` applies a plan and
reports what the API server, admission and the scheduler made of it, ``rbac`` runs access journeys.
"""
