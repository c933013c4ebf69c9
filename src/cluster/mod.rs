//! The kube-rs edge: client from kubeconfig, watchers.
