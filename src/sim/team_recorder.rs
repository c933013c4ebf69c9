//! The demo's team recorder: the Service `palisade/palisade-recorder` (port 443, named
//! `https`, to the recorder's 8443), as docs/history.md's Deployment example creates it. The
//! recorder itself runs in the demo's process (`commands/demo.rs`) and registers its address as
//! the Service's backend; until then (or with `--no-recorder`) the proxy answers 503 as a real
//! Service without endpoints does. The demo holds no `palisade` Namespace object, so the
//! console's tenants do not change.

use serde_json::{Value, json};

pub const NAMESPACE: &str = "palisade";
pub const NAME: &str = "palisade-recorder";
pub const PORT: u16 = 443;

pub fn service() -> Value {
    json!({
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "palisade"},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": NAME},
            "ports": [{
                "name": crate::team::PORT_NAME,
                "protocol": "TCP",
                "port": PORT,
                "targetPort": crate::team::POD_PORT,
            }],
        },
    })
}
