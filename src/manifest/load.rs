//! Reading manifest files from disk (the only IO of manifest loading).

use std::path::{Path, PathBuf};

use super::parse::{Document, Warning, WarningClass, parse_text};
use super::topology::{Topology, build_topology};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: no such file or directory")]
    NotFound(PathBuf),
}

const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Loads files and directories (recursively, in name order) into a topology. Only a missing
/// path or an unreadable directory is an error; bad files and documents become warnings.
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Topology, LoadError> {
    let mut files = Vec::new();
    for p in paths {
        let p = p.as_ref();
        if !p.exists() {
            return Err(LoadError::NotFound(p.to_path_buf()));
        }
        collect(p, true, &mut files)?;
    }
    let mut docs: Vec<Document> = Vec::new();
    let mut warnings: Vec<Warning> = Vec::new();
    for f in files {
        match std::fs::read(&f) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let (d, w) = parse_text(&f, &text);
                docs.extend(d);
                warnings.extend(w);
            }
            Err(e) => warnings.push(Warning {
                file: f,
                document: None,
                reason: format!("cannot read: {e}"),
                class: WarningClass::Broken,
            }),
        }
    }
    let mut topology = build_topology(&docs);
    warnings.append(&mut topology.warnings);
    topology.warnings = warnings;
    Ok(topology)
}

fn collect(path: &Path, explicit: bool, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    if path.is_dir() {
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, false, out)?;
        }
    } else if explicit || has_manifest_extension(path) {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn has_manifest_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}
