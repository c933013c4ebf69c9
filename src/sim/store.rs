//! The in-memory object store: objects, the resource-version counter and the event log.
//!
//! Pure data structure without HTTP; the server wraps it in a mutex and keeps
//! critical sections to a single call.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::continue_token::{decode_continue, encode_continue};
use super::meta::{self, Placement, str_at};
use super::patch::{self, PatchKind};
use super::resource::Resource;
use super::selector::{FieldSelector, LabelSelector};
use super::status::{ApiError, ApiResult};

/// Objects are keyed by (resource, namespace, name); cluster-scoped ones use "" as namespace.
/// BTreeMap order gives the stable namespace/name order that pagination relies on.
type Key = (Resource, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One change, as retained in the event log and broadcast to watchers.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub resource: Resource,
    pub kind: EventKind,
    pub object: Value,
    /// The object before a modification, so filtered watches can tell entry/exit apart.
    pub old: Option<Value>,
}

/// Per-request write settings.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: String,
    /// Recorded in managedFields: `Update`, or `Apply` for server-side apply.
    pub operation: &'static str,
    /// `fieldValidation=Strict`: undeclared fields of a custom resource are refused (400)
    /// instead of dropped.
    pub strict_fields: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            dry_run: false,
            field_manager: "unknown".into(),
            operation: "Update",
            strict_fields: false,
        }
    }
}

/// DeleteOptions preconditions.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    pub resource_version: Option<String>,
    pub uid: Option<String>,
}

/// What a list request asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery<'a> {
    pub namespace: Option<&'a str>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<&'a str>,
}

/// The starting point of a watch: events to send first, then live events from `rx`.
pub struct WatchStart {
    pub initial: Vec<Arc<Event>>,
    pub rx: broadcast::Receiver<Arc<Event>>,
    /// Resource version the stream is current with after `initial`.
    pub rv: u64,
    /// The watch asked for a resourceVersion the store has not reached: like a real API server,
    /// the stream stays open and silent.
    pub future: bool,
}

pub struct Store {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    events: VecDeque<Arc<Event>>,
    window: usize,
    /// Highest resource version that has fallen out of the event window.
    compacted: u64,
    tx: broadcast::Sender<Arc<Event>>,
    placement: Placement,
    uids: u64,
}

impl Store {
    pub fn new(nodes: Vec<String>, event_window: usize) -> Store {
        let (tx, _) = broadcast::channel(4096);
        Store {
            objects: BTreeMap::new(),
            rv: 0,
            events: VecDeque::new(),
            window: event_window.max(1),
            compacted: 0,
            tx,
            placement: Placement::new(nodes),
            uids: 0,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    #[cfg(test)]
    pub fn count(&self, resource: Resource) -> usize {
        self.objects.keys().filter(|k| k.0 == resource).count()
    }

    fn key(resource: Resource, namespace: &str, name: &str) -> Key {
        let ns = if resource.namespaced() { namespace } else { "" };
        (resource, ns.to_string(), name.to_string())
    }

    pub fn get(&self, resource: Resource, namespace: &str, name: &str) -> ApiResult<Value> {
        self.objects
            .get(&Store::key(resource, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(resource, name))
    }

    pub fn list(&self, resource: Resource, query: &ListQuery) -> ApiResult<Value> {
        let (list_rv, after) = match query.continue_token {
            Some(token) if !token.is_empty() => {
                let (rv, ns, name) = decode_continue(token)?;
                if rv < self.compacted {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    ));
                }
                (rv, Some((ns, name)))
            }
            _ => (self.rv, None),
        };
        // Only this kind's keys (this namespace's, when asked), from where the continue token
        // left off: a page no longer filters the whole store (a paged list of 100k pods was
        // quadratic); the rest is only counted, for remainingItemCount.
        let namespace = query.namespace.filter(|_| resource.namespaced());
        let floor = (resource, namespace.unwrap_or("").to_string(), String::new());
        let start = match after {
            Some((ns, name)) if (resource, &ns, &name) >= (floor.0, &floor.1, &floor.2) => {
                Bound::Excluded((resource, ns, name))
            }
            _ => Bound::Included(floor),
        };
        let mut matching = self
            .objects
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| k.0 == resource && namespace.is_none_or(|ns| k.1 == ns))
            .filter(|(_, v)| query.labels.matches(v) && query.fields.matches(v));
        let limit = query.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut last: Option<&Key> = None;
        let page: Vec<Value> = matching
            .by_ref()
            .take(limit)
            .map(|(k, v)| {
                last = Some(k);
                v.clone()
            })
            .collect();
        let remaining = matching.count();
        let mut metadata = json!({"resourceVersion": list_rv.to_string()});
        if remaining > 0
            && let Some(last) = last
        {
            metadata["continue"] = json!(encode_continue(list_rv, &last.1, &last.2));
            metadata["remainingItemCount"] = json!(remaining);
        }
        Ok(json!({
            "kind": resource.list_kind(),
            "apiVersion": resource.api_version(),
            "metadata": metadata,
            "items": page,
        }))
    }

    /// Creates an object in `namespace` without a Namespace object for it: the team recorder's
    /// Service in `palisade` (a Namespace would be a tenant-less namespace on every demo
    /// screen). The stand-in Namespace exists only during the create; no event names it.
    pub fn create_in_hidden_namespace(
        &mut self,
        resource: Resource,
        namespace: &str,
        object: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        let stand_in = Store::key(Resource::Namespaces, "", namespace);
        let existed = self.objects.contains_key(&stand_in);
        if !existed {
            self.objects
                .insert(stand_in.clone(), json!({"metadata": {"name": namespace}}));
        }
        let created = self.create(resource, namespace, object, opts);
        if !existed {
            self.objects.remove(&stand_in);
        }
        created
    }

    pub fn create(
        &mut self,
        resource: Resource,
        namespace: &str,
        mut object: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        meta::check_type(&mut object, resource)?;
        let meta = meta::metadata_mut(&mut object)?;
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() {
            let prefix = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    resource,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
            name = format!("{prefix}{}", name_suffix(self.uids + 1));
        }
        meta.insert("name".into(), json!(name));
        if resource.namespaced() {
            let body_ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
            if !body_ns.is_empty() && body_ns != namespace {
                return Err(ApiError::bad_request(format!(
                    "the namespace of the provided object ({body_ns}) does not match the namespace sent on the request ({namespace})"
                )));
            }
            meta.insert("namespace".into(), json!(namespace));
        } else {
            meta.remove("namespace");
        }
        meta::validate_name(resource, &name)?;
        if resource.namespaced()
            && !self
                .objects
                .contains_key(&Store::key(Resource::Namespaces, "", namespace))
        {
            return Err(ApiError::not_found(Resource::Namespaces, namespace));
        }
        let key = Store::key(resource, namespace, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(resource, &name));
        }
        let uid = self.uids + 1;
        meta.insert(
            "uid".into(),
            json!(format!("5e1a0000-0000-4000-8000-{uid:012x}")),
        );
        meta.insert("creationTimestamp".into(), json!(meta::now()));
        meta.insert("generation".into(), json!(1));
        meta.remove("resourceVersion");
        meta::record_manager(meta, opts, resource.api_version());
        self.normalize(resource, &name, &mut object);
        meta::prune_unknown(resource, &mut object, opts.strict_fields)?;
        meta::validate_schema(resource, &object)?;
        if opts.dry_run {
            // Dry run: show the result with a tentative placement, but change nothing.
            let mut preview = self.placement.clone();
            if resource == Resource::Pods {
                preview.place(&mut object);
            }
            return Ok(object);
        }
        if resource == Resource::Pods {
            self.placement.place(&mut object);
        }
        self.uids = uid;
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.objects.insert(key, object.clone());
        self.emit(resource, EventKind::Added, object.clone(), None);
        Ok(object)
    }

    pub fn replace(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        mut object: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        let old = self.get(resource, namespace, name)?;
        meta::check_type(&mut object, resource)?;
        let meta = meta::metadata_mut(&mut object)?;
        let body_name = meta.get("name").and_then(Value::as_str).unwrap_or(name);
        let body_ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
        if body_name != name
            || (resource.namespaced() && !body_ns.is_empty() && body_ns != namespace)
        {
            return Err(ApiError::bad_request(format!(
                "the name/namespace of the object ({body_ns}/{body_name}) does not match the request ({namespace}/{name})"
            )));
        }
        let old_rv = str_at(&old, "/metadata/resourceVersion");
        let body_rv = meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !body_rv.is_empty() && body_rv != old_rv {
            return Err(ApiError::conflict(resource, name));
        }
        // Server-owned fields are carried over from the stored object.
        for field in [
            "uid",
            "creationTimestamp",
            "resourceVersion",
            "generation",
            "managedFields",
        ] {
            match old["metadata"].get(field) {
                Some(v) => meta.insert(field.into(), v.clone()),
                None => meta.remove(field),
            };
        }
        meta.insert("name".into(), json!(name));
        if resource.namespaced() {
            meta.insert("namespace".into(), json!(namespace));
        }
        // Status is a subresource: writes to the main resource keep the stored status.
        match old.get("status") {
            Some(s) => object["status"] = s.clone(),
            None => drop(object.as_object_mut().map(|m| m.remove("status"))),
        }
        self.normalize(resource, name, &mut object);
        meta::prune_unknown(resource, &mut object, opts.strict_fields)?;
        meta::validate_schema(resource, &object)?;
        if object == old {
            return Ok(old);
        }
        if object.get("spec") != old.get("spec") {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        if let Some(meta) = object["metadata"].as_object_mut() {
            meta::record_manager(meta, opts, resource.api_version());
        }
        if opts.dry_run {
            return Ok(object);
        }
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.objects
            .insert(Store::key(resource, namespace, name), object.clone());
        self.emit(resource, EventKind::Modified, object.clone(), Some(old));
        Ok(object)
    }

    /// Patches via `replace`, so a resourceVersion set by the patch acts as a precondition.
    pub fn patch(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        kind: PatchKind,
        body: &[u8],
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        if kind == PatchKind::Strategic && resource.custom() {
            return Err(ApiError::strategic_merge_unsupported());
        }
        let applying;
        let opts = if kind == PatchKind::Apply {
            applying = WriteOptions {
                operation: "Apply",
                ..opts.clone()
            };
            &applying
        } else {
            opts
        };
        let old = match self.get(resource, namespace, name) {
            // Server-side apply creates what does not exist yet.
            Err(e) if e.code == 404 && kind == PatchKind::Apply => {
                let mut object = patch::parse_applied(body)?;
                meta::metadata_mut(&mut object)?.insert("name".into(), json!(name));
                return self.create(resource, namespace, object, opts);
            }
            old => old?,
        };
        let patched = patch::apply(kind, &old, body)?;
        self.replace(resource, namespace, name, patched, opts)
    }

    /// Deletes an object; deleting a namespace deletes everything inside it first.
    pub fn delete(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        preconditions: &Preconditions,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        let old = self.get(resource, namespace, name)?;
        let rv_ok = preconditions
            .resource_version
            .as_deref()
            .is_none_or(|rv| rv == str_at(&old, "/metadata/resourceVersion"));
        let uid_ok = preconditions
            .uid
            .as_deref()
            .is_none_or(|uid| uid == str_at(&old, "/metadata/uid"));
        if !rv_ok || !uid_ok {
            return Err(ApiError::conflict(resource, name));
        }
        if opts.dry_run {
            return Ok(old);
        }
        if resource == Resource::Namespaces {
            let inner: Vec<Key> = self
                .objects
                .keys()
                .filter(|k| k.0 != Resource::Namespaces && k.1 == name)
                .cloned()
                .collect();
            for key in inner {
                self.remove(key);
            }
        }
        self.remove(Store::key(resource, namespace, name))
            .ok_or_else(|| ApiError::not_found(resource, name))
    }

    fn remove(&mut self, key: Key) -> Option<Value> {
        let resource = key.0;
        let mut object = self.objects.remove(&key)?;
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.emit(resource, EventKind::Deleted, object.clone(), None);
        Some(object)
    }

    /// Fills in fields the real API server defaults.
    fn normalize(&self, resource: Resource, name: &str, object: &mut Value) {
        match resource {
            Resource::Namespaces => {
                if !object["metadata"]["labels"].is_object() {
                    object["metadata"]["labels"] = json!({});
                }
                object["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
                if !object["spec"].is_object() {
                    object["spec"] = json!({"finalizers": ["kubernetes"]});
                }
                if !object["status"].is_object() {
                    object["status"] = json!({"phase": "Active"});
                }
            }
            Resource::NetworkPolicies => {
                if !object["spec"].is_object() {
                    object["spec"] = json!({});
                }
                if !object["spec"]["podSelector"].is_object() {
                    object["spec"]["podSelector"] = json!({});
                }
            }
            Resource::Services => self.default_service(object),
            Resource::Pods
            | Resource::Events
            | Resource::Tier(_)
            | Resource::Native(_)
            | Resource::CalicoCrd(_)
            | Resource::Foreign(_)
            | Resource::GitOps(_) => {}
        }
    }

    /// A Service's defaults as a real API server fills them: type ClusterIP with an address from
    /// 10.96.0.0/12 (unique: taken from the object's uid counter), TCP ports whose targetPort
    /// defaults to the port.
    fn default_service(&self, object: &mut Value) {
        if !object["spec"].is_object() {
            object["spec"] = json!({});
        }
        let spec = &mut object["spec"];
        if !spec["type"].is_string() {
            spec["type"] = json!("ClusterIP");
        }
        if spec["type"] != "ExternalName" && !spec["clusterIP"].is_string() {
            let n = self.uids + 1;
            let ip = format!("10.96.{}.{}", (n / 250) % 256, n % 250 + 1);
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
            spec["ipFamilies"] = json!(["IPv4"]);
            spec["ipFamilyPolicy"] = json!("SingleStack");
        }
        if !spec["sessionAffinity"].is_string() {
            spec["sessionAffinity"] = json!("None");
        }
        if let Some(ports) = spec["ports"].as_array_mut() {
            for port in ports {
                if !port["protocol"].is_string() {
                    port["protocol"] = json!("TCP");
                }
                if port["targetPort"].is_null() {
                    port["targetPort"] = port["port"].clone();
                }
            }
        }
        if !object["status"].is_object() {
            object["status"] = json!({"loadBalancer": {}});
        }
    }

    fn emit(&mut self, resource: Resource, kind: EventKind, object: Value, old: Option<Value>) {
        let event = Arc::new(Event {
            rv: self.rv,
            resource,
            kind,
            object,
            old,
        });
        self.events.push_back(event.clone());
        while self.events.len() > self.window {
            if let Some(dropped) = self.events.pop_front() {
                self.compacted = dropped.rv;
            }
        }
        // No receivers is normal when nobody watches.
        let _ = self.tx.send(event);
    }

    /// A receiver of every later change, of every resource.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Starts a watch at `since` (None or 0: synthetic ADDED events for current objects).
    pub fn watch(&self, resource: Resource, since: Option<u64>) -> ApiResult<WatchStart> {
        let initial = match since.filter(|rv| *rv > 0) {
            None => self
                .objects
                .iter()
                .filter(|(k, _)| k.0 == resource)
                .map(|(_, v)| {
                    let rv = str_at(v, "/metadata/resourceVersion").parse().unwrap_or(0);
                    Arc::new(Event {
                        rv,
                        resource,
                        kind: EventKind::Added,
                        object: v.clone(),
                        old: None,
                    })
                })
                .collect(),
            Some(rv) if rv > self.rv => {
                return Ok(WatchStart {
                    initial: Vec::new(),
                    rx: self.tx.subscribe(),
                    rv: self.rv,
                    future: true,
                });
            }
            Some(rv) if rv < self.compacted => {
                return Err(ApiError::expired(format!(
                    "too old resource version: {rv} ({})",
                    self.compacted + 1
                )));
            }
            Some(rv) => self
                .events
                .iter()
                .filter(|e| e.rv > rv && e.resource == resource)
                .cloned()
                .collect(),
        };
        Ok(WatchStart {
            initial,
            rx: self.tx.subscribe(),
            rv: self.rv,
            future: false,
        })
    }

    /// Forgets the event history: a watch from any earlier resourceVersion gets 410 Expired.
    pub fn compact(&mut self) {
        self.events.clear();
        self.compacted = self.rv;
    }

    /// The store as a replacement server would have it: the same objects, renumbered from
    /// resourceVersion 1 (so lower than before whenever anything was written since the seed),
    /// with no history to resume from.
    pub fn renumber(&mut self) {
        let mut rv = 0;
        for object in self.objects.values_mut() {
            rv += 1;
            object["metadata"]["resourceVersion"] = json!(rv.to_string());
        }
        self.rv = rv;
        self.compact();
    }
}

/// Deterministic 5-character suffix for generateName, in Kubernetes' alphabet.
pub fn name_suffix(seed: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
