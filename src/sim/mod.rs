//! The built-in demo cluster: a Kubernetes-compatible API server on loopback.
